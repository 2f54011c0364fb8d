package notifications_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/notifications"
	"github.com/edugrid/edugrid/internal/loopback"
	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/notify"
	"github.com/edugrid/edugrid/shared/tenant"
)

// 10:00 in Kolkata.
var at = time.Date(2026, 7, 14, 4, 30, 0, 0, time.UTC)

type env struct {
	client   lungo.IClient
	svc      *notifications.Service
	db       lungo.IDatabase
	platform lungo.IDatabase
	tenant   *tenant.Tenant
	srv      *loopback.Servers
	clock    *clock.Manual
	secrets  notifications.WebhookSecrets
}

type oneTenant struct {
	t  *tenant.Tenant
	db lungo.IDatabase
}

func (o oneTenant) Get(_ context.Context, slug string) (*tenant.Tenant, error) {
	if slug != o.t.Slug {
		return nil, apperr.Errorf(apperr.NotFound, "no such tenant")
	}
	return o.t, nil
}

func (o oneTenant) Open(context.Context, *tenant.Tenant) (lungo.IDatabase, func(), error) {
	return o.db, func() {}, nil
}

// senders returns the deployment's providers over the loopback stand-ins: email, SMS through sms (msg91
// or twilio), WhatsApp.
func senders(t testing.TB, srv *loopback.Servers, sms string) map[notifications.Channel]notifications.Sender {
	t.Helper()
	c := srv.Creds
	mail, err := notifications.NewSMTP(notifications.SMTPConfig{Addr: srv.SMTPAddr, Username: c.SMTPUser, Password: c.SMTPPassword,
		From: "Sunrise Academy <no-reply@sunrise.example>", TLS: srv.ClientTLS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mail.Close)
	out := map[notifications.Channel]notifications.Sender{notifications.Email: mail,
		notifications.WhatsApp: notifications.NewWhatsApp(notifications.WhatsAppConfig{Token: c.WhatsAppToken, PhoneNumberID: c.PhoneID, BaseURL: srv.HTTPURL + "/v21.0"})}
	switch sms {
	case "msg91":
		out[notifications.SMS] = notifications.NewMSG91(notifications.MSG91Config{AuthKey: c.MSG91AuthKey, Sender: "SUNRSE", URL: srv.HTTPURL + "/api/v5/flow/"})
	case "twilio":
		out[notifications.SMS] = notifications.NewTwilio(notifications.TwilioConfig{AccountSID: c.TwilioSID, AuthToken: c.TwilioToken, From: "+15005550006", BaseURL: srv.HTTPURL})
	}
	return out
}

func newEnv(t *testing.T, sms string, only ...notifications.Channel) *env {
	t.Helper()
	return newEnvTB(t, sms, only...)
}

func newEnvTB(t testing.TB, sms string, only ...notifications.Channel) *env {
	t.Helper()
	ctx := context.Background()
	client, engine, err := lungo.Open(ctx, lungo.Options{Store: lungo.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(engine.Close)
	db := client.Database("edu_sunrise")
	if err := notifications.EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	srv, err := loopback.Start(loopback.DefaultCredentials, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	tn := &tenant.Tenant{Slug: "sunrise", Name: "Sunrise Academy", Branding: tenant.Branding{DisplayName: "Sunrise Academy", PrimaryColor: "#0055aa"},
		Settings: tenant.Settings{Timezone: "Asia/Kolkata", Currency: "INR"}}
	ss := senders(t, srv, sms)
	if len(only) > 0 {
		keep := map[notifications.Channel]notifications.Sender{}
		for _, c := range only {
			keep[c] = ss[c]
		}
		ss = keep
	}
	clk := clock.NewManual(at)
	secrets := notifications.WebhookSecrets{PublicURL: "https://api.edugrid.example", TwilioAuthToken: srv.Creds.TwilioToken,
		WhatsAppAppSecret: "meta-app-secret", WhatsAppVerifyToken: "verify-me"}
	o := oneTenant{t: tn, db: db}
	svc := notifications.New(notifications.Deps{Clock: clk, Senders: ss, Platform: client.Database("edugrid_platform"), Tenants: o, Databases: o,
		Webhooks: secrets, Retry: notifications.Retry{Attempts: 3, Base: time.Millisecond, Max: 5 * time.Millisecond}})
	return &env{client: client, svc: svc, db: db, platform: client.Database("edugrid_platform"), tenant: tn, srv: srv, clock: clk, secrets: secrets}
}

// person inserts an account to notify.
func (e *env) person(t *testing.T, id, name, email, phone string) {
	t.Helper()
	e.personTB(t, id, name, email, phone)
}

func (e *env) personTB(t testing.TB, id, name, email, phone string) {
	t.Helper()
	doc := bson.M{"_id": id, "name": name, "role": "guardian", "status": "active"}
	if email != "" {
		doc["email"] = email
	}
	if phone != "" {
		doc["phone"] = phone
	}
	if _, err := e.db.Collection(account.Collection).InsertOne(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
}

func absence(id, recipient string) notify.Notification {
	return notify.Notification{ID: id, Tenant: "sunrise", Kind: notifications.KindAbsence, Recipient: recipient,
		Subject: "Rohan was absent", Body: "Rohan was marked absent.", CreatedAt: at,
		Data: map[string]string{"student_name": "Rohan Verma", "date": "2026-07-14"}}
}

func (e *env) deliveries(t *testing.T, f notifications.DeliveryFilter) []notifications.Delivery {
	t.Helper()
	ds, err := e.svc.Deliveries(context.Background(), e.db, f, "", 200)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestEmailGoesOutOverSMTPWithTLSOnceUnderRedelivery(t *testing.T) {
	e := newEnv(t, "twilio")
	e.person(t, "g1", "Asha Verma", "asha@example.com", "")
	ctx := context.Background()
	n := absence("absence:s1:2026-07-14:g1", "g1")
	out, err := e.svc.Deliver(ctx, e.db, e.tenant, n)
	if err != nil || out != notifications.OutcomeSent {
		t.Fatalf("Deliver = %s, %v; want sent", out, err)
	}
	for range 3 { // Pub/Sub delivers at least once
		if out, err := e.svc.Deliver(ctx, e.db, e.tenant, n); err != nil || out != notifications.OutcomeDone {
			t.Fatalf("redelivery = %s, %v; want done", out, err)
		}
	}
	msgs := e.srv.Outbox.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages reached the SMTP server, want 1", len(msgs))
	}
	m := msgs[0]
	if m.To != "asha@example.com" || m.Subject != "Rohan Verma was absent on 2026-07-14" {
		t.Errorf("message to %q subject %q", m.To, m.Subject)
	}
	if !strings.Contains(m.HTML, "#0055aa") || !strings.Contains(m.HTML, "Dear Asha Verma") || !strings.Contains(m.Text, "marked absent on 2026-07-14") {
		t.Errorf("the email lacks its branding or text:\nhtml %s\ntext %s", m.HTML, m.Text)
	}
	ds := e.deliveries(t, notifications.DeliveryFilter{NotificationID: n.ID})
	if len(ds) != 1 || ds[0].Status != notifications.Sent || ds[0].Channel != notifications.Email || ds[0].ProviderID == "" || ds[0].Attempts != 1 {
		t.Fatalf("delivery log = %+v", ds)
	}
}

func TestConcurrentInstancesSendOnce(t *testing.T) {
	e := newEnv(t, "msg91")
	e.person(t, "g1", "Asha Verma", "asha@example.com", "+919812345678")
	n := absence("absence:s1:2026-07-14:g1", "g1")
	var wg sync.WaitGroup
	outcomes := make(chan notifications.Outcome, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := e.svc.Deliver(context.Background(), e.db, e.tenant, n)
			if err != nil {
				t.Error(err)
			}
			outcomes <- out
		}()
	}
	wg.Wait()
	close(outcomes)
	sent := 0
	for o := range outcomes {
		if o == notifications.OutcomeSent {
			sent++
		}
	}
	if got := e.srv.Outbox.Len(); got != 1 || sent != 1 {
		t.Fatalf("%d messages sent, %d callers reported sending; want 1 and 1", got, sent)
	}
}

func TestTransientFailuresAreRetriedPermanentOnesAreNot(t *testing.T) {
	ctx := context.Background()
	t.Run("transient then success", func(t *testing.T) {
		e := newEnv(t, "twilio", notifications.SMS)
		e.person(t, "g1", "Asha", "", "+919812345678")
		e.srv.FailNext("twilio", 2, http.StatusServiceUnavailable)
		out, err := e.svc.Deliver(ctx, e.db, e.tenant, absence("n1", "g1"))
		if err != nil || out != notifications.OutcomeSent {
			t.Fatalf("Deliver = %s, %v", out, err)
		}
		if calls := e.srv.Calls("twilio"); calls != 3 {
			t.Errorf("Twilio got %d calls, want 3", calls)
		}
		if d := e.deliveries(t, notifications.DeliveryFilter{})[0]; d.Attempts != 3 || d.Status != notifications.Sent {
			t.Errorf("delivery = %+v", d)
		}
	})
	t.Run("transient outlasts the retries", func(t *testing.T) {
		e := newEnv(t, "twilio", notifications.SMS)
		e.person(t, "g1", "Asha", "", "+919812345678")
		e.srv.FailNext("twilio", 3, http.StatusTooManyRequests)
		_, err := e.svc.Deliver(ctx, e.db, e.tenant, absence("n1", "g1"))
		if !errors.Is(err, notifications.ErrRetry) {
			t.Fatalf("Deliver error = %v, want ErrRetry so Pub/Sub redelivers", err)
		}
		d := e.deliveries(t, notifications.DeliveryFilter{})[0]
		if d.Status != notifications.Queued || !strings.Contains(d.Reason, "429") {
			t.Errorf("delivery after transient failures = %+v", d)
		}
		// The redelivery continues the same delivery.
		out, err := e.svc.Deliver(ctx, e.db, e.tenant, absence("n1", "g1"))
		if err != nil || out != notifications.OutcomeSent || e.srv.Outbox.Len() != 1 {
			t.Fatalf("redelivery = %s, %v, %d messages", out, err, e.srv.Outbox.Len())
		}
	})
	t.Run("permanent falls back to the next channel", func(t *testing.T) {
		e := newEnv(t, "twilio")
		e.person(t, "g1", "Asha", "asha@example.com", "+919812345678")
		e.srv.Refuse("asha@example.com")
		out, err := e.svc.Deliver(ctx, e.db, e.tenant, absence("n1", "g1"))
		if err != nil || out != notifications.OutcomeSent {
			t.Fatalf("Deliver = %s, %v", out, err)
		}
		if calls := e.srv.Calls("smtp"); calls != 1 {
			t.Errorf("SMTP got %d sessions, want 1: a refused recipient is never retried", calls)
		}
		email := e.deliveries(t, notifications.DeliveryFilter{Channel: notifications.Email})
		sms := e.deliveries(t, notifications.DeliveryFilter{Channel: notifications.SMS})
		if len(email) != 1 || email[0].Status != notifications.Failed || !strings.Contains(email[0].Reason, "550") {
			t.Errorf("email delivery = %+v", email)
		}
		if len(sms) != 1 || sms[0].Status != notifications.Sent || !strings.HasPrefix(sms[0].ProviderID, "SM") {
			t.Errorf("sms delivery = %+v", sms)
		}
	})
	t.Run("permanent everywhere", func(t *testing.T) {
		e := newEnv(t, "twilio", notifications.SMS)
		e.person(t, "g1", "Asha", "", "+919812345678")
		e.srv.Refuse("+919812345678")
		out, err := e.svc.Deliver(ctx, e.db, e.tenant, absence("n1", "g1"))
		if err != nil || out != notifications.OutcomeFailed {
			t.Fatalf("Deliver = %s, %v; want failed without retry", out, err)
		}
		if calls := e.srv.Calls("twilio"); calls != 1 {
			t.Errorf("Twilio got %d calls, want 1", calls)
		}
		if d := e.deliveries(t, notifications.DeliveryFilter{})[0]; d.Status != notifications.Failed || !strings.Contains(d.Reason, "21211") {
			t.Errorf("delivery = %+v", d)
		}
	})
}

func TestProvidersGetTheirDocumentedRequests(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, sms string
		channel   notifications.Channel
		provider  string
		check     func(t *testing.T, m loopback.Message)
	}{
		{"msg91 with a DLT template", "msg91", notifications.SMS, "msg91", func(t *testing.T, m loopback.Message) {
			if m.Template != "6571a2b3c4d5e6f7a8b9c0d1" || strings.Join(m.Params, ",") != "Rohan Verma,2026-07-14,Sunrise Academy" {
				t.Errorf("MSG91 got template %q params %q", m.Template, m.Params)
			}
		}},
		{"twilio with the text", "twilio", notifications.SMS, "twilio", func(t *testing.T, m loopback.Message) {
			if m.Text != "Sunrise Academy: Rohan Verma was absent on 2026-07-14. Please contact us." {
				t.Errorf("Twilio got %q", m.Text)
			}
		}},
		{"whatsapp with a template name", "", notifications.WhatsApp, "whatsapp", func(t *testing.T, m loopback.Message) {
			if m.Template != "absence_alert" || len(m.Params) != 3 || m.Params[0] != "Rohan Verma" {
				t.Errorf("WhatsApp got template %q params %q", m.Template, m.Params)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.sms, tc.channel)
			e.person(t, "g1", "Asha", "", "+91 98123 45678")
			in := notifications.TemplateInput{EmailSubject: "{{.student_name}} absent", EmailHTML: "<p>{{.student_name}}</p>",
				SMSText: "{{.institution}}: {{.student_name}} was absent on {{.date}}. Please contact us.", SMSTemplateID: "6571a2b3c4d5e6f7a8b9c0d1",
				WhatsAppTemplate: "absence_alert", WhatsAppText: "{{.student_name}} absent on {{.date}} at {{.institution}}",
				WhatsAppParams: []string{"student_name", "date", "institution"}}
			if _, err := e.svc.SaveTemplate(ctx, e.db, notifications.KindAbsence, "en", in); err != nil {
				t.Fatal(err)
			}
			out, err := e.svc.Deliver(ctx, e.db, e.tenant, absence("n1", "g1"))
			if err != nil || out != notifications.OutcomeSent {
				t.Fatalf("Deliver = %s, %v", out, err)
			}
			msgs := e.srv.Outbox.Messages()
			if len(msgs) != 1 || msgs[0].Provider != tc.provider || msgs[0].To != "+919812345678" {
				t.Fatalf("messages = %+v", msgs)
			}
			tc.check(t, msgs[0])
		})
	}
}

func TestQuietHoursWaitAndOptOuts(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "twilio", notifications.SMS)
	e.person(t, "g1", "Asha", "", "+919812345678")
	// 10:00 in Kolkata is inside 09:00-11:00.
	if _, err := e.svc.SetPreferences(ctx, e.db, "g1", notifications.PreferencesInput{QuietHours: &notifications.QuietHours{From: "09:00", To: "11:00"}, OptOuts: []string{notifications.KindReminder}}); err != nil {
		t.Fatal(err)
	}
	out, err := e.svc.Deliver(ctx, e.db, e.tenant, absence("n1", "g1"))
	if err != nil || out != notifications.OutcomeWaiting || e.srv.Outbox.Len() != 0 {
		t.Fatalf("Deliver in quiet hours = %s, %v, %d sent", out, err, e.srv.Outbox.Len())
	}
	if out, _ := e.svc.Deliver(ctx, e.db, e.tenant, absence("n1", "g1")); out != notifications.OutcomeWaiting {
		t.Fatalf("redelivery in quiet hours = %s", out)
	}
	if n, err := e.svc.SendWaiting(ctx, e.db, e.tenant, 100); err != nil || n != 0 {
		t.Fatalf("SendWaiting before the end = %d, %v", n, err)
	}
	e.clock.Advance(61 * time.Minute)
	if n, err := e.svc.SendWaiting(ctx, e.db, e.tenant, 100); err != nil || n != 1 || e.srv.Outbox.Len() != 1 {
		t.Fatalf("SendWaiting after quiet hours = %d, %v, %d sent", n, err, e.srv.Outbox.Len())
	}
	// Opted out of fee reminders: nothing is sent, nothing is logged.
	rem := notify.Notification{ID: "fees.reminder:i1:due", Tenant: "sunrise", Kind: notifications.KindReminder, Recipient: "g1", CreatedAt: at,
		Data: map[string]string{"outstanding": "450000", "currency": "INR", "due_date": "2026-07-20"}}
	if out, err := e.svc.Deliver(ctx, e.db, e.tenant, rem); err != nil || out != notifications.OutcomeNoChannel {
		t.Fatalf("opted-out reminder = %s, %v", out, err)
	}
	if e.srv.Outbox.Len() != 1 {
		t.Errorf("an opted-out reminder was sent")
	}
}

func TestPreferencesAreValidatedAndNormalised(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "")
	e.person(t, "g1", "Asha", "", "")
	p, err := e.svc.SetPreferences(ctx, e.db, "g1", notifications.PreferencesInput{Phone: "098123 45678", Email: " Asha@Example.COM ",
		Channels: []notifications.Channel{notifications.WhatsApp, notifications.WhatsApp, notifications.Email}, Language: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Phone != "+919812345678" || p.Email != "asha@example.com" || len(p.Channels) != 2 {
		t.Errorf("saved %+v", p.PreferencesInput)
	}
	for _, tc := range []struct {
		name  string
		in    notifications.PreferencesInput
		field string
	}{
		{"malformed phone", notifications.PreferencesInput{Phone: "12345"}, "phone"},
		{"letters for a phone", notifications.PreferencesInput{Phone: "call me"}, "phone"},
		{"malformed email", notifications.PreferencesInput{Email: "asha@"}, "email"},
		{"unknown channel", notifications.PreferencesInput{Channels: []notifications.Channel{"pigeon"}}, "channels"},
		{"mandatory kind", notifications.PreferencesInput{OptOuts: []string{notifications.KindAbsence}}, "opt_outs"},
		{"unknown kind", notifications.PreferencesInput{OptOuts: []string{"x"}}, "opt_outs"},
		{"quiet hours", notifications.PreferencesInput{QuietHours: &notifications.QuietHours{From: "25:00", To: "07:00"}}, "quiet_hours"},
		{"language", notifications.PreferencesInput{Language: "fr"}, "language"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.SetPreferences(ctx, e.db, "g1", tc.in)
			ae := apperr.As(err)
			if ae == nil || ae.Code != apperr.Invalid || ae.Fields[tc.field] == "" {
				t.Fatalf("SetPreferences = %v, want invalid naming %s", err, tc.field)
			}
		})
	}
	got, err := e.svc.Preferences(ctx, e.db, "g1")
	if err != nil || got.Phone != "+919812345678" {
		t.Errorf("a refused update changed the saved preferences: %+v %v", got, err)
	}
	if _, err := e.svc.Preferences(ctx, e.db, "nobody"); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("preferences of an unknown person: %v", err)
	}
}

func TestTemplatesAreValidatedAtSave(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "")
	good := notifications.TemplateInput{EmailSubject: "{{.student_name}} absent", EmailHTML: "<p>{{.student_name}} on {{.date}}</p>",
		SMSText: "{{.student_name}} absent {{.date}}", WhatsAppText: "{{.student_name}}", WhatsAppTemplate: "absence_alert", WhatsAppParams: []string{"student_name"}}
	for _, tc := range []struct {
		name  string
		edit  func(*notifications.TemplateInput)
		field string
	}{
		{"unclosed action", func(in *notifications.TemplateInput) { in.EmailSubject = "{{.student_name" }, "email_subject"},
		{"unknown field", func(in *notifications.TemplateInput) { in.SMSText = "{{.password_hash}}" }, "sms_text"},
		{"broken html", func(in *notifications.TemplateInput) { in.EmailHTML = "<p>{{if}}</p>" }, "email_html"},
		{"sms too long", func(in *notifications.TemplateInput) { in.SMSText = strings.Repeat("a", 460) }, "sms_text"},
		{"hindi sms too long", func(in *notifications.TemplateInput) { in.SMSText = strings.Repeat("क", 202) }, "sms_text"},
		{"whatsapp param", func(in *notifications.TemplateInput) { in.WhatsAppParams = []string{"nope"} }, "whatsapp_params"},
		{"whatsapp name", func(in *notifications.TemplateInput) { in.WhatsAppTemplate = "Absence Alert" }, "whatsapp_template"},
		{"missing text", func(in *notifications.TemplateInput) { in.SMSText = "" }, "sms_text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := good
			tc.edit(&in)
			_, err := e.svc.SaveTemplate(ctx, e.db, notifications.KindAbsence, "en", in)
			if ae := apperr.As(err); ae == nil || ae.Code != apperr.Invalid || ae.Fields[tc.field] == "" {
				t.Fatalf("SaveTemplate = %v, want invalid naming %s", err, tc.field)
			}
			if tpl, _ := e.svc.Template(ctx, e.db, notifications.KindAbsence, "en"); !tpl.Default {
				t.Fatal("a refused template was saved")
			}
		})
	}
	if _, err := e.svc.SaveTemplate(ctx, e.db, "attendance.nope", "en", good); apperr.CodeOf(err) != apperr.Invalid {
		t.Errorf("unknown kind: %v", err)
	}
	saved, err := e.svc.SaveTemplate(ctx, e.db, notifications.KindAbsence, "hi", good)
	if err != nil || saved.Default || saved.SMSText != good.SMSText {
		t.Fatalf("SaveTemplate = %+v, %v", saved, err)
	}
	r, err := e.svc.Preview(e.tenant, notifications.KindAbsence, notifications.TemplateInput{EmailSubject: "x", EmailHTML: "<p>{{.student_name}}</p>",
		SMSText: "{{.student_name}}", WhatsAppText: "{{.student_name}}"})
	if err != nil || !strings.Contains(r.HTML, "Rohan Verma") || !strings.Contains(r.HTML, "Sunrise Academy") {
		t.Fatalf("Preview = %+v, %v", r, err)
	}
	// Values are escaped in the email.
	e.person(t, "g1", "<b>Asha</b>", "asha@example.com", "")
	n := absence("n-escape", "g1")
	n.Data["student_name"] = "<script>alert(1)</script>"
	if _, err := e.svc.Deliver(ctx, e.db, e.tenant, n); err != nil {
		t.Fatal(err)
	}
	if m := e.srv.Outbox.Messages(); len(m) != 1 || strings.Contains(m[0].HTML, "<script>") || strings.Contains(m[0].HTML, "<b>Asha") {
		t.Errorf("the email carries unescaped values: %+v", m)
	}
}

