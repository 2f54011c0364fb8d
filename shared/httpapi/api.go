// Package httpapi is the one HTTP mechanism every area shares: route tables, the middleware chain
// (request id, structured logs, panic recovery, CORS, body limit, authentication, permission check),
// strict JSON decoding, RFC 9457 problem+json errors, cursor pagination and the OpenAPI document.
//
// An area declares its routes in one table; each route names the permission it needs. The Area serves them
// under its own prefix (/users/staff) and without it (/staff), so the same function works behind the load
// balancer and at its own URL.
package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/rbac"
)

// HandlerFunc handles one request. It writes its response itself (usually with JSON) and returns an error
// instead of writing one; the Area turns the error into problem+json.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route is one row of an area's route table.
type Route struct {
	Method string
	// Path is relative to the area, in net/http pattern syntax: "/staff/{id}".
	Path string
	// Permission is required of the caller; rbac.Public routes skip authentication.
	Permission rbac.Permission
	Summary    string
	// Request is a value of the JSON body type (nil when the route takes no body), Response of the success
	// body type (nil for 204). They feed the OpenAPI document.
	Request  any
	Response any
	// Example, when set, is the request body's example for this route instead of the request type's own:
	// for a type two routes share with different rules.
	Example any
	// Status is the success status; 200 when zero.
	Status int
	// Query documents the query parameters the route reads.
	Query []QueryParam
	// IdempotencyKey says the route requires an Idempotency-Key header: a retry with the same key and body
	// answers 200 with the original body (and Idempotent-Replayed: true) instead of Status, the same key
	// with another body 409.
	IdempotencyKey bool
	// Errors lists the error codes the route answers beyond those its shape implies (see Document): for
	// example RateLimited on sign-in, or Unauthenticated on a public route that checks credentials.
	Errors  []apperr.Code
	Handler HandlerFunc
}

// QueryParam documents one query parameter. Enum, when set, lists every value the route accepts; any
// other is refused.
type QueryParam struct {
	Name        string
	Description string
	Enum        []string
	// Required marks a parameter the route answers 400 invalid without.
	Required bool
	// Type is a value of the parameter's Go type when it is not a plain string: an Enum kind
	// (leads.Stage("")) lists its values, an int makes it an integer.
	Type any
	// Format is one of the Format constants for a string parameter holding a date, time or month.
	Format string
	// Minimum and Maximum bound an integer parameter when Maximum is positive.
	Minimum, Maximum int
	// Aliases are older names of the parameter the route still reads; the document lists them as
	// deprecated.
	Aliases []string
}

// Value returns the parameter's value in r: under its name, or else under the first of its aliases that
// r carries; "" when r has none of them.
func (q QueryParam) Value(r *http.Request) string {
	values := r.URL.Query()
	if v := values.Get(q.Name); v != "" {
		return v
	}
	for _, alias := range q.Aliases {
		if v := values.Get(alias); v != "" {
			return v
		}
	}
	return ""
}

// Authenticator establishes who calls a non-public route. It is implemented by the tenant middleware.
type Authenticator interface {
	// Authenticate verifies r's credentials for a route needing perm and returns the context to serve the
	// request with (carrying the principal, and the tenant database on tenant routes) and a function to
	// call when the request ends. Errors are *apperr.Error: Unauthenticated, Forbidden or Suspended, or
	// Unavailable when a dependency is down.
	Authenticate(r *http.Request, perm rbac.Permission) (context.Context, func(), error)
}

// Options configures an Area.
type Options struct {
	Auth   Authenticator
	Logger *slog.Logger
	// Project is the Google Cloud project id, used to link log lines to traces.
	Project string
	// Timeout, when positive, is every request's deadline: database calls still waiting then give up and
	// the request answers 503 (see WriteError).
	Timeout time.Duration
	// CORS says which browser origins may call the area; the zero value allows none.
	CORS CORS
}

// Area serves one API area's route table. It is an http.Handler.
type Area struct {
	Name   string
	Routes []Route
	opts   Options
	mux    *http.ServeMux
	paths  *http.ServeMux // path-only patterns, to tell 405 from 404
}

// NewArea builds the handler for area name. It panics on a malformed route table (a programming error
// caught by every test that builds the area).
func NewArea(name string, routes []Route, opts Options) *Area {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	a := &Area{Name: name, Routes: routes, opts: opts, mux: http.NewServeMux(), paths: http.NewServeMux()}
	seenPath := map[string]bool{}
	for _, rt := range routes {
		if rt.Method == "" || !strings.HasPrefix(rt.Path, "/") || rt.Permission == "" || rt.Handler == nil {
			panic(fmt.Sprintf("httpapi: area %s: incomplete route %s %s", name, rt.Method, rt.Path))
		}
		if rt.Permission != rbac.Public && opts.Auth == nil {
			panic(fmt.Sprintf("httpapi: area %s: route %s %s needs an Authenticator", name, rt.Method, rt.Path))
		}
		a.mux.Handle(rt.Method+" "+rt.Path, a.serveRoute(rt))
		if !seenPath[rt.Path] {
			seenPath[rt.Path] = true
			a.paths.Handle(rt.Path, http.NotFoundHandler())
		}
	}
	a.mux.HandleFunc("/", a.notFound)
	return a
}

