package httpapi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/rbac"
)

// Enum is implemented by a string kind whose values are a closed set (roles, lead stages, mark statuses).
// The document lists Values as the schema's enum and shows the first as the example; the kind's own
// validation must accept exactly these (each area's Valid reads the same list), so the document and the
// validation cannot differ.
type Enum interface {
	Values() []string
}

// The formats a string field or query parameter can declare, with the struct tag `format:"date"` or
// QueryParam.Format. Date-times need no tag: a time.Time field is one.
const (
	FormatDate  = "date"  // a calendar date, YYYY-MM-DD
	FormatTime  = "time"  // a wall-clock time, HH:MM (24 hours)
	FormatMonth = "month" // a calendar month, YYYY-MM
)

// Patterns of the formats JSON Schema has no name for.
const (
	timePattern  = `^([01][0-9]|2[0-3]):[0-5][0-9]$`
	monthPattern = `^[0-9]{4}-(0[1-9]|1[0-2])$`
)

// formatSchema returns the string schema of a Format constant; it panics on an unknown one (a
// programming error every document test catches).
func formatSchema(format string) map[string]any {
	switch format {
	case "":
		return map[string]any{"type": "string"}
	case FormatDate:
		return map[string]any{"type": "string", "format": "date"}
	case FormatTime:
		return map[string]any{"type": "string", "pattern": timePattern}
	case FormatMonth:
		return map[string]any{"type": "string", "pattern": monthPattern}
	}
	panic(fmt.Sprintf("httpapi: unknown format %q", format))
}

// ServerDescription is the document's one server: paths are absolute from the API's root, the same behind
// the load balancer and on the local stack.
const ServerDescription = "The deployment's HTTPS load balancer, or the local stack (go run ./scripts/dev, http://127.0.0.1:8080). Every path starts with its area."

// Document builds the OpenAPI 3.1 document of every route of the given areas. The document is derived from
// the route tables themselves, so a route cannot exist without being documented; the test beside the
// local stack checks that the served routes and the document agree.
//
// Each operation lists the errors its shape implies, each as a response whose body is the Problem schema:
// 400 when it reads a body, a query parameter, a path parameter or a header; 401 and 403 unless it is
// public; 404 when it names an object in its path; 409 when it writes to the institution's objects; 413
// and 415 when it reads a body;
// and Route.Errors beyond those. Unexpected failures (500, 503) are the default response.
func Document(title, version string, areas ...*Area) map[string]any {
	g := &schemaGen{schemas: map[string]any{}, names: map[reflect.Type]string{}}
	g.schemaOf(reflect.TypeFor[Problem]()) // registers the component; the returned $ref is not the schema
	paths := map[string]map[string]any{}
	var tags []any
	for _, a := range areas {
		tags = append(tags, map[string]any{"name": a.Name, "description": "The " + a.Name + " area: every path under /" + a.Name + "."})
		for _, rt := range a.Routes {
			path := DocumentPath(a.Name, rt.Path)
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
			"license":     map[string]any{"name": "Proprietary", "url": "https://edugrid.example/terms"},
			"contact":     map[string]any{"name": "edugrid", "url": "https://edugrid.example/support"},
		},
		"servers": []any{map[string]any{"url": "/", "description": ServerDescription}},
		"tags":    tags,
		"paths":   paths,
		"components": map[string]any{
			"schemas":    g.schemas,
			"responses":  problemResponses(),
			"parameters": map[string]any{"IdempotencyKey": idempotencyKeyParam()},
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
			},
		},
	}
}

