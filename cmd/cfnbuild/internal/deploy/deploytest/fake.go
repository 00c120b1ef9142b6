// Package deploytest fakes the CloudFormation API for tests of package deploy and its users:
// Fake, a struct of func fields, and Sim, a small in-memory CloudFormation that backs a Fake with
// stacks, change sets, events and scripted failures.
package deploytest

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/cfnbuild/cfnbuild/cmd/cfnbuild/internal/deploy"
)

// Fake is a deploy.CloudFormation whose methods call its func fields; a nil field fails the call
// with an error naming the method. It records the name of every call.
type Fake struct {
	CreateChangeSetFunc     func(context.Context, *cloudformation.CreateChangeSetInput) (*cloudformation.CreateChangeSetOutput, error)
	DescribeChangeSetFunc   func(context.Context, *cloudformation.DescribeChangeSetInput) (*cloudformation.DescribeChangeSetOutput, error)
	ExecuteChangeSetFunc    func(context.Context, *cloudformation.ExecuteChangeSetInput) (*cloudformation.ExecuteChangeSetOutput, error)
	DeleteChangeSetFunc     func(context.Context, *cloudformation.DeleteChangeSetInput) (*cloudformation.DeleteChangeSetOutput, error)
	DescribeStacksFunc      func(context.Context, *cloudformation.DescribeStacksInput) (*cloudformation.DescribeStacksOutput, error)
	DescribeStackEventsFunc func(context.Context, *cloudformation.DescribeStackEventsInput) (*cloudformation.DescribeStackEventsOutput, error)
	DeleteStackFunc         func(context.Context, *cloudformation.DeleteStackInput) (*cloudformation.DeleteStackOutput, error)
	CancelUpdateStackFunc   func(context.Context, *cloudformation.CancelUpdateStackInput) (*cloudformation.CancelUpdateStackOutput, error)

	mu    sync.Mutex
	calls []string
}

var _ deploy.CloudFormation = (*Fake)(nil)

// Calls returns the names of the calls made so far, in order.
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Count returns how many calls of the operation op were made.
func (f *Fake) Count(op string) int {
	n := 0
	for _, c := range f.Calls() {
		if c == op {
			n++
		}
	}
	return n
}

func call[In, Out any](f *Fake, op string, fn func(context.Context, In) (Out, error), ctx context.Context, in In) (Out, error) {
	f.mu.Lock()
	f.calls = append(f.calls, op)
	f.mu.Unlock()
	if fn == nil {
		var zero Out
		return zero, fmt.Errorf("deploytest.Fake: unexpected call to %s", op)
	}
	if err := ctx.Err(); err != nil { // as the SDK does before sending
		var zero Out
		return zero, fmt.Errorf("operation error CloudFormation: %s: %w", op, err)
	}
	return fn(ctx, in)
}

func (f *Fake) CreateChangeSet(ctx context.Context, in *cloudformation.CreateChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.CreateChangeSetOutput, error) {
	return call(f, "CreateChangeSet", f.CreateChangeSetFunc, ctx, in)
}

func (f *Fake) DescribeChangeSet(ctx context.Context, in *cloudformation.DescribeChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeChangeSetOutput, error) {
	return call(f, "DescribeChangeSet", f.DescribeChangeSetFunc, ctx, in)
}

func (f *Fake) ExecuteChangeSet(ctx context.Context, in *cloudformation.ExecuteChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.ExecuteChangeSetOutput, error) {
	return call(f, "ExecuteChangeSet", f.ExecuteChangeSetFunc, ctx, in)
}

func (f *Fake) DeleteChangeSet(ctx context.Context, in *cloudformation.DeleteChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.DeleteChangeSetOutput, error) {
	return call(f, "DeleteChangeSet", f.DeleteChangeSetFunc, ctx, in)
}

func (f *Fake) DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	return call(f, "DescribeStacks", f.DescribeStacksFunc, ctx, in)
}

func (f *Fake) DescribeStackEvents(ctx context.Context, in *cloudformation.DescribeStackEventsInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error) {
	return call(f, "DescribeStackEvents", f.DescribeStackEventsFunc, ctx, in)
}

func (f *Fake) DeleteStack(ctx context.Context, in *cloudformation.DeleteStackInput, _ ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error) {
	return call(f, "DeleteStack", f.DeleteStackFunc, ctx, in)
}

func (f *Fake) CancelUpdateStack(ctx context.Context, in *cloudformation.CancelUpdateStackInput, _ ...func(*cloudformation.Options)) (*cloudformation.CancelUpdateStackOutput, error) {
	return call(f, "CancelUpdateStack", f.CancelUpdateStackFunc, ctx, in)
}

// FakeS3 is a deploy.S3 whose PutObject calls PutObjectFunc.
type FakeS3 struct {
	PutObjectFunc func(context.Context, *s3.PutObjectInput) (*s3.PutObjectOutput, error)
}

var _ deploy.S3 = (*FakeS3)(nil)

func (f *FakeS3) PutObject(ctx context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if f.PutObjectFunc == nil {
		return nil, fmt.Errorf("deploytest.FakeS3: unexpected call to PutObject")
	}
	return f.PutObjectFunc(ctx, in)
}

// APIError is an AWS API error with a code and a message, as the SDK returns them.
func APIError(code, message string) error {
	return &smithy.GenericAPIError{Code: code, Message: message}
}

// Throttled wraps fn so that its first n calls fail with a Throttling error.
func Throttled[In, Out any](n int, fn func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	var mu sync.Mutex
	return func(ctx context.Context, in In) (Out, error) {
		mu.Lock()
		throttle := n > 0
		n--
		mu.Unlock()
		if throttle {
			var zero Out
			return zero, APIError("Throttling", "Rate exceeded")
		}
		return fn(ctx, in)
	}
}
