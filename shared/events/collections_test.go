package events

import (
	"slices"
	"testing"
)

func TestAnalysedCollections(t *testing.T) {
	got := AnalysedCollections()
	seen := map[string]bool{}
	for _, c := range got {
		if seen[c] {
			t.Errorf("%s is listed twice", c)
		}
		seen[c] = true
	}
	if seen["refresh_tokens"] {
		t.Error("refresh tokens are analysed: their documents are secrets as a whole")
	}
	for _, c := range []string{"attendance_sheets", "enrolments", "fee_payments"} {
		if !seen[c] {
			t.Errorf("%s is not analysed", c)
		}
	}
	got[0] = "changed"
	if slices.Contains(AnalysedCollections(), "changed") {
		t.Error("AnalysedCollections returns a slice its callers share")
	}
}
