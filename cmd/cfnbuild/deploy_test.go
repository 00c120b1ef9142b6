package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/urfave/cli/v2"

	"github.com/cfnbuild/cfnbuild/cmd/cfnbuild/internal/deploy/deploytest"
	"github.com/cfnbuild/cfnbuild/template"
)

const testImage = "123456789012.dkr.ecr.us-east-1.amazonaws.com/jobs@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// deployRun runs the CLI in-process like run does, with deploy, diff and destroy talking to fake
// (a Sim's) and building images with build.
type deployRun struct {
	ctx   context.Context
	fake  *deploytest.Fake
	build func(ctx context.Context, c *cli.Context, repositoryURI string) (string, error)
	stdin string
	dir   string // working directory; a fresh temp dir when empty
}

func (r deployRun) run(t *testing.T, args ...string) result {
	t.Helper()
	dir := r.dir
	if dir == "" {
		dir = t.TempDir()
	}
	t.Chdir(dir)
	ctx := r.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	build := r.build
	if build == nil {
		build = func(context.Context, *cli.Context, string) (string, error) {
			t.Fatal("deploy built an image; the test gives none")
			return "", nil
		}
	}
	deps := deployDeps{
		clients: func(context.Context, *cli.Context) (*awsClients, error) {
			return &awsClients{cfn: r.fake, region: "us-east-1", pollInterval: time.Millisecond}, nil
		},
		buildAndPush: build,
	}
	var out, errOut bytes.Buffer
	s := streams{in: strings.NewReader(r.stdin), out: &out, err: &errOut}
	app := newApp(s)
	app.Command("deploy").Action = func(c *cli.Context) error { return runDeploy(c, s, deps) }
	app.Command("diff").Action = func(c *cli.Context) error { return runDiff(c, s, deps) }
	app.Command("destroy").Action = func(c *cli.Context) error { return runDestroy(c, s, deps) }
	code := 0
	if err := app.RunContext(ctx, append([]string{"cfnbuild"}, args...)); err != nil { // as run does
		errOut.WriteString("cfnbuild: " + err.Error() + "\n")
		code = 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
	}
	return result{code, out.String(), errOut.String()}
}

func stackOf(t *testing.T, sim *deploytest.Sim, name string) deploytest.SimStack {
	t.Helper()
	st, ok := sim.Stack(name)
	if !ok {
		t.Fatalf("stack %q does not exist", name)
	}
	return st
}

