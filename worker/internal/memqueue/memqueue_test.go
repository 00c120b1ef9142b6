package memqueue_test

import (
	"testing"

	"github.com/cfnbuild/cfnbuild/worker/internal/memqueue"
	"github.com/cfnbuild/cfnbuild/worker/internal/queue"
	"github.com/cfnbuild/cfnbuild/worker/internal/queuetest"
)

type harness struct{}

func (harness) MakeQueue(t *testing.T, opts queuetest.Options) queuetest.Fixture {
	var dlq *memqueue.Queue
	if opts.MaxReceiveCount > 0 {
		dlq = memqueue.New(memqueue.Options{})
	}
	q := memqueue.New(memqueue.Options{Visibility: opts.Visibility, DeadLetter: dlq, MaxReceiveCount: opts.MaxReceiveCount})
	return queuetest.Fixture{
		Queue: q,
		Send: func(bodies ...string) {
			for _, b := range bodies {
				q.Send(b)
			}
		},
		Counts: q.Counts,
		DeadLetters: func() []string {
			if dlq == nil {
				return nil
			}
			return dlq.Bodies()
		},
	}
}

func (harness) MissingQueue(t *testing.T) queue.Queue {
	q := memqueue.New(memqueue.Options{})
	q.Remove()
	return q
}

func TestConformance(t *testing.T) {
	queuetest.Run(t, harness{})
}
