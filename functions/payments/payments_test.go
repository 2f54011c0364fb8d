package payments_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"

	"github.com/edugrid/edugrid/functions/fees"
	"github.com/edugrid/edugrid/functions/payments"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/internal/loopback"
	"github.com/edugrid/edugrid/internal/wiretest"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/store"
)

// Razorpay documents the signature as the hex HMAC-SHA256 of the raw body keyed by the webhook secret
// but publishes no test vector; RFC 4231's test case 2 is a known answer for exactly that construction.
func TestRazorpaySignatureKnownAnswer(t *testing.T) {
	tests := []struct{ secret, body, want string }{
		{"Jefe", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{"key", "The quick brown fox jumps over the lazy dog", "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"},
	}
	for _, tc := range tests {
		if got := payments.RazorpaySignature(tc.secret, []byte(tc.body)); got != tc.want {
			t.Errorf("RazorpaySignature(%q, %q) = %s, want %s", tc.secret, tc.body, got, tc.want)
		}
		if got := loopback.RazorpaySign(tc.secret, []byte(tc.body)); got != tc.want {
			t.Errorf("the stand-in signs %q as %s, want %s", tc.body, got, tc.want)
		}
	}
}

func TestAccountsKeepSecretsSealed(t *testing.T) {
	s := newSchool(t, nil, "sealed")
	ctx := context.Background()
	for _, path := range []string{"/payments/accounts"} {
		rec := s.env.Do("GET", path, s.accountant, nil)
		apptest.MustStatus(t, rec, http.StatusOK)
		for _, secret := range []string{s.rzp.KeySecret, s.rzp.WebhookSecret} {
			if strings.Contains(rec.Body.String(), secret) {
				t.Fatalf("%s shows a secret: %s", path, rec.Body)
			}
		}
		var accs []payments.Account
		_ = json.Unmarshal(rec.Body.Bytes(), &accs)
		if len(accs) != 1 || accs[0].KeyID != s.rzp.KeyID || accs[0].WebhookURL != "/razorpay/webhooks/sealed" || len(accs[0].WebhookSecretFingerprint) != 8 {
			t.Fatalf("accounts: %+v", accs)
		}
	}
	// Nothing stored anywhere in the institution's database carries a secret in clear: not the
	// account, not the audit log.
	db := s.env.TenantDB(s.slug)
	names, _ := db.ListCollectionNames(ctx, bson.M{})
	for _, name := range names {
		cur, err := db.Collection(name).Find(ctx, bson.M{})
		if err != nil {
			t.Fatal(err)
		}
		var docs []bson.Raw
		_ = cur.All(ctx, &docs)
		for _, d := range docs {
			for _, secret := range []string{s.rzp.KeySecret, s.rzp.WebhookSecret} {
				if strings.Contains(string(d), secret) {
					t.Fatalf("collection %s stores a secret in clear", name)
				}
			}
		}
	}
	tests := []struct {
		name, token, provider string
		body                  map[string]any
		status                int
		code                  string
	}{
		{"accountants may not set accounts", s.accountant, "razorpay", map[string]any{"mode": "test", "key_id": "k"}, 403, "forbidden"},
		{"teachers may not read them", s.teacher, "", nil, 403, "forbidden"},
		{"an unknown provider", s.owner, "paypal", map[string]any{"mode": "test", "key_id": "k"}, 400, "invalid"},
		{"an unknown mode", s.owner, "stripe", map[string]any{"mode": "sandbox", "key_id": "pk", "key_secret": "sk_test_0123", "webhook_secret": "whsec_0123"}, 400, "invalid"},
		{"a first save without a webhook secret", s.owner, "stripe", map[string]any{"mode": "test", "key_id": "pk", "key_secret": "sk_test_0123"}, 400, "invalid"},
		{"a secret with spaces", s.owner, "stripe", map[string]any{"mode": "test", "key_id": "pk", "key_secret": "sk test 0123", "webhook_secret": "whsec_0123"}, 400, "invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method, path := "PUT", "/payments/accounts/"+tc.provider
			if tc.provider == "" {
				method, path = "GET", "/payments/accounts"
			}
			apptest.MustProblem(t, s.env.Do(method, path, tc.token, tc.body), tc.status, tc.code)
		})
	}
}

