package payments

import (
	"context"
	"fmt"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/fees"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// Outcome is what a webhook or a reconciliation did with what it was told.
type Outcome string

// The outcomes. Recorded: a fees payment and its receipt were written. Duplicate: the payment (or the
// event) was already recorded, nothing changed. Review: it went to the review list. Ignored: nothing to
// record (an event kind edugrid does not act on, a payment not yet captured).
const (
	OutcomeRecorded  Outcome = "recorded"
	OutcomeDuplicate Outcome = "duplicate"
	OutcomeReview    Outcome = "review"
	OutcomeIgnored   Outcome = "ignored"
	OutcomeUpdated   Outcome = "updated"
)

// Values implements httpapi.Enum.
func (Outcome) Values() []string {
	return httpapi.EnumValues([]Outcome{OutcomeRecorded, OutcomeDuplicate, OutcomeReview, OutcomeIgnored, OutcomeUpdated})
}

// PaymentKey is the idempotency key of the fees payment a provider's payment becomes: whoever records it
// (a webhook of any kind, the reconciliation, a resolved review) records it once.
func PaymentKey(p Provider, paymentID string) string { return "gateway:" + string(p) + ":" + paymentID }

// asGateway returns ctx acting inside institution t (database db) for the gateway p: the context the fees
// area's payment path expects of a request, with the gateway's principal.
func asGateway(ctx context.Context, t *tenant.Tenant, db lungo.IDatabase, p Provider) context.Context {
	return store.WithDatabase(tenant.WithTenant(rbac.WithPrincipal(ctx, gatewayPrincipal(p, t.Slug)), t), db)
}

// recordCapture records a captured payment of the institution in ctx (asGateway) through the fees
// payment path, under PaymentKey, allocated as a manual payment is, with its receipt. The first sighting
// fixes the request's payment id and date in the payment's own transaction, so a second webhook, a late
// one or the reconciliation records exactly the same payment, which the idempotency key then answers as
// a replay. A capture no request of
// the institution expects, or whose amount or currency is not the request's, or a second payment of a
// request, goes to the review list instead.
func (s *Service) recordCapture(ctx context.Context, c Capture) (Outcome, error) {
	if c.PaymentID == "" || len(c.PaymentID) > 100 || len(c.RequestID) > 100 || len(c.ProviderRef) > 200 {
		return OutcomeIgnored, nil
	}
	r, err := s.requestOf(ctx, c)
	if err != nil {
		return "", err
	}
	switch {
	case r == nil:
		return s.review(ctx, c, nil, "no payment request of the institution matches the payment")
	case c.Currency != r.Currency || c.Amount != r.Amount:
		return s.review(ctx, c, r, fmt.Sprintf("the payment was %d %s; the request asked for %d %s", c.Amount, c.Currency, r.Amount, r.Currency))
	}
	at := c.At
	if at.IsZero() {
		at = s.now()
	}
	var paidOn string
	switch r.ProviderPaymentID {
	case "":
		paidOn = tenant.FromContext(ctx).Today(at)
	case c.PaymentID:
		paidOn = r.PaidOn
	default:
		return s.review(ctx, c, r, "the request was already paid by "+r.ProviderPaymentID)
	}
	var (
		p        *fees.Payment
		replayed bool
	)
	// One transaction (joined by the fees payment path): the request is claimed for this payment, its
	// date fixed, the payment recorded and the request marked paid, all or nothing. Concurrent sightings
	// of the same payment serialise on the request (MongoDB: a write conflict, retried).
	err = store.Tx(ctx, store.Database(ctx), func(tc context.Context) error {
		var err error
		p, replayed, err = s.deps.Fees.Pay(tc, PaymentKey(c.Provider, c.PaymentID), fees.NewPayment{
			StudentID: r.StudentID, Amount: r.Amount, Method: fees.MethodOnline, Reference: c.PaymentID, PaidOn: paidOn,
			Note: fmt.Sprintf("%s %s, payment request %s", c.Provider.Title(), r.ProviderRef, r.ID),
		})
		if err != nil {
			return fmt.Errorf("payments: record %s payment %s: %w", c.Provider, c.PaymentID, err)
		}
		res, err := store.Database(tc).Collection(requestsCollection).UpdateOne(tc,
			bson.M{"_id": r.ID, "$or": bson.A{bson.M{"provider_payment_id": bson.M{"$exists": false}}, bson.M{"provider_payment_id": c.PaymentID}}},
			bson.M{"$set": paidSet(c, paidOn, p, s.now())})
		if err != nil {
			return fmt.Errorf("payments: mark request %s paid: %w", r.ID, err)
		}
		if res.MatchedCount == 0 {
			return apperr.Errorf(apperr.Conflict, "the payment request was paid by another payment meanwhile")
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if replayed {
		return OutcomeDuplicate, nil
	}
	return OutcomeRecorded, nil
}

// paidSet is what a recorded capture sets on its request; the gateway's fee only when this sighting
// reports one (Razorpay's webhook does, its payment link lookup does not), so a later sighting never
// erases it.
func paidSet(c Capture, paidOn string, p *fees.Payment, now time.Time) bson.M {
	set := bson.M{"provider_payment_id": c.PaymentID, "paid_on": paidOn, "status": RequestPaid, "payment_id": p.ID,
		"receipt_no": p.ReceiptNo, "updated_at": now}
	if c.Fee > 0 {
		set["gateway_fee"] = c.Fee
	}
	return set
}

// requestOf finds the request a capture pays: by edugrid's reference, which must name the same link,
// else by the link. nil when none matches.
func (s *Service) requestOf(ctx context.Context, c Capture) (*Request, error) {
	coll := store.Database(ctx).Collection(requestsCollection)
	var filter bson.M
	switch {
	case c.RequestID != "" && c.ProviderRef != "":
		filter = bson.M{"_id": c.RequestID, "provider": c.Provider, "provider_ref": c.ProviderRef}
	case c.ProviderRef != "":
		filter = bson.M{"provider": c.Provider, "provider_ref": c.ProviderRef}
	case c.RequestID != "":
		filter = bson.M{"_id": c.RequestID, "provider": c.Provider}
	default:
		return nil, nil
	}
	var r Request
	err := coll.FindOne(ctx, filter).Decode(&r)
	if store.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("payments: request of %s payment %s: %w", c.Provider, c.PaymentID, err)
	}
	return &r, nil
}

// eventSeen reports whether the provider's event id was already handled in db.
func eventSeen(ctx context.Context, db lungo.IDatabase, p Provider, eventID string) (bool, error) {
	n, err := db.Collection(eventsCollection).CountDocuments(ctx, bson.M{"_id": string(p) + ":" + eventID})
	if err != nil {
		return false, fmt.Errorf("payments: look up event %s: %w", eventID, err)
	}
	return n > 0, nil
}

// markEvent remembers a handled event, so a replay of it changes nothing. Events are kept for
// eventRetention (a TTL index), longer than any provider retries.
func markEvent(ctx context.Context, db lungo.IDatabase, p Provider, eventID, kind string, o Outcome, now time.Time) error {
	_, err := db.Collection(eventsCollection).InsertOne(ctx, bson.M{"_id": string(p) + ":" + eventID, "type": kind, "outcome": o, "received_at": now})
	if err != nil && !store.IsDuplicateKey(err) {
		return fmt.Errorf("payments: remember event %s: %w", eventID, err)
	}
	return nil
}

// eventRetention is how long a handled event id is remembered.
const eventRetention = 30 * 24 * time.Hour

var errNoSuchInstitution = apperr.Errorf(apperr.NotFound, "no such webhook")
