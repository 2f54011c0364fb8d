package httpapi

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/edugrid/edugrid/shared/apperr"
)

// Page limits: a caller asks for up to MaxLimit items and gets DefaultLimit when it does not say.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// PageRequest is a decoded ?cursor=&limit= pair. After is the id the previous page ended at ("" for the
// first page).
type PageRequest struct {
	After string
	Limit int
}

// Page is the envelope of every list response. NextCursor is empty on the last page.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// PageQuery documents the pagination query parameters for a route table.
var PageQuery = []QueryParam{
	{Name: "cursor", Description: "next_cursor of the previous page; omit for the first page"},
	{Name: "limit", Description: "items per page, 1 to 200 (default 50); anything else is refused", Type: 0, Minimum: 1, Maximum: MaxLimit},
}

const cursorPrefix = "v1:"

var limitProblem = "must be a whole number from 1 to " + strconv.Itoa(MaxLimit) + " (the default is " + strconv.Itoa(DefaultLimit) + ")."

// ParsePage reads the cursor and limit query parameters. A limit outside 1..MaxLimit, or one that is not
// a whole number, and a cursor this API did not issue are Invalid errors: a client asking for more than
// a page holds is told so instead of silently getting fewer items than it asked for.
func ParsePage(r *http.Request) (PageRequest, error) {
	q := r.URL.Query()
	pr := PageRequest{Limit: DefaultLimit}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return pr, apperr.InvalidField("limit", limitProblem)
		}
		pr.Limit = n
	}
	if c := q.Get("cursor"); c != "" {
		raw, err := base64.RawURLEncoding.DecodeString(c)
		after, ok := strings.CutPrefix(string(raw), cursorPrefix)
		// Every key a page ends at is UTF-8; anything else was not issued here and must not reach a query.
		if err != nil || !ok || after == "" || len(after) > 200 || !utf8.ValidString(after) {
			return pr, apperr.InvalidField("cursor", "is not a cursor this API issued")
		}
		pr.After = after
	}
	return pr, nil
}

// NewPage builds a page from items fetched with one extra beyond the limit: the extra only signals that
// another page exists. lastID returns the sort key (the id) of an item.
func NewPage[T any](items []T, limit int, lastID func(T) string) Page[T] {
	p := Page[T]{Items: items}
	if len(items) > limit {
		p.Items = items[:limit]
		p.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + lastID(p.Items[limit-1])))
	}
	if p.Items == nil {
		p.Items = []T{}
	}
	return p
}
