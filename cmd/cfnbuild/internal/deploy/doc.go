// Package deploy deploys CloudFormation stacks through change sets.
//
// A Deployer creates a change set (CREATE for a new stack, UPDATE for an existing one), shows it
// through a Review hook, executes it, draws each resource's progress from the stack's events and
// returns the stack's outputs. Failures come back as typed errors that carry what a user needs:
// *StackFailedError with the root-cause resource failures, *StackBusyError for a stack another
// operation is changing, ErrNoChanges for an empty change set. Diff previews a change set and
// deletes it; Destroy deletes a stack.
//
// The package takes templates as bytes and talks to AWS through the small CloudFormation and S3
// interfaces, which the SDK's clients satisfy and package deploytest fakes.
package deploy
