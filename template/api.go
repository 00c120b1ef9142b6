package template

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/apigateway"
	"github.com/awslabs/goformation/v7/cloudformation/iam"
)

// Mapping templates of the API's SQS integration. A request becomes SendMessage (SQS's query
// API); SQS's answer becomes {"jobId": MessageId}; SQS rejecting the message is a 400, anything
// else (throttling, permissions, an outage) a 502 — never a fake 200.
const (
	postRequestTemplate = "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"
	getRequestTemplate  = "Action=SendMessage&MessageBody=$util.urlEncode($input.params('message'))"
	jobIDTemplate       = `{"jobId": "$input.path('$.SendMessageResponse.SendMessageResult.MessageId')"}`
	rejectedTemplate    = `{"error": "the queue rejected the message", "requestId": "$context.requestId"}`
	unavailableTemplate = `{"error": "the queue did not accept the message", "requestId": "$context.requestId"}`
)

// jobSchema is the POST body's model: any JSON object (a body is required).
var jobSchema = map[string]any{
	"$schema": "http://json-schema.org/draft-04/schema#",
	"title":   "Job",
	"type":    "object",
}

// api adds the REST API: POST /queue sends the JSON body as a message, GET /queue?message=...
// sends the parameter (the seed's behaviour); stage "run"; a role that may only send to the queue;
// auth per cfg.Auth.
func api(t *cloudformation.Template, cfg Config) error {
	t.Resources[LogicalAPIRole] = &iam.Role{
		Description:              str("lets API Gateway send messages to this stack's jobs queue, and nothing else"),
		AssumeRolePolicyDocument: assumedBy("apigateway.amazonaws.com"),
		Policies: []iam.Role_Policy{{
			PolicyName: "send-jobs",
			PolicyDocument: policy(map[string]any{
				"Effect":   "Allow",
				"Action":   []string{"sqs:SendMessage"},
				"Resource": arn(LogicalJobsQueue),
			}),
		}},
	}
	t.Resources[LogicalAPI] = &apigateway.RestApi{
		Name:                  str(sub("${AWS::StackName}")),
		Description:           str("cfnbuild: POST /queue or GET /queue?message=... submits a job"),
		EndpointConfiguration: &apigateway.RestApi_EndpointConfiguration{Types: []string{"REGIONAL"}},
	}
	t.Resources[LogicalAPIQueueResource] = &apigateway.Resource{
		RestApiId: ref(LogicalAPI),
		ParentId:  getAtt(LogicalAPI, "RootResourceId"),
		PathPart:  QueueResourcePath,
	}
	t.Resources[LogicalAPIValidator] = &apigateway.RequestValidator{
		RestApiId:                 ref(LogicalAPI),
		Name:                      str("body-and-parameters"),
		ValidateRequestBody:       boolp(true),
		ValidateRequestParameters: boolp(true),
	}
	t.Resources[LogicalAPIJobModel] = &apigateway.Model{
		RestApiId:   ref(LogicalAPI),
		ContentType: str("application/json"),
		Description: str("a job: any JSON object"),
		Schema:      jobSchema,
	}
	post := method(cfg, "POST", postRequestTemplate)
	post.RequestModels = map[string]string{"application/json": ref(LogicalAPIJobModel)}
	get := method(cfg, "GET", getRequestTemplate)
	// goformation types RequestParameters as strings; CloudFormation's are booleans (required or not).
	getParams := map[string]any{"RequestParameters": map[string]any{"method.request.querystring.message": true}}
	t.Resources[LogicalAPIPostMethod] = post
	t.Resources[LogicalAPIGetMethod] = withProperties{get, getParams}

	// A deployment is immutable: name it after what it deploys, so a change to the methods creates
	// a new deployment and the stage moves to it.
	hash, err := contentHash(post, get, getParams, jobSchema)
	if err != nil {
		return err
	}
	deployment := LogicalAPIDeploymentPrefix + hash
	t.Resources[deployment] = &apigateway.Deployment{
		RestApiId:                  ref(LogicalAPI),
		Description:                str("cfnbuild " + hash),
		AWSCloudFormationDependsOn: []string{LogicalAPIPostMethod, LogicalAPIGetMethod},
	}
	t.Resources[LogicalAPIStage] = &apigateway.Stage{
		RestApiId:    ref(LogicalAPI),
		StageName:    str(StageName),
		DeploymentId: str(ref(deployment)),
		Description:  str("the stage clients call: https://<api>.execute-api.<region>.amazonaws.com/run/queue"),
		MethodSettings: []apigateway.Stage_MethodSetting{{
			ResourcePath:         str("/*"),
			HttpMethod:           str("*"),
			ThrottlingRateLimit:  float(cfg.ThrottleRate),
			ThrottlingBurstLimit: intp(cfg.ThrottleBurst),
		}},
		AWSCloudFormationMetadata: suppress(
			[2]string{"AwsSolutions-APIG1", "access logging needs the account-wide API Gateway CloudWatch role, which one stack should not change; API request counts are in CloudWatch metrics"},
			[2]string{"AwsSolutions-APIG3", "a WAF web ACL costs a fixed monthly fee; the stage is throttled and the method authenticated instead"},
			[2]string{"AwsSolutions-APIG6", "execution logging needs the account-wide API Gateway CloudWatch role, which one stack should not change"},
		),
	}
	if cfg.Auth == AuthAPIKey {
		t.Resources[LogicalAPIKey] = &apigateway.ApiKey{
			Name:        str(sub("${AWS::StackName}")),
			Description: str("send it as x-api-key; read its value with: aws apigateway get-api-key --include-value --api-key <ApiKeyId>"),
			Enabled:     boolp(true),
		}
		t.Resources[LogicalAPIUsagePlan] = &apigateway.UsagePlan{
			UsagePlanName: str(sub("${AWS::StackName}")),
			Description:   str("throttles and caps the jobs API per key"),
			ApiStages:     []apigateway.UsagePlan_ApiStage{{ApiId: str(ref(LogicalAPI)), Stage: str(ref(LogicalAPIStage))}},
			Throttle:      &apigateway.UsagePlan_ThrottleSettings{RateLimit: float(cfg.ThrottleRate), BurstLimit: intp(cfg.ThrottleBurst)},
			Quota:         &apigateway.UsagePlan_QuotaSettings{Limit: intp(cfg.QuotaPerDay), Period: str("DAY")},
		}
		t.Resources[LogicalAPIUsagePlanKey] = &apigateway.UsagePlanKey{
			KeyId:       ref(LogicalAPIKey),
			KeyType:     "API_KEY",
			UsagePlanId: ref(LogicalAPIUsagePlan),
		}
	}
	return nil
}

