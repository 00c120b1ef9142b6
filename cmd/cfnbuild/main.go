// Command cfnbuild renders, builds and deploys a queue-driven, scale-to-zero worker fleet on AWS.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// The first Ctrl-C (or SIGTERM) cancels the context: deploy then cancels an update, or deletes
	// a stack it was creating, and waits for that. Once it has, signals get their default action
	// again, so a second Ctrl-C stops cfnbuild at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
