package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

func allModes() []Config {
	var cfgs []Config
	for _, gc := range goldenCases() {
		if !gc.repository {
			cfgs = append(cfgs, gc.config())
		}
	}
	return cfgs
}

func name(cfg Config) string {
	return fmt.Sprintf("%s/%s/%s/spot=%v", cfg.Network, cfg.Auth, cfg.Architecture, cfg.Spot)
}

func TestScaleInAlarmCountsInFlightMessages(t *testing.T) {
	r := renderMain(t, Defaults())
	p := r.props(t, LogicalScaleInAlarm)
	metrics := map[string]string{} // id -> metric name
	var expr string
	for _, m := range list(p["Metrics"]) {
		m := m.(map[string]any)
		id := m["Id"].(string)
		if stat, ok := m["MetricStat"].(map[string]any); ok {
			metrics[id] = stat["Metric"].(map[string]any)["MetricName"].(string)
			if period := stat["Period"]; period != float64(60) {
				t.Errorf("metric %s period = %v, want 60", id, period)
			}
			if m["ReturnData"] != false {
				t.Errorf("metric %s ReturnData = %v, want false (only the expression is the alarm's value)", id, m["ReturnData"])
			}
			continue
		}
		if m["ReturnData"] != true {
			t.Errorf("expression %s ReturnData = %v, want true", id, m["ReturnData"])
		}
		expr = m["Expression"].(string)
	}
	for _, want := range []string{"ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible"} {
		id := ""
		for k, v := range metrics {
			if v == want {
				id = k
			}
		}
		if id == "" || !strings.Contains(expr, id) {
			t.Errorf("scale-in expression %q does not add %s (metrics: %v)", expr, want, metrics)
		}
	}
	if got := p["ComparisonOperator"]; got != "LessThanOrEqualToThreshold" || p["Threshold"] != float64(0) {
		t.Errorf("scale-in alarm fires on %v %v, want LessThanOrEqualToThreshold 0", got, p["Threshold"])
	}
	if got, want := js(p["EvaluationPeriods"]), refTo(ParamScaleInDelay); got != want {
		t.Errorf("EvaluationPeriods = %s, want %s: the delay is a parameter", got, want)
	}
	if got, want := js(p["DatapointsToAlarm"]), refTo(ParamScaleInDelay); got != want {
		t.Errorf("DatapointsToAlarm = %s, want %s: every period of the delay must be idle", got, want)
	}
	if got := js(p["AlarmActions"]); got != js([]any{map[string]any{"Ref": LogicalScaleInPolicy}}) {
		t.Errorf("AlarmActions = %s, want the scale-in policy", got)
	}
	policy := r.props(t, LogicalScaleInPolicy)["StepScalingPolicyConfiguration"].(map[string]any)
	if policy["AdjustmentType"] != "ExactCapacity" || js(policy["StepAdjustments"]) != `[{"MetricIntervalUpperBound":0,"ScalingAdjustment":0}]` {
		t.Errorf("scale-in policy = %s, want ExactCapacity 0", js(policy))
	}
}

