package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cfnbuild/cfnbuild/cmd/cfnbuild/internal/deploy"
	"github.com/cfnbuild/cfnbuild/cmd/cfnbuild/internal/deploy/deploytest"
)

// A small template shaped like cfnbuild's: an image parameter, a DesiredCount that only a create
// sets, a setting with a default, an IAM role (so CAPABILITY_IAM is required) and outputs.
func template(maxTasks string) string {
	return `{"Parameters":{"ImageUri":{"Type":"String"},"DesiredCount":{"Type":"String","Default":""},` +
		`"MaxTasks":{"Type":"Number","Default":"` + maxTasks + `"}},` +
		`"Resources":{"Queue":{"Type":"AWS::SQS::Queue","Properties":{"VisibilityTimeout":300}},` +
		`"Role":{"Type":"AWS::IAM::Role","Properties":{}},` +
		`"Service":{"Type":"AWS::ECS::Service","Properties":{"Image":{"Ref":"ImageUri"},"DesiredCount":{"Ref":"DesiredCount"},"Max":{"Ref":"MaxTasks"}}}},` +
		`"Outputs":{"QueueUrl":{"Value":{"Ref":"Queue"}},"Image":{"Value":{"Ref":"ImageUri"}}}}`
}

const image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/jobs@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func stack(maxTasks string) deploy.Stack {
	return deploy.Stack{
		Name:             "jobs",
		Template:         []byte(template(maxTasks)),
		Parameters:       map[string]string{"ImageUri": image},
		CreateParameters: map[string]string{"DesiredCount": "0"},
		Tags:             map[string]string{"team": "data"},
		Capabilities:     []string{"CAPABILITY_IAM"},
	}
}

// deployer returns a Deployer over f that polls every millisecond, names change sets from a
// clock that ticks a second per name, and records the change sets it is shown.
func deployer(f deploy.CloudFormation, progress io.Writer) (*deploy.Deployer, *[]deploy.ChangeSet) {
	clock := time.Unix(1700000000, 0)
	var reviewed []deploy.ChangeSet
	d := &deploy.Deployer{
		CFN:          f,
		Progress:     progress,
		PollInterval: time.Millisecond,
		Now:          func() time.Time { clock = clock.Add(time.Second); return clock },
		Review: func(cs deploy.ChangeSet) (deploy.Decision, error) {
			reviewed = append(reviewed, cs)
			return deploy.Execute, nil
		},
	}
	return d, &reviewed
}

// seeded returns a Sim holding stack "jobs" as it is after its first update: from template("4"),
// with DesiredCount left out.
func seeded() *deploytest.Sim {
	sim := deploytest.NewSim()
	sim.Seed(deploytest.SimStack{Name: "jobs", Status: "UPDATE_COMPLETE", Template: template("4"),
		Parameters: map[string]string{"ImageUri": image, "DesiredCount": ""}, Tags: map[string]string{"team": "data"}})
	return sim
}

func actions(cs deploy.ChangeSet) []string {
	var out []string
	for _, c := range cs.Changes {
		out = append(out, c.Action+" "+c.LogicalID)
	}
	return out
}

func TestDeployCreate(t *testing.T) {
	sim := deploytest.NewSim()
	sim.ChangeSetPolls, sim.ChangesPageSize, sim.EventPageSize = 2, 2, 3
	fake := sim.Fake()
	var sent []string // each change set: its type and parameters
	create := fake.CreateChangeSetFunc
	fake.CreateChangeSetFunc = func(ctx context.Context, in *cloudformation.CreateChangeSetInput) (*cloudformation.CreateChangeSetOutput, error) {
		line := string(in.ChangeSetType)
		for _, p := range in.Parameters {
			line += fmt.Sprintf(" %s=%s", aws.ToString(p.ParameterKey), aws.ToString(p.ParameterValue))
		}
		sent = append(sent, line)
		return create(ctx, in)
	}
	var progress bytes.Buffer
	d, reviewed := deployer(fake, &progress)

	res, err := d.Deploy(context.Background(), stack("4"))
	if err != nil {
		t.Fatalf("Deploy of a new stack: %v", err)
	}
	if len(*reviewed) != 1 {
		t.Fatalf("Review saw %d change sets, want 1 (the settling update is part of the create)", len(*reviewed))
	}
	cs := (*reviewed)[0]
	if cs.Type != "CREATE" || cs.Name != "cfnbuild-1700000001000000000" || cs.Stack != "jobs" {
		t.Errorf("change set = %s %s of %q, want CREATE cfnbuild-1700000001000000000 of \"jobs\"", cs.Type, cs.Name, cs.Stack)
	}
	if got, want := actions(cs), []string{"Add Queue", "Add Role", "Add Service"}; !reflect.DeepEqual(got, want) {
		t.Errorf("changes = %q, want %q (all pages)", got, want)
	}
	// The create sets DesiredCount to 0; the update right after leaves it out.
	if want := []string{"CREATE DesiredCount=0 ImageUri=" + image, "UPDATE ImageUri=" + image}; !reflect.DeepEqual(sent, want) {
		t.Errorf("change sets sent = %q, want %q", sent, want)
	}
	if res.Status != "UPDATE_COMPLETE" || !res.Settled || res.Decision != deploy.Execute {
		t.Errorf("result status %s, settled %v, decision %s; want UPDATE_COMPLETE, true, execute", res.Status, res.Settled, res.Decision)
	}
	wantOutputs := map[string]string{"QueueUrl": "PHYSICAL-Queue", "Image": image}
	if !reflect.DeepEqual(res.Outputs, wantOutputs) {
		t.Errorf("outputs = %v, want %v", res.Outputs, wantOutputs)
	}
	st, _ := sim.Stack("jobs")
	if st.Parameters["DesiredCount"] != "" {
		t.Errorf("DesiredCount after the create = %q, want empty (left out)", st.Parameters["DesiredCount"])
	}
	if !reflect.DeepEqual(st.Tags, map[string]string{"team": "data"}) || !reflect.DeepEqual(st.Capabilities, []string{"CAPABILITY_IAM"}) {
		t.Errorf("stack tags %v, capabilities %v; want team=data, CAPABILITY_IAM", st.Tags, st.Capabilities)
	}
	// Plain progress: one line per event of this operation, in order, none from before it.
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(progress.String()), "\n") {
		f := strings.Fields(l)
		if f[0] == "Stack" {
			lines = append(lines, l)
			continue
		}
		lines = append(lines, f[0]+" "+f[2])
	}
	want := []string{
		"jobs CREATE_IN_PROGRESS",
		"Queue CREATE_IN_PROGRESS", "Queue CREATE_COMPLETE",
		"Role CREATE_IN_PROGRESS", "Role CREATE_COMPLETE",
		"Service CREATE_IN_PROGRESS", "Service CREATE_COMPLETE",
		"jobs CREATE_COMPLETE",
		`Stack "jobs" created; updating it without its create-only parameters (DesiredCount)`,
		"jobs UPDATE_IN_PROGRESS",
		"Service UPDATE_IN_PROGRESS", "Service UPDATE_COMPLETE",
		"jobs UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "jobs UPDATE_COMPLETE",
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("progress lines:\n%s\nwant (id, status):\n%s", progress.String(), strings.Join(want, "\n"))
	}

	// The point of settling: deploying the same input again finds nothing to change.
	if _, err := d.Deploy(context.Background(), stack("4")); !errors.Is(err, deploy.ErrNoChanges) {
		t.Errorf("second Deploy of the same input: %v, want ErrNoChanges", err)
	}
}

