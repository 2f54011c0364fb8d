package text

import (
	"strings"
	"testing"

	"github.com/edugrid/edugrid/shared/apperr"
)

func TestFieldRefusesControlAndBidiCharacters(t *testing.T) {
	for _, s := range []string{"a\x00b", "a\x1bb", "a\u0085b", "evil\u202Etxt.exe", "a\u2066b\u2069", "\u202Aa"} {
		if _, err := Field("name", s, 120); apperr.As(err) == nil || apperr.As(err).Fields["name"] == "" {
			t.Errorf("Field(%q) = %v, want an Invalid error naming the field", s, err)
		}
	}
	for _, s := range []string{"Zoë", "e\u0301", "😀 Asha", "👩‍👩‍👧", "محمد", "שלום", "名前", "line one\nline two", "a\tb", "\uFFFD"} {
		got, err := Field("name", s, 120)
		if err != nil || got != s {
			t.Errorf("Field(%q) = %q, %v, want it kept exactly", s, got, err)
		}
	}
}

func TestOptional(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"   \n ", "", true},
		{"  call back  ", "call back", true},
		{"नमस्ते 👋", "नमस्ते 👋", true},
		{strings.Repeat("é", 10), strings.Repeat("é", 10), true}, // 20 bytes, 10 characters
		{strings.Repeat("x", 11), "", false},
		{"call\u202eback", "", false},
		{"bell\a", "", false},
	}
	for _, tt := range tests {
		got, err := Optional("note", tt.in, 10)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("Optional(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && apperr.As(err).Fields["note"] == "" {
			t.Errorf("Optional(%q) does not name its field", tt.in)
		}
	}
}