func method(cfg Config, httpMethod, requestTemplate string) *apigateway.Method {
	m := &apigateway.Method{
		RestApiId:          ref(LogicalAPI),
		ResourceId:         ref(LogicalAPIQueueResource),
		HttpMethod:         httpMethod,
		RequestValidatorId: str(ref(LogicalAPIValidator)),
		Integration: &apigateway.Method_Integration{
			Type:                  "AWS",
			IntegrationHttpMethod: str("POST"),
			Uri:                   str(sub("arn:${AWS::Partition}:apigateway:${AWS::Region}:sqs:path/${AWS::AccountId}/${" + LogicalJobsQueue + ".QueueName}")),
			Credentials:           str(arn(LogicalAPIRole)),
			PassthroughBehavior:   str("NEVER"),
			RequestParameters: map[string]string{
				"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'",
			},
			RequestTemplates: map[string]string{"application/json": requestTemplate},
			IntegrationResponses: []apigateway.Method_IntegrationResponse{
				{StatusCode: "200", SelectionPattern: str("2\\d{2}"), ResponseTemplates: jsonTemplate(jobIDTemplate)},
				{StatusCode: "400", SelectionPattern: str("400"), ResponseTemplates: jsonTemplate(rejectedTemplate)},
				{StatusCode: "502", ResponseTemplates: jsonTemplate(unavailableTemplate)},
			},
		},
		MethodResponses: []apigateway.Method_MethodResponse{
			{StatusCode: "200", ResponseModels: map[string]string{"application/json": "Empty"}},
			{StatusCode: "400", ResponseModels: map[string]string{"application/json": "Error"}},
			{StatusCode: "502", ResponseModels: map[string]string{"application/json": "Error"}},
		},
	}
	cognito := [2]string{"AwsSolutions-COG4", "clients are services, not Cognito users; auth is " + cfg.Auth}
	switch cfg.Auth {
	case AuthIAM:
		m.AuthorizationType = str("AWS_IAM")
		m.AWSCloudFormationMetadata = suppress(cognito)
	case AuthAPIKey:
		m.AuthorizationType = str("NONE")
		m.ApiKeyRequired = boolp(true)
		m.AWSCloudFormationMetadata = suppress(cognito,
			[2]string{"AwsSolutions-APIG4", "callers authenticate with an API key (x-api-key) bound to a throttled usage plan with a daily quota"})
	default:
		m.AuthorizationType = str("NONE")
		m.AWSCloudFormationMetadata = suppress(cognito,
			[2]string{"AwsSolutions-APIG4", "auth mode none was chosen explicitly (an open endpoint, as the seed had); the stage is throttled"})
	}
	return m
}

func jsonTemplate(body string) map[string]string {
	return map[string]string{"application/json": body}
}

// contentHash is a short, stable digest of values' JSON (goformation structs marshal with fixed
// field order and sorted map keys).
func contentHash(values ...any) (string, error) {
	h := sha256.New()
	for _, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			return "", fmt.Errorf("hashing the API's methods: %w", err)
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:10], nil
}

// assumedBy is a trust policy for an AWS service principal.
func assumedBy(service string) map[string]any {
	return policy(map[string]any{
		"Effect":    "Allow",
		"Principal": map[string]any{"Service": service},
		"Action":    "sts:AssumeRole",
	})
}
