package all_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/scripts/seed"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
)

// The hostile-input tests (hostile_test.go) and the write-route fuzz target (fuzz_test.go) share this
// harness: one edugrid with the seeded demo institution, a token for every route, identifiers of the
// demo's objects for path parameters and id fields, example bodies derived from each route's request type,
// and a check that a refused request answered problem+json and wrote nothing anywhere.
//
// Routes are discovered from the route tables (functions/all Areas), so an area added there is covered
// without editing these tests; the hints below only make example bodies of known shapes valid more often.

// writeRoute is one route that takes a JSON body.
type writeRoute struct {
	area    string
	route   httpapi.Route
	path    string // with the area prefix, parameters unfilled: /fees/assignments/{id}/concessions
	reqType reflect.Type
}

func (r writeRoute) String() string { return r.route.Method + " " + r.path }

type hostileEnv struct {
	env       *apptest.Env
	writes    *apptest.Writes
	routes    []writeRoute
	owner     string // the demo owner's access token
	roles     map[rbac.Role]string
	roleOrder []rbac.Role // roles other than the owner, as the seed lists them
	admin     string      // the platform admin's
	spare     string      // slug of a second institution, the target of /platform/tenants/{slug} routes
	ids       map[string][]string
	allIDs    []string
	prns      []string
	n         int // makes unique example values (codes, emails, slugs)
	// expiring names the collections with a TTL index, whose documents the engine deletes by itself.
	expiring map[string]bool
}

func newHostileEnv(tb testing.TB) *hostileEnv {
	tb.Helper()
	ctx := context.Background()
	env := apptest.New(tb)
	logins, _, err := seed.Demo(ctx, env.App, apptest.Password)
	if err != nil {
		tb.Fatalf("seed the demo institution: %v", err)
	}
	h := &hostileEnv{env: env, ids: map[string][]string{}}
	spare := env.Provision("spare")
	h.spare = spare.Slug
	h.admin = env.AdminToken()
	var ownerEmail string
	for _, l := range logins {
		if l.Role == rbac.Owner {
			ownerEmail = l.Email
		}
	}
	if ownerEmail == "" {
		tb.Fatalf("the demo seed has no owner login")
	}
	h.owner = env.Login(seed.DemoSlug, ownerEmail).AccessToken
	// A token of every other seeded role, for the routes the owner may not call (a learner's own).
	h.roles = map[rbac.Role]string{rbac.Owner: h.owner}
	for _, l := range logins {
		if _, done := h.roles[l.Role]; done {
			continue
		}
		body := map[string]string{"tenant": seed.DemoSlug, "email": l.Email, "password": apptest.Password}
		if l.Email == "" {
			body = map[string]string{"prn": l.PRN, "password": apptest.Password}
		}
		rec := env.Do("POST", "/auth/login", "", body)
		if rec.Code != http.StatusOK {
			tb.Fatalf("sign in the demo's %s: %d %s", l.Role, rec.Code, rec.Body)
		}
		h.roles[l.Role] = apptest.Decode[apptest.TokenPair](tb, rec).AccessToken
		h.roleOrder = append(h.roleOrder, l.Role)
	}

	signedIn := map[any]bool{ownerEmail: true}
	for _, l := range logins {
		if _, ok := h.roles[l.Role]; ok && l.Email != "" {
			signedIn[l.Email] = true
		}
	}
	db := env.TenantDB(seed.DemoSlug)
	names, err := db.ListCollectionNames(ctx, bson.M{})
	if err != nil {
		tb.Fatal(err)
	}
	slices.Sort(names)
	for _, name := range names {
		cur, err := db.Collection(name).Find(ctx, bson.M{})
		if err != nil {
			tb.Fatal(err)
		}
		var docs []bson.M
		if err := cur.All(ctx, &docs); err != nil {
			tb.Fatal(err)
		}
		for _, d := range docs {
			// The accounts signed in above stay out: a fuzzed change to one (suspend, demote) would end a
			// token every later iteration relies on.
			if s, ok := d["_id"].(string); ok && len(s) == 24 && !signedIn[d["email"]] && len(h.ids[name]) < 3 {
				h.ids[name] = append(h.ids[name], s)
				h.allIDs = append(h.allIDs, s)
			}
			if p, ok := d["prn"].(string); ok && len(h.prns) < 3 && !signedIn[d["email"]] {
				h.prns = append(h.prns, p)
			}
		}
	}
	for _, a := range env.Areas {
		for _, rt := range a.Routes {
			if rt.Request == nil || rt.Method == http.MethodGet {
				continue
			}
			t := reflect.TypeOf(rt.Request)
			for t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
			h.routes = append(h.routes, writeRoute{area: a.Name, route: rt, path: "/" + a.Name + strings.TrimSuffix(rt.Path, "{$}"), reqType: t})
		}
	}
	slices.SortFunc(h.routes, func(a, b writeRoute) int { return strings.Compare(a.String(), b.String()) })
	// The engine deletes expired documents of TTL-indexed collections on its own schedule (and the test
	// clock is not the engine's); such a delete is nobody's request.
	h.expiring = map[string]bool{}
	for _, d := range []lungo.IDatabase{env.App.Platform, db} {
		for name, specs := range indexesOf(tb, d) {
			for _, spec := range specs {
				if _, ok := spec["expireAfterSeconds"]; ok {
					h.expiring[name] = true
				}
			}
		}
	}
	h.writes = env.WatchWrites()
	return h
}

