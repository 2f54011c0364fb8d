package loopback

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// RazorpayAccount is one merchant account the Razorpay stand-in knows: its API key pair, and where and
// with which secret it signs the account's webhooks.
type RazorpayAccount struct {
	KeyID, KeySecret string
	WebhookSecret    string
	// WebhookURL receives the account's webhooks; empty sends none (a test delivers them itself).
	WebhookURL string
}

// Razorpay answers as Razorpay's REST API documents payment links, their payments and refunds
// (https://razorpay.com/docs/api/payments/payment-links/): basic authentication with the key id and
// secret, amounts in paise, errors as {"error":{"code":"BAD_REQUEST_ERROR","description":…}}. Each link's
// short_url is a page of the stand-in where a test payment is made; paying it captures a payment and
// sends the account's payment_link.paid webhook, signed as Razorpay signs (X-Razorpay-Signature: hex
// HMAC-SHA256 of the body with the webhook secret). Tests and the local stack use it; nothing deployed
// does.
type Razorpay struct {
	URL string

	mu       sync.Mutex
	accounts map[string]RazorpayAccount
	links    map[string]*rzpLink
	refunds  map[string]map[string]any
	seq      int
	now      func() time.Time
	srv      *httptest.Server
	client   *http.Client
}

type rzpLink struct {
	Account  string
	Entity   map[string]any
	Payments []map[string]any
}

// StartRazorpay starts the stand-in on 127.0.0.1 with accounts; now stamps the events it makes (the
// clock of the edugrid it serves, so its webhooks are fresh to it).
func StartRazorpay(now func() time.Time, accounts ...RazorpayAccount) *Razorpay {
	if now == nil {
		now = time.Now
	}
	r := &Razorpay{accounts: map[string]RazorpayAccount{}, links: map[string]*rzpLink{}, refunds: map[string]map[string]any{},
		now: now, client: &http.Client{Timeout: 10 * time.Second}}
	for _, a := range accounts {
		r.accounts[a.KeyID] = a
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/payment_links", r.createLink)
	mux.HandleFunc("GET /v1/payment_links/{id}", r.getLink)
	mux.HandleFunc("POST /v1/payment_links/{id}/cancel", r.cancelLink)
	mux.HandleFunc("POST /v1/payments/{id}/refund", r.refund)
	mux.HandleFunc("GET /pay/{id}", r.page)
	mux.HandleFunc("POST /pay/{id}", r.payPage)
	r.srv = httptest.NewServer(mux)
	r.URL = r.srv.URL
	return r
}

// Close stops the stand-in.
func (r *Razorpay) Close() { r.srv.Close() }

// AddAccount adds or replaces an account.
func (r *Razorpay) AddAccount(a RazorpayAccount) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.accounts[a.KeyID] = a
}

func (r *Razorpay) id(prefix string) string {
	r.seq++
	return fmt.Sprintf("%s_%014d", prefix, r.seq)
}

func rzpError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "description": desc}})
}

func (r *Razorpay) auth(w http.ResponseWriter, req *http.Request) (RazorpayAccount, bool) {
	id, secret, ok := req.BasicAuth()
	r.mu.Lock()
	a, known := r.accounts[id]
	r.mu.Unlock()
	if !ok || !known || !hmac.Equal([]byte(a.KeySecret), []byte(secret)) {
		rzpError(w, http.StatusUnauthorized, "BAD_REQUEST_ERROR", "Authentication failed")
		return RazorpayAccount{}, false
	}
	return a, true
}

