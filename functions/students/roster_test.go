package students_test

import (
	"strings"
	"testing"

	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/id"
)

// A per-student list in a request names at least one and at most max students, each once, by id; the
// refusal names the list or the entry.
func TestCheckRosterList(t *testing.T) {
	a, b := id.New(), id.New()
	tests := []struct {
		name  string
		ids   []string
		field string // "" = accepted
	}{
		{"two students", []string{a, b}, ""},
		{"empty", nil, "marks"},
		{"over the limit", []string{a, b, id.New()}, "marks"},
		{"malformed id", []string{a, `{"$ne":null}`}, "marks[1].student_id"},
		{"listed twice", []string{b, b}, "marks[1].student_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := students.CheckRosterList("marks", tt.ids, 2)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			ae := apperr.As(err)
			if ae == nil || ae.Code != apperr.Invalid || ae.Fields[tt.field] == "" {
				t.Fatalf("error %v, want Invalid naming %s", err, tt.field)
			}
			if strings.Contains(err.Error(), "$ne") {
				t.Fatalf("error %q echoes the id", err)
			}
		})
	}
}
