package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/logging"
	"github.com/edugrid/edugrid/shared/rbac"
)

// fakeAuth stands in for the tenant middleware. It records what the Area asks and when release runs
// relative to the handler.
type fakeAuth struct {
	principal *rbac.Principal // nil: the context carries no principal
	err       error

	perms  []rbac.Permission
	events []string
}

func (f *fakeAuth) Authenticate(r *http.Request, perm rbac.Permission) (context.Context, func(), error) {
	f.perms = append(f.perms, perm)
	if f.err != nil {
		return nil, nil, f.err
	}
	ctx := r.Context()
	if f.principal != nil {
		ctx = rbac.WithPrincipal(ctx, *f.principal)
	}
	return ctx, func() { f.events = append(f.events, "release") }, nil
}

const internalDetail = "mongo: dial tcp 10.0.0.7:27017: secret-internal-detail"

// testArea builds the "users" area with one route of each kind the tests need.
func testArea(t *testing.T, auth *fakeAuth) (*Area, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	handlerRan := func(w http.ResponseWriter, r *http.Request) {
		auth.events = append(auth.events, "handler")
	}
	routes := []Route{
		{Method: "GET", Path: "/staff/{id}", Permission: rbac.StaffRead, Handler: func(w http.ResponseWriter, r *http.Request) error {
			handlerRan(w, r)
			JSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
			return nil
		}},
		{Method: "PATCH", Path: "/staff/{id}", Permission: rbac.StaffWrite, Handler: func(w http.ResponseWriter, r *http.Request) error {
			handlerRan(w, r)
			return nil
		}},
		{Method: "POST", Path: "/staff/{id}/password", Permission: rbac.StaffWrite, Handler: func(w http.ResponseWriter, r *http.Request) error {
			return apperr.Errorf(apperr.Unauthenticated, "the current password is wrong")
		}},
		{Method: "GET", Path: "/ping", Permission: rbac.Public, Handler: func(w http.ResponseWriter, r *http.Request) error {
			handlerRan(w, r)
			JSON(w, http.StatusOK, map[string]string{"pong": "yes"})
			return nil
		}},
		{Method: "POST", Path: "/notes", Permission: rbac.Public, Handler: func(w http.ResponseWriter, r *http.Request) error {
			var req noteRequest
			if err := Decode(r, &req); err != nil {
				return err
			}
			JSON(w, http.StatusCreated, req)
			return nil
		}},
		{Method: "PUT", Path: "/raw", Permission: rbac.Public, Handler: func(w http.ResponseWriter, r *http.Request) error {
			// Reads without Decode, as an upload would: only the Area's own cap protects it.
			n, err := io.Copy(io.Discard, r.Body)
			if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
				return apperr.Errorf(apperr.TooLarge, "too large")
			}
			if err != nil {
				return err
			}
			JSON(w, http.StatusOK, map[string]int64{"read": n})
			return nil
		}},
		{Method: "GET", Path: "/broken", Permission: rbac.Public, Handler: func(w http.ResponseWriter, r *http.Request) error {
			return errors.New(internalDetail)
		}},
		{Method: "GET", Path: "/conflict", Permission: rbac.Public, Handler: func(w http.ResponseWriter, r *http.Request) error {
			return apperr.Errorf(apperr.Conflict, "the batch is full")
		}},
		{Method: "GET", Path: "/panic", Permission: rbac.Public, Handler: func(w http.ResponseWriter, r *http.Request) error {
			panic(internalDetail)
		}},
	}
	return NewArea("users", routes, Options{Auth: auth, Logger: logging.NewLogger(&logs, slog.LevelDebug)}), &logs
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// problemOf checks that rec holds a problem+json answer of status and returns it.
func problemOf(t *testing.T, rec *httptest.ResponseRecorder, status int) Problem {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body %q: %v", rec.Body, err)
	}
	if p.Status != status {
		t.Fatalf("problem status = %d, want %d", p.Status, status)
	}
	if p.Type != ProblemType(p.Code) || p.Title == "" || p.Detail == "" {
		t.Fatalf("incomplete problem %+v", p)
	}
	return p
}

