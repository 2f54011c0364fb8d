package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/rbac"
)

type createNote struct {
	Text   string     `json:"text"`
	Tags   []string   `json:"tags"`
	Pinned bool       `json:"pinned,omitempty"`
	Due    *time.Time `json:"due"`
	Secret string     `json:"-"`
}

type note struct {
	ID      string    `json:"id"`
	Text    string    `json:"text"`
	Created time.Time `json:"created"`
}

// servedDocument builds the document for a small area and reads it back the way a client would, through
// DocumentHandler, so the test sees the JSON and not Go maps.
func servedDocument(t *testing.T) map[string]any {
	t.Helper()
	ok := func(http.ResponseWriter, *http.Request) error { return nil }
	area := NewArea("learning", []Route{
		{
			Method: "POST", Path: "/courses/{course}/notes", Permission: rbac.StaffWrite, Summary: "Add a note",
			Request: createNote{}, Response: note{}, Status: http.StatusCreated,
			Query: []QueryParam{{Name: "notify", Description: "tell the learners"}, {Name: "audience", Description: "who sees it", Enum: []string{"staff", "learners"}}}, Handler: ok,
		},
		{
			Method: "GET", Path: "/notes", Permission: rbac.Public, Summary: "List notes",
			Response: Page[note]{}, Query: PageQuery, Handler: ok,
		},
	}, Options{Auth: &fakeAuth{}})
	rec := httptest.NewRecorder()
	DocumentHandler(Document("edugrid", "test", area)).ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.json", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("document is not JSON: %v", err)
	}
	return doc
}

// dig walks doc along keys (object keys, or decimal indexes into arrays) and fails if a step is missing.
func dig(t *testing.T, doc any, keys ...string) any {
	t.Helper()
	cur := doc
	for i, k := range keys {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[k]
			if !ok {
				t.Fatalf("document has no %s", strings.Join(keys[:i+1], " > "))
			}
			cur = next
		default:
			t.Fatalf("document at %s is %T, not an object", strings.Join(keys[:i], " > "), cur)
		}
	}
	return cur
}

