package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/edugrid/edugrid/shared/apperr"
)

// fakeOrigins stands in for the tenant registry's union of institutions' origins.
type fakeOrigins struct {
	allowed map[string]bool
	err     error
	asked   []string
}

func (f *fakeOrigins) OriginAllowed(_ context.Context, origin string) (bool, error) {
	f.asked = append(f.asked, origin)
	return f.allowed[origin], f.err
}

func corsArea(t *testing.T, cors CORS) *Area {
	t.Helper()
	area, _ := testArea(t, &fakeAuth{principal: owner})
	return NewArea(area.Name, area.Routes, Options{Auth: area.opts.Auth, Logger: area.opts.Logger, CORS: cors})
}

func preflight(target, origin, method string) *http.Request {
	r := httptest.NewRequest(http.MethodOptions, target, nil)
	r.Header.Set("Origin", origin)
	r.Header.Set("Access-Control-Request-Method", method)
	r.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	return r
}

func TestCORSPreflight(t *testing.T) {
	tenants := &fakeOrigins{allowed: map[string]bool{"https://app.sunrise.example.edu": true}}
	configured := CORS{Origins: []string{"https://admin.edugrid.example"}, Tenants: tenants}
	local := CORS{AllowLoopback: true}
	tests := []struct {
		name    string
		cors    CORS
		origin  string
		target  string
		allowed bool
	}{
		{"configured origin", configured, "https://admin.edugrid.example", "/users/staff/s-1", true},
		{"an institution's origin", configured, "https://app.sunrise.example.edu", "/users/staff/s-1", true},
		{"any path of the area, even one it lacks", configured, "https://admin.edugrid.example", "/users/nope", true},
		{"without the prefix", configured, "https://admin.edugrid.example", "/staff/s-1", true},
		{"unknown origin", configured, "https://evil.example.com", "/users/staff/s-1", false},
		{"origin differing by scheme", configured, "http://admin.edugrid.example", "/users/staff/s-1", false},
		{"origin differing by port", configured, "https://admin.edugrid.example:8443", "/users/staff/s-1", false},
		{"origin with a suffix", configured, "https://admin.edugrid.example.evil.com", "/users/staff/s-1", false},
		{"opaque origin", configured, "null", "/users/staff/s-1", false},
		{"loopback refused outside the local stack", configured, "http://localhost:5173", "/users/staff/s-1", false},
		{"local stack: localhost", local, "http://localhost:5173", "/users/staff/s-1", true},
		{"local stack: 127.0.0.1", local, "http://127.0.0.1:3000", "/users/staff/s-1", true},
		{"local stack: no port", local, "http://localhost", "/users/staff/s-1", true},
		{"local stack: https on loopback is not its dev server", local, "https://localhost:5173", "/users/staff/s-1", false},
		{"local stack: loopback look-alike", local, "http://localhost.evil.com:5173", "/users/staff/s-1", false},
		{"local stack: other host", local, "http://192.168.1.9:5173", "/users/staff/s-1", false},
		{"nothing configured", CORS{}, "https://admin.edugrid.example", "/users/staff/s-1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(corsArea(t, tt.cors), preflight(tt.target, tt.origin, "PATCH"))
			h := rec.Header()
			if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
				t.Errorf("Vary = %q, want Origin", h.Values("Vary"))
			}
			if !tt.allowed {
				p := problemOf(t, rec, http.StatusForbidden)
				if p.Code != apperr.Forbidden || !strings.Contains(p.Detail, tt.origin) {
					t.Errorf("problem %+v, want forbidden naming the origin", p)
				}
				for name := range h {
					if strings.HasPrefix(name, "Access-Control-") {
						t.Errorf("refused preflight carries %s: %q", name, h.Get(name))
					}
				}
				return
			}
			if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
				t.Fatalf("status %d body %q, want 204 without a body", rec.Code, rec.Body)
			}
			want := map[string]string{
				"Access-Control-Allow-Origin":  tt.origin,
				"Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, PATCH, DELETE",
				"Access-Control-Allow-Headers": "Authorization, Content-Type, Idempotency-Key, X-Request-Id, Traceparent",
				"Access-Control-Max-Age":       "7200",
			}
			for name, v := range want {
				if got := h.Get(name); got != v {
					t.Errorf("%s = %q, want %q", name, got, v)
				}
			}
			// Bearer tokens, not cookies: credentials mode stays off.
			if got := h.Get("Access-Control-Allow-Credentials"); got != "" {
				t.Errorf("Access-Control-Allow-Credentials = %q", got)
			}
		})
	}
}

