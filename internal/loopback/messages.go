package loopback

import (
	"encoding/json"
	"html/template"
	"net/http"
	"slices"
)

// MessagesHandler serves the outbox, newest first: GET /dev/messages as JSON ({"messages":[...]}; ?channel=
// email|sms|whatsapp narrows it) and GET /dev/messages.html as a page for a person. Local stack only.
func (s *Servers) MessagesHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /dev/messages", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"messages": s.newestFirst(r.URL.Query().Get("channel"))})
	})
	mux.HandleFunc("GET /dev/messages.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, map[string]any{"Messages": s.newestFirst(r.URL.Query().Get("channel")), "Channel": r.URL.Query().Get("channel")})
	})
	return mux
}

func (s *Servers) newestFirst(channel string) []Message {
	all := s.Outbox.Messages()
	slices.Reverse(all)
	out := make([]Message, 0, len(all))
	for _, m := range all {
		if channel == "" || m.Channel == channel {
			out = append(out, m)
		}
	}
	return out
}

var page = template.Must(template.New("messages").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edugrid: messages sent</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}th{background:#f4f4f5}
.body{white-space:pre-wrap;max-width:50rem}details summary{cursor:pointer;color:#2563eb}</style></head>
<body><h1>Messages sent by the local stack</h1>
<p>Every message the provider stand-ins accepted, newest first ({{len .Messages}}).
Show: <a href="?">all</a> · <a href="?channel=email">email</a> · <a href="?channel=sms">SMS</a> · <a href="?channel=whatsapp">WhatsApp</a>
· <a href="/dev/messages{{if .Channel}}?channel={{.Channel}}{{end}}">JSON</a></p>
<table><tr><th>#</th><th>at (UTC)</th><th>channel</th><th>provider</th><th>to</th><th>message</th></tr>
{{range .Messages}}<tr><td>{{.Seq}}</td><td>{{.At.Format "2006-01-02 15:04:05"}}</td><td>{{.Channel}}</td><td>{{.Provider}}<br><small>{{.ProviderID}}</small></td><td>{{.To}}</td>
<td class="body">{{if .Subject}}<strong>{{.Subject}}</strong>
{{end}}{{.Text}}{{if .HTML}}<details><summary>HTML</summary><iframe sandbox srcdoc="{{.HTML}}" style="width:100%;height:20rem;border:1px solid #ddd"></iframe></details>{{end}}</td></tr>
{{else}}<tr><td colspan="6">Nothing sent yet. Mark a student absent or run <code>curl -X POST localhost:8080/reminders/run</code>.</td></tr>{{end}}
</table></body></html>`))