func TestDocument(t *testing.T) {
	doc := servedDocument(t)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", doc["openapi"])
	}

	post := dig(t, doc, "paths", "/learning/courses/{course}/notes", "post")
	if got := dig(t, post, "x-permission"); got != "staff.write" {
		t.Errorf("x-permission = %v, want staff.write", got)
	}
	if sec := dig(t, post, "security").([]any); len(sec) != 1 || dig(t, sec[0], "bearer") == nil {
		t.Errorf("protected route security = %v, want bearer", sec)
	}
	params := map[string]map[string]any{}
	for _, p := range dig(t, post, "parameters").([]any) {
		pm := p.(map[string]any)
		params[pm["in"].(string)+":"+pm["name"].(string)] = pm
	}
	if p := params["path:course"]; p == nil || p["required"] != true {
		t.Errorf("path parameter course = %v, want required", p)
	}
	if p := params["query:notify"]; p == nil || p["required"] != false || p["description"] != "tell the learners" {
		t.Errorf("query parameter notify = %v", p)
	}
	if p := params["query:notify"]; p["schema"].(map[string]any)["enum"] != nil {
		t.Errorf("query parameter notify = %v, want no enum", p)
	}
	if p := params["query:audience"]; p == nil || fmt.Sprint(p["schema"].(map[string]any)["enum"]) != "[staff learners]" {
		t.Errorf("query parameter audience = %v, want its enum", p)
	}
	if len(params) != 3 {
		t.Errorf("parameters = %v, want course, notify and audience", params)
	}

	ref := dig(t, post, "requestBody", "content", "application/json", "schema", "$ref").(string)
	name, ok := strings.CutPrefix(ref, "#/components/schemas/")
	if !ok {
		t.Fatalf("requestBody $ref = %q", ref)
	}
	body := dig(t, doc, "components", "schemas", name)
	// Pointer and omitempty fields are optional; "-" fields do not exist for the client.
	if got := dig(t, body, "required"); !reflect.DeepEqual(got, []any{"tags", "text"}) {
		t.Errorf("required = %v, want [tags text]", got)
	}
	props := dig(t, body, "properties").(map[string]any)
	if _, leaked := props["Secret"]; leaked || len(props) != 4 {
		t.Errorf("properties = %v, want text, tags, pinned, due", props)
	}
	if got := dig(t, props, "due", "type"); !reflect.DeepEqual(got, []any{"string", "null"}) {
		t.Errorf("due type = %v, want [string null]", got)
	}
	if got := dig(t, props, "due", "format"); got != "date-time" {
		t.Errorf("due format = %v", got)
	}

	if dig(t, post, "responses", "201", "content", "application/json", "schema", "$ref") == nil {
		t.Error("201 response has no schema")
	}
	// Each error the route can answer is a response of its own, every one a problem+json Problem.
	responses := dig(t, post, "responses").(map[string]any)
	for _, status := range []string{"400", "401", "403", "404", "409", "413", "415", "default"} {
		ref, _ := dig(t, responses, status, "$ref").(string)
		name, ok := strings.CutPrefix(ref, "#/components/responses/")
		if !ok {
			t.Errorf("response %s = %v, want a component response", status, responses[status])
			continue
		}
		if got := dig(t, doc, "components", "responses", name, "content", "application/problem+json", "schema", "$ref"); got != "#/components/schemas/Problem" {
			t.Errorf("response %s (%s) schema = %v, want the Problem component", status, name, got)
		}
	}
	if _, ok := responses["429"]; ok {
		t.Error("a route without RateLimited documents 429")
	}

	get := dig(t, doc, "paths", "/learning/notes", "get")
	if sec, ok := dig(t, get, "security").([]any); !ok || len(sec) != 0 {
		t.Errorf("public route security = %v, want []", dig(t, get, "security"))
	}
	if got := dig(t, get, "x-permission"); got != "public" {
		t.Errorf("public x-permission = %v", got)
	}
	if _, ok := get.(map[string]any)["requestBody"]; ok {
		t.Error("a route without a Request documents a body")
	}
	getResponses := dig(t, get, "responses").(map[string]any)
	for _, status := range []string{"401", "403", "404", "409", "413", "415"} {
		if _, ok := getResponses[status]; ok {
			t.Errorf("a public GET without path parameters or body documents %s", status)
		}
	}
	// limit is an integer from 1 to MaxLimit, as ParsePage enforces.
	for _, p := range dig(t, get, "parameters").([]any) {
		if pm := p.(map[string]any); pm["name"] == "limit" {
			if s := pm["schema"].(map[string]any); s["type"] != "integer" || s["minimum"] != 1.0 || s["maximum"] != float64(MaxLimit) {
				t.Errorf("limit schema = %v, want an integer 1..%d", s, MaxLimit)
			}
		}
	}
	if servers := dig(t, doc, "servers").([]any); len(servers) == 0 {
		t.Error("document has no servers")
	}
}

type stage string

var stages = []stage{"new", "won", "lost"}

func (stage) Values() []string { return EnumValues(stages) }

type leadForm struct {
	Stage    stage    `json:"stage"`
	Previous *stage   `json:"previous"`
	Born     string   `json:"born" format:"date"`
	Starts   string   `json:"starts" format:"time"`
	Month    string   `json:"month" format:"month"`
	Dates    []string `json:"dates" format:"date"`
	Note     string   `json:"note"`
}

