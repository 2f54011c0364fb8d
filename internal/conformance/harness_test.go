package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edugrid/edugrid/functions/analytics"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/internal/conformance"
	"github.com/edugrid/edugrid/shared/events"
	"github.com/edugrid/edugrid/shared/warehouse"
	"github.com/edugrid/edugrid/shared/warehouse/duckdb"
	"github.com/edugrid/edugrid/triggers/ingest"
)

// engine is one warehouse under test, wrapped so that a failed query keeps the engine's error and SQL:
// through the HTTP handlers a failed report is only a 500.
type engine struct {
	name string
	warehouse.Warehouse
	sql func(*warehouse.Query) string
	// unwrapJSON undoes the emulator's extra JSON string layer (see TestEnginesAgree).
	unwrapJSON bool

	// alive, when set, tells whether the engine's server still answers; it is asked after a failed
	// query, so that a crashed emulator fails the suite at once instead of once per remaining query.
	alive func(context.Context) error

	mu     sync.Mutex
	failed []string
	slow   []string // queries that took over 5 s, for the log
	dead   error    // why the server stopped answering, once alive said so
}

// gone returns why the engine's server stopped answering, or nil.
func (e *engine) gone() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dead
}

// queryDeadline bounds one report query, so a query an engine cannot finish fails with its SQL instead of
// holding the suite until its overall timeout.
const queryDeadline = 60 * time.Second

func (e *engine) Query(ctx context.Context, q *warehouse.Query) ([]warehouse.Row, error) {
	if err := e.gone(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, queryDeadline)
	defer cancel()
	started := time.Now()
	rows, err := e.Warehouse.Query(ctx, q)
	if took := time.Since(started); took > 5*time.Second {
		e.mu.Lock()
		e.slow = append(e.slow, fmt.Sprintf("%v: %s", took.Round(time.Millisecond), e.sql(q)))
		e.mu.Unlock()
	}
	if err != nil {
		var dead error
		if e.alive != nil {
			if aerr := e.alive(context.WithoutCancel(ctx)); aerr != nil {
				dead = fmt.Errorf("%s stopped answering after a failed query (%v): %w", e.name, err, aerr)
			}
		}
		e.mu.Lock()
		e.failed = append(e.failed, fmt.Sprintf("%v\n  SQL: %s", err, e.sql(q)))
		if dead != nil && e.dead == nil {
			e.dead = dead
		}
		e.mu.Unlock()
	}
	if e.unwrapJSON {
		for _, r := range rows {
			for i, v := range r {
				r[i] = unwrapJSON(v)
			}
		}
	}
	return rows, err
}

// unwrapJSON returns the JSON text a JSON string holds when that text is an array or an object: what
// the emulator answers for a JSON column written through the Storage Write API. No other value of the
// data set looks like that.
func unwrapJSON(v any) any {
	s, ok := v.(string)
	if !ok || len(s) < 4 || s[0] != '"' {
		return v
	}
	var inner string
	if json.Unmarshal([]byte(s), &inner) != nil || inner == "" || (inner[0] != '[' && inner[0] != '{') || !json.Valid([]byte(inner)) {
		return v
	}
	return inner
}

// failures returns and forgets the query failures since the last call.
func (e *engine) failures() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.failed
	e.failed = nil
	return out
}

func openDuckDB(t testing.TB) *engine {
	t.Helper()
	w, err := duckdb.Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return &engine{name: "duckdb", Warehouse: w, sql: duckdb.QuerySQL}
}

// errorCounter counts error records, so that an event the ingest transforms reject (logged, kept as a
// raw change only) fails the suite instead of silently thinning the data set.
type errorCounter struct {
	n    atomic.Int64
	last atomic.Value
}

func (c *errorCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *errorCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		c.n.Add(1)
		var b bytes.Buffer
		_ = slog.NewTextHandler(&b, nil).Handle(context.Background(), r)
		c.last.Store(b.String())
	}
	return nil
}
func (c *errorCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *errorCounter) WithGroup(string) slog.Handler      { return c }

// ingestAll creates every table on e and applies evs through the ingest core in batches of size (all at
// once when size is 0); it returns how long the applies took.
func ingestAll(t testing.TB, e *engine, evs []*events.Event, size int) time.Duration {
	t.Helper()
	ctx := context.Background()
	counter := &errorCounter{}
	in := ingest.New(e.Warehouse, nil, slog.New(counter))
	if size == 0 {
		size = len(evs)
	}
	start := time.Now()
	for i := 0; i < len(evs); i += size {
		if err := in.Apply(ctx, evs[i:min(i+size, len(evs))]); err != nil {
			t.Fatalf("%s: ingest events %d..: %v", e.name, i, err)
		}
	}
	if n := counter.n.Load(); n > 0 {
		t.Fatalf("%s: ingest logged %d errors; the last: %v", e.name, n, counter.last.Load())
	}
	return time.Since(start)
}

