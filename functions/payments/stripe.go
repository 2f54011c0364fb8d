package payments

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"

	"github.com/edugrid/edugrid/shared/apperr"
)

// StripeGateway calls Stripe through stripe-go with each institution's secret key: Checkout Sessions in
// payment mode, their retrieval for reconciliation, refunds with an idempotency key.
type StripeGateway struct {
	backends *stripe.Backends
}

// NewStripe returns a StripeGateway at baseURL (https://api.stripe.com in production; stripe-mock
// locally and in tests). stripe-go's own logging is off: its lines would carry request details.
func NewStripe(baseURL string) *StripeGateway {
	url := strings.TrimRight(baseURL, "/")
	retries := int64(1)
	return &StripeGateway{backends: stripe.NewBackendsWithConfig(&stripe.BackendConfig{
		URL: &url, HTTPClient: &http.Client{Timeout: 15 * time.Second}, MaxNetworkRetries: &retries,
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	})}
}

func (g *StripeGateway) client(c credentials) *stripe.Client {
	return stripe.NewClient(c.KeySecret, stripe.WithBackends(g.backends))
}

// stripeError turns stripe-go's errors into the area's: a refusal is Conflict, anything else unavailable.
func stripeError(op string, err error) error {
	var se *stripe.Error
	if errors.As(err, &se) {
		switch {
		case se.HTTPStatusCode == http.StatusUnauthorized:
			return apperr.Errorf(apperr.Conflict, "Stripe refused the institution's secret key; check the gateway account")
		case se.HTTPStatusCode >= 400 && se.HTTPStatusCode < 500 && se.HTTPStatusCode != http.StatusTooManyRequests:
			return apperr.Errorf(apperr.Conflict, "Stripe refused the request: %s", clip(se.Msg))
		}
	}
	return fmt.Errorf("%w: stripe %s: %v", ErrUnavailable, op, err)
}

// CreateLink implements Gateway: a Checkout Session in payment mode with one line item, edugrid's
// request id as client_reference_id and in the metadata of the session and its PaymentIntent.
func (g *StripeGateway) CreateLink(ctx context.Context, c credentials, in LinkRequest) (Link, error) {
	meta := map[string]string{"edugrid_request": in.RequestID, "edugrid_institution": in.Slug}
	success := in.ReturnURL
	if success == "" {
		success = "https://checkout.stripe.com/success"
	}
	params := &stripe.CheckoutSessionCreateParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModePayment)),
		ClientReferenceID: stripe.String(in.RequestID),
		SuccessURL:        stripe.String(success),
		ExpiresAt:         stripe.Int64(in.ExpiresAt.Unix()),
		Metadata:          meta,
		PaymentIntentData: &stripe.CheckoutSessionCreatePaymentIntentDataParams{Metadata: meta, Description: stripe.String(clip(in.Institution + ": " + in.Description))},
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{{
			Quantity: stripe.Int64(1),
			PriceData: &stripe.CheckoutSessionCreateLineItemPriceDataParams{
				Currency: stripe.String(strings.ToLower(in.Currency)), UnitAmount: stripe.Int64(in.Amount),
				ProductData: &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{Name: stripe.String(clip(in.Institution + ": " + in.Description))},
			},
		}},
	}
	params.SetIdempotencyKey("edugrid-request-" + in.RequestID)
	cs, err := g.client(c).V1CheckoutSessions.Create(ctx, params)
	if err != nil {
		return Link{}, stripeError("create checkout session", err)
	}
	return Link{ProviderRef: cs.ID, URL: cs.URL}, nil
}

// CancelLink implements Gateway: expires the Checkout Session.
func (g *StripeGateway) CancelLink(ctx context.Context, c credentials, ref string) error {
	if _, err := g.client(c).V1CheckoutSessions.Expire(ctx, ref, &stripe.CheckoutSessionExpireParams{}); err != nil {
		return stripeError("expire checkout session", err)
	}
	return nil
}

// LinkCaptures implements Gateway: a complete, paid session is one capture, its PaymentIntent the payment.
func (g *StripeGateway) LinkCaptures(ctx context.Context, c credentials, ref string) ([]Capture, error) {
	cs, err := g.client(c).V1CheckoutSessions.Retrieve(ctx, ref, &stripe.CheckoutSessionRetrieveParams{})
	if err != nil {
		return nil, stripeError("retrieve checkout session", err)
	}
	cp, ok := sessionCapture(cs)
	if !ok {
		return nil, nil
	}
	return []Capture{cp}, nil
}

// sessionCapture is the capture a paid Checkout Session stands for.
func sessionCapture(cs *stripe.CheckoutSession) (Capture, bool) {
	if cs == nil || cs.PaymentStatus != stripe.CheckoutSessionPaymentStatusPaid || cs.PaymentIntent == nil || cs.PaymentIntent.ID == "" {
		return Capture{}, false
	}
	req := cs.ClientReferenceID
	if req == "" {
		req = cs.Metadata["edugrid_request"]
	}
	return Capture{Provider: Stripe, PaymentID: cs.PaymentIntent.ID, ProviderRef: cs.ID, RequestID: req,
		Amount: cs.AmountTotal, Currency: strings.ToUpper(string(cs.Currency))}, true
}

// Refund implements Gateway: a refund of the PaymentIntent, under idempotencyKey.
func (g *StripeGateway) Refund(ctx context.Context, c credentials, paymentID string, amount int64, key string) (GatewayRefund, error) {
	params := &stripe.RefundCreateParams{PaymentIntent: stripe.String(paymentID), Amount: stripe.Int64(amount),
		Metadata: map[string]string{"edugrid_refund": key}}
	params.SetIdempotencyKey(key)
	r, err := g.client(c).V1Refunds.Create(ctx, params)
	if err != nil {
		return GatewayRefund{}, stripeError("create refund", err)
	}
	st := RefundPending
	switch r.Status {
	case stripe.RefundStatusSucceeded:
		st = RefundProcessed
	case stripe.RefundStatusFailed, stripe.RefundStatusCanceled:
		st = RefundFailed
	}
	return GatewayRefund{ID: r.ID, Status: st}, nil
}