func TestScaleOutOnVisibleMessagesAndAPIRequests(t *testing.T) {
	r := renderMain(t, Defaults())
	p := r.props(t, LogicalScaleOutAlarm)
	names := map[string]bool{}
	for _, m := range list(p["Metrics"]) {
		if stat, ok := m.(map[string]any)["MetricStat"].(map[string]any); ok {
			metric := stat["Metric"].(map[string]any)
			names[metric["Namespace"].(string)+"/"+metric["MetricName"].(string)] = true
			if stat["Period"] != float64(60) {
				t.Errorf("scale-out metric period = %v, want 60", stat["Period"])
			}
		}
	}
	if !names["AWS/SQS/ApproximateNumberOfMessagesVisible"] || !names["AWS/ApiGateway/Count"] {
		t.Errorf("scale-out alarm metrics = %v, want visible messages and API request count", names)
	}
	if p["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" || p["Threshold"] != float64(1) || p["EvaluationPeriods"] != float64(1) {
		t.Errorf("scale-out alarm = %v %v over %v periods, want >= 1 over 1", p["ComparisonOperator"], p["Threshold"], p["EvaluationPeriods"])
	}
	cfg := r.props(t, LogicalScaleOutPolicy)["StepScalingPolicyConfiguration"].(map[string]any)
	if cfg["AdjustmentType"] != "ChangeInCapacity" {
		t.Errorf("scale-out AdjustmentType = %v, want ChangeInCapacity", cfg["AdjustmentType"])
	}
	if c, _ := cfg["Cooldown"].(float64); c < 60 {
		t.Errorf("scale-out cooldown = %v s, want long enough for a task to start", cfg["Cooldown"])
	}
	steps := list(cfg["StepAdjustments"])
	if len(steps) < 2 {
		t.Fatalf("scale-out steps = %s, want more than one step", js(steps))
	}
	prevAdd, prevUpper := 0.0, 0.0
	for i, s := range steps {
		s := s.(map[string]any)
		add := s["ScalingAdjustment"].(float64)
		if add <= prevAdd {
			t.Errorf("step %d adds %v tasks, want more than the previous step's %v", i, add, prevAdd)
		}
		if lower := s["MetricIntervalLowerBound"].(float64); lower != prevUpper {
			t.Errorf("step %d starts at %v, want %v (steps must be contiguous from the threshold)", i, lower, prevUpper)
		}
		prevAdd = add
		if u, ok := s["MetricIntervalUpperBound"].(float64); ok {
			prevUpper = u
		} else if i != len(steps)-1 {
			t.Errorf("step %d has no upper bound but is not the last", i)
		}
	}
	target := r.props(t, LogicalScalableTarget)
	if target["MinCapacity"] != float64(0) || js(target["MaxCapacity"]) != refTo(ParamMaxTasks) {
		t.Errorf("scalable target min/max = %v/%s, want 0/Ref MaxTasks", target["MinCapacity"], js(target["MaxCapacity"]))
	}
}

func TestNoCPUScaling(t *testing.T) {
	for _, cfg := range allModes() {
		r := renderMain(t, cfg)
		body := js(r)
		if strings.Contains(body, "CPUUtilization") || strings.Contains(body, "TargetTrackingScaling") {
			t.Errorf("%s: the template scales on CPU; workers are busy by design", name(cfg))
		}
		if got := len(r.resourcesOfType("AWS::ApplicationAutoScaling::ScalingPolicy")); got != 2 {
			t.Errorf("%s: %d scaling policies, want 2 (scale out, scale in)", name(cfg), got)
		}
	}
}

func TestAPIRoleCanOnlySendToThisQueue(t *testing.T) {
	r := renderMain(t, Defaults())
	stmts := r.statements(t, LogicalAPIRole)
	if len(stmts) != 1 {
		t.Fatalf("API role has %d statements, want 1: %s", len(stmts), js(stmts))
	}
	s := stmts[0]
	if s["Effect"] != "Allow" || js(strs(s["Action"])) != `["sqs:SendMessage"]` || js(s["Resource"]) != getAttOf(LogicalJobsQueue, "Arn") {
		t.Errorf("API role statement = %s, want Allow sqs:SendMessage on the jobs queue's ARN only", js(s))
	}
	trust := js(r.props(t, LogicalAPIRole)["AssumeRolePolicyDocument"])
	if !strings.Contains(trust, `"Service":"apigateway.amazonaws.com"`) {
		t.Errorf("API role trust = %s, want API Gateway", trust)
	}
	for _, m := range []string{LogicalAPIPostMethod, LogicalAPIGetMethod} {
		integ := r.props(t, m)["Integration"].(map[string]any)
		if js(integ["Credentials"]) != getAttOf(LogicalAPIRole, "Arn") {
			t.Errorf("%s integration credentials = %s, want the API role", m, js(integ["Credentials"]))
		}
	}
}

// TestRolesHaveNoWildcardActions checks every role: no "*" in an action, and the task role's
// resources are this stack's queue and cluster.
func TestRolesHaveNoWildcardActions(t *testing.T) {
	for _, cfg := range allModes() {
		r := renderMain(t, cfg)
		for _, role := range r.resourcesOfType("AWS::IAM::Role") {
			for _, s := range r.statements(t, role) {
				for _, a := range strs(s["Action"]) {
					if strings.Contains(a, "*") {
						t.Errorf("%s: role %s allows wildcard action %q", name(cfg), role, a)
					}
				}
				if res := js(s["Resource"]); res == `"*"` && !slices.Equal(strs(s["Action"]), []string{"ecr:GetAuthorizationToken"}) {
					t.Errorf("%s: role %s allows %v on every resource", name(cfg), role, s["Action"])
				}
			}
		}
	}
	r := renderMain(t, Defaults())
	for _, s := range r.statements(t, LogicalTaskRole) {
		res := js(s["Resource"])
		switch {
		case slices.Contains(strs(s["Action"]), "sqs:ReceiveMessage"):
			if res != getAttOf(LogicalJobsQueue, "Arn") {
				t.Errorf("task role queue statement resource = %s, want the jobs queue", res)
			}
			if want := []string{"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"}; !slices.Equal(strs(s["Action"]), want) {
				t.Errorf("task role queue actions = %v, want %v", s["Action"], want)
			}
		case slices.Contains(strs(s["Action"]), "ecs:UpdateTaskProtection"):
			if !strings.Contains(res, ":task/${Cluster}/*") {
				t.Errorf("task protection resource = %s, want this cluster's tasks", res)
			}
		default:
			t.Errorf("unexpected task role statement %s", js(s))
		}
	}
	for _, s := range r.statements(t, LogicalExecutionRole) {
		if slices.Contains(strs(s["Action"]), "ecr:BatchGetImage") && !strings.Contains(js(s["Resource"]), `"Ref":"ImageUri"`) {
			t.Errorf("execution role pulls from %s, want the repository of the ImageUri parameter", js(s["Resource"]))
		}
		if slices.Contains(strs(s["Action"]), "logs:PutLogEvents") && js(s["Resource"]) != getAttOf(LogicalLogGroup, "Arn") {
			t.Errorf("execution role writes logs to %s, want this stack's log group", js(s["Resource"]))
		}
	}
}

func TestDesiredCountFollowsParameterCondition(t *testing.T) {
	r := renderMain(t, Defaults())
	got := js(r.props(t, LogicalService)["DesiredCount"])
	want := js(map[string]any{"Fn::If": []any{ConditionHasDesiredCount, map[string]any{"Ref": ParamDesiredCount}, map[string]any{"Ref": "AWS::NoValue"}}})
	if got != want {
		t.Errorf("service DesiredCount = %s, want %s", got, want)
	}
	cond := js(r.section("Conditions")[ConditionHasDesiredCount])
	if wantCond := `{"Fn::Not":[{"Fn::Equals":[{"Ref":"DesiredCount"},"-1"]}]}`; cond != wantCond {
		t.Errorf("condition %s = %s, want %s", ConditionHasDesiredCount, cond, wantCond)
	}
	param := r.section("Parameters")[ParamDesiredCount].(map[string]any)
	if param["Default"] != float64(KeepDesiredCount) || param["Type"] != "Number" || param["MinValue"] != float64(KeepDesiredCount) {
		t.Errorf("DesiredCount parameter = %s, want a Number defaulting to -1 (omitted)", js(param))
	}
}

func TestOutputsExist(t *testing.T) {
	always := []string{OutputAPIURL, OutputQueueURL, OutputQueueARN, OutputDeadLetterQueueURL, OutputClusterName, OutputServiceName, OutputLogGroupName}
	for _, cfg := range allModes() {
		r := renderMain(t, cfg)
		want := slices.Clone(always)
		if cfg.Auth == AuthAPIKey {
			want = append(want, OutputAPIKeyID)
		}
		var got []string
		for k := range r.section("Outputs") {
			got = append(got, k)
		}
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: outputs = %v, want %v", name(cfg), got, want)
		}
	}
	r := renderMain(t, Defaults())
	if got := js(r.section("Outputs")[OutputAPIURL].(map[string]any)["Value"]); !strings.HasSuffix(got, `/${ApiStage}/queue"}`) || !strings.Contains(got, "https://${Api}.execute-api.") {
		t.Errorf("ApiUrl = %s, want the full https://.../run/queue URL", got)
	}
}

