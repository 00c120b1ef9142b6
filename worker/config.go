package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cfnbuild/cfnbuild/worker/internal/consumer"
)

// The environment variables the worker reads. The template sets all but ECS_AGENT_URI, which
// the ECS agent sets; the AWS SDK reads its own (AWS_REGION, credentials, AWS_ENDPOINT_URL).
const (
	envQueueURL    = "QUEUE_URL"           // the jobs queue (required)
	envJobTimeout  = "JOB_TIMEOUT"         // seconds a job may run; also the queue's visibility timeout
	envJobCommand  = "JOB_COMMAND"         // command line run per message; empty: the built-in job
	envConcurrency = "WORKER_CONCURRENCY"  // jobs at once
	envStopTimeout = "WORKER_STOP_TIMEOUT" // seconds running jobs may go on after SIGTERM
	envRetryDelay  = "JOB_RETRY_DELAY"     // base seconds before a failed job's message is visible again
	envAgentURI    = "ECS_AGENT_URI"       // set by the ECS agent; empty: no task protection
)

// envVars is every environment variable the worker reads; loadConfig looks up no other.
var envVars = []string{envQueueURL, envJobTimeout, envJobCommand, envConcurrency, envStopTimeout, envRetryDelay, envAgentURI}

// Defaults, as the template sets them.
const (
	defaultJobTimeout  = 300
	defaultConcurrency = 1
	defaultStopTimeout = 110
	defaultRetryDelay  = 10
	maxVisibility      = 43200 // SQS's limit on a message's visibility timeout, in seconds
)

// config is the worker's configuration, read from the environment.
type config struct {
	queueURL    string
	jobTimeout  time.Duration
	jobCommand  []string // nil: the built-in job
	concurrency int
	stopTimeout time.Duration
	retryDelay  time.Duration
	agentURI    string
}

// loadConfig reads the variables of envVars, and only those, through lookup (os.LookupEnv). An
// unset or empty variable takes its default. It reports every bad value at once.
func loadConfig(lookup func(string) (string, bool)) (config, error) {
	env := make(map[string]string, len(envVars))
	for _, name := range envVars {
		if v, ok := lookup(name); ok {
			env[name] = v
		}
	}
	var errs []error
	integer := func(name string, def, min, max int) int {
		v := env[name]
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s=%q: not an integer", name, v))
		case n < min || n > max:
			errs = append(errs, fmt.Errorf("%s=%q: must be between %d and %d", name, v, min, max))
		}
		return n
	}
	seconds := func(name string, def, max int) time.Duration {
		return time.Duration(integer(name, def, 1, max)) * time.Second
	}

	if env[envQueueURL] == "" {
		errs = append(errs, fmt.Errorf("%s is not set: it must be the URL of the jobs queue", envQueueURL))
	}
	c := config{
		queueURL:    env[envQueueURL],
		jobTimeout:  seconds(envJobTimeout, defaultJobTimeout, maxVisibility),
		concurrency: integer(envConcurrency, defaultConcurrency, 1, 1000),
		stopTimeout: seconds(envStopTimeout, defaultStopTimeout, 86400),
		retryDelay:  seconds(envRetryDelay, defaultRetryDelay, maxVisibility),
		agentURI:    env[envAgentURI],
	}
	if v := env[envJobCommand]; v != "" {
		args, err := consumer.ParseCommandLine(v)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", envJobCommand, err))
		case len(args) > 0 && args[0] == "":
			errs = append(errs, fmt.Errorf("%s=%q: the program name is empty", envJobCommand, v))
		default:
			c.jobCommand = args // blanks only: the built-in job
		}
	}
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, err := range errs {
			msgs[i] = err.Error()
		}
		return config{}, errors.New("invalid configuration: " + strings.Join(msgs, "; "))
	}
	return c, nil
}
