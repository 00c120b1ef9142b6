// Package queue defines the small interface the worker needs from a message queue, the message it
// hands out, and the errors every implementation reports the same way.
package queue

import (
	"context"
	"errors"
	"time"
)

// Message is one received message. Its receipt handle is valid until the message is deleted or
// becomes visible again and is received by someone else.
type Message struct {
	ID            string // the queue's id for the message (SQS MessageId), stable across receives
	ReceiptHandle string // proof of this receive; used to delete it or change its visibility
	Body          string
	ReceiveCount  int // how many times the message has been received, this receive included
}

// Queue is what the consumer needs from a queue with visibility timeouts, like SQS.
type Queue interface {
	// Receive waits up to wait for at least one visible message and returns at most max of them,
	// each now invisible for the queue's visibility timeout. No messages and a nil error means the
	// wait ended empty.
	Receive(ctx context.Context, max int, wait time.Duration) ([]Message, error)
	// Delete removes a received message for good.
	Delete(ctx context.Context, m Message) error
	// ChangeVisibility makes a received message visible again after d from now (0: at once).
	ChangeVisibility(ctx context.Context, m Message, d time.Duration) error
	// Attributes reports the queue's settings. It also proves the queue exists: a missing queue
	// gives ErrQueueNotFound.
	Attributes(ctx context.Context) (Attributes, error)
}

// Attributes are the settings of a queue that the consumer uses.
type Attributes struct {
	Visibility time.Duration // default visibility timeout of a received message
	// MaxReceiveCount is how many receives of a message the queue allows before it moves the
	// message to its dead-letter queue, on the next receive; 0 without a redrive policy.
	MaxReceiveCount int
}

var (
	// ErrQueueNotFound means the queue does not exist. Retrying does not help.
	ErrQueueNotFound = errors.New("queue does not exist")
	// ErrReceiptInvalid means the receipt handle no longer refers to an in-flight message (it was
	// deleted, or its visibility ran out). Retrying with the same handle does not help.
	ErrReceiptInvalid = errors.New("receipt handle is no longer valid")
)

// Permanent reports whether retrying the call that returned err cannot succeed.
func Permanent(err error) bool {
	return errors.Is(err, ErrQueueNotFound) || errors.Is(err, ErrReceiptInvalid)
}
