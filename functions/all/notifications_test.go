package all_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/notifications"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/internal/loopback"
	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/notify"
)

// The notifications area over HTTP: one institution's delivery log is invisible to another, templates
// and contacts are checked at entry, and a provider's status callback moves a delivery only when signed.
func TestNotificationsOverHTTP(t *testing.T) {
	ctx := context.Background()
	const public = "https://api.edugrid.test"
	env := apptest.New(t, "EDUGRID_TWILIO_AUTH_TOKEN", loopback.DefaultCredentials.TwilioToken, "EDUGRID_PUBLIC_URL", public)
	env.Provision("alpha")
	env.Provision("beta")
	alpha := env.Login("alpha", "owner@alpha.test").AccessToken
	beta := env.Login("beta", "owner@beta.test").AccessToken

	// A guardian of beta, reachable by SMS only, gets an absence alert.
	db := env.TenantDB("beta")
	if _, err := db.Collection(account.Collection).InsertOne(ctx, bson.M{"_id": "guardian-beta-1", "name": "Asha", "phone": "+919812345678", "role": "guardian", "status": "active"}); err != nil {
		t.Fatal(err)
	}
	tn, err := env.Registry().Get(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	n := notify.Notification{ID: "absence:s1:2026-06-01:guardian-beta-1", Tenant: "beta", Kind: notifications.KindAbsence, Recipient: "guardian-beta-1",
		CreatedAt: apptest.Start, Data: map[string]string{"student_name": "Rohan", "date": "2026-06-01"}}
	if out, err := env.Services.Notifications.Deliver(ctx, db, tn, n); err != nil || out != notifications.OutcomeSent {
		t.Fatalf("Deliver = %s, %v", out, err)
	}
	if m := env.Loopback.Outbox.Messages(); len(m) != 1 || m[0].Provider != "twilio" {
		t.Fatalf("stand-in messages = %+v", m)
	}

	page := apptest.Call[httpapi.Page[notifications.Delivery]](t, env, "GET", "/notifications/deliveries?channel=sms", beta, nil, http.StatusOK)
	if len(page.Items) != 1 || page.Items[0].Status != notifications.Sent {
		t.Fatalf("beta's delivery log = %+v", page.Items)
	}
	d := page.Items[0]
	if got := apptest.Call[httpapi.Page[notifications.Delivery]](t, env, "GET", "/notifications/deliveries", alpha, nil, http.StatusOK); len(got.Items) != 0 {
		t.Fatalf("alpha sees beta's deliveries: %+v", got.Items)
	}
	apptest.MustProblem(t, env.Do("GET", "/notifications/deliveries/"+d.ID, alpha, nil), http.StatusNotFound, "not_found")
	apptest.MustProblem(t, env.Do("POST", "/notifications/deliveries/"+d.ID+"/resend", alpha, nil), http.StatusNotFound, "not_found")
	apptest.MustProblem(t, env.Do("POST", "/notifications/deliveries/"+d.ID+"/resend", beta, nil), http.StatusConflict, "conflict")
	apptest.MustProblem(t, env.Do("GET", "/notifications/people/guardian-beta-1/preferences", alpha, nil), http.StatusNotFound, "not_found")
	apptest.MustProblem(t, env.Do("GET", "/notifications/deliveries?status=lost", beta, nil), http.StatusBadRequest, "invalid")

	// Twilio's status callback: forged ones change nothing; a signed one marks the delivery delivered.
	form := url.Values{"MessageSid": {d.ProviderID}, "MessageStatus": {"delivered"}, "AccountSid": {loopback.DefaultCredentials.TwilioSID}}
	callback := func(signature string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/notifications/webhooks/twilio", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", signature)
		rec := httptest.NewRecorder()
		env.Handler.ServeHTTP(rec, req)
		return rec
	}
	apptest.MustProblem(t, callback(notifications.TwilioSignature("guessed", public+notifications.TwilioWebhookPath, form)), http.StatusForbidden, "forbidden")
	if got := apptest.Call[notifications.Delivery](t, env, "GET", "/notifications/deliveries/"+d.ID, beta, nil, http.StatusOK); got.Status != notifications.Sent {
		t.Fatalf("a forged callback moved the delivery to %s", got.Status)
	}
	if rec := callback(notifications.TwilioSignature(loopback.DefaultCredentials.TwilioToken, public+notifications.TwilioWebhookPath, form)); rec.Code != http.StatusNoContent {
		t.Fatalf("a signed callback answered %d %s", rec.Code, rec.Body)
	}
	if got := apptest.Call[notifications.Delivery](t, env, "GET", "/notifications/deliveries/"+d.ID, beta, nil, http.StatusOK); got.Status != notifications.Delivered {
		t.Fatalf("after a signed callback the delivery is %s", got.Status)
	}

	// Templates: a broken one is refused at save, a good one is kept and previewed in the branding.
	bad := map[string]any{"email_subject": "{{.student_name", "email_html": "<p>x</p>", "sms_text": "", "whatsapp_text": "x"}
	p := apptest.MustProblem(t, env.Do("PUT", "/notifications/templates/attendance.absence/en", beta, bad), http.StatusBadRequest, "invalid")
	if p.FieldCode("email_subject") != "invalid" || p.FieldCode("sms_text") != "required" {
		t.Errorf("the refusal does not name both bad fields with their codes: %+v", p)
	}
	good := map[string]any{"email_subject": "{{.student_name}} absent", "email_html": "<p>{{.student_name}} on {{.date}}</p>",
		"sms_text": "{{.student_name}} absent on {{.date}}", "whatsapp_text": "{{.student_name}}", "whatsapp_template": "absence_alert", "whatsapp_params": []string{"student_name"}}
	if tpl := apptest.Call[notifications.Template](t, env, "PUT", "/notifications/templates/attendance.absence/hi", beta, good, http.StatusOK); tpl.Default {
		t.Error("the saved template reads as the default")
	}
	if tpl := apptest.Call[notifications.Template](t, env, "GET", "/notifications/templates/attendance.absence/hi", alpha, nil, http.StatusOK); !tpl.Default {
		t.Error("alpha reads beta's template")
	}
	if r := apptest.Call[notifications.Rendered](t, env, "POST", "/notifications/templates/attendance.absence/preview", beta, good, http.StatusOK); !strings.Contains(r.HTML, "Rohan Verma") {
		t.Errorf("preview = %+v", r)
	}

	// Contacts are checked at entry and kept in E.164.
	p = apptest.MustProblem(t, env.Do("PUT", "/notifications/me/preferences", beta, map[string]any{"phone": "not a number"}), http.StatusBadRequest, "invalid")
	if p.FieldCode("phone") != "format" {
		t.Errorf("the refusal does not name phone: %+v", p)
	}
	prefs := apptest.Call[notifications.Preferences](t, env, "PUT", "/notifications/me/preferences", beta, map[string]any{"phone": "098123 45678", "language": "hi"}, http.StatusOK)
	if prefs.Phone != "+919812345678" {
		t.Errorf("phone stored as %q", prefs.Phone)
	}
}
