package httpapi

import (
	"reflect"
	"strings"
	"time"
)

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
			out[name] = ex
			continue
		}
		out[name] = exampleOf(f.Type, name, f.Tag.Get("format"), depth+1)
	}
	return out
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
	case f == "id" || strings.HasSuffix(f, "_id") || f == "branch" || f == "batch" || f == "student" || f == "teacher":
		return "6650f1c2a9e4b0a1b2c3d4e5"
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
