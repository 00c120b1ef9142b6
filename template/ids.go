package template

// Logical IDs of the main stack's resources.
const (
	LogicalVPC                   = "VPC"
	LogicalInternetGateway       = "InternetGateway"
	LogicalGatewayAttachment     = "InternetGatewayAttachment"
	LogicalPublicRouteTable      = "PublicRouteTable"
	LogicalPublicDefaultRoute    = "PublicDefaultRoute"
	LogicalPrivateRouteTable     = "PrivateRouteTable"
	LogicalPrivateDefaultRoute   = "PrivateDefaultRoute"
	LogicalNATSecurityGroup      = "NatSecurityGroup"
	LogicalNATInstance           = "NatInstance"
	LogicalNATGatewayEIP         = "NatGatewayEip"
	LogicalNATGateway            = "NatGateway"
	LogicalS3Endpoint            = "S3Endpoint"
	LogicalTaskSecurityGroup     = "TaskSecurityGroup"
	LogicalJobsQueue             = "JobsQueue"
	LogicalDeadLetterQueue       = "DeadLetterQueue"
	LogicalQueuePolicy           = "QueuePolicy"
	LogicalDeadLetterAlarm       = "DeadLetterQueueAlarm"
	LogicalAPI                   = "Api"
	LogicalAPIRole               = "ApiRole"
	LogicalAPIQueueResource      = "ApiQueueResource"
	LogicalAPIPostMethod         = "ApiQueuePostMethod"
	LogicalAPIGetMethod          = "ApiQueueGetMethod"
	LogicalAPIJobModel           = "ApiJobModel"
	LogicalAPIValidator          = "ApiRequestValidator"
	LogicalAPIDeploymentPrefix   = "ApiStageDeployment" // + a hash of the API's methods, so a change redeploys the stage; sorts after the methods (moto creates a change set's resources in template order)
	LogicalAPIStage              = "ApiStage"
	LogicalAPIKey                = "ApiKey"
	LogicalAPIUsagePlan          = "ApiUsagePlan"
	LogicalAPIUsagePlanKey       = "ApiUsagePlanKey"
	LogicalCluster               = "Cluster"
	LogicalLogGroup              = "WorkerLogGroup"
	LogicalExecutionRole         = "TaskExecutionRole"
	LogicalTaskRole              = "TaskRole"
	LogicalTaskDefinition        = "TaskDefinition"
	LogicalService               = "Service"
	LogicalScalableTarget        = "ScalableTarget"
	LogicalScaleOutPolicy        = "ScaleOutPolicy"
	LogicalScaleOutAlarm         = "ScaleOutAlarm"
	LogicalScaleInPolicy         = "ScaleInPolicy"
	LogicalScaleInAlarm          = "ScaleInAlarm"
	LogicalRepository            = "Repository" // the repository stack's only resource
	ConditionHasDesiredCount     = "HasDesiredCount"
	ContainerName                = "worker"
	ScratchVolume                = "scratch"
	ScratchPath                  = "/tmp"
	StageName                    = "run"
	QueueResourcePath            = "queue"
	WorkerUser                   = "65532"
	NATAMIParameterPathPrefix    = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-"
	privateSubnetPrefix          = "PrivateSubnet"
	publicSubnetPrefix           = "PublicSubnet"
	subnetRouteAssociationSuffix = "RouteTableAssociation"
)

// Subnet logical IDs: PublicSubnet1, PublicSubnet2, PrivateSubnet1, PrivateSubnet2.
var (
	LogicalPublicSubnets  = []string{publicSubnetPrefix + "1", publicSubnetPrefix + "2"}
	LogicalPrivateSubnets = []string{privateSubnetPrefix + "1", privateSubnetPrefix + "2"}
)

// Parameter names.
const (
	ParamImageURI        = "ImageUri"
	ParamMaxTasks        = "MaxTasks"
	ParamTaskCPU         = "TaskCpu"
	ParamTaskMemory      = "TaskMemory"
	ParamJobTimeout      = "JobTimeout"
	ParamMaxReceiveCount = "MaxReceiveCount"
	ParamScaleInDelay    = "ScaleInDelay"
	ParamDesiredCount    = "DesiredCount"
	ParamNATInstanceAMI  = "NatInstanceAmi"
)

// Output names of the main stack.
const (
	OutputAPIURL             = "ApiUrl"
	OutputQueueURL           = "QueueUrl"
	OutputQueueARN           = "QueueArn"
	OutputDeadLetterQueueURL = "DeadLetterQueueUrl"
	OutputClusterName        = "ClusterName"
	OutputServiceName        = "ServiceName"
	OutputLogGroupName       = "LogGroupName"
	OutputAPIKeyID           = "ApiKeyId" // api-key mode only
)

// Output names of the repository stack.
const (
	OutputRepositoryURI  = "RepositoryUri"
	OutputRepositoryARN  = "RepositoryArn"
	OutputRepositoryName = "RepositoryName"
)

// Environment variables the template sets on the worker container: the worker's whole configuration.
const (
	EnvQueueURL          = "QUEUE_URL"
	EnvJobTimeout        = "JOB_TIMEOUT"
	EnvJobCommand        = "JOB_COMMAND"
	EnvWorkerConcurrency = "WORKER_CONCURRENCY"
	EnvWorkerStopTimeout = "WORKER_STOP_TIMEOUT"
	EnvJobRetryDelay     = "JOB_RETRY_DELAY"
)
