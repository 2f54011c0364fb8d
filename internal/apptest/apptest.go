// Package apptest builds a complete edugrid for tests: every HTTP area over the embedded engine in memory,
// a manual clock, cheap password hashing, and helpers to provision tenants, sign in and call routes through
// the real middleware chain. Each Env is isolated: its engines are private to it.
//
// With EDUGRID_TEST_MONGODB_URI set, an Env's three clusters (platform, default, second) are namespaces
// on that server instead, reached over the official driver with the product's client options, and dropped
// when the test ends (internal/wiretest).
package apptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/256dpi/lungo"

	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/functions/payments"
	"github.com/edugrid/edugrid/functions/platform"
	"github.com/edugrid/edugrid/internal/loopback"
	"github.com/edugrid/edugrid/internal/wiretest"
	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/config"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/logging"
	"github.com/edugrid/edugrid/shared/notify"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// Password is the password of every account an Env creates.
const Password = "test-password-1"

// AdminEmail is the platform admin every Env bootstraps.
const AdminEmail = "admin@edugrid.test"

// Env is one isolated edugrid.
type Env struct {
	T     testing.TB
	App   *app.App
	Clock *clock.Manual
	// Services are the areas' services, wired as in production (functions/all).
	Services *all.Services
	// Warehouse is what the analytics area reads: empty (503) until a test attaches one.
	Warehouse *warehouse.Slot
	Areas     []*httpapi.Area
	Handler   http.Handler
	// Loopback are the notification providers' stand-ins every message of the Env goes to (SMS through
	// Twilio's), and their outbox.
	Loopback *loopback.Servers
	// Razorpay is the Razorpay stand-in the payments area calls; Stripe calls go to
	// EDUGRID_STRIPE_API_URL when the test sets it (stripe-mock), else to a closed loopback port.
	Razorpay *loopback.Razorpay

	notifyMu sync.Mutex
	notes    []notify.Notification
}

// Start is the manual clock's initial time.
var Start = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

// New returns a running Env, closed when the test ends. env overrides configuration variables.
func New(t testing.TB, env ...string) *Env {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	uniq := hex.EncodeToString(b[:])
	vars := map[string]string{
		"EDUGRID_PLATFORM_URI":            "lungo:memory:platform-" + uniq,
		"EDUGRID_CLUSTERS":                `{"default":"lungo:memory:c1-` + uniq + `","second":"lungo:memory:c2-` + uniq + `"}`,
		"EDUGRID_PLATFORM_ADMIN_EMAIL":    AdminEmail,
		"EDUGRID_PLATFORM_ADMIN_PASSWORD": Password,
	}
	var dial store.Dial
	if wiretest.URI() != "" {
		// A test's own lungo URIs (an override below) still reach the embedded engine.
		fallback := store.NewDialer()
		t.Cleanup(fallback.Close)
		dial = wiretest.NewServer(t).Dial(fallback.Dial)
		vars["EDUGRID_PLATFORM_URI"] = wiretest.Scheme + "platform"
		vars["EDUGRID_CLUSTERS"] = `{"default":"` + wiretest.Scheme + `c1","second":"` + wiretest.Scheme + `c2"}`
	}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	cfg, err := config.FromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatalf("apptest: config: %v", err)
	}
	clk := clock.NewManual(Start)
	cheap := authn.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	// A fuzz target's requests run inside its fuzz function, where logging through its *testing.F panics.
	if _, fuzz := t.(*testing.F); testing.Verbose() && !fuzz {
		logger = logging.NewLogger(testWriter{t}, slog.LevelDebug)
	}
	a, err := app.New(context.Background(), cfg, app.Options{Clock: clk, Logger: logger, Passwords: &cheap, Schema: &all.Schema, Dial: dial})
	if err != nil {
		t.Fatalf("apptest: build app: %v", err)
	}
	t.Cleanup(a.Close)
	// The subscription exists from the start, so Notifications sees everything the Env publishes.
	if err := a.Notifier.(*notify.Topic).Subscribe(context.Background(), notificationsSubscription); err != nil {
		t.Fatalf("apptest: subscribe to notifications: %v", err)
	}
	lb, err := loopback.Start(loopback.DefaultCredentials, 0)
	if err != nil {
		t.Fatalf("apptest: start the provider stand-ins: %v", err)
	}
	t.Cleanup(lb.Close)
	senders, err := lb.Senders("twilio")
	if err != nil {
		t.Fatalf("apptest: provider stand-ins: %v", err)
	}
	rzp := loopback.StartRazorpay(clk.Now)
	t.Cleanup(rzp.Close)
	stripeURL := vars["EDUGRID_STRIPE_API_URL"]
	if stripeURL == "" {
		stripeURL = "http://127.0.0.1:1" // nothing listens: a test without stripe-mock never reaches Stripe
	}
	gateways := map[payments.Provider]payments.Gateway{payments.Razorpay: payments.NewRazorpay(rzp.URL), payments.Stripe: payments.NewStripe(stripeURL)}
	slot := &warehouse.Slot{}
	svcs := all.Build(a, all.Options{Warehouse: slot.Get, Senders: senders, Gateways: gateways})
	areas := svcs.Areas(a)
	mux := http.NewServeMux()
	for _, area := range areas {
		mux.Handle("/"+area.Name+"/", area)
		mux.Handle("/"+area.Name, area) // the area's root, "/leads" as the document names it
	}
	return &Env{T: t, App: a, Clock: clk, Services: svcs, Warehouse: slot, Areas: areas, Handler: mux, Loopback: lb, Razorpay: rzp}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Tenant is a provisioned test tenant.
