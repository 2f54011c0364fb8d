// Package notifications delivers what the outbox (shared/notify) publishes: every notification is
// rendered from the institution's template for its kind and the recipient's language, and sent on the
// recipient's channels (email over SMTP, SMS through MSG91 or Twilio, WhatsApp through Meta's Cloud API),
// with a delivery log per (notification, channel).
//
// Where each rule lives:
//   - deliver.go: the claim that makes each (notification, channel) sent at most once, however often
//     Pub/Sub redelivers and however many instances run; channel order and fallback; retries.
//   - provider.go: the Sender interface, permanent versus transient failures, backoff, the per-provider
//     rate limit and circuit breaker. email.go, sms.go, whatsapp.go: the providers.
//   - templates.go: built-in templates (English and Hindi), institution templates, their validation and
//     length rules, rendering.
//   - preferences.go: per person channel order, opt-outs per kind, quiet hours, contacts in E.164.
//   - settings.go: the channels an institution sends on.
//   - verify.go: confirming a contact with a code.
//   - webhooks.go: provider status callbacks and their signatures.
//
// Kinds that cannot be opted out of: MandatoryKinds (absence alerts and escalations of repeated absences:
// a guardian is always told when a child is missing). Every other kind may be switched off per person; a person cannot switch off every
// channel of a mandatory kind, only reorder them.
//
// Permissions: notifications.read (owner, accountant) lists the delivery log and templates;
// notifications.write (owner) saves templates and resends; everyone manages their own preferences.
package notifications

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/tenant"
)

// Channel is a way of reaching a person.
type Channel string

// The channels.
const (
	Email    Channel = "email"
	SMS      Channel = "sms"
	WhatsApp Channel = "whatsapp"
)

// Channels lists every channel in the default order.
var Channels = []Channel{Email, SMS, WhatsApp}

// Values implements httpapi.Enum.
func (Channel) Values() []string { return httpapi.EnumValues(Channels) }

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool { return c == Email || c == SMS || c == WhatsApp }

// Status is where a delivery stands.
type Status string

// The delivery states. Queued: claimed, not yet accepted by the provider (or waiting out quiet hours or a
// transient failure). Sent: the provider accepted it. Delivered: the provider says it arrived. Failed: it
// will not arrive (Reason says why); only a resend tries again.
const (
	Queued    Status = "queued"
	Sent      Status = "sent"
	Delivered Status = "delivered"
	Failed    Status = "failed"
)

// Values implements httpapi.Enum.
func (Status) Values() []string { return httpapi.EnumValues([]Status{Queued, Sent, Delivered, Failed}) }

// The notification kinds edugrid sends (the areas that publish them own the constants; these are the names
// templates are keyed by).
const (
	KindAbsence    = "attendance.absence"
	KindEscalation = "attendance.escalation"
	KindReminder   = "fees.reminder"
	// KindFeeEscalation tells staff about an instalment still unpaid after the last reminder.
	KindFeeEscalation = "fees.escalation"
)

// MandatoryKinds cannot be opted out of: absence alerts and their escalations are safeguarding messages,
// and a verification code is only ever sent on request.
var MandatoryKinds = map[string]bool{KindAbsence: true, KindEscalation: true, KindVerification: true}

