package all_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/internal/apptest"
)

// Every request body, success response and error of the document has an example, and every example fits
// its own schema (types, required properties, no undeclared properties, enums, formats, patterns, bounds),
// so the examples a frontend developer copies are messages of the right shape and the right values.
func TestDocumentExamplesFitTheirSchemas(t *testing.T) {
	env := apptest.New(t)
	raw, err := json.Marshal(all.Document(env.Areas))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas    map[string]any            `json:"schemas"`
			Responses  map[string]map[string]any `json:"responses"`
			Parameters map[string]map[string]any `json:"parameters"`
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
	// The error responses operations refer to, and the Idempotency-Key header.
	for name, resp := range doc.Components.Responses {
		for mediaType, media := range resp["content"].(map[string]any) {
			check("response "+name+" "+mediaType, media)
		}
	}
	for name, param := range doc.Components.Parameters {
		check("parameter "+name, param)
	}
	if checked < 100 {
		t.Fatalf("only %d examples checked", checked)
	}
}

var (
	datePattern = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$`)
	dateTime    = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$`)
)

// fitsValue checks what JSON Schema says beyond the type: enum, format date and date-time, pattern,
// minimum and maximum.
func fitsValue(s map[string]any, value any, at string) error {
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, value) {
		return fmt.Errorf("%s: %v is not one of %v", at, value, enum)
	}
	if str, ok := value.(string); ok {
		switch s["format"] {
		case "date":
			if !datePattern.MatchString(str) {
				return fmt.Errorf("%s: %q is not a date", at, str)
			}
		case "date-time":
			if !dateTime.MatchString(str) {
				return fmt.Errorf("%s: %q is not a date-time", at, str)
			}
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(str) {
			return fmt.Errorf("%s: %q does not match %s", at, str, p)
		}
	}
	if n, ok := value.(float64); ok {
		if m, ok := s["minimum"].(float64); ok && n < m {
			return fmt.Errorf("%s: %v is below the minimum %v", at, n, m)
		}
		if m, ok := s["maximum"].(float64); ok && n > m {
			return fmt.Errorf("%s: %v is above the maximum %v", at, n, m)
		}
	}
	return nil
}

// fits reports whether value is an instance of schema, as far as the document's schemas go: types,
// required and undeclared properties, enums, formats, patterns and bounds.
func fits(components map[string]any, schema, value any, at string) error {
	s, _ := schema.(map[string]any)
	if ref, ok := s["$ref"].(string); ok {
		return fits(components, components[strings.TrimPrefix(ref, "#/components/schemas/")], value, at)
	}
	if branches, ok := s["anyOf"].([]any); ok {
		var errs []string
		for _, b := range branches {
			err := fits(components, b, value, at)
			if err == nil {
				return nil
			}
			errs = append(errs, err.Error())
		}
		return fmt.Errorf("%s: fits none of anyOf: %s", at, strings.Join(errs, "; "))
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
	return fitsValue(s, value, at)
}