var owner = &rbac.Principal{Subject: "user-1", Tenant: "acme-academy", Role: rbac.Owner}

func TestAreaServesWithAndWithoutPrefix(t *testing.T) {
	for _, target := range []string{"/users/staff/s-42", "/staff/s-42"} {
		t.Run(target, func(t *testing.T) {
			area, _ := testArea(t, &fakeAuth{principal: owner})
			rec := serve(area, httptest.NewRequest("GET", target, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d, body %s", rec.Code, rec.Body)
			}
			if got := strings.TrimSpace(rec.Body.String()); got != `{"id":"s-42"}` {
				t.Fatalf("body = %s, want the path value", got)
			}
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Error("X-Content-Type-Options: nosniff missing")
			}
		})
	}
}

// instance names the path as the client requested it, with the area's prefix when it was sent.
func TestAreaProblemInstanceIsTheRequestedPath(t *testing.T) {
	for _, target := range []string{"/users/conflict", "/conflict", "/users/nope", "/users/", "/users/staff/s-1?x=1"} {
		t.Run(target, func(t *testing.T) {
			area, _ := testArea(t, &fakeAuth{principal: owner})
			method := "GET"
			if strings.HasPrefix(target, "/users/staff") {
				method = "DELETE"
			}
			rec := serve(area, httptest.NewRequest(method, target, nil))
			p := problemOf(t, rec, rec.Code)
			if want, _, _ := strings.Cut(target, "?"); p.Instance != want {
				t.Errorf("instance = %q, want %q", p.Instance, want)
			}
		})
	}
}

func TestAreaNotFound(t *testing.T) {
	for _, target := range []string{"/users/nope", "/nope", "/users", "/usersx/staff/1"} {
		t.Run(target, func(t *testing.T) {
			area, _ := testArea(t, &fakeAuth{principal: owner})
			p := problemOf(t, serve(area, httptest.NewRequest("GET", target, nil)), http.StatusNotFound)
			if p.Code != apperr.NotFound {
				t.Fatalf("code = %s, want not_found", p.Code)
			}
		})
	}
}

func TestAreaMethodNotAllowed(t *testing.T) {
	tests := []struct {
		method, target, allow string
	}{
		{"DELETE", "/users/staff/s-1", "GET, PATCH"},
		{"POST", "/staff/s-1", "GET, PATCH"},
		{"GET", "/notes", "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			auth := &fakeAuth{principal: owner}
			area, _ := testArea(t, auth)
			rec := serve(area, httptest.NewRequest(tt.method, tt.target, nil))
			p := problemOf(t, rec, http.StatusMethodNotAllowed)
			if p.Code != apperr.MethodNotAllowed || p.Instance != tt.target {
				t.Errorf("code %q instance %q, want method_not_allowed at %s", p.Code, p.Instance, tt.target)
			}
			if want := "The method " + tt.method + " is not allowed here; this path answers " + tt.allow + "."; p.Detail != want {
				t.Errorf("detail = %q, want %q", p.Detail, want)
			}
			if got := rec.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			if len(auth.perms) != 0 {
				t.Errorf("a refused method reached the Authenticator: %v", auth.perms)
			}
		})
	}
}

func TestAreaInternalErrorsHideDetail(t *testing.T) {
	for _, target := range []string{"/broken", "/panic"} {
		t.Run(target, func(t *testing.T) {
			area, logs := testArea(t, &fakeAuth{})
			rec := serve(area, httptest.NewRequest("GET", target, nil))
			p := problemOf(t, rec, http.StatusInternalServerError)
			if p.Code != apperr.Internal || p.Detail != "Internal error." {
				t.Errorf("problem = %+v, want code internal and detail %q", p, "Internal error.")
			}
			body := rec.Body.String()
			for _, leak := range []string{"secret-internal-detail", "10.0.0.7", "goroutine", ".go:"} {
				if strings.Contains(body, leak) {
					t.Errorf("body leaks %q: %s", leak, body)
				}
			}
			// The detail belongs in the log, where an operator can find it by request id.
			if !strings.Contains(logs.String(), "secret-internal-detail") {
				t.Errorf("internal detail not logged: %s", logs)
			}
		})
	}
}

