package consumer

import (
	"math/rand/v2"
	"time"
)

// maxErrorBackoff caps the wait before retrying a failed queue call.
const maxErrorBackoff = 30 * time.Second

// fullJitter is a random wait in [0, min(maxErrorBackoff, base·2^attempt)], for retrying a failed call.
func fullJitter(base time.Duration, attempt int) time.Duration {
	return rand.N(exp(base, attempt, maxErrorBackoff) + 1)
}

// retryDelay is how long a failed job's message stays invisible after its receiveCount-th receive:
// RetryDelay doubled for each receive before, capped at MaxRetryDelay, with "equal jitter" (a random
// value in the upper half), so that retries spread out but never come at once. After the last
// receive the queue's redrive policy allows, it is 0: the next receive moves the message to the
// dead-letter queue, and waiting for that would only delay it.
func (r *runner) retryDelay(receiveCount int) time.Duration {
	if r.maxReceives > 0 && receiveCount >= r.maxReceives {
		return 0
	}
	d := exp(r.cfg.RetryDelay, max(receiveCount, 1)-1, r.cfg.MaxRetryDelay)
	return d/2 + rand.N(d/2+1)
}

// exp is min(limit, base·2^n), without overflow.
func exp(base time.Duration, n int, limit time.Duration) time.Duration {
	d := base
	for range n {
		if d >= limit/2 {
			return limit
		}
		d *= 2
	}
	return min(d, limit)
}
