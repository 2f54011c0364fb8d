package all_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/httpapi"
)

// hostileCase is one hostile variant of a route's example body.
type hostileCase struct {
	name string
	body []byte
	// contentType overrides application/json; bodyReader, when set, replaces body.
	contentType string
	bodyReader  io.Reader
	// field is the JSON field the variant damages; byType is true when the JSON type is wrong, so the
	// decoder itself must name the field whatever the rest of the body holds.
	field  string
	byType bool
	// within names the objects field sits in (settings, late_fee): an error may name one of them instead.
	within []string
	// status, when set, is the only acceptable answer.
	status int
}

// leaf is one value inside an example body: its path of keys and indexes, its Go type and field name.
type leaf struct {
	path []any
	typ  reflect.Type
	name string
}

// leaves lists the fields of t as they appear in body: top-level ones, those of nested objects and those
// of the first element of lists of objects.
func leaves(t reflect.Type, body map[string]any, prefix []any) []leaf {
	var out []leaf
	for _, f := range jsonFields(t) {
		v, ok := body[f.name]
		if !ok {
			continue
		}
		ft := f.typ
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		path := append(append([]any{}, prefix...), f.name)
		out = append(out, leaf{path: path, typ: ft, name: f.name})
		switch {
		case ft.Kind() == reflect.Struct:
			if m, ok := v.(map[string]any); ok {
				out = append(out, leaves(ft, m, path)...)
			}
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			if l, ok := v.([]any); ok && len(l) > 0 {
				if m, ok := l[0].(map[string]any); ok {
					out = append(out, leaves(ft.Elem(), m, append(path, 0))...)
				}
			}
		}
	}
	return out
}

// with returns a deep copy of body (JSON-shaped) with the value at path replaced.
func with(body any, path []any, v any) any {
	if len(path) == 0 {
		return v
	}
	switch b := body.(type) {
	case map[string]any:
		out := make(map[string]any, len(b))
		for k, x := range b {
			out[k] = x
		}
		out[path[0].(string)] = with(b[path[0].(string)], path[1:], v)
		return out
	case []any:
		out := append([]any{}, b...)
		out[path[0].(int)] = with(b[path[0].(int)], path[1:], v)
		return out
	}
	return body
}

