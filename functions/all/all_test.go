package all_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
)

var update = flag.Bool("update", false, "rewrite openapi.json at the repository root from the route tables")

// The committed document is what the frontend codes against; this test fails when a route changes without
// the document being regenerated (go test ./functions/all -update).
func TestCommittedDocumentIsCurrent(t *testing.T) {
	env := apptest.New(t)
	got, err := json.MarshalIndent(all.Document(env.Areas), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const path = "../../openapi.json"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read committed document: %v (run go test ./functions/all -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("openapi.json is out of date with the route tables: run go test ./functions/all -update and commit it")
	}
}

var param = regexp.MustCompile(`\{[^}]+\}`)

// Every documented operation must be served (the router knows it), and every served route documented.
func TestDocumentMatchesServedRoutes(t *testing.T) {
	env := apptest.New(t)
	doc := all.Document(env.Areas)
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v", doc["openapi"])
	}
	paths := doc["paths"].(map[string]map[string]any)

	documented := map[string]bool{}
	for path, ops := range paths {
		for method, raw := range ops {
			op := raw.(map[string]any)
			key := strings.ToUpper(method) + " " + path
			documented[key] = true

			perm := rbac.Permission(op["x-permission"].(string))
			if perm != rbac.Public && perm != rbac.Self && !slices.Contains(rbac.Permissions(), perm) {
				t.Errorf("%s: permission %q is held by no role", key, perm)
			}
			sec := op["security"].([]any)
			if (perm == rbac.Public) != (len(sec) == 0) {
				t.Errorf("%s: security %v does not match permission %s", key, sec, perm)
			}

			concrete := param.ReplaceAllString(path, "0123456789abcdef01234567")
			rec := env.Do(strings.ToUpper(method), concrete, "", nil)
			if rec.Code == http.StatusMethodNotAllowed || strings.Contains(rec.Body.String(), "no such route") {
				t.Errorf("%s is documented but not served: %d %s", key, rec.Code, rec.Body)
			}
			if perm != rbac.Public && rec.Code != http.StatusUnauthorized {
				t.Errorf("%s without a token answered %d, want 401", key, rec.Code)
			}
		}
	}
	served := 0
	for _, a := range env.Areas {
		for _, rt := range a.Routes {
			served++
			// The document names an area root "/{$}" as the bare prefix, as httpapi.Document does.
			key := rt.Method + " " + httpapi.DocumentPath(a.Name, rt.Path)
			if !documented[key] {
				t.Errorf("%s is served but not documented", key)
			}
		}
	}
	if served != len(documented) {
		t.Errorf("%d routes served, %d documented", served, len(documented))
	}
	if rec := env.Do("GET", "/users/no-such-thing", "", nil); rec.Code != http.StatusNotFound {
		t.Errorf("an undocumented path answered %d, want 404", rec.Code)
	}
}
