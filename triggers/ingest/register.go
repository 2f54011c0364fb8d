package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	cloudevents "github.com/cloudevents/sdk-go/v2/event"

	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/config"
	"github.com/edugrid/edugrid/shared/lazy"
	"github.com/edugrid/edugrid/shared/logging"
	"github.com/edugrid/edugrid/shared/warehouse"
	"github.com/edugrid/edugrid/shared/warehouse/bigquery"
)

// The micro-batch of the CloudEvent entry point: at most this many events, or this long after the first.
const (
	pushBatchEvents = 500
	pushBatchWait   = 200 * time.Millisecond
)

func init() {
	functions.CloudEvent("ingest", lazyHandler())
}

// lazyHandler builds the instance's batcher over BigQuery on the first event, not at start-up; a failed
// build returns the error (Pub/Sub redelivers) and is retried on the next event.
func lazyHandler() func(context.Context, cloudevents.Event) error {
	h := lazy.New(func(ctx context.Context) (func(context.Context, cloudevents.Event) error, error) {
		// Read, not FromEnv: ingest opens no tenant database and handles no tokens, and is deployed
		// without those settings, which FromEnv demands in production.
		cfg, err := config.Read(os.Getenv)
		if err != nil {
			logging.NewLogger(os.Stderr, slog.LevelInfo).Error("ingest start-up failed", slog.String("error", err.Error()))
			return nil, fmt.Errorf("ingest: %w", err)
		}
		logger := logging.NewLogger(os.Stderr, logging.ParseLevel(cfg.LogLevel))
		wh, err := openBigQuery(ctx, cfg)
		if err != nil {
			logger.Error("ingest start-up failed", slog.String("error", err.Error()))
			return nil, err
		}
		return Handler(NewBatcher(New(wh, clock.System(), logger), pushBatchEvents, pushBatchWait), logger), nil
	})
	return func(ctx context.Context, ce cloudevents.Event) error {
		handle, err := h.Get(ctx)
		if err != nil {
			return err
		}
		return handle(ctx, ce)
	}
}

func openBigQuery(ctx context.Context, cfg config.Config) (warehouse.Warehouse, error) {
	wh, err := bigquery.OpenWarehouse(context.WithoutCancel(ctx), bigquery.Config{
		Project: cfg.WarehouseProject, Dataset: cfg.WarehouseDataset, Location: cfg.WarehouseLocation,
	})
	if err != nil {
		return nil, err
	}
	if err := wh.Ensure(ctx, warehouse.Tables()); err != nil {
		_ = wh.Close()
		return nil, fmt.Errorf("ingest: %w", err)
	}
	return wh, nil
}