// A stack without create-only parameters is not updated after its create.
func TestDeployCreateWithoutCreateParameters(t *testing.T) {
	sim := deploytest.NewSim()
	fake := sim.Fake()
	d, _ := deployer(fake, io.Discard)
	s := stack("4")
	s.CreateParameters = nil
	res, err := d.Deploy(context.Background(), s)
	if err != nil || res.Status != "CREATE_COMPLETE" || res.Settled || fake.Count("CreateChangeSet") != 1 {
		t.Errorf("Deploy: %v, status %v, settled %v, %d change sets; want CREATE_COMPLETE after one change set", err, res.Status, res.Settled, fake.Count("CreateChangeSet"))
	}
}

// A failure of the settling update is reported as such: the stack exists.
func TestDeploySettleFails(t *testing.T) {
	sim := deploytest.NewSim()
	fake := sim.Fake()
	create := fake.CreateChangeSetFunc
	fake.CreateChangeSetFunc = func(ctx context.Context, in *cloudformation.CreateChangeSetInput) (*cloudformation.CreateChangeSetOutput, error) {
		if in.ChangeSetType == types.ChangeSetTypeUpdate {
			return nil, errors.New("boom")
		}
		return create(ctx, in)
	}
	d, _ := deployer(fake, io.Discard)
	_, err := d.Deploy(context.Background(), stack("4"))
	if want := `stack "jobs" was created, but not updated without DesiredCount (the next deploy does that): create change set for stack "jobs": boom`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
	if st, ok := sim.Stack("jobs"); !ok || st.Status != "CREATE_COMPLETE" {
		t.Errorf("stack after a failed settle: %+v, want CREATE_COMPLETE", st)
	}
}

func TestDeployUpdate(t *testing.T) {
	sim := seeded()
	fake := sim.Fake()
	var params []string
	create := fake.CreateChangeSetFunc
	fake.CreateChangeSetFunc = func(ctx context.Context, in *cloudformation.CreateChangeSetInput) (*cloudformation.CreateChangeSetOutput, error) {
		for _, p := range in.Parameters {
			params = append(params, fmt.Sprintf("%s=%s", aws.ToString(p.ParameterKey), aws.ToString(p.ParameterValue)))
		}
		return create(ctx, in)
	}
	var progress bytes.Buffer
	d, reviewed := deployer(fake, &progress)

	res, err := d.Deploy(context.Background(), stack("8"))
	if err != nil {
		t.Fatalf("Deploy with MaxTasks 4 -> 8: %v", err)
	}
	cs := (*reviewed)[0]
	if cs.Type != "UPDATE" {
		t.Errorf("change set type = %s, want UPDATE", cs.Type)
	}
	if got, want := actions(cs), []string{"Modify Service"}; !reflect.DeepEqual(got, want) {
		t.Errorf("changes = %q, want %q", got, want)
	}
	if res.Status != "UPDATE_COMPLETE" {
		t.Errorf("status = %s, want UPDATE_COMPLETE", res.Status)
	}
	st, _ := sim.Stack("jobs")
	if st.Parameters["DesiredCount"] != "" || st.Parameters["MaxTasks"] != "8" {
		t.Errorf("parameters after update = %v, want DesiredCount empty (left out) and MaxTasks 8", st.Parameters)
	}
	if strings.Contains(progress.String(), "Queue") {
		t.Errorf("progress shows events from before the update:\n%s", progress.String())
	}
	// Only ImageUri is passed: DesiredCount, left out, takes its default on an update.
	if want := []string{"ImageUri=" + image}; !reflect.DeepEqual(params, want) {
		t.Errorf("CreateChangeSet parameters = %q, want %q", params, want)
	}
}

