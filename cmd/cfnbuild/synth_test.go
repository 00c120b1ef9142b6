package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cfnbuild/cfnbuild/template"
)

// cli runs the CLI in-process in dir (a fresh temp dir when empty) and returns its exit status,
// stdout and stderr.
type result struct {
	code        int
	out, errOut string
}

func runCLI(t *testing.T, dir string, args ...string) result {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	t.Chdir(dir)
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"cfnbuild"}, args...), strings.NewReader(""), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

func writeSamconfig(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "samconfig.toml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// repoRoot is the repository's top directory, found before any test changes directory.
var repoRoot = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Join(wd, "..", "..")
}()

func golden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "golden", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSynthDefaultIsTheGoldenDefault(t *testing.T) {
	want := golden(t, "default")
	r := runCLI(t, "", "synth")
	if r.code != 0 || r.out != want {
		t.Fatalf("cfnbuild synth: exit %d, stderr %q; stdout equals golden/default.yaml: %v", r.code, r.errOut, r.out == want)
	}
	r = runCLI(t, "", "synth", "--repository")
	if r.code != 0 || r.out != golden(t, "repository") {
		t.Fatalf("cfnbuild synth --repository: exit %d, stderr %q, stdout differs from golden/repository.yaml", r.code, r.errOut)
	}
}

func TestSynthFlagsMatchGoldenCases(t *testing.T) {
	cases := map[string][]string{
		"public":      {"--network", "public"},
		"nat-gateway": {"--network", "nat-gateway"},
		"iam":         {"--auth", "iam"},
		"seed":        {"--auth", "none", "--max-tasks", "1", "--cpu", "2048", "--memory", "4096"},
		"arm64-spot":  {"--architecture", "arm64", "--spot"},
	}
	for name, args := range cases {
		r := runCLI(t, "", append([]string{"synth"}, args...)...)
		if r.code != 0 || r.out != golden(t, name) {
			t.Errorf("cfnbuild synth %v: exit %d (stderr %q); want golden/%s.yaml", args, r.code, r.errOut, name)
		}
	}
}

func TestSynthJSONIsMinifiedAndFits(t *testing.T) {
	r := runCLI(t, "", "synth", "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	if n := len(r.out); n >= template.TemplateBodyLimit || strings.Count(r.out, "\n") != 1 {
		t.Errorf("synth --format json: %d bytes, %d lines; want one minified line under %d bytes", n, strings.Count(r.out, "\n"), template.TemplateBodyLimit)
	}
	if r := runCLI(t, "", "synth", "--format", "xml"); r.code != 2 || !strings.Contains(r.errOut, `unknown format "xml"; use yaml or json`) {
		t.Errorf("synth --format xml: exit %d, stderr %q", r.code, r.errOut)
	}
}

func TestSynthWritesFile(t *testing.T) {
	dir := t.TempDir()
	r := runCLI(t, dir, "synth", "-o", "t.yaml")
	if r.code != 0 || r.out != "" || !strings.Contains(r.errOut, "wrote t.yaml") {
		t.Fatalf("synth -o: exit %d, stdout %q, stderr %q", r.code, r.out, r.errOut)
	}
	b, err := os.ReadFile(filepath.Join(dir, "t.yaml"))
	if err != nil || string(b) != golden(t, "default") {
		t.Errorf("t.yaml: %v; equals golden default: %v", err, string(b) == golden(t, "default"))
	}
	if r := runCLI(t, dir, "synth", "-o", filepath.Join(dir, "no", "such", "dir.yaml")); r.code != 1 || !strings.Contains(r.errOut, "cfnbuild: writing template:") {
		t.Errorf("synth -o into a missing dir: exit %d, stderr %q", r.code, r.errOut)
	}
}