// replay is evs delivered twice, in a shuffled order: what Pub/Sub's at-least-once delivery may do.
func replay(evs []*events.Event, seed uint64) []*events.Event {
	twice := append(slices.Clone(evs), evs...)
	rng := rand.New(rand.NewPCG(seed, 7))
	rng.Shuffle(len(twice), func(i, j int) { twice[i], twice[j] = twice[j], twice[i] })
	return twice
}

// dataset returns the suite's events, failing when an analysed collection has no generator in
// conformance.Events: a new area's collection must bring data for its reports.
func dataset(t testing.TB) []*events.Event {
	t.Helper()
	evs, missing := conformance.Events(events.AnalysedCollections())
	if len(missing) > 0 {
		t.Fatalf("conformance.Events makes no documents for the analysed collections %v: add a generator for each to internal/conformance/dataset.go", missing)
	}
	return evs
}

// compareTables returns how the engines' live rows differ, per current-state table and tenant. Each
// table must hold live rows for the first tenant: the data set reaches every table.
func compareTables(ctx context.Context, a, b *engine) []string {
	var problems []string
	for _, t := range warehouse.Tables() {
		if !t.Current {
			continue // the raw changes table is not readable through report queries
		}
		for _, tenant := range conformance.Tenants {
			q := warehouse.MustQuery(tenant, "SELECT * FROM "+t.Name+" ORDER BY id", t)
			ra, errA := a.Query(ctx, q)
			rb, errB := b.Query(ctx, q)
			if errA != nil || errB != nil {
				problems = append(problems, fmt.Sprintf("table %s (%s): %s: %v; %s: %v", t.Name, tenant, a.name, errA, b.name, errB))
				continue
			}
			if tenant == conformance.Tenants[0] && len(ra) == 0 {
				problems = append(problems, fmt.Sprintf("table %s has no live rows on %s: extend conformance.Events", t.Name, a.name))
			}
			if len(ra) != len(rb) {
				problems = append(problems, fmt.Sprintf("table %s (%s): %s has %d live rows, %s %d", t.Name, tenant, a.name, len(ra), b.name, len(rb)))
				continue
			}
			for i := range ra {
				if d := rowDiff(t, ra[i], rb[i]); d != "" {
					problems = append(problems, fmt.Sprintf("table %s (%s) row %d (id %v): %s", t.Name, tenant, i, ra[i][1], d))
					break
				}
			}
		}
	}
	return problems
}

// rowDiff says how two rows of t differ, or "". JSON columns compare as JSON values: BigQuery's JSON
// type keeps a canonical text, DuckDB the text as written.
func rowDiff(t *warehouse.Table, a, b warehouse.Row) string {
	if len(a) != len(b) || len(a) != len(t.Columns) {
		return fmt.Sprintf("%d and %d values for %d columns", len(a), len(b), len(t.Columns))
	}
	for i, c := range t.Columns {
		if !sameValue(c.Type, a[i], b[i]) {
			return fmt.Sprintf("column %s: %#v (%T) and %#v (%T)", c.Name, a[i], a[i], b[i], b[i])
		}
	}
	return ""
}

func sameValue(typ warehouse.Type, a, b any) bool {
	switch x := a.(type) {
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case string:
		if typ == warehouse.JSON {
			y, ok := b.(string)
			if !ok {
				return false
			}
			var va, vb any
			return json.Unmarshal([]byte(x), &va) == nil && json.Unmarshal([]byte(y), &vb) == nil && reflect.DeepEqual(va, vb)
		}
	}
	return reflect.DeepEqual(a, b)
}

// request is one call of one report.
type request struct {
	report string
	path   string // with its query
}

// idParam says where a report parameter naming an object finds a value: the first value of column in
// the tenant's rows of the named table (by name, so that a table still being written elsewhere does not
// break the suite's build).
type idParam struct{ table, column string }

var idParams = map[string]idParam{
	"branch": {"branches", "id"}, "batch": {"batches", "id"}, "course": {"batches", "course_id"}, "student": {"students", "id"},
	"test": {"exam_tests", "id"}, "lesson": {"learning_lessons", "id"}, "quiz": {"quiz_attempts", "quiz_id"},
	"counsellor": {"leads", "counsellor_id"},
}

