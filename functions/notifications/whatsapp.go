package notifications

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// WhatsAppConfig reaches Meta's WhatsApp Cloud API.
type WhatsAppConfig struct {
	// Token is a system user access token with whatsapp_business_messaging.
	Token string
	// PhoneNumberID is the business phone number's id (not the number).
	PhoneNumberID string
	// BaseURL is https://graph.facebook.com/v21.0 when "".
	BaseURL string
	Client  *http.Client
}

// WhatsAppURL is the Graph API version the sender calls.
const WhatsAppURL = "https://graph.facebook.com/v21.0"

// WhatsAppCloud sends approved template messages through the WhatsApp Cloud API.
type WhatsAppCloud struct{ cfg WhatsAppConfig }

// NewWhatsApp returns a WhatsApp Cloud API sender.
func NewWhatsApp(cfg WhatsAppConfig) *WhatsAppCloud {
	if cfg.BaseURL == "" {
		cfg.BaseURL = WhatsAppURL
	}
	if cfg.Client == nil {
		cfg.Client = providerClient()
	}
	return &WhatsAppCloud{cfg: cfg}
}

// Provider implements Sender.
func (s *WhatsAppCloud) Provider() string { return "whatsapp" }

// Send implements Sender: POST /{phone-number-id}/messages with a template message (name, language and the
// body parameters in order), answered {"messaging_product":"whatsapp","contacts":[...],"messages":[{"id":
// "wamid..."}]}. Errors come as {"error":{"message","type","code","error_subcode","fbtrace_id"}}: a 4xx is
// permanent except 429 and throttling codes (4, 80007, 130429, 131048, 131056), which are transient.
func (s *WhatsAppCloud) Send(ctx context.Context, m Message) (string, error) {
	if m.Template == "" {
		return "", Permanent("no WhatsApp template name is set for this message")
	}
	params := make([]map[string]string, len(m.Params))
	for i, p := range m.Params {
		params[i] = map[string]string{"type": "text", "text": p}
	}
	tpl := map[string]any{"name": m.Template, "language": map[string]string{"code": whatsAppLanguage(m.Language)}}
	if len(params) > 0 {
		tpl["components"] = []map[string]any{{"type": "body", "parameters": params}}
	}
	body, _ := json.Marshal(map[string]any{
		"messaging_product": "whatsapp", "recipient_type": "individual",
		"to": strings.TrimPrefix(m.To, "+"), "type": "template", "template": tpl,
	})
	endpoint := strings.TrimRight(s.cfg.BaseURL, "/") + "/" + url.PathEscape(s.cfg.PhoneNumberID) + "/messages"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return "", Permanent("the WhatsApp endpoint is misconfigured")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.cfg.Token)
	var out struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
		Error *struct {
			Message string `json:"message"`
			Code    int    `json:"code"`
		} `json:"error"`
	}
	status, err := call(s.cfg.Client, req, "WhatsApp", &out)
	if err != nil {
		return "", err
	}
	if status/100 != 2 || out.Error != nil {
		detail, code := "", 0
		if out.Error != nil {
			detail, code = fmt.Sprintf("error %d: %s", out.Error.Code, clip(out.Error.Message)), out.Error.Code
		}
		switch code {
		case 4, 80007, 130429, 131048, 131056:
			return "", Transient("WhatsApp is throttling: %s", detail)
		}
		return "", statusError("WhatsApp", status, detail)
	}
	if len(out.Messages) == 0 || out.Messages[0].ID == "" {
		return "", Transient("WhatsApp answered without a message id")
	}
	return out.Messages[0].ID, nil
}

// whatsAppLanguage maps edugrid's languages to WhatsApp template language codes.
func whatsAppLanguage(l string) string {
	if l == "hi" {
		return "hi"
	}
	return "en"
}
