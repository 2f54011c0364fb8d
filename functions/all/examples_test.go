package all_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/internal/apptest"
)

// Every request body, success response and error of the document has an example, and every example fits
// its own schema (types, required properties, no undeclared properties), so the examples a frontend
// developer copies are messages of the right shape.
func TestDocumentExamplesFitTheirSchemas(t *testing.T) {
	env := apptest.New(t)
	raw, err := json.Marshal(all.Document(env.Areas))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	checked := 0
	check := func(where string, media any) {
		t.Helper()
		m, _ := media.(map[string]any)
		ex, ok := m["example"]
		if !ok {
			t.Errorf("%s has no example", where)
			return
		}
		if err := fits(doc.Components.Schemas, m["schema"], ex, ""); err != nil {
			t.Errorf("%s: example does not fit its schema: %v", where, err)
		}
		checked++
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			where := strings.ToUpper(method) + " " + path
			if body, ok := op["requestBody"].(map[string]any); ok {
				check(where+" request", body["content"].(map[string]any)["application/json"])
			}
			for status, resp := range op["responses"].(map[string]any) {
				content, ok := resp.(map[string]any)["content"].(map[string]any)
				if !ok {
					continue
				}
				for mediaType, media := range content {
					check(fmt.Sprintf("%s %s %s", where, status, mediaType), media)
				}
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d examples checked", checked)
	}
}

// fits reports whether value is an instance of schema, as far as the document's schemas go.
func fits(components map[string]any, schema, value any, at string) error {
	s, _ := schema.(map[string]any)
	if ref, ok := s["$ref"].(string); ok {
		return fits(components, components[strings.TrimPrefix(ref, "#/components/schemas/")], value, at)
	}
	var types []string
	switch ty := s["type"].(type) {
	case string:
		types = []string{ty}
	case []any:
		for _, x := range ty {
			types = append(types, x.(string))
		}
	case nil:
		return nil // any value
	}
	kind := ""
	switch v := value.(type) {
	case nil:
		kind = "null"
	case string:
		kind = "string"
	case bool:
		kind = "boolean"
	case float64:
		kind = "number"
		if v == float64(int64(v)) && slices.Contains(types, "integer") {
			kind = "integer"
		}
	case []any:
		kind = "array"
		if slices.Contains(types, "array") {
			for i, e := range v {
				if err := fits(components, s["items"], e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	case map[string]any:
		kind = "object"
		if slices.Contains(types, "object") {
			props, _ := s["properties"].(map[string]any)
			required, _ := s["required"].([]any)
			for _, r := range required {
				if _, ok := v[r.(string)]; !ok {
					return fmt.Errorf("%s: required property %s missing", at, r)
				}
			}
			for k, e := range v {
				ps, declared := props[k]
				if !declared {
					ps = s["additionalProperties"]
					if ps == nil {
						return fmt.Errorf("%s: property %s is not in the schema", at, k)
					}
				}
				if err := fits(components, ps, e, at+"."+k); err != nil {
					return err
				}
			}
		}
	}
	if !slices.Contains(types, kind) {
		return fmt.Errorf("%s: %s where the schema says %v", at, kind, types)
	}
	return nil
}
