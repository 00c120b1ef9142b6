package deploy

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// watcher follows one stack operation: it polls the stack until its status is stable, and its
// events, newest first, down to the last event before the operation began, drawing each new one.
type watcher struct {
	d       *Deployer
	stackID string
	name    string
	marker  string          // the newest event before the operation
	seen    map[string]bool // event IDs already drawn
	view    *progress
	// failures are the resources' failure events, oldest first; stackFailures the stack's own,
	// which only repeat which resources failed unless there are none.
	failures, stackFailures []ResourceFailure
}

// reasons returns why the operation failed: the resources' failures, the root cause first.
func (w *watcher) reasons() []ResourceFailure {
	if len(w.failures) > 0 {
		return w.failures
	}
	return w.stackFailures
}

// newWatcher notes the stack's newest event, so that waiting shows only what comes after.
func (d *Deployer) newWatcher(ctx context.Context, stackID, name string) (*watcher, error) {
	w := &watcher{d: d, stackID: stackID, name: name, seen: map[string]bool{}, view: d.newProgress()}
	out, err := retry(ctx, d, func(ctx context.Context) (*cloudformation.DescribeStackEventsOutput, error) {
		return d.CFN.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(stackID)})
	})
	if err != nil {
		return nil, fmt.Errorf("describe events of stack %q: %w", name, cleanAPIError(err))
	}
	if len(out.StackEvents) > 0 {
		w.marker = aws.ToString(out.StackEvents[0].EventId)
	}
	return w, nil
}

// wait polls until the stack's status is no longer *_IN_PROGRESS and returns the stack, or nil
// when it no longer exists.
func (w *watcher) wait(ctx context.Context) (*types.Stack, error) {
	for {
		st, err := w.d.describeStack(ctx, w.stackID)
		if err != nil {
			return nil, err
		}
		if err := w.poll(ctx); err != nil {
			return nil, err
		}
		w.view.flush()
		if st == nil || !inProgress(string(st.StackStatus)) {
			return st, nil
		}
		if err := w.d.sleep(ctx, w.d.interval()); err != nil {
			return nil, err
		}
	}
}

// poll reads the events that are new since the last poll and draws them, oldest first.
func (w *watcher) poll(ctx context.Context) error {
	var fresh []types.StackEvent
	var next *string
pages:
	for {
		out, err := retry(ctx, w.d, func(ctx context.Context) (*cloudformation.DescribeStackEventsOutput, error) {
			return w.d.CFN.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(w.stackID), NextToken: next})
		})
		if isStackNotFound(err) {
			break // deleted, and CloudFormation has forgotten it
		}
		if err != nil {
			return fmt.Errorf("describe events of stack %q: %w", w.name, cleanAPIError(err))
		}
		for _, e := range out.StackEvents {
			id := aws.ToString(e.EventId)
			if id == w.marker || w.seen[id] {
				break pages
			}
			fresh = append(fresh, e)
		}
		if next = out.NextToken; next == nil {
			break
		}
	}
	for i := len(fresh) - 1; i >= 0; i-- {
		e := fresh[i]
		w.seen[aws.ToString(e.EventId)] = true
		w.view.event(e)
		reason := aws.ToString(e.ResourceStatusReason)
		if strings.HasSuffix(string(e.ResourceStatus), "_FAILED") && !isCancelledNoise(reason) {
			list := &w.failures
			if aws.ToString(e.ResourceType) == stackType {
				list = &w.stackFailures
			}
			*list = append(*list, ResourceFailure{
				LogicalID:  aws.ToString(e.LogicalResourceId),
				PhysicalID: aws.ToString(e.PhysicalResourceId),
				Type:       aws.ToString(e.ResourceType),
				Status:     string(e.ResourceStatus),
				Reason:     reason,
			})
		}
	}
	return nil
}