// The first update after a create changes DesiredCount from "0" to "" (out of the template), so
// that ECS keeps the running count from then on; it is an UPDATE even with nothing else changed.
func TestDeployFirstUpdateLeavesDesiredCountOut(t *testing.T) {
	sim := deploytest.NewSim()
	sim.Seed(deploytest.SimStack{Name: "jobs", Status: "CREATE_COMPLETE", Template: template("4"),
		Parameters: map[string]string{"ImageUri": image, "DesiredCount": "0"}, Tags: map[string]string{"team": "data"}})
	d, reviewed := deployer(sim.Fake(), io.Discard)
	if _, err := d.Deploy(context.Background(), stack("4")); err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	if got, want := actions((*reviewed)[0]), []string{"Modify Service"}; !reflect.DeepEqual(got, want) {
		t.Errorf("changes = %q, want %q", got, want)
	}
	if st, _ := sim.Stack("jobs"); st.Parameters["DesiredCount"] != "" {
		t.Errorf("DesiredCount = %q, want empty", st.Parameters["DesiredCount"])
	}
}

func TestDeployNoChanges(t *testing.T) {
	for _, moto := range []bool{false, true} {
		sim := seeded()
		sim.NoUpdatesError = moto // AWS: a FAILED change set; moto: CreateChangeSet refuses
		fake := sim.Fake()
		d, reviewed := deployer(fake, io.Discard)

		res, err := d.Deploy(context.Background(), stack("4"))
		if !errors.Is(err, deploy.ErrNoChanges) {
			t.Fatalf("Deploy of an unchanged stack (moto-style %v): err = %v, want ErrNoChanges", moto, err)
		}
		if res == nil || res.Outputs["Image"] != image || res.Status != "UPDATE_COMPLETE" {
			t.Errorf("no-changes result = %+v, want the stack's status and outputs", res)
		}
		if len(*reviewed) != 0 || fake.Count("ExecuteChangeSet") != 0 {
			t.Errorf("an empty change set was reviewed (%d) or executed (%d)", len(*reviewed), fake.Count("ExecuteChangeSet"))
		}
		wantDeletes := 1
		if moto {
			wantDeletes = 0 // no change set was made
		}
		if got := fake.Count("DeleteChangeSet"); got != wantDeletes {
			t.Errorf("DeleteChangeSet calls = %d, want %d (the empty change set is deleted)", got, wantDeletes)
		}
	}
}

func TestDeployCreateFailsWithRootCause(t *testing.T) {
	sim := deploytest.NewSim()
	sim.Fail = map[string]string{"Queue": `Resource handler returned message: "Access Denied" (HandlerErrorCode: AccessDenied)`}
	d, _ := deployer(sim.Fake(), io.Discard)

	_, err := d.Deploy(context.Background(), stack("4"))
	var sf *deploy.StackFailedError
	if !errors.As(err, &sf) {
		t.Fatalf("Deploy with a failing resource: err = %v, want *StackFailedError", err)
	}
	want := `stack "jobs" ended in ROLLBACK_COMPLETE: Queue (AWS::SQS::Queue) CREATE_FAILED: Resource handler returned message: "Access Denied" (HandlerErrorCode: AccessDenied)`
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant (the root cause, without the cancelled Role):\n%s", err, want)
	}
	if st, _ := sim.Stack("jobs"); st.Status != "ROLLBACK_COMPLETE" {
		t.Errorf("stack status = %s, want ROLLBACK_COMPLETE", st.Status)
	}
}

func TestDeployRecreatesRollbackComplete(t *testing.T) {
	tests := []struct {
		name    string
		confirm func(string, string) (bool, error)
		wantErr string
	}{
		{name: "confirmed", confirm: func(string, string) (bool, error) { return true, nil }},
		{name: "declined", confirm: func(string, string) (bool, error) { return false, nil },
			wantErr: `stack "jobs" is in ROLLBACK_COMPLETE: its first create failed, and it must be deleted before it can be created again`},
		{name: "no hook",
			wantErr: `stack "jobs" is in ROLLBACK_COMPLETE: its first create failed, and it must be deleted before it can be created again`},
		{name: "cannot ask", confirm: func(string, string) (bool, error) { return false, errors.New("pass --yes") }, wantErr: "pass --yes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := deploytest.NewSim()
			sim.Seed(deploytest.SimStack{Name: "jobs", Status: "ROLLBACK_COMPLETE", Template: template("4"), Parameters: map[string]string{"ImageUri": image}})
			old, _ := sim.Stack("jobs")
			fake := sim.Fake()
			d, _ := deployer(fake, io.Discard)
			var asked []string
			if tt.confirm != nil {
				d.ConfirmRecreate = func(stack, status string) (bool, error) {
					asked = append(asked, stack+" "+status)
					return tt.confirm(stack, status)
				}
				defer func() {
					if !reflect.DeepEqual(asked, []string{"jobs ROLLBACK_COMPLETE"}) {
						t.Errorf("ConfirmRecreate asked %q, want once for jobs ROLLBACK_COMPLETE", asked)
					}
				}()
			}
			res, err := d.Deploy(context.Background(), stack("4"))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
				if fake.Count("DeleteStack") != 0 {
					t.Errorf("the stack was deleted without consent")
				}
				return
			}
			if err != nil {
				t.Fatalf("Deploy over ROLLBACK_COMPLETE: %v", err)
			}
			st, _ := sim.Stack("jobs")
			if !res.Settled || res.Status != "UPDATE_COMPLETE" || st.ID == old.ID {
				t.Errorf("status %s (settled %v), stack id %s (was %s); want a new stack, created and settled", res.Status, res.Settled, st.ID, old.ID)
			}
		})
	}
}