func TestRazorpayPaymentIsRecordedOnce(t *testing.T) {
	s := newSchool(t, nil, "sunrise")
	before := s.dues(t)
	r := s.request(t, s.accountant, map[string]any{})
	if r.Amount != before.Outstanding || r.Provider != payments.Razorpay || r.Status != payments.RequestOpen || !strings.HasPrefix(r.URL, s.env.Razorpay.URL+"/pay/") {
		t.Fatalf("request: %+v (dues %d)", r, before.Outstanding)
	}
	body, sig, evt, err := s.env.Razorpay.Pay(r.ProviderRef, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := outcome(t, s.razorpayHook(t, "", body, sig, evt)); got != payments.OutcomeRecorded {
		t.Fatalf("first webhook: %s", got)
	}
	// The same event again, the same payment under another event id, and the payment.captured event of
	// the same payment: one payment.
	var captured map[string]any
	_ = json.Unmarshal(body, &captured)
	captured["event"] = "payment.captured"
	capturedBody, _ := json.Marshal(captured)
	again := []struct {
		name string
		body []byte
		evt  string
		want payments.Outcome
	}{
		{"the same event", body, evt, payments.OutcomeDuplicate},
		{"the same payment, another event id", body, "evt_other", payments.OutcomeDuplicate},
		{"payment.captured of the same payment", capturedBody, "evt_captured", payments.OutcomeDuplicate},
		{"without an event id", body, "", payments.OutcomeDuplicate},
	}
	for _, tc := range again {
		t.Run(tc.name, func(t *testing.T) {
			if got := outcome(t, s.razorpayHook(t, "", tc.body, loopback.RazorpaySign(s.rzp.WebhookSecret, tc.body), tc.evt)); got != tc.want {
				t.Fatalf("outcome %s, want %s", got, tc.want)
			}
		})
	}
	ps := s.paymentsOf(t, s.student)
	if len(ps) != 1 {
		t.Fatalf("%d payments recorded, want 1", len(ps))
	}
	p := ps[0]
	if p.Method != fees.MethodOnline || !strings.HasPrefix(p.Reference, "pay_") || p.Amount != before.Outstanding || p.ReceiptNo != 1 || len(p.Allocations) != 3 {
		t.Fatalf("payment: %+v", p)
	}
	if d := s.dues(t); d.Outstanding != 0 {
		t.Fatalf("dues after paying everything: %d", d.Outstanding)
	}
	got := apptest.Call[payments.Request](t, s.env, "GET", "/payments/requests/"+r.ID, s.studentToken, nil, http.StatusOK)
	if got.Status != payments.RequestPaid || got.PaymentID != p.ID || got.ReceiptNo != 1 || got.ProviderPaymentID != p.Reference {
		t.Fatalf("request after payment: %+v", got)
	}
}

func TestWebhooksRefusedRecordNothing(t *testing.T) {
	s := newSchool(t, nil, "guarded")
	other := newSchool(t, s.env, "elsewhere")
	r := s.request(t, s.accountant, map[string]any{})
	body, sig, evt, err := s.env.Razorpay.Pay(r.ProviderRef, 0)
	if err != nil {
		t.Fatal(err)
	}
	stale := func() []byte {
		var ev map[string]any
		_ = json.Unmarshal(body, &ev)
		ev["created_at"] = s.env.Clock.Now().Add(-4 * 24 * time.Hour).Unix()
		b, _ := json.Marshal(ev)
		return b
	}()
	malformed := []byte(`{"event": "payment_link.paid", "payload": [`)
	tests := []struct {
		name       string
		path       string
		body       []byte
		sig        string
		status     int
		code       string
		noAccounts bool
	}{
		{"unsigned", "", body, "", 403, "forbidden", false},
		{"a forged signature", "", body, strings.Repeat("ab", 32), 403, "forbidden", false},
		{"signed with another institution's secret", "", body, loopback.RazorpaySign(other.rzp.WebhookSecret, body), 403, "forbidden", false},
		{"a tampered body", "", append([]byte(" "), body...), sig, 403, "forbidden", false},
		{"signed but stale (a replay)", "", stale, loopback.RazorpaySign(s.rzp.WebhookSecret, stale), 400, "invalid", false},
		{"signed but malformed", "", malformed, loopback.RazorpaySign(s.rzp.WebhookSecret, malformed), 400, "invalid", false},
		{"an unknown institution", "/razorpay/webhooks/no-such-school", body, sig, 404, "not_found", false},
		{"a malformed institution", "/razorpay/webhooks/X..Y", body, sig, 404, "not_found", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			apptest.MustProblem(t, s.razorpayHook(t, tc.path, tc.body, tc.sig, evt), tc.status, tc.code)
		})
	}
	if n := s.count(t, "fee_payments") + other.count(t, "fee_payments"); n != 0 {
		t.Fatalf("refused webhooks recorded %d payments", n)
	}
	if n := s.count(t, "payment_gateway_events"); n != 0 {
		t.Fatalf("refused webhooks left %d events", n)
	}
	// The genuine webhook still records afterwards.
	if got := outcome(t, s.razorpayHook(t, "", body, sig, evt)); got != payments.OutcomeRecorded {
		t.Fatalf("genuine webhook after the refusals: %s", got)
	}
}