func TestSynthBadInput(t *testing.T) {
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"--cpu", "256", "--memory", "4096"}, []string{"--memory (or CFNBUILD_MEMORY): memory 4096: Fargate does not allow memory 4096 with cpu 256; with cpu 256 use memory 512, 1024, 2048"}},
		{[]string{"--vpc-cidr", "10.0.0.0/40"}, []string{`--vpc-cidr (or CFNBUILD_VPC_CIDR): vpc_cidr "10.0.0.0/40": not an IPv4 CIDR block`}},
		{[]string{"--max-tasks", "0"}, []string{"max_tasks 0: must be between 1 and 1000"}},
		{[]string{"--job-timeout", "50000"}, []string{"job_timeout 50000: must be between 1 and 43200 seconds"}},
		{[]string{"--network", "vpn"}, []string{`network "vpn": unknown network mode`}},
		{[]string{"--auth", "basic"}, []string{`auth "basic": unknown auth mode`}},
		{[]string{"--max-tasks", "0", "--auth", "x"}, []string{"invalid configuration:\n", "max_tasks 0", `auth "x"`}},
		{[]string{"--max-tasks", "many"}, []string{`invalid value "many" for flag -max-tasks`, "see: cfnbuild synth --help"}},
		{[]string{"--no-such-flag"}, []string{"flag provided but not defined: -no-such-flag"}},
	}
	for _, c := range cases {
		r := runCLI(t, "", append([]string{"synth"}, c.args...)...)
		if r.code != 2 || r.out != "" {
			t.Errorf("synth %v: exit %d, stdout %d bytes; want exit 2 and nothing on stdout", c.args, r.code, len(r.out))
		}
		for _, w := range c.want {
			if !strings.Contains(r.errOut, w) {
				t.Errorf("synth %v: stderr %q lacks %q", c.args, r.errOut, w)
			}
		}
		if !strings.HasPrefix(r.errOut, "cfnbuild: ") {
			t.Errorf("synth %v: stderr %q does not start with \"cfnbuild: \"", c.args, r.errOut)
		}
	}
}

func TestSamconfigPrecedence(t *testing.T) {
	dir := writeSamconfig(t, `version = 0.1
[default.global.parameters]
max_tasks = 7
network = "public"

[default.synth.parameters]
max_tasks = 9
cpu = 2048
memory = 4096

[prod.synth.parameters]
max_tasks = 20
`)
	maxTasks := func(r result) string {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.errOut)
		}
		i := strings.Index(r.out, "    MaxTasks:\n        Default: ")
		if i < 0 {
			t.Fatalf("no MaxTasks parameter in output")
		}
		rest := r.out[i+len("    MaxTasks:\n        Default: "):]
		return rest[:strings.IndexByte(rest, '\n')]
	}
	r := runCLI(t, dir, "synth")
	if got := maxTasks(r); got != "9" {
		t.Errorf("command table over global: MaxTasks = %s, want 9", got)
	}
	if !strings.Contains(r.out, "network: public") || !strings.Contains(r.out, `Default: "2048"`) {
		t.Errorf("global network and command cpu were not applied")
	}
	if got := maxTasks(runCLI(t, dir, "synth", "--max-tasks", "3")); got != "3" {
		t.Errorf("flag over file: MaxTasks = %s, want 3", got)
	}
	t.Setenv("CFNBUILD_MAX_TASKS", "5")
	if got := maxTasks(runCLI(t, dir, "synth")); got != "5" {
		t.Errorf("env over file: MaxTasks = %s, want 5", got)
	}
	if got := maxTasks(runCLI(t, dir, "synth", "--max-tasks", "2")); got != "2" {
		t.Errorf("flag over env: MaxTasks = %s, want 2", got)
	}
	os.Unsetenv("CFNBUILD_MAX_TASKS")
	if got := maxTasks(runCLI(t, dir, "synth", "--config-env", "prod")); got != "20" {
		t.Errorf("--config-env prod: MaxTasks = %s, want 20", got)
	}
	other := filepath.Join(t.TempDir(), "other.toml")
	os.WriteFile(other, []byte("version = 0.1\n[default.global.parameters]\nmax_tasks = 11\n"), 0o644)
	if got := maxTasks(runCLI(t, dir, "synth", "--config-file", other)); got != "11" {
		t.Errorf("--config-file: MaxTasks = %s, want 11", got)
	}
}

