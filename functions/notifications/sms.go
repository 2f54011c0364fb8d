package notifications

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MSG91Config reaches MSG91's SMS API (the Flow API, https://control.msg91.com/api/v5/flow/), which sends
// a template approved on India's DLT platform: Message.Template is MSG91's template id registered against
// the DLT template id, and Params fill its variables var1, var2, ... in order.
type MSG91Config struct {
	AuthKey string
	// Sender is the DLT-registered six-character sender id.
	Sender string
	// URL is the Flow API endpoint; the documented one when "".
	URL    string
	Client *http.Client
}

// MSG91URL is MSG91's Flow API endpoint.
const MSG91URL = "https://control.msg91.com/api/v5/flow/"

// MSG91 sends SMS through MSG91.
type MSG91 struct{ cfg MSG91Config }

// NewMSG91 returns an MSG91 sender.
func NewMSG91(cfg MSG91Config) *MSG91 {
	if cfg.URL == "" {
		cfg.URL = MSG91URL
	}
	if cfg.Client == nil {
		cfg.Client = providerClient()
	}
	return &MSG91{cfg: cfg}
}

// Provider implements Sender.
func (s *MSG91) Provider() string { return "msg91" }

// Send implements Sender. MSG91 answers {"type":"success","message":"<request id>"} or
// {"type":"error","message":"..."}; an error answer with a 2xx or 4xx status is permanent.
func (s *MSG91) Send(ctx context.Context, m Message) (string, error) {
	if m.Template == "" {
		return "", Permanent("no DLT template id is set for this message")
	}
	rcpt := map[string]string{"mobiles": strings.TrimPrefix(m.To, "+")}
	for i, p := range m.Params {
		rcpt["var"+strconv.Itoa(i+1)] = p
	}
	body, _ := json.Marshal(map[string]any{
		"template_id": m.Template, "sender": s.cfg.Sender, "short_url": "0",
		"unicode": unicodeFlag(m.Text), "recipients": []map[string]string{rcpt},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return "", Permanent("the MSG91 endpoint is misconfigured")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("authkey", s.cfg.AuthKey)
	var out struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	status, err := call(s.cfg.Client, req, "MSG91", &out)
	if err != nil {
		return "", err
	}
	if status/100 != 2 {
		return "", statusError("MSG91", status, clip(out.Message))
	}
	if out.Type != "success" || out.Message == "" {
		return "", Permanent("MSG91 refused the message: %s", clip(out.Message))
	}
	return out.Message, nil
}

// providerClient is the HTTP client of one provider: a bounded time per call, and enough idle connections
// kept for the concurrent sends of an instance (net/http keeps 2 per host by default, so a burst would
// dial and shake hands with TLS for nearly every message).
func providerClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 128, 64
	return &http.Client{Timeout: 15 * time.Second, Transport: t}
}

func unicodeFlag(s string) string {
	for _, r := range s {
		if r > 0x7f {
			return "1"
		}
	}
	return "0"
}

// clip bounds a provider's message for the delivery log.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// TwilioConfig reaches Twilio's Messages API.
type TwilioConfig struct {
	AccountSID string
	AuthToken  string
	// From is the sending number (E.164) or a Messaging Service SID (MG...).
	From string
	// StatusCallback is the public URL of the Twilio status webhook; none when "".
	StatusCallback string
	// BaseURL is https://api.twilio.com when "".
	BaseURL string
	Client  *http.Client
}

// Twilio sends SMS through Twilio.
type Twilio struct{ cfg TwilioConfig }

// NewTwilio returns a Twilio sender.
func NewTwilio(cfg TwilioConfig) *Twilio {
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://api.twilio.com"
	}
	if cfg.Client == nil {
		cfg.Client = providerClient()
	}
	return &Twilio{cfg: cfg}
}

// Provider implements Sender.
func (s *Twilio) Provider() string { return "twilio" }

// Send implements Sender: POST /2010-04-01/Accounts/{sid}/Messages.json with To, From (or
// MessagingServiceSid), Body and StatusCallback, answered 201 with the message's sid. Twilio's 4xx answers
// ({"code":21211,"message":"Invalid 'To' Phone Number",...}) are permanent, except 429.
func (s *Twilio) Send(ctx context.Context, m Message) (string, error) {
	form := url.Values{"To": {m.To}, "Body": {m.Text}}
	if strings.HasPrefix(s.cfg.From, "MG") {
		form.Set("MessagingServiceSid", s.cfg.From)
	} else {
		form.Set("From", s.cfg.From)
	}
	if s.cfg.StatusCallback != "" {
		form.Set("StatusCallback", s.cfg.StatusCallback)
	}
	endpoint := strings.TrimRight(s.cfg.BaseURL, "/") + "/2010-04-01/Accounts/" + url.PathEscape(s.cfg.AccountSID) + "/Messages.json"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", Permanent("the Twilio endpoint is misconfigured")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(s.cfg.AccountSID, s.cfg.AuthToken)
	var out struct {
		SID     string `json:"sid"`
		Status  string `json:"status"`
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	status, err := call(s.cfg.Client, req, "Twilio", &out)
	if err != nil {
		return "", err
	}
	if status/100 != 2 {
		detail := clip(out.Message)
		if out.Code != 0 {
			detail = fmt.Sprintf("error %d: %s", out.Code, detail)
		}
		return "", statusError("Twilio", status, detail)
	}
	if out.SID == "" {
		return "", errors.New("twilio: answer without a message sid")
	}
	return out.SID, nil
}
