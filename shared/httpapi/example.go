package httpapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Exampler is implemented by a request or response type whose field-by-field example would be wrong in
// meaning (a choice between fields, values that must agree, such as a schedule's kind and its counts):
// Example returns the type's example, usually a value of the type itself. Examples of requests must be
// accepted by their routes; functions/all sends each one.
type Exampler interface {
	Example() any
}

var examplerType = reflect.TypeFor[Exampler]()

// asJSON returns v as a client reads it: v encoded to JSON and decoded into plain values.
func asJSON(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("httpapi: example %T: %v", v, err))
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("httpapi: example %T: %v", v, err))
	}
	return out
}

// exampleTime is the instant every date-time example shows.
var exampleTime = time.Date(2026, 6, 1, 9, 30, 0, 0, time.UTC)

// exampleOf returns an illustrative value of t for the API document: the field's `example` tag when it
// has one; the first value of an Enum kind; a date, time or month for a field of that format; otherwise a
// value chosen by type and JSON field name (ids look like ids, money like minor units). Examples of
// requests are accepted by their routes (functions/all tests it).
func exampleOf(t reflect.Type, field, format string, depth int) any {
	if t == timeType {
		return exampleTime.Format(time.RFC3339)
	}
	if t == rawMessageType {
		return map[string]any{"name": "Asha Rao"}
	}
	if t.Kind() != reflect.Pointer && t.Implements(examplerType) {
		return asJSON(reflect.Zero(t).Interface().(Exampler).Example())
	}
	if t.Kind() == reflect.String && t.Implements(enumType) {
		if v := reflect.Zero(t).Interface().(Enum).Values(); len(v) > 0 {
			return v[0]
		}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return exampleOf(t.Elem(), field, format, depth)
	case reflect.String:
		switch format {
		case FormatDate:
			return "2026-06-01"
		case FormatTime:
			return "09:30"
		case FormatMonth:
			return "2026-06"
		}
		return exampleString(field)
	case reflect.Bool:
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return exampleInt(field)
	case reflect.Float32, reflect.Float64:
		return exampleFloat(field)
	case reflect.Slice, reflect.Array:
		if depth > 12 {
			return []any{}
		}
		return []any{exampleOf(t.Elem(), singular(field), format, depth+1)}
	case reflect.Map:
		if depth > 12 {
			return map[string]any{}
		}
		return map[string]any{"key": exampleOf(t.Elem(), field, format, depth+1)}
	case reflect.Struct:
		if depth > 12 {
			return map[string]any{}
		}
		return exampleStruct(t, depth)
	}
	return nil
}

func exampleStruct(t reflect.Type, depth int) map[string]any {
	out := map[string]any{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, v := range exampleStruct(f.Type, depth) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		if ex, ok := f.Tag.Lookup("example"); ok {
			out[name] = tagExample(f.Type, ex)
			continue
		}
		out[name] = exampleOf(f.Type, name, f.Tag.Get("format"), depth+1)
	}
	return out
}

// tagExample is the value of an `example` tag: the text itself for a string field, the JSON it holds for
// any other (`example:"60"`, `example:"[\"a\"]"`).
func tagExample(t reflect.Type, tag string) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.String {
		return tag
	}
	var v any
	if err := json.Unmarshal([]byte(tag), &v); err != nil {
		panic(fmt.Sprintf("httpapi: example tag %q of a %s is not JSON", tag, t))
	}
	return v
}

func singular(field string) string {
	switch {
	case strings.HasSuffix(field, "ches") || strings.HasSuffix(field, "shes") || strings.HasSuffix(field, "sses") || strings.HasSuffix(field, "xes"):
		return strings.TrimSuffix(field, "es")
	case strings.HasSuffix(field, "ies"):
		return strings.TrimSuffix(field, "ies") + "y"
	case strings.HasSuffix(field, "_ids"):
		return strings.TrimSuffix(field, "s")
	case strings.HasSuffix(field, "s"):
		return strings.TrimSuffix(field, "s")
	}
	return field
}

