package conformance_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/internal/conformance"
	"github.com/edugrid/edugrid/shared/events"
	"github.com/edugrid/edugrid/shared/warehouse"
	"github.com/edugrid/edugrid/shared/warehouse/bigquery"
)

// EmulatorVar names the running BigQuery emulator: "host:port" of its REST API and, after a comma, its
// gRPC (Storage Write API) port, "127.0.0.1:9050,9060" (scripts/bqemu.sh start prints it).
const EmulatorVar = "EDUGRID_BIGQUERY_EMULATOR"

// emulatorConfig returns the BigQuery engine's configuration for the emulator EmulatorVar names, with a
// dataset of its own for this run (Ensure creates it), or skips the test when the variable is unset.
func emulatorConfig(t *testing.T) bigquery.Config {
	t.Helper()
	v := os.Getenv(EmulatorVar)
	if v == "" {
		t.Skip("needs the BigQuery emulator: scripts/bqemu.sh start, then set " + EmulatorVar + "=127.0.0.1:9050,9060 (bash .ci/run does both)")
	}
	rest, grpcPort, _ := strings.Cut(v, ",")
	host, _, err := net.SplitHostPort(rest)
	if err != nil {
		t.Fatalf("%s=%q: want host:port[,grpc port]: %v", EmulatorVar, v, err)
	}
	if grpcPort == "" {
		grpcPort = "9060"
	}
	project := os.Getenv("EDUGRID_BIGQUERY_EMULATOR_PROJECT")
	if project == "" {
		project = "edugrid-local" // scripts/bqemu.sh's default
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return bigquery.Config{Project: project, Dataset: "conformance_" + hex.EncodeToString(b[:]),
		Endpoint: "http://" + rest, StorageEndpoint: net.JoinHostPort(host, grpcPort)}
}

// emulatorAlive returns a check that the emulator's REST API still answers: after a crash its port is
// closed, and the query clients would otherwise retry until each query's deadline.
func emulatorAlive(cfg bigquery.Config) func(context.Context) error {
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Endpoint+"/bigquery/v2/projects/"+cfg.Project+"/datasets", nil)
		if err != nil {
			return err
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("the emulator is gone (see .cache/bqemu/bqemu.log): %w", err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("the emulator answers %s to a dataset list", res.Status)
		}
		return nil
	}
}

