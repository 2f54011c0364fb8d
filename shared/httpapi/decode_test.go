package httpapi

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edugrid/edugrid/shared/apperr"
)

type noteRequest struct {
	Name  string   `json:"name"`
	Count int      `json:"count,omitempty"`
	Tags  []string `json:"tags,omitempty"`
}

// validatedRequest counts Validate calls, so a test sees that Decode runs it last and only on a good body.
type validatedRequest struct {
	Name string `json:"name"`

	calls int
}

var errNameRequired = apperr.InvalidField("name", "is required")

func (v *validatedRequest) Validate() error {
	v.calls++
	if v.Name == "" {
		return errNameRequired
	}
	return nil
}

func jsonRequest(method, target, contentType, body string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// wantAppErr fails unless err is an *apperr.Error with code and, when field is not "", naming field.
func wantAppErr(t *testing.T, err error, code apperr.Code, field string) {
	t.Helper()
	ae := apperr.As(err)
	if ae == nil {
		t.Fatalf("error = %v, want an *apperr.Error with code %s", err, code)
	}
	if ae.Code != code {
		t.Fatalf("code = %s (%v), want %s", ae.Code, err, code)
	}
	if field != "" {
		if _, ok := ae.Fields[field]; !ok {
			t.Fatalf("error %v names fields %v, want %q", err, ae.Fields, field)
		}
	}
}

func TestDecode(t *testing.T) {
	huge := `{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`
	// A complete small value followed by padding: only the trailing-data check reads past the limit.
	paddedTail := `{"name":"a"}` + strings.Repeat(" ", MaxBodyBytes)
	tests := []struct {
		name        string
		contentType string
		body        string
		code        apperr.Code // "" = success
		field       string
	}{
		{"valid", "application/json", `{"name":"a","count":2,"tags":["x"]}`, "", ""},
		{"valid with charset", "application/json; charset=utf-8", `{"name":"a"}`, "", ""},
		{"valid +json type", "application/merge-patch+json", `{"name":"a"}`, "", ""},
		{"no content type", "", `{"name":"a"}`, "", ""},
		{"trailing whitespace", "application/json", "{\"name\":\"a\"}\n\t ", "", ""},
		{"unknown field", "application/json", `{"name":"a","role":"owner"}`, apperr.Invalid, "role"},
		{"two values", "application/json", `{} {}`, apperr.Invalid, ""},
		{"trailing garbage", "application/json", `{}x`, apperr.Invalid, ""},
		{"over the limit", "application/json", huge, apperr.TooLarge, ""},
		{"padding over the limit", "application/json", paddedTail, apperr.TooLarge, ""},
		{"operator object in a string field", "application/json", `{"name": {"$ne": null}}`, apperr.Invalid, "name"},
		{"array in a string field", "application/json", `{"name": ["a"]}`, apperr.Invalid, "name"},
		{"operator object in an int field", "application/json", `{"count": {"$gt": 0}}`, apperr.Invalid, "count"},
		{"array body", "application/json", `[{"name":"a"}]`, apperr.Invalid, ""},
		{"text/plain", "text/plain", `{"name":"a"}`, apperr.UnsupportedType, ""},
		{"form", "application/x-www-form-urlencoded", `name=a`, apperr.UnsupportedType, ""},
		{"unparsable content type", "application/json; =", `{"name":"a"}`, apperr.UnsupportedType, ""},
		{"empty body", "application/json", ``, apperr.Invalid, ""},
		{"truncated", "application/json", `{"name":`, apperr.Invalid, ""},
		{"syntax error", "application/json", `{"name" "a"}`, apperr.Invalid, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst noteRequest
			err := Decode(jsonRequest(http.MethodPost, "/notes", tt.contentType, tt.body), &dst)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if dst.Name != "a" {
					t.Fatalf("decoded %+v, want name a", dst)
				}
				return
			}
			wantAppErr(t, err, tt.code, tt.field)
		})
	}
}

// The decoder's messages reach the caller; they must not echo the (possibly hostile) body back.
func TestDecodeErrorsDoNotEchoValues(t *testing.T) {
	var dst noteRequest
	err := Decode(jsonRequest(http.MethodPost, "/notes", "application/json", `{"name": {"$where": "sleep(1000)"}}`), &dst)
	wantAppErr(t, err, apperr.Invalid, "name")
	if strings.Contains(err.Error(), "sleep") {
		t.Fatalf("error %q echoes the request body", err)
	}
}

// A malformed date-time gets a message that says how to write one, without echoing the value.
func TestDecodeBadTime(t *testing.T) {
	var dst struct {
		At time.Time `json:"at"`
	}
	err := Decode(jsonRequest(http.MethodPost, "/notes", "application/json", `{"at": "next tuesday"}`), &dst)
	wantAppErr(t, err, apperr.Invalid, "")
	if !strings.Contains(err.Error(), "RFC 3339") || strings.Contains(err.Error(), "tuesday") {
		t.Fatalf("error %q: want the format named and the value not echoed", err)
	}
}