func TestDeployUpdateRollsBack(t *testing.T) {
	sim := seeded()
	sim.Fail = map[string]string{"Service": "ECS Deployment Circuit Breaker was triggered"}
	d, _ := deployer(sim.Fake(), io.Discard)

	_, err := d.Deploy(context.Background(), stack("8"))
	want := `stack "jobs" ended in UPDATE_ROLLBACK_COMPLETE: Service (AWS::ECS::Service) UPDATE_FAILED: ECS Deployment Circuit Breaker was triggered`
	var sf *deploy.StackFailedError
	if !errors.As(err, &sf) || err.Error() != want {
		t.Fatalf("err = %v, want *StackFailedError:\n%s", err, want)
	}
	if st, _ := sim.Stack("jobs"); st.Parameters["MaxTasks"] != "4" {
		t.Errorf("MaxTasks after rollback = %q, want the old 4", st.Parameters["MaxTasks"])
	}
}

func TestDeployStackBusy(t *testing.T) {
	t.Run("before", func(t *testing.T) {
		sim := seeded()
		sim.SetStatus("jobs", "UPDATE_IN_PROGRESS")
		fake := sim.Fake()
		d, _ := deployer(fake, io.Discard)
		_, err := d.Deploy(context.Background(), stack("8"))
		var busy *deploy.StackBusyError
		if !errors.As(err, &busy) || busy.Status != "UPDATE_IN_PROGRESS" {
			t.Fatalf("err = %v, want *StackBusyError in UPDATE_IN_PROGRESS", err)
		}
		want := `stack "jobs" is being changed by another operation (UPDATE_IN_PROGRESS): wait for it to finish, then try again`
		if err.Error() != want {
			t.Errorf("error = %q, want %q", err, want)
		}
		if fake.Count("CreateChangeSet") != 0 {
			t.Errorf("a change set was created for a busy stack")
		}
	})
	t.Run("between review and execution", func(t *testing.T) {
		sim := seeded()
		d, _ := deployer(sim.Fake(), io.Discard)
		d.Review = func(deploy.ChangeSet) (deploy.Decision, error) {
			sim.SetStatus("jobs", "UPDATE_IN_PROGRESS") // someone else's update starts
			return deploy.Execute, nil
		}
		_, err := d.Deploy(context.Background(), stack("8"))
		var busy *deploy.StackBusyError
		if !errors.As(err, &busy) || busy.Err == nil {
			t.Fatalf("err = %v, want *StackBusyError carrying ExecuteChangeSet's error", err)
		}
		if !strings.Contains(busy.Err.Error(), "is in UPDATE_IN_PROGRESS state and can not be updated") {
			t.Errorf("StackBusyError.Err = %v, want the API's refusal", busy.Err)
		}
	})
}

// cancelWhen wraps DescribeStacks so that ctx is cancelled once the stack reaches status, and
// one more poll has happened (so that a resource is in progress).
func cancelWhen(fake *deploytest.Fake, status string, cancel context.CancelFunc) {
	describe := fake.DescribeStacksFunc
	seen := 0
	fake.DescribeStacksFunc = func(ctx context.Context, in *cloudformation.DescribeStacksInput) (*cloudformation.DescribeStacksOutput, error) {
		out, err := describe(ctx, in)
		if err == nil && string(out.Stacks[0].StackStatus) == status {
			if seen++; seen == 2 {
				cancel()
			}
		}
		return out, err
	}
}

func TestDeployInterruptCancelsUpdate(t *testing.T) {
	sim := seeded()
	fake := sim.Fake()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelWhen(fake, "UPDATE_IN_PROGRESS", cancel)
	var progress bytes.Buffer
	d, _ := deployer(fake, &progress)

	_, err := d.Deploy(ctx, stack("8"))
	want := `interrupted: update of stack "jobs" cancelled, the stack is UPDATE_ROLLBACK_COMPLETE: context canceled`
	if err == nil || err.Error() != want || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want %s", err, want)
	}
	if fake.Count("CancelUpdateStack") != 1 {
		t.Errorf("CancelUpdateStack calls = %d, want 1", fake.Count("CancelUpdateStack"))
	}
	if st, _ := sim.Stack("jobs"); st.Status != "UPDATE_ROLLBACK_COMPLETE" || st.Parameters["MaxTasks"] != "4" {
		t.Errorf("stack %s with MaxTasks %s, want UPDATE_ROLLBACK_COMPLETE with the old 4", st.Status, st.Parameters["MaxTasks"])
	}
	if !strings.Contains(progress.String(), "UPDATE_ROLLBACK_COMPLETE") {
		t.Errorf("progress does not show the rollback:\n%s", progress.String())
	}
}

func TestDeployInterruptDeletesCreate(t *testing.T) {
	sim := deploytest.NewSim()
	fake := sim.Fake()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelWhen(fake, "CREATE_IN_PROGRESS", cancel)
	d, _ := deployer(fake, io.Discard)

	_, err := d.Deploy(ctx, stack("4"))
	want := `interrupted: stack "jobs" was being created and has been deleted: context canceled`
	if err == nil || err.Error() != want || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want %s", err, want)
	}
	if _, ok := sim.Stack("jobs"); ok {
		t.Errorf("stack jobs still exists after an interrupted create")
	}
}

