package all_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/mongo"

	"github.com/edugrid/edugrid/internal/wiretest"
	"github.com/edugrid/edugrid/shared/store"
)

// withTxFaults serves next with faults applied to every transaction a request starts.
func withTxFaults(next http.Handler, faults store.TxFaults) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(store.WithTxFaults(r.Context(), faults)))
	})
}

// firstAttemptFails makes the first attempt of every transaction fail at p with an error carrying label,
// as MongoDB reports a write conflict or a lost commit answer.
func firstAttemptFails(p store.TxPoint, label string) store.TxFaults {
	return func(attempt int, at store.TxPoint) error {
		if attempt == 1 && at == p {
			return mongo.CommandError{Code: 112, Name: "WriteConflict", Message: "injected", Labels: []string{label}}
		}
		return nil
	}
}

// TestEveryWriteSurvivesARetriedTransaction sends every route that takes a body (from the route tables)
// the same example to edugrids that differ only in their transactions: in one every transaction's first
// attempt is aborted after its body ran (a write conflict: the body runs twice), in another the first
// commit's answer is lost after it was applied (the commit is retried alone), and one has no faults. Each
// answer's status and every write it made (collection and operation, on every database) must be the same
// in all three, and so must the notifications published: nothing doubled (receipts, PRNs, counters, audit
// entries, notifications, payments) and nothing lost.
func TestEveryWriteSurvivesARetriedTransaction(t *testing.T) {
	if testing.Short() {
		t.Skip("three seeded edugrids")
	}
	// A body run again after an abort is safe only when the abort undid its writes.
	wiretest.RequireTransactions(t)
	plain := newHostileEnv(t)
	faulty := map[string]*hostileEnv{
		"body run twice": newHostileEnv(t),
		"commit retried": newHostileEnv(t),
	}
	faulty["body run twice"].env.Handler = withTxFaults(faulty["body run twice"].env.Handler,
		firstAttemptFails(store.BeforeCommit, "TransientTransactionError"))
	faulty["commit retried"].env.Handler = withTxFaults(faulty["commit retried"].env.Handler,
		firstAttemptFails(store.AfterCommit, "UnknownTransactionCommitResult"))
	notes := func(h *hostileEnv) int { return len(h.env.Notifications()) }
	base := notes(plain)
	accepted := 0
	for _, r := range plain.routes {
		t.Run(r.String(), func(t *testing.T) {
			want := plain.post(r, plain.concrete(r, 0), mustJSON(t, plain.example(r.reqType, true)))
			wantWrites := slices.Sorted(slices.Values(plain.written(t)))
			if want.Code < 300 {
				accepted++
			}
			for name, h := range faulty {
				got := h.post(r, h.concrete(r, 0), mustJSON(t, h.example(r.reqType, true)))
				gotWrites := slices.Sorted(slices.Values(h.written(t)))
				if got.Code != want.Code {
					t.Errorf("%s: answered %d, without faults %d: %s", name, got.Code, want.Code, got.Body)
				}
				if !slices.Equal(gotWrites, wantWrites) {
					t.Errorf("%s: wrote\n%s\nwithout faults\n%s", name, strings.Join(gotWrites, "\n"), strings.Join(wantWrites, "\n"))
				}
			}
		})
	}
	if accepted < len(plain.routes)/3 {
		t.Fatalf("only %d of %d example requests were accepted: the sweep proves little", accepted, len(plain.routes))
	}
	for name, h := range faulty {
		if got, want := notes(h), notes(plain); got != want {
			t.Errorf("%s: %d notifications published, without faults %d", name, got, want)
		}
	}
	t.Logf("%d write routes, %d accepted, %d notifications before the sweep", len(plain.routes), accepted, base)
}
