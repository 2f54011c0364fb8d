// Package logging builds edugrid's structured logger: JSON lines that Cloud Logging reads as structured
// entries ("severity" and "message" instead of slog's "level" and "msg"). Every entry point (the HTTP
// functions, the ingest trigger, the relay, the local stack) logs through one logger built here, so the
// shape of a log line does not depend on which binary wrote it. Request-scoped fields (request id, trace)
// are HTTP's business and are added by shared/httpapi.
package logging

import (
	"io"
	"log/slog"
)

// NewLogger returns a JSON logger writing to w records at level and above, with the top-level keys Cloud
// Logging understands: "severity" (DEBUG, INFO, WARNING, ERROR) instead of "level", "message" instead of
// "msg". Keys inside groups are the caller's data and are left alone.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.LevelKey:
				return slog.String("severity", severity(a.Value.Any().(slog.Level)))
			case slog.MessageKey:
				a.Key = "message"
			}
			return a
		},
	}))
}

// severity names l in Cloud Logging's words; levels between slog's four round down, and anything above
// error is still ERROR, so a custom level never produces a severity Cloud Logging does not know.
func severity(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	}
	return "DEBUG"
}

// ParseLevel maps debug/info/warn/error (any case) to a level, and anything else to info: a mistyped
// EDUGRID_LOG_LEVEL must not silence a service or fail its start.
func ParseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}
