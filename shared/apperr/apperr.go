// Package apperr holds edugrid's one application error type.
//
// Domain code returns *Error values (or wraps them with fmt.Errorf and %w) when the caller did something the
// product refuses: bad input, a missing object, a conflict. Anything that is not an *Error is an internal
// failure; the HTTP layer reports it as "Internal error." and logs the detail, so internals never reach a
// user. The mapping from Code to HTTP status lives in shared/httpapi and nowhere else.
package apperr

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error code. Frontends switch on it; never rename one.
type Code string

// The codes every area shares.
const (
	Invalid         Code = "invalid"           // the request is malformed or fails validation
	Unauthenticated Code = "unauthenticated"   // no usable credentials
	Forbidden       Code = "forbidden"         // authenticated, but the action is not allowed
	NotFound        Code = "not_found"         // no such object, or the caller may not see it
	Conflict        Code = "conflict"          // the object exists or changed under the caller
	TooLarge        Code = "payload_too_large" // the request body is over the limit
	UnsupportedType Code = "unsupported_media_type"
	// MethodNotAllowed: the path exists but does not answer the request's method (the answer's Allow
	// header lists the methods it does answer).
	MethodNotAllowed Code = "method_not_allowed"
	RateLimited      Code = "rate_limited"     // too many attempts; retry later
	Suspended        Code = "tenant_suspended" // the institution's access is suspended
	Unavailable      Code = "unavailable"      // a dependency is down; retry later
	Internal         Code = "internal"         // anything unexpected
)

// Error is an error the product means to show to its caller. Message is safe to show to a user; it never
// carries internals such as database errors.
type Error struct {
	Code    Code
	Message string
	// Fields names offending input fields and why, for validation errors.
	Fields map[string]string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// InvalidField returns an Invalid error naming one field.
func InvalidField(field, problem string) *Error {
	return &Error{Code: Invalid, Message: field + ": " + problem, Fields: map[string]string{field: problem}}
}

// CodeOf returns the code of the first *Error in err's chain, Internal for any other non-nil error, and ""
// for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// As returns the first *Error in err's chain, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
