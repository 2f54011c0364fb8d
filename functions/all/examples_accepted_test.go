package all_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/256dpi/lungo"
	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/functions/platform"
	"github.com/edugrid/edugrid/scripts/seed"
	"github.com/edugrid/edugrid/shared/httpapi"
)

// documentedOp is one operation of the committed document, as a client reads it.
type documentedOp struct {
	method, path string
	op           map[string]any
}

func documentOps(t *testing.T, doc map[string]any) []documentedOp {
	t.Helper()
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var read struct {
		Paths map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(raw, &read); err != nil {
		t.Fatal(err)
	}
	var ops []documentedOp
	for path, methods := range read.Paths {
		for method, op := range methods {
			ops = append(ops, documentedOp{strings.ToUpper(method), path, op})
		}
	}
	slices.SortFunc(ops, func(a, b documentedOp) int { return strings.Compare(a.method+" "+a.path, b.method+" "+b.path) })
	return ops
}

// Every example request of the document, sent to its route on the seeded demo institution with a token that
// may call the route, is accepted: the decoder and the validation take it, so the answer is never 400, 413
// or 415. Only ids change: the example's ids, and the path's parameters, become ids of the demo's objects
// of the kind the field names. A 400 is allowed only when it refuses one of those ids (the demo's student
// is not enrolled in that test's batch, its teacher works at another branch), and 404 and 409 are allowed:
// they are about the demo's state, not the example. Whatever the answer, its status is one the document
// lists for the operation. When the route succeeds, its answer fits the documented
// response schema, enums and formats included, which the document's response example fits too, and the
// example shows every field the answer holds.
func TestDocumentExampleRequestsAreAccepted(t *testing.T) {
	// Routes whose well-formed request is refused unless an earlier step happened: a code is sent only to
	// a contact the caller has set, and confirmed only with the code that was sent. Their examples are
	// checked against their schemas (TestDocumentExamplesFitTheirSchemas) and their handlers by
	// functions/notifications' own tests.
	stateful := map[string]bool{"POST /notifications/me/contacts/verify": true, "POST /notifications/me/contacts/confirm": true}
	h := newHostileEnv(t)
	doc := all.Document(h.env.Areas)
	schemas := documentSchemas(t, doc)
	routes := map[string]writeRoute{}
	for _, r := range h.routes {
		routes[r.route.Method+" "+httpapi.DocumentPath(r.area, strings.TrimPrefix(r.path, "/"+r.area))] = r
	}
	sent, succeeded := 0, 0
	for _, d := range documentOps(t, doc) {
		body, ok := d.op["requestBody"].(map[string]any)
		if !ok {
			continue
		}
		key := d.method + " " + d.path
		r, ok := routes[key]
		if !ok {
			t.Errorf("%s: documented with a body but not a write route of the route tables", key)
			continue
		}
		example := body["content"].(map[string]any)["application/json"].(map[string]any)["example"]
		sentIDs := map[string]bool{}
		rec := h.post(r, h.concrete(r, 0), mustJSON(t, h.withDemoIDs("", example, sentIDs)))
		sent++
		if _, documented := d.op["responses"].(map[string]any)[strconv.Itoa(rec.Code)]; !documented && rec.Code < 500 {
			t.Errorf("%s answered %d, which the document does not list: %s", key, rec.Code, rec.Body)
		}
		switch {
		case rec.Code == http.StatusBadRequest && stateful[key]:
			continue // the request is right, the demo's state is not what it needs (see stateful)
		case rec.Code == http.StatusBadRequest && refusesAnID(rec.Body.Bytes(), sentIDs):
			continue // the demo's object of that kind is not one this route takes (not enrolled there, another branch)
		case rec.Code == http.StatusBadRequest || rec.Code == http.StatusRequestEntityTooLarge || rec.Code == http.StatusUnsupportedMediaType || rec.Code >= 500:
			t.Errorf("%s: the example request %s was refused: %d %s", key, mustJSON(t, example), rec.Code, rec.Body)
			continue
		case rec.Code >= 300:
			continue
		}
		succeeded++
		resp, ok := d.op["responses"].(map[string]any)[strconv.Itoa(rec.Code)].(map[string]any)
		if !ok {
			continue // reported above
		}
		content, _ := resp["content"].(map[string]any)
		media, ok := content["application/json"].(map[string]any)
		if !ok {
			if rec.Body.Len() > 0 {
				t.Errorf("%s answered %d with a body the document does not describe: %s", key, rec.Code, rec.Body)
			}
			continue
		}
		var got any
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Errorf("%s: answer is not JSON: %v", key, err)
			continue
		}
		if err := fits(schemas, media["schema"], got, ""); err != nil {
			t.Errorf("%s: the handler's answer does not fit the documented schema: %v\n%s", key, err, rec.Body)
		}
		if missing := notShown(got, media["example"], ""); len(missing) > 0 {
			t.Errorf("%s: the handler answered fields the example does not show: %v", key, missing)
		}
	}
	if sent < 40 {
		t.Fatalf("only %d example requests sent", sent)
	}
	t.Logf("%d example requests accepted, %d of them succeeded and their answers fit the document", sent, succeeded)

	// After every route has written to it, the demo institution's database still fits what placement
	// counts per institution (platform.NamespacesPerTenant): collections created on first write count too.
	colls, namespaces := countNamespaces(t, h.env.TenantDB(seed.DemoSlug))
	if namespaces > platform.NamespacesPerTenant {
		t.Errorf("the demo institution uses %d namespaces in %d collections after every example request; NamespacesPerTenant is %d",
			namespaces, colls, platform.NamespacesPerTenant)
	}
	t.Logf("the demo institution: %d collections, %d namespaces", colls, namespaces)
}

