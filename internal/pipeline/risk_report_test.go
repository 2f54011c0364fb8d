package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"testing"

	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/events"
	"github.com/edugrid/edugrid/shared/warehouse"
	"github.com/edugrid/edugrid/shared/warehouse/duckdb"
	"github.com/edugrid/edugrid/triggers/ingest"
)

// docEvents builds change events the way the relay does, numbering their cluster times in order, so that
// a test's data set goes through the real transforms (child tables included) into the warehouse.
type docEvents struct {
	t   *testing.T
	seq uint32
	evs []*events.Event
}

func (d *docEvents) put(tenant, coll, id string, doc map[string]any) {
	d.t.Helper()
	raw, err := json.Marshal(doc)
	if err != nil {
		d.t.Fatal(err)
	}
	d.add(tenant, coll, id, events.Update, raw)
}

func (d *docEvents) del(tenant, coll, id string) { d.add(tenant, coll, id, events.Delete, nil) }

func (d *docEvents) add(tenant, coll, id string, op events.Op, raw []byte) {
	d.seq++
	d.evs = append(d.evs, &events.Event{V: 1, ID: events.IDFromToken([]byte(fmt.Sprint(tenant, d.seq))), Tenant: tenant, Collection: coll,
		Op: op, DocumentID: id, Time: events.ClusterTime{T: 1780000000, I: d.seq}, Document: raw})
}

