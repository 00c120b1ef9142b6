package template

import (
	"encoding/json"
	"testing"
)

// rendered is a template parsed back from its JSON rendering: what CloudFormation would read.
type rendered map[string]any

func renderMain(t testing.TB, cfg Config) rendered {
	t.Helper()
	body, err := Synth(cfg, FormatJSON)
	if err != nil {
		t.Fatalf("Synth: %v", err)
	}
	var r rendered
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("parsing rendered template: %v", err)
	}
	return r
}

func (r rendered) section(name string) map[string]any {
	m, _ := r[name].(map[string]any)
	return m
}

func (r rendered) resource(t testing.TB, id string) map[string]any {
	t.Helper()
	res, ok := r.section("Resources")[id].(map[string]any)
	if !ok {
		t.Fatalf("resource %s is missing", id)
	}
	return res
}

func (r rendered) props(t testing.TB, id string) map[string]any {
	t.Helper()
	p, _ := r.resource(t, id)["Properties"].(map[string]any)
	return p
}

// resourcesOfType returns the logical IDs of every resource of type typ.
func (r rendered) resourcesOfType(typ string) []string {
	var ids []string
	for id, res := range r.section("Resources") {
		if res.(map[string]any)["Type"] == typ {
			ids = append(ids, id)
		}
	}
	return ids
}

// statements returns every IAM statement of a role's inline policies.
func (r rendered) statements(t testing.TB, role string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, p := range list(r.props(t, role)["Policies"]) {
		doc := p.(map[string]any)["PolicyDocument"].(map[string]any)
		for _, s := range list(doc["Statement"]) {
			out = append(out, s.(map[string]any))
		}
	}
	return out
}

func list(v any) []any {
	switch v := v.(type) {
	case []any:
		return v
	case nil:
		return nil
	default:
		return []any{v}
	}
}

func strs(v any) []string {
	var out []string
	for _, e := range list(v) {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

// js renders a value as compact JSON for comparisons and messages.
func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func refTo(id string) string       { return js(map[string]any{"Ref": id}) }
func getAttOf(id, a string) string { return js(map[string]any{"Fn::GetAtt": []any{id, a}}) }

func withConfig(edit func(*Config)) Config {
	cfg := Defaults()
	edit(&cfg)
	return cfg
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
