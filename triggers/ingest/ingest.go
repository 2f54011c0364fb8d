// Package ingest turns change events into warehouse rows.
//
// The core (Ingester.Apply) takes a batch of events and commits it to the warehouse in one Apply: every
// event as a raw change keyed by its event ID, and every event of an analysed collection as a version of
// its document in that collection's current-state table, where the newest version wins (cluster time,
// then position within it). Applying
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
	"slices"
	"time"

	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/events"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// Ingester writes event batches to a warehouse. Safe for concurrent use when the warehouse is.
type Ingester struct {
	wh         warehouse.Warehouse
	clock      clock.Clock
	logger     *slog.Logger
	transforms map[string]Transform
}

// New returns an Ingester over wh with the transforms of Transforms.
func New(wh warehouse.Warehouse, clk clock.Clock, logger *slog.Logger) *Ingester {
	if clk == nil {
		clk = clock.System()
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Ingester{wh: wh, clock: clk, logger: logger, transforms: transformSet(Transforms())}
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
			Version: ev.Time.Seq(), Position: ev.Position, ChangedAt: changedAt(ev), Document: string(ev.Document), IngestedAt: now,
		})
		ups, err := in.upserts(ev)
		if err != nil {
			in.logger.Error("change event does not fit its table; kept as a raw change only",
				slog.String("event_id", ev.ID), slog.String("tenant", ev.Tenant), slog.String("collection", ev.Collection), slog.String("error", err.Error()))
			continue
		}
		b.Upserts = append(b.Upserts, ups...)
	}
	if err := in.wh.Apply(ctx, b); err != nil {
		return fmt.Errorf("ingest %d events: %w", len(evs), err)
	}
	return nil
}

func changedAt(ev *events.Event) time.Time { return time.Unix(int64(ev.Time.T), 0).UTC() }

// upserts returns the rows ev makes: its document's current-state row and its rows of child tables;
// none when its collection is not analysed or the event carries no state (an update of a document deleted
// since: its delete follows).
func (in *Ingester) upserts(ev *events.Event) ([]warehouse.Upsert, error) {
	tr, ok := in.transforms[ev.Collection]
	if !ok {
		return nil, nil
	}
	deleted := ev.Op == events.Delete
	if !deleted && len(ev.Document) == 0 {
		return nil, nil
	}
	common := warehouse.Row{ev.Tenant, ev.DocumentID, ev.Time.Seq(), deleted, changedAt(ev)}
	// A marker row per child table carries the parent's version, so that a delete, or a version with
	// no rows left, still replaces the rows of every older version.
	marker := func(t *warehouse.Table) warehouse.Upsert {
		row := make(warehouse.Row, len(t.Columns))
		copy(row, common)
		row[3], row[len(common)], row[len(row)-1] = true, ev.DocumentID, ev.Position
		return warehouse.Upsert{Table: t, Row: row}
	}
	var out []warehouse.Upsert
	if deleted {
		if tr.Table != nil {
			row := make(warehouse.Row, len(tr.Table.Columns))
			copy(row, common)
			row[len(row)-1] = ev.Position
			out = append(out, warehouse.Upsert{Table: tr.Table, Row: row})
		}
		for _, c := range tr.Children {
			out = append(out, marker(c.Table))
		}
		return out, nil
	}
	f, err := ParseFields(ev.Document)
	if err != nil {
		return nil, err
	}
	if tr.Table != nil {
		own := tr.Row(f)
		if len(common)+len(own)+1 != len(tr.Table.Columns) {
			return nil, fmt.Errorf("transform of %s made %d values, want %d", ev.Collection, len(own), len(tr.Table.Columns)-len(common)-1)
		}
		out = append(out, warehouse.Upsert{Table: tr.Table, Row: append(append(slices.Clone(common), own...), ev.Position)})
	}
	for _, c := range tr.Children {
		out = append(out, marker(c.Table))
		width := len(c.Table.Columns) - len(warehouse.ChildColumns) - 1
		for _, kr := range c.Rows(f) {
			if len(kr.Row) != width {
				return nil, fmt.Errorf("child transform of %s made %d values for %s, want %d", ev.Collection, len(kr.Row), c.Table.Name, width)
			}
			if kr.Key == "" {
				return nil, fmt.Errorf("child transform of %s made a row of %s without a key", ev.Collection, c.Table.Name)
			}
			row := append(warehouse.Row{ev.Tenant, ev.DocumentID + "/" + kr.Key, ev.Time.Seq(), false, changedAt(ev), ev.DocumentID}, kr.Row...)
			row = append(row, ev.Position)
			out = append(out, warehouse.Upsert{Table: c.Table, Row: row})
		}
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
