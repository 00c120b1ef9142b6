package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// ChangeSet is a change set ready for review.
type ChangeSet struct {
	ID      string // the change set's ARN
	Name    string
	Stack   string
	StackID string
	Type    string // "CREATE" or "UPDATE"
	Changes []Change

	// newStack: the change set's CREATE made the stack (in REVIEW_IN_PROGRESS), so discarding
	// the change set deletes the stack too.
	newStack bool
}

// Change is one resource a change set changes.
type Change struct {
	Action      string // Add, Modify, Remove, Import, Dynamic
	LogicalID   string
	PhysicalID  string
	Type        string
	Replacement string // for Modify: True, False or Conditional
}

// changeSetPrefix starts every change set's name; the rest is the clock in nanoseconds, so that
// names are unique and say when they were made.
const changeSetPrefix = "cfnbuild-"

// createChangeSet creates a change set that brings the stack (cur, nil when there is none) to s
// and waits until it is ready. An empty change set is deleted: ErrNoChanges.
func (d *Deployer) createChangeSet(ctx context.Context, s Stack, cur *types.Stack) (*ChangeSet, error) {
	cs := &ChangeSet{
		Name:  fmt.Sprintf("%s%d", changeSetPrefix, d.now().UnixNano()),
		Stack: s.Name,
		Type:  string(types.ChangeSetTypeUpdate),
	}
	if cur == nil || cur.StackStatus == types.StackStatusReviewInProgress {
		cs.Type = string(types.ChangeSetTypeCreate)
		cs.newStack = cur == nil
	}
	in := &cloudformation.CreateChangeSetInput{
		StackName:     aws.String(s.Name),
		ChangeSetName: aws.String(cs.Name),
		ChangeSetType: types.ChangeSetType(cs.Type),
		Description:   aws.String("cfnbuild deploy"),
		Parameters:    parameters(s, cs.Type == string(types.ChangeSetTypeCreate)),
		Tags:          tags(s.Tags),
	}
	for _, c := range s.Capabilities {
		in.Capabilities = append(in.Capabilities, types.Capability(c))
	}
	var err error
	if in.TemplateBody, in.TemplateURL, err = d.templateSource(ctx, s); err != nil {
		return nil, fmt.Errorf("create change set for stack %q: %w", s.Name, err)
	}
	out, err := retry(ctx, d, func(ctx context.Context) (*cloudformation.CreateChangeSetOutput, error) {
		return d.CFN.CreateChangeSet(ctx, in)
	})
	if isNoUpdates(err) {
		return nil, ErrNoChanges
	}
	if err != nil {
		return nil, d.refused(ctx, s.Name, fmt.Errorf("create change set for stack %q: %w", s.Name, cleanAPIError(err)))
	}
	cs.ID, cs.StackID = aws.ToString(out.Id), aws.ToString(out.StackId)

	if err := d.waitChangeSet(ctx, cs); err != nil {
		if errors.Is(err, ErrNoChanges) {
			return nil, errors.Join(err, d.discard(context.WithoutCancel(ctx), cs))
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("create change set for stack %q: %w", s.Name, ctx.Err())
		}
		return nil, errors.Join(err, d.discard(context.WithoutCancel(ctx), cs))
	}
	return cs, nil
}

// waitChangeSet polls the change set until it is ready, and reads its changes.
func (d *Deployer) waitChangeSet(ctx context.Context, cs *ChangeSet) error {
	for {
		out, err := d.describeChangeSet(ctx, cs, nil)
		if err != nil {
			return err
		}
		switch out.Status {
		case types.ChangeSetStatusCreateComplete:
			for {
				cs.Changes = append(cs.Changes, changes(out.Changes)...)
				if out.NextToken == nil {
					return nil
				}
				if out, err = d.describeChangeSet(ctx, cs, out.NextToken); err != nil {
					return err
				}
			}
		case types.ChangeSetStatusFailed:
			reason := aws.ToString(out.StatusReason)
			if isNoChangesReason(reason) {
				return ErrNoChanges
			}
			return fmt.Errorf("create change set for stack %q: %s", cs.Stack, reason)
		case types.ChangeSetStatusCreatePending, types.ChangeSetStatusCreateInProgress:
		default:
			return fmt.Errorf("create change set for stack %q: change set is %s", cs.Stack, out.Status)
		}
		if err := d.sleep(ctx, d.interval()); err != nil {
			return err
		}
	}
}

