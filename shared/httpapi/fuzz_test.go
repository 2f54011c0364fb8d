package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/edugrid/edugrid/shared/apperr"
)

// fuzzRequest is a representative request body: nested objects, lists, optional pointers, money, a map and
// a Validate that refuses some decoded values, as the areas' request types have.
type fuzzRequest struct {
	Name     string            `json:"name"`
	Amount   int64             `json:"amount"`
	Ratio    float64           `json:"ratio,omitempty"`
	Active   *bool             `json:"active,omitempty"`
	Note     *string           `json:"note,omitempty"`
	Tags     []string          `json:"tags,omitempty"`
	Schedule []fuzzSlot        `json:"schedule,omitempty"`
	Owner    *fuzzOwner        `json:"owner,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
}

type fuzzSlot struct {
	Weekday string `json:"weekday"`
	Minutes int    `json:"minutes"`
}

type fuzzOwner struct {
	Email string `json:"email"`
}

func (r *fuzzRequest) Validate() error {
	if r.Amount < 0 {
		return apperr.InvalidField("amount", "must not be negative")
	}
	if _, err := Text("name", r.Name, 120); err != nil {
		return err
	}
	return OptionalDate("note", "")
}

// FuzzDecode sends arbitrary bytes (under an arbitrary content type) through Decode: it never panics, every
// refusal is an *apperr.Error whose status is a 4xx, and whatever it accepts was a single JSON object of
// valid UTF-8 that decodes to the same value again after a round trip.
// Run it longer with: go test ./shared/httpapi -run '^$' -fuzz '^FuzzDecode$' -fuzztime 1m
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"name":"Asha","amount":100}`,
		`{"name":"Asha","amount":100,"tags":["a","b"],"schedule":[{"weekday":"mon","minutes":60}],"owner":{"email":"a@b.c"},"labels":{"k":"v"},"active":true,"note":null}`,
		`{"name":{"$gt":""},"amount":1}`,
		`{"name":"a","$where":"sleep(1)"}`,
		`{"name":"a","amount":1e309}`,
		`{"name":"a","amount":9223372036854775808}`,
		`{"name":"a","amount":-9223372036854775809}`,
		`{"name":"a","amount":-1}`,
		`{"name":"a","name":"b"}`,
		`{"name":"a","NAME":"b"}`,
		`{"name":"\ud800"}`,
		`{"name":"\ud83d\ude00"}`,
		"{\"name\":\"\xff\"}",
		`{"name":"a\u0000b"}`,
		`{"name":"a"} {}`,
		`{"name":"a"}]`,
		`[]`, `null`, `"x"`, ``, `{`, `{"labels":{"a.b":"c","$set":"d"}}`,
	} {
		f.Add([]byte(s), "application/json")
	}
	f.Add([]byte(`{"name":"a"}`), "text/plain")
	f.Add([]byte(`{"name":"a"}`), "application/problem+json; charset=utf-8")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		var dst fuzzRequest
		err := Decode(r, &dst)
		if err != nil {
			ae := apperr.As(err)
			if ae == nil {
				t.Fatalf("Decode(%q) error %v is not an *apperr.Error", body, err)
			}
			if s := StatusOf(ae.Code); s < 400 || s > 499 {
				t.Fatalf("Decode(%q) error %v maps to status %d, want a 4xx", body, err, s)
			}
			return
		}
		if !utf8.Valid(body) || !json.Valid(body) || bytes.TrimSpace(body)[0] != '{' {
			t.Fatalf("Decode accepted %q, which is not one JSON object of valid UTF-8", body)
		}
		again, err := json.Marshal(&dst)
		if err != nil {
			t.Fatal(err)
		}
		var round fuzzRequest
		r2 := httptest.NewRequest("POST", "/", bytes.NewReader(again))
		if err := Decode(r2, &round); err != nil {
			t.Fatalf("Decode accepted %q but refuses its own re-encoding %s: %v", body, again, err)
		}
		if b, _ := json.Marshal(&round); !bytes.Equal(b, again) {
			t.Fatalf("round trip of %q changed the value: %s then %s", body, again, b)
		}
	})
}