func TestDeployCreatesBothStacks(t *testing.T) {
	sim := deploytest.NewSim()
	fake := sim.Fake()
	var created map[string]string // the main stack's CREATE change set's parameters
	create := fake.CreateChangeSetFunc
	fake.CreateChangeSetFunc = func(ctx context.Context, in *cloudformation.CreateChangeSetInput) (*cloudformation.CreateChangeSetOutput, error) {
		if *in.StackName == "jobs" && in.ChangeSetType == "CREATE" {
			created = map[string]string{}
			for _, p := range in.Parameters {
				created[*p.ParameterKey] = *p.ParameterValue
			}
		}
		return create(ctx, in)
	}
	r := deployRun{fake: fake}.run(t, "deploy", "--stack-name", "jobs", "--image-uri", testImage, "--tags", `team=data cost="a b"`, "--tags", `owners="ann,bob"`, "--parameter-overrides", "MaxTasks=6 JobTimeout=60")
	if r.code != 0 {
		t.Fatalf("deploy: exit %d\n%s", r.code, r.errOut)
	}
	repo, main := stackOf(t, sim, "jobs-repository"), stackOf(t, sim, "jobs")
	wantTags := map[string]string{"team": "data", "cost": "a b", "owners": "ann,bob"}
	if repo.Status != "CREATE_COMPLETE" || !reflect.DeepEqual(repo.Tags, wantTags) {
		t.Errorf("repository stack %s with tags %v, want CREATE_COMPLETE with %v", repo.Status, repo.Tags, wantTags)
	}
	// Created with DesiredCount 0 (no task starts), then updated without it (scaling owns the count).
	if main.Status != "UPDATE_COMPLETE" || !reflect.DeepEqual(main.Tags, wantTags) || !reflect.DeepEqual(main.Capabilities, []string{"CAPABILITY_IAM"}) {
		t.Errorf("main stack %s with tags %v, capabilities %v; want UPDATE_COMPLETE (created, then settled), %v, CAPABILITY_IAM", main.Status, main.Tags, main.Capabilities, wantTags)
	}
	if want := map[string]string{template.ParamImageURI: testImage, template.ParamDesiredCount: "0", "MaxTasks": "6", "JobTimeout": "60"}; !reflect.DeepEqual(created, want) {
		t.Errorf("CREATE change set parameters = %v, want %v", created, want)
	}
	for k, want := range map[string]string{template.ParamImageURI: testImage, template.ParamDesiredCount: "-1", "MaxTasks": "6", "JobTimeout": "60"} {
		if got := main.Parameters[k]; got != want {
			t.Errorf("main stack parameter %s = %q, want %q", k, got, want)
		}
	}
	// stdout: only the main stack's outputs, "Key<TAB>Value", sorted.
	var keys []string
	for _, l := range strings.Split(strings.TrimSuffix(r.out, "\n"), "\n") {
		k, v, ok := strings.Cut(l, "\t")
		if !ok || v == "" || main.Outputs[k] != v {
			t.Errorf("stdout line %q is not an output of the stack (%v)", l, main.Outputs)
		}
		keys = append(keys, k)
	}
	if len(keys) != len(main.Outputs) || len(keys) == 0 {
		t.Errorf("stdout has outputs %q, want all of %v", keys, main.Outputs)
	}
	for _, want := range []string{
		`Change set cfnbuild-`, `for stack "jobs-repository" (CREATE), 1 change:`,
		`+ Add   Repository  AWS::ECR::Repository`,
		`for stack "jobs" (CREATE)`,
		`Stack "jobs-repository": CREATE_COMPLETE`,
		`Stack "jobs": CREATE_COMPLETE, then UPDATE_COMPLETE without DesiredCount: scaling owns the task count from now on`,
	} {
		if !strings.Contains(r.errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.errOut)
		}
	}
}

func TestDeployAgain(t *testing.T) {
	sim := deploytest.NewSim()
	d := deployRun{fake: sim.Fake()}
	if r := d.run(t, "deploy", "--image-uri", testImage); r.code != 0 {
		t.Fatalf("first deploy: exit %d\n%s", r.code, r.errOut)
	}
	if got := stackOf(t, sim, "cfnbuild").Parameters[template.ParamDesiredCount]; got != "-1" {
		t.Errorf("DesiredCount after the first deploy = %q, want the template's default -1", got)
	}

	// The same deploy again changes nothing, and says so for both stacks.
	before := len(d.fake.Calls())
	r := d.run(t, "deploy", "--image-uri", testImage, "--output", "json")
	if r.code != 0 || !strings.Contains(r.errOut, `Stack "cfnbuild": no changes`) || !strings.Contains(r.errOut, `Stack "cfnbuild-repository": no changes`) {
		t.Fatalf("deploy of unchanged stacks: exit %d, want 0 and \"no changes\" for both:\n%s", r.code, r.errOut)
	}
	// A no-op deploy costs 4 calls per stack (when the change set is ready at the first look).
	perStack := []string{"DescribeStacks", "CreateChangeSet", "DescribeChangeSet", "DeleteChangeSet"}
	if got, want := d.fake.Calls()[before:], append(perStack, perStack...); !reflect.DeepEqual(got, want) {
		t.Errorf("API calls of a no-op deploy = %q, want %q", got, want)
	}
	var outputs map[string]string
	if err := json.Unmarshal([]byte(r.out), &outputs); err != nil || outputs[template.OutputQueueURL] == "" {
		t.Errorf("--output json printed %q (%v), want a JSON object of the outputs", r.out, err)
	}

	r = d.run(t, "deploy", "--image-uri", testImage, "--fail-on-empty-changeset")
	want := `cfnbuild: no changes to deploy to stacks "cfnbuild-repository" and "cfnbuild" (--fail-on-empty-changeset)`
	if r.code != 1 || !strings.Contains(r.errOut, want) || r.out != "" {
		t.Errorf("--fail-on-empty-changeset: exit %d, stdout %q, stderr:\n%s\nwant exit 1, no stdout and %q", r.code, r.out, r.errOut, want)
	}

	r = d.run(t, "deploy", "--image-uri", testImage, "--max-tasks", "8")
	if r.code != 0 || !strings.Contains(r.errOut, `for stack "cfnbuild" (UPDATE)`) {
		t.Errorf("deploy with --max-tasks 8: exit %d, want 0 and an UPDATE change set:\n%s", r.code, r.errOut)
	}
	if got := stackOf(t, sim, "cfnbuild").Parameters["MaxTasks"]; got != "8" {
		t.Errorf("MaxTasks = %q, want 8", got)
	}
}

