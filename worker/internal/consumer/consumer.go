package consumer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cfnbuild/cfnbuild/worker/internal/queue"
)

// Job runs the work for one message. A nil error is success, and only then is the message
// deleted. Run must return soon after ctx is done.
type Job interface {
	Run(ctx context.Context, m queue.Message) error
}

// JobFunc adapts a function to Job.
type JobFunc func(ctx context.Context, m queue.Message) error

// Run implements Job.
func (f JobFunc) Run(ctx context.Context, m queue.Message) error { return f(ctx, m) }

// Outcomes of a job, as logged.
const (
	Succeeded = "succeeded" // the job returned success; its message was deleted
	Failed    = "failed"    // the job failed; its message is retried after a backoff
	TimedOut  = "timed_out" // the job outlived JobTimeout and was stopped; retried after a backoff
	Abandoned = "abandoned" // stopped because StopTimeout ran out after shutdown; visible at once
)

// MaxBatch is the most messages one receive asks for (the SQS limit).
const MaxBatch = 10

// Config is how the consumer behaves. Zero fields take the defaults shown.
type Config struct {
	Concurrency int           // jobs at once; 1
	JobTimeout  time.Duration // a job running longer is stopped and its message retried; 300 s
	RetryDelay  time.Duration // base delay before a failed job's message is visible again; 10 s
	// MaxRetryDelay caps the retry delay, which doubles with each receive of a message; 15 min.
	MaxRetryDelay time.Duration
	StopTimeout   time.Duration // how long running jobs may go on after shutdown begins; 110 s
	PollWait      time.Duration // long-poll wait of each receive; 20 s
	// ErrorBackoff is the base delay before a queue call that failed is tried again; it doubles
	// with each failure in a row, up to 30 s, with full jitter; 1 s.
	ErrorBackoff      time.Duration
	ProtectionTTL     time.Duration // how long one grant of task protection lasts; 10 min
	ProtectionRefresh time.Duration // how often protection is renewed while jobs run; ProtectionTTL/2
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	c.Concurrency = max(1, c.Concurrency)
	def(&c.JobTimeout, 300*time.Second)
	def(&c.RetryDelay, 10*time.Second)
	def(&c.MaxRetryDelay, 15*time.Minute)
	def(&c.StopTimeout, 110*time.Second)
	def(&c.PollWait, 20*time.Second)
	def(&c.ErrorBackoff, time.Second)
	def(&c.ProtectionTTL, 10*time.Minute)
	def(&c.ProtectionRefresh, c.ProtectionTTL/2)
	return c
}

// Consumer takes messages from Queue and runs Job for each. Set the fields, then call Run once.
type Consumer struct {
	Queue     queue.Queue
	Job       Job
	Config    Config
	Log       *slog.Logger // nil: no logs
	Protector Protector    // nil: no task protection
}

// settleTimeout bounds the retries of one Delete or ChangeVisibility after a job.
const settleTimeout = 15 * time.Second

// callTimeout bounds one queue call other than Receive.
const callTimeout = 10 * time.Second

// Run consumes until ctx is canceled, then shuts down as the package describes and returns nil.
// It returns an error, after the running jobs ended, when the queue does not exist.
func (c *Consumer) Run(ctx context.Context) error {
	r := &runner{Consumer: c, cfg: c.Config.withDefaults(), log: c.Log}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r.prot = &protection{p: c.Protector, ttl: r.cfg.ProtectionTTL, log: r.log}
	return r.run(ctx)
}

type runner struct {
	*Consumer
	cfg    Config
	log    *slog.Logger
	prot   *protection
	extend time.Duration // visibility a heartbeat gives a running job's message
	// maxReceives is the queue's maxReceiveCount (0: no redrive): a message that fails its last
	// allowed receive is made visible at once, for the queue to move it to the dead-letter queue.
	maxReceives int
	running     atomic.Int64
}