// DocumentPath is the document's path of an area's route: the area prefix, then the route's path. The
// area's root ("/{$}") is the bare prefix, "/leads"; the area serves it with a trailing slash too.
func DocumentPath(area, routePath string) string {
	p := strings.TrimSuffix(routePath, "{$}")
	if p == "/" {
		return "/" + area
	}
	return "/" + area + p
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

// IdempotencyKeyHeader is the header a route with Route.IdempotencyKey requires.
const IdempotencyKeyHeader = "Idempotency-Key"

// idempotencyKeyParam is the document's Idempotency-Key header parameter.
func idempotencyKeyParam() map[string]any {
	return map[string]any{
		"name": IdempotencyKeyHeader, "in": "header", "required": true,
		"description": "A key unique to this request, 1 to 200 printable ASCII characters without spaces, reused unchanged on every retry: a retry with the same key and body answers 200 with the original result, the same key with another body 409.",
		"schema":      map[string]any{"type": "string", "minLength": 1, "maxLength": 200, "pattern": `^[!-~]+$`},
		"example":     "pay-2026-06-01-0001",
	}
}

func (g *schemaGen) operation(area, path string, rt Route) map[string]any {
	op := map[string]any{
		"operationId":  area + rt.Method[:1] + strings.ToLower(rt.Method[1:]) + strings.NewReplacer("{", "", "}", "").Replace(pathName(path)),
		"summary":      rt.Summary,
		"description":  rt.Summary + ".\n\n" + permissionText(rt.Permission),
		"tags":         []string{area},
		"x-permission": string(rt.Permission),
	}
	if rt.Permission == rbac.Public {
		op["security"] = []any{}
	} else {
		op["security"] = []any{map[string]any{"bearer": []string{}}}
	}
	var params []any
	pathParams := pathParam.FindAllStringSubmatch(path, -1)
	for _, m := range pathParams {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "description": pathParamText(m[1]), "schema": map[string]any{"type": "string"}})
	}
	for _, q := range rt.Query {
		params = append(params, g.queryParam(q, q.Name, false))
		for _, alias := range q.Aliases {
			params = append(params, g.queryParam(q, alias, true))
		}
	}
	if rt.IdempotencyKey {
		params = append(params, map[string]any{"$ref": "#/components/parameters/IdempotencyKey"})
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if rt.Request != nil {
		op["requestBody"] = map[string]any{
			"required": true,
			"content": map[string]any{"application/json": map[string]any{"schema": g.schemaOf(reflect.TypeOf(rt.Request)),
				"example": requestExample(rt)}},
		}
	}
	status := rt.Status
	if status == 0 {
		status = http.StatusOK
	}
	ok := map[string]any{"description": http.StatusText(status)}
	if rt.Response != nil {
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": g.schemaOf(reflect.TypeOf(rt.Response)),
			"example": exampleOf(reflect.TypeOf(rt.Response), "", "", 0)}}
	}
	responses := map[string]any{
		strconv.Itoa(status): ok,
		"default":            map[string]any{"$ref": "#/components/responses/Unexpected"},
	}
	if rt.IdempotencyKey && status != http.StatusOK {
		replay := map[string]any{
			"description": "A retry with the same Idempotency-Key and body: the original result, nothing recorded again.",
			"headers": map[string]any{"Idempotent-Replayed": map[string]any{
				"description": "true on a replayed answer", "schema": map[string]any{"type": "string", "enum": []string{"true"}}}},
		}
		if c, ok := ok["content"]; ok {
			replay["content"] = c
		}
		responses["200"] = replay
	}
	for _, code := range routeErrors(rt, len(pathParams) > 0) {
		responses[strconv.Itoa(StatusOf(code))] = map[string]any{"$ref": "#/components/responses/" + responseName(code)}
	}
	op["responses"] = responses
	return op
}

func requestExample(rt Route) any {
	if rt.Example != nil {
		return asJSON(rt.Example)
	}
	return exampleOf(reflect.TypeOf(rt.Request), "", "", 0)
}

func (g *schemaGen) queryParam(q QueryParam, name string, alias bool) map[string]any {
	var s map[string]any
	switch {
	case q.Type != nil:
		s = g.schemaOf(reflect.TypeOf(q.Type))
	default:
		s = formatSchema(q.Format)
	}
	if len(q.Enum) > 0 {
		s["enum"] = q.Enum
	}
	if q.Maximum > 0 {
		s["minimum"], s["maximum"] = q.Minimum, q.Maximum
	}
	p := map[string]any{"name": name, "in": "query", "required": q.Required && !alias, "description": q.Description, "schema": s}
	if alias {
		p["deprecated"] = true
		p["description"] = "the older name of " + q.Name + ", still read when " + q.Name + " is absent"
	}
	return p
}