func TestDeployInterruptWhileChangeSetIsCreated(t *testing.T) {
	sim := deploytest.NewSim()
	sim.ChangeSetPolls = 1000
	fake := sim.Fake()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	describe := fake.DescribeChangeSetFunc
	fake.DescribeChangeSetFunc = func(ctx context.Context, in *cloudformation.DescribeChangeSetInput) (*cloudformation.DescribeChangeSetOutput, error) {
		cancel()
		return describe(ctx, in)
	}
	d, _ := deployer(fake, io.Discard)
	_, err := d.Deploy(ctx, stack("4"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, ok := sim.Stack("jobs"); ok {
		t.Errorf("the REVIEW_IN_PROGRESS stack made for the change set is left behind")
	}
}

func TestDeployToleratesThrottling(t *testing.T) {
	sim := deploytest.NewSim()
	fake := sim.Fake()
	fake.DescribeStacksFunc = deploytest.Throttled(3, fake.DescribeStacksFunc)
	fake.CreateChangeSetFunc = deploytest.Throttled(2, fake.CreateChangeSetFunc)
	fake.DescribeChangeSetFunc = deploytest.Throttled(2, fake.DescribeChangeSetFunc)
	fake.DescribeStackEventsFunc = deploytest.Throttled(4, fake.DescribeStackEventsFunc)
	fake.ExecuteChangeSetFunc = deploytest.Throttled(1, fake.ExecuteChangeSetFunc)
	d, _ := deployer(fake, io.Discard)

	res, err := d.Deploy(context.Background(), stack("4"))
	if err != nil {
		t.Fatalf("Deploy while throttled: %v", err)
	}
	if res.Status != "UPDATE_COMPLETE" || !res.Settled {
		t.Errorf("status = %s (settled %v), want created and settled", res.Status, res.Settled)
	}
	if got := fake.Count("CreateChangeSet"); got != 4 {
		t.Errorf("CreateChangeSet calls = %d, want 4 (2 throttled, the create's, the settling update's)", got)
	}

	// Throttled without end: the error says so, after a bounded number of tries.
	fake = deploytest.NewSim().Fake()
	fake.DescribeStacksFunc = deploytest.Throttled(1000, fake.DescribeStacksFunc)
	d, _ = deployer(fake, io.Discard)
	_, err = d.Deploy(context.Background(), stack("4"))
	if want := `describe stack "jobs": Rate exceeded`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
	if got := fake.Count("DescribeStacks"); got != 9 {
		t.Errorf("DescribeStacks calls = %d, want 9 (1 + 8 retries)", got)
	}
}

func TestDeployReviewDecisions(t *testing.T) {
	tests := []struct {
		name       string
		existing   bool
		decision   deploy.Decision
		wantStatus string // "" when the stack must not exist
		wantCalls  map[string]int
	}{
		{name: "keep new", decision: deploy.Keep, wantStatus: "REVIEW_IN_PROGRESS", wantCalls: map[string]int{"DeleteStack": 0, "DeleteChangeSet": 0}},
		{name: "discard new", decision: deploy.Discard, wantStatus: "", wantCalls: map[string]int{"DeleteStack": 1, "DeleteChangeSet": 0}},
		{name: "keep existing", existing: true, decision: deploy.Keep, wantStatus: "UPDATE_COMPLETE", wantCalls: map[string]int{"DeleteStack": 0, "DeleteChangeSet": 0}},
		{name: "discard existing", existing: true, decision: deploy.Discard, wantStatus: "UPDATE_COMPLETE", wantCalls: map[string]int{"DeleteStack": 0, "DeleteChangeSet": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := deploytest.NewSim()
			if tt.existing {
				sim = seeded()
			}
			fake := sim.Fake()
			d, _ := deployer(fake, io.Discard)
			d.Review = func(deploy.ChangeSet) (deploy.Decision, error) { return tt.decision, nil }
			res, err := d.Deploy(context.Background(), stack("8"))
			if err != nil {
				t.Fatalf("Deploy: %v", err)
			}
			if res.Decision != tt.decision || res.ChangeSet.Name == "" {
				t.Errorf("result decision %s, change set %q; want %s and the change set", res.Decision, res.ChangeSet.Name, tt.decision)
			}
			st, ok := sim.Stack("jobs")
			if (tt.wantStatus == "") == ok || st.Status != tt.wantStatus {
				t.Errorf("stack exists %v in %q, want %q", ok, st.Status, tt.wantStatus)
			}
			for op, n := range tt.wantCalls {
				if got := fake.Count(op); got != n {
					t.Errorf("%s calls = %d, want %d", op, got, n)
				}
			}
			if fake.Count("ExecuteChangeSet") != 0 {
				t.Errorf("a change set was executed")
			}
		})
	}
}

func TestDeployReviewErrorDiscards(t *testing.T) {
	sim := deploytest.NewSim()
	d, _ := deployer(sim.Fake(), io.Discard)
	d.Review = func(deploy.ChangeSet) (deploy.Decision, error) {
		return deploy.Execute, errors.New("reading the answer: EOF")
	}
	_, err := d.Deploy(context.Background(), stack("4"))
	if err == nil || err.Error() != "reading the answer: EOF" {
		t.Fatalf("err = %v, want Review's error", err)
	}
	if _, ok := sim.Stack("jobs"); ok {
		t.Errorf("the stack made for the change set is left behind")
	}
}

func TestDeployChangeSetErrors(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		d, _ := deployer(deploytest.NewSim().Fake(), io.Discard)
		s := stack("4")
		delete(s.Parameters, "ImageUri")
		_, err := d.Deploy(context.Background(), s)
		if want := `create change set for stack "jobs": Parameters: [ImageUri] must have values`; err == nil || err.Error() != want {
			t.Errorf("err = %v, want %s (the API's message, not the SDK's wrapping)", err, want)
		}
	})
	t.Run("failed", func(t *testing.T) {
		sim := deploytest.NewSim()
		fake := sim.Fake()
		fake.DescribeChangeSetFunc = func(context.Context, *cloudformation.DescribeChangeSetInput) (*cloudformation.DescribeChangeSetOutput, error) {
			return &cloudformation.DescribeChangeSetOutput{Status: types.ChangeSetStatusFailed, StatusReason: aws.String("Template format error: Unresolved resource dependencies [Nope]")}, nil
		}
		d, _ := deployer(fake, io.Discard)
		_, err := d.Deploy(context.Background(), stack("4"))
		if want := `create change set for stack "jobs": Template format error: Unresolved resource dependencies [Nope]`; err == nil || err.Error() != want {
			t.Errorf("err = %v, want %s", err, want)
		}
		if _, ok := sim.Stack("jobs"); ok {
			t.Errorf("the REVIEW_IN_PROGRESS stack of the failed change set is left behind")
		}
	})
	t.Run("capabilities", func(t *testing.T) {
		d, _ := deployer(deploytest.NewSim().Fake(), io.Discard)
		s := stack("4")
		s.Capabilities = nil
		_, err := d.Deploy(context.Background(), s)
		if want := `create change set for stack "jobs": Requires capabilities : [CAPABILITY_IAM]`; err == nil || err.Error() != want {
			t.Errorf("err = %v, want %s", err, want)
		}
	})
	t.Run("stuck", func(t *testing.T) {
		sim := deploytest.NewSim()
		sim.Seed(deploytest.SimStack{Name: "jobs", Status: "UPDATE_ROLLBACK_FAILED", Template: template("4"), Parameters: map[string]string{"ImageUri": image}})
		d, _ := deployer(sim.Fake(), io.Discard)
		_, err := d.Deploy(context.Background(), stack("4"))
		if err == nil || !strings.HasPrefix(err.Error(), `stack "jobs" is in UPDATE_ROLLBACK_FAILED: `) {
			t.Errorf("err = %v, want the stack's status explained", err)
		}
	})
}

