package template

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
	"gopkg.in/yaml.v3"
)

// Output formats of Synth.
const (
	FormatYAML = "yaml" // goformation's YAML: sorted keys, long-form intrinsics
	FormatJSON = "json" // minified JSON, the form deployed as TemplateBody
)

// TemplateBodyLimit is the largest template CloudFormation accepts inline (TemplateBody); a larger
// one must be uploaded to S3.
const TemplateBodyLimit = 51200

// Synth builds the main stack for cfg and renders it in format.
func Synth(cfg Config, format string) ([]byte, error) {
	t, err := Build(cfg)
	if err != nil {
		return nil, err
	}
	return Render(t, format)
}

// SynthRepository builds the image-repository stack for cfg and renders it in format.
func SynthRepository(cfg Config, format string) ([]byte, error) {
	t, err := BuildRepository(cfg)
	if err != nil {
		return nil, err
	}
	return Render(t, format)
}

// Render renders t as YAML (goformation's form: sorted keys, long-form intrinsics) or minified JSON.
func Render(t *cloudformation.Template, format string) ([]byte, error) {
	if format != FormatYAML && format != FormatJSON {
		return nil, fmt.Errorf("unknown template format %q (want %s or %s)", format, FormatYAML, FormatJSON)
	}
	raw, err := json.Marshal(document{Template: t, Rules: rules(t)})
	if err != nil {
		return nil, fmt.Errorf("rendering template: %w", err)
	}
	indented, err := intrinsics.ProcessJSON(raw, nil) // turns goformation's encoded intrinsics into JSON
	if err != nil {
		return nil, fmt.Errorf("rendering template: %w", err)
	}
	if format == FormatJSON {
		var min bytes.Buffer
		if err := json.Compact(&min, indented); err != nil {
			return nil, fmt.Errorf("minifying template: %w", err)
		}
		min.WriteByte('\n')
		return min.Bytes(), nil
	}
	// As goformation's Template.YAML: through yaml.v3's generic values, which keep integers integers.
	var doc any
	if err := yaml.Unmarshal(indented, &doc); err != nil {
		return nil, fmt.Errorf("rendering template as YAML: %w", err)
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("rendering template as YAML: %w", err)
	}
	return out, nil
}

// document is what Render marshals: goformation's template and the Rules section it lacks.
type document struct {
	*cloudformation.Template
	Rules map[string]any `json:"Rules,omitempty"`
}

// rules adds CloudFormation Rules that check, before any resource changes, that the TaskCpu and
// TaskMemory parameters form a pair Fargate allows (a reviewer may change either in the console).
func rules(t *cloudformation.Template) map[string]any {
	_, hasCPU := t.Parameters[ParamTaskCPU]
	_, hasMemory := t.Parameters[ParamTaskMemory]
	if !hasCPU || !hasMemory {
		return nil
	}
	out := map[string]any{}
	for _, cpu := range FargateCPUs() {
		mems := FargateMemory(cpu)
		allowed := make([]string, len(mems))
		for i, m := range mems {
			allowed[i] = strconv.Itoa(m)
		}
		out[fmt.Sprintf("FargateMemoryForCpu%d", cpu)] = map[string]any{
			"RuleCondition": cloudformation.Equals(ref(ParamTaskCPU), strconv.Itoa(cpu)),
			"Assertions": []any{map[string]any{
				// Fn::Contains is not among goformation's intrinsics: written as a plain map, with
				// its Ref encoded so that rendering keeps it rather than resolving it.
				"Assert":            map[string]any{"Fn::Contains": []any{allowed, ref(ParamTaskMemory)}},
				"AssertDescription": fmt.Sprintf("with %d CPU units, Fargate allows memory %s MiB", cpu, joinInts(mems)),
			}},
		}
	}
	return out
}

// withProperties adds raw properties to a goformation resource at render time. goformation types
// some properties as numbers (MaxCapacity, EvaluationPeriods, DesiredCount, VisibilityTimeout) so
// they cannot hold a Ref, and lacks a few newer ones (an instance's MetadataOptions); values here
// may be goformation intrinsics (cloudformation.Ref, ...), resolved like any other string.
type withProperties struct {
	cloudformation.Resource
	extra map[string]any
}

func (w withProperties) MarshalJSON() ([]byte, error) {
	inner, err := json.Marshal(w.Resource)
	if err != nil {
		return nil, err
	}
	var res map[string]any
	if err := json.Unmarshal(inner, &res); err != nil {
		return nil, err
	}
	props, _ := res["Properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	for k, v := range w.extra {
		props[k] = v
	}
	res["Properties"] = props
	return json.Marshal(res)
}

// suppress returns resource Metadata that records deliberate cdk-nag findings: rule id → reason.
func suppress(rules ...[2]string) map[string]any {
	list := make([]any, len(rules))
	for i, r := range rules {
		list[i] = map[string]any{"id": r[0], "reason": r[1]}
	}
	return map[string]any{"cdk_nag": map[string]any{"rules_to_suppress": list}}
}

func str(s string) *string       { return &s }
func boolp(b bool) *bool         { return &b }
func intp(i int) *int            { return &i }
func float(f float64) *float64   { return &f }
func sub(s string) string        { return cloudformation.Sub(s) }
func ref(id string) string       { return cloudformation.Ref(id) }
func arn(id string) string       { return cloudformation.GetAtt(id, "Arn") }
func getAtt(id, a string) string { return cloudformation.GetAtt(id, a) }