func TestDeployBuildsAndPushesWithoutImageURI(t *testing.T) {
	sim := deploytest.NewSim()
	var pushedTo string
	d := deployRun{fake: sim.Fake(), build: func(_ context.Context, _ *cli.Context, uri string) (string, error) {
		pushedTo = uri
		return testImage, nil
	}}
	if r := d.run(t, "deploy"); r.code != 0 {
		t.Fatalf("deploy: exit %d\n%s", r.code, r.errOut)
	}
	repo := stackOf(t, sim, "cfnbuild-repository")
	if pushedTo == "" || pushedTo != repo.Outputs[template.OutputRepositoryURI] {
		t.Errorf("image pushed to %q, want the repository stack's %s output %q", pushedTo, template.OutputRepositoryURI, repo.Outputs[template.OutputRepositoryURI])
	}
	if got := stackOf(t, sim, "cfnbuild").Parameters[template.ParamImageURI]; got != testImage {
		t.Errorf("ImageUri = %q, want the pushed %q", got, testImage)
	}

	// A build that fails stops the deploy after the repository stack.
	sim = deploytest.NewSim()
	r := deployRun{fake: sim.Fake(), build: func(context.Context, *cli.Context, string) (string, error) {
		return "", errors.New("building ./worker: exit status 1")
	}}.run(t, "deploy")
	if r.code != 1 || !strings.HasSuffix(r.errOut, "cfnbuild: building ./worker: exit status 1\n") {
		t.Errorf("deploy with a failing build: exit %d, stderr:\n%s", r.code, r.errOut)
	}
	if _, ok := sim.Stack("cfnbuild"); ok {
		t.Errorf("the main stack was deployed without an image")
	}
}

func TestDeployConfirmChangeset(t *testing.T) {
	t.Run("declined", func(t *testing.T) {
		sim := deploytest.NewSim()
		r := deployRun{fake: sim.Fake(), stdin: "n\n"}.run(t, "deploy", "--image-uri", testImage, "--confirm-changeset")
		if r.code != 0 || !strings.Contains(r.errOut, `Deploy this change set to stack "cfnbuild-repository"? [y/N]`) {
			t.Fatalf("exit %d, want 0 and the question:\n%s", r.code, r.errOut)
		}
		if _, ok := sim.Stack("cfnbuild-repository"); ok {
			t.Errorf("the repository stack made for the declined change set is left behind")
		}
		if _, ok := sim.Stack("cfnbuild"); ok {
			t.Errorf("the main stack was deployed after the repository's change set was declined")
		}
	})
	t.Run("accepted", func(t *testing.T) {
		sim := deploytest.NewSim()
		r := deployRun{fake: sim.Fake(), stdin: "y\nyes\n"}.run(t, "deploy", "--image-uri", testImage, "--confirm-changeset")
		if r.code != 0 || stackOf(t, sim, "cfnbuild").Status != "UPDATE_COMPLETE" {
			t.Fatalf("exit %d, want 0 and both stacks:\n%s", r.code, r.errOut)
		}
	})
	t.Run("no answer", func(t *testing.T) {
		sim := deploytest.NewSim()
		r := deployRun{fake: sim.Fake()}.run(t, "deploy", "--image-uri", testImage, "--confirm-changeset")
		want := `cfnbuild: cannot ask "Deploy this change set to stack \"cfnbuild-repository\"?": no answer on stdin; pass --yes to answer yes`
		if r.code != 1 || !strings.Contains(r.errOut, want) {
			t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and %s", r.code, r.errOut, want)
		}
		if _, ok := sim.Stack("cfnbuild-repository"); ok {
			t.Errorf("the stack made for the unanswered change set is left behind")
		}
	})
	t.Run("yes", func(t *testing.T) {
		sim := deploytest.NewSim()
		r := deployRun{fake: sim.Fake()}.run(t, "deploy", "--image-uri", testImage, "--confirm-changeset", "--yes")
		if r.code != 0 || strings.Contains(r.errOut, "[y/N]") {
			t.Errorf("--yes: exit %d, want 0 without a question:\n%s", r.code, r.errOut)
		}
	})
}

