package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/cfnbuild/cfnbuild/cmd/cfnbuild/internal/deploy"
)

// awsClients are the AWS APIs deploy, diff and destroy use.
type awsClients struct {
	cfn          deploy.CloudFormation
	s3           deploy.S3
	region       string
	pollInterval time.Duration
	calls        *apiCalls
}

// newAWSClients makes the SDK's clients from the standard chain with --region/--profile on top,
// counting their calls.
func newAWSClients(ctx context.Context, c *cli.Context) (*awsClients, error) {
	cfg, err := loadAWSConfig(ctx, c)
	if err != nil {
		return nil, err
	}
	calls := &apiCalls{}
	calls.register(&cfg)
	return &awsClients{
		cfn:          cloudformation.NewFromConfig(cfg),
		s3:           s3.NewFromConfig(cfg),
		region:       cfg.Region,
		pollInterval: pollInterval,
		calls:        calls,
	}, nil
}

// report prints the API call counts on stderr when --debug-api-calls is set.
func (a *awsClients) report(c *cli.Context, s streams) {
	if a.calls != nil && c.Bool(flagDebugAPICalls) {
		a.calls.write(s.err)
	}
}

// apiCalls counts the AWS API calls of an SDK configuration: operations as the code makes them, and
// HTTP attempts (retries included).
type apiCalls struct {
	mu       sync.Mutex
	ops      map[string]int
	attempts int
}

// register adds the counting middleware to every client made from cfg.
func (a *apiCalls) register(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("cfnbuildCountCalls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				a.mu.Lock()
				if a.ops == nil {
					a.ops = map[string]int{}
				}
				a.ops[awsmiddleware.GetServiceID(ctx)+"."+awsmiddleware.GetOperationName(ctx)]++
				a.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
		if err != nil {
			return err
		}
		return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("cfnbuildCountAttempts",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				a.mu.Lock()
				a.attempts++
				a.mu.Unlock()
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	})
}

// total returns the number of operations called.
func (a *apiCalls) total() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, c := range a.ops {
		n += c
	}
	return n
}

// write prints "AWS API calls: N (HTTP requests: M)" and one line per operation.
func (a *apiCalls) write(w io.Writer) {
	total := a.total()
	a.mu.Lock()
	defer a.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "AWS API calls: %d (HTTP requests: %d)\n", total, a.attempts)
	var ops []string
	for op := range a.ops {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for _, op := range ops {
		fmt.Fprintf(&b, "  %-40s %d\n", op, a.ops[op])
	}
	io.WriteString(w, b.String())
}

// terminal reports whether w is a terminal, and its size (0 when unknown).
func terminal(w io.Writer) (isTerminal bool, width, height int) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false, 0, 0
	}
	width, height, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return true, 0, 0
	}
	return true, width, height
}