// written returns the writes since the last look, leaving out the engine's own expiry deletes.
func (h *hostileEnv) written(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, w := range h.writes.Since(t) {
		ns, op, _ := strings.Cut(w, " ")
		if _, coll, _ := strings.Cut(ns, "."); op == "delete" && h.expiring[coll] {
			continue
		}
		out = append(out, w)
	}
	return out
}

// tokenFor returns a token that may call r: the demo owner's for every permission the owner holds, else
// the first seeded role's that holds it, else the platform admin's.
func (h *hostileEnv) tokenFor(r writeRoute) string {
	if rbac.Allowed(rbac.Owner, r.route.Permission) {
		return h.owner
	}
	for _, role := range h.roleOrder {
		if rbac.Allowed(role, r.route.Permission) {
			return h.roles[role]
		}
	}
	return h.admin
}

// singular strips an English plural, enough to match path segments and field names to collections.
func singular(s string) string {
	for _, suf := range []string{"ches", "shes", "sses", "xes"} {
		if strings.HasSuffix(s, suf) {
			return strings.TrimSuffix(s, "es")
		}
	}
	return strings.TrimSuffix(s, "s")
}

// idsFor returns ids of the collection a word names (batch, batches, fee_plans for plan), then every other
// id, so a pick among them prefers the right kind.
func (h *hostileEnv) idsFor(word string) []string {
	first := h.matchIDs(word)
	out := slices.Clone(first)
	for _, id := range h.allIDs {
		if !slices.Contains(first, id) {
			out = append(out, id)
		}
	}
	return out
}

// matchIDs returns the ids of the collection a word names, none when no collection matches.
func (h *hostileEnv) matchIDs(word string) []string {
	w := singular(word)
	if w == "staff" || w == "teacher" || w == "owner" {
		w = "user"
	}
	var out []string
	for name, ids := range h.ids {
		s := singular(name)
		if s == w || strings.HasSuffix(s, "_"+w) {
			out = append(out, ids...)
		}
	}
	slices.Sort(out)
	return out
}

// concrete fills r's path parameters: ids of the collection the preceding segment names (pick chooses
// among them), the spare institution's slug, a demo PRN.
func (h *hostileEnv) concrete(r writeRoute, pick uint8) string {
	parts := strings.Split(r.path, "/")
	for i, p := range parts {
		if !strings.HasPrefix(p, "{") {
			continue
		}
		switch p {
		case "{slug}":
			parts[i] = h.spare
		case "{prn}":
			parts[i] = h.prns[int(pick)%len(h.prns)]
		case "{kind}":
			parts[i] = "attendance.absence" // a notification kind
		case "{language}":
			parts[i] = "en"
		case "{provider}":
			parts[i] = "razorpay" // a payment gateway
		case "{institution}":
			parts[i] = seed.DemoSlug // a webhook's institution: the hostile bodies reach its signature check
		default:
			word := strings.Trim(p, "{}")
			if word == "id" && i > 0 {
				word = parts[i-1]
			}
			ids := h.idsFor(word)
			parts[i] = ids[int(pick)%len(ids)]
		}
	}
	return strings.Join(parts, "/")
}