// The document tells what the Go types allow: an Enum kind's values, the formats fields declare, required
// and typed query parameters with their older names, and the Idempotency-Key header with the replay's 200.
func TestDocumentSaysWhatTheTypesAllow(t *testing.T) {
	ok := func(http.ResponseWriter, *http.Request) error { return nil }
	area := NewArea("leads", []Route{
		{Method: "POST", Path: "/{$}", Permission: rbac.LeadsWrite, Summary: "Record a lead", Request: leadForm{}, Response: leadForm{},
			Status: http.StatusCreated, IdempotencyKey: true, Handler: ok},
		{Method: "GET", Path: "/{$}", Permission: rbac.Public, Summary: "List leads", Response: Page[leadForm]{}, Handler: ok,
			Query: []QueryParam{
				{Name: "stage", Description: "only this stage", Type: stage(""), Required: true},
				{Name: "batch", Description: "a batch id", Aliases: []string{"batch_id"}},
				{Name: "from", Description: "first day", Format: FormatDate},
			}},
	}, Options{Auth: &fakeAuth{}})
	raw, err := json.Marshal(Document("edugrid", "test", area))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	paths := dig(t, doc, "paths").(map[string]any)
	if _, ok := paths["/leads/"]; ok {
		t.Error(`the area root is documented as "/leads/", want "/leads"`)
	}
	post := dig(t, paths, "/leads", "post")
	props := dig(t, doc, "components", "schemas", "leadForm", "properties").(map[string]any)
	tests := []struct {
		field string
		want  map[string]any
	}{
		{"stage", map[string]any{"type": "string", "enum": []any{"new", "won", "lost"}}},
		{"previous", map[string]any{"type": []any{"string", "null"}, "enum": []any{"new", "won", "lost", nil}}},
		{"born", map[string]any{"type": "string", "format": "date"}},
		{"starts", map[string]any{"type": "string", "pattern": timePattern}},
		{"month", map[string]any{"type": "string", "pattern": monthPattern}},
		{"dates", map[string]any{"type": "array", "items": map[string]any{"type": "string", "format": "date"}}},
		{"note", map[string]any{"type": "string"}},
	}
	for _, tt := range tests {
		if got := props[tt.field]; !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s schema = %v, want %v", tt.field, got, tt.want)
		}
	}
	example := dig(t, post, "requestBody", "content", "application/json", "example").(map[string]any)
	wantExample := map[string]any{"stage": "new", "previous": "new", "born": "2026-06-01", "starts": "09:30", "month": "2026-06", "dates": []any{"2026-06-01"}}
	for k, v := range wantExample {
		if !reflect.DeepEqual(example[k], v) {
			t.Errorf("example %s = %v, want %v", k, example[k], v)
		}
	}

	params := map[string]map[string]any{}
	for _, p := range dig(t, paths, "/leads", "get", "parameters").([]any) {
		pm := p.(map[string]any)
		params[pm["name"].(string)] = pm
	}
	if p := params["stage"]; p["required"] != true || !reflect.DeepEqual(dig(t, p, "schema", "enum"), []any{"new", "won", "lost"}) {
		t.Errorf("stage parameter = %v, want required with the stages", p)
	}
	if p := params["batch"]; p["required"] != false || p["deprecated"] != nil {
		t.Errorf("batch parameter = %v", p)
	}
	if p := params["batch_id"]; p == nil || p["deprecated"] != true {
		t.Errorf("older name batch_id = %v, want a deprecated parameter", p)
	}
	if got := dig(t, params["from"], "schema", "format"); got != "date" {
		t.Errorf("from format = %v", got)
	}

	var headers []any
	for _, p := range dig(t, post, "parameters").([]any) {
		headers = append(headers, p.(map[string]any)["$ref"])
	}
	if !reflect.DeepEqual(headers, []any{"#/components/parameters/IdempotencyKey"}) {
		t.Errorf("POST parameters = %v, want the Idempotency-Key header", headers)
	}
	if got := dig(t, doc, "components", "parameters", "IdempotencyKey", "in"); got != "header" {
		t.Errorf("Idempotency-Key is in %v", got)
	}
	replay := dig(t, post, "responses", "200").(map[string]any)
	if !reflect.DeepEqual(dig(t, replay, "content"), dig(t, post, "responses", "201", "content")) {
		t.Error("the replay's 200 does not carry the 201's body")
	}
	if dig(t, replay, "headers", "Idempotent-Replayed") == nil {
		t.Error("the replay's 200 does not document Idempotent-Replayed")
	}
}

