// Package duckdb is the embedded warehouse engine: DuckDB in one file (the local stack) or in memory
// (tests). It is the only package besides the wiring that imports the DuckDB driver.
//
// Writes are set-based: a batch is appended to staging tables with DuckDB's Appender and merged with one
// INSERT … ON CONFLICT per table inside one transaction. One INSERT per row costs about 5 ms; the batch
// merge handles 20,000 rows in about 100 ms.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"sync"
	"time"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/edugrid/edugrid/shared/warehouse"
)

// Warehouse is a warehouse.Warehouse over DuckDB. Writes are serialised on one connection; queries use
// the pool.
type Warehouse struct {
	db        *sql.DB
	connector *duck.Connector

	mu      sync.Mutex // serialises Apply and Ensure: they share the staging tables and conn
	conn    *sql.Conn
	ensured map[string]*warehouse.Table
	closed  bool
}

var _ warehouse.Warehouse = (*Warehouse)(nil)

// Open opens (creating if needed) the DuckDB database at path, or an in-memory one when path is "", and
// creates every table warehouse.Tables lists.
func Open(ctx context.Context, path string) (*Warehouse, error) {
	// One thread: the warehouse shares its machine with the whole local stack, and its batches and
	// reports are small. With one thread every statement runs on the calling goroutine's thread, so the
	// local pipeline's lowered ingest priority covers DuckDB's work too; a second thread made ingest take
	// both cores of a two-core machine in bursts, and the engagement reports were no faster with it
	// (BENCHMARKS.md, "Load").
	connector, err := duck.NewConnector(path+"?threads=1", nil)
	if err != nil {
		return nil, fmt.Errorf("open duckdb %s: %w", path, err)
	}
	db := sql.OpenDB(connector)
	conn, err := db.Conn(ctx)
	if err != nil {
		_ = db.Close()
		_ = connector.Close()
		return nil, fmt.Errorf("open duckdb %s: %w", path, err)
	}
	w := &Warehouse{db: db, connector: connector, conn: conn, ensured: map[string]*warehouse.Table{}}
	if err := w.Ensure(ctx, warehouse.Tables()); err != nil {
		_ = w.Close()
		return nil, err
	}
	return w, nil
}

// Close closes the database. Calls after the first do nothing.
func (w *Warehouse) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	return errors.Join(w.conn.Close(), w.db.Close(), w.connector.Close())
}

func stored(t *warehouse.Table) string  { return "wh_" + t.Name }
func staging(t *warehouse.Table) string { return "stage_" + t.Name }

func sqlType(t warehouse.Type) string {
	switch t {
	case warehouse.String, warehouse.JSON:
		return "VARCHAR"
	case warehouse.Int:
		return "BIGINT"
	case warehouse.Float:
		return "DOUBLE"
	case warehouse.Bool:
		return "BOOLEAN"
	case warehouse.Timestamp:
		return "TIMESTAMP"
	case warehouse.Date:
		return "DATE"
	}
	panic(fmt.Sprintf("duckdb: no SQL type for %v", t))
}

// TableDDL returns the statements that create t and its staging table. The staging table holds only one
// batch at a time, so it is made afresh.
func TableDDL(t *warehouse.Table) []string {
	var cols []string
	for _, c := range t.Columns {
		cols = append(cols, columnDDL(c))
	}
	key := storedKey(t)
	return []string{
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s, PRIMARY KEY (%s))", stored(t), strings.Join(cols, ", "), key),
		fmt.Sprintf("CREATE OR REPLACE TABLE %s (%s)", staging(t), strings.Join(cols, ", ")),
	}
}

func columnDDL(c warehouse.Column) string {
	if c == warehouse.PositionColumn {
		// Never null, so that comparing positions is plain string order; rows stored before the column
		// existed (ordered by cluster time alone) read as the empty position.
		return c.Name + " VARCHAR NOT NULL DEFAULT ''"
	}
	return c.Name + " " + sqlType(c.Type)
}

// storedKey is the primary key of t's stored rows. A child table keeps the version and position in its
// key: a parent's new version deletes the old rows and inserts the new ones in one transaction, and DuckDB
// checks unique keys eagerly, so a key that returned within the transaction would be refused.
func storedKey(t *warehouse.Table) string {
	switch {
	case t.Children:
		return "tenant, id, version, " + warehouse.PositionColumn.Name
	case t.Current:
		return "tenant, id"
	}
	return t.Columns[0].Name
}