func isInt(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// rawNumber is a JSON number sent exactly as written (1e309 does not survive a float64).
type rawNumber string

func (n rawNumber) MarshalJSON() ([]byte, error) { return []byte(n), nil }

// hostileCases derives the hostile variants of one example body.
func hostileCases(tb testing.TB, t reflect.Type, base map[string]any, required map[string]bool) []hostileCase {
	tb.Helper()
	var cases []hostileCase
	add := func(name string, l leaf, v any, byType bool) {
		var within []string
		for _, p := range l.path[:len(l.path)-1] {
			if s, ok := p.(string); ok {
				within = append(within, s)
			}
		}
		cases = append(cases, hostileCase{name: name + " in " + l.name, body: mustJSON(tb, with(base, l.path, v)), field: l.name, byType: byType, within: within})
	}
	for _, l := range leaves(t, base, nil) {
		switch k := l.typ.Kind(); {
		case l.typ == timeType:
			// A time's own decoder refuses these without naming the field: only the 4xx is checked.
			for _, v := range []any{map[string]any{"$gt": ""}, "2026-02-30T09:00:00Z", "2026-07-01", "", 1e20} {
				cases = append(cases, hostileCase{name: fmt.Sprintf("bad time %v in %s", v, l.name), body: mustJSON(tb, with(base, l.path, v)), status: http.StatusBadRequest})
			}
		case k == reflect.String:
			add("operator $gt", l, map[string]any{"$gt": ""}, true)
			add("operator $where", l, map[string]any{"$where": "sleep(1000) || true"}, true)
			add("operator list", l, []any{"$ne", 1}, true)
			add("number", l, 1, true)
			if isDateField(l.name) {
				for _, d := range []string{"2026-02-30", "2026-13-01", "2026-1-1", "2027-02-29", "2026-00-10", "01-07-2026", "2026-07-01T00:00:00Z"} {
					add("invalid date "+d, l, d, false)
				}
				if required[l.name] {
					add("empty date", l, "", false)
				}
			}
		case isInt(k):
			for _, n := range []string{"1e309", "9223372036854775808", "-9223372036854775809", "1e20", "100000000000000000000", "1.5", "NaN-ish"} {
				if n == "NaN-ish" {
					add("string number", l, "1", true)
					continue
				}
				add("number "+n, l, rawNumber(n), true)
			}
			add("operator $gt", l, map[string]any{"$gt": 0}, true)
			if isMoneyField(l.name) {
				add("negative money", l, -1, false)
				add("negative money -100000", l, -100000, false)
			}
		case k == reflect.Bool:
			add("string bool", l, "true", true)
			add("operator $ne", l, map[string]any{"$ne": false}, true)
		case k == reflect.Slice:
			add("operator $in", l, map[string]any{"$in": []any{}}, true)
		case k == reflect.Struct:
			add("string for object", l, "x", true)
			add("list for object", l, []any{map[string]any{}}, true)
		}
	}
	raw := mustJSON(tb, base)
	inner := string(raw[1 : len(raw)-1])
	sep := ","
	if inner == "" {
		sep = ""
	}
	for _, key := range []string{"$where", "$gt", "a.b", "$set", "__proto__", ""} {
		cases = append(cases, hostileCase{name: fmt.Sprintf("extra key %q", key), body: []byte(fmt.Sprintf(`{%q:{"$gt":""}%s%s}`, key, sep, inner))})
	}
	for _, f := range jsonFields(t) {
		if v, ok := base[f.name]; ok {
			first := string(mustJSON(tb, v))
			cases = append(cases,
				hostileCase{name: "duplicate key " + f.name, body: []byte(fmt.Sprintf(`{%q:%s,%s}`, f.name, first, inner)), status: http.StatusBadRequest},
				hostileCase{name: "duplicate key in other case " + f.name, body: []byte(fmt.Sprintf(`{%q:%s,%s}`, strings.ToUpper(f.name), first, inner)), status: http.StatusBadRequest},
				hostileCase{name: "duplicate key as operator " + f.name, body: []byte(fmt.Sprintf(`{%s,%q:{"$gt":""}}`, inner, f.name)), status: http.StatusBadRequest},
			)
			break
		}
	}
	for _, s := range []string{`"\ud800"`, `"a\udc00"`, "\"a\xffb\"", `"a\u0000b"`} {
		for _, l := range leaves(t, base, nil) {
			if l.typ.Kind() == reflect.String {
				cases = append(cases, hostileCase{name: "bad text " + s + " in " + l.name, body: mustJSON(tb, with(base, l.path, json.RawMessage(s))), status: http.StatusBadRequest})
				break
			}
		}
	}
	for _, tail := range []string{" x", " {}", "]", "}", " null"} {
		cases = append(cases, hostileCase{name: "trailing " + tail, body: append(append([]byte{}, raw...), tail...), status: http.StatusBadRequest})
	}
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "application/xml"} {
		cases = append(cases, hostileCase{name: "content type " + ct, body: raw, contentType: ct, status: http.StatusUnsupportedMediaType})
	}
	cases = append(cases,
		hostileCase{name: "not an object", body: []byte(`[` + string(raw) + `]`), status: http.StatusBadRequest},
		hostileCase{name: "null", body: []byte(`null`), status: http.StatusBadRequest},
		hostileCase{name: "deep nesting", body: []byte(`{"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`), status: http.StatusBadRequest},
		hostileCase{name: "over the limit", bodyReader: &hugeBody{prefix: `{"x":"`, size: 64 << 20}},
	)
	return cases
}

// hugeBody is a JSON string of size bytes, produced as it is read, that counts how much of it was read.
type hugeBody struct {
	prefix string
	size   int
	read   int
}

