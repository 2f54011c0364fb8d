package payments

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/256dpi/lungo"
	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// Signature headers.
const (
	RazorpaySignatureHeader = "X-Razorpay-Signature"
	RazorpayEventIDHeader   = "X-Razorpay-Event-Id"
	StripeSignatureHeader   = "Stripe-Signature"
)

// StripeTolerance is how far a Stripe signature's timestamp may lie from now (stripe-go's default):
// older is a replay and refused.
const StripeTolerance = 5 * time.Minute

// RazorpayMaxAge is how old a Razorpay event (its created_at) may be: Razorpay retries a failed webhook
// for 24 hours, and anything older that reaches edugrid is a replay. Reconciliation records what a
// refused event would have.
const RazorpayMaxAge = 72 * time.Hour

var (
	errForged = apperr.Errorf(apperr.Forbidden, "the webhook's signature does not verify")
	errStale  = apperr.Field("signature", apperr.FieldOutOfRange, "the webhook is too old or from the future: replays are refused")
)

// RazorpaySignature is X-Razorpay-Signature for body: the hex HMAC-SHA256 of the raw body keyed by the
// webhook secret.
func RazorpaySignature(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// WebhookAnswer is what a webhook is answered with once verified.
type WebhookAnswer struct {
	Outcome Outcome `json:"outcome"`
}

// RazorpayWebhook is the part of a Razorpay webhook edugrid reads (payment_link.paid, payment.captured,
// refund.processed, refund.failed); the rest of Razorpay's payload is ignored. It is read only after
// its signature proved who sent it.
type RazorpayWebhook struct {
	Entity    string          `json:"entity" example:"event"`
	AccountID string          `json:"account_id,omitempty" example:"acc_BFQ7uQEaa7j2z7"`
	Event     string          `json:"event" example:"payment_link.paid"`
	Contains  []string        `json:"contains,omitempty"`
	Payload   RazorpayPayload `json:"payload"`
	CreatedAt int64           `json:"created_at" example:"1780304400"`
}

// RazorpayPayload holds the entities of a Razorpay webhook.
type RazorpayPayload struct {
	Payment     *RazorpayEntity[RazorpayPayment] `json:"payment,omitempty"`
	PaymentLink *RazorpayEntity[RazorpayLink]    `json:"payment_link,omitempty"`
	Refund      *RazorpayEntity[RazorpayRefund]  `json:"refund,omitempty"`
}

// RazorpayEntity wraps an entity as Razorpay's payloads do.
type RazorpayEntity[T any] struct {
	Entity T `json:"entity"`
}

// RazorpayPayment is a Razorpay payment entity.
type RazorpayPayment struct {
	ID        string `json:"id" example:"pay_29QQoUBi66xm2f"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency" example:"INR"`
	Status    string `json:"status" example:"captured"`
	Fee       int64  `json:"fee,omitempty"`
	CreatedAt int64  `json:"created_at" example:"1780304400"`
}

// RazorpayLink is a Razorpay payment link entity.
type RazorpayLink struct {
	ID          string `json:"id" example:"plink_Hq2mVtP1Pz1mNn"`
	ReferenceID string `json:"reference_id,omitempty"`
	Status      string `json:"status" example:"paid"`
}

// RazorpayRefund is a Razorpay refund entity.
type RazorpayRefund struct {
	ID        string `json:"id" example:"rfnd_FgRAHdNOM4ZVbO"`
	PaymentID string `json:"payment_id" example:"pay_29QQoUBi66xm2f"`
	Amount    int64  `json:"amount"`
	Status    string `json:"status" example:"processed"`
}

// razorpayNotes reads the payment's notes of a webhook body leniently: Razorpay sends [] for none.
func razorpayNotes(raw []byte) map[string]string {
	var ev struct {
		Payload struct {
			Payment struct {
				Entity struct {
					Notes json.RawMessage `json:"notes"`
				} `json:"entity"`
			} `json:"payment"`
		} `json:"payload"`
	}
	_ = json.Unmarshal(raw, &ev)
	var m map[string]string
	_ = json.Unmarshal(ev.Payload.Payment.Entity.Notes, &m)
	return m
}

// RazorpayEvent handles one Razorpay webhook for the institution slug names: raw is the body exactly as
// received, signature its X-Razorpay-Signature, eventID its X-Razorpay-Event-Id. NotFound for an
// institution that does not exist, is not active or has no Razorpay account; Forbidden, recording
// nothing, when the signature does not verify with the institution's webhook secret (or, during a
// rotation, its previous one); Invalid for a stale or malformed body. Callers: Razorpay.
func (s *Service) RazorpayEvent(ctx context.Context, slug string, raw []byte, signature, eventID string) (WebhookAnswer, error) {
	if tenant.ValidateSlug(slug) != nil {
		return WebhookAnswer{}, errNoSuchInstitution
	}
	if signature == "" || len(signature) != 64 {
		return WebhookAnswer{}, errForged
	}
	t, db, creds, release, err := s.webhookAccount(ctx, slug, Razorpay)
	if err != nil {
		return WebhookAnswer{}, err
	}
	defer release()
	if !verifiesWithAny(creds.WebhookSecrets, func(secret string) bool {
		return hmac.Equal([]byte(RazorpaySignature(secret, raw)), []byte(strings.ToLower(signature)))
	}) {
		return WebhookAnswer{}, errForged
	}
	var ev RazorpayWebhook
	if err := json.Unmarshal(raw, &ev); err != nil || ev.Event == "" {
		return WebhookAnswer{}, apperr.Errorf(apperr.Invalid, "the webhook is not a Razorpay event")
	}
	created := time.Unix(ev.CreatedAt, 0)
	if ev.CreatedAt <= 0 || s.now().Sub(created) > RazorpayMaxAge || created.Sub(s.now()) > StripeTolerance {
		return WebhookAnswer{}, errStale
	}
	if eventID == "" || len(eventID) > 100 {
		eventID = "sha256:" + RazorpaySignature("event", raw)
	}
	if seen, err := eventSeen(ctx, db, Razorpay, eventID); err != nil || seen {
		return WebhookAnswer{Outcome: OutcomeDuplicate}, err
	}
	var o Outcome
	err = store.Tx(asGateway(ctx, t, db, Razorpay), db, func(gctx context.Context) error {
		var err error
		if o, err = s.razorpayOutcome(gctx, ev, raw); err != nil {
			return err
		}
		return markEvent(gctx, store.Database(gctx), Razorpay, eventID, ev.Event, o, s.now())
	})
	if err != nil {
		return WebhookAnswer{}, err
	}
	return WebhookAnswer{Outcome: o}, nil
}

// razorpayOutcome acts on a verified Razorpay event inside its transaction.
func (s *Service) razorpayOutcome(gctx context.Context, ev RazorpayWebhook, raw []byte) (Outcome, error) {
	switch ev.Event {
	case "payment_link.paid", "payment.captured":
		c, ok := razorpayCapture(ev, raw)
		if !ok {
			return OutcomeIgnored, nil
		}
		return s.recordCapture(gctx, c)
	case "refund.processed", "refund.failed":
		if ev.Payload.Refund == nil {
			return OutcomeIgnored, nil
		}
		st := RefundProcessed
		if ev.Event == "refund.failed" {
			st = RefundFailed
		}
		return s.refundStatus(gctx, Razorpay, ev.Payload.Refund.Entity.ID, st)
	}
	return OutcomeIgnored, nil
}

// razorpayCapture reads the capture of a payment_link.paid or payment.captured event.
func razorpayCapture(ev RazorpayWebhook, raw []byte) (Capture, bool) {
	if ev.Payload.Payment == nil {
		return Capture{}, false
	}
	p := ev.Payload.Payment.Entity
	if p.Status != "captured" || p.ID == "" {
		return Capture{}, false
	}
	c := Capture{Provider: Razorpay, PaymentID: p.ID, Amount: p.Amount, Currency: strings.ToUpper(p.Currency), Fee: p.Fee,
		At: time.Unix(p.CreatedAt, 0).UTC(), RequestID: razorpayNotes(raw)["edugrid_request"]}
	if ev.Payload.PaymentLink != nil {
		l := ev.Payload.PaymentLink.Entity
		c.ProviderRef = l.ID
		if l.ReferenceID != "" {
			c.RequestID = l.ReferenceID
		}
	}
	if c.ProviderRef == "" && c.RequestID == "" {
		return Capture{}, false // a payment that is not one of edugrid's links
	}
	return c, true
}

// StripeEvent handles one Stripe webhook for the institution slug names: raw is the body exactly as
// received, signature its Stripe-Signature. The signature is checked by stripe-go's webhook package with
// each of the institution's webhook secrets; the timestamp it signs must lie within StripeTolerance of the
// clock. NotFound, Forbidden and Invalid as for RazorpayEvent. Callers: Stripe.
func (s *Service) StripeEvent(ctx context.Context, slug string, raw []byte, signature string) (WebhookAnswer, error) {
	if tenant.ValidateSlug(slug) != nil {
		return WebhookAnswer{}, errNoSuchInstitution
	}
	if signature == "" || len(signature) > 2000 {
		return WebhookAnswer{}, errForged
	}
	t, db, creds, release, err := s.webhookAccount(ctx, slug, Stripe)
	if err != nil {
		return WebhookAnswer{}, err
	}
	defer release()
	var ev stripe.Event
	verified := verifiesWithAny(creds.WebhookSecrets, func(secret string) bool {
		// The tolerance is checked below against the injected clock; stripe-go's would read the wall clock.
		e, err := webhook.ConstructEventWithOptions(raw, signature, secret,
			webhook.ConstructEventOptions{IgnoreTolerance: true, IgnoreAPIVersionMismatch: true})
		if err != nil {
			return false
		}
		ev = e
		return true
	})
	if !verified {
		return WebhookAnswer{}, errForged
	}
	signed, ok := stripeTimestamp(signature)
	if !ok {
		return WebhookAnswer{}, errForged
	}
	if d := s.now().Sub(signed); d > StripeTolerance || d < -StripeTolerance {
		return WebhookAnswer{}, errStale
	}
	if ev.ID == "" || len(ev.ID) > 100 || ev.Type == "" {
		return WebhookAnswer{}, apperr.Errorf(apperr.Invalid, "the webhook is not a Stripe event")
	}
	if seen, err := eventSeen(ctx, db, Stripe, ev.ID); err != nil || seen {
		return WebhookAnswer{Outcome: OutcomeDuplicate}, err
	}
	var o Outcome
	err = store.Tx(asGateway(ctx, t, db, Stripe), db, func(gctx context.Context) error {
		var err error
		if o, err = s.stripeOutcome(gctx, ev); err != nil {
			return err
		}
		return markEvent(gctx, store.Database(gctx), Stripe, ev.ID, string(ev.Type), o, s.now())
	})
	if err != nil {
		return WebhookAnswer{}, err
	}
	return WebhookAnswer{Outcome: o}, nil
}

// stripeOutcome acts on a verified Stripe event inside its transaction.
func (s *Service) stripeOutcome(gctx context.Context, ev stripe.Event) (Outcome, error) {
	switch ev.Type {
	case "checkout.session.completed", "checkout.session.async_payment_succeeded":
		var cs stripe.CheckoutSession
		if err := json.Unmarshal(ev.Data.Raw, &cs); err != nil {
			return "", apperr.Errorf(apperr.Invalid, "the event's checkout session does not decode")
		}
		c, ok := sessionCapture(&cs)
		if !ok {
			return OutcomeIgnored, nil // paid later by an asynchronous method: its own event follows
		}
		c.At = time.Unix(ev.Created, 0).UTC()
		return s.recordCapture(gctx, c)
	case "refund.updated", "refund.created", "refund.failed":
		var rf stripe.Refund
		if err := json.Unmarshal(ev.Data.Raw, &rf); err != nil {
			return "", apperr.Errorf(apperr.Invalid, "the event's refund does not decode")
		}
		st := RefundPending
		switch rf.Status {
		case stripe.RefundStatusSucceeded:
			st = RefundProcessed
		case stripe.RefundStatusFailed, stripe.RefundStatusCanceled:
			st = RefundFailed
		}
		return s.refundStatus(gctx, Stripe, rf.ID, st)
	}
	return OutcomeIgnored, nil
}

// webhookAccount opens the institution slug names and its account with provider, for a webhook: NotFound
// (errNoSuchInstitution) for an institution that does not exist or is not active, Forbidden (errForged)
// when it has no account with the provider, whose webhooks then cannot be genuine. release is a no-op
// after an error.
func (s *Service) webhookAccount(ctx context.Context, slug string, provider Provider) (*tenant.Tenant, lungo.IDatabase, *credentials, func(), error) {
	t, db, release, err := s.deps.Institutions.Open(ctx, slug)
	if err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			err = errNoSuchInstitution
		}
		return nil, nil, nil, func() {}, err
	}
	creds, err := s.openAccount(ctx, db, t.Slug, provider)
	if err != nil {
		release()
		if apperr.CodeOf(err) == apperr.NotFound {
			err = errForged
		}
		return nil, nil, nil, func() {}, err
	}
	return t, db, creds, release, nil
}

// stripeTimestamp reads t= of a Stripe-Signature header.
func stripeTimestamp(header string) (time.Time, bool) {
	// Exactly one t: stripe-go checks the signature against the last one, so with two an old signed
	// header could carry a fresh t in front of its own and pass the tolerance here.
	var at time.Time
	found := false
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || k != "t" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || found {
			return time.Time{}, false
		}
		at, found = time.Unix(n, 0), true
	}
	return at, found
}

// verifiesWithAny reports whether check accepts any of the secrets (current first, then one being
// rotated out).
func verifiesWithAny(secrets []string, check func(secret string) bool) bool {
	for _, s := range secrets {
		if s != "" && check(s) {
			return true
		}
	}
	return false
}
