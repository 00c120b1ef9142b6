package deploy

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// Destroy deletes a stack and waits, drawing progress, until it is gone. It reports whether the
// stack existed. A deletion that fails is a *StackFailedError naming the resources left behind.
// When ctx is cancelled Destroy stops waiting; the deletion goes on.
func (d *Deployer) Destroy(ctx context.Context, name string) (existed bool, err error) {
	cur, err := d.describeStack(ctx, name)
	if err != nil || cur == nil {
		return false, err
	}
	if status := string(cur.StackStatus); inProgress(status) && cur.StackStatus != types.StackStatusDeleteInProgress {
		return true, &StackBusyError{Stack: name, Status: status}
	}
	return true, d.deleteAndWait(ctx, cur)
}

// deleteAndWait deletes a stack (unless its deletion already runs) and waits until it is gone.
func (d *Deployer) deleteAndWait(ctx context.Context, cur *types.Stack) error {
	name, id := aws.ToString(cur.StackName), aws.ToString(cur.StackId)
	w, err := d.newWatcher(ctx, id, name)
	if err != nil {
		return err
	}
	if cur.StackStatus != types.StackStatusDeleteInProgress {
		_, err := retry(ctx, d, func(ctx context.Context) (*cloudformation.DeleteStackOutput, error) {
			return d.CFN.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(id)})
		})
		if err != nil {
			err = fmt.Errorf("delete stack %q: %w", name, cleanAPIError(err))
			if ctx.Err() == nil {
				// Some implementations (moto) answer an error yet forget the stack: then it is gone.
				if now, derr := d.describeStack(ctx, id); derr == nil && (now == nil || now.StackStatus == types.StackStatusDeleteComplete) {
					fmt.Fprintf(d.progress(), "Stack %q is gone, though deleting it answered: %v\n", name, err)
					return nil
				}
			}
			return d.refused(ctx, name, err)
		}
	}
	final, err := w.wait(ctx)
	if ctx.Err() != nil {
		return fmt.Errorf("stopped waiting for stack %q to be deleted (the deletion goes on): %w", name, ctx.Err())
	}
	if err != nil {
		return err
	}
	if final != nil && final.StackStatus != types.StackStatusDeleteComplete {
		return d.failure(name, final, w.reasons())
	}
	return nil
}
