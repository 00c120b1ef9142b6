// Package consumer runs jobs for the messages of a queue: it long-polls, runs up to Concurrency
// jobs at once, deletes a message only when its job succeeded, and otherwise makes it visible
// again after a backoff, so that the queue's redrive policy moves it to the dead-letter queue
// after maxReceiveCount receives.
//
// A message that failed its last receive allowed by the queue's redrive policy is made visible at
// once instead, for the queue to move it to the dead-letter queue.
//
// Guarantees: a message is never deleted unless its job returned success; while a job runs a
// heartbeat keeps its message invisible; a job that outlives JobTimeout is stopped and its message
// retried; it never receives more messages than it can start at once. When the context passed to
// Run is canceled (SIGTERM) it stops receiving, makes received but unstarted messages visible at
// once, lets running jobs finish for up to StopTimeout, stops the rest and makes their messages
// visible at once. Killed at any instant, it loses nothing: a message not deleted reappears when
// its visibility timeout runs out. Delivery is therefore at least once.
//
// While jobs run it keeps ECS task scale-in protection on through a Protector, and turns it off
// when a receive finds the queue empty with no job running.
package consumer