func (b *hugeBody) Read(p []byte) (int, error) {
	if b.read >= b.size {
		return 0, io.EOF
	}
	n := min(len(p), b.size-b.read)
	for i := range n {
		if b.read+i < len(b.prefix) {
			p[i] = b.prefix[b.read+i]
		} else {
			p[i] = 'a'
		}
	}
	b.read += n
	return n, nil
}

// TestHostileBodiesOnEveryWriteRoute sends every route that takes a body (all areas, from the route
// tables) hostile variants of an example body: operator objects and lists where values belong, operator
// and dotted keys, huge and fractional numbers, negative money, impossible dates, NUL, lone surrogates and
// invalid UTF-8, duplicate keys, trailing data, other content types, deep nesting and a 64 MiB body. Each
// must be refused with a 4xx problem+json and write nothing; a wrong JSON type must be refused naming its
// field; and where the unmodified example is accepted, negative money and bad dates must be refused
// naming theirs.
func TestHostileBodiesOnEveryWriteRoute(t *testing.T) {
	h := newHostileEnv(t)
	valid, requests := 0, 0
	for _, r := range h.routes {
		t.Run(r.String(), func(t *testing.T) {
			path := h.concrete(r, 0)
			base := h.example(r.reqType, true)
			required := map[string]bool{}
			for _, f := range jsonFields(r.reqType) {
				required[f.name] = f.required
			}
			type semantic struct {
				c       hostileCase
				problem []apptest.FieldError
			}
			var later []semantic
			for _, c := range hostileCases(t, r.reqType, base, required) {
				ct := "application/json"
				if c.contentType != "" {
					ct = c.contentType
				}
				var body io.Reader = bytes.NewReader(c.body)
				if c.bodyReader != nil {
					body = c.bodyReader
				}
				answer := h.send(r.route.Method, path, h.tokenFor(r), ct, body)
				requests++
				p, err := h.verdict(t, c.name, answer)
				switch {
				case err != nil:
					t.Errorf("%v\nbody: %.300q", err, c.body)
					continue
				case p == nil:
					t.Errorf("%s was accepted (%d): %.300s\nbody: %.300q", c.name, answer.Code, answer.Body, c.body)
					continue
				case c.status != 0 && answer.Code != c.status:
					t.Errorf("%s answered %d %s, want %d", c.name, answer.Code, p.Detail, c.status)
				}
				if hb, ok := c.bodyReader.(*hugeBody); ok {
					if answer.Code != http.StatusRequestEntityTooLarge && answer.Code != http.StatusBadRequest && answer.Code != http.StatusNotFound {
						t.Errorf("%s answered %d, want 413 (or 400/404 before reading it)", c.name, answer.Code)
					}
					if hb.read > httpapi.MaxBodyBytes+64<<10 {
						t.Errorf("%s: the server read %d bytes of it, more than the %d byte limit", c.name, hb.read, httpapi.MaxBodyBytes)
					}
				}
				if c.field != "" {
					if c.byType && answer.Code == http.StatusBadRequest && !namesField(p.Errors, c.field) {
						t.Errorf("%s answered %v, which does not name %s", c.name, p.Errors, c.field)
					}
					if !c.byType {
						later = append(later, semantic{c, p.Errors})
					}
				}
			}
			// The unmodified example last: if it is accepted, the refusals above were about the damage.
			answer := h.post(r, path, mustJSON(t, base))
			if p, err := h.verdict(t, "the example body", answer); err != nil {
				t.Error(err)
			} else if p == nil {
				valid++
				for _, s := range later {
					if !namesField(s.problem, append([]string{s.c.field}, s.c.within...)...) {
						t.Errorf("%s: refused with %v, which does not name %s, though the example without it is accepted", s.c.name, s.problem, s.c.field)
					}
				}
			}
		})
	}
	t.Logf("%d write routes, %d hostile requests; %d routes accept their example body", len(h.routes), requests, valid)
	if len(h.routes) < 20 || valid < len(h.routes)/3 {
		t.Fatalf("only %d of %d write routes accept their example body: the hostile variants barely reach validation", valid, len(h.routes))
	}
}

