package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const sample = `version = 0.1

[default.global.parameters]
stack_name = "jobs"
network = "nat-instance"
max_tasks = 4

[default.deploy.parameters]
max_tasks = 8
confirm_changeset = true
parameter_overrides = "JobTimeout=600 Note=\"a b\""
capabilities = ["CAPABILITY_IAM"]

[prod.deploy.parameters]
stack_name = "jobs-prod"
`

func TestParamsMergeGlobalUnderCommand(t *testing.T) {
	f, err := Parse("samconfig.toml", []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	tables := map[string]string{}
	for _, p := range f.Params("default", "deploy") {
		got[p.Key] = strings.Join(p.Strings(), "|")
		tables[p.Key] = p.Table
	}
	want := map[string]string{
		"stack_name":          "jobs",
		"network":             "nat-instance",
		"max_tasks":           "8",
		"confirm_changeset":   "true",
		"parameter_overrides": `JobTimeout=600 Note="a b"`,
		"capabilities":        "CAPABILITY_IAM",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Params(default, deploy) = %v, want %v", got, want)
	}
	if tables["max_tasks"] != "default.deploy.parameters" || tables["network"] != "default.global.parameters" {
		t.Errorf("tables = %v: max_tasks must come from the command table, network from global", tables)
	}
	// synth has no table of its own: only the global keys apply.
	var synth []string
	for _, p := range f.Params("default", "synth") {
		synth = append(synth, p.Key+"="+strings.Join(p.Strings(), ","))
	}
	if want := []string{"max_tasks=4", "network=nat-instance", "stack_name=jobs"}; !reflect.DeepEqual(synth, want) {
		t.Errorf("Params(default, synth) = %v, want %v", synth, want)
	}
	if p := f.Params("prod", "deploy"); len(p) != 1 || p[0].Value != "jobs-prod" {
		t.Errorf("Params(prod, deploy) = %v, want only stack_name=jobs-prod", p)
	}
	if !f.HasEnv("prod") || f.HasEnv("staging") {
		t.Errorf("HasEnv: prod should exist, staging should not")
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"syntax error names the line", "version = 0.1\n\n[default.deploy.parameters]\nmax_tasks = = 3\n", "samconfig.toml:4: "},
		{"missing version", "[default.deploy.parameters]\nx = 1\n", "missing top-level key version"},
		{"wrong version", "version = 0.2\n", "version = 0.2 is not supported"},
		{"env is not a table", "version = 0.1\ndefault = 3\n", `"default" must be a table of commands`},
		{"unknown section", "version = 0.1\n[default.deploy.params]\nx = 1\n", "unknown table [default.deploy.params]"},
		{"nested table value", "version = 0.1\n[default.deploy.parameters]\nx = {a = 1}\n", "[default.deploy.parameters] x: value is a table"},
		{"array of tables", "version = 0.1\n[default.deploy.parameters]\nx = [{a = 1}]\n", "[default.deploy.parameters] x: element 0 is a table"},
		{"infinite number", "version = 0.1\n[default.deploy.parameters]\nx = inf\n", "is not a usable number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("samconfig.toml", []byte(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Parse(%q) error = %v, want it to contain %q", c.in, err, c.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("Load(missing) error = %v, want a not-exist error", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestVersionAsString(t *testing.T) {
	if _, err := Parse("f", []byte(`version = "0.1"`)); err != nil {
		t.Fatalf(`version = "0.1" should be accepted: %v`, err)
	}
}

func TestParseKeyValues(t *testing.T) {
	cases := []struct {
		in   string
		want []KeyValue
	}{
		{"", nil},
		{"A=1", []KeyValue{{"A", "1"}}},
		{`A=1  B="two words"	C='it''s'`, []KeyValue{{"A", "1"}, {"B", "two words"}, {"C", "its"}}},
		{`A="say \"hi\""`, []KeyValue{{"A", `say "hi"`}}},
		{"A= B=2", []KeyValue{{"A", ""}, {"B", "2"}}},
		{"Url=https://x/y?a=b", []KeyValue{{"Url", "https://x/y?a=b"}}},
		{`ParameterKey=MaxTasks,ParameterValue=5 ParameterKey=Note,ParameterValue="a b"`, []KeyValue{{"MaxTasks", "5"}, {"Note", "a b"}}},
	}
	for _, c := range cases {
		got, err := ParseKeyValues(c.in)
		if err != nil {
			t.Errorf("ParseKeyValues(%q) error: %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseKeyValues(%q) = %v, want %v", c.in, got, c.want)
		}
	}
	for in, want := range map[string]string{
		"A":                              `"A" at offset 0 is not Key=Value`,
		"=1":                             "empty key at offset 0",
		`A="open`:                        `value of "A" has an unterminated " quote`,
		"ParameterKey=X":                 "is not ParameterKey=K,ParameterValue=V",
		"A=1 B":                          `"B" at offset 4 is not Key=Value`,
		"ParameterKey=,ParameterValue=1": "is not ParameterKey=K,ParameterValue=V",
	} {
		if _, err := ParseKeyValues(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseKeyValues(%q) error = %v, want %q", in, err, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("version = 0.1\n[a.b.parameters]\nk = [1, \"x\", true, 1.5]\n"))
	f.Add([]byte("version = \"0.1\"\n[a]\nb = 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.toml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.toml") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, tb := range file.Tables() {
			for _, p := range file.Params(tb.Env, tb.Command) {
				if len(p.Strings()) == 0 && !p.IsArray() {
					t.Fatalf("scalar %s rendered no string", p.Where())
				}
			}
		}
	})
}

func FuzzParseKeyValues(f *testing.F) {
	f.Add(`A=1 B="x y" C='z'`)
	f.Add(`ParameterKey=K,ParameterValue=V`)
	f.Fuzz(func(t *testing.T, s string) {
		kvs, err := ParseKeyValues(s)
		if err != nil {
			return
		}
		for _, kv := range kvs {
			if kv.Key == "" {
				t.Fatalf("ParseKeyValues(%q) returned an empty key", s)
			}
		}
	})
}