func TestDeployNoExecuteChangeset(t *testing.T) {
	sim := deploytest.NewSim()
	fake := sim.Fake()
	r := deployRun{fake: fake}.run(t, "deploy", "--image-uri", testImage, "--no-execute-changeset")
	if r.code != 0 || fake.Count("ExecuteChangeSet") != 0 {
		t.Fatalf("exit %d, %d executions; want 0, none:\n%s", r.code, fake.Count("ExecuteChangeSet"), r.errOut)
	}
	for _, name := range []string{"cfnbuild-repository", "cfnbuild"} {
		if st := stackOf(t, sim, name); st.Status != "REVIEW_IN_PROGRESS" {
			t.Errorf("stack %s is %s, want REVIEW_IN_PROGRESS with its change set kept", name, st.Status)
		}
	}
	for _, want := range []string{"aws cloudformation execute-change-set --change-set-name arn:", `stack "cfnbuild" stays in REVIEW_IN_PROGRESS; cfnbuild destroy deletes it`} {
		if !strings.Contains(r.errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.errOut)
		}
	}

	// Without an image and a repository, there is nothing to push to: deploy stops after it.
	sim = deploytest.NewSim()
	r = deployRun{fake: sim.Fake()}.run(t, "deploy", "--no-execute-changeset")
	if r.code != 0 || !strings.Contains(r.errOut, `Stopping: stack "cfnbuild-repository" has no repository until its change set is executed`) {
		t.Errorf("exit %d, want 0 and a stop:\n%s", r.code, r.errOut)
	}
}