func TestHindiDefaultsAreUsedForHindiReaders(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "twilio", notifications.SMS)
	e.person(t, "g1", "Asha", "", "+919812345678")
	if _, err := e.svc.SetPreferences(ctx, e.db, "g1", notifications.PreferencesInput{Language: "hi"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Deliver(ctx, e.db, e.tenant, absence("n1", "g1")); err != nil {
		t.Fatal(err)
	}
	if m := e.srv.Outbox.Messages(); len(m) != 1 || !strings.Contains(m[0].Text, "अनुपस्थित") {
		t.Fatalf("messages = %+v", m)
	}
}

func TestStatusCallbacksAreVerified(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "twilio", notifications.SMS)
	e.person(t, "g1", "Asha", "", "+919812345678")
	if _, err := e.svc.Deliver(ctx, e.db, e.tenant, absence("n1", "g1")); err != nil {
		t.Fatal(err)
	}
	d := e.deliveries(t, notifications.DeliveryFilter{})[0]
	form := url.Values{"MessageSid": {d.ProviderID}, "MessageStatus": {"delivered"}, "AccountSid": {e.srv.Creds.TwilioSID}}
	full := e.secrets.PublicURL + notifications.TwilioWebhookPath
	for _, sig := range []string{"", "bm90IGEgc2lnbmF0dXJl", notifications.TwilioSignature("another-token", full, form)} {
		if err := e.svc.TwilioStatus(ctx, []byte(form.Encode()), "", sig); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("forged signature %q: %v", sig, err)
		}
	}
	if got := e.deliveries(t, notifications.DeliveryFilter{})[0]; got.Status != notifications.Sent {
		t.Fatalf("a forged callback changed the delivery: %s", got.Status)
	}
	if err := e.svc.TwilioStatus(ctx, []byte(form.Encode()), "", notifications.TwilioSignature(e.secrets.TwilioAuthToken, full, form)); err != nil {
		t.Fatal(err)
	}
	if got := e.deliveries(t, notifications.DeliveryFilter{})[0]; got.Status != notifications.Delivered {
		t.Fatalf("after a signed callback the delivery is %s", got.Status)
	}
	// A late "sent" never moves it back.
	form.Set("MessageStatus", "sent")
	_ = e.svc.TwilioStatus(ctx, []byte(form.Encode()), "", notifications.TwilioSignature(e.secrets.TwilioAuthToken, full, form))
	if got := e.deliveries(t, notifications.DeliveryFilter{})[0]; got.Status != notifications.Delivered {
		t.Fatalf("a late callback moved the delivery back to %s", got.Status)
	}
}