func (r *runner) run(ctx context.Context) error {
	attrs, err := r.attributes(ctx)
	if err != nil || ctx.Err() != nil {
		return err
	}
	r.maxReceives = attrs.MaxReceiveCount
	r.extend = attrs.Visibility
	if r.extend <= 0 {
		r.extend = r.cfg.JobTimeout
	}

	// Jobs outlive ctx: they run under hard, which is canceled only when the stop timeout runs out.
	hard, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()

	refreshDone := make(chan struct{})
	refreshStop := make(chan struct{})
	go func() {
		defer close(refreshDone)
		r.refreshProtection(refreshStop)
	}()

	slots := make(chan struct{}, r.cfg.Concurrency)
	var jobs sync.WaitGroup
	fatal := r.receiveLoop(ctx, hard, slots, &jobs)

	if n := r.running.Load(); n > 0 {
		r.log.Info("waiting for running jobs", "running", n, "stop_timeout_s", r.cfg.StopTimeout.Seconds())
	}
	t := time.AfterFunc(r.cfg.StopTimeout, abandon)
	jobs.Wait()
	t.Stop()
	close(refreshStop)
	<-refreshDone
	r.prot.set(ctx, false, false)
	return fatal
}

// receiveLoop receives and starts jobs until ctx is done or the queue turns out missing.
func (r *runner) receiveLoop(ctx, hard context.Context, slots chan struct{}, jobs *sync.WaitGroup) error {
	failures := 0
	for {
		// Ask for no more messages than there are free slots, and for at least one.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		n := 1
	fill:
		for n < min(r.cfg.Concurrency, MaxBatch) {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break fill
			}
		}
		msgs, err := r.Queue.Receive(ctx, n, r.cfg.PollWait)
		if len(msgs) > n { // more than asked for: not SQS's behaviour, but never run more than n
			r.release(ctx, msgs[n:])
			msgs = msgs[:n]
		}
		for range n - len(msgs) {
			<-slots
		}
		if err != nil {
			r.release(ctx, msgs)
			for range msgs {
				<-slots
			}
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, queue.ErrQueueNotFound) {
				return err
			}
			d := fullJitter(r.cfg.ErrorBackoff, failures)
			failures++
			r.log.Warn("receive failed; retrying", "error", err.Error(), "attempt", failures, "retry_in_ms", d.Milliseconds())
			sleep(ctx, d)
			continue
		}
		failures = 0
		if len(msgs) == 0 {
			if r.running.Load() == 0 {
				r.prot.set(ctx, false, false)
			}
			continue
		}
		r.prot.set(ctx, true, false)
		for i, m := range msgs {
			if ctx.Err() != nil { // shutdown began since the receive: start nothing more
				r.release(ctx, msgs[i:])
				for range msgs[i:] {
					<-slots
				}
				return nil
			}
			r.running.Add(1)
			jobs.Add(1)
			go func() {
				defer jobs.Done()
				defer func() { <-slots }()
				defer r.running.Add(-1)
				r.process(hard, m)
			}()
		}
	}
}

// release makes received but unstarted messages visible at once.
func (r *runner) release(ctx context.Context, msgs []queue.Message) {
	for _, m := range msgs {
		err := r.settle(ctx, m, func(ctx context.Context) error { return r.Queue.ChangeVisibility(ctx, m, 0) })
		if err != nil {
			r.log.Warn("release unstarted message", "message_id", m.ID, "error", err.Error())
		} else {
			r.log.Info("released unstarted message", "message_id", m.ID, "receive_count", m.ReceiveCount)
		}
	}
}