func pathParamText(name string) string {
	switch name {
	case "id":
		return "id of the object the path names"
	case "slug":
		return "the institution's slug"
	case "prn":
		return "a person registration number"
	}
	return "id of the " + strings.ReplaceAll(name, "_", " ")
}

// routeErrors lists the codes rt can answer, in status order: those its shape implies, then rt.Errors.
func routeErrors(rt Route, hasPathParams bool) []apperr.Code {
	var codes []apperr.Code
	if rt.Request != nil || len(rt.Query) > 0 || hasPathParams || rt.IdempotencyKey {
		codes = append(codes, apperr.Invalid)
	}
	if rt.Permission != rbac.Public {
		codes = append(codes, apperr.Unauthenticated, apperr.Forbidden)
	}
	if hasPathParams {
		codes = append(codes, apperr.NotFound)
	}
	// A write to the institution's objects can find them changed or in a state that refuses it; the
	// caller's own session (Self: sign out everywhere, change the password) has no such state.
	if rt.Method != http.MethodGet && rt.Method != http.MethodHead && rt.Permission != rbac.Public && rt.Permission != rbac.Self {
		codes = append(codes, apperr.Conflict)
	}
	if rt.Request != nil {
		codes = append(codes, apperr.TooLarge, apperr.UnsupportedType)
	}
	for _, c := range rt.Errors {
		if !slices.Contains(codes, c) {
			codes = append(codes, c)
		}
	}
	sort.SliceStable(codes, func(i, j int) bool { return StatusOf(codes[i]) < StatusOf(codes[j]) })
	return codes
}

// documentedError is an error code with a response in the document's components, and its example.
type documentedError struct {
	code    apperr.Code
	example *apperr.Error
	about   string
}

// documentedErrors lists the codes with a response in the document's components.
func documentedErrors() []documentedError {
	return []documentedError{
		{apperr.Invalid, apperr.InvalidField("name", "must not be empty"), "The request is malformed or a field fails validation; detail and errors name the fields."},
		{apperr.Unauthenticated, apperr.Errorf(apperr.Unauthenticated, "a bearer access token is required"), "No usable credentials. WWW-Authenticate says whether a presented token was refused (error=\"invalid_token\": drop it, refresh or sign in again)."},
		{apperr.Forbidden, apperr.Errorf(apperr.Forbidden, "your role may not do this"), "The caller's role may not do this (code forbidden), or the institution is suspended (code tenant_suspended)."},
		{apperr.NotFound, apperr.Errorf(apperr.NotFound, "no such student"), "No such object, or the caller may not see it: another institution's or branch's object reads the same."},
		{apperr.Conflict, apperr.Errorf(apperr.Conflict, "the object changed or exists already; read it again"), "The object exists, changed under the caller, or is in a state that refuses this; detail says which."},
		{apperr.TooLarge, apperr.Errorf(apperr.TooLarge, "the request body is larger than %d bytes", MaxBodyBytes), "The request body is over 1 MiB."},
		{apperr.UnsupportedType, apperr.Errorf(apperr.UnsupportedType, "the request body must be application/json"), "The request body is not application/json."},
		{apperr.RateLimited, apperr.Errorf(apperr.RateLimited, "too many attempts; wait a minute and try again"), "Too many attempts; Retry-After says how many seconds to wait."},
	}
}