type Tenant struct {
	Slug       string
	Number     int
	OwnerID    string
	OwnerEmail string
	OwnerPRN   string
}

// Provision creates an active tenant whose owner is owner@<slug>.test with Password.
func (e *Env) Provision(slug string) Tenant {
	e.T.Helper()
	out, err := e.Services.Platform.Provision(context.Background(), rbac.Principal{Subject: "test", Role: rbac.PlatformAdmin},
		platform.ProvisionRequest{Slug: slug, Name: "Institute " + slug, Owner: platform.OwnerInput{Name: "Owner", Email: "owner@" + slug + ".test", Password: Password}})
	if err != nil {
		e.T.Fatalf("apptest: provision %s: %v", slug, err)
	}
	return Tenant{Slug: slug, Number: out.Tenant.Number, OwnerID: out.Owner.ID, OwnerEmail: out.Owner.Email, OwnerPRN: out.Owner.PRN}
}

// TokenPair mirrors the auth area's answer.
type TokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// Login signs in through POST /auth/login and fails the test unless it succeeds.
func (e *Env) Login(tenantSlug, email string) TokenPair {
	e.T.Helper()
	rec := e.Do("POST", "/auth/login", "", map[string]string{"tenant": tenantSlug, "email": email, "password": Password})
	if rec.Code != http.StatusOK {
		e.T.Fatalf("apptest: login %s/%s: %d %s", tenantSlug, email, rec.Code, rec.Body)
	}
	return Decode[TokenPair](e.T, rec)
}

// AdminToken signs in the platform admin.
func (e *Env) AdminToken() string {
	e.T.Helper()
	return e.Login(authn.PlatformTenant, AdminEmail).AccessToken
}

// Call sends a request as Do does, requires status want and decodes the JSON answer into a T.
func Call[T any](t testing.TB, env *Env, method, path, token string, body any, want int) T {
	t.Helper()
	rec := env.Do(method, path, token, body)
	if rec.Code != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, rec.Code, want, rec.Body)
	}
	return Decode[T](t, rec)
}

// Items calls a list route as Call does and returns the items of the page it answers, failing the test
// unless the answer is a page ({"items": [...], "next_cursor"?}) that holds every item (no next page).
func Items[T any](t testing.TB, env *Env, method, path, token string, body any, want int) []T {
	t.Helper()
	p := Call[Page[T]](t, env, method, path, token, body, want)
	if p.Items == nil {
		t.Fatalf("%s %s answered no items list: want a page", method, path)
	}
	if p.NextCursor != "" {
		t.Fatalf("%s %s answered more than one page (next_cursor %q); ask for a larger limit", method, path, p.NextCursor)
	}
	return p.Items
}