// example builds a plausible body for t: every field when full, only the required ones (no omitempty, not
// a pointer) otherwise. Values come from the field's name (dates, ids of the collection it names, money,
// emails) so that many examples pass validation and the hostile variants reach past it.
func (h *hostileEnv) example(t reflect.Type, full bool) map[string]any {
	h.n++
	out := map[string]any{}
	for _, f := range jsonFields(t) {
		if !full && !f.required {
			continue
		}
		out[f.name] = h.value(t.Name(), f.name, f.typ, full)
	}
	return out
}

type jsonField struct {
	name     string
	typ      reflect.Type
	required bool
}

func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		req := !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") && f.Type.Kind() != reflect.Pointer
		out = append(out, jsonField{name: name, typ: f.Type, required: req})
	}
	return out
}

// hints are values for field names whose valid values are a vocabulary, keyed "Type.field" or "field".
var hints = map[string]any{
	"method": "cash", "weekday": "monday", "start": "09:00", "role": "teacher", "status": "present",
	"Schedule.kind": "count", "LateFeeRule.kind": "flat", "NewConcession.kind": "percent",
	"currency": "INR", "timezone": "Asia/Kolkata", "cluster": "second", "primary_color": "#1a73e8",
	"logo_url": "https://example.test/logo.png", "basis_points": 1000,
	"count": 2, "interval_months": 1, "capacity": 30, "duration_minutes": 60, "grace_days": 5,
	"percentages": []any{5000, 5000}, "days_before": []any{3}, "days_overdue": []any{1},
	"current_password": "not-the-password-1", "refresh_token": "not-a-refresh-token",
	"escalate_after_days": 10, "EscalationRule.after": 2, "EscalationRule.notify": "guardians",
	"SettingsInput.channels": []any{"sms", "email"}, "PreferencesInput.channels": []any{"whatsapp", "sms"},
	"opt_outs": []any{"fees.reminder"}, "QuietHours.from": "21:00", "QuietHours.to": "07:00", "language": "hi",
	"VerifyInput.channel": "email", "ConfirmInput.channel": "email", "ConfirmInput.code": "123456",
}

func (h *hostileEnv) value(typeName, field string, t reflect.Type, full bool) any {
	if v, ok := hints[typeName+"."+field]; ok {
		return v
	}
	if v, ok := hints[field]; ok {
		return v
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return "2026-07-01T09:00:00Z"
	}
	switch t.Kind() {
	case reflect.String:
		switch {
		case isDateField(field):
			if strings.Contains(field, "birth") {
				return "2010-04-01"
			}
			return "2026-07-01"
		case strings.HasSuffix(field, "_id"):
			return h.idsFor(strings.TrimSuffix(field, "_id"))[0]
		case strings.Contains(field, "email"):
			return fmt.Sprintf("fuzz%d@example.test", h.n)
		case strings.Contains(field, "phone"):
			return fmt.Sprintf("+91%010d", 9000000000+h.n)
		case strings.Contains(field, "password"):
			return "fuzz-password-1"
		case field == "slug":
			return fmt.Sprintf("fuzz-%d", h.n)
		case field == "code":
			return fmt.Sprintf("FZ%d", h.n)
		}
		return fmt.Sprintf("Fuzz %s %d", field, h.n)
	case reflect.Bool:
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if isMoneyField(field) {
			return 100000
		}
		return 1
	case reflect.Float32, reflect.Float64:
		return 1.5
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.String {
			if isDateField(field) {
				return []any{"2026-07-01"}
			}
			if ids := h.matchIDs(field); len(ids) > 0 {
				return []any{ids[0]}
			}
		}
		return []any{h.value(t.Elem().Name(), singular(field), t.Elem(), full)}
	case reflect.Map:
		return map[string]any{}
	case reflect.Struct:
		return h.example(t, full)
	}
	return nil
}

var timeType = reflect.TypeFor[time.Time]()

func isDateField(name string) bool {
	return strings.Contains(name, "date") || strings.HasSuffix(name, "_on") || name == "from" || name == "to" || name == "until"
}

