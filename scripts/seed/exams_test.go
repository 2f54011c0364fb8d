package seed_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/scripts/seed"
)

// The demo has tests with results in every batch, some absent and some exempt, ranked batches, and a
// report card the demo student can read.
func TestDemoSeedsExams(t *testing.T) {
	env := apptest.New(t)
	if _, created, err := seed.Demo(context.Background(), env.App, apptest.Password); err != nil || !created {
		t.Fatalf("Demo = %v, %v", created, err)
	}
	owner := env.Login(seed.DemoSlug, "owner@demo.test").AccessToken
	get := func(token, path string) map[string]any {
		t.Helper()
		rec := env.Do("GET", path, token, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		return apptest.Decode[map[string]any](t, rec)
	}
	statuses := map[string]int{}
	for _, b := range get(owner, "/academic/batches")["items"].([]any) {
		batch := b.(map[string]any)["id"].(string)
		tests := get(owner, "/exams/tests?batch="+batch)["items"].([]any)
		if len(tests) < 4 {
			t.Errorf("batch %s has %d tests", batch, len(tests))
		}
		for _, x := range tests {
			rec := env.Do("GET", "/exams/tests/"+x.(map[string]any)["id"].(string)+"/results", owner, nil)
			for _, r := range apptest.Decode[apptest.Page[map[string]any]](t, rec).Items {
				statuses[r["status"].(string)]++
			}
		}
		if ranked := get(owner, "/exams/batches/"+batch+"/ranking")["students"].([]any); len(ranked) == 0 {
			t.Errorf("batch %s ranks nobody", batch)
		}
	}
	if statuses["present"] < 50 || statuses["absent"] == 0 || statuses["exempt"] == 0 {
		t.Errorf("results by status %v: want many marks, some absent, some exempt", statuses)
	}

	// The demo student (student 0, in a batch of the main branch) reads their own report card.
	student := env.Login(seed.DemoSlug, "student@demo.test").AccessToken
	me := get(student, "/students/")["items"].([]any)[0].(map[string]any)["id"].(string)
	rec := env.Do("GET", "/students/enrolments?student="+me, student, nil)
	enrolments := apptest.Decode[apptest.Page[map[string]any]](t, rec).Items
	if rec.Code != http.StatusOK || len(enrolments) == 0 {
		t.Fatalf("the demo student's enrolments: %d %s", rec.Code, rec.Body)
	}
	card := get(student, "/exams/students/"+me+"/report-card?batch_id="+enrolments[0]["batch_id"].(string))
	if subjects := card["subjects"].([]any); len(subjects) < 2 || card["ranked_students"].(float64) < 2 {
		t.Errorf("the demo student's report card = %v", card)
	}
}
