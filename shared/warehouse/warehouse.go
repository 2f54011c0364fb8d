// Package warehouse is edugrid's analytics store: the tables change events become, the Warehouse interface
// the ingest function writes through and the analytics area reads through, and the report query builder.
//
// Two engines implement Warehouse: BigQuery (shared/warehouse/bigquery, production) and DuckDB
// (shared/warehouse/duckdb, the local stack and the end-to-end tests). Only the DuckDB package and the
// wiring that chooses it import the DuckDB driver: linking it costs every binary 15 s and 60 MB.
//
// The model: every change lands in the raw Changes table, keyed by event ID, so a redelivered event is
// stored once. Each analysed collection also has a current-state table keyed by (tenant, id), where the
// newest row wins, by version (the event's cluster time) and then position (its place within that cluster
// time: the writes of one MongoDB transaction share a cluster time), so redelivery and reordering never
// double-count. A deleted document stays as a tombstone row (deleted = true) so that an older version
// arriving late cannot resurrect it; queries never see tombstones.
//
// Some documents hold many analysed rows (an attendance sheet holds one mark per student, a lead the stages
// it went through). Their rows go to a child table (Table.Children): each version of the parent document
// replaces all of its rows at once, so a mark removed from a sheet disappears and an older version of the
// sheet arriving late changes nothing. Every parent version also writes one marker row (id = parent_id,
// deleted = true), which carries the version even when the parent has no rows left or was deleted.
//
// Tenancy: a report never names a table. It names logical tables that the engine binds to the caller's
// tenant's rows (see Query), and the tenant is always a bound parameter.
package warehouse

import (
	"context"
	"fmt"
	"time"
)

// Type is a column type both engines support.
type Type int

// The column types. Go values: String string, Int int64, Float float64, Bool bool, Timestamp time.Time
// (UTC), Date time.Time at midnight UTC (a calendar day), JSON string (a JSON text). Any column may be nil.
const (
	String Type = iota + 1
	Int
	Float
	Bool
	Timestamp
	Date
	JSON
)

func (t Type) String() string {
	switch t {
	case String:
		return "STRING"
	case Int:
		return "INT64"
	case Float:
		return "FLOAT64"
	case Bool:
		return "BOOL"
	case Timestamp:
		return "TIMESTAMP"
	case Date:
		return "DATE"
	case JSON:
		return "JSON"
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// Column is one column of a table.
type Column struct {
	Name string
	Type Type
}

// Table describes a warehouse table.
type Table struct {
	// Name is the logical name reports use; engines may store it under another name.
	Name    string
	Columns []Column
	// Partition is the Timestamp or Date column BigQuery partitions the table by (by day).
	Partition string
	// Cluster lists the columns BigQuery clusters by after tenant.
	Cluster []string
	// Current marks a current-state table: the common columns (CommonColumns) come first and (tenant,
	// id) is its key.
	Current bool
	// Children marks a child table (Current is set too): ChildColumns come first, rows belong to the
	// document parent_id, and only the rows of the parent's newest version are live.
	Children bool
}

// Column returns the index of the named column, or -1.
func (t *Table) Column(name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// The columns every current-state table starts with, in this order.
var CommonColumns = []Column{
	{"tenant", String},
	{"id", String},
	{"version", Int},          // the winning event's cluster time (events.ClusterTime.Seq)
	{"deleted", Bool},         // a tombstone: the document was deleted at version
	{"changed_at", Timestamp}, // when the winning change happened (its cluster time's second)
}

// PositionColumn is the last column of every current-state and child table and of Changes: the event's
// position within its cluster time (events.Event.Position; "" for a snapshot). Versions are ordered by
// (version, position), position compared as a string. It comes last, so that adding it to a table
// made before it existed appends a column (what BigQuery and Terraform change in place).
var PositionColumn = Column{"event_position", String}

// ChildColumns are the columns every child table starts with, in this order: the common columns, where
// id identifies the row within the tenant (parent id and the row's own key), then the parent's id.
var ChildColumns = append(CommonColumns[:len(CommonColumns):len(CommonColumns)], Column{"parent_id", String})

// Row is one row of a table: one value per column, in the table's column order.
type Row []any

// Change is one row of the raw Changes table.
type Change struct {
	EventID    string
	Tenant     string
	Collection string
	Op         string
	DocumentID string
	Version    int64
	Position   string
	ChangedAt  time.Time
	// Document is the event's full document as JSON text ("" when it has none).
	Document   string
	IngestedAt time.Time
}

// Changes is the raw change table: every event once, keyed by event_id.
var Changes = &Table{
	Name: "changes",
	Columns: []Column{
		{"event_id", String}, {"tenant", String}, {"collection", String}, {"op", String}, {"document_id", String},
		{"version", Int}, {"changed_at", Timestamp}, {"document", JSON}, {"ingested_at", Timestamp}, PositionColumn,
	},
	Partition: "changed_at",
	Cluster:   []string{"collection"},
}

// Values returns c as a Row of the Changes table.
func (c Change) Values() Row {
	var doc any
	if c.Document != "" {
		doc = c.Document
	}
	return Row{c.EventID, c.Tenant, c.Collection, c.Op, c.DocumentID, c.Version, c.ChangedAt.UTC(), doc, c.IngestedAt.UTC(), c.Position}
}

// Upsert is one version of one document for a current-state table. Row holds the values of every
// column, common ones and the position included.
type Upsert struct {
	Table *Table
	Row   Row
}

// Batch is what one ingest commit writes.
type Batch struct {
	Changes []Change
	Upserts []Upsert
}

// Warehouse stores change batches and answers report queries. Implementations are safe for concurrent use.
type Warehouse interface {
	// Ensure creates the tables that do not exist yet; it is idempotent.
	Ensure(ctx context.Context, tables []*Table) error
	// Apply commits a batch idempotently: applying it twice, or applying older versions after newer ones,
	// leaves the same state as applying each version once in order. An error means nothing or only part
	// of the batch is stored and the whole batch may be applied again.
	Apply(ctx context.Context, b Batch) error
	// Query runs a report query and returns its rows, one value per selected column.
	Query(ctx context.Context, q *Query) ([]Row, error)
	Close() error
}
