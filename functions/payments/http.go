package payments

import (
	"io"
	"net/http"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rbac"
)

// Routes is the payments area's route table (authenticated; the webhooks are their own areas).
func (s *Service) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/accounts", Permission: rbac.GatewaysRead, Summary: "The institution's gateway accounts (fingerprints of secrets, never the secrets)",
			Response: []Account{}, Handler: s.handleAccounts},
		{Method: "PUT", Path: "/accounts/{provider}", Permission: rbac.GatewaysWrite,
			Summary: "Set or rotate a gateway account; a new webhook secret keeps the previous one valid for 72 hours",
			Request: AccountInput{}, Response: Account{}, Handler: s.handleSaveAccount},
		{Method: "POST", Path: "/requests", Permission: rbac.PaymentRequestsWrite,
			Summary: "Create a payment request (a Razorpay payment link or Stripe Checkout Session) for one instalment, an amount, or everything due",
			Request: NewRequest{}, Response: Request{}, Status: http.StatusCreated, Handler: s.handleCreateRequest,
			Example: map[string]any{"student_id": "6650f1c2a9e4b0a1b2c3d4e5", "amount": 1500000, "provider": "razorpay", "expires_in_minutes": 1440}},
		{Method: "GET", Path: "/requests", Permission: rbac.FeesRead, Summary: "A student's payment requests",
			Response: httpapi.Page[Request]{}, Handler: s.handleRequestsOf,
			Query: append([]httpapi.QueryParam{{Name: "student", Description: "the student's id", Required: true}}, httpapi.PageQuery...)},
		{Method: "GET", Path: "/requests/{id}", Permission: rbac.FeesRead, Summary: "Read a payment request",
			Response: Request{}, Handler: s.handleGetRequest},
		{Method: "POST", Path: "/requests/{id}/cancel", Permission: rbac.PaymentRequestsWrite, Summary: "Cancel an open payment request at the gateway",
			Response: Request{}, Handler: s.handleCancelRequest},
		{Method: "POST", Path: "/requests/{id}/send", Permission: rbac.PaymentRequestsSend,
			Summary:  "Send an open request's link to the student and guardians through notifications (once per person)",
			Response: Request{}, Handler: s.handleSendRequest},
		{Method: "GET", Path: "/reviews", Permission: rbac.GatewaysRead, Summary: "Gateway payments held for review (amount, currency or request mismatch)",
			Response: httpapi.Page[Review]{}, Handler: s.handleReviews,
			Query: append([]httpapi.QueryParam{{Name: "status", Description: "open, recorded or dismissed", Type: ReviewStatus("")}}, httpapi.PageQuery...)},
		{Method: "POST", Path: "/reviews/{id}/resolve", Permission: rbac.PaymentReviewsWrite,
			Summary: "Record a reviewed payment as received (through the fees payment path) or dismiss it",
			Request: Resolution{}, Response: Review{}, Handler: s.handleResolve},
		{Method: "GET", Path: "/refunds", Permission: rbac.GatewaysRead, Summary: "Refunds sent to gateways and their status",
			Response: httpapi.Page[OnlineRefund]{}, Query: httpapi.PageQuery, Handler: s.handleRefunds},
		{Method: "GET", Path: "/settlement", Permission: rbac.GatewaysRead, Summary: "Per gateway: captured, refunded, pending and in review over a period",
			Response: []Settlement{}, Handler: s.handleSettlement,
			Query: []httpapi.QueryParam{{Name: "from", Required: true, Format: httpapi.FormatDate}, {Name: "to", Required: true, Format: httpapi.FormatDate}}},
	}
}

// Area returns the payments area's HTTP handler, served with opts.
func (s *Service) Area(opts httpapi.Options) *httpapi.Area {
	return httpapi.NewArea("payments", s.Routes(), opts)
}

// RazorpayWebhooks is the public area (its own function) Razorpay posts an institution's webhooks to:
// POST /razorpay/webhooks/{institution}.
func (s *Service) RazorpayWebhooks(opts httpapi.Options) *httpapi.Area {
	return httpapi.NewArea("razorpay", []httpapi.Route{
		{Method: "POST", Path: "/webhooks/{institution}", Permission: rbac.Public,
			Summary: "Razorpay's webhook for an institution (X-Razorpay-Signature with its webhook secret); forged, stale or replayed ones record nothing",
			Request: RazorpayWebhook{}, Response: WebhookAnswer{}, Handler: s.handleRazorpay,
			Errors: []apperr.Code{apperr.Forbidden, apperr.NotFound}},
	}, opts)
}

// StripeWebhooks is the public area (its own function) Stripe posts an institution's webhooks to:
// POST /stripe/webhooks/{institution}.
func (s *Service) StripeWebhooks(opts httpapi.Options) *httpapi.Area {
	return httpapi.NewArea("stripe", []httpapi.Route{
		{Method: "POST", Path: "/webhooks/{institution}", Permission: rbac.Public,
			Summary: "Stripe's webhook for an institution (Stripe-Signature with its signing secret, 5-minute tolerance); forged, stale or replayed ones record nothing",
			Request: StripeWebhook{}, Response: WebhookAnswer{}, Handler: s.handleStripe,
			Errors: []apperr.Code{apperr.Forbidden, apperr.NotFound}},
	}, opts)
}

