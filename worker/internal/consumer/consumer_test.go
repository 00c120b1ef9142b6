package consumer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cfnbuild/cfnbuild/worker/internal/consumer"
	"github.com/cfnbuild/cfnbuild/worker/internal/memqueue"
	"github.com/cfnbuild/cfnbuild/worker/internal/queue"
)

// fast is a Config for tests: short waits, so that nothing depends on 20-second polls.
func fast() consumer.Config {
	return consumer.Config{
		Concurrency:  1,
		JobTimeout:   30 * time.Second,
		RetryDelay:   10 * time.Millisecond,
		StopTimeout:  30 * time.Second,
		PollWait:     20 * time.Millisecond,
		ErrorBackoff: 5 * time.Millisecond,
	}
}

// logBuffer collects the consumer's JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the log records whose msg is msg.
func (b *logBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b.buf.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

func (b *logBuffer) outcomes(t *testing.T) []string {
	var out []string
	for _, r := range b.records(t, "job") {
		out = append(out, r["outcome"].(string))
	}
	return out
}

func newLog() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// start runs c in the background; stop cancels it (SIGTERM) and returns what Run returned.
func start(t *testing.T, c *consumer.Consumer) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("Run did not return within 60s of cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// eventually fails t if cond is not true before a generous deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProcessesEveryMessageOnceAndDeletesIt(t *testing.T) {
	for _, conc := range []int{1, 4, 16} {
		q := memqueue.New(memqueue.Options{Visibility: 30 * time.Second})
		const n = 100
		for i := range n {
			q.Send(string(rune('a' + i%26)))
		}
		var mu sync.Mutex
		seen := map[string]int{}
		cfg := fast()
		cfg.Concurrency = conc
		log, logs := newLog()
		stop := start(t, &consumer.Consumer{Queue: q, Config: cfg, Log: log, Job: consumer.JobFunc(func(ctx context.Context, m queue.Message) error {
			mu.Lock()
			seen[m.ID]++
			mu.Unlock()
			return nil
		})})
		eventually(t, "the queue is empty", func() bool { v, in := q.Counts(); return v == 0 && in == 0 })
		if err := stop(); err != nil {
			t.Fatalf("concurrency %d: Run = %v; want nil after cancel", conc, err)
		}
		if len(seen) != n {
			t.Errorf("concurrency %d: processed %d distinct messages; want %d", conc, len(seen), n)
		}
		for id, k := range seen {
			if k != 1 {
				t.Errorf("concurrency %d: message %s processed %d times; want once", conc, id, k)
			}
		}
		if got := logs.outcomes(t); len(got) != n || slices.ContainsFunc(got, func(o string) bool { return o != consumer.Succeeded }) {
			t.Errorf("concurrency %d: logged %d job lines, outcomes %v; want %d succeeded", conc, len(got), got, n)
		}
	}
}

func TestJobLogLine(t *testing.T) {
	q := memqueue.New(memqueue.Options{Visibility: 30 * time.Second})
	id := q.Send("x")
	log, logs := newLog()
	stop := start(t, &consumer.Consumer{Queue: q, Config: fast(), Log: log, Job: consumer.JobFunc(func(context.Context, queue.Message) error { return nil })})
	eventually(t, "a job line is logged", func() bool { return len(logs.records(t, "job")) == 1 })
	stop()
	r := logs.records(t, "job")[0]
	if r["message_id"] != id || r["receive_count"] != 1.0 || r["outcome"] != "succeeded" || r["level"] != "INFO" {
		t.Errorf("job line %v; want message_id %s, receive_count 1, outcome succeeded, level INFO", r, id)
	}
	if _, ok := r["duration_ms"].(float64); !ok {
		t.Errorf("job line %v has no numeric duration_ms", r)
	}
}

func TestFailingJobIsRetriedThenDeadLettered(t *testing.T) {
	dlq := memqueue.New(memqueue.Options{})
	q := memqueue.New(memqueue.Options{Visibility: 30 * time.Second, DeadLetter: dlq, MaxReceiveCount: 3})
	q.Send("poison")
	var mu sync.Mutex
	var counts []int
	log, logs := newLog()
	stop := start(t, &consumer.Consumer{Queue: q, Config: fast(), Log: log, Job: consumer.JobFunc(func(ctx context.Context, m queue.Message) error {
		mu.Lock()
		counts = append(counts, m.ReceiveCount)
		mu.Unlock()
		return errors.New("exit status 1")
	})})
	eventually(t, "the message is in the dead-letter queue", func() bool { v, _ := dlq.Counts(); return v == 1 })
	stop()
	if !slices.Equal(counts, []int{1, 2, 3}) {
		t.Errorf("job ran with receive counts %v; want [1 2 3]", counts)
	}
	if got := logs.outcomes(t); !slices.Equal(got, []string{"failed", "failed", "failed"}) {
		t.Errorf("outcomes %v; want failed three times", got)
	}
	for i, r := range logs.records(t, "job") {
		if r["error"] != "exit status 1" || r["retry_in_ms"] == nil || r["level"] != "WARN" {
			t.Errorf("failed job line %v; want its error, retry_in_ms and level WARN", r)
		}
		// The third failure is the last receive allowed: its message goes back at once, to be
		// dead-lettered on the next receive.
		if last := i == 2; (r["retry_in_ms"] == 0.0) != last {
			t.Errorf("failed job line %d: retry_in_ms %v; want 0 only after the last allowed receive", i+1, r["retry_in_ms"])
		}
	}
	if v, in := q.Counts(); v != 0 || in != 0 {
		t.Errorf("queue holds %d visible, %d in flight; want none", v, in)
	}
}

func TestTimedOutJobIsStoppedAndRetried(t *testing.T) {
	q := memqueue.New(memqueue.Options{Visibility: 30 * time.Second})
	q.Send("slow once")
	cfg := fast()
	cfg.JobTimeout = 50 * time.Millisecond
	log, logs := newLog()
	stop := start(t, &consumer.Consumer{Queue: q, Config: cfg, Log: log, Job: consumer.JobFunc(func(ctx context.Context, m queue.Message) error {
		if m.ReceiveCount == 1 {
			<-ctx.Done() // outlive the timeout; return only when stopped
			return ctx.Err()
		}
		return nil
	})})
	eventually(t, "the message is deleted", func() bool { v, in := q.Counts(); return v == 0 && in == 0 })
	stop()
	if got := logs.outcomes(t); !slices.Equal(got, []string{"timed_out", "succeeded"}) {
		t.Errorf("outcomes %v; want [timed_out succeeded]", got)
	}
}

// countingQueue counts the calls made to a queue and can fail or intercept them.
type countingQueue struct {
	queue.Queue
	changes   atomic.Int64
	receives  atomic.Int64
	onReceive func(msgs []queue.Message, err error) ([]queue.Message, error)
	checkMax  func(max int)
}

func (c *countingQueue) Receive(ctx context.Context, max int, wait time.Duration) ([]queue.Message, error) {
	c.receives.Add(1)
	if c.checkMax != nil {
		c.checkMax(max)
	}
	msgs, err := c.Queue.Receive(ctx, max, wait)
	if c.onReceive != nil {
		return c.onReceive(msgs, err)
	}
	return msgs, err
}

func (c *countingQueue) ChangeVisibility(ctx context.Context, m queue.Message, d time.Duration) error {
	c.changes.Add(1)
	return c.Queue.ChangeVisibility(ctx, m, d)
}

func TestHeartbeatKeepsLongJobsMessageFromOthers(t *testing.T) {
	// A visibility timeout of 300ms, a job that runs until its message had at least 5 heartbeats
	// (over a second), and a second consumer polling the same queue all along: without the
	// heartbeat the second consumer would get the message.
	mem := memqueue.New(memqueue.Options{Visibility: 300 * time.Millisecond})
	mem.Send("long")
	q := &countingQueue{Queue: mem}
	var runs atomic.Int64
	release := make(chan struct{})
	job := consumer.JobFunc(func(ctx context.Context, m queue.Message) error {
		runs.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	cfg := fast()
	stopA := start(t, &consumer.Consumer{Queue: q, Job: job, Config: cfg})
	eventually(t, "the job runs", func() bool { return runs.Load() == 1 })
	stopB := start(t, &consumer.Consumer{Queue: mem, Job: job, Config: cfg})
	eventually(t, "5 heartbeats", func() bool { return q.changes.Load() >= 5 })
	close(release)
	eventually(t, "the message is deleted", func() bool { v, in := mem.Counts(); return v == 0 && in == 0 })
	stopA()
	stopB()
	if n := runs.Load(); n != 1 {
		t.Errorf("the job ran %d times; want once: the heartbeat keeps its message invisible", n)
	}
}

func TestReceivesNoMoreThanItCanStart(t *testing.T) {
	mem := memqueue.New(memqueue.Options{Visibility: 30 * time.Second})
	for range 40 {
		mem.Send("x")
	}
	const conc = 3
	var running atomic.Int64
	var bad atomic.Int64
	q := &countingQueue{Queue: mem, checkMax: func(max int) {
		if int64(max)+running.Load() > conc {
			bad.Add(1)
		}
	}}
	cfg := fast()
	cfg.Concurrency = conc
	stop := start(t, &consumer.Consumer{Queue: q, Config: cfg, Job: consumer.JobFunc(func(ctx context.Context, m queue.Message) error {
		running.Add(1)
		defer running.Add(-1)
		time.Sleep(time.Millisecond)
		return nil
	})})
	eventually(t, "the queue is empty", func() bool { v, in := mem.Counts(); return v == 0 && in == 0 })
	stop()
	if n := bad.Load(); n > 0 {
		t.Errorf("%d receives asked for more messages than free job slots", n)
	}
}

func TestStopLetsRunningJobFinishAndDeletesIt(t *testing.T) {
	q := memqueue.New(memqueue.Options{Visibility: 30 * time.Second})
	q.Send("job")
	q.Send("waiting")
	started := make(chan struct{})
	finish := make(chan struct{})
	var jobErr atomic.Value
	log, logs := newLog()
	stop := start(t, &consumer.Consumer{Queue: q, Config: fast(), Log: log, Job: consumer.JobFunc(func(ctx context.Context, m queue.Message) error {
		close(started)
		<-finish
		if ctx.Err() != nil {
			jobErr.Store(ctx.Err())
		}
		return nil
	})})
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	time.Sleep(50 * time.Millisecond) // let the stop begin; the test holds without it too
	close(finish)
	if err := <-stopped; err != nil {
		t.Fatalf("Run = %v; want nil", err)
	}
	if e := jobErr.Load(); e != nil {
		t.Errorf("the running job's context was canceled (%v); want it left to finish", e)
	}
	if got := logs.outcomes(t); !slices.Equal(got, []string{"succeeded"}) {
		t.Errorf("outcomes %v; want [succeeded]", got)
	}
	if v, in := q.Counts(); v != 1 || in != 0 {
		t.Errorf("queue holds %d visible, %d in flight; want the unstarted message visible: 1, 0", v, in)
	}
}

func TestStopReleasesReceivedButUnstartedMessages(t *testing.T) {
	mem := memqueue.New(memqueue.Options{Visibility: 30 * time.Second})
	for range 5 {
		mem.Send("x")
	}
	ctx, cancel := context.WithCancel(context.Background())
	// The shutdown signal arrives while a receive of 5 messages is on its way back.
	q := &countingQueue{Queue: mem, onReceive: func(msgs []queue.Message, err error) ([]queue.Message, error) {
		if len(msgs) > 0 {
			cancel()
		}
		return msgs, err
	}}
	var ran atomic.Int64
	cfg := fast()
	cfg.Concurrency = 5
	c := &consumer.Consumer{Queue: q, Config: cfg, Job: consumer.JobFunc(func(context.Context, queue.Message) error {
		ran.Add(1)
		return nil
	})}
	if err := c.Run(ctx); err != nil {
		t.Fatalf("Run = %v; want nil", err)
	}
	if n := ran.Load(); n != 0 {
		t.Errorf("%d jobs started after shutdown began; want 0", n)
	}
	if v, in := mem.Counts(); v != 5 || in != 0 {
		t.Errorf("queue holds %d visible, %d in flight; want all 5 visible at once", v, in)
	}
}

func TestStopTimeoutAbandonsJobAndReleasesItsMessage(t *testing.T) {
	q := memqueue.New(memqueue.Options{Visibility: 30 * time.Second})
	q.Send("endless")
	started := make(chan struct{})
	cfg := fast()
	cfg.StopTimeout = 50 * time.Millisecond
	log, logs := newLog()
	stop := start(t, &consumer.Consumer{Queue: q, Config: cfg, Log: log, Job: consumer.JobFunc(func(ctx context.Context, m queue.Message) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})})
	<-started
	if err := stop(); err != nil {
		t.Fatalf("Run = %v; want nil", err)
	}
	if got := logs.outcomes(t); !slices.Equal(got, []string{"abandoned"}) {
		t.Errorf("outcomes %v; want [abandoned]", got)
	}
	if v, in := q.Counts(); v != 1 || in != 0 {
		t.Errorf("queue holds %d visible, %d in flight; want the abandoned message visible at once", v, in)
	}
}

func TestMissingQueueStopsRun(t *testing.T) {
	q := memqueue.New(memqueue.Options{Visibility: 30 * time.Second})
	q.Remove()
	c := &consumer.Consumer{Queue: q, Config: fast(), Job: consumer.JobFunc(func(context.Context, queue.Message) error { return nil })}
	if err := c.Run(context.Background()); !errors.Is(err, queue.ErrQueueNotFound) {
		t.Fatalf("Run on a missing queue = %v; want ErrQueueNotFound", err)
	}
}

func TestQueueDeletedWhileRunningStopsRun(t *testing.T) {
	q := memqueue.New(memqueue.Options{Visibility: 30 * time.Second})
	c := &consumer.Consumer{Queue: q, Config: fast(), Job: consumer.JobFunc(func(context.Context, queue.Message) error { return nil })}
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	q.Remove()
	select {
	case err := <-done:
		if !errors.Is(err, queue.ErrQueueNotFound) {
			t.Fatalf("Run = %v; want ErrQueueNotFound", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run went on after its queue was deleted")
	}
}

func TestReceiveErrorsAreRetried(t *testing.T) {
	mem := memqueue.New(memqueue.Options{Visibility: 30 * time.Second})
	mem.Send("x")
	var failures atomic.Int64
	q := &countingQueue{Queue: mem, onReceive: func(msgs []queue.Message, err error) ([]queue.Message, error) {
		if failures.Add(1) <= 3 {
			for _, m := range msgs { // as if the answer was lost: the messages stay in flight
				_ = mem.ChangeVisibility(context.Background(), m, 0)
			}
			return nil, errors.New("connection reset")
		}
		return msgs, err
	}}
	log, logs := newLog()
	var ran atomic.Int64
	stop := start(t, &consumer.Consumer{Queue: q, Config: fast(), Log: log, Job: consumer.JobFunc(func(context.Context, queue.Message) error {
		ran.Add(1)
		return nil
	})})
	eventually(t, "the job runs", func() bool { return ran.Load() == 1 })
	stop()
	if got := len(logs.records(t, "receive failed; retrying")); got != 3 {
		t.Errorf("logged %d receive failures; want 3", got)
	}
}

func TestMoreMessagesThanAskedForAreReleasedNotRun(t *testing.T) {
	mem := memqueue.New(memqueue.Options{Visibility: 30 * time.Second})
	for range 3 {
		mem.Send("x")
	}
	// A queue that ignores max and returns everything it has.
	q := &countingQueue{Queue: mem}
	q.onReceive = func(msgs []queue.Message, err error) ([]queue.Message, error) {
		more, _ := mem.Receive(context.Background(), 10, 0)
		return append(msgs, more...), err
	}
	var running, most atomic.Int64
	stop := start(t, &consumer.Consumer{Queue: q, Config: fast(), Job: consumer.JobFunc(func(context.Context, queue.Message) error {
		n := running.Add(1)
		defer running.Add(-1)
		if n > most.Load() {
			most.Store(n)
		}
		return nil
	})})
	eventually(t, "the queue is empty", func() bool { v, in := mem.Counts(); return v == 0 && in == 0 })
	stop()
	if n := most.Load(); n != 1 {
		t.Errorf("%d jobs ran at once with concurrency 1; want 1", n)
	}
}
