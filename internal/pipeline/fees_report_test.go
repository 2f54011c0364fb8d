package pipeline_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/warehouse"
	"github.com/edugrid/edugrid/shared/warehouse/duckdb"
)

const (
	feeBranchA = "aaaaaaaaaaaaaaaaaaaaaaaa"
	feeBranchB = "bbbbbbbbbbbbbbbbbbbbbbbb"
)

type feeCollectionReport struct {
	Branches []struct {
		BranchID  string `json:"branch_id"`
		Due       int64  `json:"due"`
		Collected int64  `json:"collected"`
		Periods   []struct {
			Start     string `json:"start"`
			Due       int64  `json:"due"`
			Collected int64  `json:"collected"`
		} `json:"periods"`
	} `json:"branches"`
}

type ageingReport struct {
	AsOf     string `json:"as_of"`
	Branches []struct {
		BranchID    string `json:"branch_id"`
		Outstanding int64  `json:"outstanding"`
		Buckets     []struct {
			Bucket      string `json:"bucket"`
			Outstanding int64  `json:"outstanding"`
			Instalments int64  `json:"instalments"`
		} `json:"buckets"`
	} `json:"branches"`
}

// feeWarehouse is an in-memory DuckDB warehouse holding a small, hand-computed fee data set for acme and
// a rival tenant's rows that must never be counted.
func feeWarehouse(t *testing.T) *duckdb.Warehouse {
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
	d := func(s string) time.Time {
		v, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// tenant, id, version, deleted, changed_at, student, batch, branch, due_date, currency, amount, late_fee, paid, waived, outstanding, status
	inst := func(tenant, id string, version int64, deleted bool, branch, due string, amount, lateFee, paid, waived int64) warehouse.Upsert {
		out := amount + lateFee - paid - waived
		status := "open"
		if out == 0 {
			status = "settled"
		}
		return warehouse.Upsert{Table: warehouse.FeeInstalments, Row: warehouse.Row{tenant, id, version, deleted, at, "s1", "b1", branch, d(due), "INR",
			amount, lateFee, paid, waived, out, status, ""}}
	}
	pay := func(tenant, id, branch, paidOn string, amount, refunded int64) warehouse.Upsert {
		return warehouse.Upsert{Table: warehouse.FeePayments, Row: warehouse.Row{tenant, id, int64(1), false, at, "s1", branch, d(paidOn), "INR", amount, refunded, "cash", ""}}
	}
	b := warehouse.Batch{Upserts: []warehouse.Upsert{
		inst("acme", "i1", 1, false, feeBranchA, "2026-01-10", 10000, 0, 10000, 0), // settled, due in January
		inst("acme", "i2", 1, false, feeBranchA, "2026-02-10", 10000, 500, 0, 0),   // open, 111 days overdue on 2026-06-01
		inst("acme", "i3", 1, false, feeBranchA, "2026-04-15", 8000, 0, 3000, 0),   // open, 47 days overdue
		inst("acme", "i4", 1, false, feeBranchA, "2026-05-20", 6000, 0, 0, 1000),   // open, 12 days overdue
		inst("acme", "i4", 2, false, feeBranchA, "2026-05-20", 6000, 0, 0, 2000),   // a later version wins
		inst("acme", "i5", 1, false, feeBranchB, "2026-06-01", 7000, 0, 0, 0),      // open, due today: 0 days
		inst("acme", "i6", 1, false, feeBranchB, "2026-07-01", 9000, 0, 0, 0),      // not due yet
		inst("acme", "i7", 1, false, feeBranchB, "2026-03-01", 5000, 0, 0, 0),
		inst("acme", "i7", 2, true, feeBranchB, "2026-03-01", 5000, 0, 0, 0), // deleted: never counted
		pay("acme", "p1", feeBranchA, "2026-01-08", 10000, 0),
		pay("acme", "p2", feeBranchA, "2026-04-20", 3000, 0),
		pay("acme", "p3", feeBranchB, "2026-04-21", 4000, 1500),
		pay("acme", "p4", feeBranchA, "2026-07-02", 999, 0), // outside the range
		inst("rival", "r1", 1, false, feeBranchA, "2026-02-10", 1000000, 0, 0, 0),
		pay("rival", "r2", feeBranchA, "2026-04-20", 1000000, 0),
	}}
	if err := w.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestFeeCollectionOnDuckDB(t *testing.T) {
	env := apptest.New(t)
	env.Provision("acme")
	env.Provision("rival")
	env.Warehouse.Set(feeWarehouse(t))
	acme := env.Login("acme", "owner@acme.test").AccessToken

	rec := env.Do("GET", "/analytics/fees/collection?window=month&from=2026-01-01&to=2026-06-30", acme, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	rep := apptest.Decode[feeCollectionReport](t, rec)
	if len(rep.Branches) != 2 {
		t.Fatalf("report = %s", rec.Body)
	}
	a, b := rep.Branches[0], rep.Branches[1]
	// Branch A: due 10000 (Jan) + 10500 (Feb) + 8000 (Apr) + 4000 (May, i4 less its waiver) = 32500;
	// collected 10000 (Jan) + 3000 (Apr). The rival's million is in neither.
	if a.BranchID != feeBranchA || a.Due != 32500 || a.Collected != 13000 {
		t.Fatalf("branch A = %+v", a)
	}
	type per struct {
		Start          string
		Due, Collected int64
	}
	var got []per
	for _, p := range a.Periods {
		got = append(got, per{p.Start, p.Due, p.Collected})
	}
	want := []per{{"2026-01-01", 10000, 10000}, {"2026-02-01", 10500, 0}, {"2026-04-01", 8000, 3000}, {"2026-05-01", 4000, 0}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("branch A months = %+v, want %+v", got, want)
	}
	// Branch B: i5 due in June; i6 after the range, i7 deleted; p3 less its refund.
	if b.BranchID != feeBranchB || b.Due != 7000 || b.Collected != 2500 || len(b.Periods) != 2 {
		t.Fatalf("branch B = %+v", b)
	}

	rec = env.Do("GET", "/analytics/fees/collection?window=month&from=2026-01-01&to=2026-06-30&branch="+feeBranchB, acme, nil)
	if rep := apptest.Decode[feeCollectionReport](t, rec); rec.Code != 200 || len(rep.Branches) != 1 || rep.Branches[0].BranchID != feeBranchB {
		t.Fatalf("branch filter: %d %s", rec.Code, rec.Body)
	}

	// Another tenant sees only its own rows.
	rival := env.Login("rival", "owner@rival.test").AccessToken
	rec = env.Do("GET", "/analytics/fees/collection?window=month&from=2026-01-01&to=2026-06-30", rival, nil)
	rr := apptest.Decode[feeCollectionReport](t, rec)
	if rec.Code != 200 || len(rr.Branches) != 1 || rr.Branches[0].Due != 1000000 || rr.Branches[0].Collected != 1000000 {
		t.Fatalf("rival report: %d %s", rec.Code, rec.Body)
	}
}

func TestDuesAgeingOnDuckDB(t *testing.T) {
	env := apptest.New(t)
	env.Provision("acme")
	env.Provision("rival")
	env.Warehouse.Set(feeWarehouse(t))
	acme := env.Login("acme", "owner@acme.test").AccessToken

	rec := env.Do("GET", "/analytics/fees/ageing?as_of=2026-06-01", acme, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	rep := apptest.Decode[ageingReport](t, rec)
	if rep.AsOf != "2026-06-01" || len(rep.Branches) != 2 {
		t.Fatalf("report = %s", rec.Body)
	}
	buckets := func(i int) map[string][2]int64 {
		out := map[string][2]int64{}
		for _, b := range rep.Branches[i].Buckets {
			out[b.Bucket] = [2]int64{b.Outstanding, b.Instalments}
		}
		return out
	}
	// Branch A: i2 10500 at 111 days, i3 5000 at 47 days, i4 4000 at 12 days; i1 is settled.
	wantA := map[string][2]int64{"not_due": {}, "0-30": {4000, 1}, "31-60": {5000, 1}, "61-90": {}, "90+": {10500, 1}}
	if a := rep.Branches[0]; a.BranchID != feeBranchA || a.Outstanding != 19500 || !reflect.DeepEqual(buckets(0), wantA) {
		t.Fatalf("branch A = %+v", a)
	}
	// Branch B: i5 due today (0 days), i6 not due; i7 deleted. The rival's rows are not here.
	wantB := map[string][2]int64{"not_due": {9000, 1}, "0-30": {7000, 1}, "31-60": {}, "61-90": {}, "90+": {}}
	if b := rep.Branches[1]; b.BranchID != feeBranchB || b.Outstanding != 16000 || !reflect.DeepEqual(buckets(1), wantB) {
		t.Fatalf("branch B = %+v", b)
	}

	// A later day moves the same instalments to older buckets.
	rec = env.Do("GET", "/analytics/fees/ageing?as_of=2026-07-31&branch="+feeBranchB, acme, nil)
	rep = apptest.Decode[ageingReport](t, rec)
	wantB = map[string][2]int64{"not_due": {}, "0-30": {9000, 1}, "31-60": {7000, 1}, "61-90": {}, "90+": {}} // 30 and 60 days
	if rec.Code != 200 || len(rep.Branches) != 1 || !reflect.DeepEqual(buckets(0), wantB) {
		t.Fatalf("ageing on 2026-07-31: %d %s", rec.Code, rec.Body)
	}

	apptest.MustProblem(t, env.Do("GET", "/analytics/fees/ageing?as_of=June", acme, nil), 400, "invalid")
}

// TestFeePaymentReachesCollectionReport follows a fee through the whole pipeline: an instalment assigned
// and a payment recorded through the API reach the warehouse and the collection and ageing reports.
func TestFeePaymentReachesCollectionReport(t *testing.T) {
	env := apptest.New(t)
	start(t, env, "")
	env.Provision("acme")
	owner := env.Login("acme", "owner@acme.test").AccessToken
	post := func(path, token string, body any) string {
		t.Helper()
		rec := env.Do("POST", path, token, body)
		if rec.Code != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body)
		}
		return apptest.Decode[struct {
			ID string `json:"id"`
		}](t, rec).ID
	}
	branch := createBranch(t, env, owner, "MAIN")
	createStaff(t, env, owner, "acc@acme.test", "accountant", []string{branch})
	accountant := env.Login("acme", "acc@acme.test").AccessToken
	course := post("/academic/courses", owner, map[string]any{"code": "NEET-27", "name": "NEET", "subjects": []string{"Biology"}})
	batch := post("/academic/batches", owner, map[string]any{"course_id": course, "branch_id": branch, "name": "Morning", "teachers": []string{}, "capacity": 50,
		"start_date": "2026-06-01", "end_date": "2026-06-30", "schedule": []map[string]any{{"weekday": "monday", "start": "09:00", "duration_minutes": 60}}})
	student := post("/students/", owner, map[string]any{"name": "Asha Rao", "date_of_birth": "2010-01-01", "phone": "+919800000001", "branch_id": branch, "password": apptest.Password})
	enrolment := post("/students/enrolments", owner, map[string]any{"student_id": student, "batch_id": batch, "from": "2026-06-01"})
	plan := post("/fees/plans", accountant, map[string]any{"name": "Plan", "total": 1000, "schedule": map[string]any{"kind": "count", "count": 2}})
	post("/fees/assignments", accountant, map[string]any{"enrolment_id": enrolment, "plan_id": plan})

	req := httptest.NewRequest("POST", "/fees/payments", strings.NewReader(`{"student_id":"`+student+`","amount":700,"method":"cash","paid_on":"2026-06-01"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+accountant)
	req.Header.Set("Idempotency-Key", "e2e-1")
	rec := httptest.NewRecorder()
	env.Handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Fatalf("payment: %d %s", rec.Code, rec.Body)
	}

	eventually(t, "the payment in the collection report", func() (bool, string) {
		rec := env.Do("GET", "/analytics/fees/collection?window=month&from=2026-01-01&to=2026-12-31", owner, nil)
		rep := apptest.Decode[feeCollectionReport](t, rec)
		var due, collected int64
		for _, b := range rep.Branches {
			due += b.Due
			collected += b.Collected
		}
		return rec.Code == 200 && collected == 700 && due == 1000, rec.Body.String()
	})
	eventually(t, "the rest outstanding in the ageing report", func() (bool, string) {
		rec := env.Do("GET", "/analytics/fees/ageing?as_of=2027-01-01", owner, nil)
		rep := apptest.Decode[ageingReport](t, rec)
		return rec.Code == 200 && len(rep.Branches) == 1 && rep.Branches[0].Outstanding == 300, rec.Body.String()
	})
}
