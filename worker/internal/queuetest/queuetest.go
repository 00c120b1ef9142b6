// Package queuetest is the conformance suite for queue.Queue: the in-memory queue and the SQS
// queue (against moto_server) both pass it, so tests that use the in-memory queue stand for SQS.
package queuetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cfnbuild/cfnbuild/worker/internal/queue"
)

// Options configure a queue made by a Harness.
type Options struct {
	Visibility      time.Duration // whole seconds
	MaxReceiveCount int           // > 0: redrive to a dead-letter queue after that many receives
}

// Fixture is one fresh queue and the test's back doors into it.
type Fixture struct {
	Queue       queue.Queue
	Send        func(bodies ...string)
	Counts      func() (visible, inflight int)
	DeadLetters func() []string // bodies now in the dead-letter queue
}

// Harness makes queues for the suite.
type Harness interface {
	MakeQueue(t *testing.T, opts Options) Fixture
	MissingQueue(t *testing.T) queue.Queue // a queue that does not exist
}

// Run runs the conformance suite.
func Run(t *testing.T, h Harness) {
	ctx := context.Background()
	const wait = time.Second // short long-polls where nothing is expected

	t.Run("ReceiveEmpty", func(t *testing.T) {
		t.Parallel()
		f := h.MakeQueue(t, Options{Visibility: 30 * time.Second})
		got, err := f.Queue.Receive(ctx, 10, wait)
		if err != nil || len(got) != 0 {
			t.Fatalf("Receive on an empty queue = %v, %v; want no messages, nil", got, err)
		}
	})

	t.Run("ReceiveReturnsSentMessages", func(t *testing.T) {
		t.Parallel()
		f := h.MakeQueue(t, Options{Visibility: 30 * time.Second})
		f.Send("a", "b", "c")
		got := receiveN(t, f.Queue, 3)
		var bodies []string
		ids := map[string]bool{}
		for _, m := range got {
			bodies = append(bodies, m.Body)
			ids[m.ID] = true
			if m.ID == "" || m.ReceiptHandle == "" || m.ReceiveCount != 1 {
				t.Errorf("received %+v; want an id, a receipt handle and ReceiveCount 1", m)
			}
		}
		slices.Sort(bodies)
		if !slices.Equal(bodies, []string{"a", "b", "c"}) || len(ids) != 3 {
			t.Errorf("received bodies %q with %d distinct ids; want [a b c] with 3", bodies, len(ids))
		}
		if v, in := f.Counts(); v != 0 || in != 3 {
			t.Errorf("counts after receiving all = %d visible, %d in flight; want 0, 3", v, in)
		}
	})

	t.Run("ReceiveHonoursMax", func(t *testing.T) {
		t.Parallel()
		f := h.MakeQueue(t, Options{Visibility: 30 * time.Second})
		f.Send("1", "2", "3", "4", "5")
		got, err := f.Queue.Receive(ctx, 2, wait)
		if err != nil || len(got) < 1 || len(got) > 2 {
			t.Fatalf("Receive(max 2) of 5 = %d messages, %v; want 1 or 2, nil", len(got), err)
		}
	})

	t.Run("ReceivedMessageIsInvisible", func(t *testing.T) {
		t.Parallel()
		f := h.MakeQueue(t, Options{Visibility: 30 * time.Second})
		f.Send("x")
		receiveN(t, f.Queue, 1)
		got, err := f.Queue.Receive(ctx, 10, wait)
		if err != nil || len(got) != 0 {
			t.Fatalf("second Receive = %v, %v; want no messages while the first is in flight", got, err)
		}
	})

	t.Run("ChangeVisibilityZeroRedelivers", func(t *testing.T) {
		t.Parallel()
		f := h.MakeQueue(t, Options{Visibility: 30 * time.Second})
		f.Send("x")
		first := receiveN(t, f.Queue, 1)[0]
		if err := f.Queue.ChangeVisibility(ctx, first, 0); err != nil {
			t.Fatalf("ChangeVisibility(0): %v", err)
		}
		if v, in := f.Counts(); v != 1 || in != 0 {
			t.Errorf("counts after ChangeVisibility(0) = %d visible, %d in flight; want 1, 0", v, in)
		}
		again := receiveN(t, f.Queue, 1)[0]
		if again.ID != first.ID || again.ReceiveCount != 2 || again.Body != "x" {
			t.Errorf("received again %+v; want id %s, body x, ReceiveCount 2", again, first.ID)
		}
	})

	t.Run("VisibilityTimeoutExpires", func(t *testing.T) {
		t.Parallel()
		f := h.MakeQueue(t, Options{Visibility: time.Second})
		f.Send("x")
		first := receiveN(t, f.Queue, 1)[0]
		again := receiveN(t, f.Queue, 1)[0]
		if again.ID != first.ID || again.ReceiveCount != 2 {
			t.Errorf("received after the visibility timeout %+v; want id %s with ReceiveCount 2", again, first.ID)
		}
	})

	t.Run("ChangeVisibilityExtends", func(t *testing.T) {
		t.Parallel()
		f := h.MakeQueue(t, Options{Visibility: time.Second})
		f.Send("x")
		m := receiveN(t, f.Queue, 1)[0]
		if err := f.Queue.ChangeVisibility(ctx, m, 30*time.Second); err != nil {
			t.Fatalf("ChangeVisibility(30s): %v", err)
		}
		got, err := f.Queue.Receive(ctx, 10, 2*time.Second)
		if err != nil || len(got) != 0 {
			t.Fatalf("Receive after extending visibility = %v, %v; want no messages", got, err)
		}
	})

	t.Run("DeleteRemoves", func(t *testing.T) {
		t.Parallel()
		f := h.MakeQueue(t, Options{Visibility: 30 * time.Second})
		f.Send("x")
		m := receiveN(t, f.Queue, 1)[0]
		if err := f.Queue.Delete(ctx, m); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if v, in := f.Counts(); v != 0 || in != 0 {
			t.Errorf("counts after Delete = %d visible, %d in flight; want 0, 0", v, in)
		}
		err := f.Queue.ChangeVisibility(ctx, m, 0)
		if !errors.Is(err, queue.ErrReceiptInvalid) {
			t.Errorf("ChangeVisibility of a deleted message = %v; want ErrReceiptInvalid", err)
		}
	})

	t.Run("AttributesReported", func(t *testing.T) {
		t.Parallel()
		for _, want := range []queue.Attributes{{Visibility: 7 * time.Second}, {Visibility: 30 * time.Second, MaxReceiveCount: 4}} {
			f := h.MakeQueue(t, Options{Visibility: want.Visibility, MaxReceiveCount: want.MaxReceiveCount})
			got, err := f.Queue.Attributes(ctx)
			if err != nil || got != want {
				t.Errorf("Attributes = %+v, %v; want %+v, nil", got, err, want)
			}
		}
	})

	t.Run("RedriveToDeadLetterQueue", func(t *testing.T) {
		t.Parallel()
		f := h.MakeQueue(t, Options{Visibility: 30 * time.Second, MaxReceiveCount: 2})
		f.Send("poison")
		for i := 1; i <= 2; i++ {
			m := receiveN(t, f.Queue, 1)[0]
			if m.ReceiveCount != i {
				t.Errorf("receive %d: ReceiveCount = %d", i, m.ReceiveCount)
			}
			if err := f.Queue.ChangeVisibility(ctx, m, 0); err != nil {
				t.Fatalf("ChangeVisibility(0): %v", err)
			}
		}
		got, err := f.Queue.Receive(ctx, 10, wait)
		if err != nil || len(got) != 0 {
			t.Fatalf("third Receive = %v, %v; want no messages: the message belongs in the dead-letter queue", got, err)
		}
		if dl := f.DeadLetters(); !slices.Equal(dl, []string{"poison"}) {
			t.Errorf("dead-letter queue holds %q; want [poison]", dl)
		}
	})

	t.Run("LongPollWakesOnSend", func(t *testing.T) {
		t.Parallel()
		f := h.MakeQueue(t, Options{Visibility: 30 * time.Second})
		type result struct {
			msgs []queue.Message
			err  error
		}
		done := make(chan result, 1)
		go func() {
			m, err := f.Queue.Receive(ctx, 10, 20*time.Second)
			done <- result{m, err}
		}()
		time.Sleep(300 * time.Millisecond) // let the poll start; correctness does not depend on it
		f.Send("late")
		r := <-done
		if r.err != nil || len(r.msgs) != 1 || r.msgs[0].Body != "late" {
			t.Fatalf("long poll = %v, %v; want the message sent while it waited", r.msgs, r.err)
		}
	})

	t.Run("ReceiveCanceled", func(t *testing.T) {
		t.Parallel()
		f := h.MakeQueue(t, Options{Visibility: 30 * time.Second})
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(200*time.Millisecond, cancel)
		_, err := f.Queue.Receive(cctx, 10, 20*time.Second)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Receive with a canceled context = %v; want context.Canceled", err)
		}
	})

	t.Run("MissingQueue", func(t *testing.T) {
		t.Parallel()
		q := h.MissingQueue(t)
		if _, err := q.Attributes(ctx); !errors.Is(err, queue.ErrQueueNotFound) {
			t.Errorf("Attributes of a missing queue = %v; want ErrQueueNotFound", err)
		}
		if _, err := q.Receive(ctx, 1, 0); !errors.Is(err, queue.ErrQueueNotFound) {
			t.Errorf("Receive from a missing queue = %v; want ErrQueueNotFound", err)
		}
	})
}

// receiveN receives until it has n messages, failing t after a generous deadline.
func receiveN(t *testing.T, q queue.Queue, n int) []queue.Message {
	t.Helper()
	var got []queue.Message
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < n {
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d messages before the deadline", len(got), n)
		}
		m, err := q.Receive(context.Background(), n-len(got), 5*time.Second)
		if err != nil {
			t.Fatalf("Receive: %v", err)
		}
		got = append(got, m...)
	}
	return got
}