func TestAreaApplicationErrorShown(t *testing.T) {
	area, _ := testArea(t, &fakeAuth{})
	p := problemOf(t, serve(area, httptest.NewRequest("GET", "/users/conflict", nil)), http.StatusConflict)
	if p.Code != apperr.Conflict || p.Detail != "the batch is full" {
		t.Fatalf("problem = %+v", p)
	}
	if p.Instance != "/conflict" && p.Instance != "/users/conflict" {
		t.Errorf("instance = %q, want the request path", p.Instance)
	}
}

func TestAreaBodyLimit(t *testing.T) {
	area, _ := testArea(t, &fakeAuth{})
	body := `{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`
	p := problemOf(t, serve(area, jsonRequest("POST", "/users/notes", "application/json", body)), http.StatusRequestEntityTooLarge)
	if p.Code != apperr.TooLarge {
		t.Fatalf("code = %s, want payload_too_large", p.Code)
	}

	rec := serve(area, jsonRequest("POST", "/users/notes", "application/json", `{"name":"a"}`))
	if rec.Code != http.StatusCreated {
		t.Fatalf("small body: status %d, body %s", rec.Code, rec.Body)
	}

	p = problemOf(t, serve(area, httptest.NewRequest("PUT", "/raw", strings.NewReader(strings.Repeat("x", MaxBodyBytes+1)))), http.StatusRequestEntityTooLarge)
	if p.Code != apperr.TooLarge {
		t.Fatalf("raw read over the cap: code = %s, want payload_too_large", p.Code)
	}
	rec = serve(area, httptest.NewRequest("PUT", "/raw", strings.NewReader(strings.Repeat("x", MaxBodyBytes))))
	if got := strings.TrimSpace(rec.Body.String()); rec.Code != http.StatusOK || got != fmt.Sprintf(`{"read":%d}`, MaxBodyBytes) {
		t.Fatalf("raw read at the cap: status %d, body %s", rec.Code, got)
	}
}