// A webhook names its institution in its path and is verified by that institution's secret alone, so
// nothing about institution A ever records in B: A's webhook at B's address is forged there, and B's
// own gateway reporting a payment B never asked for puts it on B's review list, not in A's ledger.
func TestAWebhookForOneInstitutionNeverRecordsInAnother(t *testing.T) {
	a := newSchool(t, nil, "alpha-academy")
	b := newSchool(t, a.env, "beta-academy")
	r := a.request(t, a.accountant, map[string]any{})
	body, sig, evt, err := a.env.Razorpay.Pay(r.ProviderRef, 0)
	if err != nil {
		t.Fatal(err)
	}
	apptest.MustProblem(t, a.razorpayHook(t, "/razorpay/webhooks/"+b.slug, body, sig, evt), http.StatusForbidden, "forbidden")
	if got := outcome(t, a.razorpayHook(t, "/razorpay/webhooks/"+b.slug, body, loopback.RazorpaySign(b.rzp.WebhookSecret, body), evt)); got != payments.OutcomeReview {
		t.Fatalf("A's payment signed by B's secret at B: %s, want review", got)
	}
	if n := b.count(t, "fee_payments"); n != 0 {
		t.Fatalf("B recorded %d payments", n)
	}
	if n := a.count(t, "fee_payments"); n != 0 {
		t.Fatalf("A recorded %d payments from a webhook sent to B", n)
	}
	if got := outcome(t, a.razorpayHook(t, "", body, sig, evt)); got != payments.OutcomeRecorded {
		t.Fatalf("A's own webhook: %s", got)
	}
}

