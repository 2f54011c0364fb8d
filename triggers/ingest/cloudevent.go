package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"

	"github.com/edugrid/edugrid/shared/events"
)

// pushEnvelope is the data of the CloudEvent a Pub/Sub message becomes: the Functions Framework makes it
// from the push subscription's request (infra/analytics.tf), as Eventarc would.
type pushEnvelope struct {
	Message struct {
		Data       []byte            `json:"data"` // base64 in JSON
		Attributes map[string]string `json:"attributes"`
		ID         string            `json:"messageId"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

// Handler serves the CloudEvent entry point: it decodes the Pub/Sub message, submits the event to the
// batcher and returns when the event's batch is committed. A message that is not an event is logged and
// acknowledged (nil), since redelivering it can never succeed; a warehouse failure returns an error, so
// Pub/Sub redelivers.
func Handler(b *Batcher, logger *slog.Logger) func(context.Context, cloudevents.Event) error {
	return func(ctx context.Context, ce cloudevents.Event) error {
		var env pushEnvelope
		if err := json.Unmarshal(ce.Data(), &env); err != nil {
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
