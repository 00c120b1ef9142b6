package template

import (
	"strconv"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/ecs"
	"github.com/awslabs/goformation/v7/cloudformation/iam"
	"github.com/awslabs/goformation/v7/cloudformation/logs"
)

// service adds the ECS cluster (Fargate and Fargate Spot), the worker's log group, its two roles,
// the task definition and the service. The service starts at 0 tasks and never has its count
// changed by a deploy: scaling owns it.
func service(t *cloudformation.Template, cfg Config, subnets []string, dependsOn []string) {
	provider := "FARGATE"
	if cfg.Spot {
		provider = "FARGATE_SPOT"
	}
	t.Resources[LogicalCluster] = &ecs.Cluster{
		CapacityProviders: []string{"FARGATE", "FARGATE_SPOT"},
		DefaultCapacityProviderStrategy: []ecs.Cluster_CapacityProviderStrategyItem{{
			CapacityProvider: str(provider), Weight: intp(1),
		}},
		ClusterSettings: []ecs.Cluster_ClusterSettings{{Name: str("containerInsights"), Value: str("disabled")}},
		AWSCloudFormationMetadata: suppress([2]string{"AwsSolutions-ECS4",
			"Container Insights bills custom metrics per task; the fleet scales to zero and its queue metrics and logs suffice"}),
	}
	t.Resources[LogicalLogGroup] = &logs.LogGroup{RetentionInDays: intp(cfg.LogRetentionDays)}

	t.Resources[LogicalExecutionRole] = &iam.Role{
		Description:              str("lets ECS pull this stack's worker image and write its log group"),
		AssumeRolePolicyDocument: assumedByECSTasks(),
		Policies: []iam.Role_Policy{{
			PolicyName: "pull-image-write-logs",
			PolicyDocument: policy(
				map[string]any{
					"Sid":      "EcrLogin",
					"Effect":   "Allow",
					"Action":   []string{"ecr:GetAuthorizationToken"},
					"Resource": "*",
				},
				map[string]any{
					"Sid":      "PullWorkerImage",
					"Effect":   "Allow",
					"Action":   []string{"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"},
					"Resource": imageRepositoryARN(),
				},
				map[string]any{
					"Sid":      "WriteWorkerLogs",
					"Effect":   "Allow",
					"Action":   []string{"logs:CreateLogStream", "logs:PutLogEvents"},
					"Resource": arn(LogicalLogGroup),
				},
			),
		}},
		AWSCloudFormationMetadata: suppress([2]string{"AwsSolutions-IAM5",
			"ecr:GetAuthorizationToken has no resource-level permissions (Resource must be *); log writes are scoped to this stack's log group and its streams (log-group:NAME:*)"}),
	}
	t.Resources[LogicalTaskRole] = &iam.Role{
		Description:              str("the worker's own permissions: consume this stack's jobs queue and protect its own task from scale-in"),
		AssumeRolePolicyDocument: assumedByECSTasks(),
		Policies: []iam.Role_Policy{{
			PolicyName: "consume-jobs",
			PolicyDocument: policy(
				map[string]any{
					"Sid":      "ConsumeJobs",
					"Effect":   "Allow",
					"Action":   []string{"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"},
					"Resource": arn(LogicalJobsQueue),
				},
				map[string]any{
					"Sid":      "ScaleInProtection",
					"Effect":   "Allow",
					"Action":   []string{"ecs:GetTaskProtection", "ecs:UpdateTaskProtection"},
					"Resource": sub("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/${" + LogicalCluster + "}/*"),
				},
			),
		}},
		AWSCloudFormationMetadata: suppress([2]string{"AwsSolutions-IAM5",
			"task ids are not known in advance: task protection is scoped to tasks of this stack's cluster (task/CLUSTER/*)"}),
	}

	arch := "X86_64"
	if cfg.Architecture == ArchARM {
		arch = "ARM64"
	}
	t.Resources[LogicalTaskDefinition] = &ecs.TaskDefinition{
		Family:                  str(sub("${AWS::StackName}-worker")),
		Cpu:                     str(ref(ParamTaskCPU)),
		Memory:                  str(ref(ParamTaskMemory)),
		NetworkMode:             str("awsvpc"),
		RequiresCompatibilities: []string{"FARGATE"},
		RuntimePlatform:         &ecs.TaskDefinition_RuntimePlatform{CpuArchitecture: str(arch), OperatingSystemFamily: str("LINUX")},
		ExecutionRoleArn:        str(arn(LogicalExecutionRole)),
		TaskRoleArn:             str(arn(LogicalTaskRole)),
		Volumes:                 []ecs.TaskDefinition_Volume{{Name: str(ScratchVolume)}},
		ContainerDefinitions: []ecs.TaskDefinition_ContainerDefinition{{
			Name:                   ContainerName,
			Image:                  ref(ParamImageURI),
			Essential:              boolp(true),
			User:                   str(WorkerUser),
			ReadonlyRootFilesystem: boolp(true),
			MountPoints: []ecs.TaskDefinition_MountPoint{{
				SourceVolume: str(ScratchVolume), ContainerPath: str(ScratchPath), ReadOnly: boolp(false),
			}},
			// An init process reaps the job commands' orphans and forwards SIGTERM to the worker.
			LinuxParameters: &ecs.TaskDefinition_LinuxParameters{InitProcessEnabled: boolp(true)},
			StopTimeout:     intp(StopTimeout),
			Environment:     workerEnvironment(cfg),
			LogConfiguration: &ecs.TaskDefinition_LogConfiguration{
				LogDriver: "awslogs",
				Options: map[string]string{
					"awslogs-group":         ref(LogicalLogGroup),
					"awslogs-region":        ref("AWS::Region"),
					"awslogs-stream-prefix": ContainerName,
				},
			},
		}},
		AWSCloudFormationMetadata: suppress([2]string{"AwsSolutions-ECS2",
			"the environment holds only non-secret settings (queue URL, timeouts, concurrency, job command)"}),
	}

	publicIP := "DISABLED"
	if cfg.Network == NetworkPublic {
		publicIP = "ENABLED" // no NAT: a public IP is the tasks' only way out; no inbound rule exists
	}
	subnetRefs := make([]string, len(subnets))
	for i, s := range subnets {
		subnetRefs[i] = ref(s)
	}
	t.Resources[LogicalService] = withProperties{&ecs.Service{
		Cluster:                  str(ref(LogicalCluster)),
		TaskDefinition:           str(ref(LogicalTaskDefinition)),
		CapacityProviderStrategy: []ecs.Service_CapacityProviderStrategyItem{{CapacityProvider: str(provider), Weight: intp(1)}},
		PlatformVersion:          str("LATEST"),
		NetworkConfiguration: &ecs.Service_NetworkConfiguration{AwsvpcConfiguration: &ecs.Service_AwsVpcConfiguration{
			AssignPublicIp: str(publicIP),
			SecurityGroups: []string{ref(LogicalTaskSecurityGroup)},
			Subnets:        subnetRefs,
		}},
		DeploymentConfiguration: &ecs.Service_DeploymentConfiguration{
			DeploymentCircuitBreaker: &ecs.Service_DeploymentCircuitBreaker{Enable: true, Rollback: true},
			MinimumHealthyPercent:    intp(100),
			MaximumPercent:           intp(200),
		},
		EnableECSManagedTags:       boolp(true),
		PropagateTags:              str("SERVICE"),
		AWSCloudFormationDependsOn: dependsOn,
	}, map[string]any{
		// Set (to 0) when the stack is created; left out on updates so that ECS keeps the count
		// that scaling chose: a deploy never starts or stops tasks.
		"DesiredCount": cloudformation.If(ConditionHasDesiredCount, ref(ParamDesiredCount), ref("AWS::NoValue")),
	}}
}

