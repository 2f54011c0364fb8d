package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
)

type loggerKey struct{}
type requestIDKey struct{}

// Logger returns the request-scoped logger in ctx (with request id and trace), or slog.Default.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// WithLogger returns ctx carrying l.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// requestID keeps a caller's well-formed X-Request-Id so a frontend can correlate, and mints one otherwise.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); requestIDPattern.MatchString(id) {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// traceID extracts the trace id from the W3C traceparent or Google's X-Cloud-Trace-Context header.
func traceID(r *http.Request) string {
	if tp := r.Header.Get("Traceparent"); tp != "" {
		parts := strings.Split(tp, "-")
		if len(parts) == 4 && len(parts[1]) == 32 {
			return parts[1]
		}
	}
	if xc := r.Header.Get("X-Cloud-Trace-Context"); xc != "" {
		id, _, _ := strings.Cut(xc, "/")
		if len(id) == 32 {
			return id
		}
	}
	return ""
}

// ClientIP returns the caller's address. With hops trusted proxies in front (each appending the address it
// saw to X-Forwarded-For), the client is the hops-th entry from the right; entries further left are
// whatever the client claimed and are ignored. With hops 0 it is the connection's address.
func ClientIP(r *http.Request, hops int) string {
	if hops > 0 {
		var parts []string
		for _, h := range r.Header.Values("X-Forwarded-For") {
			for _, p := range strings.Split(h, ",") {
				parts = append(parts, strings.TrimSpace(p))
			}
		}
		if len(parts) >= hops {
			return parts[len(parts)-hops]
		}
	}
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}
