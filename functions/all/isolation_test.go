package all_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/scripts/seed"
	"github.com/edugrid/edugrid/shared/rbac"
)

// TestIsolationSweep walks every non-public route of the API document with the owner token of one
// institution and the identifiers of another's objects: the seeded demo institution, with data in every
// area. Every answer must be a refusal (4xx), no answer may carry the other institution's identifiers,
// and the other institution's database must be byte-for-byte unchanged afterwards.
func TestIsolationSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds a whole institution and sends thousands of requests; run without -short")
	}
	ctx := context.Background()
	env := apptest.New(t)
	if _, _, err := seed.Demo(ctx, env.App, apptest.Password); err != nil {
		t.Fatalf("seed the other institution: %v", err)
	}
	alpha := env.Provision("alpha")
	token := env.Login("alpha", alpha.OwnerEmail).AccessToken
	if rec := env.Do("GET", "/auth/me", token, nil); rec.Code != http.StatusOK {
		t.Fatalf("alpha's owner token does not work: %d %s", rec.Code, rec.Body)
	}

	db := env.TenantDB(seed.DemoSlug)

	// A few ids of every collection of the victim, and its PRNs.
	var ids, prns []string
	names, err := db.ListCollectionNames(ctx, bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	snapshot := func() map[string][]string {
		t.Helper()
		out := map[string][]string{}
		for _, name := range names {
			cur, err := db.Collection(name).Find(ctx, bson.M{})
			if err != nil {
				t.Fatal(err)
			}
			var docs []bson.Raw
			if err := cur.All(ctx, &docs); err != nil {
				t.Fatal(err)
			}
			for _, d := range docs {
				out[name] = append(out[name], string(d))
			}
			slices.Sort(out[name])
		}
		return out
	}
	before := snapshot()
	for _, name := range names {
		cur, err := db.Collection(name).Find(ctx, bson.M{})
		if err != nil {
			t.Fatal(err)
		}
		var docs []bson.M
		if err := cur.All(ctx, &docs); err != nil {
			t.Fatal(err)
		}
		taken := 0
		for _, d := range docs {
			if s, ok := d["_id"].(string); ok && len(s) == 24 && taken < 3 {
				ids = append(ids, s)
				taken++
			}
			if p, ok := d["prn"].(string); ok && len(prns) < 5 {
				prns = append(prns, p)
			}
		}
	}
	if len(ids) < 20 || len(prns) == 0 {
		t.Fatalf("the seeded institution has too little to sweep: %d ids, %d PRNs", len(ids), len(prns))
	}

	doc := all.Document(env.Areas)
	paths := doc["paths"].(map[string]map[string]any)
	requests := 0
	statuses := map[int]int{}
	for path, ops := range paths {
		params := param.FindAllString(path, -1)
		for method, raw := range ops {
			perm := rbac.Permission(raw.(map[string]any)["x-permission"].(string))
			if perm == rbac.Public || perm == rbac.Self {
				continue // public by design (login, branding, JWKS), or acting on the caller alone (logout-all)
			}
			method = strings.ToUpper(method)
			var values []string
			switch {
			case len(params) == 0:
				values = []string{""}
			case strings.Contains(path, "{prn}"):
				values = prns
			case strings.Contains(path, "{slug}"):
				values = []string{seed.DemoSlug}
			default:
				values = ids
			}
			for _, v := range values {
				concrete := param.ReplaceAllString(path, v)
				var body any
				if method != http.MethodGet {
					body = "{}"
				}
				rec := env.Do(method, concrete, token, body)
				requests++
				statuses[rec.Code]++
				if rec.Code == http.StatusUnauthorized {
					t.Fatalf("%s %s answered 401: the sweep's token stopped working: %s", method, concrete, rec.Body)
				}
				leaked := leaks(rec.Body.Bytes(), ids, prns, v)
				switch {
				case len(params) == 0 && rec.Code < 300:
					// A list or a create of alpha's own: it may succeed, but must show nothing of the victim.
					if leaked != "" {
						t.Errorf("%s %s answered %d with the other institution's %s", method, concrete, rec.Code, leaked)
					}
				case rec.Code < 400:
					t.Errorf("%s %s with the other institution's id answered %d: %s", method, concrete, rec.Code, rec.Body)
				case leaked != "":
					t.Errorf("%s %s refused (%d) but its answer carries %s", method, concrete, rec.Code, leaked)
				}
			}
			// Query parameters that name an object (?student=, ?batch=) get the victim's ids too: a list
			// filtered by another institution's object may be empty or refused, never show it.
			if method != http.MethodGet || len(params) > 0 {
				continue
			}
			op := raw.(map[string]any)
			qps, _ := op["parameters"].([]any)
			for _, qp := range qps {
				q := qp.(map[string]any)
				name, _ := q["name"].(string)
				if q["in"] != "query" || !idQuery[name] {
					continue
				}
				for _, v := range ids {
					concrete := path + "?" + name + "=" + v
					rec := env.Do(method, concrete, token, nil)
					requests++
					statuses[rec.Code]++
					if rec.Code == http.StatusInternalServerError || rec.Code == http.StatusUnauthorized {
						t.Errorf("%s %s answered %d: %s", method, concrete, rec.Code, rec.Body)
					}
					// The asked id may be echoed (a filter's own value); any other of the victim's may not appear.
					others := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == v })
					if leaked := leaks(rec.Body.Bytes(), others, prns, ""); leaked != "" {
						t.Errorf("%s %s answered %d with the other institution's %s", method, concrete, rec.Code, leaked)
					}
				}
			}
		}
	}
	if requests < 500 {
		t.Fatalf("only %d requests: the sweep did not cover the API", requests)
	}
	after := snapshot()
	for _, name := range names {
		if !slices.Equal(before[name], after[name]) {
			t.Errorf("the sweep changed the other institution's %s collection", name)
		}
	}
	t.Logf("%d requests over %d paths; %d ids and %d PRNs of the other institution; answers by status: %v", requests, len(paths), len(ids), len(prns), statuses)
}

// idQuery are the query parameters that name an object by id.
var idQuery = map[string]bool{"student": true, "batch": true, "batch_id": true, "branch": true, "course": true, "test": true, "quiz": true, "counsellor": true, "id": true}

// leaks returns the first of the victim's ids or PRNs that appears in an answer, ignoring the one the
// request itself named (a problem's instance field echoes the path).
func leaks(body []byte, ids, prns []string, asked string) string {
	var p map[string]any
	text := string(body)
	if json.Unmarshal(body, &p) == nil {
		delete(p, "instance")
		b, _ := json.Marshal(p)
		text = string(b)
	}
	for _, s := range append(append([]string{}, ids...), prns...) {
		if s != asked && strings.Contains(text, s) {
			return fmt.Sprintf("identifier %s", s)
		}
	}
	if asked != "" && strings.Contains(text, asked) {
		return fmt.Sprintf("identifier %s", asked)
	}
	return ""
}
