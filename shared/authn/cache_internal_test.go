package authn

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/clock"
)

var cacheBase = time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)

func newCacheTokens(t *testing.T, size int, clk clock.Clock) *Tokens {
	t.Helper()
	p, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := ParseKeyRing(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return NewTokens(kr, TokenConfig{Issuer: "iss", Audience: "aud", AccessTTL: 15 * time.Minute, CacheSize: size}, clk)
}

func issue(t *testing.T, tk *Tokens, sub string) string {
	t.Helper()
	c := Claims{Tenant: "acme", Role: "teacher"}
	c.Subject = sub
	s, _, err := tk.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func cached(tk *Tokens, token string) bool {
	tk.cache.mu.Lock()
	defer tk.cache.mu.Unlock()
	_, ok := tk.cache.items[sha256.Sum256([]byte(token))]
	return ok
}

func TestVerifyCacheHit(t *testing.T) {
	tk := newCacheTokens(t, 0, clock.NewManual(cacheBase))
	tok := issue(t, tk, "user-1")
	first, err := tk.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	// Swap in a ring that cannot verify the token: only the cache can answer now.
	other := newCacheTokens(t, 0, clock.NewManual(cacheBase))
	tk.keys = other.keys
	second, err := tk.Verify(tok)
	if err != nil {
		t.Fatalf("second Verify missed the cache: %v", err)
	}
	if second != first {
		t.Error("second Verify returned other claims than the cached ones")
	}
	// And a token the cache has not seen goes to the (now foreign) ring and fails.
	if _, err := tk.Verify(issue(t, newCacheTokens(t, 0, clock.NewManual(cacheBase)), "user-2")); err == nil {
		t.Error("uncached token from a foreign key verified")
	}
}

func TestVerifyCacheHonoursExpiry(t *testing.T) {
	clk := clock.NewManual(cacheBase)
	tk := newCacheTokens(t, 0, clk)
	tok := issue(t, tk, "user-1")
	if _, err := tk.Verify(tok); err != nil {
		t.Fatal(err)
	}
	clk.Advance(15*time.Minute - time.Second)
	if _, err := tk.Verify(tok); err != nil {
		t.Fatalf("still-valid cached token refused: %v", err)
	}
	// Past exp and the parser's leeway: a cache that ignored expiry would still answer yes.
	clk.Advance(32 * time.Second)
	_, err := tk.Verify(tok)
	if e := apperr.As(err); e == nil || e.Code != apperr.Unauthenticated || e != errTokenExpired {
		t.Fatalf("got %v, want the expired error", err)
	}
	if cached(tk, tok) {
		t.Error("expired token left in the cache")
	}
}

func TestVerifyCacheCapacity(t *testing.T) {
	tk := newCacheTokens(t, 2, clock.NewManual(cacheBase))
	t1, t2, t3 := issue(t, tk, "u1"), issue(t, tk, "u2"), issue(t, tk, "u3")
	for _, tok := range []string{t1, t2, t3} {
		if _, err := tk.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := tk.cache.len(); n != 2 {
		t.Fatalf("cache holds %d tokens, want 2", n)
	}
	if cached(tk, t1) || !cached(tk, t2) || !cached(tk, t3) {
		t.Errorf("after t1,t2,t3: cached t1=%v t2=%v t3=%v, want the oldest (t1) evicted", cached(tk, t1), cached(tk, t2), cached(tk, t3))
	}

	// A hit counts as use: touching t2 makes t3 the one to go.
	if _, err := tk.Verify(t2); err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Verify(t1); err != nil {
		t.Fatal(err)
	}
	if !cached(tk, t1) || !cached(tk, t2) || cached(tk, t3) || tk.cache.len() != 2 {
		t.Errorf("after touching t2 then t1: cached t1=%v t2=%v t3=%v, want t3 evicted", cached(tk, t1), cached(tk, t2), cached(tk, t3))
	}
}

func TestVerifyCacheKeepsFailuresOut(t *testing.T) {
	tk := newCacheTokens(t, 0, clock.NewManual(cacheBase))
	tok := issue(t, tk, "user-1")
	// Change a character in the middle of the signature (the last one carries padding bits).
	b := []byte(tok)
	if i := len(b) - 10; b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	bad := string(b)
	if _, err := tk.Verify(bad); err == nil {
		t.Fatal("tampered token verified")
	}
	if tk.cache.len() != 0 {
		t.Error("a refused token was cached")
	}
}
