// Package motoserver starts moto_server, a local SQS-compatible server, on a free loopback port for
// tests, and gives them a client, the environment for a worker process, and queue helpers.
package motoserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Region is the region every client and worker uses against moto.
const Region = "us-east-1"

// Server is a running moto_server.
type Server struct {
	URL  string // http://127.0.0.1:PORT
	cmd  *exec.Cmd
	logs *capped
	done chan struct{}
}

// Start starts moto_server on a free port of 127.0.0.1 and waits until it answers.
func Start() (*Server, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf("find moto_server: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port), logs: &capped{max: 64 << 10}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()

	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/moto-api/data.json")
		if err == nil {
			resp.Body.Close()
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("start moto_server on port %d: it exited: %s", port, s.logs)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("start moto_server on port %d: no answer after 60s: %s", port, s.logs)
		}
	}
}

// Stop stops the server by its process id (SIGTERM, then SIGKILL) and waits for it.
func (s *Server) Stop() {
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.done
	}
}

// Env is the environment a worker process needs to reach this server with dummy credentials,
// isolated from any AWS configuration of the machine.
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_REGION=" + Region,
		"AWS_ENDPOINT_URL=" + s.URL,
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Client returns an SQS client for this server.
func (s *Server) Client() *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
		}),
	})
}

// QueueOptions configure a queue made by CreateQueue.
type QueueOptions struct {
	Visibility      time.Duration // the queue's visibility timeout; 0 means 30 s
	MaxReceiveCount int           // > 0: create a dead-letter queue NAME-dlq and redrive to it
}

// Queue is a queue made by CreateQueue.
type Queue struct {
	URL    string
	DLQURL string // empty without a dead-letter queue
}

// CreateQueue creates the queue name (and its dead-letter queue), and fails t on error.
func (s *Server) CreateQueue(t testing.TB, name string, opts QueueOptions) Queue {
	t.Helper()
	ctx := context.Background()
	c := s.Client()
	attrs := map[string]string{}
	if opts.Visibility > 0 {
		attrs["VisibilityTimeout"] = strconv.Itoa(int(opts.Visibility / time.Second))
	}
	var q Queue
	if opts.MaxReceiveCount > 0 {
		dlq, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
		if err != nil {
			t.Fatalf("create queue %s-dlq: %v", name, err)
		}
		q.DLQURL = *dlq.QueueUrl
		a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: dlq.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
		})
		if err != nil {
			t.Fatalf("get arn of queue %s-dlq: %v", name, err)
		}
		policy, _ := json.Marshal(map[string]string{
			"deadLetterTargetArn": a.Attributes[string(types.QueueAttributeNameQueueArn)],
			"maxReceiveCount":     strconv.Itoa(opts.MaxReceiveCount),
		})
		attrs["RedrivePolicy"] = string(policy)
	}
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	q.URL = *out.QueueUrl
	return q
}

// Send sends bodies to the queue at url in batches of 10, and fails t on error.
func (s *Server) Send(t testing.TB, url string, bodies ...string) {
	t.Helper()
	c := s.Client()
	for len(bodies) > 0 {
		n := min(10, len(bodies))
		var entries []types.SendMessageBatchRequestEntry
		for i, b := range bodies[:n] {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(b)})
		}
		out, err := c.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries})
		if err != nil {
			t.Fatalf("send messages to %s: %v", url, err)
		}
		if len(out.Failed) > 0 {
			t.Fatalf("send messages to %s: %d failed, first: %s", url, len(out.Failed), aws.ToString(out.Failed[0].Message))
		}
		bodies = bodies[n:]
	}
}

// Counts reports the visible and in-flight messages of the queue at url (moto counts exactly).
func (s *Server) Counts(t testing.TB, url string) (visible, inflight int) {
	t.Helper()
	out, err := s.Client().GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: &url,
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		t.Fatalf("count messages of %s: %v", url, err)
	}
	visible, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	inflight, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible, inflight
}

// Drain receives every visible message of the queue at url, deletes it, and returns the bodies.
func (s *Server) Drain(t testing.TB, url string) []string {
	t.Helper()
	c := s.Client()
	var bodies []string
	for {
		out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatalf("receive messages from %s: %v", url, err)
		}
		if len(out.Messages) == 0 {
			return bodies
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			if _, err := c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("delete message from %s: %v", url, err)
			}
		}
	}
}

// Shared starts one server for a whole test binary, on first use.
type Shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Get returns the shared server, starting it on the first call. Without moto_server the test fails
// when CI=true and is skipped otherwise.
func (sh *Shared) Get(t testing.TB) *Server {
	t.Helper()
	sh.once.Do(func() { sh.srv, sh.err = Start() })
	if sh.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("moto_server is required in CI: %v", sh.err)
		}
		t.Skipf("skipping: needs moto_server on PATH (pip install 'moto[server]'): %v", sh.err)
	}
	return sh.srv
}

// Stop stops the server if it was started.
func (sh *Shared) Stop() {
	if sh.srv != nil {
		sh.srv.Stop()
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// capped keeps the first max bytes written to it.
type capped struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - len(c.buf); room > 0 {
		c.buf = append(c.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.buf)
}
