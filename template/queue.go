package template

import (
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/cloudwatch"
	"github.com/awslabs/goformation/v7/cloudformation/sqs"
)

// Queue settings that are not configuration.
const (
	// LongPollSeconds is the queue's ReceiveMessageWaitTimeSeconds, SQS's maximum.
	LongPollSeconds = 20
	// MaxMessageBytes is SQS's largest message, 256 KiB; set explicitly for reviewers.
	MaxMessageBytes = 262144
	// JobRetentionSeconds keeps an unprocessed job 4 days (SQS's default, stated).
	JobRetentionSeconds = 345600
	// DeadLetterRetentionSeconds keeps a failed job 14 days, SQS's maximum.
	DeadLetterRetentionSeconds = 1209600
	// MetricPeriod is the period, in seconds, of every alarm.
	MetricPeriod = 60
)

// queue adds the jobs queue and its dead-letter queue (both with SQS-managed encryption, both
// refusing requests without TLS), and an alarm on any message reaching the DLQ.
func queue(t *cloudformation.Template) {
	t.Resources[LogicalDeadLetterQueue] = &sqs.Queue{
		SqsManagedSseEnabled:   boolp(true),
		MessageRetentionPeriod: intp(DeadLetterRetentionSeconds),
		MaximumMessageSize:     intp(MaxMessageBytes),
	}
	t.Resources[LogicalJobsQueue] = withProperties{&sqs.Queue{
		SqsManagedSseEnabled:          boolp(true),
		ReceiveMessageWaitTimeSeconds: intp(LongPollSeconds),
		MaximumMessageSize:            intp(MaxMessageBytes),
		MessageRetentionPeriod:        intp(JobRetentionSeconds),
		RedrivePolicy: map[string]any{
			"deadLetterTargetArn": arn(LogicalDeadLetterQueue),
			"maxReceiveCount":     ref(ParamMaxReceiveCount),
		},
	}, map[string]any{
		// The worker's heartbeat extends a running job's visibility; a job that dies is retried after this.
		"VisibilityTimeout": ref(ParamJobTimeout),
	}}
	t.Resources[LogicalQueuePolicy] = &sqs.QueuePolicy{
		Queues: []string{ref(LogicalJobsQueue), ref(LogicalDeadLetterQueue)},
		PolicyDocument: policy(map[string]any{
			"Sid":       "DenyWithoutTLS",
			"Effect":    "Deny",
			"Principal": "*",
			"Action":    "sqs:*",
			"Resource":  []string{arn(LogicalJobsQueue), arn(LogicalDeadLetterQueue)},
			"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
		}),
	}
	t.Resources[LogicalDeadLetterAlarm] = &cloudwatch.Alarm{
		AlarmDescription:   str("jobs failed maxReceiveCount times and are waiting in the dead-letter queue"),
		Namespace:          str("AWS/SQS"),
		MetricName:         str("ApproximateNumberOfMessagesVisible"),
		Dimensions:         []cloudwatch.Alarm_Dimension{{Name: "QueueName", Value: getAtt(LogicalDeadLetterQueue, "QueueName")}},
		Statistic:          str("Maximum"),
		Period:             intp(MetricPeriod),
		EvaluationPeriods:  1,
		Threshold:          float(0),
		ComparisonOperator: "GreaterThanThreshold",
		TreatMissingData:   str("notBreaching"),
	}
}

// policy wraps IAM statements in a 2012-10-17 policy document.
func policy(statements ...map[string]any) map[string]any {
	list := make([]any, len(statements))
	for i, s := range statements {
		list[i] = s
	}
	return map[string]any{"Version": "2012-10-17", "Statement": list}
}