func TestDeployLargeTemplate(t *testing.T) {
	big := stack("4")
	big.Template = []byte(strings.Replace(template("4"), `"Parameters"`, `"Description":"`+strings.Repeat("x", deploy.TemplateBodyLimit)+`","Parameters"`, 1))

	d, _ := deployer(deploytest.NewSim().Fake(), io.Discard)
	_, err := d.Deploy(context.Background(), big)
	var tl *deploy.TemplateTooLargeError
	want := fmt.Sprintf(`create change set for stack "jobs": template is %d bytes, over CloudFormation's 51,200-byte TemplateBody limit`, len(big.Template))
	if !errors.As(err, &tl) || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}

	var put *s3.PutObjectInput
	var body []byte
	fake := deploytest.NewSim().Fake()
	var got *cloudformation.CreateChangeSetInput
	fake.CreateChangeSetFunc = func(_ context.Context, in *cloudformation.CreateChangeSetInput) (*cloudformation.CreateChangeSetOutput, error) {
		got = in
		return nil, deploytest.APIError("ValidationError", "stop here")
	}
	d, _ = deployer(fake, io.Discard)
	d.S3, d.Bucket, d.Prefix, d.Region = &deploytest.FakeS3{PutObjectFunc: func(_ context.Context, in *s3.PutObjectInput) (*s3.PutObjectOutput, error) {
		put = in
		body, _ = io.ReadAll(in.Body)
		return &s3.PutObjectOutput{}, nil
	}}, "artifacts", "/cfn/", "eu-west-1"
	_, _ = d.Deploy(context.Background(), big)
	if put == nil || got == nil {
		t.Fatalf("PutObject called %v, CreateChangeSet called %v; want both", put != nil, got != nil)
	}
	key := aws.ToString(put.Key)
	if aws.ToString(put.Bucket) != "artifacts" || !strings.HasPrefix(key, "cfn/jobs-") || !strings.HasSuffix(key, ".json") || len(key) != len("cfn/jobs-.json")+64 {
		t.Errorf("uploaded to s3://%s/%s, want s3://artifacts/cfn/jobs-<sha256>.json", aws.ToString(put.Bucket), key)
	}
	if !bytes.Equal(body, big.Template) {
		t.Errorf("uploaded %d bytes, want the %d-byte template", len(body), len(big.Template))
	}
	if got.TemplateBody != nil || aws.ToString(got.TemplateURL) != "https://artifacts.s3.eu-west-1.amazonaws.com/"+key {
		t.Errorf("CreateChangeSet TemplateBody set %v, TemplateURL %q; want only the uploaded object's URL", got.TemplateBody != nil, aws.ToString(got.TemplateURL))
	}
}

