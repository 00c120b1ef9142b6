package main

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// platformEnv lists variables that the worker, or the AWS SDK inside it, reads but that the
// template must not be required to set, because the platform sets them in the task:
// ECS_AGENT_URI is injected by the ECS agent into every container; region and credentials come
// from the SDK's default chain (Fargate sets AWS_REGION, AWS_DEFAULT_REGION and the container
// credentials URI; AWS_ENDPOINT_URL* and static keys are for local emulators).
var platformEnv = map[string]bool{
	"ECS_AGENT_URI":                          true,
	"AWS_REGION":                             true,
	"AWS_DEFAULT_REGION":                     true,
	"AWS_ENDPOINT_URL":                       true,
	"AWS_ENDPOINT_URL_SQS":                   true,
	"AWS_ACCESS_KEY_ID":                      true,
	"AWS_SECRET_ACCESS_KEY":                  true,
	"AWS_SESSION_TOKEN":                      true,
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": true,
	"AWS_CONTAINER_CREDENTIALS_FULL_URI":     true,
	"AWS_CONTAINER_AUTHORIZATION_TOKEN":      true,
}

// goldenTemplate is the default template the lead's template package writes.
const goldenTemplate = "../golden/default.yaml"

// TestWorkerEnvMatchesGoldenTemplate checks that the task definition in the golden template sets
// every variable the worker reads, and nothing the worker does not read.
func TestWorkerEnvMatchesGoldenTemplate(t *testing.T) {
	data, err := os.ReadFile(goldenTemplate)
	if err != nil {
		t.Fatalf("read the golden template (written by go test ./template -update): %v", err)
	}
	var tmpl struct {
		Resources map[string]struct {
			Type       string `yaml:"Type"`
			Properties struct {
				ContainerDefinitions []struct {
					Name        string `yaml:"Name"`
					Environment []struct {
						Name  string `yaml:"Name"`
						Value any    `yaml:"Value"`
					} `yaml:"Environment"`
				} `yaml:"ContainerDefinitions"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(data, &tmpl); err != nil {
		t.Fatalf("parse %s: %v", goldenTemplate, err)
	}
	if tmpl.Resources["TaskDefinition"].Type != "AWS::ECS::TaskDefinition" {
		t.Errorf("%s: resource TaskDefinition has type %q; want AWS::ECS::TaskDefinition", goldenTemplate, tmpl.Resources["TaskDefinition"].Type)
	}
	want := map[string]bool{}
	for _, name := range envVars {
		if !platformEnv[name] {
			want[name] = true
		}
	}
	found := 0
	for id, r := range tmpl.Resources {
		if r.Type != "AWS::ECS::TaskDefinition" {
			continue
		}
		found++
		for _, c := range r.Properties.ContainerDefinitions {
			set := map[string]bool{}
			for _, e := range c.Environment {
				switch {
				case set[e.Name]:
					t.Errorf("%s: container %q sets %s twice", id, c.Name, e.Name)
				case !slices.Contains(envVars, e.Name) && !platformEnv[e.Name]:
					t.Errorf("%s: container %q sets %s, which the worker does not read", id, c.Name, e.Name)
				case e.Value == nil:
					t.Errorf("%s: container %q sets %s without a Value", id, c.Name, e.Name)
				}
				set[e.Name] = true
			}
			for _, name := range slices.Sorted(maps.Keys(want)) {
				if !set[name] {
					t.Errorf("%s: container %q does not set %s, which the worker reads", id, c.Name, name)
				}
			}
		}
	}
	if found == 0 {
		t.Fatalf("%s has no AWS::ECS::TaskDefinition", goldenTemplate)
	}
}

// goPackage is what the tests below need from go list.
type goPackage struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Imports    []string
	Standard   bool
}

const module = "github.com/cfnbuild/cfnbuild"

// goList runs go list -json with args in this directory.
func goList(t *testing.T, args ...string) []goPackage {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("skipping: needs the go command: %v", err)
	}
	out, err := exec.Command(goBin, append([]string{"list", "-json"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestOnlyConfigReadsTheEnvironment keeps the template test honest: no code linked into the
// worker reads an environment variable except through loadConfig (main passes os.LookupEnv to
// it, and os.Environ to job commands).
func TestOnlyConfigReadsTheEnvironment(t *testing.T) {
	readers := map[string]bool{"Getenv": true, "LookupEnv": true, "Environ": true, "ExpandEnv": true}
	for _, p := range goList(t, "-deps", ".") {
		if !strings.HasPrefix(p.ImportPath, module+"/") {
			continue
		}
		for _, f := range p.GoFiles {
			path := filepath.Join(p.Dir, f)
			file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, decl := range file.Decls {
				fn, ok := decl.(*ast.FuncDecl)
				inMain := ok && fn.Name.Name == "main" && fn.Recv == nil && p.ImportPath == module+"/worker"
				ast.Inspect(decl, func(n ast.Node) bool {
					sel, ok := n.(*ast.SelectorExpr)
					if !ok {
						return true
					}
					pkg, ok := sel.X.(*ast.Ident)
					if ok && (pkg.Name == "os" || pkg.Name == "syscall") && readers[sel.Sel.Name] && !inMain {
						t.Errorf("%s reads the environment with %s.%s; read it only through loadConfig", path, pkg.Name, sel.Sel.Name)
					}
					return true
				})
			}
		}
	}
}

// TestDependencyDirection pins what the worker may import: nothing from template/ or cmd/, and
// from AWS only the SQS client, the SDK's config loader and smithy (plus the SDK's core aws
// package in test support code, which is not linked into the worker).
func TestDependencyDirection(t *testing.T) {
	linked := map[string]bool{}
	for _, p := range goList(t, "-deps", ".") {
		linked[p.ImportPath] = true
	}
	awsAllowed := []string{
		"github.com/aws/aws-sdk-go-v2/service/sqs",
		"github.com/aws/aws-sdk-go-v2/service/sqs/types",
		"github.com/aws/aws-sdk-go-v2/config",
		"github.com/aws/smithy-go",
	}
	for _, p := range goList(t, "./...") {
		for _, imp := range p.Imports {
			switch {
			case strings.HasPrefix(imp, module+"/") && !strings.HasPrefix(imp, module+"/worker"):
				t.Errorf("%s imports %s: the worker imports nothing of the rest of cfnbuild", p.ImportPath, imp)
			case strings.HasPrefix(imp, "github.com/aws/"):
				ok := slices.Contains(awsAllowed, imp) || (!linked[p.ImportPath] && imp == "github.com/aws/aws-sdk-go-v2/aws")
				if !ok {
					t.Errorf("%s imports %s; the worker uses only %v from AWS", p.ImportPath, imp, awsAllowed)
				}
			}
		}
	}
}