func TestDeployRecreatesRollbackComplete(t *testing.T) {
	body, err := template.SynthRepository(template.Defaults(), template.FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	seed := func() *deploytest.Sim {
		sim := deploytest.NewSim()
		sim.Seed(deploytest.SimStack{Name: "cfnbuild-repository", Status: "ROLLBACK_COMPLETE", Template: string(body)})
		return sim
	}
	sim := seed()
	r := deployRun{fake: sim.Fake()}.run(t, "deploy", "--image-uri", testImage)
	want := `cfnbuild: cannot ask "Stack \"cfnbuild-repository\" is in ROLLBACK_COMPLETE: its first create failed. Delete it and create it again?": no answer on stdin; pass --yes to answer yes`
	if r.code != 1 || !strings.Contains(r.errOut, want) {
		t.Errorf("without --yes nor an answer: exit %d, stderr:\n%s\nwant %s", r.code, r.errOut, want)
	}
	if st := stackOf(t, sim, "cfnbuild-repository"); st.Status != "ROLLBACK_COMPLETE" {
		t.Errorf("stack is %s, want it left in ROLLBACK_COMPLETE", st.Status)
	}

	sim = seed()
	r = deployRun{fake: sim.Fake()}.run(t, "deploy", "--image-uri", testImage, "--yes")
	if r.code != 0 || stackOf(t, sim, "cfnbuild-repository").Status != "CREATE_COMPLETE" {
		t.Errorf("with --yes: exit %d, want 0 and the stack created again:\n%s", r.code, r.errOut)
	}
}

func TestDeployFailureShowsTheRootCause(t *testing.T) {
	sim := deploytest.NewSim()
	sim.Fail = map[string]string{template.LogicalService: "Resource handler returned message: \"Invalid request provided: CreateService error\""}
	r := deployRun{fake: sim.Fake()}.run(t, "deploy", "--image-uri", testImage)
	want := "cfnbuild: stack \"cfnbuild\" ended in ROLLBACK_COMPLETE: Service (AWS::ECS::Service) CREATE_FAILED: Resource handler returned message: \"Invalid request provided: CreateService error\"\n"
	if r.code != 1 || !strings.HasSuffix(r.errOut, want) || r.out != "" {
		t.Errorf("exit %d, stdout %q, stderr ends:\n%s\nwant exit 1, no stdout, and:\n%s", r.code, r.out, lastLines(r.errOut, 3), want)
	}
}

func TestDeployInterruptedExits130(t *testing.T) {
	sim := deploytest.NewSim()
	fake := sim.Fake()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	describe := fake.DescribeStacksFunc
	fake.DescribeStacksFunc = func(ctx context.Context, in *cloudformation.DescribeStacksInput) (*cloudformation.DescribeStacksOutput, error) {
		out, err := describe(ctx, in)
		if err == nil && out.Stacks[0].StackStatus == "CREATE_IN_PROGRESS" && *out.Stacks[0].StackName == "cfnbuild" {
			cancel() // Ctrl-C while the main stack is being created
		}
		return out, err
	}
	r := deployRun{ctx: ctx, fake: fake}.run(t, "deploy", "--image-uri", testImage)
	want := `cfnbuild: interrupted: stack "cfnbuild" was being created and has been deleted: context canceled`
	if r.code != 130 || !strings.Contains(r.errOut, want) {
		t.Errorf("exit %d, stderr ends:\n%s\nwant 130 and %s", r.code, lastLines(r.errOut, 3), want)
	}
	if _, ok := sim.Stack("cfnbuild"); ok {
		t.Errorf("the interrupted create left its stack")
	}
}

func TestDeployRejectsBadInput(t *testing.T) {
	tests := []struct {
		name      string
		samconfig string
		args      []string
		want      string
	}{
		{name: "unknown override", args: []string{"--parameter-overrides", "MaxTask=6"},
			want: `--parameter-overrides (or CFNBUILD_PARAMETER_OVERRIDES): "MaxTask" is not a parameter of the template; its parameters are JobTimeout, MaxReceiveCount, MaxTasks, NatInstanceAmi, ScaleInDelay, TaskCpu, TaskMemory`},
		{name: "unknown override in samconfig", samconfig: "version = 0.1\n[default.deploy.parameters]\nparameter_overrides = [\"MaxTasks=6\", \"Nope=1\"]\n",
			want: `samconfig.toml: [default.deploy.parameters] parameter_overrides: "Nope" is not a parameter of the template`},
		{name: "image by override", args: []string{"--parameter-overrides", "ImageUri=x"},
			want: "parameter ImageUri cannot be overridden: set it with --image-uri (image_uri)"},
		{name: "desired count", args: []string{"--parameter-overrides", "DesiredCount=3"},
			want: "parameter DesiredCount cannot be overridden: deploy sets it to 0 when the stack is created"},
		{name: "bad override syntax", args: []string{"--parameter-overrides", `MaxTasks="6`},
			want: `--parameter-overrides (or CFNBUILD_PARAMETER_OVERRIDES): value of "MaxTasks" has an unterminated " quote`},
		{name: "image by tag", args: []string{"--image-uri", "123456789012.dkr.ecr.us-east-1.amazonaws.com/jobs:latest"},
			want: `"123456789012.dkr.ecr.us-east-1.amazonaws.com/jobs:latest" is not an ECR image by digest`},
		{name: "output", args: []string{"--output", "yaml"}, want: `unknown output format "yaml"; use text or json`},
		{name: "capability", args: []string{"--capabilities", "CAPABILITY_ROOT"}, want: `unknown capability "CAPABILITY_ROOT"`},
		{name: "upper case", args: []string{"--stack-name", "Jobs"}, want: `stack name "Jobs" must be lower case`},
		{name: "confirm and no-execute", args: []string{"--confirm-changeset", "--no-execute-changeset"}, want: "--confirm-changeset and --no-execute-changeset contradict each other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := deploytest.NewSim()
			fake := sim.Fake()
			d := deployRun{fake: fake}
			if tt.samconfig != "" {
				d.dir = writeSamconfig(t, tt.samconfig)
			}
			r := d.run(t, append([]string{"deploy"}, tt.args...)...)
			if r.code != 2 || !strings.Contains(r.errOut, tt.want) {
				t.Errorf("deploy %q: exit %d, stderr:\n%s\nwant exit 2 and %q", tt.args, r.code, r.errOut, tt.want)
			}
			if calls := fake.Calls(); len(calls) != 0 {
				t.Errorf("bad input still called AWS: %q", calls)
			}
		})
	}
}