func TestMismatchGoesToTheReviewList(t *testing.T) {
	s := newSchool(t, nil, "review")
	r := s.request(t, s.accountant, map[string]any{"amount": 50000})
	body, sig, evt, err := s.env.Razorpay.Pay(r.ProviderRef, 40000) // the payer paid less than asked
	if err != nil {
		t.Fatal(err)
	}
	if got := outcome(t, s.razorpayHook(t, "", body, sig, evt)); got != payments.OutcomeReview {
		t.Fatalf("outcome %s, want review", got)
	}
	if n := s.count(t, "fee_payments"); n != 0 {
		t.Fatalf("a mismatched payment was recorded")
	}
	page := apptest.Call[struct {
		Items []payments.Review `json:"items"`
	}](t, s.env, "GET", "/payments/reviews?status=open", s.accountant, nil, http.StatusOK)
	if len(page.Items) != 1 || page.Items[0].Amount != 40000 || page.Items[0].ExpectedAmount != 50000 || page.Items[0].StudentID != s.student {
		t.Fatalf("review list: %+v", page.Items)
	}
	rv := page.Items[0]
	if got := apptest.Call[payments.Request](t, s.env, "GET", "/payments/requests/"+r.ID, s.accountant, nil, http.StatusOK); got.Status != payments.RequestReview {
		t.Fatalf("request status %s, want review", got.Status)
	}
	// A second delivery of the same capture is the same review.
	if got := outcome(t, s.razorpayHook(t, "", body, sig, "evt_again")); got != payments.OutcomeDuplicate {
		t.Fatalf("again: %s", got)
	}
	tests := []struct {
		name   string
		token  string
		body   map[string]any
		status int
		code   string
	}{
		{"teachers may not resolve", s.teacher, map[string]any{"action": "record", "note": "paid less"}, 403, "forbidden"},
		{"an unknown action", s.accountant, map[string]any{"action": "keep", "note": "paid less"}, 400, "invalid"},
		{"without a note", s.accountant, map[string]any{"action": "record", "note": ""}, 400, "invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			apptest.MustProblem(t, s.env.Do("POST", "/payments/reviews/"+rv.ID+"/resolve", tc.token, tc.body), tc.status, tc.code)
		})
	}
	done := apptest.Call[payments.Review](t, s.env, "POST", "/payments/reviews/"+rv.ID+"/resolve", s.accountant,
		map[string]any{"action": "record", "note": "the payer paid part; recorded as received"}, http.StatusOK)
	if done.Status != payments.ReviewRecorded || done.ReceiptNo != 1 {
		t.Fatalf("resolved: %+v", done)
	}
	ps := s.paymentsOf(t, s.student)
	if len(ps) != 1 || ps[0].Amount != 40000 || ps[0].Reference != rv.ProviderPayment {
		t.Fatalf("payments after recording the review: %+v", ps)
	}
	apptest.MustProblem(t, s.env.Do("POST", "/payments/reviews/"+rv.ID+"/resolve", s.accountant,
		map[string]any{"action": "dismiss", "note": "again"}), http.StatusConflict, "conflict")
}