// plainParams are the values of the other report parameters; the first is the base request's (""
// leaves the parameter out), each other one is a request of its own.
var plainParams = map[string][]string{
	"window": {"week", "day", "month"},
	"from":   {conformance.First.Format(time.DateOnly), "2026-03-01"},
	"to":     {conformance.Last.Format(time.DateOnly), "2026-04-15"},
	"as_of":  {"2026-06-01", "2026-03-15", "2026-12-31"},
	// at_risk_students
	"max_rate":     {"", "90", "50"},
	"min_sessions": {"", "1", "6"},
	// exams and learning
	"subject": {"", "Physics"},
	"days":    {"", "14"},
	"limit":   {"", "5"},
	"cursor":  {""},
}

// requests returns the calls the suite makes of every available report in the analytics catalogue, for
// tenant: the base request, then one per other value of each parameter the report's route declares.
// A report whose route is missing or which declares a parameter the suite has no values for is a
// problem: a report added to the catalogue is covered as soon as it is available, or the suite says
// what it needs.
func requests(ctx context.Context, e *engine, routes map[string][]string, tenant string) ([]request, []string) {
	var out []request
	var problems []string
	for _, rep := range analytics.Catalogue {
		if rep.Status != "available" || rep.Path == "" {
			continue
		}
		params, ok := routes[rep.Path]
		if !ok {
			problems = append(problems, fmt.Sprintf("report %s: no analytics route serves %s", rep.Name, rep.Path))
			continue
		}
		values := map[string][]string{}
		for _, p := range params {
			if v, ok := plainParams[p]; ok {
				values[p] = v
				continue
			}
			ip, ok := idParams[strings.TrimSuffix(p, "_id")]
			if !ok {
				problems = append(problems, fmt.Sprintf("report %s: the suite has no values for parameter %q: add it to plainParams or idParams in internal/conformance", rep.Name, p))
				continue
			}
			v, err := firstValue(ctx, e, tenant, ip)
			if err != nil {
				problems = append(problems, fmt.Sprintf("report %s: parameter %s: %v", rep.Name, p, err))
				continue
			}
			values[p] = []string{"", v}
		}
		path, query := rep.Path, url.Values{}
		for _, p := range params {
			if vs := values[p]; len(vs) > 0 {
				if strings.Contains(path, "{"+p+"}") {
					path = strings.ReplaceAll(path, "{"+p+"}", vs[len(vs)-1]) // a path parameter is never empty
				} else if vs[0] != "" {
					query.Set(p, vs[0])
				}
			}
		}
		if strings.Contains(path, "{") {
			problems = append(problems, fmt.Sprintf("report %s: no value for a path parameter of %s", rep.Name, rep.Path))
			continue
		}
		out = append(out, request{rep.Name, withQuery(path, query)})
		for _, p := range params {
			vs := values[p]
			if len(vs) < 2 || strings.Contains(rep.Path, "{"+p+"}") {
				continue
			}
			for _, v := range vs[1:] {
				q := url.Values{}
				for k, vv := range query {
					q[k] = vv
				}
				q.Set(p, v)
				out = append(out, request{rep.Name, withQuery(path, q)})
			}
		}
	}
	return out, problems
}

func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

func firstValue(ctx context.Context, e *engine, tenant string, p idParam) (string, error) {
	t := warehouse.ByName(p.table)
	if t == nil {
		return "", fmt.Errorf("no warehouse table %s", p.table)
	}
	rows, err := e.Query(ctx, warehouse.MustQuery(tenant, "SELECT MIN("+p.column+") FROM "+p.table, t))
	if err != nil {
		return "", err
	}
	if len(rows) == 0 || rows[0][0] == nil {
		return "", fmt.Errorf("no %s in %s", p.column, p.table)
	}
	return fmt.Sprint(rows[0][0]), nil
}

// reportRoutes maps each analytics route's full path to the query parameters it declares.
func reportRoutes(env *apptest.Env) map[string][]string {
	out := map[string][]string{}
	for _, r := range env.Services.Analytics.Routes() {
		if r.Method != "GET" {
			continue
		}
		var names []string
		for _, q := range r.Query {
			names = append(names, q.Name)
		}
		for _, seg := range strings.Split(r.Path, "/") {
			if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
				names = append(names, strings.Trim(seg, "{}"))
			}
		}
		out["/analytics"+r.Path] = names
	}
	return out
}

// answer is one engine's answer to one request.
type answer struct {
	status int
	body   string
	failed []string
}

// ask calls each request as tenant's owner with env's warehouse set to e.
func ask(env *apptest.Env, e *engine, token string, reqs []request) []answer {
	env.Warehouse.Set(e)
	defer env.Warehouse.Set(nil)
	out := make([]answer, len(reqs))
	for i, r := range reqs {
		if err := e.gone(); err != nil {
			out[i] = answer{status: 0, body: "not asked", failed: []string{err.Error()}}
			continue
		}
		rec := env.Do("GET", r.path, token, nil)
		out[i] = answer{status: rec.Code, body: rec.Body.String(), failed: e.failures()}
	}
	return out
}