// ingestInto applies the events to a fresh in-memory DuckDB warehouse, in one batch and then again in
// reverse order one by one: the state must not depend on delivery.
func (d *docEvents) ingestInto(t *testing.T) *duckdb.Warehouse {
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
	in := ingest.New(w, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := in.Apply(ctx, d.evs); err != nil {
		t.Fatal(err)
	}
	for i := len(d.evs) - 1; i >= 0; i-- {
		if err := in.Apply(ctx, d.evs[i:i+1]); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func sheet(date, batch, branch string, marks map[string]string) map[string]any {
	var ms []map[string]any
	for student, status := range marks {
		ms = append(ms, map[string]any{"student_id": student, "status": status})
	}
	return map[string]any{"batch_id": batch, "branch_id": branch, "date": date, "marks": ms}
}

func instalment(student, branch, due string, outstanding int64, status string) map[string]any {
	return map[string]any{"student_id": student, "batch_id": "bt", "branch_id": branch, "due_date": due, "currency": "INR",
		"amount": 10000, "late_fee": 0, "paid": 10000 - outstanding, "waived": 0, "outstanding": outstanding, "status": status}
}

type atRiskStudent struct {
	StudentID          string  `json:"student_id"`
	PRN                string  `json:"prn"`
	BranchID           string  `json:"branch_id"`
	Attended           int64   `json:"attended"`
	Absent             int64   `json:"absent"`
	Rate               float64 `json:"rate"`
	Overdue            int64   `json:"overdue"`
	OverdueInstalments int64   `json:"overdue_instalments"`
	OldestDue          string  `json:"oldest_due"`
	DaysOverdue        int64   `json:"days_overdue"`
}

func TestAtRiskStudentsOnDuckDB(t *testing.T) {
	env := apptest.New(t)
	env.Provision("acme")
	env.Provision("rival")
	acme := env.Login("acme", "owner@acme.test").AccessToken
	a, b := createBranch(t, env, acme, "MAIN"), createBranch(t, env, acme, "EAST")

	d := &docEvents{t: t}
	// Branch a, batch B1: s1 absent, absent, late (1 of 3); s2 present, absent, absent (1 of 3) but
	// nothing overdue; s3 absent, present, and absent corrected to present by a second version of the
	// sheet (2 of 3). A fourth sheet marked s1 present and was deleted: it must not count.
	d.put("acme", "attendance_sheets", "sh1", sheet("2026-06-02", "B1", a, map[string]string{"s1": "absent", "s2": "present", "s3": "absent"}))
	d.put("acme", "attendance_sheets", "sh2", sheet("2026-06-09", "B1", a, map[string]string{"s1": "absent", "s2": "absent", "s3": "present"}))
	d.put("acme", "attendance_sheets", "sh3", sheet("2026-06-16", "B1", a, map[string]string{"s1": "late", "s2": "absent", "s3": "absent"}))
	d.put("acme", "attendance_sheets", "sh3", sheet("2026-06-16", "B1", a, map[string]string{"s1": "late", "s2": "absent", "s3": "present"}))
	d.put("acme", "attendance_sheets", "sh4", sheet("2026-06-23", "B1", a, map[string]string{"s1": "present"}))
	d.del("acme", "attendance_sheets", "sh4")
	// Before the range: never counted.
	d.put("acme", "attendance_sheets", "sh0", sheet("2026-05-20", "B1", a, map[string]string{"s1": "present", "s3": "present"}))
	// Branch b: s4 absent, absent, present, excused (1 of 3); s5 has two marks only.
	d.put("acme", "attendance_sheets", "shb1", sheet("2026-06-03", "B2", b, map[string]string{"s4": "absent", "s5": "absent"}))
	d.put("acme", "attendance_sheets", "shb2", sheet("2026-06-10", "B2", b, map[string]string{"s4": "absent", "s5": "absent"}))
	d.put("acme", "attendance_sheets", "shb3", sheet("2026-06-17", "B2", b, map[string]string{"s4": "present"}))
	d.put("acme", "attendance_sheets", "shb4", sheet("2026-06-24", "B2", b, map[string]string{"s4": "excused"}))

	d.put("acme", "fee_instalments", "i1", instalment("s1", a, "2026-06-10", 5000, "open"))
	d.put("acme", "fee_instalments", "i2", instalment("s1", a, "2026-05-10", 3000, "open"))
	d.put("acme", "fee_instalments", "i3", instalment("s2", a, "2026-06-10", 0, "settled"))
	d.put("acme", "fee_instalments", "i4", instalment("s3", a, "2026-06-01", 2000, "open"))
	d.put("acme", "fee_instalments", "i5", instalment("s3", a, "2026-07-10", 9000, "open")) // not due yet
	d.put("acme", "fee_instalments", "i6", instalment("s4", b, "2026-06-20", 1000, "open"))
	d.put("acme", "fee_instalments", "i7", instalment("s5", b, "2026-06-01", 1000, "open"))
	d.put("acme", "students", "s1", map[string]any{"prn": "P-1", "branch_id": a, "status": "active"})
	d.put("acme", "students", "s3", map[string]any{"prn": "P-3", "branch_id": a, "status": "active"})
	// The rival's student would qualify in every way.
	d.put("rival", "attendance_sheets", "x", sheet("2026-06-02", "B1", a, map[string]string{"x1": "absent", "s1": "absent"}))
	d.put("rival", "attendance_sheets", "y", sheet("2026-06-03", "B1", a, map[string]string{"x1": "absent", "s1": "absent"}))
	d.put("rival", "attendance_sheets", "z", sheet("2026-06-04", "B1", a, map[string]string{"x1": "absent", "s1": "absent"}))
	d.put("rival", "fee_instalments", "ri", instalment("x1", a, "2026-06-01", 99999, "open"))
	d.put("rival", "fee_instalments", "rj", instalment("s1", a, "2026-06-01", 77777, "open"))
	env.Warehouse.Set(d.ingestInto(t))

	get := func(path, token string) []atRiskStudent {
		t.Helper()
		rec := env.Do("GET", path, token, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		return apptest.Decode[struct {
			Students []atRiskStudent `json:"students"`
		}](t, rec).Students
	}
	s1 := atRiskStudent{"s1", "P-1", a, 1, 2, 0.3333, 8000, 2, "2026-05-10", 51}
	s4 := atRiskStudent{"s4", "", b, 1, 2, 0.3333, 1000, 1, "2026-06-20", 10}
	s3 := atRiskStudent{"s3", "P-3", a, 2, 1, 0.6667, 2000, 1, "2026-06-01", 29}
	const rng = "/analytics/students/at-risk?from=2026-06-01&to=2026-06-30"
	tests := []struct {
		name, query string
		want        []atRiskStudent
	}{
		{"defaults: below 75 %, lowest rate first, then most overdue", "", []atRiskStudent{s1, s4, s3}},
		{"below 50 %", "&max_rate=50", []atRiskStudent{s1, s4}},
		{"two marks are enough for s5 now", "&min_sessions=2&branch=" + b, []atRiskStudent{
			{"s5", "", b, 0, 2, 0, 1000, 1, "2026-06-01", 29}, s4}},
		{"branch a", "&branch=" + a, []atRiskStudent{s1, s3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := get(rng+tt.query, acme); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("at-risk = %+v\nwant %+v", got, tt.want)
			}
		})
	}

	createStaff(t, env, acme, "ba@acme.test", "branch_admin", []string{b})
	ba := env.Login("acme", "ba@acme.test").AccessToken
	if got := get(rng, ba); !reflect.DeepEqual(got, []atRiskStudent{s4}) {
		t.Errorf("branch b admin sees %+v, want s4 only", got)
	}
	rival := env.Login("rival", "owner@rival.test").AccessToken
	if got := get(rng, rival); len(got) != 2 || got[0].Overdue != 99999 || got[1].Overdue != 77777 {
		t.Errorf("rival sees %+v, want only its own x1 and s1", got)
	}
	for _, path := range []string{rng + "&max_rate=0", rng + "&max_rate=101", rng + "&max_rate=x", rng + "&min_sessions=0", rng + "&branch=nope",
		"/analytics/students/at-risk?from=2026-07-01&to=2026-06-30", "/analytics/students/at-risk?to=2026-02-30"} {
		apptest.MustProblem(t, env.Do("GET", path, acme, nil), 400, "invalid")
	}
}