// TestReferencesResolve checks that every Ref, GetAtt and ${} in Sub names a resource, parameter,
// condition or pseudo parameter of the template.
func TestReferencesResolve(t *testing.T) {
	subVar := regexp.MustCompile(`\$\{([A-Za-z0-9:]+)(\.[A-Za-z]+)?\}`)
	for _, cfg := range allModes() {
		r := renderMain(t, cfg)
		known := map[string]bool{}
		for _, sec := range []string{"Resources", "Parameters"} {
			for k := range r.section(sec) {
				known[k] = true
			}
		}
		var walk func(v any, locals map[string]bool)
		check := func(id string, locals map[string]bool) {
			if !known[id] && !locals[id] && !strings.HasPrefix(id, "AWS::") {
				t.Errorf("%s: reference to unknown %q", name(cfg), id)
			}
		}
		walk = func(v any, locals map[string]bool) {
			switch v := v.(type) {
			case map[string]any:
				for k, e := range v {
					switch k {
					case "Ref":
						check(e.(string), locals)
					case "Fn::GetAtt":
						check(list(e)[0].(string), locals)
					case "Fn::Sub":
						args := list(e)
						inner := map[string]bool{}
						if len(args) == 2 {
							for name := range args[1].(map[string]any) {
								inner[name] = true
							}
							walk(args[1], locals)
						}
						for _, m := range subVar.FindAllStringSubmatch(args[0].(string), -1) {
							check(m[1], inner)
						}
						continue
					}
					walk(e, locals)
				}
			case []any:
				for _, e := range v {
					walk(e, locals)
				}
			}
		}
		walk(r.section("Resources"), nil)
		walk(r.section("Outputs"), nil)
		walk(r.section("Conditions"), nil)
	}
}