func (r *Razorpay) createLink(w http.ResponseWriter, req *http.Request) {
	a, ok := r.auth(w, req)
	if !ok {
		return
	}
	var in map[string]any
	if err := json.NewDecoder(req.Body).Decode(&in); err != nil {
		rzpError(w, http.StatusBadRequest, "BAD_REQUEST_ERROR", "The request body is not JSON")
		return
	}
	amount, _ := in["amount"].(float64)
	currency, _ := in["currency"].(string)
	if amount < 100 || currency == "" {
		rzpError(w, http.StatusBadRequest, "BAD_REQUEST_ERROR", "The amount must be atleast INR 1.00")
		return
	}
	if exp, _ := in["expire_by"].(float64); exp != 0 && int64(exp) < r.now().Add(15*time.Minute).Unix() {
		rzpError(w, http.StatusBadRequest, "BAD_REQUEST_ERROR", "expire_by should be at least 15 minutes after current time")
		return
	}
	r.mu.Lock()
	id := r.id("plink")
	e := map[string]any{"id": id, "entity": "payment_link", "amount": int64(amount), "amount_paid": 0, "currency": currency,
		"accept_partial": false, "reference_id": in["reference_id"], "description": in["description"], "customer": in["customer"],
		"notes": in["notes"], "expire_by": in["expire_by"], "status": "created", "short_url": r.URL + "/pay/" + id,
		"created_at": r.now().Unix(), "payments": nil}
	r.links[id] = &rzpLink{Account: a.KeyID, Entity: e}
	r.mu.Unlock()
	writeJSON(w, http.StatusOK, e)
}

func (r *Razorpay) link(w http.ResponseWriter, req *http.Request) (*rzpLink, bool) {
	a, ok := r.auth(w, req)
	if !ok {
		return nil, false
	}
	r.mu.Lock()
	l, ok := r.links[req.PathValue("id")]
	r.mu.Unlock()
	if !ok || l.Account != a.KeyID {
		rzpError(w, http.StatusBadRequest, "BAD_REQUEST_ERROR", "The id provided does not exist")
		return nil, false
	}
	return l, true
}

func (r *Razorpay) getLink(w http.ResponseWriter, req *http.Request) {
	l, ok := r.link(w, req)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	writeJSON(w, http.StatusOK, l.view())
}

func (l *rzpLink) view() map[string]any {
	out := map[string]any{}
	for k, v := range l.Entity {
		out[k] = v
	}
	var ps []map[string]any
	for _, p := range l.Payments {
		ps = append(ps, map[string]any{"payment_id": p["id"], "amount": p["amount"], "status": p["status"], "created_at": p["created_at"], "method": "upi"})
	}
	out["payments"] = ps
	return out
}

func (r *Razorpay) cancelLink(w http.ResponseWriter, req *http.Request) {
	l, ok := r.link(w, req)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if l.Entity["status"] != "created" {
		rzpError(w, http.StatusBadRequest, "BAD_REQUEST_ERROR", "Payment Link cannot be cancelled as it is already "+fmt.Sprint(l.Entity["status"]))
		return
	}
	l.Entity["status"] = "cancelled"
	writeJSON(w, http.StatusOK, l.view())
}

func (r *Razorpay) refund(w http.ResponseWriter, req *http.Request) {
	a, ok := r.auth(w, req)
	if !ok {
		return
	}
	var in struct {
		Amount int64 `json:"amount"`
	}
	_ = json.NewDecoder(req.Body).Decode(&in)
	pid := req.PathValue("id")
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.links {
		for _, p := range l.Payments {
			if p["id"] != pid || l.Account != a.KeyID {
				continue
			}
			if in.Amount < 1 || in.Amount > p["amount"].(int64)-p["amount_refunded"].(int64) {
				rzpError(w, http.StatusBadRequest, "BAD_REQUEST_ERROR", "The refund amount provided is greater than amount captured")
				return
			}
			p["amount_refunded"] = p["amount_refunded"].(int64) + in.Amount
			rf := map[string]any{"id": r.id("rfnd"), "entity": "refund", "amount": in.Amount, "currency": p["currency"], "payment_id": pid,
				"status": "pending", "speed_processed": "normal", "created_at": r.now().Unix()}
			r.refunds[rf["id"].(string)] = rf
			writeJSON(w, http.StatusOK, rf)
			return
		}
	}
	rzpError(w, http.StatusBadRequest, "BAD_REQUEST_ERROR", "The id provided does not exist")
}