// TestEnginesAgree is the conformance suite: BigQuery (on the emulator) and DuckDB, given the same
// change events through the same ingest code, must hold the same live rows in every table and answer
// every available report identically, before and after a duplicated, shuffled redelivery of every event.
//
// Where the emulator is known to differ from BigQuery (none of it changes an assertion here):
//   - Partitioning, clustering and the dataset location are accepted and ignored; nothing here reads
//     them back (the offline tests check the metadata Ensure sends).
//   - The emulator runs GoogleSQL through ZetaSQL's analyzer but executes it on SQLite (go-zetasqlite):
//     it accepts and rejects the SQL BigQuery does, but its performance, and the order of rows a query
//     does not ORDER BY, say nothing about BigQuery's. Reports sort in Go or in SQL, so the comparison
//     is order-exact.
//   - Its Storage Write API commits every append to the default stream at once, with none of
//     BigQuery's streaming-buffer delay, quotas or retries; a failed append is an error here as there.
//   - Creating a dataset that exists answers 500 (BigQuery: 409, which Ensure accepts), so the suite
//     calls Ensure once, on a dataset of its own.
//   - A JSON column written through the Storage Write API holds a JSON string of the text written
//     (JSON_TYPE says "string"; BigQuery parses the text). The BigQuery engine's results are unwrapped
//     by exactly that layer (unwrapJSON) before they are compared.
//   - scripts/bqemu's gRPC proxy (proxy.go) makes up for three more: the write stream is repeated on
//     every append, DATE values are sent as text (the emulator reads int32 days as seconds), and appends
//     are serialised (its SQLite store refuses concurrent ones).
//   - Numbers: FLOAT64 sums may differ in the last bits between engines (and between two runs of real
//     BigQuery); answers compare floats to a relative 1e-9 and everything else exactly (floatTolerance).
func TestEnginesAgree(t *testing.T) {
	cfg := emulatorConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	bw, err := bigquery.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bw.Close() })
	big := &engine{name: "bigquery", Warehouse: bw, unwrapJSON: true, sql: func(q *warehouse.Query) string {
		s, _ := bigquery.QuerySQL(cfg.Project, cfg.Dataset, q)
		return s
	}, alive: emulatorAlive(cfg)}
	duck := openDuckDB(t)

	start := time.Now()
	if err := big.Ensure(ctx, warehouse.Tables()); err != nil {
		t.Fatalf("bigquery: ensure: %v", err)
	}
	t.Logf("bigquery: dataset %s and %d tables created in %v", cfg.Dataset, len(warehouse.Tables()), time.Since(start).Round(time.Millisecond))
	if err := duck.Ensure(ctx, warehouse.Tables()); err != nil {
		t.Fatal(err)
	}

	evs := dataset(t)
	for _, e := range []*engine{duck, big} {
		took := ingestAll(t, e, evs, 100)
		t.Logf("%s: %d events ingested in order, batches of 100, in %v", e.name, len(evs), took.Round(time.Millisecond))
	}
	t.Run("tables", func(t *testing.T) {
		if problems := compareTables(ctx, duck, big); len(problems) > 0 {
			t.Fatalf("after one delivery, the engines' tables differ:\n%s", strings.Join(problems, "\n"))
		}
		lastWriteOfATransactionWins(t, duck)
		lastWriteOfATransactionWins(t, big)
	})

	// A quarter of the events, twice each, shuffled: the emulator runs the current-state window over
	// every stored version on SQLite, and redelivering all of them makes each table scan take minutes.
	var some []*events.Event
	for i, e := range evs {
		if i%4 == 1 {
			some = append(some, e)
		}
	}
	again := replay(some, 1)
	for _, e := range []*engine{duck, big} {
		took := ingestAll(t, e, again, 250)
		t.Logf("%s: %d events redelivered shuffled, batches of 250, in %v", e.name, len(again), took.Round(time.Millisecond))
	}
	t.Run("tables_after_redelivery", func(t *testing.T) {
		if problems := compareTables(ctx, duck, big); len(problems) > 0 {
			t.Fatalf("after a duplicated, shuffled redelivery, the engines' tables differ:\n%s", strings.Join(problems, "\n"))
		}
	})

	// Every available report of the catalogue, for both tenants and every parameter value the harness
	// knows. The emulator runs the current-state windows on SQLite without materialising them, so a
	// query can be far slower there than on DuckDB: each query has its own deadline (queryDeadline) and
	// the slow ones are logged with their SQL.
	//
	// The emulator once crashed here (a panic, index out of range, in go-zetasqlite's WINDOW_MAX over
	// the child-table view's MAX(version) OVER (PARTITION BY parent_id)); child tables are now read
	// through a grouped join instead (bigquery.QuerySQL), and should the emulator die again, the first
	// failed query says so and the rest are not asked (engine.alive).
	t.Run("reports", func(t *testing.T) {
		env := apptest.New(t)
		start := time.Now()
		problems, n := compareReports(ctx, env, duck, big)
		t.Logf("%d report requests per engine compared in %v", n, time.Since(start).Round(time.Millisecond))
		for _, e := range []*engine{duck, big} {
			for _, q := range e.slow {
				t.Logf("%s: slow query %s", e.name, q)
			}
		}
		for _, p := range problems {
			t.Error(p)
		}
	})
}

// TestHarnessCatchesDifferences runs the suite's comparisons without the emulator, on two DuckDB
// warehouses: identical data must agree (which also proves the data set reaches every table and every
// report), and a missing event or a failing query must each be reported. It keeps the suite honest
// where the emulator is not available.
func TestHarnessCatchesDifferences(t *testing.T) {
	ctx := context.Background()
	evs := dataset(t)
	a, b := openDuckDB(t), openDuckDB(t)
	ingestAll(t, a, evs, 0)
	ingestAll(t, b, replay(evs, 3), 97)
	if problems := compareTables(ctx, a, b); len(problems) > 0 {
		t.Fatalf("identical data differs:\n%s", strings.Join(problems, "\n"))
	}
	lastWriteOfATransactionWins(t, a)
	lastWriteOfATransactionWins(t, b)
	env := apptest.New(t)
	problems, n := compareReports(ctx, env, a, b)
	if len(problems) > 0 || n == 0 {
		t.Fatalf("%d requests; identical data gives different reports:\n%s", n, strings.Join(problems, "\n"))
	}
	t.Logf("%d events; %d report requests agree on identical data", len(evs), n)

	// One payment never arrives at the second engine: its table and the collection report must differ.
	i := slices.IndexFunc(evs, func(e *events.Event) bool {
		return e.Tenant == conformance.Tenants[0] && e.Collection == "fee_payments" && e.Op == events.Insert
	})
	c := openDuckDB(t)
	c.name = "duckdb-without-a-payment"
	ingestAll(t, c, slices.Delete(slices.Clone(evs), i, i+1), 0)
	problems = compareTables(ctx, a, c)
	if !mentions(problems, "table fee_payments (acme)") {
		t.Fatalf("a missing payment passed the table comparison: %v", problems)
	}
	env = apptest.New(t)
	problems, _ = compareReports(ctx, env, a, c)
	if !mentions(problems, "/analytics/fees/collection") {
		t.Fatalf("a missing payment passed the report comparison: %v", problems)
	}

	// An engine that cannot run a report's SQL (as BigQuery would refuse a DuckDB-only function).
	broken := &engine{name: "broken", Warehouse: refusing{b.Warehouse, warehouse.FeeInstalments}, sql: b.sql}
	env = apptest.New(t)
	problems, _ = compareReports(ctx, env, a, broken)
	if !mentions(problems, "/analytics/fees/ageing") || !mentions(problems, "broken 500") || !mentions(problems, "SQL: WITH fee_instalments") {
		t.Fatalf("a failing report query was not reported with its SQL: %v", problems)
	}
}