func TestSecurityProperties(t *testing.T) {
	for _, cfg := range allModes() {
		r := renderMain(t, cfg)
		for _, q := range []string{LogicalJobsQueue, LogicalDeadLetterQueue} {
			if r.props(t, q)["SqsManagedSseEnabled"] != true {
				t.Errorf("%s: queue %s is not encrypted", name(cfg), q)
			}
		}
		qp := r.props(t, LogicalQueuePolicy)
		deny := list(qp["PolicyDocument"].(map[string]any)["Statement"])[0].(map[string]any)
		if deny["Effect"] != "Deny" || js(deny["Condition"]) != `{"Bool":{"aws:SecureTransport":"false"}}` || len(list(qp["Queues"])) != 2 {
			t.Errorf("%s: queue policy = %s, want a Deny without TLS on both queues", name(cfg), js(qp))
		}
		c := list(r.props(t, LogicalTaskDefinition)["ContainerDefinitions"])[0].(map[string]any)
		if c["User"] != WorkerUser || c["ReadonlyRootFilesystem"] != true {
			t.Errorf("%s: container user %v, read-only root %v; want %s and true", name(cfg), c["User"], c["ReadonlyRootFilesystem"], WorkerUser)
		}
		if js(c["MountPoints"]) != `[{"ContainerPath":"/tmp","ReadOnly":false,"SourceVolume":"scratch"}]` {
			t.Errorf("%s: mount points = %s, want a writable scratch volume at /tmp", name(cfg), js(c["MountPoints"]))
		}
		if c["StopTimeout"] != float64(StopTimeout) {
			t.Errorf("%s: stopTimeout = %v, want %d", name(cfg), c["StopTimeout"], StopTimeout)
		}
		if !strings.Contains(js(c["Image"]), `"Ref":"ImageUri"`) {
			t.Errorf("%s: container image = %s, want the ImageUri parameter (by digest)", name(cfg), js(c["Image"]))
		}
		if d := r.props(t, LogicalLogGroup)["RetentionInDays"]; d != float64(cfg.LogRetentionDays) {
			t.Errorf("%s: log retention = %v, want %d", name(cfg), d, cfg.LogRetentionDays)
		}
		net := r.props(t, LogicalService)["NetworkConfiguration"].(map[string]any)["AwsvpcConfiguration"].(map[string]any)
		wantIP, wantSubnets := "DISABLED", LogicalPrivateSubnets
		if cfg.Network == NetworkPublic {
			wantIP, wantSubnets = "ENABLED", LogicalPublicSubnets
		}
		if net["AssignPublicIp"] != wantIP {
			t.Errorf("%s: AssignPublicIp = %v, want %s", name(cfg), net["AssignPublicIp"], wantIP)
		}
		var subnets []string
		for _, s := range list(net["Subnets"]) {
			subnets = append(subnets, s.(map[string]any)["Ref"].(string))
		}
		if !slices.Equal(subnets, wantSubnets) {
			t.Errorf("%s: tasks run in %v, want %v", name(cfg), subnets, wantSubnets)
		}
		if sg := r.props(t, LogicalTaskSecurityGroup); sg["SecurityGroupIngress"] != nil {
			t.Errorf("%s: task security group allows ingress: %s", name(cfg), js(sg["SecurityGroupIngress"]))
		}
		cb := js(r.props(t, LogicalService)["DeploymentConfiguration"].(map[string]any)["DeploymentCircuitBreaker"])
		if cb != `{"Enable":true,"Rollback":true}` {
			t.Errorf("%s: circuit breaker = %s, want enabled with rollback", name(cfg), cb)
		}
	}
}

func TestNATInstanceHardening(t *testing.T) {
	r := renderMain(t, Defaults())
	p := r.props(t, LogicalNATInstance)
	if js(p["MetadataOptions"]) != `{"HttpEndpoint":"enabled","HttpPutResponseHopLimit":1,"HttpTokens":"required"}` {
		t.Errorf("NAT instance metadata options = %s, want IMDSv2 required", js(p["MetadataOptions"]))
	}
	if p["SourceDestCheck"] != false {
		t.Errorf("NAT instance SourceDestCheck = %v, want false", p["SourceDestCheck"])
	}
	if _, ok := p["KeyName"]; ok {
		t.Errorf("NAT instance has an SSH key %v", p["KeyName"])
	}
	bdm := list(p["BlockDeviceMappings"])[0].(map[string]any)["Ebs"].(map[string]any)
	if bdm["Encrypted"] != true {
		t.Errorf("NAT root volume = %s, want encrypted", js(bdm))
	}
	sg := r.props(t, LogicalNATSecurityGroup)
	for _, rule := range list(sg["SecurityGroupIngress"]) {
		if cidr := rule.(map[string]any)["CidrIp"]; cidr != Defaults().VPCCIDR {
			t.Errorf("NAT ingress from %v, want only the VPC CIDR %s", cidr, Defaults().VPCCIDR)
		}
	}
	userData := js(p["UserData"])
	for _, want := range []string{"ip_forward = 1", "MASQUERADE", "-s 10.0.0.0/16"} {
		if !strings.Contains(userData, want) {
			t.Errorf("NAT user data lacks %q", want)
		}
	}
	route := r.props(t, LogicalPrivateDefaultRoute)
	if js(route["InstanceId"]) != refTo(LogicalNATInstance) || route["DestinationCidrBlock"] != "0.0.0.0/0" {
		t.Errorf("private default route = %s, want 0.0.0.0/0 via the NAT instance", js(route))
	}
	ami := r.section("Parameters")[ParamNATInstanceAMI].(map[string]any)["Default"]
	if ami != NATAMIParameterPathPrefix+"arm64" {
		t.Errorf("t4g.nano AMI parameter = %v, want the arm64 AL2023 image", ami)
	}
}

