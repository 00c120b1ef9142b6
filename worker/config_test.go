package main

import (
	"maps"
	"slices"
	"testing"
	"time"
)

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

func TestLoadConfig(t *testing.T) {
	const url = "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs"
	for _, tc := range []struct {
		name string
		env  map[string]string
		want config
	}{
		{"defaults", map[string]string{"QUEUE_URL": url}, config{
			queueURL: url, jobTimeout: 300 * time.Second, concurrency: 1, stopTimeout: 110 * time.Second, retryDelay: 10 * time.Second,
		}},
		{"as the template sets it: empty JOB_COMMAND is the built-in job", map[string]string{
			"QUEUE_URL": url, "JOB_TIMEOUT": "300", "JOB_COMMAND": "", "WORKER_CONCURRENCY": "1", "WORKER_STOP_TIMEOUT": "110", "JOB_RETRY_DELAY": "10",
		}, config{queueURL: url, jobTimeout: 300 * time.Second, concurrency: 1, stopTimeout: 110 * time.Second, retryDelay: 10 * time.Second}},
		{"everything set", map[string]string{
			"QUEUE_URL": url, "JOB_TIMEOUT": "900", "JOB_COMMAND": `/app/job --name 'a b' "c\"d"`, "WORKER_CONCURRENCY": "4",
			"WORKER_STOP_TIMEOUT": "60", "JOB_RETRY_DELAY": "5", "ECS_AGENT_URI": "http://169.254.170.2/api/x",
		}, config{
			queueURL: url, jobTimeout: 900 * time.Second, jobCommand: []string{"/app/job", "--name", "a b", `c"d`}, concurrency: 4,
			stopTimeout: 60 * time.Second, retryDelay: 5 * time.Second, agentURI: "http://169.254.170.2/api/x",
		}},
		{"blank JOB_COMMAND is the built-in job", map[string]string{"QUEUE_URL": url, "JOB_COMMAND": "  "}, config{
			queueURL: url, jobTimeout: 300 * time.Second, concurrency: 1, stopTimeout: 110 * time.Second, retryDelay: 10 * time.Second,
		}},
	} {
		got, err := loadConfig(lookupIn(tc.env))
		if err != nil {
			t.Errorf("%s: loadConfig(%v) error: %v", tc.name, tc.env, err)
			continue
		}
		if got.queueURL != tc.want.queueURL || got.jobTimeout != tc.want.jobTimeout || !slices.Equal(got.jobCommand, tc.want.jobCommand) ||
			got.concurrency != tc.want.concurrency || got.stopTimeout != tc.want.stopTimeout || got.retryDelay != tc.want.retryDelay ||
			got.agentURI != tc.want.agentURI {
			t.Errorf("%s: loadConfig(%v) = %+v; want %+v", tc.name, tc.env, got, tc.want)
		}
	}
}

func TestLoadConfigErrors(t *testing.T) {
	const url = "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs"
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "invalid configuration: QUEUE_URL is not set: it must be the URL of the jobs queue"},
		{map[string]string{"QUEUE_URL": url, "WORKER_CONCURRENCY": "two"}, `invalid configuration: WORKER_CONCURRENCY="two": not an integer`},
		{map[string]string{"QUEUE_URL": url, "WORKER_CONCURRENCY": "0"}, `invalid configuration: WORKER_CONCURRENCY="0": must be between 1 and 1000`},
		{map[string]string{"QUEUE_URL": url, "JOB_TIMEOUT": "-5"}, `invalid configuration: JOB_TIMEOUT="-5": must be between 1 and 43200`},
		{map[string]string{"QUEUE_URL": url, "JOB_TIMEOUT": "43201"}, `invalid configuration: JOB_TIMEOUT="43201": must be between 1 and 43200`},
		{map[string]string{"QUEUE_URL": url, "JOB_TIMEOUT": "1.5"}, `invalid configuration: JOB_TIMEOUT="1.5": not an integer`},
		{map[string]string{"QUEUE_URL": url, "WORKER_STOP_TIMEOUT": "0"}, `invalid configuration: WORKER_STOP_TIMEOUT="0": must be between 1 and 86400`},
		{map[string]string{"QUEUE_URL": url, "JOB_RETRY_DELAY": "soon"}, `invalid configuration: JOB_RETRY_DELAY="soon": not an integer`},
		{map[string]string{"QUEUE_URL": url, "JOB_COMMAND": `/app/job 'unterminated`},
			`invalid configuration: JOB_COMMAND: parse command line "/app/job 'unterminated": unterminated single quote at character 10`},
		{map[string]string{"QUEUE_URL": url, "JOB_COMMAND": `'' arg`}, `invalid configuration: JOB_COMMAND="'' arg": the program name is empty`},
		{map[string]string{"WORKER_CONCURRENCY": "x", "JOB_TIMEOUT": "0"},
			`invalid configuration: QUEUE_URL is not set: it must be the URL of the jobs queue; JOB_TIMEOUT="0": must be between 1 and 43200; WORKER_CONCURRENCY="x": not an integer`},
	} {
		_, err := loadConfig(lookupIn(tc.env))
		if err == nil || err.Error() != tc.want {
			t.Errorf("loadConfig(%v) error = %v; want %s", tc.env, err, tc.want)
		}
	}
}

// The loader looks up exactly the names in envVars, so that the template test below compares the
// template with what the worker really reads.
func TestLoadConfigReadsOnlyEnvVars(t *testing.T) {
	asked := map[string]bool{}
	_, _ = loadConfig(func(name string) (string, bool) {
		asked[name] = true
		return "", false
	})
	if got, want := slices.Sorted(maps.Keys(asked)), slices.Sorted(slices.Values(envVars)); !slices.Equal(got, want) {
		t.Errorf("loadConfig looked up %v; want exactly envVars %v", got, want)
	}
}

func TestRegionOf(t *testing.T) {
	for in, want := range map[string]string{
		"https://sqs.eu-west-1.amazonaws.com/123456789012/jobs":     "eu-west-1",
		"https://sqs.cn-north-1.amazonaws.com.cn/123456789012/jobs": "cn-north-1",
		"http://127.0.0.1:4566/000000000000/jobs":                   "",
		"https://queue.amazonaws.com/123456789012/jobs":             "",
		"::": "",
	} {
		if got := regionOf(in); got != want {
			t.Errorf("regionOf(%q) = %q; want %q", in, got, want)
		}
	}
}
