package bigquery_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	bq "cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/edugrid/edugrid/shared/config"
	"github.com/edugrid/edugrid/shared/warehouse"
	"github.com/edugrid/edugrid/shared/warehouse/bigquery"
)

func TestSchemaAndMetadata(t *testing.T) {
	for _, tbl := range warehouse.Tables() {
		md := bigquery.Metadata(tbl)
		if len(md.Schema) != len(tbl.Columns) {
			t.Fatalf("%s: %d fields, want %d", tbl.Name, len(md.Schema), len(tbl.Columns))
		}
		if md.TimePartitioning == nil || md.TimePartitioning.Field != tbl.Partition || tbl.Column(tbl.Partition) < 0 {
			t.Fatalf("%s: partitioned by %+v, want its column %q", tbl.Name, md.TimePartitioning, tbl.Partition)
		}
		if typ := tbl.Columns[tbl.Column(tbl.Partition)].Type; typ != warehouse.Timestamp && typ != warehouse.Date {
			t.Fatalf("%s: partition column is %v", tbl.Name, typ)
		}
		if md.Clustering == nil || md.Clustering.Fields[0] != "tenant" || len(md.Clustering.Fields) > 4 {
			t.Fatalf("%s: clustered by %+v, want tenant first", tbl.Name, md.Clustering)
		}
		if !md.Schema[0].Required {
			t.Fatalf("%s: key column nullable", tbl.Name)
		}
	}
	if f := bigquery.Schema(warehouse.AttendanceSheets); f[warehouse.AttendanceSheets.Column("day")].Type != bq.DateFieldType {
		t.Fatalf("attendance day is %v", f)
	}
}

func TestEncodeRow(t *testing.T) {
	tbl := warehouse.AttendanceSheets
	desc, err := bigquery.Descriptor(tbl)
	if err != nil {
		t.Fatal(err)
	}
	changed := time.Date(2026, 6, 2, 10, 30, 0, 123000, time.UTC)
	day := time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)
	row := warehouse.Row{"acme", "s1", int64(42), false, changed, "b1", "br1", day, int64(3), nil, int64(1), int64(0), "8201"}
	b, err := bigquery.EncodeRow(desc, tbl, row)
	if err != nil {
		t.Fatal(err)
	}
	m := dynamicpb.NewMessage(desc)
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatal(err)
	}
	get := func(name string) protoreflect.Value { return m.Get(desc.Fields().ByName(protoreflect.Name(name))) }
	if get("tenant").String() != "acme" || get("version").Int() != 42 || get("deleted").Bool() || get("event_position").String() != "8201" {
		t.Fatalf("common columns wrong: %v", m)
	}
	if get("changed_at").Int() != changed.UnixMicro() {
		t.Fatalf("timestamp = %d, want micros %d", get("changed_at").Int(), changed.UnixMicro())
	}
	if get("day").Int() != day.Unix()/86400 {
		t.Fatalf("date = %d, want days %d", get("day").Int(), day.Unix()/86400)
	}
	if get("present").Int() != 3 || !m.Has(desc.Fields().ByName("excused")) || m.Has(desc.Fields().ByName("late")) {
		t.Fatal("counts wrong, or a nil value was set")
	}
	if _, err := bigquery.EncodeRow(desc, tbl, row[:3]); err == nil {
		t.Fatal("short row encoded")
	}
	bad := append(warehouse.Row{}, row...)
	bad[2] = "not a number"
	if _, err := bigquery.EncodeRow(desc, tbl, bad); err == nil {
		t.Fatal("mistyped row encoded")
	}
}

func TestQuerySQLBindsTenant(t *testing.T) {
	q := warehouse.MustQuery("acme", "SELECT batch_id, COUNT(*) FROM attendance_sheets WHERE day >= @from GROUP BY batch_id", warehouse.AttendanceSheets).
		With("from", warehouse.Day{Time: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)})
	sql, params := bigquery.QuerySQL("proj", "ds", q)
	want := "WITH attendance_sheets AS (SELECT * EXCEPT (rn) FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY id ORDER BY version DESC, COALESCE(event_position, '') DESC) AS rn FROM `proj.ds.wh_attendance_sheets` WHERE tenant = @tenant) WHERE rn = 1 AND NOT deleted) SELECT batch_id"
	if !strings.HasPrefix(sql, want) {
		t.Fatalf("SQL =\n%s\nwant prefix\n%s", sql, want)
	}
	if len(params) != 2 || params[0].Name != "tenant" || params[0].Value != "acme" || params[1].Value != (civil.Date{Year: 2026, Month: 6, Day: 1}) {
		t.Fatalf("params = %+v", params)
	}
}

