package analytics_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/edugrid/edugrid/functions/analytics"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// The engagement reports' numbers are proved on DuckDB in internal/pipeline (learning_report_test.go,
// learning_e2e_test.go); these tests cover what only a stub warehouse can show.

const quizID = "9a0000000000000000000001"

var engagementPaths = []string{
	"/analytics/learning/active",
	"/analytics/learning/courses/" + batch1 + "/funnel",
	"/analytics/learning/time-spent",
	"/analytics/learning/quizzes/" + quizID + "/items",
	"/analytics/learning/inactive",
}

func TestEngagementQueriesAreBoundToTheCaller(t *testing.T) {
	f := setup(t)
	f.wh.rows = map[string][]warehouse.Row{} // no rows: every report answers empty or not found
	for _, path := range engagementPaths {
		f.wh.queries = nil
		rec := f.env.Do("GET", path+"?course="+batch2, f.owner, nil)
		if rec.Code != 200 && rec.Code != 404 {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		if len(f.wh.queries) == 0 {
			t.Fatalf("%s ran no query", path)
		}
		for _, q := range f.wh.queries {
			if q.Tenant() != "acme" || q.Params()[0].Value != "acme" {
				t.Fatalf("%s: query bound to %q", path, q.Tenant())
			}
			// Client input reaches the SQL only as bound parameters.
			if strings.Contains(q.SQL(), batch2) {
				t.Fatalf("%s: a query parameter was spliced into the SQL: %s", path, q.SQL())
			}
		}
	}
}

func TestEngagementWithoutWarehouse(t *testing.T) {
	f := setup(t)
	f.env.Warehouse.Set(nil)
	for _, path := range engagementPaths {
		apptest.MustProblem(t, f.env.Do("GET", path, f.owner, nil), 503, "unavailable")
	}
}

func TestQuizItemAnalysisRefusesAbsurdSizes(t *testing.T) {
	f := setup(t)
	path := "/analytics/learning/quizzes/" + quizID + "/items"
	row := warehouse.Row{"att1", "q1", true, `["a"]`, 1.0, 1.0, batch1, branchA}
	rows := make([]warehouse.Row, analytics.MaxQuizAnswers+1)
	for i := range rows {
		rows[i] = row
	}
	f.wh.rows = map[string][]warehouse.Row{"acme": rows}
	apptest.MustProblem(t, f.env.Do("GET", path, f.owner, nil), 400, "invalid")
	if sql := f.wh.last(t).SQL(); !strings.Contains(sql, fmt.Sprintf("LIMIT %d", analytics.MaxQuizAnswers+1)) {
		t.Fatalf("the item analysis query is unbounded: %s", sql)
	}
	// One row fewer is analysed.
	f.wh.rows["acme"] = rows[:analytics.MaxQuizAnswers]
	rec := f.env.Do("GET", path, f.owner, nil)
	if rep := apptest.Decode[analytics.QuizItemReport](t, rec); rec.Code != 200 || len(rep.Questions) != 1 || rep.Questions[0].Answered != analytics.MaxQuizAnswers {
		t.Fatalf("report at the bound = %d %+v", rec.Code, rep)
	}
}

func TestActiveLearnersListsEveryWindow(t *testing.T) {
	f := setup(t)
	// course, batch, branch, batch name, day, student
	f.wh.rows = map[string][]warehouse.Row{"acme": {
		{batch2, batch1, branchA, "Morning", day("2026-03-31"), "s1"},
		{batch2, batch1, branchA, "Morning", day("2026-05-02"), "s1"},
		{batch2, batch1, branchA, "Morning", day("2026-05-03"), "s2"},
	}}
	rep := apptest.Decode[analytics.ActiveLearnersReport](t, f.env.Do("GET", "/analytics/learning/active?window=month&from=2026-03-15&to=2026-05-10", f.owner, nil))
	var got []string
	for _, p := range rep.Courses[0].Batches[0].Periods {
		got = append(got, fmt.Sprintf("%s:%d", p.Start, p.Active))
	}
	// March starts before from; April is idle and still listed.
	if want := "2026-03-01:1 2026-04-01:0 2026-05-01:2"; strings.Join(got, " ") != want || rep.Courses[0].Active != 2 {
		t.Fatalf("months = %q (active %d), want %q", got, rep.Courses[0].Active, want)
	}
}
