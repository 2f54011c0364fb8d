package httpapi

import (
	"encoding/base64"
	"net/http"
	"slices"
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
	var bad apperr.Problems
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil && !isDigits(s):
			bad.Add("limit", apperr.FieldFormat, limitProblem)
		case err != nil || n < 1 || n > MaxLimit:
			bad.Add("limit", apperr.FieldOutOfRange, limitProblem)
		default:
			pr.Limit = n
		}
	}
	if c := q.Get("cursor"); c != "" {
		raw, err := base64.RawURLEncoding.DecodeString(c)
		after, ok := strings.CutPrefix(string(raw), cursorPrefix)
		// Every key a page ends at is UTF-8; anything else was not issued here and must not reach a query.
		if err != nil || !ok || after == "" || len(after) > 200 || !utf8.ValidString(after) {
			bad.Add("cursor", apperr.FieldFormat, "is not a cursor this API issued")
		} else {
			pr.After = after
		}
	}
	return pr, bad.Err()
}

// CheckQuery returns nil when every one of errs is nil and the request's page parameters are good, and
// otherwise the Invalid error naming every bad query parameter at once: the route's own (errs, such as a
// missing ?student=) and limit or cursor. Another error among errs is returned as it is.
func CheckQuery(r *http.Request, errs ...error) error {
	var bad apperr.Problems
	for _, err := range errs {
		bad.Check(err)
	}
	_, err := ParsePage(r)
	bad.Check(err)
	return bad.Err()
}

func isDigits(s string) bool {
	s = strings.TrimPrefix(s, "-")
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// PageBy returns the page of items after pr.After in the order of key, for a list read whole (a
// student's guardians, a session's marks, a batch's roster): key must be unique per item, UTF-8 and at most
// 200 bytes, since the cursor is the last item's key. items is sorted in place.
func PageBy[T any](items []T, pr PageRequest, key func(T) string) Page[T] {
	slices.SortFunc(items, func(a, b T) int { return strings.Compare(key(a), key(b)) })
	start := 0
	if pr.After != "" {
		start, _ = slices.BinarySearchFunc(items, pr.After, func(it T, after string) int {
			if key(it) <= after {
				return -1
			}
			return 1
		})
	}
	end := min(len(items), start+pr.Limit+1)
	return NewPage(slices.Clone(items[start:end]), pr.Limit, key)
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

// ListPage answers a list read whole as the page the request asks for (?cursor=&limit=, see ParsePage):
// the page is parsed before list runs, so a bad limit or cursor is refused without reading anything; an
// error of list is returned as it is. key orders the items and must be unique per item (see PageBy).
func ListPage[T any](w http.ResponseWriter, r *http.Request, list func() ([]T, error), key func(T) string) error {
	pr, err := ParsePage(r)
	if err != nil {
		return err
	}
	items, err := list()
	if err != nil {
		return err
	}
	JSON(w, http.StatusOK, PageBy(items, pr, key))
	return nil
}
