package authn_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/clock"
)

const refreshTTL = 30 * 24 * time.Hour

func newDB(t *testing.T) lungo.IDatabase {
	t.Helper()
	ctx := context.Background()
	client, engine, err := lungo.Open(ctx, lungo.Options{Store: lungo.NewMemoryStore()})
	if err != nil {
		t.Fatalf("open engine: %v", err)
	}
	t.Cleanup(engine.Close)
	db := client.Database("edu_acme")
	if err := authn.EnsureRefreshIndexes(ctx, db); err != nil {
		t.Fatalf("EnsureRefreshIndexes: %v", err)
	}
	return db
}

func mustIssue(t *testing.T, rf *authn.Refresher, db lungo.IDatabase, user, family string) string {
	t.Helper()
	tok, err := rf.Issue(context.Background(), db, "acme", user, 4, 0, family)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return tok
}

func TestRefreshRotateOnce(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	clk := clock.NewManual(base)
	rf := authn.NewRefresher(refreshTTL, clk)
	tok := mustIssue(t, rf, db, "user-1", "")

	clk.Advance(time.Hour)
	old, err := rf.Rotate(ctx, db, tok)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if old.UserID != "user-1" || old.UserVersion != 4 || old.Family == "" || !old.CreatedAt.Equal(base) || !old.ExpiresAt.Equal(base.Add(refreshTTL)) {
		t.Errorf("rotated record %+v", old)
	}

	// The successor lives in the same family and rotates in its turn.
	next := mustIssue(t, rf, db, "user-1", old.Family)
	rec, err := rf.Rotate(ctx, db, next)
	if err != nil {
		t.Fatalf("Rotate successor: %v", err)
	}
	if rec.Family != old.Family {
		t.Errorf("successor family %q, want %q", rec.Family, old.Family)
	}

	// The consumed token is marked used, not deleted: reuse detection needs it.
	stored, err := rf.Lookup(ctx, db, tok)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if stored.UsedAt == nil || !stored.UsedAt.Equal(base.Add(time.Hour)) {
		t.Errorf("used_at %v, want %v", stored.UsedAt, base.Add(time.Hour))
	}
}

func TestRefreshReuseRevokesFamily(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	rf := authn.NewRefresher(refreshTTL, clock.NewManual(base))
	stolen := mustIssue(t, rf, db, "user-1", "")
	other := mustIssue(t, rf, db, "user-1", "") // another sign-in of the same user

	old, err := rf.Rotate(ctx, db, stolen)
	if err != nil {
		t.Fatalf("first Rotate: %v", err)
	}
	successor := mustIssue(t, rf, db, "user-1", old.Family)

	_, err = rf.Rotate(ctx, db, stolen)
	wantUnauthenticated(t, err, "already used")

	// The legitimate-looking successor belongs to the compromised sign-in and must die with it.
	_, err = rf.Rotate(ctx, db, successor)
	wantUnauthenticated(t, err, "")
	rec, err := rf.Lookup(ctx, db, successor)
	if err != nil {
		t.Fatal(err)
	}
	if rec.RevokedAt == nil {
		t.Error("successor not revoked")
	}

	// Another family is a different sign-in and is left alone.
	if _, err := rf.Rotate(ctx, db, other); err != nil {
		t.Errorf("unrelated family refused: %v", err)
	}
}

func TestRefreshConcurrentRotate(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	rf := authn.NewRefresher(refreshTTL, clock.NewManual(base))
	tok := mustIssue(t, rf, db, "user-1", "")

	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = rf.Rotate(ctx, db, tok)
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case apperr.CodeOf(err) != apperr.Unauthenticated:
			t.Errorf("loser got %v, want Unauthenticated", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent rotations succeeded, want exactly 1", ok, n)
	}
}

func TestRefreshExpired(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	clk := clock.NewManual(base)
	rf := authn.NewRefresher(refreshTTL, clk)
	tok := mustIssue(t, rf, db, "user-1", "")

	clk.Advance(refreshTTL)
	_, err := rf.Rotate(ctx, db, tok)
	wantUnauthenticated(t, err, "invalid or expired")

	// Expiry is not theft: the token stays unused and unrevoked.
	rec, err := rf.Lookup(ctx, db, tok)
	if err != nil {
		t.Fatal(err)
	}
	if rec.UsedAt != nil || rec.RevokedAt != nil {
		t.Errorf("expired token was marked: %+v", rec)
	}
}

