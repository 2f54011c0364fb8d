package notifications

import (
	"io"
	"net/http"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// Routes is the notifications area's route table.
func (s *Service) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/deliveries", Permission: rbac.NotificationsRead, Summary: "The delivery log, newest first: one row per notification and channel",
			Response: httpapi.Page[Delivery]{}, Handler: s.handleDeliveries,
			Query: append([]httpapi.QueryParam{
				{Name: "status", Description: "queued, sent, delivered or failed"},
				{Name: "channel", Description: "email, sms or whatsapp"},
				{Name: "kind", Description: "the notification kind, e.g. attendance.absence"},
				{Name: "recipient", Description: "the recipient's account id"},
				{Name: "notification", Description: "one notification's id"},
			}, httpapi.PageQuery...)},
		{Method: "GET", Path: "/deliveries/{id}", Permission: rbac.NotificationsRead, Summary: "One delivery",
			Response: Delivery{}, Handler: s.handleDelivery},
		{Method: "POST", Path: "/deliveries/{id}/resend", Permission: rbac.NotificationsWrite,
			Summary:  "Send a failed delivery again on its channel, to the recipient's current contact (409 unless it failed)",
			Response: Delivery{}, Handler: s.handleResend},
		{Method: "GET", Path: "/templates/{kind}/{language}", Permission: rbac.NotificationsRead,
			Summary:  "The template a kind uses in a language: the institution's, else the built-in default",
			Response: Template{}, Handler: s.handleTemplate},
		{Method: "PUT", Path: "/templates/{kind}/{language}", Permission: rbac.NotificationsWrite,
			Summary: "Replace the institution's template for a kind and language; refused unless every text renders within its channel's length",
			Request: TemplateInput{}, Response: Template{}, Handler: s.handleSaveTemplate},
		{Method: "POST", Path: "/templates/{kind}/preview", Permission: rbac.NotificationsRead,
			Summary: "Render a template with sample values in the institution's branding, without saving it",
			Request: TemplateInput{}, Response: Rendered{}, Handler: s.handlePreview},
		{Method: "GET", Path: "/settings", Permission: rbac.NotificationsRead,
			Summary:  "The channels the institution sends on, and those the deployment offers",
			Response: Settings{}, Handler: s.handleSettings},
		{Method: "PUT", Path: "/settings", Permission: rbac.NotificationsWrite,
			Summary: "Choose the channels the institution sends on (at least one)",
			Request: SettingsInput{}, Response: Settings{}, Handler: s.handleSetSettings},
		{Method: "GET", Path: "/me/preferences", Permission: rbac.Self, Summary: "How the caller is reached",
			Response: Preferences{}, Handler: s.handleMyPreferences},
		{Method: "PUT", Path: "/me/preferences", Permission: rbac.Self,
			Summary: "Set how the caller is reached: channel order, opt-outs, quiet hours, language, contacts (phone in E.164)",
			Request: PreferencesInput{}, Response: Preferences{}, Handler: s.handleSetMyPreferences},
		{Method: "POST", Path: "/me/contacts/verify", Permission: rbac.Self,
			Summary: "Send a six-digit code to the caller's email address or phone number (one a minute; it lives 10 minutes)",
			Request: VerifyInput{}, Response: Verification{}, Handler: s.handleVerify},
		{Method: "POST", Path: "/me/contacts/confirm", Permission: rbac.Self,
			Summary: "Confirm a contact with the code sent to it (5 tries); answers the caller's preferences",
			Request: ConfirmInput{}, Response: Preferences{}, Handler: s.handleConfirm},
		{Method: "GET", Path: "/people/{id}/preferences", Permission: rbac.NotificationsWrite, Summary: "How a person of the institution is reached",
			Response: Preferences{}, Handler: s.handlePreferences},
		{Method: "PUT", Path: "/people/{id}/preferences", Permission: rbac.NotificationsWrite, Summary: "Set how a person of the institution is reached",
			Request: PreferencesInput{}, Response: Preferences{}, Handler: s.handleSetPreferences},
		{Method: "POST", Path: "/webhooks/twilio", Permission: rbac.Public,
			Summary: "Twilio's status callback (form body, X-Twilio-Signature); a forged one is refused and changes nothing",
			Status:  http.StatusNoContent, Handler: s.handleTwilio, Errors: []apperr.Code{apperr.Forbidden}},
		{Method: "POST", Path: "/webhooks/whatsapp", Permission: rbac.Public,
			Summary: "WhatsApp Cloud API's status webhook (X-Hub-Signature-256); a forged one is refused and changes nothing",
			Status:  http.StatusNoContent, Handler: s.handleWhatsApp, Errors: []apperr.Code{apperr.Forbidden}},
		{Method: "GET", Path: "/webhooks/whatsapp", Permission: rbac.Public,
			Summary: "Meta's webhook subscription handshake (hub.mode, hub.verify_token, hub.challenge)",
			Query:   []httpapi.QueryParam{{Name: "hub.mode"}, {Name: "hub.verify_token"}, {Name: "hub.challenge"}},
			Handler: s.handleWhatsAppVerify, Errors: []apperr.Code{apperr.Forbidden}},
	}
}

// Area returns the notifications area's HTTP handler, served with opts.
func (s *Service) Area(opts httpapi.Options) *httpapi.Area {
	return httpapi.NewArea("notifications", s.Routes(), opts)
}

