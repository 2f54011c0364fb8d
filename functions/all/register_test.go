package all_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/config"
	"github.com/edugrid/edugrid/shared/logging"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// syncBuffer is a log sink the request goroutines and the test may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

// coldApp builds an App as a function instance does, from configuration without any BigQuery setting,
// logging at debug level into logs.
func coldApp(t *testing.T, logs *syncBuffer) *app.App {
	t.Helper()
	key, err := authn.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	// Configured as a deployment is (keys, the scheduler's identity), but without any BigQuery setting:
	// Terraform gives those to the analytics function alone.
	vars := map[string]string{
		"EDUGRID_PLATFORM_URI":              "lungo:memory:cold-" + t.Name(),
		"EDUGRID_SIGNING_KEYS":              string(key),
		"EDUGRID_SCHEDULER_AUDIENCE":        "https://reminders.example.test",
		"EDUGRID_SCHEDULER_SERVICE_ACCOUNT": "scheduler@example.iam.gserviceaccount.com",
	}
	cfg, err := config.FromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.WarehouseProject != "" || cfg.WarehouseDataset != "" {
		t.Fatal("the cold start must run without BigQuery settings")
	}
	cheap := authn.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}
	a, err := app.New(context.Background(), cfg, app.Options{Logger: logging.NewLogger(logs, slog.LevelDebug), Passwords: &cheap, Schema: &all.Schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// Every function starts cold over the same module, which imports every area: starting one must not open
// the warehouse or log a warning unless it is the analytics function, whose start without BigQuery
// settings is the one that says so (the check that this test can fail).
func TestOnlyAnalyticsOpensTheWarehouse(t *testing.T) {
	var mu sync.Mutex
	opened := 0
	open := func(context.Context, *app.App) (warehouse.Warehouse, error) {
		mu.Lock()
		defer mu.Unlock()
		opened++
		return nil, errors.New("warehouse: set EDUGRID_BQ_PROJECT and EDUGRID_BQ_DATASET")
	}
	seen := map[string]bool{}
	for _, ep := range all.EntryPoints(open) {
		seen[ep.Name] = true
		t.Run(ep.Name, func(t *testing.T) {
			mu.Lock()
			opened = 0
			mu.Unlock()
			logs := &syncBuffer{}
			h := ep.Build(coldApp(t, logs))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/"+ep.Name+"/no-such-route", nil))
			if rec.Code == http.StatusServiceUnavailable && ep.Name != "analytics" {
				t.Fatalf("GET on a cold %s answered 503: %s", ep.Name, rec.Body)
			}
			var loud []string
			for _, line := range logs.lines() {
				var rec struct{ Severity string }
				if line != "" && json.Unmarshal([]byte(line), &rec) == nil && (rec.Severity == "WARNING" || rec.Severity == "ERROR") {
					loud = append(loud, line)
				}
			}
			mu.Lock()
			n := opened
			mu.Unlock()
			if ep.Name == "analytics" {
				if n != 1 || len(loud) != 1 || !strings.Contains(loud[0], "analytics warehouse unavailable") {
					t.Fatalf("analytics opened the warehouse %d times and logged %q; want once, and one error saying it is unavailable", n, loud)
				}
				return
			}
			if n != 0 {
				t.Errorf("starting %s opened the warehouse %d times", ep.Name, n)
			}
			if len(loud) > 0 {
				t.Errorf("starting %s logged at warn or error:\n%s", ep.Name, strings.Join(loud, "\n"))
			}
		})
	}
	for _, name := range []string{"auth", "platform", "users", "analytics", "academic", "students", "attendance", "fees", "learning", "leads", "exams", "reminders"} {
		if !seen[name] {
			t.Errorf("no entry point %q", name)
		}
	}
}