func TestNetworkModes(t *testing.T) {
	cases := map[string]struct {
		present, absent []string
	}{
		NetworkNATInstance: {present: []string{LogicalNATInstance, LogicalPrivateRouteTable, LogicalS3Endpoint}, absent: []string{LogicalNATGateway}},
		NetworkNATGateway:  {present: []string{LogicalNATGateway, LogicalNATGatewayEIP, LogicalPrivateRouteTable}, absent: []string{LogicalNATInstance, LogicalNATSecurityGroup}},
		NetworkPublic:      {present: []string{LogicalS3Endpoint, LogicalPublicRouteTable}, absent: []string{LogicalNATInstance, LogicalNATGateway, LogicalPrivateRouteTable, LogicalPrivateSubnets[0]}},
	}
	for mode, c := range cases {
		r := renderMain(t, withConfig(func(cfg *Config) { cfg.Network = mode }))
		res := r.section("Resources")
		for _, id := range c.present {
			if res[id] == nil {
				t.Errorf("%s: %s missing", mode, id)
			}
		}
		for _, id := range c.absent {
			if res[id] != nil {
				t.Errorf("%s: %s present", mode, id)
			}
		}
		if _, ok := r.section("Parameters")[ParamNATInstanceAMI]; ok != (mode == NetworkNATInstance) {
			t.Errorf("%s: NAT AMI parameter present = %v", mode, ok)
		}
	}
	r := renderMain(t, withConfig(func(c *Config) { c.VPCCIDR = "10.20.0.0/20" }))
	var cidrs []string
	for _, id := range append(slices.Clone(LogicalPublicSubnets), LogicalPrivateSubnets...) {
		cidrs = append(cidrs, r.props(t, id)["CidrBlock"].(string))
	}
	if want := []string{"10.20.0.0/22", "10.20.4.0/22", "10.20.8.0/22", "10.20.12.0/22"}; !slices.Equal(cidrs, want) {
		t.Errorf("subnets of 10.20.0.0/20 = %v, want %v", cidrs, want)
	}
}

func TestAuthModes(t *testing.T) {
	for _, c := range []struct {
		auth, authType string
		keyRequired    bool
	}{{AuthAPIKey, "NONE", true}, {AuthIAM, "AWS_IAM", false}, {AuthNone, "NONE", false}} {
		r := renderMain(t, withConfig(func(cfg *Config) { cfg.Auth = c.auth }))
		for _, m := range []string{LogicalAPIPostMethod, LogicalAPIGetMethod} {
			p := r.props(t, m)
			if p["AuthorizationType"] != c.authType || (p["ApiKeyRequired"] == true) != c.keyRequired {
				t.Errorf("auth %s: %s AuthorizationType %v ApiKeyRequired %v, want %s %v", c.auth, m, p["AuthorizationType"], p["ApiKeyRequired"], c.authType, c.keyRequired)
			}
		}
		_, hasPlan := r.section("Resources")[LogicalAPIUsagePlan]
		if hasPlan != (c.auth == AuthAPIKey) {
			t.Errorf("auth %s: usage plan present = %v", c.auth, hasPlan)
		}
	}
	r := renderMain(t, Defaults())
	plan := r.props(t, LogicalAPIUsagePlan)
	if js(plan["Quota"]) != `{"Limit":10000,"Period":"DAY"}` || js(plan["Throttle"]) != `{"BurstLimit":20,"RateLimit":10}` {
		t.Errorf("usage plan quota %s throttle %s", js(plan["Quota"]), js(plan["Throttle"]))
	}
}

