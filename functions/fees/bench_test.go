package fees_test

import (
	"fmt"
	"net/http"
	"testing"
)

// BenchmarkPay measures recording one payment through the full middleware chain: the visibility check,
// the idempotency key, the receipt number, allocation to the oldest open instalment and the audit entry,
// in one transaction on the embedded engine in memory. Each payment takes one minor unit of a large plan,
// so every iteration allocates against the same open instalment.
// Run: go test -run '^$' -bench Pay -count 5 ./functions/fees
func BenchmarkPay(b *testing.B) {
	s := newSchool(b, nil)
	s.assign(b, s.enrolment, s.plan(b, 1_000_000, map[string]any{"kind": "count", "count": 3}))
	body := map[string]any{"student_id": s.student, "amount": 1, "method": "cash"}
	i := 0
	for b.Loop() {
		if rec := pay(s.env, s.accountant, fmt.Sprintf("bench-%d", i), body); rec.Code != http.StatusCreated {
			b.Fatalf("pay: %d %s", rec.Code, rec.Body)
		}
		i++
	}
}

// BenchmarkPayReplay measures a retry of a recorded payment: the same key and request answer the original
// receipt.
// Run: go test -run '^$' -bench PayReplay -count 5 ./functions/fees
func BenchmarkPayReplay(b *testing.B) {
	s := newSchool(b, nil)
	s.assign(b, s.enrolment, s.plan(b, 1_000_000, map[string]any{"kind": "count", "count": 3}))
	body := map[string]any{"student_id": s.student, "amount": 1, "method": "cash"}
	if rec := pay(s.env, s.accountant, "bench", body); rec.Code != http.StatusCreated {
		b.Fatalf("pay: %d %s", rec.Code, rec.Body)
	}
	for b.Loop() {
		if rec := pay(s.env, s.accountant, "bench", body); rec.Code != http.StatusOK {
			b.Fatalf("replay: %d %s", rec.Code, rec.Body)
		}
	}
}
