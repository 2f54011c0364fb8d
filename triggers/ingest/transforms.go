package ingest

import (
	"fmt"
	"sync"

	"github.com/edugrid/edugrid/shared/warehouse"
)

// Transform maps one collection's documents to rows of its current-state table.
type Transform struct {
	Collection string
	Table      *warehouse.Table
	// Row returns the table's own columns (those after warehouse.CommonColumns), in order, read from the
	// document's fields; the ingester checks the fields' Err.
	Row func(f *Fields) warehouse.Row
}

var (
	transformsMu sync.RWMutex
	transforms   = map[string]Transform{}
)

// Register adds the transform of a collection. It panics on a second transform for one collection or a
// table that is not a current-state table: programming errors every test catches.
func Register(t Transform) {
	transformsMu.Lock()
	defer transformsMu.Unlock()
	if _, dup := transforms[t.Collection]; dup {
		panic(fmt.Sprintf("ingest: a transform for %s is registered already", t.Collection))
	}
	if t.Table == nil || !t.Table.Current || t.Row == nil {
		panic(fmt.Sprintf("ingest: incomplete transform for %s", t.Collection))
	}
	transforms[t.Collection] = t
}

func transformFor(collection string) (Transform, bool) {
	transformsMu.RLock()
	defer transformsMu.RUnlock()
	t, ok := transforms[collection]
	return t, ok
}

// Collections lists the analysed collections, for the relay's filter.
func Collections() []string {
	transformsMu.RLock()
	defer transformsMu.RUnlock()
	out := make([]string, 0, len(transforms))
	for c := range transforms {
		out = append(out, c)
	}
	return out
}

// The transforms of the collections that exist so far. A new area's collection gets its table in
// shared/warehouse/tables.go and one Register here.
func init() {
	Register(Transform{Collection: "users", Table: warehouse.Users, Row: func(f *Fields) warehouse.Row {
		return warehouse.Row{f.String("role"), f.String("status"), f.JSON("branches"), f.Time("created_at")}
	}})
	Register(Transform{Collection: "branches", Table: warehouse.Branches, Row: func(f *Fields) warehouse.Row {
		return warehouse.Row{f.String("code"), f.String("name"), f.Bool("active"), f.Time("created_at")}
	}})
	Register(Transform{Collection: "audit_log", Table: warehouse.AuditLog, Row: func(f *Fields) warehouse.Row {
		actor, target := f.Nested("actor"), f.Nested("target")
		return warehouse.Row{f.String("action"), actor.String("id"), actor.String("role"), target.String("kind"), target.String("id"), f.Time("at")}
	}})
	Register(Transform{Collection: "attendance_sheets", Table: warehouse.AttendanceSheets, Row: func(f *Fields) warehouse.Row {
		count := map[string]int64{}
		for _, m := range f.Objects("marks") {
			if s, ok := m.String("status").(string); ok {
				count[s]++
			}
		}
		return warehouse.Row{f.String("batch_id"), f.String("branch_id"), f.Day("date"), count["present"], count["late"], count["absent"], count["excused"]}
	}})
	Register(Transform{Collection: "batches", Table: warehouse.Batches, Row: func(f *Fields) warehouse.Row {
		return warehouse.Row{f.String("course_id"), f.String("branch_id"), f.String("name"), f.Int("capacity")}
	}})
	Register(Transform{Collection: "fee_instalments", Table: warehouse.FeeInstalments, Row: func(f *Fields) warehouse.Row {
		return warehouse.Row{f.String("student_id"), f.String("batch_id"), f.String("branch_id"), f.Day("due_date"), f.String("currency"),
			f.Int("amount"), f.Int("late_fee"), f.Int("paid"), f.Int("waived"), f.Int("outstanding"), f.String("status")}
	}})
	Register(Transform{Collection: "fee_payments", Table: warehouse.FeePayments, Row: func(f *Fields) warehouse.Row {
		return warehouse.Row{f.String("student_id"), f.String("branch_id"), f.Day("paid_on"), f.String("currency"),
			f.Int("amount"), f.Int("refunded"), f.String("method")}
	}})
	Register(Transform{Collection: "enrolments", Table: warehouse.Enrolments, Row: func(f *Fields) warehouse.Row {
		var to any // an open enrolment stores an empty to
		if v, _ := f.String("to").(string); v != "" {
			to = f.Day("to")
		}
		return warehouse.Row{f.String("student_id"), f.String("batch_id"), f.String("branch_id"), f.String("course_id"),
			f.Day("from"), to, f.String("status")}
	}})
}
