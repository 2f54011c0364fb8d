package ingest

import (
	"context"
	"fmt"
	"log/slog"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"

	"github.com/edugrid/edugrid/shared/events"
	"github.com/edugrid/edugrid/shared/pushmsg"
)

// Handler serves the CloudEvent entry point: it decodes the Pub/Sub message, submits the event to the
// batcher and returns when the event's batch is committed. A message that is not an event is logged and
// acknowledged (nil), since redelivering it can never succeed; a warehouse failure returns an error, so
// Pub/Sub redelivers.
func Handler(b *Batcher, logger *slog.Logger) func(context.Context, cloudevents.Event) error {
	return func(ctx context.Context, ce cloudevents.Event) error {
		env, err := pushmsg.Decode(ce.Data())
		if err != nil {
			logger.Error("poison message: not a Pub/Sub push envelope; acknowledged", slog.String("cloudevent_id", ce.ID()), slog.String("error", err.Error()))
			return nil
		}
		ev, err := events.Decode(env.Message.Data)
		if err != nil {
			logger.Error("poison message: not a change event; acknowledged", slog.String("message_id", env.Message.ID), slog.String("error", err.Error()))
			return nil
		}
		if err := b.Submit(ctx, ev); err != nil {
			return fmt.Errorf("ingest event %s: %w", ev.ID, err)
		}
		return nil
	}
}