func isMoneyField(name string) bool {
	for _, w := range []string{"amount", "total", "cap", "price", "fee"} {
		if name == w || strings.HasSuffix(name, "_"+w) || strings.HasPrefix(name, w+"_") {
			return true
		}
	}
	return false
}

// knownCodes are the problem codes the API documents (README, "The API contract").
var knownCodes = map[string]bool{}

func init() {
	for _, c := range []apperr.Code{apperr.Invalid, apperr.Unauthenticated, apperr.Forbidden, apperr.NotFound, apperr.Conflict,
		apperr.TooLarge, apperr.UnsupportedType, apperr.MethodNotAllowed, apperr.RateLimited, apperr.Suspended, apperr.Unavailable} {
		knownCodes[string(c)] = true
	}
}

// send serves one request on h's edugrid. It takes no testing.TB: the fuzz target calls it while fuzzing,
// when its *testing.F must not be touched.
func (h *hostileEnv) send(method, path, token, contentType string, body io.Reader) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	h.n++
	req.Header.Set("Idempotency-Key", fmt.Sprintf("hostile-%d", h.n))
	// Each request from its own address: the login route's per-address limit is not what is under test.
	req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:1234", h.n>>16&255, h.n>>8&255, h.n&255)
	rec := httptest.NewRecorder()
	h.env.Handler.ServeHTTP(rec, req)
	return rec
}

// verdict checks one answer: never a 5xx; a 4xx is problem+json with a documented code and wrote nothing.
// It returns the problem (nil for a success) and an error describing a violation.
func (h *hostileEnv) verdict(t *testing.T, what string, rec *httptest.ResponseRecorder) (*apptest.Problem, error) {
	t.Helper()
	writes := h.written(t)
	if rec.Code >= 500 {
		return nil, fmt.Errorf("%s answered %d: %s", what, rec.Code, rec.Body)
	}
	if rec.Code < 400 {
		return nil, nil
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		return nil, fmt.Errorf("%s answered %d as %q, not problem+json: %s", what, rec.Code, ct, rec.Body)
	}
	var p apptest.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		return nil, fmt.Errorf("%s answered %d with an undecodable problem %q: %v", what, rec.Code, rec.Body, err)
	}
	if !knownCodes[p.Code] || p.Status != rec.Code || (rec.Code != http.StatusMethodNotAllowed && httpapi.StatusOf(apperr.Code(p.Code)) != rec.Code) {
		return &p, fmt.Errorf("%s answered %d with problem code %q (status %d)", what, rec.Code, p.Code, p.Status)
	}
	if len(writes) > 0 {
		return &p, fmt.Errorf("%s was refused (%d %s: %s) but wrote %v", what, rec.Code, p.Code, p.Detail, writes)
	}
	// Every bad field comes with a code a frontend can translate, and the map and the list agree.
	for _, fe := range p.Errors {
		if !slices.Contains(apperr.FieldCodes(), apperr.FieldCode(fe.Code)) || fe.Message == "" || p.Fields[fe.Field] == "" {
			return &p, fmt.Errorf("%s answered the field error %+v: want a known code, a message and the same field in fields %v", what, fe, p.Fields)
		}
	}
	if p.Code == string(apperr.Invalid) && len(p.Fields) > 0 && len(p.Errors) == 0 {
		return &p, fmt.Errorf("%s answered fields %v without an errors list", what, p.Fields)
	}
	return &p, nil
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// post sends a JSON body to a write route with a token that may call it.
func (h *hostileEnv) post(r writeRoute, path string, body []byte) *httptest.ResponseRecorder {
	return h.send(r.route.Method, path, h.tokenFor(r), "application/json", bytes.NewReader(body))
}

// indexesOf returns every collection of db with the specs of its indexes (_id's included).
func indexesOf(tb testing.TB, db lungo.IDatabase) map[string][]bson.M {
	tb.Helper()
	ctx := context.Background()
	names, err := db.ListCollectionNames(ctx, bson.M{})
	if err != nil {
		tb.Fatal(err)
	}
	out := make(map[string][]bson.M, len(names))
	for _, name := range names {
		cur, err := db.Collection(name).Indexes().List(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		var specs []bson.M
		if err := cur.All(ctx, &specs); err != nil {
			tb.Fatal(err)
		}
		out[name] = specs
	}
	return out
}