func TestWebhookSecretRotation(t *testing.T) {
	s := newSchool(t, nil, "rotate")
	old := s.rzp.WebhookSecret
	acc := apptest.Call[payments.Account](t, s.env, "PUT", "/payments/accounts/razorpay", s.owner,
		map[string]any{"mode": "test", "key_id": s.rzp.KeyID, "webhook_secret": "whsec-rotated-4567"}, http.StatusOK)
	if acc.PreviousWebhookSecretUntil == nil || !acc.PreviousWebhookSecretUntil.Equal(s.env.Clock.Now().Add(payments.RotationGrace)) {
		t.Fatalf("after rotation: %+v", acc)
	}
	r1 := s.request(t, s.accountant, map[string]any{"amount": 10000}) // the key secret was kept
	body1, _, _, err := s.env.Razorpay.Pay(r1.ProviderRef, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := outcome(t, s.razorpayHook(t, "", body1, loopback.RazorpaySign(old, body1), "e1")); got != payments.OutcomeRecorded {
		t.Fatalf("signed with the previous secret during the grace: %s", got)
	}
	r2 := s.request(t, s.accountant, map[string]any{"amount": 10000})
	body2, _, _, err := s.env.Razorpay.Pay(r2.ProviderRef, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.env.Clock.Advance(payments.RotationGrace + time.Minute)
	// The stand-in stamped the event before the clock moved: re-stamp it, as a fresh delivery would be.
	var ev map[string]any
	_ = json.Unmarshal(body2, &ev)
	ev["created_at"] = s.env.Clock.Now().Unix()
	body2, _ = json.Marshal(ev)
	s.signIn(t)
	apptest.MustProblem(t, s.razorpayHook(t, "", body2, loopback.RazorpaySign(old, body2), "e2"), http.StatusForbidden, "forbidden")
	if got := outcome(t, s.razorpayHook(t, "", body2, loopback.RazorpaySign("whsec-rotated-4567", body2), "e2")); got != payments.OutcomeRecorded {
		t.Fatalf("signed with the new secret: %s", got)
	}
	accs := apptest.Call[[]payments.Account](t, s.env, "GET", "/payments/accounts", s.owner, nil, http.StatusOK)
	if accs[0].PreviousWebhookSecretUntil != nil {
		t.Fatalf("the grace is over but the view still shows it: %+v", accs[0])
	}
}

func TestReconciliationRecordsAMissedWebhook(t *testing.T) {
	s := newSchool(t, nil, "recon")
	r := s.request(t, s.accountant, map[string]any{"amount": 120000})
	body, sig, evt, err := s.env.Razorpay.Pay(r.ProviderRef, 0) // the webhook is never delivered
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.env.Services.Payments.Reconcile(context.Background(), 0)
	if err != nil || rep.Recorded != 1 || rep.Checked != 1 {
		t.Fatalf("reconcile: %+v %v", rep, err)
	}
	rep, err = s.env.Services.Payments.Reconcile(context.Background(), 0)
	if err != nil || rep.Recorded != 0 || rep.Checked != 0 {
		t.Fatalf("second reconcile: %+v %v", rep, err)
	}
	// The webhook arrives late after all: nothing more.
	if got := outcome(t, s.razorpayHook(t, "", body, sig, evt)); got != payments.OutcomeDuplicate {
		t.Fatalf("late webhook: %s", got)
	}
	if ps := s.paymentsOf(t, s.student); len(ps) != 1 || ps[0].Amount != 120000 {
		t.Fatalf("payments: %+v", ps)
	}
	st := apptest.Call[[]payments.Settlement](t, s.env, "GET", "/payments/settlement?from=2026-06-01&to=2026-06-30", s.accountant, nil, http.StatusOK)
	// The late webhook reported the gateway's fee (the stand-in's 2 %), which the link lookup did not.
	if len(st) != 2 || st[0].Provider != payments.Razorpay || st[0].Captured != 120000 || st[0].Payments != 1 || st[0].Fees != 2400 || st[0].Net != 117600 {
		t.Fatalf("settlement: %+v", st)
	}
}

func TestConcurrentDuplicateWebhooksRecordOnePayment(t *testing.T) {
	wiretest.RequireTransactions(t)
	s := newSchool(t, nil, "burst")
	r := s.request(t, s.accountant, map[string]any{})
	body, sig, _, err := s.env.Razorpay.Pay(r.ProviderRef, 0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[payments.Outcome]int{}
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := s.razorpayHook(t, "", body, sig, fmt.Sprintf("evt_%d", i%4))
			var a payments.WebhookAnswer
			_ = json.Unmarshal(rec.Body.Bytes(), &a)
			mu.Lock()
			defer mu.Unlock()
			if rec.Code != http.StatusOK {
				outcomes["status "+payments.Outcome(fmt.Sprint(rec.Code))]++
				return
			}
			outcomes[a.Outcome]++
		}()
	}
	wg.Wait()
	if outcomes[payments.OutcomeRecorded] != 1 || outcomes[payments.OutcomeDuplicate] != 39 {
		t.Fatalf("outcomes: %v", outcomes)
	}
	if n := s.count(t, "fee_payments"); n != 1 {
		t.Fatalf("%d payments", n)
	}
}

func TestRequestsForOwnDuesCancelAndSend(t *testing.T) {
	s := newSchool(t, nil, "requests")
	dues := s.dues(t)
	first := dues.Instalments[0]
	r := s.request(t, s.studentToken, map[string]any{"instalment_id": first.ID, "expires_in_minutes": 60})
	if r.Amount != first.Outstanding || r.InstalmentID != first.ID || !r.ExpiresAt.Equal(s.env.Clock.Now().Add(time.Hour)) {
		t.Fatalf("request for one instalment: %+v", r)
	}
	tests := []struct {
		name   string
		token  string
		body   map[string]any
		status int
		code   string
	}{
		{"another student's dues", s.studentToken, map[string]any{"student_id": s.student2}, 404, "not_found"},
		{"teachers may not ask", s.teacher, map[string]any{}, 403, "forbidden"},
		{"more than is due", s.accountant, map[string]any{"amount": dues.Outstanding + 1}, 400, "invalid"},
		{"an instalment and an amount", s.accountant, map[string]any{"instalment_id": first.ID, "amount": 100}, 400, "invalid"},
		{"another student's instalment", s.accountant, map[string]any{"student_id": s.student2, "instalment_id": first.ID}, 404, "not_found"},
		{"too short a life", s.accountant, map[string]any{"expires_in_minutes": 10}, 400, "invalid"},
		{"Stripe for more than a day", s.accountant, map[string]any{"provider": "stripe", "expires_in_minutes": 2000}, 400, "invalid"},
		{"a provider without an account", s.accountant, map[string]any{"provider": "stripe"}, 409, "conflict"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := tc.body["student_id"]; !ok {
				tc.body["student_id"] = s.student
			}
			apptest.MustProblem(t, s.env.Do("POST", "/payments/requests", tc.token, tc.body), tc.status, tc.code)
		})
	}
	// Staff send it: the student and guardians with accounts are told once, however often it is sent.
	apptest.Call[payments.Request](t, s.env, "POST", "/payments/requests/"+r.ID+"/send", s.accountant, nil, http.StatusOK)
	apptest.Call[payments.Request](t, s.env, "POST", "/payments/requests/"+r.ID+"/send", s.accountant, nil, http.StatusOK)
	apptest.MustProblem(t, s.env.Do("POST", "/payments/requests/"+r.ID+"/send", s.studentToken, nil), http.StatusForbidden, "forbidden")
	sent := 0
	for _, n := range s.env.Notifications() {
		if n.Kind == payments.KindRequest && strings.Contains(n.Body, r.URL) {
			sent++
		}
	}
	if sent != 1 {
		t.Fatalf("%d notifications carry the link, want 1 (the student)", sent)
	}
	// Expiry is shown on read; cancelling reaches the gateway, so the link cannot be paid.
	s.env.Clock.Advance(2 * time.Hour)
	s.signIn(t)
	if got := apptest.Call[payments.Request](t, s.env, "GET", "/payments/requests/"+r.ID, s.studentToken, nil, http.StatusOK); got.Status != payments.RequestExpired {
		t.Fatalf("past its expiry: %s", got.Status)
	}
	r2 := s.request(t, s.accountant, map[string]any{"amount": 100})
	c := apptest.Call[payments.Request](t, s.env, "POST", "/payments/requests/"+r2.ID+"/cancel", s.accountant, nil, http.StatusOK)
	if c.Status != payments.RequestCancelled {
		t.Fatalf("cancelled: %+v", c)
	}
	if _, _, _, err := s.env.Razorpay.Pay(r2.ProviderRef, 0); err == nil {
		t.Fatal("a cancelled link could still be paid at the gateway")
	}
	apptest.MustProblem(t, s.env.Do("POST", "/payments/requests/"+r2.ID+"/cancel", s.accountant, nil), http.StatusConflict, "conflict")
	list := apptest.Call[struct {
		Items []payments.Request `json:"items"`
	}](t, s.env, "GET", "/payments/requests?student="+s.student, s.studentToken, nil, http.StatusOK)
	if len(list.Items) != 2 {
		t.Fatalf("the student's requests: %d", len(list.Items))
	}
	apptest.MustProblem(t, s.env.Do("GET", "/payments/requests?student="+s.student2, s.studentToken, nil), http.StatusNotFound, "not_found")
	// A gateway that cannot be reached (this Env's Stripe is a closed loopback port): 503, nothing stored.
	apptest.MustStatus(t, s.env.Do("PUT", "/payments/accounts/stripe", s.owner, map[string]any{"mode": "test", "key_id": "pk_test_1",
		"key_secret": "sk_test_0123", "webhook_secret": "whsec_0123"}), http.StatusOK)
	before := s.count(t, "payment_requests")
	apptest.MustProblem(t, s.env.Do("POST", "/payments/requests", s.accountant, map[string]any{"student_id": s.student, "provider": "stripe"}),
		http.StatusServiceUnavailable, "unavailable")
	if n := s.count(t, "payment_requests"); n != before {
		t.Fatalf("a request was stored though the gateway was unreachable")
	}
}