// TestHarnessStopsOnADeadServer: once a query fails and the engine's server no longer answers, the
// comparison says so once and asks nothing more of it.
func TestHarnessStopsOnADeadServer(t *testing.T) {
	ctx := context.Background()
	evs := dataset(t)
	a, b := openDuckDB(t), openDuckDB(t)
	ingestAll(t, a, evs, 0)
	ingestAll(t, b, evs, 0)
	counting := &countingQueries{Warehouse: refusing{b.Warehouse, warehouse.FeeInstalments}}
	crashed := &engine{name: "crashed", Warehouse: counting, sql: b.sql,
		alive: func(context.Context) error { return errors.New("connection refused") }}
	env := apptest.New(t)
	problems, _ := compareReports(ctx, env, a, crashed)
	if len(problems) != 1 || !strings.Contains(problems[0], "crashed stopped answering") || !strings.Contains(problems[0], "connection refused") {
		t.Fatalf("problems = %q, want one saying the server stopped answering", problems)
	}
	// Reports that do not read fee_instalments succeed until the first that does; after it, nothing.
	failedAt := counting.n.Load()
	if failedAt == 0 {
		t.Fatal("no query reached the crashed engine")
	}
	if _, err := crashed.Query(ctx, warehouse.MustQuery(conformance.Tenants[0], "SELECT id FROM users", warehouse.Users)); err == nil {
		t.Fatal("a query after the crash reached the engine")
	}
	if got := counting.n.Load(); got != failedAt {
		t.Fatalf("%d queries reached the engine after it was found dead", got-failedAt)
	}
}

// countingQueries counts the queries that reach its warehouse.
type countingQueries struct {
	warehouse.Warehouse
	n atomic.Int64
}

func (c *countingQueries) Query(ctx context.Context, q *warehouse.Query) ([]warehouse.Row, error) {
	c.n.Add(1)
	return c.Warehouse.Query(ctx, q)
}

func mentions(problems []string, s string) bool {
	return slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, s) })
}

// refusing fails every query that reads table.
type refusing struct {
	warehouse.Warehouse
	table *warehouse.Table
}

func (r refusing) Query(ctx context.Context, q *warehouse.Query) ([]warehouse.Row, error) {
	if slices.Contains(q.Tables(), r.table) {
		return nil, fmt.Errorf("query: %w", errors.New("Syntax error: Function not found: date_trunc_duckdb"))
	}
	return r.Warehouse.Query(ctx, q)
}

// lastWriteOfATransactionWins checks the data set's batch renamed twice in one transaction (one cluster
// time, delivered newest first): the engine shows its second name only.
func lastWriteOfATransactionWins(t *testing.T, e *engine) {
	t.Helper()
	q := warehouse.MustQuery(conformance.Tenants[0], "SELECT name, capacity FROM batches WHERE name LIKE @prefix", warehouse.Batches).
		With("prefix", "Evening NEET%")
	rows, err := e.Warehouse.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", e.name, err)
	}
	if len(rows) != 1 || rows[0][0] != "Evening NEET" || rows[0][1] != int64(35) {
		t.Fatalf("%s: the batch a transaction renamed twice reads %v, want its second write (Evening NEET, 35)", e.name, rows)
	}
}
