package loopback

import (
	"github.com/edugrid/edugrid/functions/notifications"
)

// Senders returns notification providers that send to these stand-ins: email over SMTP with STARTTLS,
// SMS through sms ("msg91" or "twilio"), WhatsApp through the Cloud API.
func (s *Servers) Senders(sms string) (map[notifications.Channel]notifications.Sender, error) {
	c := s.Creds
	mail, err := notifications.NewSMTP(notifications.SMTPConfig{Addr: s.SMTPAddr, Username: c.SMTPUser, Password: c.SMTPPassword,
		From: "edugrid <no-reply@edugrid.local>", TLS: s.ClientTLS})
	if err != nil {
		return nil, err
	}
	out := map[notifications.Channel]notifications.Sender{
		notifications.Email: mail,
		notifications.WhatsApp: notifications.NewWhatsApp(notifications.WhatsAppConfig{Token: c.WhatsAppToken, PhoneNumberID: c.PhoneID,
			BaseURL: s.HTTPURL + "/v21.0"}),
	}
	if sms == "twilio" {
		out[notifications.SMS] = notifications.NewTwilio(notifications.TwilioConfig{AccountSID: c.TwilioSID, AuthToken: c.TwilioToken,
			From: "+15005550006", BaseURL: s.HTTPURL})
	} else {
		out[notifications.SMS] = notifications.NewMSG91(notifications.MSG91Config{AuthKey: c.MSG91AuthKey, Sender: "EDUGRD",
			URL: s.HTTPURL + "/api/v5/flow/"})
	}
	return out, nil
}
