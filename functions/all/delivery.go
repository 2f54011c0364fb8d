package all

import (
	"log/slog"

	"github.com/edugrid/edugrid/functions/notifications"
	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/config"
	"github.com/edugrid/edugrid/triggers/delivery"
)

// Senders returns the notification providers cfg configures, each behind notifications.DefaultGuard (a
// rate limit and a circuit breaker per provider and instance). A provider missing any credential is left
// out; a channel without a provider is not offered. The Twilio status callback goes to cfg.PublicURL.
func Senders(cfg config.Delivery, a *app.App) map[notifications.Channel]notifications.Sender {
	out := map[notifications.Channel]notifications.Sender{}
	guard := func(s notifications.Sender) notifications.Sender {
		return notifications.Guard(s, notifications.DefaultGuard, a.Clock)
	}
	if cfg.SMTPAddr != "" && cfg.SMTPFrom != "" {
		s, err := notifications.NewSMTP(notifications.SMTPConfig{Addr: cfg.SMTPAddr, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword, From: cfg.SMTPFrom})
		if err != nil {
			a.Logger.Error("email is not configured correctly; no email is sent", slog.String("error", err.Error()))
		} else {
			out[notifications.Email] = guard(s)
		}
	}
	msg91 := cfg.MSG91AuthKey != "" && cfg.MSG91Sender != ""
	twilio := cfg.TwilioAccountSID != "" && cfg.TwilioAuthToken != "" && cfg.TwilioFrom != ""
	switch {
	case msg91 && (cfg.SMSProvider == "msg91" || !twilio):
		out[notifications.SMS] = guard(notifications.NewMSG91(notifications.MSG91Config{AuthKey: cfg.MSG91AuthKey, Sender: cfg.MSG91Sender}))
	case twilio:
		callback := ""
		if cfg.PublicURL != "" {
			callback = cfg.PublicURL + notifications.TwilioWebhookPath
		}
		out[notifications.SMS] = guard(notifications.NewTwilio(notifications.TwilioConfig{AccountSID: cfg.TwilioAccountSID,
			AuthToken: cfg.TwilioAuthToken, From: cfg.TwilioFrom, StatusCallback: callback}))
	}
	if cfg.WhatsAppToken != "" && cfg.WhatsAppPhoneNumberID != "" {
		out[notifications.WhatsApp] = guard(notifications.NewWhatsApp(notifications.WhatsAppConfig{Token: cfg.WhatsAppToken, PhoneNumberID: cfg.WhatsAppPhoneNumberID}))
	}
	return out
}

func webhookSecrets(cfg config.Delivery) notifications.WebhookSecrets {
	return notifications.WebhookSecrets{PublicURL: cfg.PublicURL, TwilioAuthToken: cfg.TwilioAuthToken,
		WhatsAppAppSecret: cfg.WhatsAppAppSecret, WhatsAppVerifyToken: cfg.WhatsAppVerifyToken}
}

func newNotifications(a *app.App, senders map[notifications.Channel]notifications.Sender) *notifications.Service {
	if senders == nil {
		senders = Senders(a.Config.Delivery, a)
	}
	return notifications.New(notifications.Deps{Clock: a.Clock, Logger: a.Logger, Senders: senders, Platform: a.Platform,
		Tenants: a.Registry, Databases: a.Databases, Webhooks: webhookSecrets(a.Config.Delivery)})
}

// newDelivery builds the delivery trigger over a's registry and databases.
func newDelivery(a *app.App, n *notifications.Service) *delivery.Handler {
	return delivery.New(delivery.Deps{Notifications: n, Tenants: a.Registry, Databases: a.Databases, Logger: a.Logger})
}