// ServeHTTP serves one request, with or without the area's prefix.
func (a *Area) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rid := requestID(r)
	log := a.opts.Logger.With(slog.String("request_id", rid))
	if t := traceID(r); t != "" && a.opts.Project != "" {
		log = log.With(slog.String("logging.googleapis.com/trace", "projects/"+a.opts.Project+"/traces/"+t))
	}
	caller := &callerInfo{}
	ctx := context.WithValue(r.Context(), requestIDKey{}, rid)
	if a.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.opts.Timeout)
		defer cancel()
	}
	ctx = context.WithValue(ctx, callerKey{}, caller)
	// The path as requested, prefix included: problem documents name it as their instance.
	ctx = context.WithValue(ctx, requestPathKey{}, r.URL.Path)
	ctx = WithLogger(ctx, log)
	r = r.WithContext(ctx)
	w.Header().Set("X-Request-Id", rid)
	w.Header().Set("X-Content-Type-Options", "nosniff")

	prefix := "/" + a.Name
	if r.URL.Path == prefix || strings.HasPrefix(r.URL.Path, prefix+"/") {
		r2 := *r
		u := *r.URL
		u.Path = strings.TrimPrefix(r.URL.Path, prefix)
		u.RawPath = ""
		if u.Path == "" {
			u.Path = "/"
		}
		r2.URL = &u
		r = &r2
	}

	rec := &statusRecorder{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v) // the server's own signal to drop the connection quietly
			}
			log.Error("panic serving request", slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			if !rec.wrote {
				WriteError(rec, r, fmt.Errorf("panic: %v", v))
			}
		}
		if !rec.wrote {
			rec.status = http.StatusOK // net/http answers 200 for a handler that wrote nothing
		}
		log.Info("request",
			slog.String("tenant", caller.tenant),
			slog.String("user", caller.user),
			slog.Group("httpRequest",
				slog.String("requestMethod", r.Method),
				slog.String("requestUrl", prefix+r.URL.Path),
				slog.Int("status", rec.status),
				slog.String("latency", fmt.Sprintf("%.6fs", time.Since(start).Seconds())),
				slog.String("userAgent", r.UserAgent()),
			),
		)
	}()
	if a.opts.CORS.serveCORS(rec, r) {
		return
	}
	a.mux.ServeHTTP(rec, r)
}

func (a *Area) serveRoute(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		if rt.Permission != rbac.Public {
			ctx, release, err := a.opts.Auth.Authenticate(r, rt.Permission)
			if err != nil {
				// Only here is a 401 about the bearer token itself; a handler's 401 (a wrong current
				// password) says nothing about the token, which stays good.
				writeAuthError(w, r, err, BearerToken(r) != "")
				return
			}
			defer release()
			p, ok := rbac.FromContext(ctx)
			if !ok || !rbac.Allowed(p.Role, rt.Permission) {
				WriteError(w, r, apperr.Errorf(apperr.Forbidden, "your role may not do this"))
				return
			}
			// The request's log line names the caller; a logger.With here would cost more than the guard.
			if info, ok := ctx.Value(callerKey{}).(*callerInfo); ok {
				info.tenant, info.user = p.Tenant, p.Subject
			}
			r = r.WithContext(ctx)
		}
		if err := rt.Handler(w, r); err != nil {
			WriteError(w, r, err)
		}
	})
}

func (a *Area) notFound(w http.ResponseWriter, r *http.Request) {
	if _, pattern := a.paths.Handler(r); pattern != "" {
		var allow []string
		for _, rt := range a.Routes {
			if rt.Path == pattern {
				allow = append(allow, rt.Method)
			}
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		WriteError(w, r, apperr.Errorf(apperr.MethodNotAllowed, "The method %s is not allowed here; this path answers %s.", r.Method, strings.Join(allow, ", ")))
		return
	}
	WriteError(w, r, apperr.Errorf(apperr.NotFound, "no such route"))
}

type callerKey struct{}

type requestPathKey struct{}

// callerInfo is filled in once the caller is known, for the request's log line.
type callerInfo struct{ tenant, user string }

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if !s.wrote {
		s.status, s.wrote = http.StatusOK, true
	}
	return s.ResponseWriter.Write(b)
}