// Child tables are read with SELECT DISTINCT, which BigQuery refuses over JSON (and would over arrays or
// structs): a child table must hold scalar columns only.
func TestChildTablesAreDistinctable(t *testing.T) {
	n := 0
	for _, tb := range warehouse.Tables() {
		if !tb.Children {
			continue
		}
		n++
		for _, c := range tb.Columns {
			if c.Type == warehouse.JSON {
				t.Errorf("child table %s column %s is JSON", tb.Name, c.Name)
			}
		}
	}
	if n == 0 {
		t.Fatal("no child tables")
	}
}

// A child table's rows are appended per parent version; the CTE keeps only the newest version's rows of
// each parent, once each, of the bound tenant.
func TestChildQuerySQL(t *testing.T) {
	q := warehouse.MustQuery("acme", "SELECT student_id FROM attendance_marks WHERE status = @s", warehouse.AttendanceMarks).With("s", "absent")
	sql, params := bigquery.QuerySQL("proj", "ds", q)
	want := "WITH attendance_marks AS (SELECT DISTINCT c.* FROM `proj.ds.wh_attendance_marks` AS c JOIN (" +
		"SELECT v.parent_id, v.version AS pv, MAX(COALESCE(v.event_position, '')) AS pp FROM `proj.ds.wh_attendance_marks` AS v JOIN (" +
		"SELECT parent_id, MAX(version) AS mv FROM `proj.ds.wh_attendance_marks` WHERE tenant = @tenant GROUP BY parent_id) AS m " +
		"ON v.parent_id = m.parent_id AND v.version = m.mv WHERE v.tenant = @tenant GROUP BY v.parent_id, v.version) AS p " +
		"ON c.parent_id = p.parent_id AND c.version = p.pv AND COALESCE(c.event_position, '') = p.pp WHERE c.tenant = @tenant AND NOT c.deleted) SELECT student_id"
	if !strings.HasPrefix(sql, want) {
		t.Fatalf("SQL =\n%s\nwant prefix\n%s", sql, want)
	}
	if len(params) != 2 || params[0].Value != "acme" {
		t.Fatalf("params = %+v", params)
	}
	s := bigquery.Schema(warehouse.AttendanceMarks)
	for i, f := range s {
		if want := i < len(warehouse.ChildColumns); f.Required != want {
			t.Errorf("column %s required = %v, want %v", f.Name, f.Required, want)
		}
	}
}

