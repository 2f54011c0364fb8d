package apperr

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestProblemsCollectsEveryField(t *testing.T) {
	dbDown := errors.New("connection refused")
	tests := []struct {
		name       string
		checks     []error
		adds       []FieldError
		wantCode   Code
		wantFields []FieldError
		wantMsg    string
	}{
		{name: "nothing wrong", checks: []error{nil, nil}},
		{
			name:     "one field keeps the old message",
			adds:     []FieldError{{"name", FieldRequired, "is required"}},
			wantCode: Invalid, wantMsg: "name: is required",
			wantFields: []FieldError{{"name", FieldRequired, "is required"}},
		},
		{
			name:     "checks and adds in the order found",
			checks:   []error{Field("total", FieldOutOfRange, "must be positive"), nil, fmt.Errorf("plan: %w", InvalidField("kind", "is odd"))},
			adds:     []FieldError{{"name", FieldTooLong, "must be 1 to 120 characters"}},
			wantCode: Invalid, wantMsg: "total: must be positive; kind: is odd; name: must be 1 to 120 characters",
			wantFields: []FieldError{{"total", FieldOutOfRange, "must be positive"}, {"kind", FieldInvalid, "is odd"},
				{"name", FieldTooLong, "must be 1 to 120 characters"}},
		},
		{
			name:     "a field keeps its first problem",
			checks:   []error{Field("name", FieldRequired, "is required")},
			adds:     []FieldError{{"name", FieldTooLong, "is too long"}, {"total", FieldOutOfRange, "must be positive"}},
			wantCode: Invalid, wantMsg: "name: is required; total: must be positive",
			wantFields: []FieldError{{"name", FieldRequired, "is required"}, {"total", FieldOutOfRange, "must be positive"}},
		},
		{
			name:     "a bare map is listed in field order",
			checks:   []error{&Error{Code: Invalid, Message: "two", Fields: map[string]string{"b": "bad", "a": "worse"}}},
			wantCode: Invalid, wantMsg: "a: worse; b: bad",
			wantFields: []FieldError{{"a", FieldInvalid, "worse"}, {"b", FieldInvalid, "bad"}},
		},
		{
			name:     "an invalid error naming no field",
			checks:   []error{Errorf(Invalid, "the body is empty")},
			wantCode: Invalid, wantMsg: "the body is empty",
			wantFields: []FieldError{{"", FieldInvalid, "the body is empty"}},
		},
		{
			name:     "anything else wins over validation",
			checks:   []error{Field("total", FieldOutOfRange, "must be positive"), Errorf(NotFound, "no such plan"), dbDown},
			wantCode: NotFound, wantMsg: "no such plan",
		},
		{
			name: "a database failure stays internal", checks: []error{dbDown},
			wantCode: Internal,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Problems
			for _, err := range tt.checks {
				if ok := p.Check(err); ok != (err == nil) {
					t.Errorf("Check(%v) = %v", err, ok)
				}
			}
			for _, fe := range tt.adds {
				p.Add(fe.Field, fe.Code, fe.Message)
			}
			err := p.Err()
			if got := CodeOf(err); got != tt.wantCode {
				t.Fatalf("Err() = %v, code %q, want %q", err, got, tt.wantCode)
			}
			e := As(err)
			if e == nil {
				return
			}
			if tt.wantMsg != "" && e.Message != tt.wantMsg {
				t.Errorf("message = %q, want %q", e.Message, tt.wantMsg)
			}
			if !slices.Equal(e.Errors, tt.wantFields) {
				t.Errorf("errors = %+v, want %+v", e.Errors, tt.wantFields)
			}
			for _, fe := range tt.wantFields {
				if e.FieldMessage(fe.Field) == "" {
					t.Errorf("Fields %v lack %q", e.Fields, fe.Field)
				}
			}
		})
	}
}

func TestFieldCodesAreDistinct(t *testing.T) {
	seen := map[FieldCode]bool{}
	for _, c := range FieldCodes() {
		if c == "" || seen[c] {
			t.Errorf("field code %q is empty or listed twice", c)
		}
		seen[c] = true
	}
	if Invalidated(nil) != nil {
		t.Error("Invalidated(nil) is not nil")
	}
}
