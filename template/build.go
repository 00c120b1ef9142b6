package template

import (
	"fmt"
	"strconv"

	"github.com/awslabs/goformation/v7/cloudformation"
)

// ImageURIPattern is what the ImageUri parameter accepts: a private ECR image by digest. The
// execution role's pull permission is derived from it.
const ImageURIPattern = `^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/[a-z0-9][a-z0-9._/-]*@sha256:[a-f0-9]{64}$`

// KeepDesiredCount is the DesiredCount parameter's default: the service's DesiredCount property is
// left out, so ECS keeps the count that scaling chose. cfnbuild deploy passes 0 on create only.
const KeepDesiredCount = -1

// Build builds the main stack for cfg.
func Build(cfg Config) (*cloudformation.Template, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := cloudformation.NewTemplate()
	t.Description = fmt.Sprintf("cfnbuild: a queue-driven worker fleet that scales to zero (API Gateway -> SQS -> ECS Fargate). "+
		"Network %s, auth %s, %s%s.", cfg.Network, cfg.Auth, cfg.Architecture, map[bool]string{true: " on Fargate Spot"}[cfg.Spot])
	parameters(t, cfg)
	subnets, err := network(t, cfg)
	if err != nil {
		return nil, err
	}
	queue(t)
	if err := api(t, cfg); err != nil {
		return nil, err
	}
	var serviceDependsOn []string
	if cfg.Network != NetworkPublic {
		// Tasks in private subnets pull their image through the NAT: wait for its route.
		serviceDependsOn = []string{LogicalPrivateDefaultRoute}
	} else {
		serviceDependsOn = []string{LogicalPublicDefaultRoute}
	}
	service(t, cfg, subnets, serviceDependsOn)
	scaling(t)
	outputs(t, cfg)
	t.Metadata["cfnbuild"] = structure(cfg)
	return t, nil
}