func TestOnlineRefundGoesThroughTheGateway(t *testing.T) {
	s := newSchool(t, nil, "refunds")
	r := s.request(t, s.accountant, map[string]any{"amount": 100000})
	body, sig, evt, err := s.env.Razorpay.Pay(r.ProviderRef, 0)
	if err != nil {
		t.Fatal(err)
	}
	outcome(t, s.razorpayHook(t, "", body, sig, evt))
	p := s.paymentsOf(t, s.student)[0]
	rf := apptest.Call[fees.Refund](t, s.env, "POST", "/fees/refunds", s.accountant,
		map[string]any{"payment_id": p.ID, "amount": 30000, "method": "online", "reason": "withdrew from one subject"}, http.StatusCreated)
	if !strings.HasPrefix(rf.Reference, "rfnd_") {
		t.Fatalf("the refund's reference is not the gateway's refund id: %+v", rf)
	}
	apptest.MustProblem(t, s.env.Do("POST", "/fees/refunds", s.accountant,
		map[string]any{"payment_id": p.ID, "amount": 80000, "method": "online", "reason": "too much"}), http.StatusBadRequest, "invalid")
	list := apptest.Call[struct {
		Items []payments.OnlineRefund `json:"items"`
	}](t, s.env, "GET", "/payments/refunds", s.accountant, nil, http.StatusOK)
	if len(list.Items) != 1 || list.Items[0].Status != payments.RefundPending || list.Items[0].RefundID != rf.ID {
		t.Fatalf("gateway refunds: %+v", list.Items)
	}
	hook := func(event string) []byte {
		b, _ := json.Marshal(map[string]any{"entity": "event", "event": event, "created_at": s.env.Clock.Now().Unix(),
			"payload": map[string]any{"refund": map[string]any{"entity": map[string]any{"id": rf.Reference, "payment_id": p.Reference, "amount": 30000, "status": "processed"}}}})
		return b
	}
	processed := hook("refund.processed")
	if got := outcome(t, s.razorpayHook(t, "", processed, loopback.RazorpaySign(s.rzp.WebhookSecret, processed), "evt_rf1")); got != payments.OutcomeUpdated {
		t.Fatalf("refund.processed: %s", got)
	}
	failed := hook("refund.failed")
	if got := outcome(t, s.razorpayHook(t, "", failed, loopback.RazorpaySign(s.rzp.WebhookSecret, failed), "evt_rf2")); got != payments.OutcomeIgnored {
		t.Fatalf("a late refund.failed after processed: %s", got)
	}
	list = apptest.Call[struct {
		Items []payments.OnlineRefund `json:"items"`
	}](t, s.env, "GET", "/payments/refunds", s.accountant, nil, http.StatusOK)
	if list.Items[0].Status != payments.RefundProcessed {
		t.Fatalf("after the webhooks: %s", list.Items[0].Status)
	}
	// The stand-in charges 2 %: 2,000 of 100,000, as its webhook reported.
	st := apptest.Call[[]payments.Settlement](t, s.env, "GET", "/payments/settlement?from=2026-06-01&to=2026-06-30", s.accountant, nil, http.StatusOK)
	if st[0].Captured != 100000 || st[0].Refunded != 30000 || st[0].Fees != 2000 || st[0].Net != 68000 {
		t.Fatalf("settlement: %+v", st[0])
	}
	// A payment recorded by hand is refunded by hand, as before.
	rec := s.env.DoWithHeader("POST", "/fees/payments", s.accountant, map[string]any{"student_id": s.student2, "amount": 5000, "method": "cash"},
		http.Header{fees.IdempotencyHeader: {"manual-1"}})
	apptest.MustStatus(t, rec, http.StatusCreated)
	manual := apptest.Decode[fees.Payment](t, rec)
	mr := apptest.Call[fees.Refund](t, s.env, "POST", "/fees/refunds", s.accountant,
		map[string]any{"payment_id": manual.ID, "amount": 5000, "method": "cash", "reason": "paid twice"}, http.StatusCreated)
	if mr.Reference != "" || mr.Method != fees.MethodCash {
		t.Fatalf("manual refund: %+v", mr)
	}
}