// responseName is the name of code's response component; a suspended institution's 403 shares the
// Forbidden response, which names both codes.
func responseName(code apperr.Code) string {
	if code == apperr.Suspended {
		code = apperr.Forbidden
	}
	var b strings.Builder
	for _, w := range strings.Split(string(code), "_") {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// problemResponses are the document's error responses, one per code, each with the body WriteError
// writes for its example error.
func problemResponses() map[string]any {
	schema := map[string]any{"$ref": "#/components/schemas/Problem"}
	out := map[string]any{}
	for _, d := range documentedErrors() {
		r := map[string]any{
			"description": d.about,
			"content":     map[string]any{"application/problem+json": map[string]any{"schema": schema, "example": problemExample(d.example)}},
		}
		switch d.code {
		case apperr.Unauthenticated:
			r["headers"] = map[string]any{"WWW-Authenticate": map[string]any{"description": "the Bearer challenge (RFC 6750)", "schema": map[string]any{"type": "string"}}}
		case apperr.RateLimited:
			r["headers"] = map[string]any{"Retry-After": map[string]any{"description": "seconds to wait", "schema": map[string]any{"type": "integer"}}}
		}
		out[responseName(d.code)] = r
	}
	out["Unexpected"] = map[string]any{
		"description": "An unexpected failure: 503 unavailable (a dependency is slow or down; Retry-After says when to retry) or 500 internal.",
		"content": map[string]any{"application/problem+json": map[string]any{"schema": schema,
			"example": problemExample(apperr.Errorf(apperr.Unavailable, "The service took too long to answer; please try again shortly."))}},
	}
	return out
}

// problemExample is the body WriteError writes for ae, as a client reads it.
func problemExample(ae *apperr.Error) map[string]any {
	r := httptest.NewRequest(http.MethodPost, "/students", nil)
	r = r.WithContext(WithLogger(r.Context(), slog.New(slog.DiscardHandler))) // an example is no event to log
	rec := httptest.NewRecorder()
	WriteError(rec, r, ae)
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		panic(fmt.Sprintf("httpapi: problem example: %v", err))
	}
	return body
}

// permissionText says who may call a route with permission p.
func permissionText(p rbac.Permission) string {
	switch p {
	case rbac.Public:
		return "Public: no token needed."
	case rbac.Self:
		return "Any signed-in user; it acts on the caller."
	}
	var holders []string
	for _, r := range rbac.Role("").Values() {
		if rbac.Allowed(rbac.Role(r), p) {
			holders = append(holders, r)
		}
	}
	return "Needs the permission " + string(p) + ", held by " + strings.Join(holders, ", ") + "."
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
	enumType       = reflect.TypeFor[Enum]()
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
		if _, ok := s["$ref"]; ok {
			// A reference takes no siblings that change it; null is the other branch of an anyOf.
			return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
		}
		if ty, ok := s["type"].(string); ok {
			s["type"] = []string{ty, "null"}
		}
		if e, ok := s["enum"].([]any); ok {
			s["enum"] = append(e, nil)
		}
		return s
	case t.Kind() == reflect.String && t.Implements(enumType):
		values := reflect.Zero(t).Interface().(Enum).Values()
		enum := make([]any, len(values))
		for i, v := range values {
			enum[i] = v
		}
		return map[string]any{"type": "string", "enum": enum}
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

// fieldSchema is the schema of struct field f: its type's, with the format its tag declares.
func (g *schemaGen) fieldSchema(f reflect.StructField) map[string]any {
	format := f.Tag.Get("format")
	if format == "" {
		return g.schemaOf(f.Type)
	}
	base := f.Type
	for base.Kind() == reflect.Pointer || base.Kind() == reflect.Slice {
		base = base.Elem()
	}
	if base.Kind() != reflect.String {
		panic(fmt.Sprintf("httpapi: field %s: format on a %s", f.Name, f.Type))
	}
	var wrap func(t reflect.Type) map[string]any
	wrap = func(t reflect.Type) map[string]any {
		switch t.Kind() {
		case reflect.Pointer:
			s := wrap(t.Elem())
			s["type"] = []string{"string", "null"}
			return s
		case reflect.Slice:
			return map[string]any{"type": "array", "items": wrap(t.Elem())}
		}
		return formatSchema(format)
	}
	return wrap(f.Type)
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
		props[name] = g.fieldSchema(f)
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

// EnumValues returns the values of a string kind as strings, for an Enum's Values method:
//
//	func (Stage) Values() []string { return httpapi.EnumValues(Stages) }
func EnumValues[T ~string](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}
