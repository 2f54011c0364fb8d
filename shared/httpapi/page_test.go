package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/edugrid/edugrid/shared/apperr"
)

func cursorFor(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestParsePage(t *testing.T) {
	tests := []struct {
		name  string
		query url.Values
		want  PageRequest
		field string // "" = no error
	}{
		{"defaults", nil, PageRequest{Limit: DefaultLimit}, ""},
		{"limit", url.Values{"limit": {"10"}}, PageRequest{Limit: 10}, ""},
		{"limit at the cap", url.Values{"limit": {"200"}}, PageRequest{Limit: MaxLimit}, ""},
		{"limit one", url.Values{"limit": {"1"}}, PageRequest{Limit: 1}, ""},
		{"limit over the cap", url.Values{"limit": {"201"}}, PageRequest{}, "limit"},
		{"limit 500", url.Values{"limit": {"500"}}, PageRequest{}, "limit"},
		{"huge limit", url.Values{"limit": {"100000000000000000000"}}, PageRequest{}, "limit"},
		{"empty limit is the default", url.Values{"limit": {""}}, PageRequest{Limit: DefaultLimit}, ""},
		{"cursor", url.Values{"cursor": {cursorFor("v1:stu_0042")}}, PageRequest{After: "stu_0042", Limit: DefaultLimit}, ""},
		{"zero limit", url.Values{"limit": {"0"}}, PageRequest{}, "limit"},
		{"negative limit", url.Values{"limit": {"-5"}}, PageRequest{}, "limit"},
		{"fractional limit", url.Values{"limit": {"2.5"}}, PageRequest{}, "limit"},
		{"word limit", url.Values{"limit": {"all"}}, PageRequest{}, "limit"},
		{"cursor not base64", url.Values{"cursor": {"!!not-base64!!"}}, PageRequest{}, "cursor"},
		{"cursor without version", url.Values{"cursor": {cursorFor("stu_0042")}}, PageRequest{}, "cursor"},
		{"cursor with empty id", url.Values{"cursor": {cursorFor("v1:")}}, PageRequest{}, "cursor"},
		{"cursor id too long", url.Values{"cursor": {cursorFor("v1:" + strings.Repeat("x", 201))}}, PageRequest{}, "cursor"},
		{"padded cursor", url.Values{"cursor": {base64.URLEncoding.EncodeToString([]byte("v1:a"))}}, PageRequest{}, "cursor"},
		// A client must not smuggle a filter document through the cursor.
		{"cursor carrying JSON", url.Values{"cursor": {cursorFor(`{"$gt":""}`)}}, PageRequest{}, "cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePage(httptest.NewRequest("GET", "/students?"+tt.query.Encode(), nil))
			if tt.field != "" {
				wantAppErr(t, err, apperr.Invalid, tt.field)
				if ae := apperr.As(err); tt.field == "limit" && ae.Message != "limit: must be a whole number from 1 to 200 (the default is 50)." {
					t.Errorf("message = %q, want the whole allowed range in one sentence", ae.Message)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePage: %v", err)
			}
			if got != tt.want {
				t.Fatalf("ParsePage = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNewPage(t *testing.T) {
	id := func(s string) string { return s }
	tests := []struct {
		name      string
		items     []string
		limit     int
		wantItems []string
		wantAfter string // "" = no next page
	}{
		{"empty", nil, 3, []string{}, ""},
		{"fewer than the limit", []string{"a", "b"}, 3, []string{"a", "b"}, ""},
		{"exactly the limit", []string{"a", "b", "c"}, 3, []string{"a", "b", "c"}, ""},
		{"one extra signals more", []string{"a", "b", "c", "d"}, 3, []string{"a", "b", "c"}, "c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPage(tt.items, tt.limit, id)
			if !equal(p.Items, tt.wantItems) || p.Items == nil {
				t.Fatalf("items = %#v, want %#v", p.Items, tt.wantItems)
			}
			if tt.wantAfter == "" {
				if p.NextCursor != "" {
					t.Fatalf("next_cursor = %q on the last page", p.NextCursor)
				}
				return
			}
			// The cursor must lead ParsePage to the last item shown.
			next, err := ParsePage(httptest.NewRequest("GET", "/x?cursor="+url.QueryEscape(p.NextCursor), nil))
			if err != nil {
				t.Fatalf("ParsePage(next_cursor %q): %v", p.NextCursor, err)
			}
			if next.After != tt.wantAfter {
				t.Fatalf("next page starts after %q, want %q", next.After, tt.wantAfter)
			}
		})
	}
}

// Frontends rely on "items" being an array, never null, and on next_cursor being absent on the last page.
func TestPageJSON(t *testing.T) {
	b, err := json.Marshal(NewPage[string](nil, 10, func(s string) string { return s }))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"items":[]}` {
		t.Fatalf("empty page = %s, want {\"items\":[]}", b)
	}
}

func TestPageByWalksAListReadWhole(t *testing.T) {
	items := []string{"d", "a", "c", "b", "e"}
	var got []string
	pr := PageRequest{Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the pages never end")
		}
		p := PageBy(slices.Clone(items), pr, func(s string) string { return s })
		got = append(got, p.Items...)
		if p.NextCursor == "" {
			break
		}
		raw, _ := base64.RawURLEncoding.DecodeString(p.NextCursor)
		pr.After = strings.TrimPrefix(string(raw), cursorPrefix)
	}
	if want := []string{"a", "b", "c", "d", "e"}; !slices.Equal(got, want) {
		t.Errorf("pages = %v, want %v", got, want)
	}
	// A cursor past the end, or between keys, continues after it.
	if p := PageBy(slices.Clone(items), PageRequest{After: "bb", Limit: 10}, func(s string) string { return s }); !slices.Equal(p.Items, []string{"c", "d", "e"}) {
		t.Errorf("after bb = %v", p.Items)
	}
	if p := PageBy([]string{}, PageRequest{After: "z", Limit: 10}, func(s string) string { return s }); p.Items == nil || len(p.Items) != 0 {
		t.Errorf("empty = %#v, want an empty list, not null", p.Items)
	}
}

func TestListPage(t *testing.T) {
	list := func(calls *int, err error) func() ([]string, error) {
		return func() ([]string, error) {
			*calls++
			return []string{"b", "a", "c"}, err
		}
	}
	tests := []struct {
		name      string
		query     string
		listErr   error
		wantCode  apperr.Code
		wantCalls int
		wantBody  string
	}{
		{"first page", "?limit=2", nil, "", 1, `{"items":["a","b"],"next_cursor":"` + cursorFor("v1:b") + `"}`},
		{"the rest", "?limit=2&cursor=" + cursorFor("v1:b"), nil, "", 1, `{"items":["c"]}`},
		{"a bad limit reads nothing", "?limit=0", nil, apperr.Invalid, 0, ""},
		{"a foreign cursor reads nothing", "?cursor=bogus", nil, apperr.Invalid, 0, ""},
		{"the list's error is returned", "", apperr.Errorf(apperr.NotFound, "no such student"), apperr.NotFound, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			rec := httptest.NewRecorder()
			err := ListPage(rec, httptest.NewRequest("GET", "/x"+tt.query, nil), list(&calls, tt.listErr), func(s string) string { return s })
			if apperr.CodeOf(err) != tt.wantCode || calls != tt.wantCalls {
				t.Fatalf("ListPage = %v after %d list calls, want code %q after %d", err, calls, tt.wantCode, tt.wantCalls)
			}
			if tt.wantBody != "" && strings.TrimSpace(rec.Body.String()) != tt.wantBody {
				t.Errorf("body = %s, want %s", rec.Body, tt.wantBody)
			}
		})
	}
}
