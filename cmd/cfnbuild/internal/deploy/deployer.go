package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// DefaultPollInterval is how often a Deployer polls a change set or a stack when none is set.
const DefaultPollInterval = 2 * time.Second

// maxThrottleRetries is how many times a call refused for its rate is tried again, with the delay
// doubling from the poll interval up to maxThrottleDelay, on top of the SDK's own retries.
const (
	maxThrottleRetries = 8
	maxThrottleDelay   = 30 * time.Second
)

// Decision is what to do with a change set once it has been reviewed.
type Decision int

const (
	// Execute executes the change set.
	Execute Decision = iota
	// Keep leaves the change set unexecuted, to be reviewed and executed later.
	Keep
	// Discard deletes the change set (and the stack it would have created).
	Discard
)

func (d Decision) String() string {
	switch d {
	case Execute:
		return "execute"
	case Keep:
		return "keep"
	case Discard:
		return "discard"
	}
	return fmt.Sprintf("Decision(%d)", int(d))
}

// Deployer deploys stacks through change sets. The zero value of each optional field is usable.
type Deployer struct {
	CFN CloudFormation

	// S3, Bucket, Prefix and Region upload templates over TemplateBodyLimit bytes to
	// s3://Bucket/Prefix/<stack>-<sha256>.json; without them such a template is a
	// *TemplateTooLargeError.
	S3     S3
	Bucket string
	Prefix string
	Region string

	// Review is shown every change set that has changes and decides what to do with it; nil
	// executes every change set.
	Review func(ChangeSet) (Decision, error)
	// ConfirmRecreate is asked before a stack in ROLLBACK_COMPLETE (its first create failed) is
	// deleted so that it can be created again; nil never deletes it.
	ConfirmRecreate func(stack, status string) (bool, error)

	// Progress receives the live view of stack operations (nil: none). Terminal redraws it in place
	// (ANSI cursor movement); otherwise each event is one line. Width and Height are the
	// terminal's size, 0 when unknown.
	Progress      io.Writer
	Terminal      bool
	Width, Height int

	// PollInterval is the delay between polls (DefaultPollInterval when 0).
	PollInterval time.Duration
	// Now names change sets (default time.Now); Sleep waits (default: a timer that ctx stops).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Stack is what to deploy.
type Stack struct {
	Name     string
	Template []byte
	// Parameters are passed on every change set; CreateParameters are added to them (and win) when
	// the stack is created, and once that create has succeeded Deploy updates the stack again
	// without them (see Result.Settled), so that the stack holds what a later deploy of the same
	// input sends and such a deploy finds no changes. On an update, KeepParameters not in
	// Parameters keep their previous values (UsePreviousValue). Every other template parameter
	// takes its default.
	Parameters       map[string]string
	CreateParameters map[string]string
	KeepParameters   []string
	Tags             map[string]string
	Capabilities     []string
}

// Result is what Deploy did.
type Result struct {
	Stack   string
	StackID string
	// ChangeSet is the change set Deploy created; empty when it had no changes.
	ChangeSet ChangeSet
	// Decision is Review's decision: only an executed change set changed the stack.
	Decision Decision
	// Status is the stack's status at the end ("" when a new stack was not created).
	Status string
	// Settled reports that a create was followed by the update without CreateParameters.
	Settled bool
	// Outputs are the stack's outputs at the end.
	Outputs map[string]string
}

// Deploy brings the stack to s: it creates a change set (CREATE for a new stack, UPDATE for an
// existing one), has Review decide, executes it and waits, drawing progress, until the stack is
// stable. A stack in ROLLBACK_COMPLETE is deleted and created again if ConfirmRecreate agrees.
//
// An empty change set is deleted and Deploy returns ErrNoChanges together with a Result holding the
// stack's outputs. A failed operation is a *StackFailedError; a stack that another operation is
// changing is a *StackBusyError. When ctx is cancelled while the change set runs, an update is
// cancelled and a create deleted, and Deploy waits for that before it returns ctx's error.
func (d *Deployer) Deploy(ctx context.Context, s Stack) (*Result, error) {
	cur, err := d.describeStack(ctx, s.Name)
	if err != nil {
		return nil, err
	}
	if cur != nil {
		switch status := string(cur.StackStatus); {
		case status == string(types.StackStatusRollbackComplete):
			if err := d.recreate(ctx, cur); err != nil {
				return nil, err
			}
			cur = nil
		case inProgress(status):
			return nil, &StackBusyError{Stack: s.Name, Status: status}
		case isStuck(status):
			return nil, stuckError(s.Name, status)
		}
	}

	res := &Result{Stack: s.Name}
	cs, err := d.createChangeSet(ctx, s, cur)
	if errors.Is(err, ErrNoChanges) {
		res.StackID = aws.ToString(cur.StackId)
		res.Status = string(cur.StackStatus)
		res.Outputs = outputs(cur)
		return res, ErrNoChanges
	}
	if err != nil {
		return nil, err
	}
	res.ChangeSet, res.StackID = *cs, cs.StackID

	if d.Review != nil {
		res.Decision, err = d.Review(*cs)
		if err != nil {
			return nil, errors.Join(err, d.discard(context.WithoutCancel(ctx), cs))
		}
	}
	switch res.Decision {
	case Keep:
		if cur != nil {
			res.Status, res.Outputs = string(cur.StackStatus), outputs(cur)
		}
		return res, nil
	case Discard:
		if cur != nil {
			res.Status, res.Outputs = string(cur.StackStatus), outputs(cur)
		}
		return res, d.discard(context.WithoutCancel(ctx), cs)
	}

	final, err := d.execute(ctx, cs)
	if err != nil {
		return nil, err
	}
	if cs.Type == string(types.ChangeSetTypeCreate) && len(s.CreateParameters) > 0 {
		settled, err := d.settle(ctx, s, final)
		if err != nil {
			return nil, err
		}
		res.Settled = settled != final
		final = settled
	}
	res.Status, res.Outputs = string(final.StackStatus), outputs(final)
	return res, nil
}

// settle updates a stack just created from s without s.CreateParameters, which then take their
// defaults (for cfnbuild: DesiredCount 0 on create, then left out so that scaling owns the task
// count). It belongs to the create the user reviewed, so Review is not asked again.
func (d *Deployer) settle(ctx context.Context, s Stack, created *types.Stack) (*types.Stack, error) {
	later := s
	later.CreateParameters = nil
	fmt.Fprintf(d.progress(), "Stack %q created; updating it without its create-only parameters (%s)\n", s.Name, strings.Join(slices.Sorted(maps.Keys(s.CreateParameters)), ", "))
	cs, err := d.createChangeSet(ctx, later, created)
	if errors.Is(err, ErrNoChanges) {
		return created, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stack %q was created, but not updated without %s (the next deploy does that): %w", s.Name, strings.Join(slices.Sorted(maps.Keys(s.CreateParameters)), ", "), err)
	}
	return d.execute(ctx, cs)
}

// Diff creates a change set for s, describes it and deletes it (and the stack it would have
// created). A change set without changes is returned with no Changes and no error.
func (d *Deployer) Diff(ctx context.Context, s Stack) (ChangeSet, error) {
	cur, err := d.describeStack(ctx, s.Name)
	if err != nil {
		return ChangeSet{}, err
	}
	if cur != nil {
		switch status := string(cur.StackStatus); {
		case status == string(types.StackStatusRollbackComplete):
			return ChangeSet{}, fmt.Errorf("stack %q is in %s (its first create failed), so it has nothing to compare with: deploy deletes it and creates it again", s.Name, status)
		case inProgress(status):
			return ChangeSet{}, &StackBusyError{Stack: s.Name, Status: status}
		}
	}
	cs, err := d.createChangeSet(ctx, s, cur)
	if errors.Is(err, ErrNoChanges) {
		return ChangeSet{Stack: s.Name, StackID: aws.ToString(cur.StackId), Type: string(types.ChangeSetTypeUpdate)}, nil
	}
	if err != nil {
		return ChangeSet{}, err
	}
	return *cs, d.discard(context.WithoutCancel(ctx), cs)
}

// Outputs returns a stack's outputs; a stack that does not exist has none and is no error.
func (d *Deployer) Outputs(ctx context.Context, stack string) (map[string]string, error) {
	cur, err := d.describeStack(ctx, stack)
	if err != nil || cur == nil {
		return nil, err
	}
	return outputs(cur), nil
}

// recreate deletes a stack in ROLLBACK_COMPLETE, once ConfirmRecreate agrees.
func (d *Deployer) recreate(ctx context.Context, cur *types.Stack) error {
	name, status := aws.ToString(cur.StackName), string(cur.StackStatus)
	ok := false
	if d.ConfirmRecreate != nil {
		var err error
		if ok, err = d.ConfirmRecreate(name, status); err != nil {
			return err
		}
	}
	if !ok {
		return fmt.Errorf("stack %q is in %s: its first create failed, and it must be deleted before it can be created again", name, status)
	}
	fmt.Fprintf(d.progress(), "Deleting stack %q (%s) to create it again\n", name, status)
	if err := d.deleteAndWait(ctx, cur); err != nil {
		return fmt.Errorf("delete stack %q (%s) to create it again: %w", name, status, err)
	}
	return nil
}

// execute runs the change set and waits for the stack to be stable, cancelling the operation when
// ctx is cancelled.
func (d *Deployer) execute(ctx context.Context, cs *ChangeSet) (*types.Stack, error) {
	w, err := d.newWatcher(ctx, cs.StackID, cs.Stack)
	if err != nil {
		return nil, err
	}
	_, err = retry(ctx, d, func(ctx context.Context) (*cloudformation.ExecuteChangeSetOutput, error) {
		return d.CFN.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{
			ChangeSetName:      aws.String(cs.ID),
			ClientRequestToken: aws.String(cs.Name),
		})
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, errors.Join(fmt.Errorf("execute change set for stack %q: %w", cs.Stack, ctx.Err()), d.discard(context.WithoutCancel(ctx), cs))
		}
		return nil, d.refused(ctx, cs.Stack, fmt.Errorf("execute change set for stack %q: %w", cs.Stack, cleanAPIError(err)))
	}
	final, err := w.wait(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, d.interrupt(ctx, w, cs)
		}
		return nil, err
	}
	if final == nil || !succeeded(string(final.StackStatus)) {
		return nil, d.failure(cs.Stack, final, w.reasons())
	}
	return final, nil
}

