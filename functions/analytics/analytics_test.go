package analytics_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edugrid/edugrid/functions/analytics"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// stubWarehouse answers each tenant's queries with that tenant's canned rows, so a report that asked for
// the wrong tenant would show the wrong tenant's numbers.
type stubWarehouse struct {
	mu      sync.Mutex
	rows    map[string][]warehouse.Row // by tenant
	queries []*warehouse.Query
	fail    error
}

func (s *stubWarehouse) Ensure(context.Context, []*warehouse.Table) error { return nil }
func (s *stubWarehouse) Apply(context.Context, warehouse.Batch) error     { return nil }
func (s *stubWarehouse) Close() error                                     { return nil }
func (s *stubWarehouse) Query(_ context.Context, q *warehouse.Query) ([]warehouse.Row, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = append(s.queries, q)
	if s.fail != nil {
		return nil, s.fail
	}
	return s.rows[q.Tenant()], nil
}

func (s *stubWarehouse) last(t *testing.T) *warehouse.Query {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queries) == 0 {
		t.Fatal("no query ran")
	}
	return s.queries[len(s.queries)-1]
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

type period struct {
	Start    string   `json:"start"`
	Attended int64    `json:"attended"`
	Absent   int64    `json:"absent"`
	Excused  int64    `json:"excused"`
	Rate     *float64 `json:"rate"`
}

type batchRow struct {
	BatchID   string   `json:"batch_id"`
	BatchName string   `json:"batch_name"`
	BranchID  string   `json:"branch_id"`
	Attended  int64    `json:"attended"`
	Absent    int64    `json:"absent"`
	Rate      *float64 `json:"rate"`
	Periods   []period `json:"periods"`
}

type attendanceReport struct {
	Window  string     `json:"window"`
	From    string     `json:"from"`
	To      string     `json:"to"`
	Batches []batchRow `json:"batches"`
}

const (
	branchA = "aaaaaaaaaaaaaaaaaaaaaaaa"
	branchB = "bbbbbbbbbbbbbbbbbbbbbbbb"
	batch1  = "111111111111111111111111"
	batch2  = "222222222222222222222222"
)

type fixture struct {
	env   *apptest.Env
	wh    *stubWarehouse
	owner string
}

func setup(t *testing.T) fixture {
	t.Helper()
	env := apptest.New(t)
	env.Provision("acme")
	env.Provision("rival")
	wh := &stubWarehouse{rows: map[string][]warehouse.Row{
		// batch, branch, day, attended, absent, excused, name
		"acme": {
			{batch1, branchA, day("2026-05-25"), int64(8), int64(2), int64(0), "Morning JEE"}, // Monday
			{batch1, branchA, day("2026-05-27"), int64(9), int64(1), int64(1), "Morning JEE"}, // same week
			{batch1, branchA, day("2026-06-01"), int64(5), int64(5), int64(0), "Morning JEE"}, // next week
			{batch2, branchB, day("2026-05-26"), int64(0), int64(0), int64(3), nil},           // only excused
		},
		"rival": {{batch1, branchA, day("2026-05-25"), int64(1), int64(0), int64(0), "Rival batch"}},
	}}
	env.Warehouse.Set(wh)
	return fixture{env: env, wh: wh, owner: env.Login("acme", "owner@acme.test").AccessToken}
}