func TestDeploySamconfig(t *testing.T) {
	sim := deploytest.NewSim()
	dir := writeSamconfig(t, `version = 0.1
[default.global.parameters]
stack_name = "jobs"
[default.deploy.parameters]
image_uri = "`+testImage+`"
parameter_overrides = "MaxTasks=5 JobTimeout=\"90\""
tags = ["team=data", "owner=\"a b\""]
capabilities = "CAPABILITY_IAM CAPABILITY_NAMED_IAM"
`)
	r := deployRun{fake: sim.Fake(), dir: dir}.run(t, "deploy")
	if r.code != 0 {
		t.Fatalf("deploy from samconfig.toml: exit %d\n%s", r.code, r.errOut)
	}
	st := stackOf(t, sim, "jobs")
	if st.Parameters["MaxTasks"] != "5" || st.Parameters["JobTimeout"] != "90" || st.Parameters[template.ParamImageURI] != testImage {
		t.Errorf("parameters %v, want MaxTasks 5, JobTimeout 90 and the image from samconfig.toml", st.Parameters)
	}
	if want := map[string]string{"team": "data", "owner": "a b"}; !reflect.DeepEqual(st.Tags, want) {
		t.Errorf("tags %v, want %v", st.Tags, want)
	}
	if want := []string{"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"}; !reflect.DeepEqual(st.Capabilities, want) {
		t.Errorf("capabilities %v, want %v", st.Capabilities, want)
	}
}

func TestDiff(t *testing.T) {
	sim := deploytest.NewSim()
	fake := sim.Fake()
	r := deployRun{fake: fake}.run(t, "diff")
	if r.code != 0 {
		t.Fatalf("diff: exit %d\n%s", r.code, r.errOut)
	}
	for _, want := range []string{`for stack "cfnbuild-repository" (CREATE), 1 change:`, `for stack "cfnbuild" (CREATE)`, "+ Add   Service "} {
		if !strings.Contains(r.out, want) {
			t.Errorf("diff stdout lacks %q:\n%s", want, r.out)
		}
	}
	if !strings.Contains(r.errOut, `Stack "cfnbuild" does not exist yet: shown with a placeholder image`) {
		t.Errorf("diff does not say the image is a placeholder:\n%s", r.errOut)
	}
	if _, ok := sim.Stack("cfnbuild"); ok || fake.Count("ExecuteChangeSet") != 0 {
		t.Errorf("diff left a stack or executed a change set")
	}

	if r := (deployRun{fake: fake}).run(t, "deploy", "--image-uri", testImage, "--yes"); r.code != 0 {
		t.Fatalf("deploy: exit %d\n%s", r.code, r.errOut)
	}
	r = deployRun{fake: fake}.run(t, "diff", "--max-tasks", "9", "--output", "json")
	var sets []struct {
		Stack, Type string
		Changes     []struct{ Action, LogicalID string }
	}
	if err := json.Unmarshal([]byte(r.out), &sets); err != nil || len(sets) != 2 {
		t.Fatalf("diff --output json: %v, stdout:\n%s\nstderr:\n%s", err, r.out, r.errOut)
	}
	if sets[0].Stack != "cfnbuild-repository" || len(sets[0].Changes) != 0 {
		t.Errorf("repository change set = %+v, want no changes", sets[0])
	}
	if sets[1].Stack != "cfnbuild" || sets[1].Type != "UPDATE" || len(sets[1].Changes) == 0 {
		t.Errorf("main change set = %+v, want an UPDATE with changes", sets[1])
	}
	if got := stackOf(t, sim, "cfnbuild").Parameters; got["MaxTasks"] != "4" || got[template.ParamImageURI] != testImage {
		t.Errorf("diff changed the stack: %v", got)
	}
}