// addPosition brings a table made before the position column existed up to date: a current-state table
// or the changes table gains the column; a child table is rebuilt, since the position is part of its key.
func (w *Warehouse) addPosition(ctx context.Context, t *warehouse.Table) error {
	var has bool
	err := w.conn.QueryRowContext(ctx, "SELECT count(*) > 0 FROM information_schema.columns WHERE table_name = ? AND column_name = ?",
		stored(t), warehouse.PositionColumn.Name).Scan(&has)
	if err != nil || has {
		return err
	}
	if !t.Children {
		// DuckDB adds no column with a constraint; the default fills the stored rows all the same.
		_, err := w.conn.ExecContext(ctx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s VARCHAR DEFAULT ''", stored(t), warehouse.PositionColumn.Name))
		return err
	}
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	old := stored(t) + "_before_position"
	for _, stmt := range []string{
		fmt.Sprintf("ALTER TABLE %s RENAME TO %s", stored(t), old),
		TableDDL(t)[0],
		fmt.Sprintf("INSERT INTO %s SELECT *, '' FROM %s", stored(t), old),
		"DROP TABLE " + old,
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Ensure implements warehouse.Warehouse.
func (w *Warehouse) Ensure(ctx context.Context, tables []*warehouse.Table) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, t := range tables {
		if _, ok := w.ensured[t.Name]; ok {
			continue
		}
		ddl := TableDDL(t)
		if _, err := w.conn.ExecContext(ctx, ddl[0]); err != nil {
			return fmt.Errorf("create warehouse table %s: %w", t.Name, err)
		}
		if err := w.addPosition(ctx, t); err != nil {
			return fmt.Errorf("add the position to warehouse table %s: %w", t.Name, err)
		}
		if _, err := w.conn.ExecContext(ctx, ddl[1]); err != nil {
			return fmt.Errorf("create warehouse table %s: %w", t.Name, err)
		}
		w.ensured[t.Name] = t
	}
	return nil
}

// mergeSQL returns the statements that merge t's staging rows, one per key (Apply deduplicates them),
// into t: for a current-state table a staged version replaces the stored row only when it is newer (a
// later version, or the same version and a later position); for a child table a parent's staged version
// replaces all of the parent's stored rows only when it is newer; for the changes table, rows whose event
// id is stored already are skipped.
func mergeSQL(t *warehouse.Table) []string {
	var names []string
	for _, c := range t.Columns {
		names = append(names, c.Name)
	}
	cols := strings.Join(names, ", ")
	switch {
	case t.Children:
		return []string{
			fmt.Sprintf(`DELETE FROM %[1]s AS s WHERE EXISTS (SELECT 1 FROM %[2]s AS g WHERE g.tenant = s.tenant AND g.parent_id = s.parent_id AND %[3]s)`,
				stored(t), staging(t), newerSQL("g", "s")),
			fmt.Sprintf(`INSERT INTO %[1]s SELECT %[3]s FROM %[2]s AS g WHERE NOT EXISTS (SELECT 1 FROM %[1]s AS s WHERE s.tenant = g.tenant AND s.parent_id = g.parent_id AND NOT %[4]s)`,
				stored(t), staging(t), cols, newerSQL("g", "s")),
		}
	case !t.Current:
		return []string{fmt.Sprintf(`INSERT INTO %s SELECT %s FROM %s ON CONFLICT DO NOTHING`, stored(t), cols, staging(t))}
	}
	var set []string
	for _, n := range names[2:] {
		set = append(set, n+" = excluded."+n)
	}
	return []string{fmt.Sprintf(`INSERT INTO %s SELECT %s FROM %s ON CONFLICT (tenant, id) DO UPDATE SET %s WHERE %s`,
		stored(t), cols, staging(t), strings.Join(set, ", "), newerSQL("excluded", stored(t)))}
}

// newerSQL is the condition that row a is a newer version than row b: a later version, or the same one
// and a later position.
func newerSQL(a, b string) string {
	return fmt.Sprintf("(%[1]s.version > %[2]s.version OR (%[1]s.version = %[2]s.version AND %[1]s.%[3]s > %[2]s.%[3]s))", a, b, warehouse.PositionColumn.Name)
}

// dedupe keeps one row per key, as the merge needs: the first of each event id, the highest version of
// each (tenant, id), and for a child table only the rows of each parent's highest version, once each.
// Doing it here is much cheaper than a window function in the merge.
func dedupe(t *warehouse.Table, rows []warehouse.Row) []warehouse.Row {
	if t.Children {
		return dedupeChildren(rows)
	}
	type key struct{ a, b any }
	seen := make(map[key]int, len(rows))
	out := rows[:0:0]
	for _, r := range rows {
		k := key{r[0], nil}
		if t.Current {
			k.b = r[1]
		}
		i, dup := seen[k]
		switch {
		case !dup:
			seen[k] = len(out)
			out = append(out, r)
		case t.Current && newer(r, out[i]):
			out[i] = r
		}
	}
	return out
}

func dedupeChildren(rows []warehouse.Row) []warehouse.Row {
	parent := len(warehouse.CommonColumns)
	type parentKey struct{ tenant, parent any }
	newest := map[parentKey]warehouse.Row{}
	for _, r := range rows {
		k := parentKey{r[0], r[parent]}
		if n, ok := newest[k]; !ok || newer(r, n) {
			newest[k] = r
		}
	}
	type rowKey struct {
		tenant, id any
		version    int64
		position   string
	}
	seen := make(map[rowKey]bool, len(rows))
	out := rows[:0:0]
	for _, r := range rows {
		k := rowKey{r[0], r[1], version(r), position(r)}
		n := newest[parentKey{r[0], r[parent]}]
		if version(r) != version(n) || position(r) != position(n) || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, r)
	}
	return out
}

func version(r warehouse.Row) int64 {
	v, _ := r[2].(int64)
	return v
}

// position is a current-state or child row's last value.
func position(r warehouse.Row) string {
	p, _ := r[len(r)-1].(string)
	return p
}

// newer reports whether row a is a newer version than row b, as newerSQL does.
func newer(a, b warehouse.Row) bool {
	if version(a) != version(b) {
		return version(a) > version(b)
	}
	return position(a) > position(b)
}

// Apply implements warehouse.Warehouse: one append per staging table and one transaction of merges.
func (w *Warehouse) Apply(ctx context.Context, b warehouse.Batch) error {
	if len(b.Changes) == 0 && len(b.Upserts) == 0 {
		return nil
	}
	byTable := map[*warehouse.Table][]warehouse.Row{}
	order := []*warehouse.Table{}
	add := func(t *warehouse.Table, r warehouse.Row) {
		if _, ok := byTable[t]; !ok {
			order = append(order, t)
		}
		byTable[t] = append(byTable[t], r)
	}
	for _, c := range b.Changes {
		add(warehouse.Changes, c.Values())
	}
	for _, u := range b.Upserts {
		if len(u.Row) != len(u.Table.Columns) {
			return fmt.Errorf("apply batch: row of %s has %d values, want %d", u.Table.Name, len(u.Row), len(u.Table.Columns))
		}
		add(u.Table, u.Row)
	}

	if err := w.Ensure(ctx, order); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("apply batch: warehouse closed")
	}
	for _, t := range order {
		if _, err := w.conn.ExecContext(ctx, "DELETE FROM "+staging(t)); err != nil {
			return fmt.Errorf("apply batch: clear staging %s: %w", t.Name, err)
		}
		if err := w.appendRows(t, dedupe(t, byTable[t])); err != nil {
			return err
		}
	}
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("apply batch: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, t := range order {
		for _, stmt := range mergeSQL(t) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("apply batch: merge %s: %w", t.Name, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("apply batch: commit: %w", err)
	}
	return nil
}

func (w *Warehouse) appendRows(t *warehouse.Table, rows []warehouse.Row) error {
	return w.conn.Raw(func(dc any) error {
		app, err := duck.NewAppenderFromConn(dc.(driver.Conn), "", staging(t))
		if err != nil {
			return fmt.Errorf("apply batch: appender for %s: %w", t.Name, err)
		}
		vals := make([]driver.Value, len(t.Columns))
		for _, r := range rows {
			for i, v := range r {
				if vals[i], err = value(t.Columns[i], v); err != nil {
					_ = app.Close()
					return fmt.Errorf("apply batch: %s: %w", t.Name, err)
				}
			}
			if err := app.AppendRow(vals...); err != nil {
				_ = app.Close()
				return fmt.Errorf("apply batch: append to %s: %w", t.Name, err)
			}
		}
		if err := app.Close(); err != nil {
			return fmt.Errorf("apply batch: flush %s: %w", t.Name, err)
		}
		return nil
	})
}

// value converts a row value to what the appender takes for the column's type.
func value(c warehouse.Column, v any) (driver.Value, error) {
	if v == nil {
		return nil, nil
	}
	ok := false
	switch c.Type {
	case warehouse.String, warehouse.JSON:
		_, ok = v.(string)
	case warehouse.Int:
		switch n := v.(type) {
		case int:
			return int64(n), nil
		case int32:
			return int64(n), nil
		case int64:
			ok = true
		}
	case warehouse.Float:
		_, ok = v.(float64)
	case warehouse.Bool:
		_, ok = v.(bool)
	case warehouse.Timestamp, warehouse.Date:
		var t time.Time
		if t, ok = v.(time.Time); ok {
			return t.UTC(), nil
		}
	}
	if !ok {
		return nil, fmt.Errorf("column %s (%v) cannot hold %T", c.Name, c.Type, v)
	}
	return v, nil
}

var paramRef = regexp.MustCompile(`@([A-Za-z_][A-Za-z0-9_]*)`)

// QuerySQL returns the SQL DuckDB runs for q: one CTE per logical table, limited to the query's tenant
// and to live rows, in front of the report's SQL; parameters are DuckDB's $name.
func QuerySQL(q *warehouse.Query) string {
	var ctes []string
	for _, t := range q.Tables() {
		ctes = append(ctes, fmt.Sprintf("%s AS (SELECT * FROM %s WHERE tenant = $%s AND NOT deleted)", t.Name, stored(t), warehouse.TenantParam))
	}
	return "WITH " + strings.Join(ctes, ", ") + " " + paramRef.ReplaceAllString(q.SQL(), "$$$1")
}

// Query implements warehouse.Warehouse. Integers come back as int64, decimals as float64, dates and
// timestamps as time.Time.
func (w *Warehouse) Query(ctx context.Context, q *warehouse.Query) ([]warehouse.Row, error) {
	var args []any
	for _, p := range q.Params() {
		v := p.Value
		if d, ok := v.(warehouse.Day); ok {
			v = d.Time
		}
		args = append(args, sql.Named(p.Name, v))
	}
	rows, err := w.db.QueryContext(ctx, QuerySQL(q), args...)
	if err != nil {
		return nil, fmt.Errorf("warehouse query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("warehouse query: %w", err)
	}
	var out []warehouse.Row
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("warehouse query: %w", err)
		}
		for i, v := range vals {
			vals[i] = normalise(v)
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("warehouse query: %w", err)
	}
	return out, nil
}

func normalise(v any) any {
	switch n := v.(type) {
	case *big.Int:
		return n.Int64()
	case int8:
		return int64(n)
	case int16:
		return int64(n)
	case int32:
		return int64(n)
	case int:
		return int64(n)
	case uint32:
		return int64(n)
	case uint64:
		return int64(n)
	case float32:
		return float64(n)
	case duck.Decimal:
		return n.Float64()
	}
	return v
}

// Count returns how many stored rows table t holds for all tenants, tombstones included: for tests and
// operations, never for reports.
func (w *Warehouse) Count(ctx context.Context, t *warehouse.Table) (int64, error) {
	var n int64
	err := w.db.QueryRowContext(ctx, "SELECT count(*) FROM "+stored(t)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", t.Name, err)
	}
	return n, nil
}

// Dump returns every stored row of t ordered by its key, for tests that compare warehouse states.
func (w *Warehouse) Dump(ctx context.Context, t *warehouse.Table) ([]warehouse.Row, error) {
	key := storedKey(t)
	var names []string
	for _, c := range t.Columns {
		if c.Name == "ingested_at" {
			continue // differs between deliveries by design
		}
		names = append(names, c.Name)
	}
	rows, err := w.db.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", strings.Join(names, ", "), stored(t), key))
	if err != nil {
		return nil, fmt.Errorf("dump %s: %w", t.Name, err)
	}
	defer rows.Close()
	var out []warehouse.Row
	for rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("dump %s: %w", t.Name, err)
		}
		for i, v := range vals {
			vals[i] = normalise(v)
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}
