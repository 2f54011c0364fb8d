package payments_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/edugrid/edugrid/functions/payments"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/internal/stripemock"
)

const stripeSecret = "whsec_test_stripe_0123"

// stripeSchool is a school whose Stripe account points at a stripe-mock of its own.
func stripeSchool(t *testing.T, slug string) *school {
	t.Helper()
	mock := stripemock.ForTest(t)
	s := newSchool(t, nil, slug, "EDUGRID_STRIPE_API_URL", mock.URL)
	apptest.MustStatus(t, s.env.Do("PUT", "/payments/accounts/stripe", s.owner, map[string]any{"mode": "test", "key_id": "pk_test_123",
		"key_secret": "sk_test_123", "webhook_secret": stripeSecret}), http.StatusOK)
	return s
}

// stripeEvent is a Stripe event of kind about object, signed with secret at the time signed.
func stripeEvent(t testing.TB, id, kind string, object map[string]any, created time.Time, secret string, signed time.Time) ([]byte, string) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"id": id, "object": "event", "type": kind, "created": created.Unix(),
		"api_version": "2025-08-27.basil", "data": map[string]any{"object": object}})
	if err != nil {
		t.Fatal(err)
	}
	p := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: signed})
	return body, p.Header
}

func (s *school) stripeHook(t testing.TB, body []byte, header string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", "/stripe/webhooks/"+s.slug, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if header != "" {
		req.Header.Set(payments.StripeSignatureHeader, header)
	}
	rec := httptest.NewRecorder()
	s.env.Handler.ServeHTTP(rec, req)
	return rec
}

// The Checkout Session is created through stripe-go against Stripe's own mock server, which checks every
// parameter against Stripe's API specification; its webhooks are signed as Stripe signs them.
func TestStripeCheckoutAndWebhook(t *testing.T) {
	s := stripeSchool(t, "stripey")
	r := s.request(t, s.accountant, map[string]any{"provider": "stripe", "amount": 75000, "expires_in_minutes": 120})
	if !strings.HasPrefix(r.ProviderRef, "cs_") || r.URL == "" || r.Provider != payments.Stripe {
		t.Fatalf("request: %+v", r)
	}
	now := s.env.Clock.Now()
	session := map[string]any{"id": r.ProviderRef, "object": "checkout.session", "amount_total": 75000, "currency": "inr",
		"client_reference_id": r.ID, "payment_intent": "pi_3MtwBwLkdIwHu7ix28a3tqPa", "payment_status": "paid", "status": "complete",
		"metadata": map[string]string{"edugrid_request": r.ID}}
	body, header := stripeEvent(t, "evt_1", "checkout.session.completed", session, now, stripeSecret, now)
	tests := []struct {
		name   string
		body   []byte
		header string
		status int
		code   string
	}{
		{"unsigned", body, "", 403, "forbidden"},
		{"signed with another secret", body, func() string {
			_, h := stripeEvent(t, "evt_1", "checkout.session.completed", session, now, "whsec_other", now)
			return h
		}(), 403, "forbidden"},
		{"a tampered body", append([]byte(" "), body...), header, 403, "forbidden"},
		{"stale: signed six minutes ago", body, func() string {
			_, h := stripeEvent(t, "evt_1", "checkout.session.completed", session, now, stripeSecret, now.Add(-6*time.Minute))
			return h
		}(), 400, "invalid"},
		{"a garbage header", body, "t=abc,v1=zz", 403, "forbidden"},
		// stripe-go checks the signature against the last t, so a fresh first t must not pass as its age.
		{"stale, with a fresh t put in front", body, func() string {
			_, h := stripeEvent(t, "evt_1", "checkout.session.completed", session, now, stripeSecret, now.Add(-6*time.Minute))
			return fmt.Sprintf("t=%d,%s", now.Unix(), h)
		}(), 403, "forbidden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			apptest.MustProblem(t, s.stripeHook(t, tc.body, tc.header), tc.status, tc.code)
		})
	}
	if n := s.count(t, "fee_payments"); n != 0 {
		t.Fatalf("refused webhooks recorded %d payments", n)
	}
	if got := outcome(t, s.stripeHook(t, body, header)); got != payments.OutcomeRecorded {
		t.Fatalf("checkout.session.completed: %s", got)
	}
	if got := outcome(t, s.stripeHook(t, body, header)); got != payments.OutcomeDuplicate {
		t.Fatalf("the same event again: %s", got)
	}
	again, h2 := stripeEvent(t, "evt_2", "checkout.session.async_payment_succeeded", session, now, stripeSecret, now)
	if got := outcome(t, s.stripeHook(t, again, h2)); got != payments.OutcomeDuplicate {
		t.Fatalf("another event of the same payment: %s", got)
	}
	ps := s.paymentsOf(t, s.student)
	if len(ps) != 1 || ps[0].Amount != 75000 || ps[0].Reference != "pi_3MtwBwLkdIwHu7ix28a3tqPa" {
		t.Fatalf("payments: %+v", ps)
	}
	// A session in another currency is held for review.
	r2 := s.request(t, s.accountant, map[string]any{"provider": "stripe", "amount": 1000, "expires_in_minutes": 60})
	usd := map[string]any{"id": r2.ProviderRef, "object": "checkout.session", "amount_total": 1000, "currency": "usd",
		"client_reference_id": r2.ID, "payment_intent": "pi_usd", "payment_status": "paid", "status": "complete"}
	b3, h3 := stripeEvent(t, "evt_3", "checkout.session.completed", usd, now, stripeSecret, now)
	if got := outcome(t, s.stripeHook(t, b3, h3)); got != payments.OutcomeReview {
		t.Fatalf("a payment in dollars: %s", got)
	}
	// Cancelling expires the session through stripe-mock; a refund goes through Stripe's refunds API.
	r3 := s.request(t, s.accountant, map[string]any{"provider": "stripe", "amount": 1000, "expires_in_minutes": 60})
	apptest.Call[payments.Request](t, s.env, "POST", "/payments/requests/"+r3.ID+"/cancel", s.accountant, nil, http.StatusOK)
	rf := apptest.Call[struct {
		Reference string `json:"reference"`
	}](t, s.env, "POST", "/fees/refunds", s.accountant, map[string]any{"payment_id": ps[0].ID, "amount": 5000, "method": "online", "reason": "a scholarship"}, http.StatusCreated)
	if !strings.HasPrefix(rf.Reference, "re_") {
		t.Fatalf("the Stripe refund's id: %q", rf.Reference)
	}
	// Reconciliation asks Stripe about the open request (stripe-mock's session fixture is unpaid).
	s.request(t, s.accountant, map[string]any{"provider": "stripe", "amount": 1000, "expires_in_minutes": 60})
	rep, err := s.env.Services.Payments.Reconcile(context.Background(), 0)
	if err != nil || rep.Checked != 1 || rep.Recorded != 0 {
		t.Fatalf("reconcile: %+v %v", rep, err)
	}
}
