// Package ingest turns change events into warehouse rows.
//
// The core (Ingester.Apply) takes a batch of events and commits it to the warehouse in one Apply: every
// event as a raw change keyed by its event ID, and every event of an analysed collection as a version of
// its document in that collection's current-state table, where the highest cluster time wins. Applying
// a batch twice, or in any order, leaves the same state.
//
// Two ways in feed the core: the CloudEvent entry point "ingest" (Pub/Sub push, one message per request,
// many concurrent requests per instance) through a per-instance micro-batcher that answers each request
// when its batch is committed; and PullLoop, which pulls a subscription in batches of up to 1,000 (the
// local stack, where pstest does not push).
//
// Failures: a message that does not decode as an event will never decode, so it is acknowledged and
// logged (poison), never retried; a warehouse error fails the whole batch, whose messages Pub/Sub
// redelivers.
//
// A collection is analysed when a Transform is registered for it (transforms.go): one small function
// from the event's document to the table's own columns.
package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/events"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// Ingester writes event batches to a warehouse. Safe for concurrent use when the warehouse is.
type Ingester struct {
	wh     warehouse.Warehouse
	clock  clock.Clock
	logger *slog.Logger
}

// New returns an Ingester over wh.
func New(wh warehouse.Warehouse, clk clock.Clock, logger *slog.Logger) *Ingester {
	if clk == nil {
		clk = clock.System()
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Ingester{wh: wh, clock: clk, logger: logger}
}

// Apply commits evs to the warehouse. An event whose document its transform cannot read is kept as a raw
// change and logged; it does not fail the batch. The error is the warehouse's: retry the batch.
func (in *Ingester) Apply(ctx context.Context, evs []*events.Event) error {
	if len(evs) == 0 {
		return nil
	}
	now := in.clock.Now().UTC()
	var b warehouse.Batch
	for _, ev := range evs {
		b.Changes = append(b.Changes, warehouse.Change{
			EventID: ev.ID, Tenant: ev.Tenant, Collection: ev.Collection, Op: string(ev.Op), DocumentID: ev.DocumentID,
			Version: ev.Time.Seq(), ChangedAt: changedAt(ev), Document: string(ev.Document), IngestedAt: now,
		})
		u, ok, err := upsert(ev)
		if err != nil {
			in.logger.Error("change event does not fit its table; kept as a raw change only",
				slog.String("event_id", ev.ID), slog.String("tenant", ev.Tenant), slog.String("collection", ev.Collection), slog.String("error", err.Error()))
			continue
		}
		if ok {
			b.Upserts = append(b.Upserts, u)
		}
	}
	if err := in.wh.Apply(ctx, b); err != nil {
		return fmt.Errorf("ingest %d events: %w", len(evs), err)
	}
	return nil
}

func changedAt(ev *events.Event) time.Time { return time.Unix(int64(ev.Time.T), 0).UTC() }

// upsert returns the current-state row ev makes, and false when its collection is not analysed or the
// event carries no state (an update of a document deleted since: its delete follows).
func upsert(ev *events.Event) (warehouse.Upsert, bool, error) {
	tr, ok := transformFor(ev.Collection)
	if !ok {
		return warehouse.Upsert{}, false, nil
	}
	common := warehouse.Row{ev.Tenant, ev.DocumentID, ev.Time.Seq(), ev.Op == events.Delete, changedAt(ev)}
	width := len(tr.Table.Columns)
	if ev.Op == events.Delete {
		row := make(warehouse.Row, width)
		copy(row, common)
		return warehouse.Upsert{Table: tr.Table, Row: row}, true, nil
	}
	if len(ev.Document) == 0 {
		return warehouse.Upsert{}, false, nil
	}
	f, err := ParseFields(ev.Document)
	if err != nil {
		return warehouse.Upsert{}, false, err
	}
	own := tr.Row(f)
	if err := f.Err(); err != nil {
		return warehouse.Upsert{}, false, err
	}
	if len(common)+len(own) != width {
		return warehouse.Upsert{}, false, fmt.Errorf("transform of %s made %d values, want %d", ev.Collection, len(own), width-len(common))
	}
	return warehouse.Upsert{Table: tr.Table, Row: append(common, own...)}, true, nil
}