// workerEnvironment is the worker's whole configuration (see worker/).
func workerEnvironment(cfg Config) []ecs.TaskDefinition_KeyValuePair {
	kv := func(name, value string) ecs.TaskDefinition_KeyValuePair {
		return ecs.TaskDefinition_KeyValuePair{Name: str(name), Value: str(value)}
	}
	return []ecs.TaskDefinition_KeyValuePair{
		kv(EnvQueueURL, ref(LogicalJobsQueue)),
		kv(EnvJobTimeout, ref(ParamJobTimeout)),
		kv(EnvJobCommand, cfg.JobCommand),
		kv(EnvWorkerConcurrency, strconv.Itoa(cfg.WorkerConcurrency)),
		kv(EnvWorkerStopTimeout, strconv.Itoa(WorkerStopTimeout)),
		kv(EnvJobRetryDelay, strconv.Itoa(JobRetryDelay)),
	}
}

// imageRepositoryARN derives the ECR repository's ARN from the ImageUri parameter
// (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY@sha256:DIGEST), so the execution role can pull
// exactly that repository, even when a reviewer changes the image in the console.
func imageRepositoryARN() string {
	uri := ref(ParamImageURI)
	return cloudformation.SubVars("arn:${AWS::Partition}:ecr:${Region}:${Account}:repository/${Repository}", map[string]any{
		"Account": cloudformation.Select(0, cloudformation.Split(".", uri)),
		"Region":  cloudformation.Select(3, cloudformation.Split(".", uri)),
		"Repository": cloudformation.Select(0, cloudformation.Split("@",
			cloudformation.Select(1, cloudformation.Split(".amazonaws.com/", uri)))),
	})
}

// assumedByECSTasks trusts ECS tasks of this account only (no confused deputy).
func assumedByECSTasks() map[string]any {
	return policy(map[string]any{
		"Effect":    "Allow",
		"Principal": map[string]any{"Service": "ecs-tasks.amazonaws.com"},
		"Action":    "sts:AssumeRole",
		"Condition": map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": ref("AWS::AccountId")},
		},
	})
}