func TestAPIMapsQueueAnswers(t *testing.T) {
	r := renderMain(t, Defaults())
	post := r.props(t, LogicalAPIPostMethod)
	if js(post["RequestModels"]) != js(map[string]any{"application/json": map[string]any{"Ref": LogicalAPIJobModel}}) {
		t.Errorf("POST request models = %s, want the job model (a body is required)", js(post["RequestModels"]))
	}
	get := r.props(t, LogicalAPIGetMethod)
	if js(get["RequestParameters"]) != `{"method.request.querystring.message":true}` {
		t.Errorf("GET request parameters = %s, want message required", js(get["RequestParameters"]))
	}
	v := r.props(t, LogicalAPIValidator)
	if v["ValidateRequestBody"] != true || v["ValidateRequestParameters"] != true {
		t.Errorf("validator = %s", js(v))
	}
	for _, m := range []map[string]any{post, get} {
		integ := m["Integration"].(map[string]any)
		codes := map[string]string{}
		for _, ir := range list(integ["IntegrationResponses"]) {
			ir := ir.(map[string]any)
			pattern, _ := ir["SelectionPattern"].(string)
			codes[pattern] = ir["StatusCode"].(string)
		}
		if codes[`2\d{2}`] != "200" || codes["400"] != "400" || codes[""] != "502" {
			t.Errorf("integration responses = %v, want 2xx→200, 400→400, anything else→502", codes)
		}
		tmpl := integ["IntegrationResponses"].([]any)[0].(map[string]any)["ResponseTemplates"].(map[string]any)["application/json"].(string)
		if !strings.Contains(tmpl, `"jobId"`) || !strings.Contains(tmpl, "MessageId") {
			t.Errorf("200 template = %q, want {\"jobId\": <MessageId>}", tmpl)
		}
		if integ["PassthroughBehavior"] != "NEVER" {
			t.Errorf("PassthroughBehavior = %v, want NEVER", integ["PassthroughBehavior"])
		}
	}
	if stage := r.props(t, LogicalAPIStage); stage["StageName"] != StageName {
		t.Errorf("stage = %v, want %s", stage["StageName"], StageName)
	}
}

// TestAPIDeploymentFollowsMethods: a change to the methods must produce a new deployment logical
// ID (a deployment is immutable), and the same methods the same ID.
func TestAPIDeploymentFollowsMethods(t *testing.T) {
	deployment := func(cfg Config) string {
		r := renderMain(t, cfg)
		ids := r.resourcesOfType("AWS::ApiGateway::Deployment")
		if len(ids) != 1 {
			t.Fatalf("%d deployments, want 1", len(ids))
		}
		if got := js(r.props(t, LogicalAPIStage)["DeploymentId"]); got != refTo(ids[0]) {
			t.Errorf("stage deploys %s, want %s", got, ids[0])
		}
		return ids[0]
	}
	a, b := deployment(Defaults()), deployment(Defaults())
	if a != b || !strings.HasPrefix(a, LogicalAPIDeploymentPrefix) {
		t.Errorf("deployment IDs %s, %s: want the same, prefixed %s", a, b, LogicalAPIDeploymentPrefix)
	}
	if c := deployment(withConfig(func(c *Config) { c.Auth = AuthIAM })); c == a {
		t.Errorf("changing the methods' auth kept deployment %s", c)
	}
	if c := deployment(withConfig(func(c *Config) { c.MaxTasks = 9 })); c != a {
		t.Errorf("a change outside the API moved the deployment to %s", c)
	}
}

func TestWorkerEnvironment(t *testing.T) {
	r := renderMain(t, withConfig(func(c *Config) { c.WorkerConcurrency = 3; c.JobCommand = "/app/render --fast" }))
	c := list(r.props(t, LogicalTaskDefinition)["ContainerDefinitions"])[0].(map[string]any)
	env := map[string]string{}
	for _, kv := range list(c["Environment"]) {
		kv := kv.(map[string]any)
		env[kv["Name"].(string)] = js(kv["Value"])
	}
	want := map[string]string{
		EnvQueueURL:          refTo(LogicalJobsQueue),
		EnvJobTimeout:        refTo(ParamJobTimeout),
		EnvJobCommand:        `"/app/render --fast"`,
		EnvWorkerConcurrency: `"3"`,
		EnvWorkerStopTimeout: `"110"`,
		EnvJobRetryDelay:     `"10"`,
	}
	if js(env) != js(want) {
		t.Errorf("container environment = %v, want %v", env, want)
	}
	if WorkerStopTimeout >= StopTimeout {
		t.Errorf("worker stop timeout %d must leave time before ECS's stopTimeout %d", WorkerStopTimeout, StopTimeout)
	}
	if js(r.props(t, LogicalJobsQueue)["VisibilityTimeout"]) != refTo(ParamJobTimeout) {
		t.Errorf("queue visibility timeout must be the JobTimeout parameter")
	}
}

func TestImageURIPattern(t *testing.T) {
	re := regexp.MustCompile(ImageURIPattern)
	digest := strings.Repeat("ab", 32)
	for uri, ok := range map[string]bool{
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/jobs@sha256:" + digest:      true,
		"123456789012.dkr.ecr.eu-west-3.amazonaws.com/team/jobs@sha256:" + digest: true,
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/jobs:latest":                false,
		"docker.io/library/busybox@sha256:" + digest:                              false,
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/jobs@sha256:abc":            false,
	} {
		if re.MatchString(uri) != ok {
			t.Errorf("ImageUri pattern matches %q = %v, want %v", uri, !ok, ok)
		}
	}
}

