package conformance_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
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
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	bw, err := bigquery.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bw.Close() })
	big := &engine{name: "bigquery", Warehouse: bw, unwrapJSON: true, sql: func(q *warehouse.Query) string {
		s, _ := bigquery.QuerySQL(cfg.Project, cfg.Dataset, q)
		return s
	}}
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
	// knows. The emulator runs the current-state and child-table windows on SQLite without materialising
	// them: queries joining two such views take 5-25 s there (milliseconds on DuckDB), so each query has
	// its own deadline (queryDeadline) and the slow ones are logged with their SQL.
	//
	// Not yet in CI (.ci/run runs the table subtests): one run compared all 136 requests per engine and
	// agreed, the next crashed the emulator itself (a panic, index out of range, in go-zetasqlite's
	// WINDOW_MAX over the child-table view's MAX(version) OVER (PARTITION BY parent_id)). Run it by hand
	// with -run TestEnginesAgree/reports.
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
