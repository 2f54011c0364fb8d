// Command migrate brings every institution's database to the schema version of this release
// (functions/all.Schema), a batch of institutions at a time, logging a progress line after each batch.
// It is the operator's job after a deployment that adds migrations (a Cloud Build step with the
// functions' configuration, or by hand); the guard would otherwise upgrade each institution on its first
// request. It reads the same environment as the functions (EDUGRID_PLATFORM_URI, EDUGRID_CLUSTERS, …),
// prints the report as JSON on stdout and exits 1 when any institution could not be migrated; running it
// again resumes.
//
//	go run ./scripts/migrate [-batch 100]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/config"
	"github.com/edugrid/edugrid/shared/logging"
	"github.com/edugrid/edugrid/shared/tenant"
)

func main() {
	batch := flag.Int("batch", 100, "institutions per batch")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, *batch, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
}

// run migrates every institution of the deployment getenv describes and writes the report to out.
func run(ctx context.Context, getenv func(string) string, batch int, out, logs io.Writer) error {
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	logger := logging.NewLogger(logs, logging.ParseLevel(cfg.LogLevel))
	a, err := app.New(ctx, cfg, app.Options{Logger: logger, Schema: &all.Schema})
	if err != nil {
		return err
	}
	defer a.Close()
	start := time.Now()
	logger.Info("migrating institutions", slog.Int("schema_version", all.Schema.Latest()), slog.Int("batch", batch))
	rep, err := a.Upgrader.UpgradeAll(ctx, batch, func(r tenant.UpgradeReport) {
		logger.Info("migration progress", slog.Int("tenants", r.Tenants), slog.Int("upgraded", r.Upgraded), slog.Int("failed", r.Failed))
	})
	logger.Info("migration finished", slog.Int("tenants", rep.Tenants), slog.Int("upgraded", rep.Upgraded),
		slog.Int("failed", rep.Failed), slog.Duration("took", time.Since(start)))
	if encErr := json.NewEncoder(out).Encode(rep); encErr != nil && err == nil {
		err = encErr
	}
	return err
}
