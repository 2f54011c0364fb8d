package pipeline_test

import (
	"context"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/warehouse"
	"github.com/edugrid/edugrid/shared/warehouse/duckdb"
)

type cohortReport struct {
	Cohorts []struct {
		Month    string `json:"month"`
		Students int64  `json:"students"`
		Months   []struct {
			Month  string  `json:"month"`
			Offset int     `json:"offset"`
			Active int64   `json:"active"`
			Share  float64 `json:"share"`
		} `json:"months"`
	} `json:"cohorts"`
}

// cohortWarehouse is an in-memory DuckDB warehouse holding a small, hand-computed enrolment data set for
// acme in branches a and b, and a rival tenant's enrolment that must never be counted.
func cohortWarehouse(t *testing.T, a, b string) *duckdb.Warehouse {
	t.Helper()
	ctx := context.Background()
	w, err := duckdb.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	if err := w.Ensure(ctx, warehouse.Tables()); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	d := func(s string) any {
		if s == "" {
			return nil
		}
		v, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// tenant, id, version, deleted, changed_at, student, batch, branch, course, from_date, to_date, status, event_position
	enr := func(tenant, id string, version int64, deleted bool, student, branch, from, to, status string) warehouse.Upsert {
		return warehouse.Upsert{Table: warehouse.Enrolments, Row: warehouse.Row{tenant, id, version, deleted, at, student, "b1", branch, "c1", d(from), d(to), status, ""}}
	}
	batch := warehouse.Batch{Upserts: []warehouse.Upsert{
		enr("acme", "e1", 1, false, "s1", a, "2026-01-05", "2026-02-10", "transferred"), // s1: January cohort,
		enr("acme", "e2", 1, false, "s1", a, "2026-02-10", "", "active"),                // transferred, still enrolled
		enr("acme", "e3", 1, false, "s2", a, "2026-01-20", "", "active"),
		enr("acme", "e3", 2, false, "s2", a, "2026-01-20", "2026-03-15", "withdrawn"), // s2: a later version withdraws in March
		enr("acme", "e4", 1, false, "s3", b, "2026-01-25", "2026-01-31", "withdrawn"), // s3: gone by the end of January
		enr("acme", "e5", 1, false, "s4", a, "2026-03-02", "", "active"),              // s4: March cohort
		enr("acme", "e6", 1, false, "s5", a, "2025-12-01", "", "active"),              // s5: December cohort, before the range
		enr("acme", "e7", 1, false, "s6", b, "2026-02-01", "", "active"),
		enr("acme", "e7", 2, true, "s6", b, "2026-02-01", "", "active"),  // deleted: never counted
		enr("acme", "e8", 1, false, "s7", a, "2026-04-20", "", "active"), // after the range
		enr("rival", "r1", 1, false, "x1", a, "2026-01-10", "", "active"),
	}}
	if err := w.Apply(ctx, batch); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestCohortRetentionOnDuckDB(t *testing.T) {
	env := apptest.New(t)
	env.Provision("acme")
	env.Provision("rival")
	acme := env.Login("acme", "owner@acme.test").AccessToken
	a, b := createBranch(t, env, acme, "MAIN"), createBranch(t, env, acme, "EAST")
	env.Warehouse.Set(cohortWarehouse(t, a, b))

	type month struct {
		Month  string
		Offset int
		Active int64
		Share  float64
	}
	type cohort struct {
		Month    string
		Students int64
		Months   []month
	}
	get := func(path, token string) []cohort {
		t.Helper()
		rec := env.Do("GET", path, token, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		out := []cohort{}
		for _, c := range apptest.Decode[cohortReport](t, rec).Cohorts {
			got := cohort{Month: c.Month, Students: c.Students}
			for _, m := range c.Months {
				got.Months = append(got.Months, month{m.Month, m.Offset, m.Active, m.Share})
			}
			out = append(out, got)
		}
		return out
	}

	// January: s1, s2, s3. Active on Jan 31: s1, s2 (s3's enrolment ended that day); Feb 28: s1 (e2), s2;
	// Mar 31: s1 only (s2 withdrew on Mar 15); Apr 15 (the report's last day): s1. March: s4 throughout.
	want := []cohort{
		{"2026-01", 3, []month{{"2026-01", 0, 2, 0.6667}, {"2026-02", 1, 2, 0.6667}, {"2026-03", 2, 1, 0.3333}, {"2026-04", 3, 1, 0.3333}}},
		{"2026-03", 1, []month{{"2026-03", 0, 1, 1}, {"2026-04", 1, 1, 1}}},
	}
	if got := get("/analytics/students/cohorts?from=2026-01-01&to=2026-04-15", acme); !reflect.DeepEqual(got, want) {
		t.Fatalf("cohorts = %+v, want %+v", got, want)
	}

	// Branch filter: only s3's enrolment is in branch b.
	want = []cohort{{"2026-01", 1, []month{{"2026-01", 0, 0, 0}, {"2026-02", 1, 0, 0}, {"2026-03", 2, 0, 0}, {"2026-04", 3, 0, 0}}}}
	if got := get("/analytics/students/cohorts?from=2026-01-01&to=2026-04-15&branch="+b, acme); !reflect.DeepEqual(got, want) {
		t.Fatalf("branch b cohorts = %+v, want %+v", got, want)
	}

	// A branch admin of a sees a's students only: s1 and s2 in January, s4 in March.
	createStaff(t, env, acme, "ba@acme.test", "branch_admin", []string{a})
	ba := env.Login("acme", "ba@acme.test").AccessToken
	got := get("/analytics/students/cohorts?from=2026-01-01&to=2026-04-15", ba)
	if len(got) != 2 || got[0].Students != 2 || got[0].Months[0].Active != 2 || got[0].Months[2].Active != 1 || got[1].Students != 1 {
		t.Fatalf("branch admin cohorts = %+v", got)
	}

	// Another tenant sees only its own enrolment.
	rival := env.Login("rival", "owner@rival.test").AccessToken
	if got := get("/analytics/students/cohorts?from=2026-01-01&to=2026-04-15", rival); len(got) != 1 || got[0].Students != 1 || got[0].Months[3].Active != 1 {
		t.Fatalf("rival cohorts = %+v", got)
	}

	apptest.MustProblem(t, env.Do("GET", "/analytics/students/cohorts?from=April", acme, nil), 400, "invalid")
}
