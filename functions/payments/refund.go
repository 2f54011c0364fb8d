package payments

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/fees"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// RefundStatus is where a gateway refund stands, as its webhooks say.
type RefundStatus string

// The gateway refund states.
const (
	RefundPending   RefundStatus = "pending"
	RefundProcessed RefundStatus = "processed"
	RefundFailed    RefundStatus = "failed"
)

// Values implements httpapi.Enum.
func (RefundStatus) Values() []string {
	return httpapi.EnumValues([]RefundStatus{RefundPending, RefundProcessed, RefundFailed})
}

// OnlineRefund is a refund sent to a gateway: the fees refund RefundID, the gateway's id and its status.
type OnlineRefund struct {
	// RefundID is the fees refund's id (POST /fees/refunds); the gateway's refund id is its reference.
	RefundID         string       `bson:"_id" json:"refund_id"`
	Provider         Provider     `bson:"provider" json:"provider"`
	ProviderRefundID string       `bson:"provider_refund_id" json:"provider_refund_id" example:"rfnd_FgRAHdNOM4ZVbO"`
	ProviderPayment  string       `bson:"provider_payment_id" json:"provider_payment_id"`
	PaymentID        string       `bson:"payment_id" json:"payment_id"`
	StudentID        string       `bson:"student_id" json:"student_id"`
	Amount           int64        `bson:"amount" json:"amount"`
	Currency         string       `bson:"currency" json:"currency"`
	Status           RefundStatus `bson:"status" json:"status"`
	CreatedAt        time.Time    `bson:"created_at" json:"created_at"`
	UpdatedAt        time.Time    `bson:"updated_at" json:"updated_at"`
}

// RefundOnline implements fees.Gateway: a payment that one of the institution's payment requests
// recorded is refunded through its gateway (under an idempotency key derived from refundID), and the
// gateway's refund id becomes the fees refund's reference. handled is false for any other payment, which
// is refunded by hand as before. Unavailable when the gateway cannot be reached, Conflict when it
// refuses: the fees refund is then not recorded.
func (s *Service) RefundOnline(ctx context.Context, p fees.Payment, amount int64, refundID string) (string, bool, error) {
	if p.Method != fees.MethodOnline {
		return "", false, nil
	}
	db := store.Database(ctx)
	var r Request
	err := db.Collection(requestsCollection).FindOne(ctx, bson.M{"payment_id": p.ID}).Decode(&r)
	if store.IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("payments: request of payment %s: %w", p.ID, err)
	}
	t := tenant.FromContext(ctx)
	creds, err := s.openAccount(ctx, db, t.Slug, r.Provider)
	if err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			return "", false, apperr.Errorf(apperr.Conflict, "the payment was taken through %s, whose account is gone; refund it there and record a manual refund", r.Provider.Title())
		}
		return "", false, err
	}
	gw, err := s.gateway(r.Provider)
	if err != nil {
		return "", false, err
	}
	gr, err := gw.Refund(ctx, *creds, r.ProviderPaymentID, amount, "edugrid-refund-"+refundID)
	if err != nil {
		return "", false, gatewayError(r.Provider, err)
	}
	now := s.now()
	rec := OnlineRefund{RefundID: refundID, Provider: r.Provider, ProviderRefundID: gr.ID, ProviderPayment: r.ProviderPaymentID,
		PaymentID: p.ID, StudentID: p.StudentID, Amount: amount, Currency: p.Currency, Status: gr.Status, CreatedAt: now, UpdatedAt: now}
	if _, err := db.Collection(refundsCollection).InsertOne(ctx, rec); err != nil && !store.IsDuplicateKey(err) {
		return "", false, fmt.Errorf("payments: record gateway refund %s: %w", gr.ID, err)
	}
	return gr.ID, true, nil
}

// refundStatus applies a gateway's word on one of its refunds; a refund edugrid did not send is ignored,
// and a processed or failed refund never moves back to pending.
func (s *Service) refundStatus(ctx context.Context, p Provider, providerRefundID string, st RefundStatus) (Outcome, error) {
	if providerRefundID == "" || len(providerRefundID) > 100 || st == RefundPending {
		return OutcomeIgnored, nil
	}
	res, err := store.Database(ctx).Collection(refundsCollection).UpdateOne(ctx,
		bson.M{"provider": p, "provider_refund_id": providerRefundID, "status": RefundPending},
		bson.M{"$set": bson.M{"status": st, "updated_at": s.now()}})
	if err != nil {
		return "", fmt.Errorf("payments: refund %s status: %w", providerRefundID, err)
	}
	if res.ModifiedCount == 0 {
		return OutcomeIgnored, nil
	}
	if st == RefundFailed {
		s.deps.Logger.Warn("payments: a gateway refund failed; the money was not given back", "tenant", tenant.FromContext(ctx).Slug,
			"provider", string(p), "refund", providerRefundID)
	}
	return OutcomeUpdated, nil
}

// OnlineRefunds returns a page of the refunds sent to gateways, in refund id order. Callers: gateways.read.
func (s *Service) OnlineRefunds(ctx context.Context, pr httpapi.PageRequest) (httpapi.Page[OnlineRefund], error) {
	items, err := store.Page[OnlineRefund](ctx, store.Database(ctx).Collection(refundsCollection), bson.M{}, pr.After, pr.Limit)
	if err != nil {
		return httpapi.Page[OnlineRefund]{}, fmt.Errorf("payments: gateway refunds: %w", err)
	}
	return httpapi.NewPage(items, pr.Limit, func(r OnlineRefund) string { return r.RefundID }), nil
}
