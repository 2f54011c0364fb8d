package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/edugrid/edugrid/functions/payments"
	"github.com/edugrid/edugrid/internal/loopback"
	"github.com/edugrid/edugrid/internal/stripemock"
	"github.com/edugrid/edugrid/scripts/seed"
	"github.com/edugrid/edugrid/shared/clock"
)

// demoRazorpay is the demo institution's Razorpay test account at the loopback stand-in. Fixed, so a
// restart sets the same account again without rotating its webhook secret.
var demoRazorpay = loopback.RazorpayAccount{KeyID: "rzp_test_demo0000000001", KeySecret: "loopback-razorpay-secret", WebhookSecret: "loopback-razorpay-webhook"}

// gatewayStandIns are the payment gateways of the local stack: the Razorpay stand-in, and Stripe's own
// mock server when scripts/stripemock.sh has built it (otherwise Stripe requests fail to connect).
type gatewayStandIns struct {
	razorpay *loopback.Razorpay
	stripe   *stripemock.Server
}

func startGateways(ctx context.Context, logger *slog.Logger) (*gatewayStandIns, map[payments.Provider]payments.Gateway) {
	g := &gatewayStandIns{razorpay: loopback.StartRazorpay(clock.System().Now, demoRazorpay)}
	stripeURL := "http://127.0.0.1:1"
	if s, err := stripemock.Start(ctx); err == nil {
		g.stripe, stripeURL = s, s.URL
	} else {
		logger.Info("Stripe payments are off in the local stack: " + err.Error())
	}
	return g, map[payments.Provider]payments.Gateway{payments.Razorpay: payments.NewRazorpay(g.razorpay.URL), payments.Stripe: payments.NewStripe(stripeURL)}
}

func (g *gatewayStandIns) Close() {
	g.razorpay.Close()
	if g.stripe != nil {
		g.stripe.Close()
	}
}

// configureDemoGateway gives the demo institution its Razorpay test account, through the API as its owner
// would, and points the stand-in's webhooks at the stack's own webhook route.
func (g *gatewayStandIns) configureDemoGateway(h http.Handler, base, ownerEmail, password string) error {
	acc := demoRazorpay
	acc.WebhookURL = base + "/razorpay/webhooks/" + seed.DemoSlug
	g.razorpay.AddAccount(acc)
	do := func(method, path, token string, body any) (int, []byte) {
		b, _ := json.Marshal(body)
		req := httptest.NewRequest(method, path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.Bytes()
	}
	code, b := do("POST", "/auth/login", "", map[string]string{"tenant": seed.DemoSlug, "email": ownerEmail, "password": password})
	if code != http.StatusOK {
		return fmt.Errorf("sign in the demo owner: %d %s", code, b)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(b, &tok)
	code, b = do("PUT", "/payments/accounts/razorpay", tok.AccessToken, map[string]string{"mode": "test", "key_id": acc.KeyID,
		"key_secret": acc.KeySecret, "webhook_secret": acc.WebhookSecret})
	if code != http.StatusOK {
		return fmt.Errorf("set the demo institution's Razorpay account: %d %s", code, b)
	}
	return nil
}

// payPage is the local page that walks a test payment end to end: sign in, a student's dues, a payment
// request, the stand-in's checkout (which sends the signed webhook back to the stack), the receipt and
// the dues after it.
func payPage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, payHTML)
}

const payHTML = `<!doctype html><html><head><meta charset="utf-8"><title>edugrid: a test payment</title>
<style>body{font-family:sans-serif;max-width:46em;margin:2em auto;line-height:1.4}pre{background:#f4f4f4;padding:.6em;overflow:auto}
button{font-size:1em;padding:.3em 1em}input{font-size:1em}</style></head><body>
<h1>A test payment, end to end</h1>
<p>1. Sign in as the demo owner: <input id="pw" type="password" placeholder="demo password"> <button onclick="signIn()">Sign in</button></p>
<p>2. Student: <select id="student"></select> <button onclick="dues()">Show dues</button></p>
<pre id="dues"></pre>
<p>3. <button onclick="ask()">Create a payment request for everything due</button></p>
<p id="link"></p>
<p>4. Open the link, pay with test UPI; the stand-in sends Razorpay's signed webhook to this stack.
   This page then shows the request, its receipt and the dues.</p>
<pre id="status"></pre>
<script>
let token = "", req = null;
async function api(method, path, body) {
  const r = await fetch(path, {method, headers: Object.assign({"Content-Type": "application/json"}, token ? {Authorization: "Bearer " + token} : {}),
    body: body ? JSON.stringify(body) : undefined});
  const j = await r.json();
  if (!r.ok) throw new Error(r.status + " " + (j.detail || JSON.stringify(j)));
  return j;
}
async function signIn() {
  const t = await api("POST", "/auth/login", {tenant: "demo", email: "owner@demo.test", password: document.getElementById("pw").value});
  token = t.access_token;
  const page = await api("GET", "/students/?limit=20");
  document.getElementById("student").innerHTML = page.items.map(s => '<option value="' + s.id + '">' + s.name + '</option>').join("");
}
async function dues() {
  const d = await api("GET", "/fees/dues/students/" + document.getElementById("student").value);
  document.getElementById("dues").textContent = "outstanding " + d.outstanding + " " + d.currency + ", credit " + d.credit +
    "\n" + d.instalments.map(i => i.due_date + "  " + i.outstanding).join("\n");
}
async function ask() {
  try {
    req = await api("POST", "/payments/requests", {student_id: document.getElementById("student").value});
    document.getElementById("link").innerHTML = 'Payment link: <a target="_blank" href="' + req.url + '">' + req.url + '</a>';
    poll();
  } catch (e) { document.getElementById("link").textContent = e.message; }
}
async function poll() {
  const r = await api("GET", "/payments/requests/" + req.id);
  let text = "request " + r.id + ": " + r.status;
  if (r.payment_id) {
    const p = await api("GET", "/fees/payments/" + r.payment_id);
    text += "\nreceipt no. " + p.receipt_no + ", " + p.amount + " " + p.currency + " by " + p.method + " (" + p.reference + ")";
    await dues();
  }
  document.getElementById("status").textContent = text;
  if (r.status === "open") setTimeout(poll, 1000);
}
</script></body></html>`
