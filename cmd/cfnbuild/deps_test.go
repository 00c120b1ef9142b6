package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection pins DESIGN.md's dependency rules with `go list`: template is pure (it
// imports no AWS SDK, CLI, environment, clock or randomness), the worker imports nothing of the
// CLI or the template and no AWS service but SQS, and the deploy and image libraries know nothing
// of goformation, the CLI or each other's AWS services.
func TestDependencyDirection(t *testing.T) {
	const module = "github.com/cfnbuild/cfnbuild"
	rules := []struct {
		pkg    string
		direct []string // not imported by the package itself
		deep   []string // nowhere in its dependency graph (a prefix forbids the packages below it)
	}{
		{pkg: module + "/template",
			direct: []string{"os", "time", "flag", "math/rand", "math/rand/v2", "crypto/rand", "net/http"},
			deep:   []string{"github.com/aws/aws-sdk-go-v2", "github.com/urfave/cli", module + "/cmd"}},
		{pkg: module + "/worker/...",
			deep: []string{module + "/template", module + "/cmd", "github.com/awslabs/goformation", "github.com/urfave/cli",
				"github.com/aws/aws-sdk-go-v2/service/cloudformation", "github.com/aws/aws-sdk-go-v2/service/ecs",
				"github.com/aws/aws-sdk-go-v2/service/ecr", "github.com/aws/aws-sdk-go-v2/service/s3"}},
		{pkg: module + "/cmd/cfnbuild/internal/config",
			deep: []string{"github.com/aws/aws-sdk-go-v2", "github.com/awslabs/goformation", "github.com/urfave/cli"}},
		{pkg: module + "/cmd/cfnbuild/internal/deploy",
			deep: []string{"github.com/awslabs/goformation", "github.com/urfave/cli", module + "/template"}},
		{pkg: module + "/cmd/cfnbuild/internal/image",
			deep: []string{"github.com/awslabs/goformation", "github.com/urfave/cli", module + "/template",
				"github.com/aws/aws-sdk-go-v2/service/cloudformation", "github.com/aws/aws-sdk-go-v2/service/s3"}},
	}
	for _, r := range rules {
		for _, d := range goList(t, "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, r.pkg) {
			for _, f := range r.direct {
				if d == f {
					t.Errorf("%s imports %s, which DESIGN.md forbids", r.pkg, d)
				}
			}
		}
		for _, d := range goList(t, "-deps", r.pkg) {
			for _, f := range r.deep {
				if d == f || strings.HasPrefix(d, f+"/") {
					t.Errorf("%s depends on %s, which DESIGN.md forbids", r.pkg, d)
				}
			}
		}
	}
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, out)
	}
	return strings.Fields(string(out))
}
