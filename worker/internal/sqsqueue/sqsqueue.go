// Package sqsqueue implements queue.Queue with Amazon SQS (aws-sdk-go-v2), mapping SQS error codes
// to the queue package's errors in one place.
package sqsqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/cfnbuild/cfnbuild/worker/internal/queue"
)

// API is the part of the SQS client the queue uses; *sqs.Client satisfies it.
type API interface {
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(context.Context, *sqs.DeleteMessageInput, ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// SQS limits the worker works within.
const (
	MaxMessages = 10               // per ReceiveMessage call
	MaxWait     = 20 * time.Second // long-poll wait per ReceiveMessage call
)

// Queue is one SQS queue, named by its URL.
type Queue struct {
	api API
	url string
}

var _ queue.Queue = (*Queue)(nil)

// New returns the queue at queueURL.
func New(api API, queueURL string) *Queue {
	return &Queue{api: api, url: queueURL}
}

// Receive implements queue.Queue. limit is clamped to 1..10 and wait to 0..20 s, rounded up to whole
// seconds, as SQS requires.
func (q *Queue) Receive(ctx context.Context, limit int, wait time.Duration) ([]queue.Message, error) {
	limit = min(MaxMessages, max(1, limit))
	out, err := q.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    &q.url,
		MaxNumberOfMessages:         int32(limit),
		WaitTimeSeconds:             seconds(min(wait, MaxWait)),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		return nil, fmt.Errorf("receive messages from %s: %w", q.url, classify(err))
	}
	msgs := make([]queue.Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		// A receive count SQS did not send, or sent garbled, reads as 0: unknown.
		n, _ := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
		msgs = append(msgs, queue.Message{
			ID:            deref(m.MessageId),
			ReceiptHandle: deref(m.ReceiptHandle),
			Body:          deref(m.Body),
			ReceiveCount:  n,
		})
	}
	return msgs, nil
}

// Delete implements queue.Queue.
func (q *Queue) Delete(ctx context.Context, m queue.Message) error {
	_, err := q.api.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &q.url, ReceiptHandle: &m.ReceiptHandle})
	if err != nil {
		return fmt.Errorf("delete message %s: %w", m.ID, classify(err))
	}
	return nil
}

// ChangeVisibility implements queue.Queue. d is rounded up to whole seconds.
func (q *Queue) ChangeVisibility(ctx context.Context, m queue.Message, d time.Duration) error {
	_, err := q.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          &q.url,
		ReceiptHandle:     &m.ReceiptHandle,
		VisibilityTimeout: seconds(d),
	})
	if err != nil {
		return fmt.Errorf("change visibility of message %s to %s: %w", m.ID, d, classify(err))
	}
	return nil
}

// Attributes implements queue.Queue with GetQueueAttributes.
func (q *Queue) Attributes(ctx context.Context) (queue.Attributes, error) {
	out, err := q.api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       &q.url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameVisibilityTimeout, types.QueueAttributeNameRedrivePolicy},
	})
	if err != nil {
		return queue.Attributes{}, fmt.Errorf("get attributes of queue %s: %w", q.url, classify(err))
	}
	return parseAttributes(out.Attributes)
}

// parseAttributes reads the VisibilityTimeout and the RedrivePolicy's maxReceiveCount, which SQS
// gives as a number or a string.
func parseAttributes(attrs map[string]string) (queue.Attributes, error) {
	var a queue.Attributes
	v := attrs[string(types.QueueAttributeNameVisibilityTimeout)]
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return a, fmt.Errorf("read queue attributes: VisibilityTimeout %q is not a number of seconds", v)
	}
	a.Visibility = time.Duration(n) * time.Second
	if p := attrs[string(types.QueueAttributeNameRedrivePolicy)]; p != "" {
		var policy struct {
			MaxReceiveCount json.RawMessage `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(p), &policy); err != nil {
			return a, fmt.Errorf("read queue attributes: RedrivePolicy %q: %w", p, err)
		}
		s := strings.Trim(string(policy.MaxReceiveCount), `"`)
		if a.MaxReceiveCount, err = strconv.Atoi(s); err != nil || a.MaxReceiveCount < 1 {
			return a, fmt.Errorf("read queue attributes: RedrivePolicy %q: maxReceiveCount is not a positive integer", p)
		}
	}
	return a, nil
}

// classify wraps err with the queue package's error for its SQS error code, if it has one. It is
// the only place that looks at SQS error codes.
func classify(err error) error {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	switch apiErr.ErrorCode() {
	case "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist":
		return fmt.Errorf("%w: %w", queue.ErrQueueNotFound, err)
	case "ReceiptHandleIsInvalid", "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight",
		// What SQS answers to ChangeMessageVisibility with a receipt handle that expired.
		"InvalidParameterValue":
		return fmt.Errorf("%w: %w", queue.ErrReceiptInvalid, err)
	}
	return err
}

// seconds rounds d up to whole seconds, as SQS takes them.
func seconds(d time.Duration) int32 {
	if d <= 0 {
		return 0
	}
	return int32((d + time.Second - 1) / time.Second)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
