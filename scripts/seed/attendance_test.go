package seed_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/scripts/seed"
)

// The demo shows a few weeks of attendance in every batch, with some absences, and seeding it alerted no
// guardian about the past.
func TestDemoSeedsAttendance(t *testing.T) {
	env := apptest.New(t)
	if _, created, err := seed.Demo(context.Background(), env.App, apptest.Password); err != nil || !created {
		t.Fatalf("Demo = %v, %v", created, err)
	}
	owner := env.Login(seed.DemoSlug, "owner@demo.test").AccessToken
	get := func(path string) map[string]any {
		t.Helper()
		rec := env.Do("GET", path, owner, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		return apptest.Decode[map[string]any](t, rec)
	}
	items := get("/academic/batches")["items"].([]any)
	if len(items) == 0 {
		t.Fatal("the demo has no batches")
	}
	absent := 0.0
	for _, b := range items {
		sum := get("/attendance/batches/" + b.(map[string]any)["id"].(string) + "/summary")
		if sum["sessions"].(float64) < 3 || sum["total"].(float64) == 0 {
			t.Errorf("batch summary %v: want weeks of marks", sum)
		}
		absent += sum["absent"].(float64)
	}
	if absent == 0 {
		t.Error("nobody was ever absent in the demo")
	}
	if ns := env.Notifications(); len(ns) != 0 {
		t.Errorf("seeding alerted guardians: %+v", ns)
	}
}