func TestRefreshUnknownToken(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	rf := authn.NewRefresher(refreshTTL, clock.NewManual(base))
	mustIssue(t, rf, db, "user-1", "")
	// Well-formed but never issued.
	forged := "rt1.acme." + strings.Repeat("A", 43)
	_, err := rf.Rotate(ctx, db, forged)
	wantUnauthenticated(t, err, "invalid")
	_, err = rf.Lookup(ctx, db, forged)
	wantUnauthenticated(t, err, "invalid")
	_, err = rf.Rotate(ctx, db, "garbage")
	wantUnauthenticated(t, err, "invalid")
}

func TestRefreshRevokeUser(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	rf := authn.NewRefresher(refreshTTL, clock.NewManual(base))
	a1 := mustIssue(t, rf, db, "user-a", "")
	a2 := mustIssue(t, rf, db, "user-a", "")
	b := mustIssue(t, rf, db, "user-b", "")

	if err := rf.RevokeUser(ctx, db, "user-a"); err != nil {
		t.Fatalf("RevokeUser: %v", err)
	}
	for _, tok := range []string{a1, a2} {
		_, err := rf.Rotate(ctx, db, tok)
		wantUnauthenticated(t, err, "")
	}
	if _, err := rf.Rotate(ctx, db, b); err != nil {
		t.Errorf("another user's token refused: %v", err)
	}
}

func TestRefreshTenant(t *testing.T) {
	secret := strings.Repeat("x", 43)
	tests := []struct {
		token    string
		wantSlug string // "" means refused
	}{
		{"rt1.acme." + secret, "acme"},
		{"rt1.st-marys-school." + secret, "st-marys-school"},
		{"rt1.platform." + secret, "platform"},
		{"", ""},
		{"acme." + secret, ""},
		{"rt2.acme." + secret, ""},
		{"rt1.." + secret, ""},
		{"rt1.acme" + secret, ""},
		{"rt1.acme." + secret[1:], ""},
		{"rt1.acme." + secret + "x", ""},
		{"rt1." + strings.Repeat("a", 200) + "." + secret, ""},
		{"eyJhbGciOiJFZERTQSJ9.e30.sig", ""},
	}
	for _, tc := range tests {
		slug, err := authn.RefreshTenant(tc.token)
		if tc.wantSlug == "" {
			if err == nil || apperr.CodeOf(err) != apperr.Unauthenticated {
				t.Errorf("RefreshTenant(%q) = %q, %v; want Unauthenticated", tc.token, slug, err)
			}
			continue
		}
		if err != nil || slug != tc.wantSlug {
			t.Errorf("RefreshTenant(%q) = %q, %v; want %q", tc.token, slug, err, tc.wantSlug)
		}
	}

	// A token Issue made parses back to its tenant.
	tok := mustIssue(t, authn.NewRefresher(refreshTTL, clock.NewManual(base)), newDB(t), "user-1", "")
	if slug, err := authn.RefreshTenant(tok); err != nil || slug != "acme" {
		t.Errorf("RefreshTenant(issued) = %q, %v", slug, err)
	}
}

func TestRefreshStoresOnlyHash(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	rf := authn.NewRefresher(refreshTTL, clock.NewManual(base))
	tok := mustIssue(t, rf, db, "user-1", "")
	secret := tok[strings.LastIndex(tok, ".")+1:]

	cur, err := db.Collection(authn.RefreshCollection).Find(ctx, bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.Raw
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 {
		t.Fatalf("%d stored documents, want 1", len(docs))
	}
	sum := sha256.Sum256([]byte(tok))
	if id := docs[0].Lookup("_id").StringValue(); id != hex.EncodeToString(sum[:]) {
		t.Errorf("_id %q, want the token's SHA-256", id)
	}
	// Compare against the extended JSON and the raw bytes, so no field of any type hides the secret.
	for _, form := range []string{docs[0].String(), string(docs[0])} {
		if strings.Contains(form, secret) {
			t.Errorf("stored document carries the token's secret: %s", docs[0])
		}
	}
}
