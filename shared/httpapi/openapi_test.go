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
	if got := dig(t, post, "responses", "default", "content", "application/problem+json", "schema", "$ref"); got != "#/components/schemas/Problem" {
		t.Errorf("default response schema = %v, want the Problem component", got)
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
			if ref, ok := v["$ref"].(string); ok {
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