// process runs the job for m under hard, with a heartbeat, then deletes or retries m.
func (r *runner) process(hard context.Context, m queue.Message) {
	start := time.Now()
	jobCtx, cancel := context.WithTimeout(hard, r.cfg.JobTimeout)
	hbStop := make(chan struct{})
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		r.heartbeat(hard, m, hbStop)
	}()
	err := r.Job.Run(jobCtx, m)
	timedOut := errors.Is(jobCtx.Err(), context.DeadlineExceeded)
	close(hbStop)
	<-hbDone
	cancel()

	outcome, retryIn := Succeeded, time.Duration(0)
	switch {
	case err == nil:
	case hard.Err() != nil:
		outcome = Abandoned
	case timedOut:
		outcome, retryIn = TimedOut, r.retryDelay(m.ReceiveCount)
	default:
		outcome, retryIn = Failed, r.retryDelay(m.ReceiveCount)
	}

	attrs := []slog.Attr{
		slog.String("message_id", m.ID),
		slog.Int("receive_count", m.ReceiveCount),
		slog.Int64("duration_ms", time.Since(start).Milliseconds()),
		slog.String("outcome", outcome),
	}
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	var settleErr error
	if outcome == Succeeded {
		settleErr = r.settle(hard, m, func(ctx context.Context) error { return r.Queue.Delete(ctx, m) })
	} else {
		attrs = append(attrs, slog.Int64("retry_in_ms", retryIn.Milliseconds()))
		settleErr = r.settle(hard, m, func(ctx context.Context) error { return r.Queue.ChangeVisibility(ctx, m, retryIn) })
	}
	if settleErr != nil {
		// Not fatal: the message reappears when its visibility runs out, and is retried or, after a
		// success, run again (at least once).
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("settle_error", settleErr.Error()))
	}
	r.log.LogAttrs(context.Background(), level, "job", attrs...)
}

// heartbeat extends m's visibility every third of r.extend until stop is closed.
func (r *runner) heartbeat(ctx context.Context, m queue.Message, stop <-chan struct{}) {
	t := time.NewTicker(max(r.extend/3, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
		err := r.Queue.ChangeVisibility(cctx, m, r.extend)
		cancel()
		if err != nil {
			r.log.Warn("extend visibility of running job's message", "message_id", m.ID, "error", err.Error())
			if queue.Permanent(err) {
				return // the message is no longer ours to extend; the job still finishes
			}
		}
	}
}

// settle calls fn (a Delete or ChangeVisibility) until it succeeds, fails permanently, or
// settleTimeout runs out. It runs on after ctx is canceled: settling is part of shutting down.
func (r *runner) settle(ctx context.Context, m queue.Message, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		cctx, ccancel := context.WithTimeout(ctx, callTimeout)
		err := fn(cctx)
		ccancel()
		if err == nil || queue.Permanent(err) {
			return err
		}
		d := fullJitter(min(r.cfg.ErrorBackoff, 200*time.Millisecond), attempt)
		if !sleep(ctx, d) {
			return fmt.Errorf("give up after %d attempts: %w", attempt+1, err)
		}
	}
}

// attributes reads the queue's attributes, retrying errors other than a missing queue.
func (r *runner) attributes(ctx context.Context) (queue.Attributes, error) {
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		a, err := r.Queue.Attributes(cctx)
		cancel()
		if err == nil {
			return a, nil
		}
		if ctx.Err() != nil {
			return a, nil
		}
		if errors.Is(err, queue.ErrQueueNotFound) {
			return a, err
		}
		d := fullJitter(r.cfg.ErrorBackoff, attempt)
		r.log.Warn("read queue attributes failed; retrying", "error", err.Error(), "attempt", attempt+1, "retry_in_ms", d.Milliseconds())
		sleep(ctx, d)
	}
}

// refreshProtection renews task protection while jobs run, until stop is closed.
func (r *runner) refreshProtection(stop <-chan struct{}) {
	if r.Protector == nil {
		return
	}
	t := time.NewTicker(r.cfg.ProtectionRefresh)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if r.running.Load() > 0 {
				r.prot.set(context.Background(), true, true)
			}
		}
	}
}

// sleep waits d or until ctx is done, and reports whether it waited the whole d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
