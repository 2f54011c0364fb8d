package httpapi

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/edugrid/edugrid/shared/apperr"
)

// CORS says which browser origins may call the API (Cross-Origin Resource Sharing). An origin is
// allowed when it is one of Origins, when AllowLoopback is set and it is http on localhost or 127.0.0.1
// (any port), or when Tenants reports that an active institution lists it.
//
// Credentials mode is never enabled: the API is called with bearer tokens, not cookies, so a page on
// an allowed origin can read answers only with a token it holds. There is no wildcard either.
type CORS struct {
	// Origins are exact origins (scheme://host[:port]) as ParseOrigin accepts them.
	Origins []string
	// AllowLoopback allows any http://localhost:<port> and http://127.0.0.1:<port>. Only the local
	// stack sets it; a deployment never does.
	AllowLoopback bool
	// Tenants, when set, is consulted for origins the lists above do not allow.
	Tenants OriginChecker
}

// OriginChecker reports whether some active institution lists origin among its own web origins. A
// preflight carries no token, so the institution is unknown and the answer is over all of them; it is
// called on every cross-origin request and must answer from a warm cache. An error means the answer is
// unknown (the registry is unreachable); the request is then treated as from a disallowed origin.
type OriginChecker interface {
	OriginAllowed(ctx context.Context, origin string) (bool, error)
}

// The CORS answer's fixed parts. They list what the API reads and writes, so a browser lets a frontend
// send every header a route uses and read every header an answer carries.
const (
	corsAllowMethods = "GET, HEAD, POST, PUT, PATCH, DELETE"
	// Idempotency-Key: payments; X-Request-Id: a client's own correlation id; Traceparent: tracing.
	corsAllowHeaders  = "Authorization, Content-Type, Idempotency-Key, X-Request-Id, Traceparent"
	corsExposeHeaders = "X-Request-Id, Retry-After, WWW-Authenticate, Allow, Idempotent-Replayed"
	// CORSMaxAge is how long, in seconds, a browser may reuse a preflight answer: 2 hours, Chromium's
	// own ceiling. A withdrawn origin still loses access at once, since every actual answer is checked.
	CORSMaxAge = "7200"
)

// MaxOrigins bounds one institution's list of web origins.
const MaxOrigins = 10

// ParseOrigin checks that s is a web origin the API can allow and returns it: https with a host and an
// optional port, or http only for localhost and 127.0.0.1; lowercase, no path, query, fragment, user
// or default port, since a browser's Origin header never carries them and such an entry would never
// match. Errors are Invalid and name field.
func ParseOrigin(field, s string) (string, error) {
	bad := apperr.Field(field, apperr.FieldFormat, "must be an origin such as https://app.example.edu: https (http only for localhost or 127.0.0.1), a lowercase host, an optional port, no path")
	u, err := url.Parse(s)
	if err != nil || len(s) > 200 || s != strings.ToLower(s) || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#") {
		return "", bad
	}
	host, port := u.Hostname(), u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '0' ||
			(u.Scheme == "https" && n == 443) || (u.Scheme == "http" && n == 80) {
			return "", bad
		}
	}
	switch {
	case u.Scheme == "https" && host != "" && !strings.ContainsAny(host, "*"):
	case u.Scheme == "http" && isLoopbackHost(host):
	default:
		return "", bad
	}
	return s, nil
}

func isLoopbackHost(host string) bool { return host == "localhost" || host == "127.0.0.1" }

// isLoopbackOrigin reports whether origin is http on localhost or 127.0.0.1, with or without a port.
func isLoopbackOrigin(origin string) bool {
	rest, ok := strings.CutPrefix(origin, "http://")
	if !ok {
		return false
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		host, port = rest, ""
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	return isLoopbackHost(host)
}

// allowed reports whether origin may call the API from a browser.
func (c *CORS) allowed(ctx context.Context, origin string) bool {
	for _, o := range c.Origins {
		if o == origin {
			return true
		}
	}
	if c.AllowLoopback && isLoopbackOrigin(origin) {
		return true
	}
	if c.Tenants == nil || origin == "null" {
		return false
	}
	ok, err := c.Tenants.OriginAllowed(ctx, origin)
	if err != nil {
		Logger(ctx).Warn("cannot check the origin against the institutions' origins", slog.String("origin", origin), slog.String("error", err.Error()))
		return false
	}
	return ok
}

// serveCORS adds the CORS headers to an answer and answers a preflight itself. It reports whether the
// request is finished (a preflight); otherwise the request is served as usual. A disallowed origin gets
// no CORS header at all, so the browser refuses the page the answer; its preflight is refused with a
// 403 problem, which a browser treats like any failed preflight and a developer can read.
func (c *CORS) serveCORS(w http.ResponseWriter, r *http.Request) bool {
	// Answers differ by Origin, so a cache must never hand one origin's answer to another.
	w.Header().Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != ""
	if preflight {
		w.Header().Add("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers")
	}
	if origin == "" {
		return false
	}
	if !c.allowed(r.Context(), origin) {
		if preflight {
			WriteError(w, r, apperr.Errorf(apperr.Forbidden, "the origin %s may not call this API from a browser", origin))
		}
		return preflight
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	if !preflight {
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		return false
	}
	h.Set("Access-Control-Allow-Methods", corsAllowMethods)
	h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	h.Set("Access-Control-Max-Age", CORSMaxAge)
	w.WriteHeader(http.StatusNoContent)
	return true
}