// countNamespaces returns db's collections and its namespaces: each collection and each of its indexes.
func countNamespaces(t *testing.T, db lungo.IDatabase) (collections, namespaces int) {
	t.Helper()
	all := indexesOf(t, db)
	for _, specs := range all {
		namespaces += 1 + len(specs)
	}
	return len(all), namespaces
}

func documentSchemas(t *testing.T, doc map[string]any) map[string]any {
	t.Helper()
	var read struct {
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(mustJSON(t, doc), &read); err != nil {
		t.Fatal(err)
	}
	return read.Components.Schemas
}

// exampleID is the id every example shows (shared/httpapi's examples).
const exampleID = "6650f1c2a9e4b0a1b2c3d4e5"

// withDemoIDs returns v with every example id replaced by the id of a demo object of the kind its field
// names (student_id: a student's; teachers: a user's), recording the ids it put in.
func (h *hostileEnv) withDemoIDs(field string, v any, sent map[string]bool) any {
	switch v := v.(type) {
	case string:
		if v != exampleID {
			return v
		}
		word := strings.TrimSuffix(strings.TrimSuffix(field, "_ids"), "_id")
		id := h.idsFor(word)[0]
		sent[id] = true
		return id
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = h.withDemoIDs(field, e, sent)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			out[k] = h.withDemoIDs(k, e, sent)
		}
		return out
	}
	return v
}

// refusesAnID reports whether a problem body refuses one of the given ids, or a field that holds one.
func refusesAnID(body []byte, ids map[string]bool) bool {
	var p struct {
		Detail string `json:"detail"`
	}
	if json.Unmarshal(body, &p) != nil {
		return false
	}
	for id := range ids {
		if strings.Contains(p.Detail, id) {
			return true
		}
	}
	field, _, _ := strings.Cut(p.Detail, ":")
	return len(ids) > 0 && (strings.HasSuffix(field, "_id") || strings.HasSuffix(field, "_ids") || field == "teachers" || field == "branches")
}

// Every read answers only statuses its operation documents: without a token, with a token that may call
// it (path parameters naming the demo's objects, no query), and naming an object that does not exist. Each
// answer it succeeds with fits the documented schema, and the example shows every field it holds.
func TestReadsAnswerOnlyDocumentedStatuses(t *testing.T) {
	h := newHostileEnv(t)
	doc := all.Document(h.env.Areas)
	paths := doc["paths"].(map[string]map[string]any)
	schemas := documentSchemas(t, doc)
	reads, answered := 0, 0
	for _, a := range h.env.Areas {
		for _, rt := range a.Routes {
			if rt.Method != http.MethodGet {
				continue
			}
			path := httpapi.DocumentPath(a.Name, rt.Path)
			r := writeRoute{area: a.Name, route: rt, path: path}
			responses := paths[path]["get"].(map[string]any)["responses"].(map[string]any)
			missing := param.ReplaceAllString(path, "0123456789abcdef01234567")
			for _, c := range []struct{ what, path, token string }{
				{"without a token", h.concrete(r, 0), ""},
				{"with a token", h.concrete(r, 0), h.tokenFor(r)},
				{"naming no object", missing, h.tokenFor(r)},
			} {
				rec := h.send("GET", c.path, c.token, "", nil)
				if _, ok := responses[strconv.Itoa(rec.Code)]; !ok && rec.Code < 500 {
					t.Errorf("GET %s %s answered %d, which the document does not list: %.300s", path, c.what, rec.Code, rec.Body)
				}
				if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
					continue
				}
				media := responses["200"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)
				var got any
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
					t.Errorf("GET %s: answer is not JSON: %v", path, err)
					continue
				}
				if err := fits(schemas, media["schema"], got, ""); err != nil {
					t.Errorf("GET %s: the handler's answer does not fit the documented schema: %v\n%.500s", path, err, rec.Body)
				}
				if missing := notShown(got, media["example"], ""); len(missing) > 0 {
					t.Errorf("GET %s: the handler answered fields the example does not show: %v", path, missing)
				}
				answered++
			}
			reads++
		}
	}
	if reads < 40 {
		t.Fatalf("only %d reads tried", reads)
	}
	t.Logf("%d reads tried, %d answers checked against their schema and example", reads, answered)
}

// notShown lists the fields of answer that example lacks, at the same place: objects by key, arrays by
// their first element. A map the schema keys freely (additionalProperties) shows one key, "key".
func notShown(answer, example any, at string) []string {
	switch a := answer.(type) {
	case map[string]any:
		e, ok := example.(map[string]any)
		if !ok {
			return nil
		}
		if _, free := e["key"]; free && len(e) == 1 {
			return nil
		}
		var out []string
		for k, v := range a {
			ev, ok := e[k]
			if !ok {
				out = append(out, at+"."+k)
				continue
			}
			out = append(out, notShown(v, ev, at+"."+k)...)
		}
		slices.Sort(out)
		return out
	case []any:
		e, ok := example.([]any)
		if !ok || len(a) == 0 || len(e) == 0 {
			return nil
		}
		return notShown(a[0], e[0], at+"[0]")
	}
	return nil
}
