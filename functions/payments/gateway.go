package payments

import (
	"context"
	"errors"
	"time"

	"github.com/edugrid/edugrid/shared/apperr"
)

// Gateway is one provider's API, called with an institution's own credentials. Implementations:
// RazorpayGateway (its documented HTTP API) and StripeGateway (stripe-go). Errors that are the
// provider's refusal of the request are *apperr.Error (Invalid, Conflict); ErrUnavailable wraps a
// provider that could not be reached or failed.
type Gateway interface {
	// CreateLink creates what the payer opens: a Razorpay payment link or a Stripe Checkout Session.
	CreateLink(ctx context.Context, c credentials, in LinkRequest) (Link, error)
	// CancelLink cancels (Razorpay) or expires (Stripe) a link so it can no longer be paid.
	CancelLink(ctx context.Context, c credentials, providerRef string) error
	// LinkCaptures returns the captured payments of a link, for reconciliation.
	LinkCaptures(ctx context.Context, c credentials, providerRef string) ([]Capture, error)
	// Refund gives back amount of a captured payment; idempotencyKey makes a retry refund once where the
	// provider supports it.
	Refund(ctx context.Context, c credentials, paymentID string, amount int64, idempotencyKey string) (GatewayRefund, error)
}

// LinkRequest is what a link is created with.
type LinkRequest struct {
	// RequestID is edugrid's reference, carried by the link (reference_id, client_reference_id) and in
	// its notes or metadata.
	RequestID   string
	Institution string
	Slug        string
	Amount      int64
	Currency    string
	Description string
	PayerName   string
	ExpiresAt   time.Time
	// ReturnURL is where the payer lands after paying; empty for the gateway's own page.
	ReturnURL string
}

// Link is a created link.
type Link struct {
	ProviderRef string
	URL         string
}

// Capture is a payment the gateway captured.
type Capture struct {
	Provider Provider
	// PaymentID is the provider's payment id (Razorpay pay_…, Stripe pi_…): the idempotency key of the
	// fees payment it becomes.
	PaymentID string
	// ProviderRef is the link it paid (plink_…, cs_…), RequestID edugrid's reference when it carries one.
	ProviderRef string
	RequestID   string
	Amount      int64
	Currency    string
	// Fee is what the gateway charged, when it says.
	Fee int64
	At  time.Time
}

// GatewayRefund is a refund the gateway accepted.
type GatewayRefund struct {
	ID     string
	Status RefundStatus
}

// ErrUnavailable reports a gateway that could not be reached or failed (network, 5xx, 429).
var ErrUnavailable = errors.New("payments: the gateway is unavailable")

func unavailable(p Provider) error {
	return &apperr.Error{Code: apperr.Unavailable, Message: p.Title() + " could not be reached; try again shortly"}
}
