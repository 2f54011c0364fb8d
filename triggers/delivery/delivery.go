// Package delivery is the Pub/Sub-triggered entry point "delivery" on the notifications topic: each
// message is one notification from an institution's outbox (shared/notify), delivered through the
// notifications area (functions/notifications.Service.Deliver) on the recipient's channels.
//
// What it answers decides what Pub/Sub does: nil acknowledges (sent, already sent, failed for good, waiting
// for quiet hours, or a message that can never be delivered: not a notification, an unknown institution);
// an error makes Pub/Sub redeliver with its backoff, and after the subscription's max_delivery_attempts the
// message goes to the dead-letter topic (infra/delivery.tf). Only transient failures (a provider outage,
// the database, a suspended institution) return errors.
//
// A message with the attribute kind=SweepKind is not a notification: it asks for the deliveries whose
// quiet hours are over to be sent (Cloud Scheduler publishes one every 15 minutes).
package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/256dpi/lungo"
	cloudevents "github.com/cloudevents/sdk-go/v2/event"

	"github.com/edugrid/edugrid/functions/notifications"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/lazy"
	"github.com/edugrid/edugrid/shared/notify"
	"github.com/edugrid/edugrid/shared/pushmsg"
	"github.com/edugrid/edugrid/shared/tenant"
)

// SweepKind is the kind attribute of a sweep message.
const SweepKind = "delivery.sweep"

// sweepBatch bounds the waiting deliveries one sweep sends per institution.
const sweepBatch = 500

// Notifications is what the trigger asks of the notifications area.
type Notifications interface {
	Deliver(ctx context.Context, db lungo.IDatabase, t *tenant.Tenant, n notify.Notification) (notifications.Outcome, error)
	SendWaiting(ctx context.Context, db lungo.IDatabase, t *tenant.Tenant, limit int) (int, error)
}

// Tenants finds institutions (the tenant registry).
type Tenants interface {
	Get(ctx context.Context, slug string) (*tenant.Tenant, error)
	List(ctx context.Context, after string, limit int) ([]tenant.Tenant, error)
}

// Databases opens an institution's database; release when done.
type Databases interface {
	Open(ctx context.Context, t *tenant.Tenant) (lungo.IDatabase, func(), error)
}

// Deps is what the trigger needs.
type Deps struct {
	Notifications Notifications
	Tenants       Tenants
	Databases     Databases
	Logger        *slog.Logger
}

// Handler delivers notifications. Safe for concurrent use.
type Handler struct{ deps Deps }

// New returns a Handler over d.
func New(d Deps) *Handler {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return &Handler{deps: d}
}

// Event handles one CloudEvent from the push subscription.
func (h *Handler) Event(ctx context.Context, ce cloudevents.Event) error {
	env, err := pushmsg.Decode(ce.Data())
	if err != nil {
		h.deps.Logger.Error("poison message; acknowledged", slog.String("cloudevent_id", ce.ID()), slog.String("error", err.Error()))
		return nil
	}
	if env.Message.Attributes[notify.AttrKind] == SweepKind {
		return h.Sweep(ctx)
	}
	var n notify.Notification
	if err := json.Unmarshal(env.Message.Data, &n); err != nil || n.ID == "" || n.Tenant == "" || n.Recipient == "" {
		h.deps.Logger.Error("poison message: not a notification; acknowledged", slog.String("message_id", env.Message.ID))
		return nil
	}
	return h.Notification(ctx, n)
}

// Notification delivers n: nil when Pub/Sub may forget it, an error when it should come again.
func (h *Handler) Notification(ctx context.Context, n notify.Notification) error {
	t, err := h.deps.Tenants.Get(ctx, n.Tenant)
	if apperr.CodeOf(err) == apperr.NotFound {
		h.deps.Logger.Error("notification of an unknown institution; acknowledged", slog.String("tenant", n.Tenant), slog.String("notification_id", n.ID))
		return nil
	}
	if err != nil {
		return fmt.Errorf("delivery: institution %s: %w", n.Tenant, err)
	}
	if t.Status != tenant.Active {
		// Held until the institution is resumed, or until the dead-letter topic takes it.
		return fmt.Errorf("delivery: institution %s is %s; notification %s waits", t.Slug, t.Status, n.ID)
	}
	db, release, err := h.deps.Databases.Open(ctx, t)
	if err != nil {
		return fmt.Errorf("delivery: open %s: %w", t.Slug, err)
	}
	defer release()
	out, err := h.deps.Notifications.Deliver(ctx, db, t, n)
	if err != nil {
		h.deps.Logger.Warn("delivery will be retried", slog.String("tenant", t.Slug), slog.String("notification_id", n.ID), slog.String("error", err.Error()))
		return err
	}
	h.deps.Logger.Info("notification delivered", slog.String("tenant", t.Slug), slog.String("notification_id", n.ID), slog.String("kind", n.Kind), slog.String("outcome", string(out)))
	return nil
}

// Sweep sends, in every active institution, the deliveries whose quiet hours are over and those a crashed
// instance left claimed. It tries every institution and returns their errors joined.
func (h *Handler) Sweep(ctx context.Context) error {
	var errs []error
	sent := 0
	for after := ""; ; {
		page, err := h.deps.Tenants.List(ctx, after, 200)
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("delivery sweep: %w", err))...)
		}
		for i := range page[:min(len(page), 200)] {
			t := &page[i]
			if t.Status != tenant.Active {
				continue
			}
			db, release, err := h.deps.Databases.Open(ctx, t)
			if err != nil {
				errs = append(errs, fmt.Errorf("delivery sweep: open %s: %w", t.Slug, err))
				continue
			}
			n, err := h.deps.Notifications.SendWaiting(ctx, db, t, sweepBatch)
			release()
			sent += n
			if err != nil {
				errs = append(errs, err)
			}
		}
		if len(page) <= 200 {
			break
		}
		after = page[199].Slug
	}
	h.deps.Logger.Info("delivery sweep", slog.Int("sent", sent), slog.Int("failed_institutions", len(errs)))
	return errors.Join(errs...)
}

// Lazy returns the CloudEvent entry point: it builds the Handler on the first event (a failed build
// returns the error, so Pub/Sub redelivers, and is tried again on the next event).
func Lazy(build func(context.Context) (*Handler, error)) func(context.Context, cloudevents.Event) error {
	h := lazy.New(build)
	return func(ctx context.Context, ce cloudevents.Event) error {
		handler, err := h.Get(ctx)
		if err != nil {
			return err
		}
		return handler.Event(ctx, ce)
	}
}
