// Package memqueue is an in-memory queue.Queue with SQS's semantics that matter to the worker:
// visibility timeouts, receive counts, receipt handles and redrive to a dead-letter queue. It is
// for tests and benchmarks.
package memqueue

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/cfnbuild/cfnbuild/worker/internal/queue"
)

// Options configure a Queue.
type Options struct {
	Visibility      time.Duration // default visibility timeout of a received message
	DeadLetter      *Queue        // where a message goes once received MaxReceiveCount times
	MaxReceiveCount int           // 0: no redrive
}

// Queue is an in-memory queue. The zero value is not usable; call New.
type Queue struct {
	opts Options

	mu       sync.Mutex
	ready    []*message          // visible messages, oldest first
	inflight map[string]*message // by current receipt handle
	changed  chan struct{}       // closed and replaced whenever a message becomes visible
	seq      int
	missing  bool
}

type message struct {
	id, body     string
	receiveCount int
	handle       string
	visibleAt    time.Time
}

var _ queue.Queue = (*Queue)(nil)

// New returns an empty queue.
func New(opts Options) *Queue {
	return &Queue{opts: opts, inflight: map[string]*message{}, changed: make(chan struct{})}
}

// Send adds a message and returns its id.
func (q *Queue) Send(body string) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	m := &message{id: "msg-" + strconv.Itoa(q.seq), body: body}
	q.pushLocked(m)
	return m.id
}

// Remove makes the queue behave as deleted: every later call fails with queue.ErrQueueNotFound.
func (q *Queue) Remove() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.missing = true
}

// Counts reports the visible and the in-flight (received, not yet visible again) messages.
func (q *Queue) Counts() (visible, inflight int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.expireLocked(time.Now())
	return len(q.ready), len(q.inflight)
}

// Bodies returns the bodies of all messages in the queue, visible or not.
func (q *Queue) Bodies() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for _, m := range q.ready {
		out = append(out, m.body)
	}
	for _, m := range q.inflight {
		out = append(out, m.body)
	}
	return out
}

// Receive implements queue.Queue.
func (q *Queue) Receive(ctx context.Context, max int, wait time.Duration) ([]queue.Message, error) {
	deadline := time.Now().Add(wait)
	for {
		q.mu.Lock()
		if q.missing {
			q.mu.Unlock()
			return nil, fmt.Errorf("receive messages: %w", queue.ErrQueueNotFound)
		}
		now := time.Now()
		q.expireLocked(now)
		var out []queue.Message
		for len(out) < max && len(q.ready) > 0 {
			m := q.ready[0]
			q.ready[0] = nil
			q.ready = q.ready[1:]
			if q.opts.DeadLetter != nil && q.opts.MaxReceiveCount > 0 && m.receiveCount >= q.opts.MaxReceiveCount {
				q.opts.DeadLetter.redrive(m)
				continue
			}
			q.seq++
			m.receiveCount++
			m.handle = m.id + "/" + strconv.Itoa(q.seq)
			m.visibleAt = now.Add(q.opts.Visibility)
			q.inflight[m.handle] = m
			out = append(out, queue.Message{ID: m.id, ReceiptHandle: m.handle, Body: m.body, ReceiveCount: m.receiveCount})
		}
		if len(out) > 0 || !now.Before(deadline) {
			q.mu.Unlock()
			return out, nil
		}
		wake := deadline
		for _, m := range q.inflight {
			if m.visibleAt.Before(wake) {
				wake = m.visibleAt
			}
		}
		changed := q.changed
		q.mu.Unlock()

		t := time.NewTimer(time.Until(wake))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// Delete implements queue.Queue.
func (q *Queue) Delete(ctx context.Context, m queue.Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.missing {
		return fmt.Errorf("delete message %s: %w", m.ID, queue.ErrQueueNotFound)
	}
	if _, ok := q.inflight[m.ReceiptHandle]; ok {
		delete(q.inflight, m.ReceiptHandle)
		return nil
	}
	for i, r := range q.ready { // visible again, but not received by anyone since
		if r.handle == m.ReceiptHandle {
			q.ready = append(q.ready[:i], q.ready[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("delete message %s: %w", m.ID, queue.ErrReceiptInvalid)
}

// ChangeVisibility implements queue.Queue.
func (q *Queue) ChangeVisibility(ctx context.Context, m queue.Message, d time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.missing {
		return fmt.Errorf("change visibility of message %s: %w", m.ID, queue.ErrQueueNotFound)
	}
	now := time.Now()
	q.expireLocked(now)
	msg, ok := q.inflight[m.ReceiptHandle]
	if !ok {
		return fmt.Errorf("change visibility of message %s: %w", m.ID, queue.ErrReceiptInvalid)
	}
	msg.visibleAt = now.Add(d)
	if d <= 0 {
		q.expireLocked(now)
	}
	return nil
}

// Attributes implements queue.Queue.
func (q *Queue) Attributes(ctx context.Context) (queue.Attributes, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.missing {
		return queue.Attributes{}, fmt.Errorf("get queue attributes: %w", queue.ErrQueueNotFound)
	}
	a := queue.Attributes{Visibility: q.opts.Visibility}
	if q.opts.DeadLetter != nil {
		a.MaxReceiveCount = q.opts.MaxReceiveCount
	}
	return a, nil
}

func (q *Queue) redrive(m *message) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pushLocked(m)
}

// pushLocked appends a visible message and wakes waiting receivers.
func (q *Queue) pushLocked(m *message) {
	q.ready = append(q.ready, m)
	close(q.changed)
	q.changed = make(chan struct{})
}

// expireLocked moves in-flight messages whose visibility ran out back to the visible list.
func (q *Queue) expireLocked(now time.Time) {
	for h, m := range q.inflight {
		if !m.visibleAt.After(now) {
			delete(q.inflight, h)
			q.pushLocked(m)
		}
	}
}