func TestDiff(t *testing.T) {
	t.Run("new stack", func(t *testing.T) {
		sim := deploytest.NewSim()
		d, _ := deployer(sim.Fake(), io.Discard)
		cs, err := d.Diff(context.Background(), stack("4"))
		if err != nil {
			t.Fatalf("Diff: %v", err)
		}
		if got, want := actions(cs), []string{"Add Queue", "Add Role", "Add Service"}; cs.Type != "CREATE" || !reflect.DeepEqual(got, want) {
			t.Errorf("change set %s %q, want CREATE %q", cs.Type, got, want)
		}
		if _, ok := sim.Stack("jobs"); ok {
			t.Errorf("Diff left the REVIEW_IN_PROGRESS stack behind")
		}
	})
	t.Run("update keeping the image", func(t *testing.T) {
		sim := seeded()
		fake := sim.Fake()
		d, _ := deployer(fake, io.Discard)
		s := stack("8")
		delete(s.Parameters, "ImageUri")
		s.KeepParameters = []string{"ImageUri"}
		cs, err := d.Diff(context.Background(), s)
		if err != nil {
			t.Fatalf("Diff: %v", err)
		}
		if got, want := actions(cs), []string{"Modify Service"}; cs.Type != "UPDATE" || !reflect.DeepEqual(got, want) {
			t.Errorf("change set %s %q, want UPDATE %q", cs.Type, got, want)
		}
		if fake.Count("DeleteChangeSet") != 1 || fake.Count("ExecuteChangeSet") != 0 {
			t.Errorf("DeleteChangeSet %d, ExecuteChangeSet %d calls; want 1, 0", fake.Count("DeleteChangeSet"), fake.Count("ExecuteChangeSet"))
		}
		if st, _ := sim.Stack("jobs"); st.Parameters["MaxTasks"] != "4" {
			t.Errorf("Diff changed the stack: MaxTasks %s", st.Parameters["MaxTasks"])
		}
	})
	t.Run("no changes", func(t *testing.T) {
		d, _ := deployer(seeded().Fake(), io.Discard)
		cs, err := d.Diff(context.Background(), stack("4"))
		if err != nil || len(cs.Changes) != 0 || cs.Stack != "jobs" {
			t.Errorf("Diff of an unchanged stack = %+v, %v; want no changes, no error", cs, err)
		}
	})
}

func TestDestroy(t *testing.T) {
	t.Run("deletes", func(t *testing.T) {
		sim := seeded()
		var progress bytes.Buffer
		d, _ := deployer(sim.Fake(), &progress)
		existed, err := d.Destroy(context.Background(), "jobs")
		if err != nil || !existed {
			t.Fatalf("Destroy = %v, %v; want true, nil", existed, err)
		}
		if _, ok := sim.Stack("jobs"); ok {
			t.Errorf("stack jobs still exists")
		}
		if !strings.Contains(progress.String(), "DELETE_COMPLETE") {
			t.Errorf("progress does not show the deletion:\n%s", progress.String())
		}
	})
	t.Run("absent", func(t *testing.T) {
		d, _ := deployer(deploytest.NewSim().Fake(), io.Discard)
		existed, err := d.Destroy(context.Background(), "jobs")
		if err != nil || existed {
			t.Errorf("Destroy of no stack = %v, %v; want false, nil", existed, err)
		}
	})
	t.Run("fails", func(t *testing.T) {
		sim := seeded()
		sim.Fail = map[string]string{"Queue": "Access Denied"}
		d, _ := deployer(sim.Fake(), io.Discard)
		_, err := d.Destroy(context.Background(), "jobs")
		var sf *deploy.StackFailedError
		if !errors.As(err, &sf) || len(sf.Reasons) != 1 {
			t.Fatalf("err = %v, want *StackFailedError with one reason", err)
		}
		want := deploy.ResourceFailure{LogicalID: "Queue", PhysicalID: "jobs-Queue-PHYSICAL", Type: "AWS::SQS::Queue", Status: "DELETE_FAILED", Reason: "Access Denied"}
		if sf.Reasons[0] != want || sf.Status != "DELETE_FAILED" {
			t.Errorf("failure = %s %+v, want DELETE_FAILED %+v", sf.Status, sf.Reasons[0], want)
		}
	})
	t.Run("busy", func(t *testing.T) {
		sim := seeded()
		sim.SetStatus("jobs", "UPDATE_IN_PROGRESS")
		d, _ := deployer(sim.Fake(), io.Discard)
		_, err := d.Destroy(context.Background(), "jobs")
		var busy *deploy.StackBusyError
		if !errors.As(err, &busy) {
			t.Errorf("err = %v, want *StackBusyError", err)
		}
	})
}

func TestWriteChangeSet(t *testing.T) {
	cs := deploy.ChangeSet{Name: "cfnbuild-1", Stack: "jobs", Type: "UPDATE", Changes: []deploy.Change{
		{Action: "Add", LogicalID: "DeadLetterQueue", Type: "AWS::SQS::Queue"},
		{Action: "Modify", LogicalID: "TaskDefinition", Type: "AWS::ECS::TaskDefinition", Replacement: "True"},
		{Action: "Remove", LogicalID: "Old", Type: "AWS::SNS::Topic"},
	}}
	var b strings.Builder
	if err := deploy.WriteChangeSet(&b, cs); err != nil {
		t.Fatal(err)
	}
	want := `Change set cfnbuild-1 for stack "jobs" (UPDATE), 3 changes:
  ACTION    LOGICAL ID       TYPE                      REPLACEMENT
  + Add     DeadLetterQueue  AWS::SQS::Queue
  > Modify  TaskDefinition   AWS::ECS::TaskDefinition  True
  - Remove  Old              AWS::SNS::Topic
`
	if got := b.String(); got != want {
		t.Errorf("WriteChangeSet:\n%s\nwant:\n%s", got, want)
	}
	b.Reset()
	_ = deploy.WriteChangeSet(&b, deploy.ChangeSet{Stack: "jobs"})
	if got, want := b.String(), "Stack \"jobs\": no changes\n"; got != want {
		t.Errorf("WriteChangeSet of no change set = %q, want %q", got, want)
	}
	b.Reset()
	_ = deploy.WriteChangeSet(&b, deploy.ChangeSet{Name: "cfnbuild-2", Stack: "jobs", Type: "UPDATE"})
	if got, want := b.String(), "Change set cfnbuild-2 for stack \"jobs\" (UPDATE): no resource changes (only parameters, outputs or tags change)\n"; got != want {
		t.Errorf("WriteChangeSet of a change set without resource changes = %q, want %q", got, want)
	}
}