func TestDestroy(t *testing.T) {
	sim := deploytest.NewSim()
	fake := sim.Fake()
	if r := (deployRun{fake: fake}).run(t, "deploy", "--image-uri", testImage); r.code != 0 {
		t.Fatalf("deploy: exit %d\n%s", r.code, r.errOut)
	}
	r := deployRun{fake: fake, stdin: "n\n"}.run(t, "destroy")
	if r.code != 0 || !strings.Contains(r.errOut, "Nothing deleted.") || fake.Count("DeleteStack") != 0 {
		t.Fatalf("destroy answered no: exit %d, %d deletions:\n%s", r.code, fake.Count("DeleteStack"), r.errOut)
	}
	r = deployRun{fake: fake}.run(t, "destroy")
	if r.code != 1 || !strings.Contains(r.errOut, "pass --yes to answer yes") {
		t.Fatalf("destroy without an answer: exit %d:\n%s", r.code, r.errOut)
	}

	sim.Fail = map[string]string{template.LogicalJobsQueue: "Access Denied"}
	r = deployRun{fake: fake}.run(t, "destroy", "--yes")
	want := "cfnbuild: delete stack \"cfnbuild\": it is DELETE_FAILED, and these resources were not deleted:\n" +
		"  JobsQueue (AWS::SQS::Queue) cfnbuild-JobsQueue-PHYSICAL: Access Denied\n" +
		"stack \"cfnbuild-repository\" was kept: the main stack still uses its images\n"
	if r.code != 1 || !strings.HasSuffix(r.errOut, want) {
		t.Errorf("destroy that fails: exit %d, stderr ends:\n%s\nwant exit 1 and:\n%s", r.code, lastLines(r.errOut, 4), want)
	}

	sim.Fail = nil
	r = deployRun{fake: fake, stdin: "y\n"}.run(t, "destroy")
	if r.code != 0 || !strings.Contains(r.errOut, `Stack "cfnbuild" deleted`) || !strings.Contains(r.errOut, `Stack "cfnbuild-repository" deleted`) {
		t.Fatalf("destroy: exit %d:\n%s", r.code, r.errOut)
	}
	for _, name := range []string{"cfnbuild", "cfnbuild-repository"} {
		if _, ok := sim.Stack(name); ok {
			t.Errorf("stack %s still exists", name)
		}
	}
	r = deployRun{fake: fake}.run(t, "destroy", "--yes")
	if r.code != 0 || !strings.Contains(r.errOut, `Stack "cfnbuild" does not exist`) {
		t.Errorf("destroy of nothing: exit %d:\n%s", r.code, r.errOut)
	}
}

func TestDeployLargeTemplateNeedsABucket(t *testing.T) {
	// A job command long enough to push the template over 51,200 bytes.
	dir := t.TempDir()
	cmd := strings.Repeat("x", 30000)
	if err := os.WriteFile(filepath.Join(dir, "samconfig.toml"), []byte("version = 0.1\n[default.deploy.parameters]\njob_command = \""+cmd+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fake := deploytest.NewSim().Fake()
	r := deployRun{fake: fake, dir: dir}.run(t, "deploy", "--image-uri", testImage)
	if r.code == 2 && strings.Contains(r.errOut, "over CloudFormation's 51,200-byte TemplateBody limit: set s3_bucket (--s3-bucket) to upload it") {
		if len(fake.Calls()) != 0 {
			t.Errorf("AWS was called before the size check: %q", fake.Calls())
		}
		return
	}
	t.Errorf("deploy of a %d-character job command: exit %d, stderr:\n%s\nwant exit 2 and the size limit", len(cmd), r.code, r.errOut)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
