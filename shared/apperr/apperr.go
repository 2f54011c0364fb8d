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
	"slices"
	"strings"
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

// Codes returns every Code, for documents and tests.
func Codes() []Code {
	return []Code{Invalid, Unauthenticated, Forbidden, NotFound, Conflict, TooLarge, UnsupportedType, MethodNotAllowed,
		RateLimited, Suspended, Unavailable, Internal}
}

// Values lists every code as the API answers it, so the API document can list them (httpapi.Enum).
func (Code) Values() []string { return stringsOf(Codes()) }

// Values lists every field code as the API answers it, so the API document can list them (httpapi.Enum).
func (FieldCode) Values() []string { return stringsOf(FieldCodes()) }

func stringsOf[T ~string](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

// Error is an error the product means to show to its caller. Message is safe to show to a user; it never
// carries internals such as database errors.
type Error struct {
	Code    Code
	Message string
	// Fields maps each offending input field to what is wrong with it, for validation errors; a conflict
	// may name the object it conflicts with here (existing_lead_id). Kept for callers written against it:
	// every constructor below fills it from Errors.
	Fields map[string]string
	// Errors lists every offending input field with a stable FieldCode, in the order they were found.
	Errors []FieldError
}

// FieldCode says what is wrong with one field, in a word a frontend can map to its own translation.
// Codes are stable: never rename one.
type FieldCode string

// The field codes.
const (
	FieldRequired   FieldCode = "required"     // missing or empty
	FieldTooLong    FieldCode = "too_long"     // more characters or entries than allowed
	FieldTooShort   FieldCode = "too_short"    // fewer characters or entries than required
	FieldOutOfRange FieldCode = "out_of_range" // a number, date or amount outside its bounds
	FieldNotAllowed FieldCode = "not_allowed"  // not one of the allowed values, or not allowed with another field
	FieldFormat     FieldCode = "format"       // not in the expected form (an id, a date, an address, plain text)
	FieldType       FieldCode = "type"         // a JSON value of the wrong type
	FieldUnknown    FieldCode = "unknown"      // a field the request does not take
	FieldDuplicate  FieldCode = "duplicate"    // named twice, or a value that must be unique is repeated
	FieldInvalid    FieldCode = "invalid"      // anything else the message explains
)

// FieldCodes returns every FieldCode, for documents and tests.
func FieldCodes() []FieldCode {
	return []FieldCode{FieldRequired, FieldTooLong, FieldTooShort, FieldOutOfRange, FieldNotAllowed, FieldFormat,
		FieldType, FieldUnknown, FieldDuplicate, FieldInvalid}
}

// FieldError is one offending field: its name as the client sent it (a JSON path such as
// "schedule.dates" or "marks[2].status"), a FieldCode and a message safe to show.
type FieldError struct {
	Field   string    `json:"field"`
	Code    FieldCode `json:"code"`
	Message string    `json:"message"`
}

// Field returns an Invalid error naming one field with a code; its Message is "field: message".
func Field(field string, code FieldCode, message string) *Error {
	return Invalidated([]FieldError{{Field: field, Code: code, Message: message}})
}

// Invalidated returns the Invalid error listing errs (at least one), or nil when errs is empty. Its
// Message joins them ("name: must be 1 to 120 characters; total: must be positive").
func Invalidated(errs []FieldError) *Error {
	if len(errs) == 0 {
		return nil
	}
	e := &Error{Code: Invalid, Fields: make(map[string]string, len(errs)), Errors: errs}
	var msg strings.Builder
	for i, fe := range errs {
		if i > 0 {
			msg.WriteString("; ")
		}
		if fe.Field != "" {
			msg.WriteString(fe.Field + ": ")
		}
		msg.WriteString(fe.Message)
		if _, seen := e.Fields[fe.Field]; !seen {
			e.Fields[fe.Field] = fe.Message
		}
	}
	e.Message = msg.String()
	return e
}

// Problems collects every bad field of one input, so that a caller hears of all of them at once instead
// of one per attempt. The zero value is ready to use; it is not safe for concurrent use.
type Problems struct {
	errs  []FieldError
	other error
}

// Add records that field is wrong. A field already recorded keeps its first problem, so checks of one
// field can follow each other (present, then well formed, then in range) and the caller hears the first.
func (p *Problems) Add(field string, code FieldCode, message string) {
	if p.Has(field) {
		return
	}
	p.errs = append(p.errs, FieldError{Field: field, Code: code, Message: message})
}

// Has reports whether field has been recorded as wrong: a later check that needs it good can skip.
func (p *Problems) Has(field string) bool {
	for _, fe := range p.errs {
		if fe.Field == field {
			return true
		}
	}
	return false
}

// Check records err, the result of a check of one or more fields (nil when they are good): the fields an
// Invalid *Error names are added; an Invalid error naming no field is added under field "" with code
// invalid; any other error is kept, and Err returns the first such one. It reports whether err was nil.
func (p *Problems) Check(err error) bool {
	if err == nil {
		return true
	}
	e := As(err)
	switch {
	case e != nil && e.Code == Invalid && len(e.Errors) > 0:
		for _, fe := range e.Errors {
			p.Add(fe.Field, fe.Code, fe.Message)
		}
	case e != nil && e.Code == Invalid && len(e.Fields) > 0:
		for _, f := range sortedKeys(e.Fields) {
			p.Add(f, FieldInvalid, e.Fields[f])
		}
	case e != nil && e.Code == Invalid:
		p.Add("", FieldInvalid, e.Message)
	case p.other == nil:
		p.other = err
	}
	return false
}

// Len is the number of bad fields recorded.
func (p *Problems) Len() int { return len(p.errs) }

// Err returns nil when nothing was recorded; else the first error Check kept that is not a validation
// error, or the Invalid error listing every bad field.
func (p *Problems) Err() error {
	if p.other != nil {
		return p.other
	}
	if e := Invalidated(p.errs); e != nil {
		return e
	}
	return nil
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// InvalidField returns an Invalid error naming one field with code FieldInvalid; Field says more.
func InvalidField(field, problem string) *Error { return Field(field, FieldInvalid, problem) }

// FieldMessage returns what e says of field, or "" when it does not name it.
func (e *Error) FieldMessage(field string) string { return e.Fields[field] }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
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