// parameters adds the values a reviewer may change in the console, grouped and labelled.
func parameters(t *cloudformation.Template, cfg Config) {
	cpus := make([]any, 0, 7)
	for _, c := range FargateCPUs() {
		cpus = append(cpus, strconv.Itoa(c))
	}
	var mems []any
	for _, m := range allFargateMemory() {
		mems = append(mems, strconv.Itoa(m))
	}
	t.Parameters[ParamImageURI] = cloudformation.Parameter{
		Type:                  "String",
		Description:           str("the worker image in ECR, by digest (cfnbuild deploy builds and pushes it)"),
		AllowedPattern:        str(ImageURIPattern),
		ConstraintDescription: str("must be ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY@sha256:DIGEST"),
	}
	t.Parameters[ParamMaxTasks] = cloudformation.Parameter{
		Type:        "Number",
		Default:     cfg.MaxTasks,
		MinValue:    float(1),
		MaxValue:    float(MaxMaxTasks),
		Description: str("the most tasks the fleet scales out to"),
	}
	t.Parameters[ParamTaskCPU] = cloudformation.Parameter{
		Type:          "String",
		Default:       strconv.Itoa(cfg.CPU),
		AllowedValues: cpus,
		Description:   str("CPU units per task (1024 = 1 vCPU); the memory must be a value Fargate allows with it"),
	}
	t.Parameters[ParamTaskMemory] = cloudformation.Parameter{
		Type:          "String",
		Default:       strconv.Itoa(cfg.Memory),
		AllowedValues: mems,
		Description:   str("memory per task in MiB; 256 CPU: 512-2048, 512: 1024-4096, 1024: 2048-8192, 2048: 4096-16384, 4096: 8192-30720"),
	}
	t.Parameters[ParamJobTimeout] = cloudformation.Parameter{
		Type:        "Number",
		Default:     cfg.JobTimeout,
		MinValue:    float(1),
		MaxValue:    float(MaxJobTimeout),
		Description: str("seconds a job may run before it is stopped and retried (the queue's visibility timeout)"),
	}
	t.Parameters[ParamMaxReceiveCount] = cloudformation.Parameter{
		Type:        "Number",
		Default:     cfg.MaxReceiveCount,
		MinValue:    float(1),
		MaxValue:    float(MaxMaxReceiveCount),
		Description: str("tries before a message moves to the dead-letter queue"),
	}
	t.Parameters[ParamScaleInDelay] = cloudformation.Parameter{
		Type:        "Number",
		Default:     cfg.ScaleInDelay,
		MinValue:    float(1),
		MaxValue:    float(MaxScaleInDelay),
		Description: str("minutes the queue must stay empty (visible and in flight) before the fleet scales to zero"),
	}
	t.Parameters[ParamDesiredCount] = cloudformation.Parameter{
		Type:        "Number",
		Default:     KeepDesiredCount,
		MinValue:    float(KeepDesiredCount),
		Description: str("set by cfnbuild: 0 when the stack is created; -1 (the default) on updates leaves the count to scaling, so a deploy never changes how many tasks run"),
	}
	t.Conditions[ConditionHasDesiredCount] = cloudformation.Not([]string{cloudformation.Equals(ref(ParamDesiredCount), strconv.Itoa(KeepDesiredCount))})

	groups := []any{
		group("Worker image", ParamImageURI),
		group("Capacity", ParamMaxTasks, ParamTaskCPU, ParamTaskMemory),
		group("Jobs", ParamJobTimeout, ParamMaxReceiveCount),
		group("Scaling", ParamScaleInDelay),
		group("Set by cfnbuild deploy", ParamDesiredCount),
	}
	labels := map[string]any{
		ParamImageURI:        label("Worker image URI (by digest)"),
		ParamMaxTasks:        label("Maximum tasks"),
		ParamTaskCPU:         label("Task CPU units"),
		ParamTaskMemory:      label("Task memory (MiB)"),
		ParamJobTimeout:      label("Job timeout (seconds)"),
		ParamMaxReceiveCount: label("Tries before the dead-letter queue"),
		ParamScaleInDelay:    label("Scale-in delay (minutes)"),
		ParamDesiredCount:    label("Desired count (-1: keep the running count)"),
	}
	if cfg.Network == NetworkNATInstance {
		groups = append(groups, group("Network", ParamNATInstanceAMI))
		labels[ParamNATInstanceAMI] = label("NAT instance AMI (SSM parameter)")
	}
	t.Metadata["AWS::CloudFormation::Interface"] = map[string]any{
		"ParameterGroups": groups,
		"ParameterLabels": labels,
	}
}

func group(name string, params ...string) map[string]any {
	return map[string]any{"Label": label(name), "Parameters": params}
}

func label(s string) map[string]any { return map[string]any{"default": s} }

// structure records the structural options in the template's Metadata, for reviewers and tools.
func structure(cfg Config) map[string]any {
	return map[string]any{
		"network":            cfg.Network,
		"vpc_cidr":           cfg.VPCCIDR,
		"auth":               cfg.Auth,
		"architecture":       cfg.Architecture,
		"spot":               cfg.Spot,
		"worker_concurrency": cfg.WorkerConcurrency,
	}
}

func outputs(t *cloudformation.Template, cfg Config) {
	out := func(name, value, description string) {
		t.Outputs[name] = cloudformation.Output{Value: value, Description: str(description)}
	}
	out(OutputAPIURL, sub("https://${"+LogicalAPI+"}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${"+LogicalAPIStage+"}/"+QueueResourcePath),
		"submit a job: POST a JSON body, or GET ?message=...")
	out(OutputQueueURL, ref(LogicalJobsQueue), "the jobs queue")
	out(OutputQueueARN, arn(LogicalJobsQueue), "the jobs queue's ARN")
	out(OutputDeadLetterQueueURL, ref(LogicalDeadLetterQueue), "jobs that failed every try")
	out(OutputClusterName, ref(LogicalCluster), "the ECS cluster")
	out(OutputServiceName, getAtt(LogicalService, "Name"), "the ECS service running the workers")
	out(OutputLogGroupName, ref(LogicalLogGroup), "the workers' logs")
	if cfg.Auth == AuthAPIKey {
		out(OutputAPIKeyID, ref(LogicalAPIKey), "read the key with: aws apigateway get-api-key --include-value --api-key <this id>")
	}
}