func TestSamconfigErrors(t *testing.T) {
	cases := []struct {
		name, file string
		args       []string
		want       string
	}{
		{"syntax error with its line", "version = 0.1\n[default.synth.parameters]\nmax_tasks = = 3\n", nil, "samconfig.toml:3: "},
		{"unknown key", "version = 0.1\n[default.synth.parameters]\nmax_taks = 3\n", nil, `samconfig.toml: [default.synth.parameters]: unknown key "max_taks"`},
		{"unknown global key", "version = 0.1\n[default.global.parameters]\nbogus = 1\n", nil, `samconfig.toml: [default.global.parameters]: unknown key "bogus"`},
		{"key of another command", "version = 0.1\n[default.synth.parameters]\nstack_name = \"x\"\n", nil, `[default.synth.parameters]: unknown key "stack_name"`},
		{"dashed key", "version = 0.1\n[default.synth.parameters]\nmax-tasks = 3\n", nil, `unknown key "max-tasks"`},
		{"unknown command", "version = 0.1\n[default.deplyo.parameters]\nx = 1\n", nil, `[default.deplyo.parameters]: cfnbuild has no command "deplyo"`},
		{"bad value", "version = 0.1\n[default.synth.parameters]\nmax_tasks = \"many\"\n", nil, `samconfig.toml: [default.synth.parameters] max_tasks: invalid value "many"`},
		{"array for a single value", "version = 0.1\n[default.synth.parameters]\ncpu = [1, 2]\n", nil, `samconfig.toml: [default.synth.parameters] cpu: takes one value, not an array`},
		{"invalid config names the key's origin", "version = 0.1\n[default.global.parameters]\ncpu = 256\nmemory = 4096\n", nil,
			"samconfig.toml: [default.global.parameters] memory: memory 4096: Fargate does not allow memory 4096 with cpu 256; with cpu 256 use memory 512, 1024, 2048"},
		{"missing env", "version = 0.1\n[default.synth.parameters]\ncpu = 256\n", []string{"--config-env", "prod"}, `has no [prod.*.parameters] table for --config-env "prod"`},
		{"missing version", "[default.synth.parameters]\ncpu = 256\n", nil, "missing top-level key version"},
		{"config_file is not a key", "version = 0.1\n[default.synth.parameters]\nconfig_file = \"x\"\n", nil, `unknown key "config_file"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, writeSamconfig(t, c.file), append([]string{"synth"}, c.args...)...)
			if r.code != 2 || !strings.Contains(r.errOut, c.want) || r.out != "" {
				t.Errorf("exit %d, stderr %q; want exit 2 with %q", r.code, r.errOut, c.want)
			}
		})
	}
	t.Run("explicit missing config file", func(t *testing.T) {
		r := runCLI(t, "", "synth", "--config-file", "nope.toml")
		if r.code != 2 || !strings.Contains(r.errOut, "reading config file: open nope.toml") {
			t.Errorf("exit %d, stderr %q", r.code, r.errOut)
		}
	})
	t.Run("config env without a file", func(t *testing.T) {
		r := runCLI(t, "", "synth", "--config-env", "prod")
		if r.code != 2 || !strings.Contains(r.errOut, `--config-env "prod" given, but there is no samconfig.toml here`) {
			t.Errorf("exit %d, stderr %q", r.code, r.errOut)
		}
	})
}

// TestExampleSamconfig keeps the repository's samconfig.toml valid for every command.
func TestExampleSamconfig(t *testing.T) {
	example := filepath.Join(repoRoot, "samconfig.toml")
	r := runCLI(t, "", "synth", "--config-file", example)
	if r.code != 0 {
		t.Fatalf("synth with the example samconfig.toml: exit %d: %s", r.code, r.errOut)
	}
}
