// Package text holds the rules every stored text field obeys, whoever writes it: an HTTP request, the
// platform admin's branding of a tenant, a Go caller of an area. A field is trimmed, has a length counted
// in characters (not bytes), and refuses control characters and bidi overrides, which could make a stored
// name display as something else in a list, a receipt or a log line. Everything else, emoji, combining
// marks and right-to-left scripts included, is kept exactly as sent.
//
// Errors are *apperr.Error with code Invalid naming the field, so a caller returns them as they are.
package text

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/edugrid/edugrid/shared/apperr"
)

// Field trims s and returns it, or an Invalid error naming field when it is empty, longer than max
// characters, or holds a control character (NUL, escape…; line breaks and tabs are allowed) or a bidi
// embedding, override or isolate (U+202A–U+202E, U+2066–U+2069).
func Field(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n < 1 || n > max {
		code := apperr.FieldTooLong
		if n < 1 {
			code = apperr.FieldRequired
		}
		return "", apperr.Field(field, code, fmt.Sprintf("must be 1 to %d characters", max))
	}
	for _, r := range s {
		if forbidden(r) {
			return "", apperr.Field(field, apperr.FieldFormat, "must not hold control or bidi override characters")
		}
	}
	return s, nil
}

// Optional is Field for a field that may be left out: s trimmed, "" when it is empty or only spaces.
func Optional(field, s string, max int) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	return Field(field, s, max)
}

// forbidden reports whether r may not appear in a stored text field. Line breaks and tabs are control
// characters that multi-line fields (remarks, notes) legitimately hold.
func forbidden(r rune) bool {
	return (unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r') ||
		(r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}
