package duckdb_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/edugrid/edugrid/shared/warehouse"
	"github.com/edugrid/edugrid/shared/warehouse/duckdb"
)

func open(t testing.TB) *duckdb.Warehouse {
	t.Helper()
	w, err := duckdb.Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

var t0 = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

func branch(tenant, id string, version int64, deleted bool, name string) warehouse.Upsert {
	return warehouse.Upsert{Table: warehouse.Branches, Row: warehouse.Row{
		tenant, id, version, deleted, t0.Add(time.Duration(version) * time.Second), "C-" + id, name, true, t0,
	}}
}

func change(tenant, id string, version int64) warehouse.Change {
	return warehouse.Change{EventID: fmt.Sprintf("%s-%s-%d", tenant, id, version), Tenant: tenant, Collection: "branches", Op: "update",
		DocumentID: id, Version: version, ChangedAt: t0, Document: `{"x":1}`, IngestedAt: time.Now()}
}

func names(t *testing.T, w *duckdb.Warehouse, tenant string) []string {
	t.Helper()
	q := warehouse.MustQuery(tenant, "SELECT name FROM branches WHERE active = @active ORDER BY id", warehouse.Branches).With("active", true)
	rows, err := w.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, r := range rows {
		out = append(out, r[0].(string))
	}
	return out
}

// The newest version wins whatever order batches arrive in, a repeated batch changes nothing, a delete is
// a tombstone an older version cannot undo, and one tenant's query never sees another's rows.
func TestApplyIsIdempotentAndOrderFree(t *testing.T) {
	ctx := context.Background()
	w := open(t)
	batches := []warehouse.Batch{
		{Changes: []warehouse.Change{change("acme", "b1", 2)}, Upserts: []warehouse.Upsert{branch("acme", "b1", 2, false, "v2"), branch("acme", "b1", 3, false, "v3")}},
		{Changes: []warehouse.Change{change("acme", "b1", 1)}, Upserts: []warehouse.Upsert{branch("acme", "b1", 1, false, "v1"), branch("acme", "b2", 1, false, "two")}},
		{Upserts: []warehouse.Upsert{branch("acme", "b3", 5, true, ""), branch("other", "b1", 1, false, "theirs")}},
		{Upserts: []warehouse.Upsert{branch("acme", "b3", 4, false, "resurrected?")}},
	}
	for _, b := range batches {
		if err := w.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	first, err := w.Dump(ctx, warehouse.Branches)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(batches) - 1; i >= 0; i-- { // all again, newest first
		if err := w.Apply(ctx, batches[i]); err != nil {
			t.Fatal(err)
		}
	}
	again, _ := w.Dump(ctx, warehouse.Branches)
	if !reflect.DeepEqual(first, again) {
		t.Fatalf("state changed on redelivery:\n%v\n%v", first, again)
	}
	if got, want := names(t, w, "acme"), []string{"v3", "two"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("acme branches = %v, want %v", got, want)
	}
	if got, want := names(t, w, "other"), []string{"theirs"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("other branches = %v, want %v", got, want)
	}
	if n, _ := w.Count(ctx, warehouse.Changes); n != 2 {
		t.Fatalf("changes = %d, want 2 (one per event id)", n)
	}
}

func TestApplyRefusesMistypedRows(t *testing.T) {
	w := open(t)
	u := branch("acme", "b1", 1, false, "x")
	u.Row[6] = 42 // name is a string column
	if err := w.Apply(context.Background(), warehouse.Batch{Upserts: []warehouse.Upsert{u}}); err == nil {
		t.Fatal("a mistyped row was applied")
	}
	if err := w.Apply(context.Background(), warehouse.Batch{Upserts: []warehouse.Upsert{{Table: warehouse.Branches, Row: warehouse.Row{"acme"}}}}); err == nil {
		t.Fatal("a short row was applied")
	}
}

func TestQueryBindsTenantInEveryTable(t *testing.T) {
	q := warehouse.MustQuery("acme", "SELECT count(*) FROM branches JOIN users ON true WHERE x = @x", warehouse.Branches, warehouse.Users).With("x", int64(1))
	want := "WITH branches AS (SELECT * FROM wh_branches WHERE tenant = $tenant AND NOT deleted), users AS (SELECT * FROM wh_users WHERE tenant = $tenant AND NOT deleted) SELECT count(*) FROM branches JOIN users ON true WHERE x = $x"
	if got := duckdb.QuerySQL(q); got != want {
		t.Fatalf("SQL =\n%s\nwant\n%s", got, want)
	}
}

// BenchmarkApply measures ingest into DuckDB: batches of attendance sheets (new rows and updates) of
// 10 to 1,000 sheets, each with its raw change row. An Apply's cost is mostly per table touched, so small
// batches cost far more per event.
// Run: go test -run '^$' -bench Apply -count 3 ./shared/warehouse/duckdb
func BenchmarkApply(b *testing.B) {
	for _, batch := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("batch%d", batch), func(b *testing.B) {
			ctx := context.Background()
			w := open(b)
			i := 0
			for b.Loop() {
				var bt warehouse.Batch
				for j := 0; j < batch; j++ {
					id := fmt.Sprintf("m%07d", (i*batch+j)%50000)
					v := int64(i*batch + j + 1)
					bt.Changes = append(bt.Changes, warehouse.Change{EventID: fmt.Sprintf("e%09d", v), Tenant: "acme", Collection: "attendance_sheets", Op: "insert", DocumentID: id, Version: v, ChangedAt: t0, Document: `{}`, IngestedAt: t0})
					bt.Upserts = append(bt.Upserts, warehouse.Upsert{Table: warehouse.AttendanceSheets, Row: warehouse.Row{
						"acme", id, v, false, t0, "batch1", "br1", t0, int64(20), int64(1), int64(2), int64(0)}})
				}
				if err := w.Apply(ctx, bt); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(i*batch)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// mark returns a sheet version's rows of the attendance marks child table: the marker, then one row per
// student with its status.
func marks(tenant, sheet string, version int64, deleted bool, statuses map[string]string) []warehouse.Upsert {
	day := time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)
	at := t0.Add(time.Duration(version) * time.Second)
	out := []warehouse.Upsert{{Table: warehouse.AttendanceMarks, Row: warehouse.Row{tenant, sheet, version, true, at, sheet, nil, nil, nil, nil, nil}}}
	if deleted {
		return out
	}
	for student, status := range statuses {
		out = append(out, warehouse.Upsert{Table: warehouse.AttendanceMarks, Row: warehouse.Row{
			tenant, sheet + "/" + student, version, false, at, sheet, student, "batch", "branch", day, status}})
	}
	return out
}

func liveMarks(t *testing.T, w *duckdb.Warehouse, tenant string) map[string]string {
	t.Helper()
	q := warehouse.MustQuery(tenant, "SELECT parent_id, student_id, status FROM attendance_marks", warehouse.AttendanceMarks)
	rows, err := w.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r[0].(string)+"/"+r[1].(string)] = r[2].(string)
	}
	return out
}

// A child table shows exactly the rows of each parent's newest version: a mark removed from a sheet
// disappears, an older version arriving late or twice changes nothing, a deleted sheet shows no marks,
// and every batch order gives the same rows.
func TestChildTableKeepsOnlyTheNewestParentVersion(t *testing.T) {
	ctx := context.Background()
	v1 := marks("acme", "s1", 1, false, map[string]string{"a": "present", "b": "absent", "c": "late"})
	v2 := marks("acme", "s1", 2, false, map[string]string{"a": "present", "b": "present"}) // c removed, b corrected
	other := marks("other", "s9", 1, false, map[string]string{"z": "absent"})
	s2v1 := marks("acme", "s2", 1, false, map[string]string{"a": "absent"})
	s2del := marks("acme", "s2", 2, true, nil)
	want := map[string]string{"s1/a": "present", "s1/b": "present"}

	orders := map[string][][]warehouse.Upsert{
		"in order":              {v1, v2, s2v1, s2del, other},
		"newest first":          {s2del, v2, v1, s2v1, other},
		"every batch twice":     {v1, v1, v2, v2, s2v1, s2del, s2del, s2v1, other},
		"versions in one batch": {append(append(append(slices.Clone(v2), v1...), s2v1...), append(s2del, other...)...)},
	}
	for name, batches := range orders {
		t.Run(name, func(t *testing.T) {
			w := open(t)
			for _, ups := range batches {
				if err := w.Apply(ctx, warehouse.Batch{Upserts: ups}); err != nil {
					t.Fatal(err)
				}
			}
			if got := liveMarks(t, w, "acme"); !reflect.DeepEqual(got, want) {
				t.Errorf("acme's live marks = %v, want %v", got, want)
			}
			if got := liveMarks(t, w, "other"); !reflect.DeepEqual(got, map[string]string{"s9/z": "absent"}) {
				t.Errorf("other's live marks = %v", got)
			}
		})
	}
}