func TestParametersGroupedAndLabelled(t *testing.T) {
	for _, cfg := range allModes() {
		r := renderMain(t, cfg)
		iface := r.section("Metadata")["AWS::CloudFormation::Interface"].(map[string]any)
		grouped := map[string]bool{}
		for _, g := range list(iface["ParameterGroups"]) {
			for _, p := range strs(g.(map[string]any)["Parameters"]) {
				grouped[p] = true
			}
		}
		labels := iface["ParameterLabels"].(map[string]any)
		for p := range r.section("Parameters") {
			if !grouped[p] || labels[p] == nil {
				t.Errorf("%s: parameter %s grouped=%v labelled=%v", name(cfg), p, grouped[p], labels[p] != nil)
			}
		}
	}
	params := renderMain(t, withConfig(func(c *Config) { c.MaxTasks = 7; c.CPU = 512; c.Memory = 4096; c.JobTimeout = 900 })).section("Parameters")
	for p, want := range map[string]any{ParamMaxTasks: float64(7), ParamTaskCPU: "512", ParamTaskMemory: "4096", ParamJobTimeout: float64(900)} {
		if got := params[p].(map[string]any)["Default"]; got != want {
			t.Errorf("parameter %s default = %v, want %v from the config", p, got, want)
		}
	}
}

