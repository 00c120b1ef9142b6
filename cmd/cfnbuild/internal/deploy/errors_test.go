package deploy

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"
)

func apiErr(code, msg string) error {
	// As the SDK returns them: the API error inside an operation error.
	return fmt.Errorf("operation error CloudFormation: DescribeStacks: %w", &smithy.GenericAPIError{Code: code, Message: msg})
}

func TestAWSErrorClassification(t *testing.T) {
	tests := []struct {
		err                                     error
		code                                    string
		throttling, notFound, noUpdates, cleans bool
	}{
		{err: apiErr("Throttling", "Rate exceeded"), code: "Throttling", throttling: true, cleans: true},
		{err: apiErr("ThrottlingException", "slow down"), code: "ThrottlingException", throttling: true, cleans: true},
		{err: apiErr("RequestLimitExceeded", "slow down"), code: "RequestLimitExceeded", throttling: true, cleans: true},
		{err: apiErr("ValidationError", "Stack with id jobs does not exist"), code: "ValidationError", notFound: true, cleans: true},
		{err: apiErr("ValidationError", "No updates are to be performed."), code: "ValidationError", noUpdates: true, cleans: true},
		{err: apiErr("ValidationError", "Parameters: [ImageUri] must have values"), code: "ValidationError", cleans: true},
		{err: apiErr("AccessDenied", "Stack with id jobs does not exist"), code: "AccessDenied", cleans: true}, // only a ValidationError says "not found"
		{err: errors.New("dial tcp: connection refused"), code: ""},
	}
	for _, tt := range tests {
		if got := awsErrorCode(tt.err); got != tt.code {
			t.Errorf("awsErrorCode(%v) = %q, want %q", tt.err, got, tt.code)
		}
		if got := isThrottling(tt.err); got != tt.throttling {
			t.Errorf("isThrottling(%v) = %v, want %v", tt.err, got, tt.throttling)
		}
		if got := isStackNotFound(tt.err); got != tt.notFound {
			t.Errorf("isStackNotFound(%v) = %v, want %v", tt.err, got, tt.notFound)
		}
		if got := isNoUpdates(tt.err); got != tt.noUpdates {
			t.Errorf("isNoUpdates(%v) = %v, want %v", tt.err, got, tt.noUpdates)
		}
		cleaned := cleanAPIError(tt.err)
		if tt.cleans && cleaned.Error() != awsErrorMessage(tt.err) {
			t.Errorf("cleanAPIError(%v) = %q, want the API's message %q", tt.err, cleaned, awsErrorMessage(tt.err))
		}
		if !errors.Is(cleaned, tt.err) {
			t.Errorf("cleanAPIError(%v) lost the error it wraps", tt.err)
		}
	}
}

func TestChangeSetReasons(t *testing.T) {
	tests := []struct {
		reason           string
		noChanges, noise bool
	}{
		{reason: "The submitted information didn't contain changes. Submit different information to create a change set.", noChanges: true},
		{reason: "No updates are to be performed.", noChanges: true},
		{reason: "Template format error: Unresolved resource dependencies [Queue] in the Resources block of the template"},
		{reason: "Resource creation cancelled", noise: true},
		{reason: "Resource update cancelled", noise: true},
		{reason: `Resource handler returned message: "Access Denied" (RequestToken: 1, HandlerErrorCode: AccessDenied)`},
	}
	for _, tt := range tests {
		if got := isNoChangesReason(tt.reason); got != tt.noChanges {
			t.Errorf("isNoChangesReason(%q) = %v, want %v", tt.reason, got, tt.noChanges)
		}
		if got := isCancelledNoise(tt.reason); got != tt.noise {
			t.Errorf("isCancelledNoise(%q) = %v, want %v", tt.reason, got, tt.noise)
		}
	}
}

func TestS3URL(t *testing.T) {
	tests := []struct{ bucket, region, key, want string }{
		{"b", "us-east-1", "cfn/jobs-ab.json", "https://b.s3.us-east-1.amazonaws.com/cfn/jobs-ab.json"},
		{"b", "cn-north-1", "jobs-ab.json", "https://b.s3.cn-north-1.amazonaws.com.cn/jobs-ab.json"},
	}
	for _, tt := range tests {
		if got := s3URL(tt.bucket, tt.region, tt.key); got != tt.want {
			t.Errorf("s3URL(%q, %q, %q) = %q, want %q", tt.bucket, tt.region, tt.key, got, tt.want)
		}
	}
}