func (s *Service) handleDeliveries(w http.ResponseWriter, r *http.Request) error {
	pr, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := DeliveryFilter{Status: Status(q.Get("status")), Channel: Channel(q.Get("channel")), Kind: q.Get("kind"),
		Recipient: q.Get("recipient"), NotificationID: q.Get("notification")}
	ds, err := s.Deliveries(r.Context(), store.Database(r.Context()), f, pr.After, pr.Limit)
	if err != nil {
		return err
	}
	return httpapi.Reply(w, http.StatusOK, httpapi.NewPage(ds, pr.Limit, func(d Delivery) string { return d.ID }), nil)
}

func (s *Service) handleDelivery(w http.ResponseWriter, r *http.Request) error {
	d, err := s.DeliveryByID(r.Context(), store.Database(r.Context()), r.PathValue("id"))
	return httpapi.Reply(w, http.StatusOK, d, err)
}

func (s *Service) handleResend(w http.ResponseWriter, r *http.Request) error {
	d, err := s.Resend(r.Context(), store.Database(r.Context()), tenant.FromContext(r.Context()), r.PathValue("id"))
	return httpapi.Reply(w, http.StatusOK, d, err)
}

func (s *Service) handleTemplate(w http.ResponseWriter, r *http.Request) error {
	t, err := s.Template(r.Context(), store.Database(r.Context()), r.PathValue("kind"), r.PathValue("language"))
	return httpapi.Reply(w, http.StatusOK, t, err)
}

func (s *Service) handleSaveTemplate(w http.ResponseWriter, r *http.Request) error {
	var in TemplateInput
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	t, err := s.SaveTemplate(r.Context(), store.Database(r.Context()), r.PathValue("kind"), r.PathValue("language"), in)
	return httpapi.Reply(w, http.StatusOK, t, err)
}

func (s *Service) handlePreview(w http.ResponseWriter, r *http.Request) error {
	var in TemplateInput
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	out, err := s.Preview(tenant.FromContext(r.Context()), r.PathValue("kind"), in)
	return httpapi.Reply(w, http.StatusOK, out, err)
}

func (s *Service) handleSettings(w http.ResponseWriter, r *http.Request) error {
	st, err := s.Settings(r.Context(), store.Database(r.Context()))
	return httpapi.Reply(w, http.StatusOK, st, err)
}

func (s *Service) handleSetSettings(w http.ResponseWriter, r *http.Request) error {
	var in SettingsInput
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	st, err := s.SetSettings(r.Context(), store.Database(r.Context()), in)
	return httpapi.Reply(w, http.StatusOK, st, err)
}

// caller returns the caller's account id on a tenant route.
func caller(r *http.Request) (string, error) {
	p, ok := rbac.FromContext(r.Context())
	if !ok || p.Tenant == "" {
		return "", apperr.Errorf(apperr.NotFound, "platform admins have no notification preferences")
	}
	return p.Subject, nil
}

func (s *Service) handleMyPreferences(w http.ResponseWriter, r *http.Request) error {
	who, err := caller(r)
	if err != nil {
		return err
	}
	p, err := s.Preferences(r.Context(), store.Database(r.Context()), who)
	return httpapi.Reply(w, http.StatusOK, p, err)
}

func (s *Service) handleSetMyPreferences(w http.ResponseWriter, r *http.Request) error {
	who, err := caller(r)
	if err != nil {
		return err
	}
	var in PreferencesInput
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	p, err := s.SetPreferences(r.Context(), store.Database(r.Context()), who, in)
	return httpapi.Reply(w, http.StatusOK, p, err)
}

func (s *Service) handleVerify(w http.ResponseWriter, r *http.Request) error {
	who, err := caller(r)
	if err != nil {
		return err
	}
	var in VerifyInput
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	v, err := s.StartVerification(r.Context(), store.Database(r.Context()), tenant.FromContext(r.Context()), who, in)
	return httpapi.Reply(w, http.StatusOK, v, err)
}

func (s *Service) handleConfirm(w http.ResponseWriter, r *http.Request) error {
	who, err := caller(r)
	if err != nil {
		return err
	}
	var in ConfirmInput
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	p, err := s.ConfirmVerification(r.Context(), store.Database(r.Context()), who, in)
	return httpapi.Reply(w, http.StatusOK, p, err)
}

func (s *Service) handlePreferences(w http.ResponseWriter, r *http.Request) error {
	p, err := s.Preferences(r.Context(), store.Database(r.Context()), r.PathValue("id"))
	return httpapi.Reply(w, http.StatusOK, p, err)
}

func (s *Service) handleSetPreferences(w http.ResponseWriter, r *http.Request) error {
	var in PreferencesInput
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	p, err := s.SetPreferences(r.Context(), store.Database(r.Context()), r.PathValue("id"), in)
	return httpapi.Reply(w, http.StatusOK, p, err)
}

func rawBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, &apperr.Error{Code: apperr.TooLarge, Message: "the callback is too large"}
	}
	return b, nil
}

func (s *Service) handleTwilio(w http.ResponseWriter, r *http.Request) error {
	raw, err := rawBody(r)
	if err != nil {
		return err
	}
	if err := s.TwilioStatus(r.Context(), raw, r.URL.RawQuery, r.Header.Get("X-Twilio-Signature")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) handleWhatsApp(w http.ResponseWriter, r *http.Request) error {
	raw, err := rawBody(r)
	if err != nil {
		return err
	}
	if err := s.WhatsAppStatus(r.Context(), raw, r.Header.Get("X-Hub-Signature-256")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) handleWhatsAppVerify(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	challenge, err := s.VerifyWhatsApp(q.Get("hub.mode"), q.Get("hub.verify_token"), q.Get("hub.challenge"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err = io.WriteString(w, challenge)
	return err
}