// A deployment that cannot seal secrets (production without EDUGRID_SECRETS_KMS_KEY) stores none: the
// account route answers 503 before anything is written.
func TestNoSealingKeyStoresNoSecret(t *testing.T) {
	svc := payments.New(payments.Deps{})
	_, err := svc.SaveAccount(context.Background(), "razorpay", payments.AccountInput{Mode: payments.Test, KeyID: "rzp_test_1", KeySecret: "secret-0123", WebhookSecret: "whsec-0123"})
	if apperr.CodeOf(err) != apperr.Unavailable {
		t.Fatalf("SaveAccount without a sealing key: %v, want unavailable", err)
	}
}

// A webhook's transaction may run again (MongoDB: a write conflict reruns its body; a lost commit answer
// is retried alone): the capture is still recorded once, with one receipt, and its event remembered once.
func TestWebhookSurvivesARetriedTransaction(t *testing.T) {
	wiretest.RequireTransactions(t)
	faults := map[string]store.TxFaults{
		"body run twice": func(attempt int, at store.TxPoint) error {
			if attempt == 1 && at == store.BeforeCommit {
				return mongo.CommandError{Code: 112, Name: "WriteConflict", Message: "injected", Labels: []string{"TransientTransactionError"}}
			}
			return nil
		},
		"commit retried": func(attempt int, at store.TxPoint) error {
			if attempt == 1 && at == store.AfterCommit {
				return mongo.CommandError{Code: 112, Name: "WriteConflict", Message: "injected", Labels: []string{"UnknownTransactionCommitResult"}}
			}
			return nil
		},
	}
	for name, f := range faults {
		t.Run(name, func(t *testing.T) {
			s := newSchool(t, nil, "retry")
			r := s.request(t, s.accountant, map[string]any{"amount": 10000})
			body, sig, evt, err := s.env.Razorpay.Pay(r.ProviderRef, 0)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("POST", "/razorpay/webhooks/"+s.slug, strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(payments.RazorpaySignatureHeader, sig)
			req.Header.Set(payments.RazorpayEventIDHeader, evt)
			req = req.WithContext(store.WithTxFaults(req.Context(), f))
			rec := httptest.NewRecorder()
			s.env.Handler.ServeHTTP(rec, req)
			if got := outcome(t, rec); got != payments.OutcomeRecorded {
				t.Fatalf("outcome %s", got)
			}
			for coll, want := range map[string]int64{"fee_payments": 1, "payment_gateway_events": 1, "fee_idempotency": 1} {
				if n := s.count(t, coll); n != want {
					t.Errorf("%s holds %d documents, want %d", coll, n, want)
				}
			}
			if ps := s.paymentsOf(t, s.student); len(ps) != 1 || ps[0].ReceiptNo != 1 {
				t.Fatalf("payments: %+v", ps)
			}
		})
	}
}

// Every bad field of a request is named at once, each with its code.
func TestValidatorsNameEveryBadField(t *testing.T) {
	tests := []struct {
		name string
		in   interface{ Validate() error }
		want map[string]apperr.FieldCode
	}{
		{"a request", payments.NewRequest{StudentID: "x", InstalmentID: "y", Provider: "paypal", ExpiresInMinutes: 5},
			map[string]apperr.FieldCode{"student_id": apperr.FieldFormat, "instalment_id": apperr.FieldFormat, "provider": apperr.FieldNotAllowed, "expires_in_minutes": apperr.FieldOutOfRange}},
		{"an account", payments.AccountInput{KeySecret: "short", WebhookSecret: "has spaces in it"},
			map[string]apperr.FieldCode{"mode": apperr.FieldRequired, "key_id": apperr.FieldRequired, "key_secret": apperr.FieldTooShort, "webhook_secret": apperr.FieldFormat}},
		{"a resolution", payments.Resolution{Action: "keep", StudentID: "z", Note: " "},
			map[string]apperr.FieldCode{"action": apperr.FieldNotAllowed, "student_id": apperr.FieldFormat, "note": apperr.FieldRequired}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := apperr.As(tc.in.Validate())
			if e == nil {
				t.Fatal("accepted")
			}
			got := map[string]apperr.FieldCode{}
			for _, fe := range e.Errors {
				got[fe.Field] = fe.Code
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("named %v, want %v", got, tc.want)
			}
		})
	}
}
