package loopback

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
)

func base64Reader(r io.Reader) io.Reader {
	return base64.NewDecoder(base64.StdEncoding, &stripNewlines{r: r})
}

type stripNewlines struct{ r io.Reader }

func (s *stripNewlines) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	j := 0
	for i := 0; i < n; i++ {
		if p[i] != '\r' && p[i] != '\n' {
			p[j] = p[i]
			j++
		}
	}
	return j, err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Servers) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v5/flow/", s.msg91)
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Messages.json", s.twilio)
	mux.HandleFunc("POST /v21.0/{phone}/messages", s.whatsapp)
	return mux
}

// msg91 answers as MSG91's Flow API: {"type":"success","message":"<request id>"}, or type error.
func (s *Servers) msg91(w http.ResponseWriter, r *http.Request) {
	if code := s.faults.take("msg91"); code != 0 {
		writeJSON(w, code, map[string]string{"type": "error", "message": "Service temporarily unavailable"})
		return
	}
	if r.Header.Get("authkey") != s.Creds.MSG91AuthKey {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"type": "error", "message": "Authentication failure"})
		return
	}
	var in struct {
		TemplateID string              `json:"template_id"`
		Sender     string              `json:"sender"`
		Recipients []map[string]string `json:"recipients"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.TemplateID == "" || len(in.Recipients) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"type": "error", "message": "template_id and recipients are required"})
		return
	}
	for _, rc := range in.Recipients {
		to := rc["mobiles"]
		if to == "" || s.faults.refuses("+"+to) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"type": "error", "message": "Invalid mobile number"})
			return
		}
	}
	reqID := randomHex(12)
	for _, rc := range in.Recipients {
		var params []string
		for i := 1; ; i++ {
			v, ok := rc["var"+strconv.Itoa(i)]
			if !ok {
				break
			}
			params = append(params, v)
		}
		s.Outbox.add(Message{Channel: "sms", Provider: "msg91", ProviderID: reqID, To: "+" + rc["mobiles"], From: in.Sender,
			Template: in.TemplateID, Params: params, Text: "template " + in.TemplateID + ": " + strings.Join(params, " | ")})
	}
	writeJSON(w, http.StatusOK, map[string]string{"type": "success", "message": reqID})
}

// twilio answers as Twilio's Messages API: 201 with the message resource, or an error resource.
func (s *Servers) twilio(w http.ResponseWriter, r *http.Request) {
	if code := s.faults.take("twilio"); code != 0 {
		writeJSON(w, code, map[string]any{"code": 20500, "message": "Internal Server Error", "status": code})
		return
	}
	sid, token, ok := r.BasicAuth()
	if !ok || sid != s.Creds.TwilioSID || token != s.Creds.TwilioToken || r.PathValue("sid") != sid {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": 21602, "message": "Message body is required.", "status": 400})
		return
	}
	to, body := r.PostForm.Get("To"), r.PostForm.Get("Body")
	if !strings.HasPrefix(to, "+") || s.faults.refuses(to) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": 21211, "message": "Invalid 'To' Phone Number: " + to,
			"more_info": "https://www.twilio.com/docs/errors/21211", "status": 400})
		return
	}
	if body == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": 21602, "message": "Message body is required.", "status": 400})
		return
	}
	msgSID := "SM" + randomHex(16)
	from := r.PostForm.Get("From")
	if from == "" {
		from = r.PostForm.Get("MessagingServiceSid")
	}
	s.Outbox.add(Message{Channel: "sms", Provider: "twilio", ProviderID: msgSID, To: to, From: from, Text: body})
	writeJSON(w, http.StatusCreated, map[string]any{"sid": msgSID, "account_sid": sid, "to": to, "from": from, "body": body,
		"status": "queued", "num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01",
		"uri": "/2010-04-01/Accounts/" + sid + "/Messages/" + msgSID + ".json"})
}

// whatsapp answers as the WhatsApp Cloud API's messages endpoint.
func (s *Servers) whatsapp(w http.ResponseWriter, r *http.Request) {
	if code := s.faults.take("whatsapp"); code != 0 {
		writeJSON(w, code, map[string]any{"error": map[string]any{"message": "Service temporarily unavailable", "type": "OAuthException", "code": 2, "fbtrace_id": randomHex(8)}})
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.Creds.WhatsAppToken || r.PathValue("phone") != s.Creds.PhoneID {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190, "fbtrace_id": randomHex(8)}})
		return
	}
	var in struct {
		Product  string `json:"messaging_product"`
		To       string `json:"to"`
		Type     string `json:"type"`
		Template struct {
			Name     string `json:"name"`
			Language struct {
				Code string `json:"code"`
			} `json:"language"`
			Components []struct {
				Type       string `json:"type"`
				Parameters []struct {
					Type string `json:"type"`
					Text string `json:"text"`
				} `json:"parameters"`
			} `json:"components"`
		} `json:"template"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Product != "whatsapp" || in.Type != "template" || in.Template.Name == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100, "fbtrace_id": randomHex(8)}})
		return
	}
	if s.faults.refuses("+" + in.To) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": "(#131026) Message undeliverable", "type": "OAuthException", "code": 131026, "fbtrace_id": randomHex(8)}})
		return
	}
	var params []string
	for _, c := range in.Template.Components {
		for _, p := range c.Parameters {
			params = append(params, p.Text)
		}
	}
	id := "wamid." + randomHex(24)
	s.Outbox.add(Message{Channel: "whatsapp", Provider: "whatsapp", ProviderID: id, To: "+" + in.To, Template: in.Template.Name,
		Params: params, Text: "template " + in.Template.Name + " (" + in.Template.Language.Code + "): " + strings.Join(params, " | ")})
	writeJSON(w, http.StatusOK, map[string]any{"messaging_product": "whatsapp",
		"contacts": []map[string]string{{"input": in.To, "wa_id": in.To}}, "messages": []map[string]string{{"id": id}}})
}
