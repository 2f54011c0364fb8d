package seed_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/edugrid/edugrid/functions/fees"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/scripts/seed"
)

// The demo has fee plans, dues, receipts and some credit.
func TestDemoSeedsFees(t *testing.T) {
	env := apptest.New(t)
	if _, created, err := seed.Demo(context.Background(), env.App, apptest.Password); err != nil || !created {
		t.Fatalf("Demo = %v, %v", created, err)
	}
	accountant := env.Login(seed.DemoSlug, "accounts@demo.test").AccessToken
	rec := env.Do("GET", "/fees/plans", accountant, nil)
	if rec.Code != http.StatusOK || len(apptest.Decode[map[string][]any](t, rec)["items"]) != 2 {
		t.Fatalf("plans: %d %s", rec.Code, rec.Body)
	}
	rec = env.Do("GET", "/fees/dues", accountant, nil)
	d := apptest.Decode[fees.DuesSummary](t, rec)
	if rec.Code != http.StatusOK || d.Outstanding <= 0 || d.Students == 0 {
		t.Fatalf("dues: %d %s", rec.Code, rec.Body)
	}
}
