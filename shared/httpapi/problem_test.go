package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/edugrid/edugrid/shared/apperr"
)

// Frontends switch on these statuses and codes; a change here is an API break.
func TestStatusOf(t *testing.T) {
	tests := []struct {
		code apperr.Code
		want int
	}{
		{apperr.Invalid, http.StatusBadRequest},
		{apperr.Unauthenticated, http.StatusUnauthorized},
		{apperr.Forbidden, http.StatusForbidden},
		{apperr.NotFound, http.StatusNotFound},
		{apperr.Conflict, http.StatusConflict},
		{apperr.TooLarge, http.StatusRequestEntityTooLarge},
		{apperr.UnsupportedType, http.StatusUnsupportedMediaType},
		{apperr.MethodNotAllowed, http.StatusMethodNotAllowed},
		{apperr.RateLimited, http.StatusTooManyRequests},
		{apperr.Suspended, http.StatusForbidden},
		{apperr.Unavailable, http.StatusServiceUnavailable},
		{apperr.Internal, http.StatusInternalServerError},
		{apperr.Code("made_up"), http.StatusInternalServerError},
		{apperr.Code(""), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(string(tt.code), func(t *testing.T) {
			if got := StatusOf(tt.code); got != tt.want {
				t.Errorf("StatusOf(%q) = %d, want %d", tt.code, got, tt.want)
			}
		})
	}
	// Every code the table knows must have been listed above, so a new code cannot go untested.
	for code := range statusOf {
		found := false
		for _, tt := range tests {
			found = found || tt.code == code
		}
		if !found {
			t.Errorf("code %q has a status but no row in this test", code)
		}
		if titleOf[code] == "" {
			t.Errorf("code %q has a status but no title", code)
		}
	}
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		status     int
		code       apperr.Code
		detail     string
		header     string // a header that must be set
		headerWant string
		fields     map[string]string
		codes      []apperr.FieldCode
	}{
		{
			name: "rate limited says when to retry", err: apperr.Errorf(apperr.RateLimited, "too many sign-in attempts"),
			status: 429, code: apperr.RateLimited, detail: "too many sign-in attempts",
			header: "Retry-After", headerWant: "60",
		},
		{
			name: "unauthenticated challenges", err: apperr.Errorf(apperr.Unauthenticated, "no token"),
			status: 401, code: apperr.Unauthenticated, detail: "no token",
			header: "WWW-Authenticate", headerWant: `Bearer realm="edugrid"`,
		},
		{
			name: "wrapped application error keeps its code", err: fmt.Errorf("enrol: %w", apperr.Errorf(apperr.Conflict, "batch full")),
			status: 409, code: apperr.Conflict, detail: "batch full",
		},
		{
			name: "field errors are listed", err: apperr.InvalidField("email", "is not an address"),
			status: 400, code: apperr.Invalid, detail: "email: is not an address",
			fields: map[string]string{"email": "is not an address"}, codes: []apperr.FieldCode{apperr.FieldInvalid},
		},
		{
			name: "every bad field at once, each with its code",
			err: apperr.Invalidated([]apperr.FieldError{
				{Field: "name", Code: apperr.FieldRequired, Message: "must be 1 to 120 characters"},
				{Field: "total", Code: apperr.FieldOutOfRange, Message: "must be 0 to 10^12 minor units"},
			}),
			status: 400, code: apperr.Invalid, detail: "name: must be 1 to 120 characters; total: must be 0 to 10^12 minor units",
			fields: map[string]string{"name": "must be 1 to 120 characters", "total": "must be 0 to 10^12 minor units"},
			codes:  []apperr.FieldCode{apperr.FieldRequired, apperr.FieldOutOfRange},
		},
		{
			name:   "a bare fields map still lists its fields",
			err:    &apperr.Error{Code: apperr.Invalid, Message: "2 students are not enrolled", Fields: map[string]string{"marks[1].student_id": "is not enrolled", "marks[0].student_id": "is not enrolled"}},
			status: 400, code: apperr.Invalid, detail: "2 students are not enrolled",
			fields: map[string]string{"marks[0].student_id": "is not enrolled", "marks[1].student_id": "is not enrolled"},
			codes:  []apperr.FieldCode{apperr.FieldInvalid, apperr.FieldInvalid},
		},
		{
			name: "unavailable says when to retry", err: apperr.Errorf(apperr.Unavailable, "analytics is not configured"),
			status: 503, code: apperr.Unavailable, detail: "analytics is not configured",
			header: "Retry-After", headerWant: RetryAfterUnavailable,
		},
		{
			name: "a database timeout is unavailable", err: fmt.Errorf("find student s1: %w", context.DeadlineExceeded),
			status: 503, code: apperr.Unavailable, detail: "The service took too long to answer; please try again shortly.",
			header: "Retry-After", headerWant: RetryAfterUnavailable,
		},
		{
			name: "anything else is internal", err: fmt.Errorf("insert: %w", fmt.Errorf("E11000 on edu_acme.users")),
			status: 500, code: apperr.Internal, detail: "Internal error.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteError(rec, httptest.NewRequest("GET", "/fees/payments", nil), tt.err)
			p := problemOf(t, rec, tt.status)
			if p.Code != tt.code || p.Detail != tt.detail {
				t.Errorf("problem = %+v, want code %s detail %q", p, tt.code, tt.detail)
			}
			if p.Instance != "/fees/payments" {
				t.Errorf("instance = %q", p.Instance)
			}
			if tt.header != "" && rec.Header().Get(tt.header) != tt.headerWant {
				t.Errorf("%s = %q, want %q", tt.header, rec.Header().Get(tt.header), tt.headerWant)
			}
			if tt.header != "Retry-After" && rec.Header().Get("Retry-After") != "" {
				t.Errorf("Retry-After set on a %s problem", tt.code)
			}
			if len(p.Errors) != len(tt.fields) || len(p.Fields) != len(tt.fields) {
				t.Errorf("errors = %v, fields = %v, want %v", p.Errors, p.Fields, tt.fields)
			}
			for i, fe := range p.Errors {
				if tt.fields[fe.Field] != fe.Message || p.Fields[fe.Field] != fe.Message || fe.Code != tt.codes[i] {
					t.Errorf("errors[%d] = %+v, want %q %s", i, fe, tt.fields[fe.Field], tt.codes[i])
				}
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", rec.Header().Get("Cache-Control"))
			}
		})
	}
}

func TestEveryCodeHasAStatusAndATitle(t *testing.T) {
	for _, c := range apperr.Codes() {
		if _, ok := statusOf[c]; !ok {
			t.Errorf("code %s has no HTTP status", c)
		}
		if titleOf[c] == "" {
			t.Errorf("code %s has no title", c)
		}
	}
	if len(statusOf) != len(apperr.Codes()) || len(titleOf) != len(apperr.Codes()) {
		t.Errorf("%d statuses and %d titles for %d codes: a code is missing from apperr.Codes", len(statusOf), len(titleOf), len(apperr.Codes()))
	}
}
