package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/cfnbuild/cfnbuild/cmd/cfnbuild/internal/deploy"
	"github.com/cfnbuild/cfnbuild/cmd/cfnbuild/internal/motoserver"
	"github.com/cfnbuild/cfnbuild/template"
)

// TestDeployAgainstMoto runs the cfnbuild binary against moto_server: deploy creates both stacks,
// deploys again, deploys a change, diffs, and destroy deletes them. moto cannot fail a stack and
// gives change-set stacks no Outputs. It also compares every later change set's parameters with
// those the stack was created with (it does not record what an executed change set set): the
// main stack is created with DesiredCount=0 and updated without it, so moto never finds it
// unchanged, while the repository stack (no parameters) shows "no changes". The in-memory Sim
// (TestDeployAgain) covers the main stack's "no changes" and what else moto cannot do.
func TestDeployAgainstMoto(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no emulator test")
	}
	moto := motoserver.Start(t)
	bin := filepath.Join(t.TempDir(), "cfnbuild")
	build := exec.Command("go", "build", "-o", bin, "./cmd/cfnbuild")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	work, home := t.TempDir(), t.TempDir()
	// samconfig.toml names the stack and tags it; the image comes from the command line.
	samconfig := "version = 0.1\n[default.global.parameters]\nstack_name = \"e2e\"\n[default.deploy.parameters]\ntags = \"project=cfnbuild-e2e\"\n"
	if err := os.WriteFile(filepath.Join(work, "samconfig.toml"), []byte(samconfig), 0o644); err != nil {
		t.Fatal(err)
	}
	cfnbuild := func(args ...string) result {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = work
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}, moto.Env()...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("running cfnbuild %v: %v", args, err)
		}
		return result{code, out.String(), errOut.String()}
	}
	cfn := cloudformation.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(moto.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	resources := func(stack string) []string {
		t.Helper()
		out, err := cfn.DescribeStackResources(context.Background(), &cloudformation.DescribeStackResourcesInput{StackName: aws.String(stack)})
		if err != nil {
			t.Fatalf("DescribeStackResources %s: %v", stack, err)
		}
		var ids []string
		for _, r := range out.StackResources {
			ids = append(ids, aws.ToString(r.LogicalResourceId))
		}
		return ids
	}
	image := "123456789012.dkr.ecr.us-east-1.amazonaws.com/jobs@sha256:" + strings.Repeat("ab", 32)

	r := cfnbuild("deploy", "--image-uri", image, "--yes")
	if r.code != 0 {
		t.Fatalf("first deploy: exit %d\n%s\nmoto_server:\n%s", r.code, r.errOut, moto.Log())
	}
	for _, want := range []string{`for stack "e2e-repository" (CREATE)`, `Stack "e2e-repository": CREATE_COMPLETE`, `for stack "e2e" (CREATE)`, `Stack "e2e": CREATE_COMPLETE`} {
		if !strings.Contains(r.errOut, want) {
			t.Errorf("first deploy: stderr lacks %q:\n%s", want, r.errOut)
		}
	}
	if got := resources("e2e-repository"); !slices.Equal(got, []string{template.LogicalRepository}) {
		t.Errorf("repository stack resources = %q, want [%s]", got, template.LogicalRepository)
	}
	main := resources("e2e")
	for _, want := range []string{template.LogicalJobsQueue, template.LogicalDeadLetterQueue, template.LogicalCluster, template.LogicalTaskDefinition, template.LogicalService, template.LogicalAPI} {
		if !slices.Contains(main, want) {
			t.Errorf("main stack resources lack %s: %q", want, main)
		}
	}
	st, err := cfn.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{StackName: aws.String("e2e")})
	if err != nil {
		t.Fatal(err)
	}
	if got := tagValue(st.Stacks[0].Tags, "project"); got != "cfnbuild-e2e" {
		t.Errorf("main stack tag project = %q, want cfnbuild-e2e (from samconfig.toml)", got)
	}

	// Again: the repository stack (no parameters) is unchanged; moto cannot see that of the main
	// stack (see above), which it updates with what it already holds.
	r = cfnbuild("deploy", "--image-uri", image, "--yes", "--"+flagDebugAPICalls)
	if r.code != 0 || !strings.Contains(r.errOut, `Stack "e2e-repository": no changes`) {
		t.Fatalf("second deploy: exit %d, want 0 and no changes to the repository stack:\n%s", r.code, r.errOut)
	}
	if m := regexp.MustCompile(`AWS API calls: (\d+) \(HTTP requests: (\d+)\)`).FindStringSubmatch(r.errOut); m != nil {
		t.Logf("second deploy (repository stack unchanged, main stack updated): %s API calls, %s HTTP requests\n%s", m[1], m[2], r.errOut[strings.Index(r.errOut, "AWS API calls"):])
	} else {
		t.Errorf("--%s printed no figures:\n%s", flagDebugAPICalls, r.errOut)
	}

	r = cfnbuild("deploy", "--image-uri", image, "--yes", "--max-tasks", "8")
	if r.code != 0 || !strings.Contains(r.errOut, `for stack "e2e" (UPDATE)`) {
		t.Fatalf("deploy --max-tasks 8: exit %d, want 0 and an UPDATE change set:\n%s", r.code, r.errOut)
	}
	st, err = cfn.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{StackName: aws.String("e2e")})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range st.Stacks[0].Parameters {
		if aws.ToString(p.ParameterKey) == template.ParamMaxTasks && aws.ToString(p.ParameterValue) != "8" {
			t.Errorf("MaxTasks = %s after deploy --max-tasks 8", aws.ToString(p.ParameterValue))
		}
	}

	r = cfnbuild("diff", "--max-tasks", "2")
	if r.code != 0 || !strings.Contains(r.out, `Stack "e2e-repository": no changes`) || !strings.Contains(r.out, `for stack "e2e" (UPDATE)`) {
		t.Errorf("diff: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.out, r.errOut)
	}

	r = cfnbuild("destroy", "--yes")
	if r.code != 0 || !strings.Contains(r.errOut, `Stack "e2e" deleted`) || !strings.Contains(r.errOut, `Stack "e2e-repository" deleted`) {
		t.Fatalf("destroy: exit %d:\n%s", r.code, r.errOut)
	}
	for _, name := range []string{"e2e", "e2e-repository"} {
		_, err := cfn.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
		if !deploy.IsStackNotFound(err) {
			t.Errorf("DescribeStacks %s after destroy: %v, want does not exist", name, err)
		}
	}
}

func tagValue(tags []types.Tag, key string) string {
	for _, tg := range tags {
		if aws.ToString(tg.Key) == key {
			return aws.ToString(tg.Value)
		}
	}
	return ""
}
