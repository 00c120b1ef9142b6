package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

// streams are where a command reads answers and writes results (stdout) and progress (stderr).
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// exitError carries a specific exit status (for example 1 for a change set that --fail-on-empty-changeset
// rejects); every other error exits 1 too, usage errors 2.
type exitError struct {
	err  error
	code int
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks bad command-line or configuration input: exit status 2.
func usageError(err error) error { return &exitError{err: err, code: 2} }

// run executes the CLI and returns the process's exit status. Errors are printed as
// "cfnbuild: <error>" on stderr.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(streams{in: stdin, out: stdout, err: stderr})
	err := app.RunContext(ctx, args)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "cfnbuild: %v\n", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

func newApp(s streams) *cli.App {
	app := &cli.App{
		Name:  "cfnbuild",
		Usage: "a queue-driven, scale-to-zero worker fleet on AWS, as one plain CloudFormation template",
		Description: "cfnbuild renders API Gateway → SQS → ECS Fargate with step scaling as CloudFormation,\n" +
			"builds the worker image without a Docker daemon and deploys it with change sets.\n" +
			"Configuration comes from flags, CFNBUILD_* environment variables and samconfig.toml.",
		Reader:         s.in,
		Writer:         s.out,
		ErrWriter:      s.err,
		HideVersion:    true,
		ExitErrHandler: func(*cli.Context, error) {}, // run prints errors and chooses the exit status
		Commands:       commands(s),
		// Slice flags (parameter_overrides, tags) hold Key="v,1" values: commas are no separators.
		DisableSliceFlagSeparator: true,
		CommandNotFound:           nil,
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError(err)
		},
	}
	for _, cmd := range app.Commands {
		withSamconfig(app, cmd)
	}
	return app
}

// commands lists every command; each lives in its own file as <name>Command(s).
func commands(s streams) []*cli.Command {
	return []*cli.Command{
		synthCommand(s),
		deployCommand(s),
		diffCommand(s),
		destroyCommand(s),
		buildCommand(s),
		pushCommand(s),
	}
}
