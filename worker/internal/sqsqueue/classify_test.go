package sqsqueue

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/cfnbuild/cfnbuild/worker/internal/queue"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		code string
		want error // nil: no queue error
	}{
		{"AWS.SimpleQueueService.NonExistentQueue", queue.ErrQueueNotFound},
		{"QueueDoesNotExist", queue.ErrQueueNotFound},
		{"ReceiptHandleIsInvalid", queue.ErrReceiptInvalid},
		{"MessageNotInflight", queue.ErrReceiptInvalid},
		{"AWS.SimpleQueueService.MessageNotInflight", queue.ErrReceiptInvalid},
		{"InvalidParameterValue", queue.ErrReceiptInvalid},
		{"RequestThrottled", nil},
		{"AccessDenied", nil},
		{"InternalError", nil},
	} {
		apiErr := &smithy.GenericAPIError{Code: tc.code, Message: "m"}
		err := classify(fmt.Errorf("operation error SQS: %w", apiErr))
		for _, sentinel := range []error{queue.ErrQueueNotFound, queue.ErrReceiptInvalid} {
			if got, want := errors.Is(err, sentinel), sentinel == tc.want; got != want {
				t.Errorf("classify(%s): errors.Is(%v) = %t; want %t", tc.code, sentinel, got, want)
			}
		}
		if !errors.As(err, new(smithy.APIError)) {
			t.Errorf("classify(%s) = %v; want it to keep the API error", tc.code, err)
		}
	}
	if err := errors.New("dial tcp: refused"); classify(err) != err {
		t.Errorf("classify(non-API error) changed it")
	}
}

func TestSeconds(t *testing.T) {
	for _, tc := range []struct {
		d    string
		want int32
	}{{"0s", 0}, {"-1s", 0}, {"1ns", 1}, {"1s", 1}, {"1.2s", 2}, {"20s", 20}, {"300s", 300}} {
		d, _ := time.ParseDuration(tc.d)
		if got := seconds(d); got != tc.want {
			t.Errorf("seconds(%s) = %d; want %d", tc.d, got, tc.want)
		}
	}
}

func TestParseAttributes(t *testing.T) {
	for _, tc := range []struct {
		attrs map[string]string
		want  queue.Attributes
		err   string
	}{
		{map[string]string{"VisibilityTimeout": "300"}, queue.Attributes{Visibility: 300 * time.Second}, ""},
		{map[string]string{"VisibilityTimeout": "30", "RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:dlq","maxReceiveCount":3}`},
			queue.Attributes{Visibility: 30 * time.Second, MaxReceiveCount: 3}, ""},
		{map[string]string{"VisibilityTimeout": "30", "RedrivePolicy": `{"deadLetterTargetArn":"arn","maxReceiveCount":"5"}`},
			queue.Attributes{Visibility: 30 * time.Second, MaxReceiveCount: 5}, ""},
		{map[string]string{}, queue.Attributes{}, `read queue attributes: VisibilityTimeout "" is not a number of seconds`},
		{map[string]string{"VisibilityTimeout": "30", "RedrivePolicy": `{"maxReceiveCount":"many"}`}, queue.Attributes{},
			`read queue attributes: RedrivePolicy "{\"maxReceiveCount\":\"many\"}": maxReceiveCount is not a positive integer`},
	} {
		got, err := parseAttributes(tc.attrs)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("parseAttributes(%v) error = %v; want %s", tc.attrs, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseAttributes(%v) = %+v, %v; want %+v", tc.attrs, got, err, tc.want)
		}
	}
}