// namesField reports whether a problem's errors name one of fields, alone or within a path
// (schedule.kind, marks[0].status).
func namesField(errors []apptest.FieldError, fields ...string) bool {
	for _, fe := range errors {
		for _, f := range fields {
			if strings.Contains(fe.Field, f) {
				return true
			}
		}
	}
	return false
}

// TestTextIsKeptOrRefused creates objects through every create route whose body has a name or title and
// whose example is accepted: text in any script, with emoji and combining marks, is stored and answered
// exactly as sent; NUL, other control characters, bidi overrides, lone surrogates, blank and 10 KB names
// are refused with 400 and nothing written.
func TestTextIsKeptOrRefused(t *testing.T) {
	h := newHostileEnv(t)
	kept := []string{"Zoë Ångström", "e\u0301cole Lumie\u0300re", "😀 Asha", "👩\u200d👩\u200d👧 Family", "محمد علي", "שלום עליכם", "名前テスト", "Ⅻ ﬁ Ｆｕｌｌ", "Ana-María O'Neil"}
	refused := map[string]string{
		"NUL": "a\x00b", "escape": "\x1b[31mred", "right-to-left override": "evil\u202Egnp.exe", "isolate": "a\u2066b\u2069",
		"blank": "   ", "10 KB": strings.Repeat("n", 10<<10),
	}
	tested := 0
	for _, r := range h.routes {
		if r.route.Method != http.MethodPost || strings.Contains(r.path, "{") {
			continue
		}
		field := ""
		for _, f := range jsonFields(r.reqType) {
			if (f.name == "name" || f.name == "title") && f.typ.Kind() == reflect.String {
				field = f.name
			}
		}
		if field == "" {
			continue
		}
		if p, err := h.verdict(t, "the example", h.post(r, r.path, mustJSON(t, h.example(r.reqType, true)))); err != nil || p != nil {
			continue // the example does not pass this route's validation: nothing to compare against
		}
		tested++
		t.Run(r.String(), func(t *testing.T) {
			compared := 0
			defer func() {
				if compared == 0 {
					t.Errorf("no name was stored to compare")
				}
			}()
			for _, s := range kept {
				body := h.example(r.reqType, true)
				want := fmt.Sprintf("%s %d", s, h.n)
				body[field] = want
				rec := h.post(r, r.path, mustJSON(t, body))
				p, err := h.verdict(t, s, rec)
				if err == nil && p != nil && p.Code == "conflict" {
					continue // a limit of the route's own (guardians per student), not the text
				}
				if err != nil || p != nil {
					t.Errorf("%q refused: %d %s", want, rec.Code, rec.Body)
					continue
				}
				compared++
				var got any
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || !holds(got, want) {
					t.Errorf("%q is not in the answer exactly: %s (%v)", want, rec.Body, err)
				}
			}
			for name, s := range refused {
				body := h.example(r.reqType, true)
				body[field] = s
				rec := h.post(r, r.path, mustJSON(t, body))
				p, err := h.verdict(t, name, rec)
				switch {
				case err != nil:
					t.Error(err)
				case p == nil:
					t.Errorf("%s name %.40q accepted: %.200s", name, s, rec.Body)
				case rec.Code != http.StatusBadRequest:
					t.Errorf("%s name answered %d, want 400", name, rec.Code)
				}
			}
		})
	}
	if tested < 3 {
		t.Fatalf("only %d create routes with a name accept their example: too few to check text handling", tested)
	}
}

// holds reports whether the decoded JSON v holds the string s as a value anywhere (an answer may nest the
// created object: {"tenant": {...}}).
func holds(v any, s string) bool {
	switch x := v.(type) {
	case string:
		return x == s
	case map[string]any:
		for _, e := range x {
			if holds(e, s) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if holds(e, s) {
				return true
			}
		}
	}
	return false
}