// interrupt stops the operation ctx's cancellation interrupted: it deletes a stack being created
// and cancels an update, then waits for that with a context of its own.
func (d *Deployer) interrupt(ctx context.Context, w *watcher, cs *ChangeSet) error {
	cause := ctx.Err()
	bg := context.WithoutCancel(ctx)
	if cs.Type == string(types.ChangeSetTypeCreate) {
		fmt.Fprintf(d.progress(), "Interrupted: deleting stack %q, which was being created\n", cs.Stack)
		_, err := retry(bg, d, func(ctx context.Context) (*cloudformation.DeleteStackOutput, error) {
			return d.CFN.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(cs.StackID)})
		})
		if err != nil {
			return fmt.Errorf("interrupted while creating stack %q, and deleting it failed: %w", cs.Stack, cleanAPIError(err))
		}
		final, err := w.wait(bg)
		if err != nil {
			return fmt.Errorf("interrupted while creating stack %q; waiting for its deletion: %w", cs.Stack, err)
		}
		if final != nil && final.StackStatus != types.StackStatusDeleteComplete {
			return fmt.Errorf("interrupted while creating stack %q, and deleting it failed: %w", cs.Stack, d.failure(cs.Stack, final, w.reasons()))
		}
		return fmt.Errorf("interrupted: stack %q was being created and has been deleted: %w", cs.Stack, cause)
	}
	fmt.Fprintf(d.progress(), "Interrupted: cancelling the update of stack %q and waiting for its rollback\n", cs.Stack)
	_, err := retry(bg, d, func(ctx context.Context) (*cloudformation.CancelUpdateStackOutput, error) {
		return d.CFN.CancelUpdateStack(ctx, &cloudformation.CancelUpdateStackInput{StackName: aws.String(cs.StackID)})
	})
	if err != nil {
		fmt.Fprintf(d.progress(), "Could not cancel the update (%v); waiting for it to finish\n", cleanAPIError(err))
	}
	final, err := w.wait(bg)
	if err != nil {
		return fmt.Errorf("interrupted while updating stack %q; waiting for it: %w", cs.Stack, err)
	}
	status := "gone"
	if final != nil {
		status = string(final.StackStatus)
	}
	if succeeded(status) {
		return fmt.Errorf("interrupted too late: the update of stack %q had completed (%s): %w", cs.Stack, status, cause)
	}
	return fmt.Errorf("interrupted: update of stack %q cancelled, the stack is %s: %w", cs.Stack, status, cause)
}

