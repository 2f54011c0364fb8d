package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

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
