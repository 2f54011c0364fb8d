// Package payments takes fees online: each institution's own payment gateway accounts (Razorpay, Stripe),
// payment requests for a student's dues (a Razorpay payment link or a Stripe Checkout Session), the
// gateways' signed webhooks, gateway refunds, reconciliation and a review list. Money is recorded only
// through the fees area's idempotent payment path (fees.Service.Pay), so an online payment gets the same
// allocation to the oldest open instalments and the same gap-free receipt as one recorded by hand.
//
// # Rules and where they live
//
//   - account.go: gateway accounts per institution and provider; key secrets and webhook secrets are
//     stored sealed (envelope encryption through Secrets, bound to the institution, provider and field),
//     never returned and never logged; a new webhook secret keeps the previous one valid for
//     RotationGrace, so a rotation never drops a webhook.
//   - request.go: payment requests for one instalment, everything due, or an amount within what is due;
//     they carry the institution's name and edugrid's reference (the request id), expire, and can be
//     cancelled; staff send them through notifications.
//   - webhook.go: the public webhook entry points, one per provider. The institution is named by the URL
//     path and its webhook secret is the only key that verifies the body: Razorpay's X-Razorpay-Signature
//     (hex HMAC-SHA256 of the raw body), Stripe's Stripe-Signature through stripe-go's webhook package with
//     a timestamp tolerance against the injected clock. A verified capture is recorded by record.go.
//   - record.go: one captured payment becomes one fees payment whose idempotency key is the provider's
//     payment id, whichever webhook (or reconciliation) brings it first and however often; an amount or
//     currency other than the request's goes to the review list (review.go) instead.
//   - reconcile.go: the scheduled job asks the gateway about every open request of the last days and
//     records a capture whose webhook never arrived; the settlement view.
//   - refund.go: refunds of online payments go through the gateway (fees.Deps.Gateway), their status
//     followed through webhooks.
//
// Permissions: gateways.write (owners) sets accounts; gateways.read (owners, accountants) lists accounts,
// the review list and the settlement; paymentrequests.write (owners, branch admins, accountants; students
// and guardians for their own dues) creates and cancels requests; paymentrequests.send (staff) sends
// them; paymentreviews.write (owners, accountants) resolves reviews; fees.read reads requests.
package payments

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/functions/fees"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/notify"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/tenant"
)

// Provider is a payment gateway.
type Provider string

// The providers.
const (
	Razorpay Provider = "razorpay"
	Stripe   Provider = "stripe"
)

var providers = []Provider{Razorpay, Stripe}

// Values implements httpapi.Enum.
func (Provider) Values() []string { return httpapi.EnumValues(providers) }

// Valid reports whether p is one of Values.
func (p Provider) Valid() bool { return slices.Contains(providers, p) }

// Title is the provider's name as people write it.
func (p Provider) Title() string {
	if p == Stripe {
		return "Stripe"
	}
	return "Razorpay"
}

// Mode is a gateway account's mode: test keys move no money.
type Mode string

// The modes.
const (
	Test Mode = "test"
	Live Mode = "live"
)

var modes = []Mode{Test, Live}

// Values implements httpapi.Enum.
func (Mode) Values() []string { return httpapi.EnumValues(modes) }

// Valid reports whether m is one of Values.
func (m Mode) Valid() bool { return slices.Contains(modes, m) }

// The area's collections in a tenant database.
const (
	accountsCollection = "payment_gateway_accounts"
	requestsCollection = "payment_requests"
	eventsCollection   = "payment_gateway_events"
	reviewsCollection  = "payment_reviews"
	refundsCollection  = "payment_gateway_refunds"
)