func TestDecodeValidate(t *testing.T) {
	t.Run("runs and its error is returned", func(t *testing.T) {
		var dst validatedRequest
		err := Decode(jsonRequest(http.MethodPost, "/x", "application/json", `{"name":""}`), &dst)
		if err != errNameRequired {
			t.Fatalf("Decode = %v, want Validate's error %v", err, errNameRequired)
		}
		if dst.calls != 1 {
			t.Fatalf("Validate called %d times, want 1", dst.calls)
		}
	})
	t.Run("passes", func(t *testing.T) {
		var dst validatedRequest
		if err := Decode(jsonRequest(http.MethodPost, "/x", "application/json", `{"name":"a"}`), &dst); err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if dst.calls != 1 {
			t.Fatalf("Validate called %d times, want 1", dst.calls)
		}
	})
	t.Run("not run on a bad body", func(t *testing.T) {
		var dst validatedRequest
		err := Decode(jsonRequest(http.MethodPost, "/x", "application/json", `{"name":"a"} {}`), &dst)
		wantAppErr(t, err, apperr.Invalid, "")
		if dst.calls != 0 {
			t.Fatalf("Validate ran %d times on a refused body", dst.calls)
		}
	})
}

func TestJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	JSON(rec, http.StatusCreated, noteRequest{Name: "a"})
	if rec.Code != http.StatusCreated {
		t.Errorf("status = %d, want 201", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store: responses carry tenant data", cc)
	}
	if got := strings.TrimSpace(rec.Body.String()); got != `{"name":"a"}` {
		t.Errorf("body = %s", got)
	}

	// A handler that chose its own caching keeps it.
	rec = httptest.NewRecorder()
	rec.Header().Set("Cache-Control", "public, max-age=60")
	JSON(rec, http.StatusOK, map[string]string{})
	if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=60" {
		t.Errorf("Cache-Control = %q, want the handler's own", cc)
	}
}

// Reply answers with the value, or writes nothing and hands the error back for the Area to map.
func TestReply(t *testing.T) {
	rec := httptest.NewRecorder()
	if err := Reply(rec, http.StatusCreated, noteRequest{Name: "a"}, nil); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusCreated || strings.TrimSpace(rec.Body.String()) != `{"name":"a"}` {
		t.Fatalf("answer %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	failed := apperr.Errorf(apperr.NotFound, "no such note")
	if err := Reply(rec, http.StatusOK, (*noteRequest)(nil), failed); err != failed {
		t.Fatalf("Reply returned %v, want the service's error", err)
	}
	if rec.Body.Len() != 0 || len(rec.Header()) != 0 {
		t.Fatalf("Reply wrote %q with headers %v for a failed call", rec.Body, rec.Header())
	}
}

// A bare null or a non-object body is refused rather than decoded into an empty request.
func TestDecodeRefusesNonObjectBodies(t *testing.T) {
	for _, body := range []string{"null", "[]", `"x"`, "1"} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var dst struct {
			Name string `json:"name"`
		}
		if err := Decode(r, &dst); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("body %s: error %v, want invalid", body, err)
		}
	}
}

func TestOptionalDate(t *testing.T) {
	for s, ok := range map[string]bool{"": true, "2026-02-28": true, "2026-02-30": false, "28/02/2026": false, "2026-2-3": false} {
		err := OptionalDate("date", s)
		if (err == nil) != ok {
			t.Errorf("OptionalDate(%q) = %v, want ok=%v", s, err, ok)
		}
		if err != nil && apperr.As(err).Fields["date"] == "" {
			t.Errorf("OptionalDate(%q) does not name its field", s)
		}
	}
}

func TestCheckPatternAndCheckID(t *testing.T) {
	code := regexp.MustCompile(`^[A-Z]{2,4}$`)
	tests := []struct {
		name  string
		check func(*apperr.Problems)
		want  apperr.FieldCode // "" when the value passes
	}{
		{"pattern matched", func(b *apperr.Problems) { CheckPattern(b, "code", "PHY", code, "must be A-Z") }, ""},
		{"pattern empty", func(b *apperr.Problems) { CheckPattern(b, "code", "", code, "must be A-Z") }, apperr.FieldRequired},
		{"pattern missed", func(b *apperr.Problems) { CheckPattern(b, "code", "phy", code, "must be A-Z") }, apperr.FieldFormat},
		{"id", func(b *apperr.Problems) { CheckID(b, "code", "6b11280f7ab2d4c1c6a9b56e", "must be an id") }, ""},
		{"id empty", func(b *apperr.Problems) { CheckID(b, "code", "", "must be an id") }, apperr.FieldRequired},
		{"id malformed", func(b *apperr.Problems) { CheckID(b, "code", "not-an-id", "must be an id") }, apperr.FieldFormat},
	}
	for _, tc := range tests {
		var bad apperr.Problems
		tc.check(&bad)
		err := apperr.As(bad.Err())
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused with %v", tc.name, err)
		case tc.want != "" && (err == nil || len(err.Errors) != 1 || err.Errors[0].Field != "code" || err.Errors[0].Code != tc.want):
			t.Errorf("%s: got %+v, want code with %s", tc.name, err, tc.want)
		}
	}
}