func (d *Deployer) describeChangeSet(ctx context.Context, cs *ChangeSet, next *string) (*cloudformation.DescribeChangeSetOutput, error) {
	out, err := retry(ctx, d, func(ctx context.Context) (*cloudformation.DescribeChangeSetOutput, error) {
		return d.CFN.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: aws.String(cs.ID), NextToken: next})
	})
	if err != nil {
		return nil, fmt.Errorf("describe change set %s of stack %q: %w", cs.Name, cs.Stack, cleanAPIError(err))
	}
	return out, nil
}

// discard deletes a change set, and the stack its CREATE made.
func (d *Deployer) discard(ctx context.Context, cs *ChangeSet) error {
	if cs.newStack {
		// Deleting the REVIEW_IN_PROGRESS stack deletes its change sets.
		_, err := retry(ctx, d, func(ctx context.Context) (*cloudformation.DeleteStackOutput, error) {
			return d.CFN.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(cs.StackID)})
		})
		if err != nil {
			return fmt.Errorf("delete stack %q, created for change set %s: %w", cs.Stack, cs.Name, cleanAPIError(err))
		}
		return nil
	}
	_, err := retry(ctx, d, func(ctx context.Context) (*cloudformation.DeleteChangeSetOutput, error) {
		return d.CFN.DeleteChangeSet(ctx, &cloudformation.DeleteChangeSetInput{ChangeSetName: aws.String(cs.ID)})
	})
	if err != nil {
		return fmt.Errorf("delete change set %s of stack %q: %w", cs.Name, cs.Stack, cleanAPIError(err))
	}
	return nil
}

func changes(in []types.Change) []Change {
	var out []Change
	for _, c := range in {
		rc := c.ResourceChange
		if rc == nil {
			continue
		}
		out = append(out, Change{
			Action:      string(rc.Action),
			LogicalID:   aws.ToString(rc.LogicalResourceId),
			PhysicalID:  aws.ToString(rc.PhysicalResourceId),
			Type:        aws.ToString(rc.ResourceType),
			Replacement: string(rc.Replacement),
		})
	}
	return out
}

// parameters lists the change set's parameters: the values of s, and UsePreviousValue for
// KeepParameters on an update. A parameter left out takes the template's default.
func parameters(s Stack, create bool) []types.Parameter {
	values := map[string]string{}
	for k, v := range s.Parameters {
		values[k] = v
	}
	if create {
		for k, v := range s.CreateParameters {
			values[k] = v
		}
	}
	var out []types.Parameter
	for _, k := range slices.Sorted(maps.Keys(values)) {
		out = append(out, types.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(values[k])})
	}
	if !create {
		for _, k := range s.KeepParameters {
			if _, ok := values[k]; !ok {
				out = append(out, types.Parameter{ParameterKey: aws.String(k), UsePreviousValue: aws.Bool(true)})
			}
		}
	}
	return out
}

func tags(m map[string]string) []types.Tag {
	var out []types.Tag
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

// WriteChangeSet writes a change set as a table: one line per change, with rain's marks
// (+ add, > modify, - remove), the logical ID, the resource type and whether it is replaced.
func WriteChangeSet(w io.Writer, cs ChangeSet) error {
	if cs.Name == "" {
		_, err := fmt.Fprintf(w, "Stack %q: no changes\n", cs.Stack)
		return err
	}
	if len(cs.Changes) == 0 {
		_, err := fmt.Fprintf(w, "Change set %s for stack %q (%s): no resource changes (only parameters, outputs or tags change)\n", cs.Name, cs.Stack, cs.Type)
		return err
	}
	noun := "changes"
	if len(cs.Changes) == 1 {
		noun = "change"
	}
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ACTION\tLOGICAL ID\tTYPE\tREPLACEMENT")
	for _, c := range cs.Changes {
		fmt.Fprintf(tw, "  %s %s\t%s\t%s\t%s\n", mark(c.Action), c.Action, c.LogicalID, c.Type, c.Replacement)
	}
	tw.Flush()
	var b strings.Builder
	fmt.Fprintf(&b, "Change set %s for stack %q (%s), %d %s:\n", cs.Name, cs.Stack, cs.Type, len(cs.Changes), noun)
	for _, l := range strings.SplitAfter(table.String(), "\n") {
		if l != "" {
			b.WriteString(strings.TrimRight(l, " \n") + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mark(action string) string {
	switch types.ChangeAction(action) {
	case types.ChangeActionAdd, types.ChangeActionImport:
		return "+"
	case types.ChangeActionRemove:
		return "-"
	default:
		return ">"
	}
}
