package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
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

func TestNewLogger(t *testing.T) {
	tests := []struct {
		level    slog.Level
		log      func(l *slog.Logger)
		severity string // "" = filtered out
	}{
		{slog.LevelInfo, func(l *slog.Logger) { l.Info("hello", "k", "v") }, "INFO"},
		{slog.LevelInfo, func(l *slog.Logger) { l.Warn("hello", "k", "v") }, "WARNING"},
		{slog.LevelInfo, func(l *slog.Logger) { l.Error("hello", "k", "v") }, "ERROR"},
		{slog.LevelInfo, func(l *slog.Logger) { l.Debug("hello", "k", "v") }, ""},
		{slog.LevelDebug, func(l *slog.Logger) { l.Debug("hello", "k", "v") }, "DEBUG"},
		{slog.LevelInfo, func(l *slog.Logger) { l.Log(context.Background(), slog.LevelError+4, "hello", "k", "v") }, "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.severity, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(NewLogger(&buf, tt.level))
			if tt.severity == "" {
				if buf.Len() != 0 {
					t.Fatalf("a record below the level was written: %s", buf.String())
				}
				return
			}
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("log line %q: %v", buf.String(), err)
			}
			if line["severity"] != tt.severity || line["message"] != "hello" || line["k"] != "v" {
				t.Errorf("line = %v, want severity %s, message hello, k v", line, tt.severity)
			}
			for _, key := range []string{"level", "msg"} {
				if _, ok := line[key]; ok {
					t.Errorf("line has %q, which Cloud Logging does not read: %v", key, line)
				}
			}
		})
	}
}

// Only top-level keys are renamed: a caller's own "level" or "msg" inside a group is data.
func TestNewLoggerKeepsGroupedKeys(t *testing.T) {
	var buf bytes.Buffer
	NewLogger(&buf, slog.LevelInfo).Info("fee reminder", slog.Group("policy", slog.String("level", "overdue"), slog.String("msg", "pay")))
	var line struct {
		Policy map[string]string `json:"policy"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	if line.Policy["level"] != "overdue" || line.Policy["msg"] != "pay" {
		t.Fatalf("grouped attributes = %v, want them unchanged", line.Policy)
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{
		"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
		"ERROR": slog.LevelError, "": slog.LevelInfo, "verbose": slog.LevelInfo,
	} {
		if got := ParseLevel(in); got != want {
			t.Errorf("ParseLevel(%q) = %v, want %v", in, got, want)
		}
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
	l := NewLogger(&buf, slog.LevelInfo)
	if Logger(context.Background()) != slog.Default() {
		t.Error("Logger without one in the context is not slog.Default")
	}
	Logger(WithLogger(context.Background(), l)).Info("mine")
	if !strings.Contains(buf.String(), `"message":"mine"`) {
		t.Errorf("Logger did not return the context's logger; got %q", buf.String())
	}
}
