package httpapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/edugrid/edugrid/shared/rbac"
)

// Document builds the OpenAPI 3.1 document of every route of the given areas. The document is derived from
// the route tables themselves, so a route cannot exist without being documented; the test beside the
// local stack checks that the served routes and the document agree.
func Document(title, version string, areas ...*Area) map[string]any {
	g := &schemaGen{schemas: map[string]any{}, names: map[reflect.Type]string{}}
	g.schemaOf(reflect.TypeFor[Problem]()) // registers the component; the returned $ref is not the schema
	paths := map[string]map[string]any{}
	for _, a := range areas {
		for _, rt := range a.Routes {
			path := "/" + a.Name + strings.TrimSuffix(rt.Path, "{$}")
			if paths[path] == nil {
				paths[path] = map[string]any{}
			}
			paths[path][strings.ToLower(rt.Method)] = g.operation(a.Name, path, rt)
		}
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       title,
			"version":     version,
			"description": "edugrid API. Every non-public route needs a bearer access token; the tenant comes from the token, never from the request. Errors are application/problem+json with a stable code.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.schemas,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
			},
		},
	}
}

// DocumentHandler serves a document built once.
func DocumentHandler(doc map[string]any) http.Handler {
	body, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

var pathParam = regexp.MustCompile(`\{([a-zA-Z_][a-zA-Z0-9_]*)\}`)

func (g *schemaGen) operation(area, path string, rt Route) map[string]any {
	op := map[string]any{
		"operationId":  area + rt.Method[:1] + strings.ToLower(rt.Method[1:]) + strings.NewReplacer("{", "", "}", "").Replace(pathName(path)),
		"summary":      rt.Summary,
		"tags":         []string{area},
		"x-permission": string(rt.Permission),
	}
	if rt.Permission == rbac.Public {
		op["security"] = []any{}
	} else {
		op["security"] = []any{map[string]any{"bearer": []string{}}}
	}
	var params []any
	for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
	}
	for _, q := range rt.Query {
		schema := map[string]any{"type": "string"}
		if len(q.Enum) > 0 {
			schema["enum"] = q.Enum
		}
		params = append(params, map[string]any{"name": q.Name, "in": "query", "required": false, "description": q.Description, "schema": schema})
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if rt.Request != nil {
		op["requestBody"] = map[string]any{
			"required": true,
			"content": map[string]any{"application/json": map[string]any{"schema": g.schemaOf(reflect.TypeOf(rt.Request)),
				"example": exampleOf(reflect.TypeOf(rt.Request), "", 0)}},
		}
	}
	status := rt.Status
	if status == 0 {
		status = http.StatusOK
	}
	ok := map[string]any{"description": http.StatusText(status)}
	if rt.Response != nil {
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": g.schemaOf(reflect.TypeOf(rt.Response)),
			"example": exampleOf(reflect.TypeOf(rt.Response), "", 0)}}
	}
	op["responses"] = map[string]any{
		strconv.Itoa(status): ok,
		"default": map[string]any{
			"description": "An error, as RFC 9457 problem+json",
			"content": map[string]any{"application/problem+json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"},
				"example": problemExample()}},
		},
	}
	return op
}

func pathName(path string) string {
	var b strings.Builder
	for _, part := range strings.Split(path, "/")[2:] {
		for _, w := range strings.FieldsFunc(part, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

type schemaGen struct {
	schemas map[string]any
	names   map[reflect.Type]string
}

var (
	timeType       = reflect.TypeFor[time.Time]()
	rawMessageType = reflect.TypeFor[json.RawMessage]()
)

func (g *schemaGen) schemaOf(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawMessageType:
		// Recorded JSON served as it was recorded (an audit entry's details): an object.
		return map[string]any{"type": "object", "additionalProperties": map[string]any{}}
	case t.Kind() == reflect.Pointer:
		s := g.schemaOf(t.Elem())
		if ty, ok := s["type"].(string); ok {
			s["type"] = []string{ty, "null"}
		}
		return s
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schemaOf(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name := g.name(t)
		if _, done := g.schemas[name]; !done {
			g.schemas[name] = map[string]any{} // placeholder breaks recursion
			g.schemas[name] = g.structSchema(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func (g *schemaGen) structSchema(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			inner := g.structSchema(f.Type)
			for k, v := range inner["properties"].(map[string]any) {
				props[k] = v
			}
			if r, ok := inner["required"].([]string); ok {
				required = append(required, r...)
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schemaOf(f.Type)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") && f.Type.Kind() != reflect.Pointer {
			required = append(required, name)
		}
	}
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		sort.Strings(required)
		s["required"] = required
	}
	return s
}

func (g *schemaGen) name(t reflect.Type) string {
	if n, ok := g.names[t]; ok {
		return n
	}
	n := t.Name()
	if base, inner, ok := strings.Cut(n, "["); ok {
		inner = strings.TrimSuffix(inner, "]")
		inner = inner[strings.LastIndex(inner, ".")+1:]
		n = inner + base
	}
	if n == "" {
		n = "Anonymous"
	}
	for _, used := range g.names {
		if used == n {
			pkg := t.PkgPath()
			pkg = pkg[strings.LastIndex(pkg, "/")+1:]
			n = strings.ToUpper(pkg[:1]) + pkg[1:] + n
			break
		}
	}
	g.names[t] = n
	return n
}
