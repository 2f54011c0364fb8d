package all_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/internal/apptest"
)

// TestEveryListRefusesBadLimits sends every list route of the API document (every GET answering a page)
// a limit of 0, 201, "ten" and a cursor it never issued: each is refused with 400 naming limit or cursor,
// before anything is read, and the limit's message is the whole sentence.
func TestEveryListRefusesBadLimits(t *testing.T) {
	env := apptest.New(t)
	ten := env.Provision("alpha")
	owner := env.Login("alpha", ten.OwnerEmail).AccessToken
	doc := all.Document(env.Areas)
	paths := doc["paths"].(map[string]map[string]any)
	lists := 0
	for path, ops := range paths {
		op, ok := ops["get"].(map[string]any)
		if !ok {
			continue
		}
		ref, _ := dig(op, "responses", "200", "content", "application/json", "schema", "$ref").(string)
		if !strings.HasSuffix(ref, "Page") {
			continue
		}
		token := owner
		switch op["x-permission"] {
		case "platform.tenants":
			token = env.AdminToken()
		case "learning.study":
			continue // the caller's own courses: a student's route, covered in functions/learning
		}
		lists++
		concrete := param.ReplaceAllString(path, "0123456789abcdef01234567")
		sep := "?"
		if path == "/users/audit" {
			concrete, sep = concrete+"?kind=user&id=0123456789abcdef01234567", "&"
		}
		for query, field := range map[string]string{"limit=0": "limit", "limit=201": "limit", "limit=ten": "limit", "cursor=djE6": "cursor"} {
			rec := env.Do("GET", concrete+sep+query, token, nil)
			if rec.Code != http.StatusBadRequest {
				t.Errorf("GET %s%s%s = %d, want 400: %s", concrete, sep, query, rec.Code, rec.Body)
				continue
			}
			p := apptest.MustProblem(t, rec, http.StatusBadRequest, "invalid")
			if p.FieldCode(field) == "" {
				t.Errorf("GET %s%s%s: errors %+v, want %s named", concrete, sep, query, p.Errors, field)
			}
			if field == "limit" && p.Fields["limit"] != "must be a whole number from 1 to 200 (the default is 50)." {
				t.Errorf("GET %s%s%s: limit message %q", concrete, sep, query, p.Fields["limit"])
			}
		}
	}
	if lists < 25 {
		t.Fatalf("only %d list routes found in the document", lists)
	}
	t.Logf("%d list routes", lists)
}

// dig follows keys through nested JSON objects; nil when one is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
