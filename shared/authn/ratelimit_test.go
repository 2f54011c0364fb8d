package authn_test

import (
	"testing"
	"time"

	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/clock"
)

func allowN(t *testing.T, l *authn.Limiter, key string, n int) {
	t.Helper()
	for i := range n {
		if !l.Allow(key) {
			t.Fatalf("%s: attempt %d refused, want allowed", key, i+1)
		}
	}
}

func refused(t *testing.T, l *authn.Limiter, key string) {
	t.Helper()
	if l.Allow(key) {
		t.Fatalf("%s: allowed, want refused", key)
	}
}

func TestLimiterBurstAndRefill(t *testing.T) {
	clk := clock.NewManual(base)
	l := authn.NewLimiter(time.Minute, 3, 100, clk)
	allowN(t, l, "a", 3)
	refused(t, l, "a")

	// Just short of a refill, still refused: the bucket follows the injected clock, not the wall clock.
	clk.Advance(59 * time.Second)
	refused(t, l, "a")
	clk.Advance(time.Second)
	allowN(t, l, "a", 1)
	refused(t, l, "a")

	// A long pause refills only up to the burst.
	clk.Advance(time.Hour)
	allowN(t, l, "a", 3)
	refused(t, l, "a")
}

func TestLimiterKeysIndependent(t *testing.T) {
	l := authn.NewLimiter(time.Minute, 2, 100, clock.NewManual(base))
	allowN(t, l, "a", 2)
	refused(t, l, "a")
	allowN(t, l, "b", 2)
	refused(t, l, "b")
}

// An exhausted key that is evicted comes back with a full bucket, so a fresh allowance shows the
// eviction; which key gets it shows the order is least recently used, not first in.
func TestLimiterCapacityEvictsLeastRecentlyUsed(t *testing.T) {
	l := authn.NewLimiter(time.Hour, 1, 2, clock.NewManual(base))
	allowN(t, l, "a", 1)
	allowN(t, l, "b", 1)
	refused(t, l, "a")   // touches a: b is now least recently used
	allowN(t, l, "c", 1) // evicts b
	refused(t, l, "a")   // a survived, still exhausted (and now most recent)
	allowN(t, l, "b", 1) // b was forgotten: a fresh bucket; this evicts c
	refused(t, l, "a")   // a survives again; this evicts b
	allowN(t, l, "c", 1) // c was forgotten
}