func TestAttendanceRateByWeek(t *testing.T) {
	f := setup(t)
	rec := f.env.Do("GET", "/analytics/attendance/batches?window=week&from=2026-05-01&to=2026-06-30", f.owner, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	rep := apptest.Decode[attendanceReport](t, rec)
	if rep.Window != "week" || rep.From != "2026-05-01" || rep.To != "2026-06-30" || len(rep.Batches) != 2 {
		t.Fatalf("report = %+v", rep)
	}
	b1 := rep.Batches[1]                                                                                                    // batches sort by name; the unnamed one first
	if b1.BatchID != batch1 || b1.BatchName != "Morning JEE" || b1.Attended != 22 || b1.Absent != 8 || *b1.Rate != 0.7333 { // 22 of 30, to four places as in the attendance area
		t.Fatalf("batch 1 = %+v", b1)
	}
	if len(b1.Periods) != 2 || b1.Periods[0].Start != "2026-05-25" || b1.Periods[0].Attended != 17 || *b1.Periods[0].Rate != 17.0/20 ||
		b1.Periods[1].Start != "2026-06-01" || *b1.Periods[1].Rate != 0.5 {
		t.Fatalf("batch 1 weeks = %+v", b1.Periods)
	}
	if b2 := rep.Batches[0]; b2.BatchID != batch2 || b2.Rate != nil || len(b2.Periods) != 1 || b2.Periods[0].Rate != nil {
		t.Fatalf("an only-excused batch has a rate: %+v", b2)
	}
	q := f.wh.last(t)
	params := q.Params()
	if q.Tenant() != "acme" || params[0].Name != "tenant" || params[0].Value != "acme" {
		t.Fatalf("query bound to %q with %+v", q.Tenant(), params)
	}
	if strings.Contains(rec.Body.String(), "Rival") {
		t.Fatal("another tenant's rows in the report")
	}
}

func TestAttendanceWindows(t *testing.T) {
	f := setup(t)
	for _, tc := range []struct {
		window string
		starts []string
	}{
		{"day", []string{"2026-05-25", "2026-05-27", "2026-06-01"}},
		{"month", []string{"2026-05-01", "2026-06-01"}},
	} {
		rec := f.env.Do("GET", "/analytics/attendance/batches?window="+tc.window+"&from=2026-05-01&to=2026-06-30&batch="+batch1, f.owner, nil)
		rep := apptest.Decode[attendanceReport](t, rec)
		if rec.Code != 200 || len(rep.Batches) != 1 {
			t.Fatalf("%s: %d %s", tc.window, rec.Code, rec.Body)
		}
		var got []string
		for _, p := range rep.Batches[0].Periods {
			got = append(got, p.Start)
		}
		if strings.Join(got, ",") != strings.Join(tc.starts, ",") {
			t.Fatalf("%s periods = %v, want %v", tc.window, got, tc.starts)
		}
	}
}

// The default range ends today in the institution's time zone (Asia/Kolkata: already 14:30 there).
func TestAttendanceDefaultRange(t *testing.T) {
	f := setup(t)
	rec := f.env.Do("GET", "/analytics/attendance/batches?window=day", f.owner, nil)
	rep := apptest.Decode[attendanceReport](t, rec)
	if rec.Code != 200 || rep.To != "2026-06-01" || rep.From != "2026-05-03" {
		t.Fatalf("default range = %s..%s (%d)", rep.From, rep.To, rec.Code)
	}
}

func TestBranchAdminSeesOwnBranches(t *testing.T) {
	f := setup(t)
	rec := f.env.Do("POST", "/users/branches", f.owner, map[string]string{"code": "MAIN", "name": "Main"})
	if rec.Code != http.StatusCreated {
		t.Fatalf("create branch: %d %s", rec.Code, rec.Body)
	}
	br := apptest.Decode[struct {
		ID string `json:"id"`
	}](t, rec)
	rec = f.env.Do("POST", "/users/staff", f.owner, map[string]any{"email": "ba@acme.test", "name": "BA", "role": "branch_admin", "branches": []string{br.ID}, "password": apptest.Password})
	if rec.Code != http.StatusCreated {
		t.Fatalf("create branch admin: %d %s", rec.Code, rec.Body)
	}
	// The canned rows' branch A is now this admin's branch.
	f.wh.rows["acme"][0][1], f.wh.rows["acme"][1][1], f.wh.rows["acme"][2][1] = br.ID, br.ID, br.ID
	ba := f.env.Login("acme", "ba@acme.test").AccessToken
	rec = f.env.Do("GET", "/analytics/attendance/batches?from=2026-05-01&to=2026-06-30", ba, nil)
	rep := apptest.Decode[attendanceReport](t, rec)
	if rec.Code != 200 || len(rep.Batches) != 1 || rep.Batches[0].BranchID != br.ID {
		t.Fatalf("branch admin sees %d %+v", rec.Code, rep)
	}
	rec = f.env.Do("GET", "/analytics/staff", ba, nil)
	if rec.Code != 200 {
		t.Fatalf("staff report: %d %s", rec.Code, rec.Body)
	}
}

func TestRefusals(t *testing.T) {
	f := setup(t)
	rec := f.env.Do("POST", "/users/staff", f.owner, map[string]any{"email": "t@acme.test", "name": "T", "role": "accountant", "branches": []string{}, "password": apptest.Password})
	if rec.Code != http.StatusCreated {
		t.Fatalf("create accountant: %d %s", rec.Code, rec.Body)
	}
	accountant := f.env.Login("acme", "t@acme.test").AccessToken
	apptest.MustProblem(t, f.env.Do("GET", "/analytics/attendance/batches", accountant, nil), 403, "forbidden")
	apptest.MustProblem(t, f.env.Do("GET", "/analytics/attendance/batches", "", nil), 401, "unauthenticated")
	before := len(f.wh.queries)
	for _, q := range []string{"window=year", "from=2026-13-01", "to=yesterday", "from=2026-06-02&to=2026-06-01", "window=day&from=2020-01-01&to=2026-01-01", "branch=x", "batch=1"} {
		apptest.MustProblem(t, f.env.Do("GET", "/analytics/attendance/batches?"+q, f.owner, nil), 400, "invalid")
	}
	if len(f.wh.queries) != before {
		t.Fatal("a refused request queried the warehouse")
	}
	f.wh.fail = errors.New("warehouse down: secret detail")
	rec = f.env.Do("GET", "/analytics/staff", f.owner, nil)
	apptest.MustProblem(t, rec, 500, "internal")
	if strings.Contains(rec.Body.String(), "secret detail") {
		t.Fatal("internals leaked")
	}
	f.env.Warehouse.Set(nil)
	apptest.MustProblem(t, f.env.Do("GET", "/analytics/staff", f.owner, nil), 503, "unavailable")
}

func TestCatalogue(t *testing.T) {
	f := setup(t)
	rec := f.env.Do("GET", "/analytics/reports", f.owner, nil)
	reports := apptest.Decode[apptest.Page[struct {
		Name, Status, Path string
	}]](t, rec).Items
	if rec.Code != 200 || len(reports) != len(analytics.Catalogue) {
		t.Fatalf("catalogue = %d %+v", rec.Code, reports)
	}
	for i, r := range reports {
		if r.Name != analytics.Catalogue[i].Name {
			t.Errorf("report %d is %s, want the catalogue's order (%s)", i, r.Name, analytics.Catalogue[i].Name)
		}
		if r.Status != "available" {
			t.Errorf("report %s is %s", r.Name, r.Status)
			continue
		}
		// Served: the route answers (a report may need parameters, so 400 counts), never 404 or 405.
		if got := f.env.Do("GET", r.Path, f.owner, nil).Code; r.Path == "" || got == 404 || got == 405 {
			t.Errorf("available report %s: GET %q = %d", r.Name, r.Path, got)
		}
	}
}

func TestNoQueryWithoutTenant(t *testing.T) {
	if _, err := warehouse.NewQuery("", "SELECT 1 FROM users", warehouse.Users); err == nil {
		t.Fatal("a query without a tenant was built")
	}
	for _, sql := range []string{"SELECT * FROM wh_users", "SELECT * FROM users WHERE tenant = @tenant", "SELECT 1 FROM users; DROP TABLE x", "SELECT * FROM main.wh_users"} {
		if _, err := warehouse.NewQuery("acme", sql, warehouse.Users); err == nil {
			t.Fatalf("%q was accepted", sql)
		}
	}
	if _, err := warehouse.NewQuery("acme", "SELECT 1", warehouse.Changes); err == nil {
		t.Fatal("the raw changes table is readable by reports")
	}
}
