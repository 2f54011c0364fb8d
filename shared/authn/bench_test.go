package authn_test

import (
	"testing"
	"time"

	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/clock"
)

// BenchmarkVerify compares a full verification (signature and claims) with the warm-instance cache hit that
// serves a frontend's repeated token. Run: go test -run '^$' -bench Verify -benchmem ./shared/authn
func BenchmarkVerify(b *testing.B) {
	pem, err := authn.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	keys, err := authn.ParseKeyRing(pem, nil)
	if err != nil {
		b.Fatal(err)
	}
	clk := clock.NewManual(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	cfg := authn.TokenConfig{Issuer: "edugrid", Audience: "edugrid-api", AccessTTL: 15 * time.Minute}
	c := authn.Claims{Tenant: "demo", Role: "owner", Branches: []string{"b1"}, PRN: "00011260000017"}
	c.Subject = "0123456789abcdef01234567"

	b.Run("full", func(b *testing.B) {
		// A cache of one entry, alternating two tokens, misses every time.
		tokens := authn.NewTokens(keys, authn.TokenConfig{Issuer: cfg.Issuer, Audience: cfg.Audience, AccessTTL: cfg.AccessTTL, CacheSize: 1}, clk)
		t1, _, _ := tokens.Issue(c)
		clk.Advance(time.Second)
		t2, _, _ := tokens.Issue(c)
		i := 0
		for b.Loop() {
			tok := t1
			if i%2 == 1 {
				tok = t2
			}
			i++
			if _, err := tokens.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		tokens := authn.NewTokens(keys, cfg, clk)
		tok, _, _ := tokens.Issue(c)
		for b.Loop() {
			if _, err := tokens.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
