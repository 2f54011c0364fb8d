package warehouse

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// TenantParam is the name of the parameter every query binds the tenant to. Report SQL may not use it.
const TenantParam = "tenant"

// Query is a report query over one tenant's rows. Build it with NewQuery, which requires the tenant; there
// is no other way to make one, so a query without the tenant filter cannot be built.
//
// The SQL is the body of a SELECT over logical tables: the engine puts in front of it one common table
// expression per table the query names, each selecting only the current (not deleted) rows whose tenant
// equals the bound tenant parameter. Report SQL refers to parameters as @name and uses only what both
// engines understand (plain SELECT, WHERE, GROUP BY, ORDER BY, COUNT, SUM, CASE, comparisons).
type Query struct {
	tenant string
	tables []*Table
	sql    string
	params []Param
}

// Param is one named query parameter.
type Param struct {
	Name  string
	Value any // string, int64, float64, bool, time.Time (TIMESTAMP) or Day (DATE)
}

// Day is a calendar day for a DATE parameter.
type Day struct{ time.Time }

var (
	paramName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	paramRef  = regexp.MustCompile(`@([A-Za-z_][A-Za-z0-9_]*)`)
	// storedPrefix is where engines keep the tables, so report SQL can never reach them past the CTEs.
	storedPrefix = regexp.MustCompile(`(?i)\b(wh_|stage_|information_schema|duckdb_|main\.|temp\.)`)
)

// NewQuery returns a query of tenant's rows over tables, whose SQL refers to them by their logical names.
// It refuses an empty tenant, a table that is not a current-state table, and SQL that reaches for stored
// tables, other schemas or the tenant parameter itself.
func NewQuery(tenant, sql string, tables ...*Table) (*Query, error) {
	if tenant == "" {
		return nil, fmt.Errorf("warehouse query: no tenant")
	}
	if len(tables) == 0 {
		return nil, fmt.Errorf("warehouse query: no tables")
	}
	for _, t := range tables {
		if t == nil || !t.Current {
			return nil, fmt.Errorf("warehouse query: reports read current-state tables only")
		}
	}
	if storedPrefix.MatchString(sql) || strings.Contains(sql, ";") {
		return nil, fmt.Errorf("warehouse query: SQL may name only the logical tables it declares")
	}
	for _, m := range paramRef.FindAllStringSubmatch(sql, -1) {
		if m[1] == TenantParam {
			return nil, fmt.Errorf("warehouse query: the tenant parameter is bound by the engine")
		}
	}
	return &Query{tenant: tenant, tables: slices.Clone(tables), sql: sql}, nil
}

// MustQuery is NewQuery for queries fixed at compile time; it panics on an error.
func MustQuery(tenant, sql string, tables ...*Table) *Query {
	q, err := NewQuery(tenant, sql, tables...)
	if err != nil {
		panic(err)
	}
	return q
}

// With binds parameter name to v and returns q. It panics on a malformed or reserved name, a programming
// error.
func (q *Query) With(name string, v any) *Query {
	if !paramName.MatchString(name) || name == TenantParam {
		panic(fmt.Sprintf("warehouse query: bad parameter name %q", name))
	}
	switch v.(type) {
	case string, int64, float64, bool, time.Time, Day:
	default:
		panic(fmt.Sprintf("warehouse query: parameter %s has unsupported type %T", name, v))
	}
	q.params = append(q.params, Param{name, v})
	return q
}

// Tenant is the tenant the query is bound to.
func (q *Query) Tenant() string { return q.tenant }

// Tables are the logical tables the query reads.
func (q *Query) Tables() []*Table { return q.tables }

// SQL is the report's own SQL, before the engine binds the tables.
func (q *Query) SQL() string { return q.sql }

// Params are the report's parameters, the tenant first.
func (q *Query) Params() []Param {
	return append([]Param{{TenantParam, q.tenant}}, q.params...)
}
