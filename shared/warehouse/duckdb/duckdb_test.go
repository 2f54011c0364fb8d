package duckdb_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver, to write a file of an older layout

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
	return branchAt(tenant, id, version, "", deleted, name)
}

// branchAt is branch with a position within the version's cluster time.
func branchAt(tenant, id string, version int64, position string, deleted bool, name string) warehouse.Upsert {
	return warehouse.Upsert{Table: warehouse.Branches, Row: warehouse.Row{
		tenant, id, version, deleted, t0.Add(time.Duration(version) * time.Second), "C-" + id, name, true, t0, position,
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
						"acme", id, v, false, t0, "batch1", "br1", t0, int64(20), int64(1), int64(2), int64(0), ""}})
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
	return marksAt(tenant, sheet, version, "", deleted, statuses)
}

// marksAt is marks with a position within the version's cluster time.
func marksAt(tenant, sheet string, version int64, position string, deleted bool, statuses map[string]string) []warehouse.Upsert {
	day := time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)
	at := t0.Add(time.Duration(version) * time.Second)
	out := []warehouse.Upsert{{Table: warehouse.AttendanceMarks, Row: warehouse.Row{tenant, sheet, version, true, at, sheet, nil, nil, nil, nil, nil, position}}}
	if deleted {
		return out
	}
	for student, status := range statuses {
		out = append(out, warehouse.Upsert{Table: warehouse.AttendanceMarks, Row: warehouse.Row{
			tenant, sheet + "/" + student, version, false, at, sheet, student, "batch", "branch", day, status, position}})
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

// Two versions of one document at one cluster time (two writes of one MongoDB transaction) are ordered by
// their position: the later one wins in a current-state table and in a child table, whichever arrives
// first, in one batch or two, delivered once or twice; and any change beats a snapshot (no position) of
// its cluster time.
func TestSameClusterTimeIsOrderedByPosition(t *testing.T) {
	ctx := context.Background()
	const v = int64(7) << 32
	first, second := "8200000007000000002B0202", "8200000007000000002B0204"
	older := branchAt("acme", "b1", v, first, false, "first write")
	newer := branchAt("acme", "b1", v, second, false, "second write")
	snap := branchAt("acme", "b2", v, "", false, "snapshot")
	changed := branchAt("acme", "b2", v, "8200000007000000002B0200", false, "change")
	m1 := marksAt("acme", "s1", v, first, false, map[string]string{"a": "absent", "b": "absent"})
	m2 := marksAt("acme", "s1", v, second, false, map[string]string{"a": "present"})
	one := func(ups ...[]warehouse.Upsert) warehouse.Batch {
		var b warehouse.Batch
		for _, u := range ups {
			b.Upserts = append(b.Upserts, u...)
		}
		return b
	}
	up := func(u ...warehouse.Upsert) []warehouse.Upsert { return u }
	for name, batches := range map[string][]warehouse.Batch{
		"in order":            {one(up(older), m1), one(up(newer), m2), one(up(snap)), one(up(changed))},
		"reversed":            {one(up(newer), m2), one(up(older), m1), one(up(changed)), one(up(snap))},
		"one batch, in order": {one(up(older, newer, snap, changed), m1, m2)},
		"one batch, reversed": {one(up(changed, snap, newer, older), m2, m1)},
		"twice, reversed":     {one(up(newer), m2), one(up(older), m1), one(up(newer), m2), one(up(older), m1), one(up(changed, snap))},
	} {
		t.Run(name, func(t *testing.T) {
			w := open(t)
			for _, b := range batches {
				if err := w.Apply(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			if got, want := names(t, w, "acme"), []string{"second write", "change"}; !reflect.DeepEqual(got, want) {
				t.Errorf("branches = %v, want %v", got, want)
			}
			if got, want := liveMarks(t, w, "acme"), map[string]string{"s1/a": "present"}; !reflect.DeepEqual(got, want) {
				t.Errorf("live marks = %v, want %v", got, want)
			}
		})
	}
}

// A warehouse file written before versions had a position opens: its rows keep their data with the
// empty position, and a change at a stored row's cluster time then wins over it.
func TestOpensAFileFromBeforeThePosition(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "warehouse.duckdb")
	old, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"CREATE TABLE wh_branches (tenant VARCHAR, id VARCHAR, version BIGINT, deleted BOOLEAN, changed_at TIMESTAMP, code VARCHAR, name VARCHAR, active BOOLEAN, created_at TIMESTAMP, PRIMARY KEY (tenant, id))",
		"INSERT INTO wh_branches VALUES ('acme', 'b1', 30064771072, false, '2026-06-01 09:00:00', 'C', 'stored', true, '2026-06-01 09:00:00')",
		"CREATE TABLE wh_attendance_marks (tenant VARCHAR, id VARCHAR, version BIGINT, deleted BOOLEAN, changed_at TIMESTAMP, parent_id VARCHAR, student_id VARCHAR, batch_id VARCHAR, branch_id VARCHAR, day DATE, status VARCHAR, PRIMARY KEY (tenant, id, version))",
		"INSERT INTO wh_attendance_marks VALUES ('acme', 's1', 30064771072, true, '2026-06-01 09:00:00', 's1', NULL, NULL, NULL, NULL, NULL), ('acme', 's1/a', 30064771072, false, '2026-06-01 09:00:00', 's1', 'a', 'batch', 'branch', '2026-06-02', 'absent')",
		"CREATE TABLE stage_branches (tenant VARCHAR, id VARCHAR, version BIGINT, deleted BOOLEAN, changed_at TIMESTAMP, code VARCHAR, name VARCHAR, active BOOLEAN, created_at TIMESTAMP)",
	} {
		if _, err := old.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	w, err := duckdb.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	if got := names(t, w, "acme"); !reflect.DeepEqual(got, []string{"stored"}) {
		t.Fatalf("branches after opening = %v", got)
	}
	if got := liveMarks(t, w, "acme"); !reflect.DeepEqual(got, map[string]string{"s1/a": "absent"}) {
		t.Fatalf("marks after opening = %v", got)
	}
	const v = int64(7) << 32
	b := warehouse.Batch{Upserts: append(up1(branchAt("acme", "b1", v, "82", false, "changed")),
		marksAt("acme", "s1", v, "82", false, map[string]string{"a": "present"})...)}
	if err := w.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got := names(t, w, "acme"); !reflect.DeepEqual(got, []string{"changed"}) {
		t.Fatalf("branches = %v", got)
	}
	if got := liveMarks(t, w, "acme"); !reflect.DeepEqual(got, map[string]string{"s1/a": "present"}) {
		t.Fatalf("marks = %v", got)
	}
}

func up1(u warehouse.Upsert) []warehouse.Upsert { return []warehouse.Upsert{u} }
