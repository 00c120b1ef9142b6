package sqsqueue_test

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cfnbuild/cfnbuild/worker/internal/motoserver"
	"github.com/cfnbuild/cfnbuild/worker/internal/queue"
	"github.com/cfnbuild/cfnbuild/worker/internal/queuetest"
	"github.com/cfnbuild/cfnbuild/worker/internal/sqsqueue"
)

var moto motoserver.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	moto.Stop()
	os.Exit(code)
}

type harness struct{}

var queueSeq atomic.Int64

// queueName is unique per test, for the one moto the package shares.
func queueName(t *testing.T) string {
	name := strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())
	return fmt.Sprintf("%.60s-%d", name, queueSeq.Add(1))
}

func (harness) MakeQueue(t *testing.T, opts queuetest.Options) queuetest.Fixture {
	srv := moto.Get(t)
	q := srv.CreateQueue(t, queueName(t), motoserver.QueueOptions{Visibility: opts.Visibility, MaxReceiveCount: opts.MaxReceiveCount})
	return queuetest.Fixture{
		Queue:  sqsqueue.New(srv.Client(), q.URL),
		Send:   func(bodies ...string) { srv.Send(t, q.URL, bodies...) },
		Counts: func() (int, int) { return srv.Counts(t, q.URL) },
		DeadLetters: func() []string {
			if q.DLQURL == "" {
				return nil
			}
			return srv.Drain(t, q.DLQURL)
		},
	}
}

func (harness) MissingQueue(t *testing.T) queue.Queue {
	srv := moto.Get(t)
	return sqsqueue.New(srv.Client(), srv.URL+"/123456789012/no-such-queue")
}

func TestConformance(t *testing.T) {
	queuetest.Run(t, harness{})
}
