package httpapi

import (
	"github.com/edugrid/edugrid/shared/logging"

	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestClientIP(t *testing.T) {
	tests := []struct {
		name   string
		remote string
		xff    []string // one entry per header line
		hops   int
		want   string
	}{
		{"no proxy uses the connection", "198.51.100.9:5123", nil, 0, "198.51.100.9"},
		{"no proxy ignores a claimed header", "198.51.100.9:5123", []string{"203.0.113.66"}, 0, "198.51.100.9"},
		{"no proxy, IPv6 connection", "[2001:db8::5]:443", nil, 0, "2001:db8::5"},
		{"one proxy", "35.191.0.1:80", []string{"203.0.113.7"}, 1, "203.0.113.7"},
		{"one proxy, spoofed entry to the left", "35.191.0.1:80", []string{"6.6.6.6, 203.0.113.7"}, 1, "203.0.113.7"},
		{"two proxies", "35.191.0.2:80", []string{"203.0.113.7, 35.191.0.1"}, 2, "203.0.113.7"},
		{"two proxies, spoofed entries", "35.191.0.2:80", []string{"1.1.1.1, 6.6.6.6, 203.0.113.7, 35.191.0.1"}, 2, "203.0.113.7"},
		{"two proxies, separate header lines", "35.191.0.2:80", []string{"6.6.6.6, 203.0.113.7", "35.191.0.1"}, 2, "203.0.113.7"},
		{"two proxies, extra spaces", "35.191.0.2:80", []string{"  203.0.113.7 ,35.191.0.1  "}, 2, "203.0.113.7"},
		{"fewer entries than hops falls back to the connection", "35.191.0.2:80", []string{"203.0.113.7"}, 2, "35.191.0.2"},
		{"header missing falls back to the connection", "35.191.0.2:80", nil, 1, "35.191.0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/auth/login", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientIP(r, tt.hops); got != tt.want {
				t.Errorf("ClientIP(hops=%d) = %q, want %q", tt.hops, got, tt.want)
			}
		})
	}
}

func TestTraceID(t *testing.T) {
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	tests := []struct {
		name, header, value, want string
	}{
		{"traceparent", "Traceparent", "00-" + id + "-00f067aa0ba902b7-01", id},
		{"cloud trace context", "X-Cloud-Trace-Context", id + "/1;o=1", id},
		{"malformed traceparent", "Traceparent", "00-abc-01", ""},
		{"short cloud trace", "X-Cloud-Trace-Context", "abc/1", ""},
		{"none", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tt.header != "" {
				r.Header.Set(tt.header, tt.value)
			}
			if got := traceID(r); got != tt.want {
				t.Errorf("traceID = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoggerFromContext(t *testing.T) {
	var buf bytes.Buffer
	l := logging.NewLogger(&buf, slog.LevelInfo)
	if Logger(context.Background()) != slog.Default() {
		t.Error("Logger without one in the context is not slog.Default")
	}
	Logger(WithLogger(context.Background(), l)).Info("mine")
	if !strings.Contains(buf.String(), `"message":"mine"`) {
		t.Errorf("Logger did not return the context's logger; got %q", buf.String())
	}
}