func TestCORSActualRequests(t *testing.T) {
	cors := CORS{Origins: []string{"https://admin.edugrid.example"}}
	tests := []struct {
		name, method, target, origin string
		status                       int
		allowed                      bool
	}{
		{"read from an allowed origin", "GET", "/users/staff/s-1", "https://admin.edugrid.example", 200, true},
		{"an error is readable too", "GET", "/users/conflict", "https://admin.edugrid.example", 409, true},
		{"a 405 is readable too", "DELETE", "/users/staff/s-1", "https://admin.edugrid.example", 405, true},
		{"disallowed origin is served without CORS headers", "GET", "/users/staff/s-1", "https://evil.example.com", 200, false},
		{"no origin: a server-side caller", "GET", "/users/staff/s-1", "", 200, false},
		// OPTIONS without Access-Control-Request-Method is no preflight: the route table answers it.
		{"plain OPTIONS", "OPTIONS", "/users/staff/s-1", "https://admin.edugrid.example", 405, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.target, nil)
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			rec := serve(corsArea(t, cors), r)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			h := rec.Header()
			if got := h.Values("Vary"); len(got) != 1 || got[0] != "Origin" {
				t.Errorf("Vary = %q, want Origin", got)
			}
			wantOrigin, wantExpose := "", ""
			if tt.allowed {
				wantOrigin, wantExpose = tt.origin, "X-Request-Id, Retry-After, WWW-Authenticate, Allow, Idempotent-Replayed"
			}
			if got := h.Get("Access-Control-Allow-Origin"); got != wantOrigin {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, wantOrigin)
			}
			if got := h.Get("Access-Control-Expose-Headers"); got != wantExpose {
				t.Errorf("Access-Control-Expose-Headers = %q, want %q", got, wantExpose)
			}
			if h.Get("Access-Control-Allow-Methods") != "" || h.Get("Access-Control-Max-Age") != "" {
				t.Error("an actual answer carries preflight headers")
			}
		})
	}
}

// The institutions' origins are asked only for an origin the configuration does not allow, and a
// registry that cannot answer means "not allowed", never "allowed".
func TestCORSConsultsInstitutionsLast(t *testing.T) {
	tests := []struct {
		name      string
		origin    string
		tenants   *fakeOrigins
		allowed   bool
		wantAsked []string
	}{
		{"configured origin answers without the registry", "https://admin.edugrid.example",
			&fakeOrigins{}, true, nil},
		{"institution's origin", "https://app.sunrise.example.edu",
			&fakeOrigins{allowed: map[string]bool{"https://app.sunrise.example.edu": true}}, true, []string{"https://app.sunrise.example.edu"}},
		{"registry down", "https://app.sunrise.example.edu",
			&fakeOrigins{allowed: map[string]bool{"https://app.sunrise.example.edu": true}, err: errors.New("platform database unreachable")}, false, []string{"https://app.sunrise.example.edu"}},
		{"opaque origin never reaches the registry", "null", &fakeOrigins{}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cors := CORS{Origins: []string{"https://admin.edugrid.example"}, Tenants: tt.tenants}
			r := httptest.NewRequest("GET", "/users/ping", nil)
			r.Header.Set("Origin", tt.origin)
			rec := serve(corsArea(t, cors), r)
			if got := rec.Header().Get("Access-Control-Allow-Origin") != ""; got != tt.allowed {
				t.Errorf("allowed = %v, want %v", got, tt.allowed)
			}
			if !equal(tt.tenants.asked, tt.wantAsked) {
				t.Errorf("registry asked %v, want %v", tt.tenants.asked, tt.wantAsked)
			}
		})
	}
}

func TestParseOrigin(t *testing.T) {
	tests := []struct {
		origin string
		ok     bool
	}{
		{"https://app.example.edu", true},
		{"https://app.example.edu:8443", true},
		{"https://xn--bcher-kva.example", true},
		{"http://localhost:5173", true},
		{"http://127.0.0.1:8080", true},
		{"http://localhost", true},
		{"http://app.example.edu", false},
		{"http://192.168.0.4:3000", false},
		{"https://app.example.edu/", false},
		{"https://app.example.edu/login", false},
		{"https://app.example.edu?x=1", false},
		{"https://app.example.edu#top", false},
		{"https://user@app.example.edu", false},
		{"https://App.Example.edu", false},
		{"https://app.example.edu:443", false},
		{"http://localhost:80", false},
		{"https://app.example.edu:0", false},
		{"https://app.example.edu:99999", false},
		{"https://*.example.edu", false},
		{"*", false},
		{"null", false},
		{"app.example.edu", false},
		{"ftp://app.example.edu", false},
		{"", false},
		{"https://", false},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			got, err := ParseOrigin("origins", tt.origin)
			if tt.ok {
				if err != nil || got != tt.origin {
					t.Fatalf("ParseOrigin(%q) = %q, %v", tt.origin, got, err)
				}
				return
			}
			wantAppErr(t, err, apperr.Invalid, "origins")
		})
	}
}
