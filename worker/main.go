// The worker runs in every Fargate task of a cfnbuild stack: it takes jobs from the SQS queue and
// runs them, as the consumer package describes. It is configured only by environment variables
// (see config.go) and logs JSON lines to stdout.
//
// Exit status: 0 after SIGTERM or SIGINT, 1 when the queue does not exist or another fatal error
// occurs, 2 for a bad configuration.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	_ "golang.org/x/crypto/x509roots/fallback" // CA roots: the image has no base layer
	_ "time/tzdata"                            // time zones, for the same reason

	"github.com/cfnbuild/cfnbuild/worker/internal/consumer"
	"github.com/cfnbuild/cfnbuild/worker/internal/queue"
	"github.com/cfnbuild/cfnbuild/worker/internal/sqsqueue"
)

// killGrace is how long a stopped job has between SIGTERM and SIGKILL. It must fit in what ECS
// leaves after WORKER_STOP_TIMEOUT (stopTimeout 120 s vs 110 s).
const killGrace = 5 * time.Second

func main() {
	os.Exit(run(os.LookupEnv, os.Environ(), os.Stdout, os.Stderr))
}

func run(lookup func(string) (string, bool), environ []string, stdout, stderr io.Writer) int {
	stdout, stderr = &lockedWriter{w: stdout}, &lockedWriter{w: stderr}
	log := slog.New(slog.NewJSONHandler(stdout, nil))

	cfg, err := loadConfig(lookup)
	if err != nil {
		log.Error("worker cannot start", "error", err.Error())
		return 2
	}
	var job consumer.Job = consumer.Builtin{Out: stdout}
	if cfg.jobCommand != nil {
		if _, err := exec.LookPath(cfg.jobCommand[0]); err != nil {
			log.Error("worker cannot start", "error", fmt.Sprintf("%s: find program: %v", envJobCommand, err))
			return 2
		}
		job = &consumer.Command{Args: cfg.jobCommand, Env: environ, Stdout: stdout, Stderr: stderr, KillGrace: killGrace}
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-signals
		log.Info("stopping: no more receives; running jobs may finish", "signal", s.String(), "stop_timeout_s", cfg.stopTimeout.Seconds())
		stop()
		s = <-signals
		// A second signal: leave now. Unfinished messages reappear after their visibility timeout.
		log.Warn("second signal: exiting at once", "signal", s.String())
		os.Exit(1)
	}()

	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		log.Error("worker cannot start", "error", fmt.Sprintf("load AWS configuration: %v", err))
		return 1
	}
	client := sqs.NewFromConfig(awsCfg, func(o *sqs.Options) {
		if o.Region == "" { // outside ECS, the region is in the queue's URL
			o.Region = regionOf(cfg.queueURL)
		}
	})

	c := &consumer.Consumer{
		Queue: sqsqueue.New(client, cfg.queueURL),
		Job:   job,
		Config: consumer.Config{
			Concurrency: cfg.concurrency,
			JobTimeout:  cfg.jobTimeout,
			RetryDelay:  cfg.retryDelay,
			StopTimeout: cfg.stopTimeout,
			PollWait:    sqsqueue.MaxWait,
		},
		Log: log,
	}
	if cfg.agentURI != "" {
		c.Protector = &consumer.AgentProtector{AgentURI: cfg.agentURI, Client: &http.Client{Timeout: 10 * time.Second}}
	}
	command := "built-in"
	if cfg.jobCommand != nil {
		command = strings.Join(cfg.jobCommand, " ")
	}
	log.Info("worker starting", "queue_url", cfg.queueURL, "concurrency", cfg.concurrency,
		"job_timeout_s", cfg.jobTimeout.Seconds(), "retry_delay_s", cfg.retryDelay.Seconds(),
		"stop_timeout_s", cfg.stopTimeout.Seconds(), "job_command", command, "task_protection", cfg.agentURI != "")

	if err := c.Run(ctx); err != nil {
		if errors.Is(err, queue.ErrQueueNotFound) {
			log.Error("worker stopped: the queue does not exist; check "+envQueueURL, "queue_url", cfg.queueURL, "error", err.Error())
		} else {
			log.Error("worker stopped", "error", err.Error())
		}
		return 1
	}
	log.Info("worker stopped")
	return 0
}

// regionOf is the region in an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME), or "".
func regionOf(queueURL string) string {
	u, err := url.Parse(queueURL)
	if err != nil {
		return ""
	}
	parts := strings.Split(u.Hostname(), ".")
	if len(parts) >= 4 && parts[0] == "sqs" {
		return parts[1]
	}
	return ""
}

// lockedWriter makes each Write whole with respect to the others: log lines and job output lines
// never interleave within a line.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