func TestAreaAuthentication(t *testing.T) {
	teacher := &rbac.Principal{Subject: "user-2", Tenant: "acme-academy", Role: rbac.Teacher}
	tests := []struct {
		name       string
		method     string
		target     string
		auth       *fakeAuth
		status     int
		code       apperr.Code
		wantPerms  []rbac.Permission
		wantEvents []string
		token      string // sent as a bearer token when set
		wwwAuth    string // the WWW-Authenticate header wanted ("" = none)
	}{
		{
			name: "public route skips authentication", method: "GET", target: "/ping",
			auth: &fakeAuth{err: errors.New("must not be called")}, status: 200,
			wantPerms: nil, wantEvents: []string{"handler"},
		},
		{
			name: "permitted role", method: "GET", target: "/users/staff/s-1",
			auth: &fakeAuth{principal: owner}, status: 200,
			wantPerms: []rbac.Permission{rbac.StaffRead}, wantEvents: []string{"handler", "release"},
		},
		{
			name: "route's own permission is asked", method: "PATCH", target: "/staff/s-1",
			auth: &fakeAuth{principal: owner}, status: 200,
			wantPerms: []rbac.Permission{rbac.StaffWrite}, wantEvents: []string{"handler", "release"},
		},
		{
			name: "no token", method: "GET", target: "/staff/s-1",
			auth:   &fakeAuth{err: apperr.Errorf(apperr.Unauthenticated, "a bearer access token is required")},
			status: 401, code: apperr.Unauthenticated, wwwAuth: `Bearer realm="edugrid"`,
			wantPerms: []rbac.Permission{rbac.StaffRead}, wantEvents: nil,
		},
		{
			name: "token refused", method: "GET", target: "/staff/s-1", token: "expired.jwt",
			auth:   &fakeAuth{err: apperr.Errorf(apperr.Unauthenticated, `the access token has "expired"`)},
			status: 401, code: apperr.Unauthenticated,
			wwwAuth:   `Bearer realm="edugrid", error="invalid_token", error_description="the access token has  expired "`,
			wantPerms: []rbac.Permission{rbac.StaffRead}, wantEvents: nil,
		},
		{
			// A 401 from the handler (a wrong current password) is not about the token, which stays good.
			name: "handler's 401 with a good token", method: "POST", target: "/staff/s-1/password", token: "good.jwt",
			auth: &fakeAuth{principal: owner}, status: 401, code: apperr.Unauthenticated, wwwAuth: `Bearer realm="edugrid"`,
			wantPerms: []rbac.Permission{rbac.StaffWrite}, wantEvents: []string{"release"},
		},
		{
			name: "suspended tenant", method: "GET", target: "/staff/s-1",
			auth:   &fakeAuth{err: apperr.Errorf(apperr.Suspended, "suspended")},
			status: 403, code: apperr.Suspended,
			wantPerms: []rbac.Permission{rbac.StaffRead}, wantEvents: nil,
		},
		{
			name: "authenticator fails internally", method: "GET", target: "/staff/s-1",
			auth:   &fakeAuth{err: errors.New(internalDetail)},
			status: 500, code: apperr.Internal,
			wantPerms: []rbac.Permission{rbac.StaffRead}, wantEvents: nil,
		},
		{
			// The lease taken by Authenticate must still be given back when the role check refuses.
			name: "role lacks the permission", method: "PATCH", target: "/staff/s-1",
			auth: &fakeAuth{principal: teacher}, status: 403, code: apperr.Forbidden,
			wantPerms: []rbac.Permission{rbac.StaffWrite}, wantEvents: []string{"release"},
		},
		{
			name: "no principal in the returned context", method: "GET", target: "/staff/s-1",
			auth: &fakeAuth{}, status: 403, code: apperr.Forbidden,
			wantPerms: []rbac.Permission{rbac.StaffRead}, wantEvents: []string{"release"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			area, _ := testArea(t, tt.auth)
			req := httptest.NewRequest(tt.method, tt.target, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			rec := serve(area, req)
			if tt.code != "" {
				if p := problemOf(t, rec, tt.status); p.Code != tt.code {
					t.Errorf("code = %s, want %s", p.Code, tt.code)
				}
			} else if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.wwwAuth {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wwwAuth)
			}
			if !equal(tt.auth.perms, tt.wantPerms) {
				t.Errorf("Authenticate asked for %v, want %v", tt.auth.perms, tt.wantPerms)
			}
			if !equal(tt.auth.events, tt.wantEvents) {
				t.Errorf("events = %v, want %v", tt.auth.events, tt.wantEvents)
			}
		})
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAreaNeedsAuthenticatorAndCompleteRoutes(t *testing.T) {
	ok := func(http.ResponseWriter, *http.Request) error { return nil }
	tests := []struct {
		name string
		rt   Route
		auth Authenticator
	}{
		{"protected route without authenticator", Route{Method: "GET", Path: "/x", Permission: rbac.StaffRead, Handler: ok}, nil},
		{"no method", Route{Path: "/x", Permission: rbac.Public, Handler: ok}, &fakeAuth{}},
		{"relative path", Route{Method: "GET", Path: "x", Permission: rbac.Public, Handler: ok}, &fakeAuth{}},
		{"no permission", Route{Method: "GET", Path: "/x", Handler: ok}, &fakeAuth{}},
		{"no handler", Route{Method: "GET", Path: "/x", Permission: rbac.Public}, &fakeAuth{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("NewArea accepted a malformed route table")
				}
			}()
			NewArea("users", []Route{tt.rt}, Options{Auth: tt.auth, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		})
	}
}

var mintedID = regexp.MustCompile(`^[0-9a-f]{24}$`)

func TestAreaRequestID(t *testing.T) {
	tests := []struct {
		name     string
		incoming string
		echoed   bool
	}{
		{"well-formed", "web-7f3a9c1e.2", true},
		{"none", "", false},
		{"too short", "abc", false},
		{"too long", strings.Repeat("a", 65), false},
		{"log injection", "abcdefgh\n{\"severity\":\"ERROR\"}", false},
		{"spaces", "abcd efgh ijkl", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			area, logs := testArea(t, &fakeAuth{})
			r := httptest.NewRequest("GET", "/users/nope", nil)
			if tt.incoming != "" {
				r.Header.Set("X-Request-Id", tt.incoming)
			}
			rec := serve(area, r)
			got := rec.Header().Get("X-Request-Id")
			if tt.echoed && got != tt.incoming {
				t.Fatalf("X-Request-Id = %q, want the caller's %q", got, tt.incoming)
			}
			if !tt.echoed && !mintedID.MatchString(got) {
				t.Fatalf("X-Request-Id = %q, want a freshly minted id in place of %q", got, tt.incoming)
			}
			if p := problemOf(t, rec, http.StatusNotFound); p.RequestID != got {
				t.Errorf("problem request_id = %q, want the response header's %q", p.RequestID, got)
			}
			if !strings.Contains(logs.String(), `"request_id":"`+got+`"`) {
				t.Errorf("log lines do not carry the request id %q: %s", got, logs)
			}
		})
	}
}

// The request's log line is what Cloud Logging indexes: it must carry the outcome, the caller and the trace.
func TestAreaRequestLogLine(t *testing.T) {
	var logs bytes.Buffer
	auth := &fakeAuth{principal: owner}
	area := NewArea("users", []Route{{Method: "GET", Path: "/me", Permission: rbac.Self, Handler: func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}}}, Options{Auth: auth, Logger: logging.NewLogger(&logs, slog.LevelInfo), Project: "edugrid-prod"})
	r := httptest.NewRequest("GET", "/users/me", nil)
	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	r.Header.Set("Traceparent", "00-"+trace+"-00f067aa0ba902b7-01")
	if rec := serve(area, r); rec.Code != http.StatusNoContent {
		t.Fatalf("status = %d", rec.Code)
	}

	var line struct {
		Severity    string `json:"severity"`
		Message     string `json:"message"`
		Trace       string `json:"logging.googleapis.com/trace"`
		Tenant      string `json:"tenant"`
		User        string `json:"user"`
		HTTPRequest struct {
			Method string `json:"requestMethod"`
			URL    string `json:"requestUrl"`
			Status int    `json:"status"`
		} `json:"httpRequest"`
	}
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("log line %q: %v", logs.String(), err)
	}
	if line.Message != "request" || line.Severity != "INFO" {
		t.Errorf("log line = %+v", line)
	}
	if line.HTTPRequest.Status != http.StatusNoContent || line.HTTPRequest.Method != "GET" || line.HTTPRequest.URL != "/users/me" {
		t.Errorf("httpRequest = %+v", line.HTTPRequest)
	}
	if line.Trace != "projects/edugrid-prod/traces/"+trace {
		t.Errorf("trace = %q", line.Trace)
	}
	if line.Tenant != owner.Tenant || line.User != owner.Subject {
		t.Errorf("log line names tenant %q user %q, want %q %q", line.Tenant, line.User, owner.Tenant, owner.Subject)
	}
}

func TestBearerToken(t *testing.T) {
	for header, want := range map[string]string{
		"Bearer abc":    "abc",
		"bearer abc":    "abc",
		"BEARER  abc ":  "abc",
		"Bearer":        "",
		"Basic abc":     "",
		"abc":           "",
		"":              "",
		"Bearerabc def": "",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		if got := BearerToken(r); got != want {
			t.Errorf("BearerToken(%q) = %q, want %q", header, got, want)
		}
	}
}
