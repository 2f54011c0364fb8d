package academic_test

import (
	"net/http"
	"testing"
)

// BenchmarkCreateLargestBatch measures the most a single POST /academic/batches may materialise:
// MaxSessions (1,000) sessions, written in one transaction with the batch. Every iteration adds a batch to
// the same tenant, so later ones pay for the sessions stored before (the embedded engine copies the
// collection per inserted document). Run: go test -run '^$' -bench CreateLargestBatch -benchtime 5x ./functions/academic
func BenchmarkCreateLargestBatch(b *testing.B) {
	s := newSchool(b, "")
	var schedule []slot
	for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday"} {
		for _, at := range []string{"07:00", "12:00"} {
			schedule = append(schedule, slot{d, at, 60})
		}
	}
	// 100 weeks of 10 sessions, Monday 2026-06-01 to Friday 2028-04-28.
	body := s.batchBody(s.branchA, s.teacherAID)
	body["start_date"], body["end_date"], body["schedule"] = "2026-06-01", "2028-04-28", schedule
	for b.Loop() {
		rec := s.env.Do("POST", "/academic/batches", s.owner, body)
		if rec.Code != http.StatusCreated {
			b.Fatalf("create batch: %d %s", rec.Code, rec.Body)
		}
	}
}