func TestWhatsAppCallbacksAreVerified(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "", notifications.WhatsApp)
	e.person(t, "g1", "Asha", "", "+919812345678")
	if _, err := e.svc.Deliver(ctx, e.db, e.tenant, absence("n1", "g1")); err != nil {
		t.Fatal(err)
	}
	d := e.deliveries(t, notifications.DeliveryFilter{})[0]
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp",
"statuses":[{"id":"` + d.ProviderID + `","status":"failed","timestamp":"1752467400","recipient_id":"919812345678","errors":[{"code":131026,"title":"Message undeliverable"}]}]}}]}]}`)
	if err := e.svc.WhatsAppStatus(ctx, body, notifications.MetaSignature("wrong-secret", body)); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("forged: %v", err)
	}
	if err := e.svc.WhatsAppStatus(ctx, body, ""); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("unsigned: %v", err)
	}
	if got := e.deliveries(t, notifications.DeliveryFilter{})[0]; got.Status != notifications.Sent {
		t.Fatalf("a forged callback changed the delivery: %s", got.Status)
	}
	if err := e.svc.WhatsAppStatus(ctx, body, notifications.MetaSignature(e.secrets.WhatsAppAppSecret, body)); err != nil {
		t.Fatal(err)
	}
	got := e.deliveries(t, notifications.DeliveryFilter{})[0]
	if got.Status != notifications.Failed || !strings.Contains(got.Reason, "131026") {
		t.Fatalf("after a signed callback: %+v", got)
	}
	if c, err := e.svc.VerifyWhatsApp("subscribe", "verify-me", "12345"); err != nil || c != "12345" {
		t.Errorf("handshake = %q, %v", c, err)
	}
	if _, err := e.svc.VerifyWhatsApp("subscribe", "guess", "12345"); apperr.CodeOf(err) != apperr.Forbidden {
		t.Errorf("handshake with a wrong token: %v", err)
	}
}

func TestResendOnlyFailedDeliveries(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "twilio", notifications.SMS)
	e.person(t, "g1", "Asha", "", "+919812345678")
	e.srv.Refuse("+919812345678")
	if out, _ := e.svc.Deliver(ctx, e.db, e.tenant, absence("n1", "g1")); out != notifications.OutcomeFailed {
		t.Fatalf("Deliver = %s", out)
	}
	d := e.deliveries(t, notifications.DeliveryFilter{})[0]
	// The guardian's number is corrected; the resend goes to the new one.
	if _, err := e.svc.SetPreferences(ctx, e.db, "g1", notifications.PreferencesInput{Phone: "+919876543210"}); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Resend(ctx, e.db, e.tenant, d.ID)
	if err != nil || got.Status != notifications.Sent || got.To != "+919876543210" {
		t.Fatalf("Resend = %+v, %v", got, err)
	}
	if _, err := e.svc.Resend(ctx, e.db, e.tenant, d.ID); apperr.CodeOf(err) != apperr.Conflict {
		t.Errorf("resending a sent delivery: %v", err)
	}
	if _, err := e.svc.Resend(ctx, e.db, e.tenant, "0123456789abcdef01234567"); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("resending an unknown delivery: %v", err)
	}
}

type flaky struct {
	mu    sync.Mutex
	calls int
	err   error
}

func (f *flaky) Provider() string { return "flaky" }
func (f *flaky) Send(context.Context, notifications.Message) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return "", f.err
	}
	return "ok", nil
}

func TestCircuitBreakerStopsCallingAFailingProvider(t *testing.T) {
	clk := clock.NewManual(at)
	f := &flaky{err: notifications.Transient("down")}
	g := notifications.Guard(f, notifications.GuardConfig{Failures: 3, Cooldown: time.Minute}, clk)
	ctx := context.Background()
	for range 10 {
		_, _ = g.Send(ctx, notifications.Message{})
	}
	if f.calls != 3 {
		t.Fatalf("the provider got %d calls while failing, want 3 before the breaker opened", f.calls)
	}
	if _, err := g.Send(ctx, notifications.Message{}); notifications.IsPermanent(err) || err == nil {
		t.Fatalf("an open breaker answers %v, want a transient failure", err)
	}
	clk.Advance(time.Minute)
	f.err = nil
	if _, err := g.Send(ctx, notifications.Message{}); err != nil {
		t.Fatalf("the probe after the cooldown: %v", err)
	}
	f.err = notifications.Permanent("bad number")
	for range 5 {
		_, _ = g.Send(ctx, notifications.Message{})
	}
	if f.calls != 9 {
		t.Fatalf("permanent refusals opened the breaker: %d calls", f.calls)
	}
}

func TestResendWithoutAContactFailsAtOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "twilio", notifications.SMS)
	e.person(t, "g1", "Asha", "", "+919812345678")
	e.srv.Refuse("+919812345678")
	if out, _ := e.svc.Deliver(ctx, e.db, e.tenant, absence("n1", "g1")); out != notifications.OutcomeFailed {
		t.Fatalf("Deliver = %s", out)
	}
	d := e.deliveries(t, notifications.DeliveryFilter{})[0]
	// The number is removed from the account; a resend has nowhere to go and fails without calling Twilio.
	if _, err := e.db.Collection(account.Collection).UpdateOne(ctx, bson.M{"_id": "g1"}, bson.M{"$unset": bson.M{"phone": ""}}); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Resend(ctx, e.db, e.tenant, d.ID)
	if err != nil || got.Status != notifications.Failed || !strings.Contains(got.Reason, "no contact") || e.srv.Calls("twilio") != 1 {
		t.Fatalf("Resend = %+v, %v, %d calls", got, err, e.srv.Calls("twilio"))
	}
}

func TestSendWaitingIsNotBlockedByMessagesStillInQuietHours(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "twilio", notifications.SMS)
	e.person(t, "g1", "Asha", "", "+919812345678")
	e.person(t, "g2", "Bala", "", "+919876543210")
	if _, err := e.svc.SetPreferences(ctx, e.db, "g1", notifications.PreferencesInput{QuietHours: &notifications.QuietHours{From: "09:00", To: "11:00"}}); err != nil {
		t.Fatal(err)
	}
	if out, _ := e.svc.Deliver(ctx, e.db, e.tenant, absence("n1", "g1")); out != notifications.OutcomeWaiting {
		t.Fatalf("g1 = %s", out)
	}
	e.srv.FailNext("twilio", 3, http.StatusBadGateway)
	if _, err := e.svc.Deliver(ctx, e.db, e.tenant, absence("n2", "g2")); !errors.Is(err, notifications.ErrRetry) {
		t.Fatalf("g2 = %v", err)
	}
	// One at a time: the delivery still waiting for quiet hours to end must not take the only slot.
	if n, err := e.svc.SendWaiting(ctx, e.db, e.tenant, 1); err != nil || n != 1 {
		t.Fatalf("SendWaiting = %d, %v; want g2's delivery sent", n, err)
	}
	if m := e.srv.Outbox.Messages(); len(m) != 1 || m[0].To != "+919876543210" {
		t.Fatalf("messages = %+v", m)
	}
}

func TestInstitutionChoosesItsChannels(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "twilio")
	e.person(t, "g1", "Asha", "asha@example.com", "+919812345678")
	st, err := e.svc.Settings(ctx, e.db)
	if err != nil || !st.Default || len(st.Channels) != 3 || len(st.Available) != 3 {
		t.Fatalf("default settings = %+v, %v", st, err)
	}
	for _, bad := range [][]notifications.Channel{nil, {}, {"fax"}} {
		if _, err := e.svc.SetSettings(ctx, e.db, notifications.SettingsInput{Channels: bad}); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("SetSettings(%v) = %v", bad, err)
		}
	}
	if _, err := e.svc.SetSettings(ctx, e.db, notifications.SettingsInput{Channels: []notifications.Channel{notifications.SMS, notifications.SMS}}); err != nil {
		t.Fatal(err)
	}
	// Email comes first in the guardian's order, but the institution sends by SMS only.
	if out, err := e.svc.Deliver(ctx, e.db, e.tenant, absence("n1", "g1")); err != nil || out != notifications.OutcomeSent {
		t.Fatalf("Deliver = %s, %v", out, err)
	}
	if m := e.srv.Outbox.Messages(); len(m) != 1 || m[0].Channel != "sms" {
		t.Fatalf("messages = %+v", m)
	}
}

func TestContactsAreVerifiedWithACode(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "twilio")
	e.person(t, "g1", "Asha", "asha@example.com", "+919812345678")
	if _, err := e.svc.StartVerification(ctx, e.db, e.tenant, "g1", notifications.VerifyInput{Channel: notifications.WhatsApp}); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("verifying on WhatsApp: %v", err)
	}
	v, err := e.svc.StartVerification(ctx, e.db, e.tenant, "g1", notifications.VerifyInput{Channel: notifications.SMS})
	if err != nil || v.To != "+919812345678" {
		t.Fatalf("StartVerification = %+v, %v", v, err)
	}
	if _, err := e.svc.StartVerification(ctx, e.db, e.tenant, "g1", notifications.VerifyInput{Channel: notifications.SMS}); apperr.CodeOf(err) != apperr.RateLimited {
		t.Fatalf("a second code within a minute: %v", err)
	}
	msgs := e.srv.Outbox.Messages()
	if len(msgs) != 1 || len(msgs[0].Text) < 6 {
		t.Fatalf("messages = %+v", msgs)
	}
	code := msgs[0].Text[:6]
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	if _, err := e.svc.ConfirmVerification(ctx, e.db, "g1", notifications.ConfirmInput{Channel: notifications.SMS, Code: wrong}); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("a wrong code: %v", err)
	}
	if p, _ := e.svc.Preferences(ctx, e.db, "g1"); p.PhoneVerified {
		t.Fatal("a wrong code verified the phone")
	}
	p, err := e.svc.ConfirmVerification(ctx, e.db, "g1", notifications.ConfirmInput{Channel: notifications.SMS, Code: code})
	if err != nil || !p.PhoneVerified || p.EmailVerified {
		t.Fatalf("ConfirmVerification = %+v, %v", p, err)
	}
	if _, err := e.svc.ConfirmVerification(ctx, e.db, "g1", notifications.ConfirmInput{Channel: notifications.SMS, Code: code}); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("a used code was accepted again: %v", err)
	}
	// A new number is not verified.
	p, err = e.svc.SetPreferences(ctx, e.db, "g1", notifications.PreferencesInput{Phone: "+919876543210"})
	if err != nil || p.PhoneVerified {
		t.Fatalf("after a new number: %+v, %v", p, err)
	}

	// Five wrong tries spend a code.
	e.clock.Advance(2 * time.Minute)
	if _, err := e.svc.StartVerification(ctx, e.db, e.tenant, "g1", notifications.VerifyInput{Channel: notifications.Email}); err != nil {
		t.Fatal(err)
	}
	m := e.srv.Outbox.Messages()[1]
	i := strings.Index(m.Text, "code is ")
	if m.Channel != "email" || i < 0 {
		t.Fatalf("email code message = %+v", m)
	}
	code = m.Text[i+8 : i+14]
	for range 5 {
		_, _ = e.svc.ConfirmVerification(ctx, e.db, "g1", notifications.ConfirmInput{Channel: notifications.Email, Code: "12345x"})
	}
	if _, err := e.svc.ConfirmVerification(ctx, e.db, "g1", notifications.ConfirmInput{Channel: notifications.Email, Code: code}); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("the right code after five wrong ones: %v", err)
	}
	// And codes expire.
	e.clock.Advance(2 * time.Minute)
	if _, err := e.svc.StartVerification(ctx, e.db, e.tenant, "g1", notifications.VerifyInput{Channel: notifications.Email}); err != nil {
		t.Fatal(err)
	}
	m = e.srv.Outbox.Messages()[2]
	i = strings.Index(m.Text, "code is ")
	code = m.Text[i+8 : i+14]
	e.clock.Advance(11 * time.Minute)
	if _, err := e.svc.ConfirmVerification(ctx, e.db, "g1", notifications.ConfirmInput{Channel: notifications.Email, Code: code}); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("an expired code: %v", err)
	}
}
