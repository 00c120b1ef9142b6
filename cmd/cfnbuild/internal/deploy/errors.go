package deploy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"
)

// ErrNoChanges is returned by Deploy when the change set holds no changes: the stack is already
// as asked. The CLI reports it as success unless told otherwise.
var ErrNoChanges = errors.New("no changes")

// StackFailedError is a stack operation that ended in a failure status (a rolled-back create or
// update, a failed delete). Reasons are the resources that failed, the root cause first.
type StackFailedError struct {
	Stack   string
	Status  string
	Reasons []ResourceFailure
}

// ResourceFailure is one resource's failure event.
type ResourceFailure struct {
	LogicalID  string
	PhysicalID string
	Type       string
	Status     string
	Reason     string
}

func (f ResourceFailure) String() string {
	s := fmt.Sprintf("%s (%s) %s", f.LogicalID, f.Type, f.Status)
	if f.Reason != "" {
		s += ": " + f.Reason
	}
	return s
}

func (e *StackFailedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stack %q ended in %s", e.Stack, e.Status)
	switch len(e.Reasons) {
	case 0:
	case 1:
		b.WriteString(": " + e.Reasons[0].String())
	default:
		b.WriteString(":")
		for _, r := range e.Reasons {
			b.WriteString("\n  " + r.String())
		}
	}
	return b.String()
}

// StackBusyError is a stack that another operation is changing (a status ending in _IN_PROGRESS).
type StackBusyError struct {
	Stack  string
	Status string
	Err    error // the API's answer, when an API call was refused
}

func (e *StackBusyError) Error() string {
	return fmt.Sprintf("stack %q is being changed by another operation (%s): wait for it to finish, then try again", e.Stack, e.Status)
}

func (e *StackBusyError) Unwrap() error { return e.Err }

// TemplateTooLargeError is a template over CloudFormation's TemplateBody limit with no S3 bucket
// to upload it to.
type TemplateTooLargeError struct {
	Size int
}

func (e *TemplateTooLargeError) Error() string {
	return fmt.Sprintf("template is %d bytes, over CloudFormation's 51,200-byte TemplateBody limit", e.Size)
}

// The AWS error codes and messages cfnbuild acts on. Everything that looks at an API error's code
// or text is in this file.
const (
	codeValidation          = "ValidationError"
	codeThrottling          = "Throttling"
	codeThrottlingException = "ThrottlingException"
	codeRequestLimit        = "RequestLimitExceeded"
	codeTooManyRequests     = "TooManyRequestsException"
)

// awsErrorCode returns the AWS error code of err ("ValidationError", "Throttling", ...), or "" when
// err is not an API error.
func awsErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// awsErrorMessage returns the API's own message of err, or "".
func awsErrorMessage(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorMessage()
	}
	return ""
}

// isThrottling reports whether err is AWS refusing a call for its rate.
func isThrottling(err error) bool {
	switch awsErrorCode(err) {
	case codeThrottling, codeThrottlingException, codeRequestLimit, codeTooManyRequests:
		return true
	}
	return false
}

// IsStackNotFound reports whether err is CloudFormation saying a stack does not exist: a
// ValidationError "Stack with id NAME does not exist". It is the test callers outside this package
// should use too.
func IsStackNotFound(err error) bool { return isStackNotFound(err) }

func isStackNotFound(err error) bool {
	return awsErrorCode(err) == codeValidation && strings.Contains(awsErrorMessage(err), "does not exist")
}

// isNoUpdates reports whether err is CreateChangeSet refusing an update with no changes, as some
// implementations (moto) answer instead of creating an empty FAILED change set.
func isNoUpdates(err error) bool {
	return awsErrorCode(err) == codeValidation && isNoChangesReason(awsErrorMessage(err))
}

// isNoChangesReason reports whether a FAILED change set's StatusReason says it is empty:
// "The submitted information didn't contain changes. Submit different information to create a
// change set." or "No updates are to be performed.".
func isNoChangesReason(reason string) bool {
	return strings.Contains(reason, "didn't contain changes") || strings.Contains(reason, "No updates are to be performed")
}

// isCancelledNoise reports whether a failure event's reason only says that CloudFormation stopped
// the resource because another one failed, not why.
func isCancelledNoise(reason string) bool {
	return strings.Contains(reason, "Resource creation cancelled") || strings.Contains(reason, "Resource update cancelled")
}

// apiError shows the API's own message instead of the SDK's "operation error ...: https response
// error StatusCode: 400, RequestID: ..., api error ValidationError: " wrapping; errors.As still
// finds the SDK's error inside.
type apiError struct{ err error }

func (e *apiError) Error() string {
	if msg := awsErrorMessage(e.err); msg != "" {
		return msg
	}
	return e.err.Error()
}

func (e *apiError) Unwrap() error { return e.err }

// cleanAPIError wraps an API error so that it prints as the API's message.
func cleanAPIError(err error) error {
	if err == nil || awsErrorMessage(err) == "" {
		return err
	}
	return &apiError{err: err}
}