// Delivery is one notification on one channel: the delivery log's row.
type Delivery struct {
	ID             string    `bson:"_id" json:"id"`
	NotificationID string    `bson:"notification_id" json:"notification_id"`
	Kind           string    `bson:"kind" json:"kind"`
	Recipient      string    `bson:"recipient" json:"recipient"`
	Channel        Channel   `bson:"channel" json:"channel"`
	Provider       string    `bson:"provider" json:"provider"`
	To             string    `bson:"to" json:"to" example:"+919812345678"`
	Language       string    `bson:"language" json:"language" example:"en"`
	Status         Status    `bson:"status" json:"status" example:"sent"`
	ProviderID     string    `bson:"provider_id,omitempty" json:"provider_id,omitempty" example:"SM0123456789abcdef0123456789abcdef"`
	Reason         string    `bson:"reason,omitempty" json:"reason,omitempty" example:"the provider refused the number"`
	Attempts       int       `bson:"attempts" json:"attempts"`
	NotBefore      time.Time `bson:"not_before" json:"not_before,omitzero"`
	CreatedAt      time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt      time.Time `bson:"updated_at" json:"updated_at"`

	// Owner and LeaseUntil hold the claim of the instance sending it; never shown.
	Owner      string    `bson:"owner,omitempty" json:"-"`
	LeaseUntil time.Time `bson:"lease_until,omitempty" json:"-"`
	// Notification is what was rendered, kept so a resend or a delivery after quiet hours needs no outbox.
	Notification Source `bson:"notification" json:"-"`
}

// Source is the part of a notification a delivery keeps.
type Source struct {
	Subject string            `bson:"subject"`
	Body    string            `bson:"body"`
	Data    map[string]string `bson:"data,omitempty"`
	Created time.Time         `bson:"created"`
}

// Collections of the area in each tenant database, and the platform collection that maps a provider's
// message id to its institution for status callbacks.
const (
	deliveriesCollection  = "deliveries"
	templatesCollection   = "notification_templates"
	preferencesCollection = "notification_preferences"
	refsCollection        = "delivery_refs" // platform database
)

// EnsureIndexes creates the area's indexes in a tenant database; idempotent. The unique (notification,
// channel) index is the claim that keeps a notification to one send per channel.
func EnsureIndexes(ctx context.Context, db lungo.IDatabase) error {
	_, err := db.Collection(deliveriesCollection).Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{Key: "notification_id", Value: 1}, {Key: "channel", Value: 1}},
			Options: options.Index().SetUnique(true).SetName("notification_channel")},
		{Keys: bson.D{{Key: "status", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("status_id")},
		{Keys: bson.D{{Key: "recipient", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("recipient_id")},
	})
	if err != nil {
		return fmt.Errorf("notifications: create delivery indexes in %s: %w", db.Name(), err)
	}
	_, err = db.Collection(templatesCollection).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "kind", Value: 1}, {Key: "language", Value: 1}}, Options: options.Index().SetUnique(true).SetName("kind_language")})
	if err != nil {
		return fmt.Errorf("notifications: create template indexes in %s: %w", db.Name(), err)
	}
	return nil
}

// Tenants finds an institution by slug (the tenant registry).
type Tenants interface {
	Get(ctx context.Context, slug string) (*tenant.Tenant, error)
}

// Databases opens an institution's database (tenant.Databases); release when done.
type Databases interface {
	Open(ctx context.Context, t *tenant.Tenant) (lungo.IDatabase, func(), error)
}

// Deps is what the area needs.
type Deps struct {
	Clock  clock.Clock
	Logger *slog.Logger
	// Senders are the deployment's providers by channel; a channel without one is not offered.
	Senders map[Channel]Sender
	// Platform is the platform database: the provider-id index of status callbacks lives there.
	Platform lungo.IDatabase
	// Tenants and Databases reach an institution's database from a status callback, which carries no token.
	Tenants   Tenants
	Databases Databases
	// Webhooks are the secrets status callbacks are verified with.
	Webhooks WebhookSecrets
	// Retry is the in-process retry policy for transient failures; DefaultRetry when zero.
	Retry Retry
	// Lease is how long a claim stays with the instance that took it before another may take it over
	// (a crashed sender); 2 minutes when zero.
	Lease time.Duration
}

// Service is the area.
type Service struct {
	deps Deps
}

// New returns the area's service over d.
func New(d Deps) *Service {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Retry == (Retry{}) {
		d.Retry = DefaultRetry
	}
	if d.Lease == 0 {
		d.Lease = 2 * time.Minute
	}
	if d.Senders == nil {
		d.Senders = map[Channel]Sender{}
	}
	return &Service{deps: d}
}