// Pay captures a payment of amount (the link's own when 0) on a link, as a payer completing Razorpay's
// checkout does, and returns the payment_link.paid webhook body, its signature and its event id; the
// webhook is also sent to the account's WebhookURL when it has one.
func (r *Razorpay) Pay(linkID string, amount int64) (body []byte, signature, eventID string, err error) {
	r.mu.Lock()
	l, ok := r.links[linkID]
	if !ok {
		r.mu.Unlock()
		return nil, "", "", fmt.Errorf("razorpay stand-in: no payment link %s", linkID)
	}
	if l.Entity["status"] != "created" {
		r.mu.Unlock()
		return nil, "", "", fmt.Errorf("razorpay stand-in: payment link %s is %s", linkID, l.Entity["status"])
	}
	if amount == 0 {
		amount = l.Entity["amount"].(int64)
	}
	now := r.now().Unix()
	p := map[string]any{"id": r.id("pay"), "entity": "payment", "amount": amount, "currency": l.Entity["currency"], "status": "captured",
		"method": "upi", "amount_refunded": int64(0), "captured": true, "fee": amount * 2 / 100, "tax": 0,
		"notes": []any{}, "created_at": now}
	l.Payments = append(l.Payments, p)
	l.Entity["status"], l.Entity["amount_paid"] = "paid", amount
	eventID = r.id("evt")
	ev := map[string]any{"entity": "event", "account_id": "acc_loopback0001", "event": "payment_link.paid",
		"contains":   []string{"payment_link", "payment"},
		"payload":    map[string]any{"payment_link": map[string]any{"entity": l.view()}, "payment": map[string]any{"entity": p}},
		"created_at": now}
	a := r.accounts[l.Account]
	r.mu.Unlock()
	body, err = json.Marshal(ev)
	if err != nil {
		return nil, "", "", err
	}
	signature = RazorpaySign(a.WebhookSecret, body)
	if a.WebhookURL != "" {
		req, err := http.NewRequest(http.MethodPost, a.WebhookURL, bytes.NewReader(body))
		if err != nil {
			return nil, "", "", err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Razorpay-Signature", signature)
		req.Header.Set("X-Razorpay-Event-Id", eventID)
		resp, err := r.client.Do(req)
		if err != nil {
			return body, signature, eventID, fmt.Errorf("razorpay stand-in: deliver the webhook: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return body, signature, eventID, fmt.Errorf("razorpay stand-in: the webhook answered %d", resp.StatusCode)
		}
	}
	return body, signature, eventID, nil
}

// RazorpaySign is X-Razorpay-Signature for body: the hex HMAC-SHA256 keyed by the webhook secret.
func RazorpaySign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

var payPage = template.Must(template.New("pay").Parse(`<!doctype html><html><head><meta charset="utf-8"><title>Razorpay test checkout</title>
<style>body{font-family:sans-serif;max-width:32em;margin:3em auto}button{font-size:1.2em;padding:.5em 1.5em}</style></head><body>
<h1>Razorpay test checkout (loopback)</h1><p>{{.description}}</p><p><strong>{{.amount}} {{.currency}}</strong> (minor units) · status <em>{{.status}}</em></p>
{{if eq .status "created"}}<form method="post"><button type="submit">Pay with test UPI</button></form>{{else}}<p>Nothing to pay.</p>{{end}}
</body></html>`))

func (r *Razorpay) page(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	l, ok := r.links[req.PathValue("id")]
	var e map[string]any
	if ok {
		e = l.view()
	}
	r.mu.Unlock()
	if !ok {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = payPage.Execute(w, e)
}

func (r *Razorpay) payPage(w http.ResponseWriter, req *http.Request) {
	if _, _, _, err := r.Pay(req.PathValue("id"), 0); err != nil {
		http.Error(w, strings.TrimPrefix(err.Error(), "razorpay stand-in: "), http.StatusConflict)
		return
	}
	http.Redirect(w, req, req.URL.Path, http.StatusSeeOther)
}