// StripeWebhook documents the part of a Stripe event edugrid reads (checkout.session.completed,
// checkout.session.async_payment_succeeded, refund.updated).
type StripeWebhook struct {
	ID      string            `json:"id" example:"evt_1NG8Du2eZvKYlo2CUI79vXWy"`
	Object  string            `json:"object" example:"event"`
	Type    string            `json:"type" example:"checkout.session.completed"`
	Created int64             `json:"created" example:"1780304400"`
	Data    StripeWebhookData `json:"data"`
}

// StripeWebhookData holds the event's object.
type StripeWebhookData struct {
	Object StripeObject `json:"object"`
}

// StripeObject is the checkout session or refund of an event.
type StripeObject struct {
	ID                string `json:"id" example:"cs_test_a1b2c3"`
	Object            string `json:"object" example:"checkout.session"`
	AmountTotal       int64  `json:"amount_total,omitempty"`
	Currency          string `json:"currency,omitempty" example:"inr"`
	ClientReferenceID string `json:"client_reference_id,omitempty"`
	PaymentIntent     string `json:"payment_intent,omitempty" example:"pi_3MtwBwLkdIwHu7ix28a3tqPa"`
	PaymentStatus     string `json:"payment_status,omitempty" example:"paid"`
	Status            string `json:"status,omitempty" example:"complete"`
}

func (s *Service) handleAccounts(w http.ResponseWriter, r *http.Request) error {
	as, err := s.Accounts(r.Context())
	return httpapi.Reply(w, http.StatusOK, as, err)
}

func (s *Service) handleSaveAccount(w http.ResponseWriter, r *http.Request) error {
	var in AccountInput
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	a, err := s.SaveAccount(r.Context(), r.PathValue("provider"), in)
	return httpapi.Reply(w, http.StatusOK, a, err)
}

func (s *Service) handleCreateRequest(w http.ResponseWriter, r *http.Request) error {
	var in NewRequest
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	req, err := s.CreateRequest(r.Context(), in)
	return httpapi.Reply(w, http.StatusCreated, req, err)
}

func (s *Service) handleRequestsOf(w http.ResponseWriter, r *http.Request) error {
	st := r.URL.Query().Get("student")
	var bad error
	if !id.Valid(st) {
		bad = apperr.Field("student", apperr.FieldFormat, "must be a student id")
	}
	if err := httpapi.CheckQuery(r, bad); err != nil {
		return err
	}
	pr, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	p, err := s.RequestsOf(r.Context(), st, pr)
	return httpapi.Reply(w, http.StatusOK, p, err)
}

func (s *Service) handleGetRequest(w http.ResponseWriter, r *http.Request) error {
	req, err := s.GetRequest(r.Context(), r.PathValue("id"))
	return httpapi.Reply(w, http.StatusOK, req, err)
}

func (s *Service) handleCancelRequest(w http.ResponseWriter, r *http.Request) error {
	req, err := s.CancelRequest(r.Context(), r.PathValue("id"))
	return httpapi.Reply(w, http.StatusOK, req, err)
}

func (s *Service) handleSendRequest(w http.ResponseWriter, r *http.Request) error {
	req, err := s.SendRequest(r.Context(), r.PathValue("id"))
	return httpapi.Reply(w, http.StatusOK, req, err)
}

func (s *Service) handleReviews(w http.ResponseWriter, r *http.Request) error {
	if err := httpapi.CheckQuery(r, checkReviewStatus(r.URL.Query().Get("status"))); err != nil {
		return err
	}
	pr, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	p, err := s.Reviews(r.Context(), r.URL.Query().Get("status"), pr)
	return httpapi.Reply(w, http.StatusOK, p, err)
}

func (s *Service) handleResolve(w http.ResponseWriter, r *http.Request) error {
	var in Resolution
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	rv, err := s.ResolveReview(r.Context(), r.PathValue("id"), in)
	return httpapi.Reply(w, http.StatusOK, rv, err)
}

func (s *Service) handleRefunds(w http.ResponseWriter, r *http.Request) error {
	pr, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	p, err := s.OnlineRefunds(r.Context(), pr)
	return httpapi.Reply(w, http.StatusOK, p, err)
}

func (s *Service) handleSettlement(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	st, err := s.SettlementView(r.Context(), q.Get("from"), q.Get("to"))
	return httpapi.Reply(w, http.StatusOK, st, err)
}

// readRaw reads a webhook's body as sent (the signature covers these exact bytes), refusing what the
// API's decoder refuses of any body before anything else is looked at.
func readRaw(r *http.Request) ([]byte, error) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, apperr.Errorf(apperr.TooLarge, "the webhook body is over the limit")
	}
	if err := httpapi.CheckJSON(r.Header.Get("Content-Type"), raw); err != nil {
		return nil, err
	}
	return raw, nil
}

func (s *Service) handleRazorpay(w http.ResponseWriter, r *http.Request) error {
	raw, err := readRaw(r)
	if err != nil {
		return err
	}
	a, err := s.RazorpayEvent(r.Context(), r.PathValue("institution"), raw, r.Header.Get(RazorpaySignatureHeader), r.Header.Get(RazorpayEventIDHeader))
	return httpapi.Reply(w, http.StatusOK, a, err)
}

func (s *Service) handleStripe(w http.ResponseWriter, r *http.Request) error {
	raw, err := readRaw(r)
	if err != nil {
		return err
	}
	a, err := s.StripeEvent(r.Context(), r.PathValue("institution"), raw, r.Header.Get(StripeSignatureHeader))
	return httpapi.Reply(w, http.StatusOK, a, err)
}