func exampleString(field string) string {
	f := strings.ToLower(field)
	switch {
	case f == "id" || strings.HasSuffix(f, "_id") || strings.HasSuffix(f, "_by") || f == "transferred_to" ||
		f == "branch" || f == "batch" || f == "student" || f == "teacher":
		return "6650f1c2a9e4b0a1b2c3d4e5"
	case f == "next_cursor" || f == "cursor":
		return "djE6NjY1MGYxYzJhOWU0YjBhMWIyYzNkNGU1" // a cursor this API issues: base64url of v1:<id>
	case f == "cluster":
		return "default"
	case f == "db":
		return "edu_sunrise-academy"
	case f == "reference":
		return "UTR202606010001"
	case f == "address":
		return "12 MG Road, Pune 411001"
	case f == "grade":
		return "A"
	case f == "prompt":
		return "What is three quarters of 20?"
	case f == "outcome":
		return "Parent will visit with the student on Saturday"
	case strings.Contains(f, "email"):
		return "asha.rao@example.edu"
	case f == "prn" || strings.HasSuffix(f, "_prn"):
		return "00419260000175"
	case strings.Contains(f, "password"):
		return "correct-horse-battery-staple"
	case strings.Contains(f, "phone"):
		return "+919812345678"
	case f == "currency":
		return "INR"
	case f == "slug" || f == "tenant":
		return "sunrise-academy"
	case f == "code":
		return "MAIN"
	case strings.Contains(f, "url"):
		return "https://sunrise.example.edu/logo.png"
	case f == "origin":
		return "https://app.sunrise.example.edu"
	case strings.Contains(f, "token"):
		return "eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiJ9.eyJzdWIiOiIuLi4ifQ.c2lnbmF0dXJl"
	case strings.Contains(f, "time_zone") || f == "timezone":
		return "Asia/Kolkata"
	case f == "name" || strings.HasSuffix(f, "_name"):
		return "Asha Rao"
	case f == "title" || f == "subject":
		return "Mathematics"
	case strings.Contains(f, "reason") || strings.Contains(f, "remark") || strings.Contains(f, "note") || strings.Contains(f, "description") ||
		strings.Contains(f, "detail") || f == "summary":
		return "Requested by the parent in writing"
	}
	return "text"
}

func exampleInt(field string) int64 {
	f := strings.ToLower(field)
	switch {
	case strings.HasPrefix(f, "days") || strings.HasSuffix(f, "_days"):
		return 3
	case strings.Contains(f, "amount") || strings.Contains(f, "total") || strings.Contains(f, "fee") || strings.Contains(f, "paid") ||
		strings.Contains(f, "due") || strings.Contains(f, "outstanding") || strings.Contains(f, "overdue") || strings.Contains(f, "credit"):
		return 1500000 // minor units: 15,000.00
	case strings.Contains(f, "capacity"):
		return 30
	case strings.HasSuffix(f, "minutes"):
		return 60
	case strings.HasSuffix(f, "seconds"):
		return 300
	case strings.Contains(f, "basis_points") || strings.HasSuffix(f, "_bp"):
		return 1000
	case strings.Contains(f, "count") || strings.Contains(f, "instalments") || strings.Contains(f, "days"):
		return 3
	case strings.Contains(f, "version"):
		return 1
	case strings.Contains(f, "limit"):
		return 50
	}
	return 1
}

func exampleFloat(field string) float64 {
	f := strings.ToLower(field)
	switch {
	case strings.Contains(f, "rate") || strings.Contains(f, "share") || strings.Contains(f, "conversion"):
		return 0.85
	case strings.Contains(f, "percent"):
		return 85.5
	case strings.Contains(f, "marks") || strings.Contains(f, "score"):
		return 42.5
	case strings.Contains(f, "weight"):
		return 1
	}
	return 1.5
}