// Page is a decoded list answer.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// Do sends a request through the full middleware chain. body is encoded as JSON unless it is a string or
// []byte, which are sent as they are. token, when set, is sent as a bearer token.
func (e *Env) Do(method, path, token string, body any) *httptest.ResponseRecorder {
	e.T.Helper()
	return e.DoWithHeader(method, path, token, body, nil)
}

// DoWithHeader sends a request as Do does, with the extra request headers in header (an Idempotency-Key,
// say); a header with an empty value is left out, so a test can send "no key" through the same call.
func (e *Env) DoWithHeader(method, path, token string, body any, header http.Header) *httptest.ResponseRecorder {
	e.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.T.Fatalf("apptest: encode body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, vs := range header {
		for _, v := range vs {
			if v != "" {
				req.Header.Add(k, v)
			}
		}
	}
	rec := httptest.NewRecorder()
	e.Handler.ServeHTTP(rec, req)
	return rec
}

// Decode decodes a JSON response body into T, failing the test when it cannot.
func Decode[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("apptest: decode %T from %q: %v", v, rec.Body.String(), err)
	}
	return v
}

// Problem is a decoded problem+json answer.
type Problem struct {
	Type   string            `json:"type"`
	Title  string            `json:"title"`
	Status int               `json:"status"`
	Detail string            `json:"detail"`
	Code   string            `json:"code"`
	Errors []FieldError      `json:"errors"`
	Fields map[string]string `json:"fields"`
}

// FieldError is one entry of a problem's errors list.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// FieldCode returns the code the problem gives field, or "" when it does not name it.
func (p Problem) FieldCode(field string) string {
	for _, fe := range p.Errors {
		if fe.Field == field {
			return fe.Code
		}
	}
	return ""
}

// MustProblem asserts that rec is a problem+json answer with status and code, and returns it.
func MustProblem(t testing.TB, rec *httptest.ResponseRecorder, status int, code string) Problem {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type = %q, want application/problem+json", ct)
	}
	p := Decode[Problem](t, rec)
	if p.Code != code || p.Status != status || p.Title == "" || p.Type == "" {
		t.Fatalf("problem = %+v, want code %q status %d with type and title", p, code, status)
	}
	if len(p.Errors) < len(p.Fields) && p.Code == "invalid" {
		t.Fatalf("problem = %+v: its fields map names fields its errors list does not", p)
	}
	return p
}

const notificationsSubscription = "apptest"

// Notifications returns every notification the Env has published so far, pulled through a subscription
// on its in-process Pub/Sub topic, in the order they were received.
func (e *Env) Notifications() []notify.Notification {
	e.T.Helper()
	e.notifyMu.Lock()
	defer e.notifyMu.Unlock()
	topic := e.App.Notifier.(*notify.Topic)
	for {
		got, err := topic.Pull(context.Background(), notificationsSubscription, 1000)
		if err != nil {
			e.T.Fatalf("apptest: pull notifications: %v", err)
		}
		if len(got) == 0 {
			return slices.Clone(e.notes)
		}
		e.notes = append(e.notes, got...)
	}
}

// TenantDB opens the database of the tenant slug, for tests that read or check what was written
// directly; it is released when the test ends.
func (e *Env) TenantDB(slug string) lungo.IDatabase {
	e.T.Helper()
	ctx := context.Background()
	ten, err := e.Registry().Load(ctx, slug)
	if err != nil {
		e.T.Fatal(err)
	}
	db, release, err := e.App.Databases.Open(ctx, ten)
	if err != nil {
		e.T.Fatal(err)
	}
	e.T.Cleanup(release)
	return db
}

// Registry returns the tenant registry, for tests that read tenants directly.
func (e *Env) Registry() *tenant.Registry { return e.App.Registry }

// MustStatus fails the test unless rec answered want, showing the body when it did not.
func MustStatus(t testing.TB, rec *httptest.ResponseRecorder, want int) {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, want, rec.Body)
	}
}
