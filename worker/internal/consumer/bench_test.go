package consumer_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cfnbuild/cfnbuild/worker/internal/consumer"
	"github.com/cfnbuild/cfnbuild/worker/internal/memqueue"
	"github.com/cfnbuild/cfnbuild/worker/internal/queue"
)

// BenchmarkConsumerOverhead measures what the consumer itself costs per message — receive,
// heartbeat setup, job bookkeeping, delete, the log line — with a no-op job and the in-memory
// queue, so that neither a process start nor SQS is in the figure.
func BenchmarkConsumerOverhead(b *testing.B) {
	for _, conc := range []int{1, 10} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			q := memqueue.New(memqueue.Options{Visibility: 5 * time.Minute})
			for range b.N {
				q.Send("x")
			}
			var done atomic.Int64
			finished := make(chan struct{})
			n := int64(b.N)
			cfg := consumer.Config{Concurrency: conc, PollWait: time.Millisecond}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			log := slog.New(slog.NewJSONHandler(io.Discard, nil))
			c := &consumer.Consumer{Queue: q, Config: cfg, Log: log, Job: consumer.JobFunc(func(context.Context, queue.Message) error {
				if done.Add(1) == n {
					close(finished)
				}
				return nil
			})}
			b.ReportAllocs()
			b.ResetTimer()
			ran := make(chan error, 1)
			go func() { ran <- c.Run(ctx) }()
			<-finished
			cancel()
			if err := <-ran; err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if v, in := q.Counts(); v != 0 || in != 0 {
				b.Fatalf("queue holds %d visible, %d in flight after the run; want none", v, in)
			}
		})
	}
}
