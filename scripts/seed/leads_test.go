package seed_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/edugrid/edugrid/functions/leads"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/scripts/seed"
)

// The demo has a funnel of leads at every stage, overdue follow-ups and converted leads.
func TestDemoSeedsLeadFunnel(t *testing.T) {
	env := apptest.New(t)
	if _, created, err := seed.Demo(context.Background(), env.App, apptest.Password); err != nil || !created {
		t.Fatalf("Demo = %v, %v", created, err)
	}
	owner := env.Login(seed.DemoSlug, "owner@demo.test").AccessToken
	rec := env.Do("GET", "/leads/?limit=200", owner, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("leads: %d %s", rec.Code, rec.Body)
	}
	stages, sources, converted := map[leads.Stage]int{}, map[leads.Source]bool{}, 0
	for _, l := range apptest.Decode[struct{ Items []leads.Lead }](t, rec).Items {
		stages[l.Stage]++
		sources[l.Source] = true
		if l.StudentID != "" {
			converted++
		}
	}
	for _, st := range leads.Stages {
		if stages[st] == 0 {
			t.Errorf("no demo lead in stage %s", st)
		}
	}
	if len(sources) != len(leads.Sources) || converted != 2 {
		t.Errorf("sources %v, converted %d", sources, converted)
	}
	counsellor := env.Login(seed.DemoSlug, "counsellor@demo.test").AccessToken
	rec = env.Do("GET", "/leads/followups/overdue", counsellor, nil)
	if rec.Code != http.StatusOK || len(apptest.Decode[struct{ Items []leads.FollowUp }](t, rec).Items) == 0 {
		t.Fatalf("overdue follow-ups: %d %s", rec.Code, rec.Body)
	}
}