// TestIntegration writes to and queries a real dataset. It runs only when EDUGRID_BQ_PROJECT and
// EDUGRID_BQ_DATASET name one (with application default credentials that may create tables in it).
func TestIntegration(t *testing.T) {
	c, err := config.Read(os.Getenv)
	if err != nil {
		t.Fatalf("read configuration: %v", err)
	}
	cfg := bigquery.Config{Project: c.WarehouseProject, Dataset: c.WarehouseDataset, Location: c.WarehouseLocation}
	if cfg.Project == "" || cfg.Dataset == "" {
		t.Skip("needs a BigQuery dataset: set EDUGRID_BQ_PROJECT and EDUGRID_BQ_DATASET (and application default credentials) to run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	w, err := bigquery.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Ensure(ctx, warehouse.Tables()); err != nil {
		t.Fatal(err)
	}
	tenant := "it-" + strings.ToLower(time.Now().UTC().Format("20060102t150405"))
	now := time.Now().UTC()
	row := func(id string, v int64, name string) warehouse.Upsert {
		return warehouse.Upsert{Table: warehouse.Branches, Row: warehouse.Row{tenant, id, v, false, now, "C", name, true, now}}
	}
	b := warehouse.Batch{Upserts: []warehouse.Upsert{row("b1", 2, "new"), row("b1", 1, "old"), row("b2", 1, "other")}}
	for range 2 { // redelivered
		if err := w.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := w.Query(ctx, warehouse.MustQuery(tenant, "SELECT id, name FROM branches ORDER BY id", warehouse.Branches))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0][1] != "new" || rows[1][1] != "other" {
		t.Fatalf("rows = %v", rows)
	}
}

func TestFeeQuerySQLBindsTenant(t *testing.T) {
	q := warehouse.MustQuery("acme", "SELECT i.branch_id, SUM(i.outstanding) FROM fee_instalments AS i JOIN fee_payments AS p ON p.student_id = i.student_id WHERE i.due_date <= @as_of AND p.paid_on >= @from GROUP BY i.branch_id",
		warehouse.FeeInstalments, warehouse.FeePayments).
		With("as_of", warehouse.Day{Time: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}).With("from", warehouse.Day{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	sql, params := bigquery.QuerySQL("proj", "ds", q)
	for _, want := range []string{
		"fee_instalments AS (SELECT * EXCEPT (rn) FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY id ORDER BY version DESC, COALESCE(event_position, '') DESC) AS rn FROM `proj.ds.wh_fee_instalments` WHERE tenant = @tenant) WHERE rn = 1 AND NOT deleted)",
		"fee_payments AS (SELECT * EXCEPT (rn) FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY id ORDER BY version DESC, COALESCE(event_position, '') DESC) AS rn FROM `proj.ds.wh_fee_payments` WHERE tenant = @tenant) WHERE rn = 1 AND NOT deleted)",
	} {
		if !strings.Contains(sql, want) {
			t.Fatalf("SQL =\n%s\nmissing\n%s", sql, want)
		}
	}
	if strings.Contains(sql, "'acme'") || strings.Contains(sql, "2026") {
		t.Fatalf("a value inlined in the SQL:\n%s", sql)
	}
	if len(params) != 3 || params[0].Name != "tenant" || params[0].Value != "acme" ||
		params[1].Name != "as_of" || params[1].Value != (civil.Date{Year: 2026, Month: 6, Day: 1}) || params[2].Value != (civil.Date{Year: 2026, Month: 1, Day: 1}) {
		t.Fatalf("params = %+v", params)
	}
	if f := bigquery.Schema(warehouse.FeeInstalments); f[warehouse.FeeInstalments.Column("due_date")].Type != bq.DateFieldType || f[warehouse.FeeInstalments.Column("amount")].Type != bq.IntegerFieldType {
		t.Fatalf("fee instalment schema is %v", f)
	}
}

func TestEnrolmentQuerySQLBindsTenant(t *testing.T) {
	q := warehouse.MustQuery("acme", "SELECT student_id, branch_id, from_date, to_date FROM enrolments WHERE from_date <= @to", warehouse.Enrolments).
		With("to", warehouse.Day{Time: time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC)})
	sql, params := bigquery.QuerySQL("proj", "ds", q)
	want := "enrolments AS (SELECT * EXCEPT (rn) FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY id ORDER BY version DESC, COALESCE(event_position, '') DESC) AS rn FROM `proj.ds.wh_enrolments` WHERE tenant = @tenant) WHERE rn = 1 AND NOT deleted)"
	if !strings.Contains(sql, want) {
		t.Fatalf("SQL =\n%s\nmissing\n%s", sql, want)
	}
	if strings.Contains(sql, "'acme'") || strings.Contains(sql, "2026") {
		t.Fatalf("a value inlined in the SQL:\n%s", sql)
	}
	if len(params) != 2 || params[0].Name != "tenant" || params[0].Value != "acme" || params[1].Name != "to" || params[1].Value != (civil.Date{Year: 2026, Month: 4, Day: 15}) {
		t.Fatalf("params = %+v", params)
	}
	if f := bigquery.Schema(warehouse.Enrolments); f[warehouse.Enrolments.Column("from_date")].Type != bq.DateFieldType || f[warehouse.Enrolments.Column("to_date")].Type != bq.DateFieldType {
		t.Fatalf("enrolment schema is %v", f)
	}
}