// EnsureIndexes creates the area's indexes in a tenant database; idempotent.
func EnsureIndexes(ctx context.Context, db lungo.IDatabase) error {
	models := map[string][]mongo.IndexModel{
		requestsCollection: {
			{Keys: bson.D{{Key: "student_id", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("student_id")},
			{Keys: bson.D{{Key: "status", Value: 1}, {Key: "created_at", Value: 1}}, Options: options.Index().SetName("status_created")},
			{Keys: bson.D{{Key: "provider_ref", Value: 1}}, Options: options.Index().SetName("provider_ref")},
			{Keys: bson.D{{Key: "payment_id", Value: 1}}, Options: options.Index().SetName("payment_id")},
		},
		reviewsCollection: {
			// One review per provider payment, whichever webhook or run finds it first.
			{Keys: bson.D{{Key: "key", Value: 1}}, Options: options.Index().SetUnique(true).SetName("key_unique")},
			{Keys: bson.D{{Key: "status", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("status_id")},
		},
		eventsCollection: {
			{Keys: bson.D{{Key: "received_at", Value: 1}}, Options: options.Index().SetExpireAfterSeconds(int32(eventRetention / time.Second)).SetName("received_ttl")},
		},
		refundsCollection: {
			{Keys: bson.D{{Key: "provider", Value: 1}, {Key: "provider_refund_id", Value: 1}}, Options: options.Index().SetName("provider_refund")},
		},
	}
	for coll, ms := range models {
		if _, err := db.Collection(coll).Indexes().CreateMany(ctx, ms); err != nil {
			return fmt.Errorf("payments: create %s indexes in %s: %w", coll, db.Name(), err)
		}
	}
	return nil
}

// Fees is what the area asks of the fees area: its one payment path, and the dues a request is for.
type Fees interface {
	// Pay records a payment under an idempotency key (fees.Service.Pay); it joins a transaction ctx
	// carries.
	Pay(ctx context.Context, key string, in fees.NewPayment) (*fees.Payment, bool, error)
	// DuesOfStudent returns what a student owes; NotFound unless the caller may see the student.
	DuesOfStudent(ctx context.Context, studentID string) (*fees.StudentDues, error)
}

// Secrets seals and opens gateway secrets (envelope.Box). aad binds a sealed value to where it is stored.
type Secrets interface {
	Seal(ctx context.Context, plaintext, aad []byte) ([]byte, error)
	Open(ctx context.Context, sealed, aad []byte) ([]byte, error)
}

// Institutions reaches an institution's database from a call that carries no token (a webhook, the
// scheduled reconciliation).
type Institutions interface {
	// Open returns the active institution slug names and its database, brought up to the code's schema;
	// NotFound when there is none or it is not active. Call release when done.
	Open(ctx context.Context, slug string) (t *tenant.Tenant, db lungo.IDatabase, release func(), err error)
	// Active lists every active institution.
	Active(ctx context.Context) ([]*tenant.Tenant, error)
}

// Deps is what the area needs. Clock, Audit, Fees and Institutions are required; without Secrets every
// route that reads or writes a secret answers 503; a provider without a Gateway cannot be used.
type Deps struct {
	Clock        clock.Clock
	Audit        audit.Recorder
	Logger       *slog.Logger
	Fees         Fees
	Secrets      Secrets
	Institutions Institutions
	Gateways     map[Provider]Gateway
	// Notifier publishes the notifications a sent payment request becomes; nil cannot send.
	Notifier notify.Publisher
	// PublicURL is the API's public base URL: webhook URLs shown to owners and the page a payer returns
	// to are built from it.
	PublicURL string
}

// Service is the area. Construct with New.
type Service struct {
	deps Deps
}

// New returns the area's service over d.
func New(d Deps) *Service {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Gateways == nil {
		d.Gateways = map[Provider]Gateway{}
	}
	return &Service{deps: d}
}

// Actor is who the audit log names for what a gateway's webhook or the reconciliation records.
func Actor(p Provider) audit.Actor { return audit.Actor{ID: "gateway:" + string(p), Role: "system"} }

// gatewayPrincipal is the principal a webhook acts as inside its institution: the fees area records a
// payment for a principal, and a gateway that proved who it is by the institution's own webhook secret
// records the payments of that institution alone, as its accountant would by hand.
func gatewayPrincipal(p Provider, slug string) rbac.Principal {
	return rbac.Principal{Subject: "gateway:" + string(p), Tenant: slug, Role: rbac.Accountant}
}

func (s *Service) now() time.Time { return s.deps.Clock.Now() }