// FuzzParsePage reads arbitrary cursor and limit parameters: ParsePage never panics, refuses with an
// Invalid error naming the parameter, caps the limit, and every cursor it accepts names a key that
// NewPage encodes back into a cursor ParsePage reads as the same key.
// Run it longer with: go test ./shared/httpapi -run '^$' -fuzz '^FuzzParsePage$' -fuzztime 1m
func FuzzParsePage(f *testing.F) {
	for _, key := range []string{"0123456789abcdef01234567", "Asha Rao\x1f0123456789abcdef01234567", "2026-06-01T09:00:00Z", "s/t"} {
		f.Add(cursorFor(cursorPrefix+key), "50")
	}
	for _, c := range []string{"", "v1:", cursorFor("v1:"), cursorFor("v2:abc"), cursorFor("v1:\xff"), "not base64!", cursorFor("v1:" + strings.Repeat("a", 201)), cursorFor(`v1:{"$gt":""}`)} {
		f.Add(c, "")
	}
	for _, l := range []string{"0", "-1", "201", "1e3", "9223372036854775808", " 5", "abc"} {
		f.Add("", l)
	}
	f.Fuzz(func(t *testing.T, cursor, limit string) {
		q := url.Values{}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		if limit != "" {
			q.Set("limit", limit)
		}
		r := httptest.NewRequest("GET", "/?"+q.Encode(), nil)
		pr, err := ParsePage(r)
		if err != nil {
			ae := apperr.As(err)
			if ae == nil || ae.Code != apperr.Invalid || StatusOf(ae.Code) != http.StatusBadRequest {
				t.Fatalf("ParsePage(cursor %q, limit %q) error %v is not an Invalid *apperr.Error", cursor, limit, err)
			}
			if ae.Fields["cursor"] == "" && ae.Fields["limit"] == "" {
				t.Fatalf("ParsePage(cursor %q, limit %q) error %v names neither parameter", cursor, limit, err)
			}
			return
		}
		if pr.Limit < 1 || pr.Limit > MaxLimit {
			t.Fatalf("ParsePage(limit %q) = limit %d, outside 1..%d", limit, pr.Limit, MaxLimit)
		}
		if cursor == "" {
			if pr.After != "" {
				t.Fatalf("no cursor, but After = %q", pr.After)
			}
			return
		}
		if pr.After == "" || !utf8.ValidString(pr.After) {
			t.Fatalf("ParsePage accepted cursor %q as key %q", cursor, pr.After)
		}
		next := NewPage([]string{pr.After, "extra"}, 1, func(s string) string { return s }).NextCursor
		back, err := ParsePage(httptest.NewRequest("GET", "/?cursor="+url.QueryEscape(next), nil))
		if err != nil || back.After != pr.After {
			t.Fatalf("key %q: NewPage issued cursor %q, which ParsePage reads as %q, %v", pr.After, next, back.After, err)
		}
	})
}

// Ambiguous JSON, which encoding/json alone would read one way and another parser another, is refused;
// unusual but well-formed text is kept exactly.
func TestDecodeRefusesAmbiguousJSON(t *testing.T) {
	for name, body := range map[string]string{
		"duplicate key":              `{"name":"a","name":"b"}`,
		"duplicate key, other case":  `{"name":"a","NAME":"b"}`,
		"duplicate key, escaped":     `{"name":"a","n\u0061me":"b"}`,
		"duplicate key, nested":      `{"name":"a","owner":{"email":"x","email":"y"}}`,
		"duplicate key, in a map":    `{"name":"a","labels":{"k":"1","k":"2"}}`,
		"duplicate operator key":     `{"name":"a","name":{"$gt":""}}`,
		"lone high surrogate":        `{"name":"\ud800"}`,
		"lone low surrogate":         `{"name":"\udc00x"}`,
		"high surrogate then letter": `{"name":"\ud800\u0041"}`,
		"invalid UTF-8":              "{\"name\":\"a\xffb\"}",
		"NUL":                        `{"name":"a\u0000b"}`,
		"NUL in a key":               `{"name":"a","labels":{"k\u0000":"v"}}`,
		"overlong UTF-8":             "{\"name\":\"\xc0\xaf\"}",
	} {
		t.Run(name, func(t *testing.T) {
			var dst fuzzRequest
			wantAppErr(t, Decode(jsonRequest("POST", "/", "application/json", body), &dst), apperr.Invalid, "")
		})
	}
	for name, body := range map[string]string{
		"surrogate pair":       `{"name":"\ud83d\ude00"}`,
		"escaped backslash u":  `{"name":"a\\ud800"}`,
		"same key, two levels": `{"name":"a","owner":{"email":"x"},"labels":{"name":"b","email":"c"}}`,
		"keys in two objects":  `{"name":"a","schedule":[{"weekday":"mon"},{"weekday":"tue"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			var dst fuzzRequest
			if err := Decode(jsonRequest("POST", "/", "application/json", body), &dst); err != nil {
				t.Fatalf("Decode(%s) = %v, want it accepted", body, err)
			}
		})
	}
}

func TestOptionalDateEdges(t *testing.T) {
	for s, ok := range map[string]bool{
		"2028-02-29": true, "2000-02-29": true, "2027-02-29": false, "1900-02-29": false, "2026-13-01": false,
		"2026-00-10": false, "2026-04-31": false, "2026-1-1": false, "2026-07-01T00:00:00Z": false, " 2026-07-01": false,
	} {
		if err := OptionalDate("date", s); (err == nil) != ok {
			t.Errorf("OptionalDate(%q) = %v, want ok=%v", s, err, ok)
		}
	}
}