// refused explains an error of a call that changes the stack: when the stack is now being changed
// by someone else, that is the error.
func (d *Deployer) refused(ctx context.Context, stack string, err error) error {
	if ctx.Err() != nil || isThrottling(err) {
		return err
	}
	cur, derr := d.describeStack(ctx, stack)
	if derr == nil && cur != nil && inProgress(string(cur.StackStatus)) {
		return &StackBusyError{Stack: stack, Status: string(cur.StackStatus), Err: err}
	}
	return err
}

// failure builds the error of a stack that ended in a failure status.
func (d *Deployer) failure(name string, st *types.Stack, reasons []ResourceFailure) error {
	e := &StackFailedError{Stack: name, Reasons: reasons}
	if st != nil {
		e.Status = string(st.StackStatus)
		if len(reasons) == 0 && aws.ToString(st.StackStatusReason) != "" {
			e.Reasons = []ResourceFailure{{LogicalID: e.Stack, PhysicalID: aws.ToString(st.StackId), Type: stackType, Status: e.Status, Reason: aws.ToString(st.StackStatusReason)}}
		}
	} else {
		e.Status = string(types.StackStatusDeleteComplete)
	}
	return e
}

// describeStack returns the stack named (or with the id) name, or nil when there is none.
func (d *Deployer) describeStack(ctx context.Context, name string) (*types.Stack, error) {
	out, err := retry(ctx, d, func(ctx context.Context) (*cloudformation.DescribeStacksOutput, error) {
		return d.CFN.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	})
	if isStackNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe stack %q: %w", name, cleanAPIError(err))
	}
	if len(out.Stacks) == 0 {
		return nil, nil
	}
	return &out.Stacks[0], nil
}