func TestDefaultTemplateFitsTemplateBody(t *testing.T) {
	body, err := Synth(Defaults(), FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	if len(body) >= TemplateBodyLimit {
		t.Errorf("default template is %d bytes of minified JSON, want under %d (CloudFormation's TemplateBody limit)", len(body), TemplateBodyLimit)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil {
		t.Fatal(err)
	}
	if compact.Len()+1 != len(body) {
		t.Errorf("JSON rendering is %d bytes, %d when compacted: it is not minified", len(body), compact.Len())
	}
}

func TestRepositoryStack(t *testing.T) {
	body, err := SynthRepository(withConfig(func(c *Config) { c.ImagesToKeep = 7 }), FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	r := rendered{}
	if err := jsonUnmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	p := r.props(t, LogicalRepository)
	if js(p["ImageScanningConfiguration"]) != `{"ScanOnPush":true}` || p["ImageTagMutability"] != "IMMUTABLE" {
		t.Errorf("repository = %s, want scan on push and immutable tags", js(p))
	}
	rule := p["LifecyclePolicy"].(map[string]any)["LifecyclePolicyText"].(string)
	if !strings.Contains(rule, `"countNumber":7`) || !strings.Contains(rule, `"imageCountMoreThan"`) {
		t.Errorf("lifecycle rule = %s, want to keep the newest 7 images", rule)
	}
	for _, o := range []string{OutputRepositoryURI, OutputRepositoryARN, OutputRepositoryName} {
		if r.section("Outputs")[o] == nil {
			t.Errorf("repository stack lacks output %s", o)
		}
	}
}

func TestValidateRejectsBadConfig(t *testing.T) {
	cases := []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.CPU, c.Memory = 256, 4096 }, `memory 4096: Fargate does not allow memory 4096 with cpu 256; with cpu 256 use memory 512, 1024, 2048`},
		{func(c *Config) { c.CPU = 300 }, `cpu 300: Fargate allows cpu 256, 512, 1024, 2048, 4096, 8192, 16384`},
		{func(c *Config) { c.VPCCIDR = "10.0.0.0/33" }, `vpc_cidr "10.0.0.0/33": not an IPv4 CIDR block`},
		{func(c *Config) { c.VPCCIDR = "10.0.0.1/16" }, `has host bits set; did you mean 10.0.0.0/16?`},
		{func(c *Config) { c.VPCCIDR = "10.0.0.0/8" }, `prefix must be /16 to /24`},
		{func(c *Config) { c.VPCCIDR = "fd00::/48" }, `must be an IPv4 block`},
		{func(c *Config) { c.MaxTasks = 0 }, `max_tasks 0: must be between 1 and 1000`},
		{func(c *Config) { c.JobTimeout = 43201 }, `job_timeout 43201: must be between 1 and 43200 seconds`},
		{func(c *Config) { c.JobTimeout = -1 }, `job_timeout -1: must be between 1 and 43200 seconds`},
		{func(c *Config) { c.Network = "vpn" }, `network "vpn": unknown network mode; use nat-instance, public or nat-gateway`},
		{func(c *Config) { c.Auth = "oauth" }, `auth "oauth": unknown auth mode; use api-key, iam or none`},
		{func(c *Config) { c.Architecture = "ppc64" }, `architecture "ppc64": unknown architecture; use x86_64 or arm64`},
		{func(c *Config) { c.MaxReceiveCount = 0 }, `max_receive_count 0`},
		{func(c *Config) { c.ScaleInDelay = 1441 }, `scale_in_delay 1441: must be between 1 and 1440 minutes`},
		{func(c *Config) { c.LogRetentionDays = 2 }, `log_retention_days 2: CloudWatch Logs allows 1, 3, 5`},
		{func(c *Config) { c.NATInstanceType = "nano" }, `nat_instance_type "nano"`},
		{func(c *Config) { c.WorkerConcurrency = 0 }, `worker_concurrency 0`},
		{func(c *Config) { c.JobCommand = "a\nb" }, `job_command "a\nb": must be one line`},
		{func(c *Config) { c.ThrottleRate = 0 }, `throttle_rate 0`},
		{func(c *Config) { c.ImagesToKeep = 0 }, `images_to_keep 0`},
	}
	for _, c := range cases {
		cfg := withConfig(c.edit)
		for _, build := range []func(Config) error{
			func(cfg Config) error { _, err := Build(cfg); return err },
			func(cfg Config) error { _, err := BuildRepository(cfg); return err },
		} {
			err := build(cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("building %+v: error = %v, want it to contain %q", cfg, err, c.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error %v is not a *FieldError", err)
			}
		}
	}
	// Several problems are all reported at once.
	err := withConfig(func(c *Config) { c.MaxTasks = 0; c.Auth = "x" }).Validate()
	if err == nil || !strings.Contains(err.Error(), "max_tasks") || !strings.Contains(err.Error(), "auth") {
		t.Errorf("Validate with two problems = %v, want both named", err)
	}
	if err := Defaults().Validate(); err != nil {
		t.Errorf("Defaults() is invalid: %v", err)
	}
	if err := withConfig(func(c *Config) { c.JobTimeout = MaxJobTimeout; c.CPU = 16384; c.Memory = 122880 }).Validate(); err != nil {
		t.Errorf("limits should be accepted: %v", err)
	}
}

func TestNATInstanceArchitecture(t *testing.T) {
	for typ, want := range map[string]string{"t4g.nano": ArchARM, "c7gn.large": ArchARM, "m6gd.xlarge": ArchARM, "t3.nano": ArchX86, "t3a.micro": ArchX86, "g4dn.xlarge": ArchX86, "c5n.large": ArchX86} {
		if got := NATInstanceArchitecture(typ); got != want {
			t.Errorf("NATInstanceArchitecture(%q) = %s, want %s", typ, got, want)
		}
	}
}

func TestRenderRejectsUnknownFormat(t *testing.T) {
	if _, err := Synth(Defaults(), "toml"); err == nil || !strings.Contains(err.Error(), `unknown template format "toml"`) {
		t.Errorf("Synth(toml) error = %v", err)
	}
}

func BenchmarkSynthDefault(b *testing.B) {
	cfg := Defaults()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Synth(cfg, FormatJSON); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSynthDefaultYAML(b *testing.B) {
	cfg := Defaults()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Synth(cfg, FormatYAML); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRulesCheckFargatePairs: the console may change TaskCpu and TaskMemory independently, so the
// template's Rules reject a pair Fargate does not allow before any resource changes.
func TestRulesCheckFargatePairs(t *testing.T) {
	r := renderMain(t, Defaults())
	rules := r.section("Rules")
	if len(rules) != len(FargateCPUs()) {
		t.Fatalf("%d rules, want one per Fargate CPU value (%d)", len(rules), len(FargateCPUs()))
	}
	for _, cpu := range FargateCPUs() {
		rule, ok := rules[fmt.Sprintf("FargateMemoryForCpu%d", cpu)].(map[string]any)
		if !ok {
			t.Errorf("no rule for cpu %d", cpu)
			continue
		}
		if got, want := js(rule["RuleCondition"]), js(map[string]any{"Fn::Equals": []any{map[string]any{"Ref": ParamTaskCPU}, fmt.Sprint(cpu)}}); got != want {
			t.Errorf("cpu %d rule condition = %s, want %s", cpu, got, want)
		}
		var allowed []string
		for _, m := range FargateMemory(cpu) {
			allowed = append(allowed, fmt.Sprint(m))
		}
		assert := list(rule["Assertions"])[0].(map[string]any)["Assert"]
		if got, want := js(assert), js(map[string]any{"Fn::Contains": []any{allowed, map[string]any{"Ref": ParamTaskMemory}}}); got != want {
			t.Errorf("cpu %d assertion = %s, want %s", cpu, got, want)
		}
	}
	repo, err := SynthRepository(Defaults(), FormatJSON)
	if err != nil || strings.Contains(string(repo), `"Rules"`) {
		t.Errorf("the repository stack has no task size, so no rules (err %v)", err)
	}
}