// compareAnswers returns how two engines' answers to reqs differ. Both must answer 200 with the same
// JSON; the first request of each report must find rows, so that agreement is not the agreement of
// two empty reports.
func compareAnswers(reqs []request, a, b *engine, ra, rb []answer) []string {
	var problems []string
	base := map[string]bool{}
	for i, r := range reqs {
		x, y := ra[i], rb[i]
		if x.status != 200 || y.status != 200 {
			problems = append(problems, fmt.Sprintf("%s: %s answered %d, %s %d\n  %s: %s %s\n  %s: %s %s", r.path, a.name, x.status, b.name, y.status,
				a.name, strings.TrimSpace(x.body), strings.Join(x.failed, "; "), b.name, strings.TrimSpace(y.body), strings.Join(y.failed, "; ")))
			continue
		}
		va, errA := decode(x.body)
		vb, errB := decode(y.body)
		if errA != nil || errB != nil {
			problems = append(problems, fmt.Sprintf("%s: undecodable answers: %v; %v", r.path, errA, errB))
			continue
		}
		var diffs []string
		jsonDiff("", va, vb, &diffs)
		if len(diffs) > 0 {
			if len(diffs) > 5 {
				diffs = append(diffs[:5], fmt.Sprintf("and %d more", len(diffs)-5))
			}
			problems = append(problems, fmt.Sprintf("%s: %s and %s differ:\n  %s", r.path, a.name, b.name, strings.Join(diffs, "\n  ")))
		}
		if !base[r.report] {
			base[r.report] = true
			if !hasRows(va) {
				problems = append(problems, fmt.Sprintf("%s: report %s found nothing in the data set: extend conformance.Events", r.path, r.report))
			}
		}
	}
	return problems
}

func decode(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data")
	}
	return v, nil
}

// floatTolerance is the relative difference two engines' fractional numbers may have. Neither engine
// promises an order for SUM or AVG over FLOAT64, so the last bits may differ (real BigQuery does not
// even repeat itself exactly); integers, strings and the shape of the answer must be identical.
const floatTolerance = 1e-9

func jsonDiff(path string, a, b any, diffs *[]string) {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			*diffs = append(*diffs, fmt.Sprintf("%s: %v and %v", path, a, b))
			return
		}
		keys := map[string]bool{}
		for k := range x {
			keys[k] = true
		}
		for k := range y {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			jsonDiff(path+"."+k, x[k], y[k], diffs)
		}
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			*diffs = append(*diffs, fmt.Sprintf("%s: %s and %s", path, brief(a), brief(b)))
			return
		}
		for i := range x {
			jsonDiff(fmt.Sprintf("%s[%d]", path, i), x[i], y[i], diffs)
		}
	case json.Number:
		y, ok := b.(json.Number)
		if ok && x == y {
			return
		}
		if ok && strings.ContainsAny(string(x)+string(y), ".eE") {
			fx, errX := x.Float64()
			fy, errY := y.Float64()
			if errX == nil && errY == nil && math.Abs(fx-fy) <= floatTolerance*math.Max(math.Abs(fx), math.Abs(fy)) {
				return
			}
		}
		*diffs = append(*diffs, fmt.Sprintf("%s: %v and %v", path, a, b))
	default:
		if !reflect.DeepEqual(a, b) {
			*diffs = append(*diffs, fmt.Sprintf("%s: %v and %v", path, a, b))
		}
	}
}

func brief(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// hasRows reports whether v holds a non-empty array anywhere.
func hasRows(v any) bool {
	switch x := v.(type) {
	case []any:
		return len(x) > 0
	case map[string]any:
		for _, e := range x {
			if hasRows(e) {
				return true
			}
		}
	}
	return false
}

// compareReports provisions the data set's tenants in env, then asks every report of the catalogue of
// both engines (a finds the ids reports take as parameters) as each tenant's owner and returns how the answers differ, and how many requests it made.
func compareReports(ctx context.Context, env *apptest.Env, a, b *engine) ([]string, int) {
	routes := reportRoutes(env)
	var problems []string
	n := 0
	for _, tenant := range conformance.Tenants {
		env.Provision(tenant)
		token := env.Login(tenant, "owner@"+tenant+".test").AccessToken
		reqs, ps := requests(ctx, a, routes, tenant)
		problems = append(problems, ps...)
		ra, rb := ask(env, a, token, reqs), ask(env, b, token, reqs)
		for _, e := range []*engine{a, b} {
			if err := e.gone(); err != nil {
				// Every later answer would only repeat this.
				return append(problems, err.Error()), n
			}
		}
		for _, p := range compareAnswers(reqs, a, b, ra, rb) {
			problems = append(problems, tenant+": "+p)
		}
		n += len(reqs)
	}
	return problems, n
}