const stackType = "AWS::CloudFormation::Stack"

func inProgress(status string) bool {
	return strings.HasSuffix(status, "_IN_PROGRESS") && status != string(types.StackStatusReviewInProgress)
}

func succeeded(status string) bool {
	switch types.StackStatus(status) {
	case types.StackStatusCreateComplete, types.StackStatusUpdateComplete, types.StackStatusImportComplete:
		return true
	}
	return false
}

// isStuck reports whether a stack's status needs a human before it can be updated.
func isStuck(status string) bool {
	switch types.StackStatus(status) {
	case types.StackStatusRollbackFailed, types.StackStatusDeleteFailed, types.StackStatusUpdateRollbackFailed, types.StackStatusImportRollbackFailed:
		return true
	}
	return false
}

func stuckError(stack, status string) error {
	switch types.StackStatus(status) {
	case types.StackStatusUpdateRollbackFailed:
		return fmt.Errorf("stack %q is in %s: fix the resources that failed to roll back and continue the rollback (aws cloudformation continue-update-rollback), or delete the stack", stack, status)
	default:
		return fmt.Errorf("stack %q is in %s and cannot be updated: delete it (cfnbuild destroy) and deploy again", stack, status)
	}
}

func outputs(st *types.Stack) map[string]string {
	if st == nil {
		return nil
	}
	out := make(map[string]string, len(st.Outputs))
	for _, o := range st.Outputs {
		out[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return out
}

func (d *Deployer) progress() io.Writer {
	if d.Progress == nil {
		return io.Discard
	}
	return d.Progress
}

func (d *Deployer) interval() time.Duration {
	if d.PollInterval <= 0 {
		return DefaultPollInterval
	}
	return d.PollInterval
}

func (d *Deployer) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

func (d *Deployer) sleep(ctx context.Context, dur time.Duration) error {
	if d.Sleep != nil {
		return d.Sleep(ctx, dur)
	}
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retry makes an API call, and makes it again while AWS refuses it for its rate.
func retry[T any](ctx context.Context, d *Deployer, call func(context.Context) (T, error)) (T, error) {
	delay := d.interval()
	for attempt := 0; ; attempt++ {
		out, err := call(ctx)
		if err == nil || !isThrottling(err) || attempt == maxThrottleRetries {
			return out, err
		}
		if serr := d.sleep(ctx, delay); serr != nil {
			return out, err
		}
		delay = min(delay*2, maxThrottleDelay)
	}
}