// Every error response's example is the body WriteError writes for that code, and an operation's
// responses are exactly the errors its shape implies.
func TestDocumentErrorResponses(t *testing.T) {
	responses := problemResponses()
	for _, d := range documentedErrors() {
		r := responses[responseName(d.code)].(map[string]any)
		ex := r["content"].(map[string]any)["application/problem+json"].(map[string]any)["example"].(map[string]any)
		if ex["code"] != string(d.code) || ex["status"] != float64(StatusOf(d.code)) || ex["detail"] != d.example.Message {
			t.Errorf("%s example = %v", d.code, ex)
		}
	}
	tests := []struct {
		name  string
		route Route
		path  bool
		want  []apperr.Code
	}{
		{"public read", Route{Method: "GET", Permission: rbac.Public}, false, nil},
		{"read by id", Route{Method: "GET", Permission: rbac.StaffRead}, true, []apperr.Code{apperr.Invalid, apperr.Unauthenticated, apperr.Forbidden, apperr.NotFound}},
		{"write", Route{Method: "POST", Permission: rbac.StaffWrite, Request: struct{}{}}, false,
			[]apperr.Code{apperr.Invalid, apperr.Unauthenticated, apperr.Forbidden, apperr.Conflict, apperr.TooLarge, apperr.UnsupportedType}},
		{"the caller's own session", Route{Method: "POST", Permission: rbac.Self}, false, []apperr.Code{apperr.Unauthenticated, apperr.Forbidden}},
		{"sign-in", Route{Method: "POST", Permission: rbac.Public, Request: struct{}{}, Errors: []apperr.Code{apperr.Unauthenticated, apperr.RateLimited}}, false,
			[]apperr.Code{apperr.Invalid, apperr.Unauthenticated, apperr.TooLarge, apperr.UnsupportedType, apperr.RateLimited}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := routeErrors(tt.route, tt.path); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("routeErrors = %v, want %v", got, tt.want)
			}
		})
	}
}

// Every $ref must lead to a component that describes something: a dangling or self-referencing reference
// makes generated clients fail.
func TestDocumentReferencesResolve(t *testing.T) {
	doc := servedDocument(t)
	schemas := dig(t, doc, "components", "schemas").(map[string]any)
	for _, name := range []string{"Problem", "createNote", "note", "notePage"} {
		if _, ok := schemas[name]; !ok {
			t.Errorf("component %q missing; have %v", name, keys(schemas))
		}
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok && !strings.HasPrefix(ref, "#/components/schemas/") {
				section, name, _ := strings.Cut(strings.TrimPrefix(ref, "#/components/"), "/")
				if _, ok := dig(t, doc, "components", section).(map[string]any)[name]; !ok {
					t.Errorf("%s: $ref %q does not resolve", path, ref)
				}
			} else if ok {
				name := strings.TrimPrefix(ref, "#/components/schemas/")
				target, ok := schemas[name].(map[string]any)
				if !ok {
					t.Errorf("%s: $ref %q does not resolve", path, ref)
				} else if target["type"] != "object" || target["properties"] == nil {
					t.Errorf("%s: $ref %q resolves to %v, not an object schema", path, ref, target)
				}
			}
			for k, c := range v {
				walk(path+"/"+k, c)
			}
		case []any:
			for _, c := range v {
				walk(path+"[]", c)
			}
		}
	}
	walk("#", doc)

	problem := dig(t, schemas, "Problem", "properties").(map[string]any)
	for _, field := range []string{"type", "title", "status", "detail", "code", "request_id"} {
		if _, ok := problem[field]; !ok {
			t.Errorf("Problem schema lacks %q", field)
		}
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

type minutes struct {
	Length int    `json:"length" example:"45"`
	Label  string `json:"label" example:"45 min"`
}

type choice struct {
	Email string `json:"email,omitempty"`
	PRN   string `json:"prn,omitempty"`
}

func (choice) Example() any { return choice{PRN: "00419260000175"} }

// An example comes, most specific first, from the route (Route.Example), the type (Exampler), the field's
// tag (JSON for a non-string field), then the field's type and name.
func TestExampleSources(t *testing.T) {
	tests := []struct {
		name  string
		route Route
		want  any
	}{
		{"tag", Route{Request: minutes{}}, map[string]any{"length": 45.0, "label": "45 min"}},
		{"type", Route{Request: choice{}}, map[string]any{"prn": "00419260000175"}},
		{"route", Route{Request: choice{}, Example: choice{Email: "asha.rao@example.edu"}}, map[string]any{"email": "asha.rao@example.edu"}},
		{"pointer to a type with an example", Route{Request: struct {
			C *choice `json:"c"`
		}{}}, map[string]any{"c": map[string]any{"prn": "00419260000175"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := requestExample(tt.route); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("example = %#v, want %#v", got, tt.want)
			}
		})
	}
}