func TestProgressOnTerminal(t *testing.T) {
	sim := deploytest.NewSim()
	var progress bytes.Buffer
	d, _ := deployer(sim.Fake(), &progress)
	d.Terminal, d.Width = true, 60
	s := stack("4")
	s.CreateParameters = nil // one operation, so one table
	if _, err := d.Deploy(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	out := progress.String()
	if !strings.Contains(out, "\x1b[") || !strings.Contains(out, "A\r\x1b[2K") {
		t.Fatalf("terminal progress has no cursor movement:\n%q", out)
	}
	// The final frame: the last len(rows) lines, one row per resource and the stack, each clipped.
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	final := lines[len(lines)-4:]
	for i, id := range []string{"jobs", "Queue", "Role", "Service"} {
		l := strings.TrimPrefix(final[i], "\r\x1b[2K")
		if j := strings.LastIndex(l, "\x1b[2K"); j >= 0 {
			l = l[j+len("\x1b[2K"):]
		}
		if !strings.HasPrefix(l, id+" ") || !strings.Contains(l, "CREATE_COMPLETE") || len([]rune(l)) >= 60 {
			t.Errorf("final row %d = %q, want %s ... CREATE_COMPLETE within 60 columns", i, l, id)
		}
	}
}

func TestTemplateParameters(t *testing.T) {
	got, err := deploy.TemplateParameters([]byte(template("4")))
	if want := []string{"DesiredCount", "ImageUri", "MaxTasks"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("TemplateParameters = %q, %v; want %q", got, err, want)
	}
	if _, err := deploy.TemplateParameters([]byte("Resources: {}")); err == nil {
		t.Errorf("TemplateParameters of YAML: no error, want one (it reads JSON)")
	}
}

// moto answers DeleteStack with an error when it cannot delete every resource, yet forgets the
// stack: Destroy reports the stack deleted, and says what the API answered.
func TestDestroyWhenDeleteAnswersAnErrorButTheStackIsGone(t *testing.T) {
	for _, gone := range []bool{true, false} {
		deleted := false
		fake := &deploytest.Fake{
			DescribeStacksFunc: func(context.Context, *cloudformation.DescribeStacksInput) (*cloudformation.DescribeStacksOutput, error) {
				if deleted && gone {
					return nil, deploytest.APIError("ValidationError", "Stack with id jobs does not exist")
				}
				return &cloudformation.DescribeStacksOutput{Stacks: []types.Stack{{StackName: aws.String("jobs"), StackId: aws.String("arn:jobs"), StackStatus: types.StackStatusCreateComplete}}}, nil
			},
			DescribeStackEventsFunc: func(context.Context, *cloudformation.DescribeStackEventsInput) (*cloudformation.DescribeStackEventsOutput, error) {
				return &cloudformation.DescribeStackEventsOutput{}, nil
			},
			DeleteStackFunc: func(context.Context, *cloudformation.DeleteStackInput) (*cloudformation.DeleteStackOutput, error) {
				deleted = true
				return nil, deploytest.APIError("DependencyViolation", "The vpc vpc-1 has dependencies and cannot be deleted.")
			},
		}
		var progress bytes.Buffer
		d, _ := deployer(fake, &progress)
		existed, err := d.Destroy(context.Background(), "jobs")
		if gone {
			if err != nil || !existed {
				t.Errorf("Destroy = %v, %v; want true, nil: the stack is gone", existed, err)
			}
			if want := `Stack "jobs" is gone, though deleting it answered: delete stack "jobs": The vpc vpc-1 has dependencies and cannot be deleted.`; !strings.Contains(progress.String(), want) {
				t.Errorf("progress = %q, want it to say %q", progress.String(), want)
			}
			continue
		}
		if want := `delete stack "jobs": The vpc vpc-1 has dependencies and cannot be deleted.`; err == nil || err.Error() != want {
			t.Errorf("Destroy of a stack still there: err = %v, want %s", err, want)
		}
	}
}

// Ctrl-C once the update can no longer be cancelled (cleaning up): deploy waits for the end and
// says the update completed.
func TestDeployInterruptTooLate(t *testing.T) {
	sim := seeded()
	fake := sim.Fake()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelWhen(fake, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", cancel)
	d, _ := deployer(fake, io.Discard)
	// A removed resource makes the update go through a cleanup that lasts two polls.
	s := stack("4")
	s.Template = []byte(strings.Replace(template("4"), `"Queue":{"Type":"AWS::SQS::Queue","Properties":{"VisibilityTimeout":300}},`, "", 1))
	_, err := d.Deploy(ctx, s)
	want := `interrupted too late: the update of stack "jobs" had completed (UPDATE_COMPLETE): context canceled`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}
