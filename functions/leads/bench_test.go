package leads_test

import (
	"fmt"
	"net/http"
	"testing"
)

// BenchmarkConvert measures one conversion of a won lead through the full middleware chain: student,
// account and PRN, enrolment and seat, fee assignment with three instalments, the lead marked, all in one
// transaction on the embedded engine in memory, with the test suite's cheap password hashing (production
// Argon2id adds its own cost, inside the transaction). Setting up each won lead is not timed.
// Run: go test -run '^$' -bench Convert -benchtime 200x -count 3 ./functions/leads
func BenchmarkConvert(b *testing.B) {
	s := newSchool(b, "bench")
	s.batch = s.newBatch(b, s.branchA, 1000)
	i := 0
	for b.Loop() {
		b.StopTimer()
		l := s.leadAt(b, s.owner, "won")
		b.StartTimer()
		rec := convertRequest(s.env.Handler, s.owner, l.ID, fmt.Sprintf("bench-%d", i), s.convertBody(s.batch))
		if rec.Code != http.StatusCreated {
			b.Fatalf("convert: %d %s", rec.Code, rec.Body)
		}
		i++
	}
}
