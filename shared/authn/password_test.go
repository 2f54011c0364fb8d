package authn_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/authn"
)

// cheap keeps the Argon2id work of these tests negligible; the code under test takes parameters from the
// hash, so nothing here depends on the production cost.
var cheap = authn.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}

func mustHash(t *testing.T, pw string, p authn.PasswordParams) string {
	t.Helper()
	h, err := authn.HashPassword(pw, p)
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	return h
}

func TestPasswordRoundTrip(t *testing.T) {
	h := mustHash(t, "correct horse battery", cheap)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash %q is not PHC Argon2id with the given parameters", h)
	}
	if !authn.VerifyPassword("correct horse battery", h) {
		t.Error("the right password does not verify")
	}
	for _, wrong := range []string{"", "correct horse batter", "Correct horse battery", "correct horse battery "} {
		if authn.VerifyPassword(wrong, h) {
			t.Errorf("wrong password %q verifies", wrong)
		}
	}
	// A fresh salt per hash: equal passwords must not give equal hashes.
	if h2 := mustHash(t, "correct horse battery", cheap); h2 == h {
		t.Error("two hashes of one password are equal")
	}
}

// A hash made outside HashPassword with other parameters verifies, and changing a parameter in the string
// breaks it: VerifyPassword uses the hash's parameters, so raising the defaults keeps old hashes working.
func TestPasswordParametersComeFromHash(t *testing.T) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		t.Fatal(err)
	}
	sum := argon2.IDKey([]byte("s3cret-password"), salt, 2, 128, 2, 32)
	enc := base64.RawStdEncoding.EncodeToString
	h := fmt.Sprintf("$argon2id$v=19$m=128,t=2,p=2$%s$%s", enc(salt), enc(sum))
	if !authn.VerifyPassword("s3cret-password", h) {
		t.Fatal("a hash with non-default parameters does not verify")
	}
	for _, changed := range []string{
		strings.Replace(h, "m=128", "m=256", 1),
		strings.Replace(h, "t=2", "t=3", 1),
		strings.Replace(h, "p=2", "p=1", 1),
	} {
		if authn.VerifyPassword("s3cret-password", changed) {
			t.Errorf("verifies under altered parameters: %s", changed)
		}
	}
}

func TestPasswordMalformedHash(t *testing.T) {
	good := mustHash(t, "s3cret-password", cheap)
	parts := strings.Split(good, "$") // "", "argon2id", "v=19", "m=..", salt, sum
	with := func(i int, v string) string {
		p := append([]string{}, parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	tests := map[string]string{
		"empty":                "",
		"plain text":           "s3cret-password",
		"bcrypt":               "$2a$10$abcdefghijklmnopqrstuuE6e6/7bN8Bq9Xz0lJ1p8nQ7yZp1G2a",
		"argon2i":              with(1, "argon2i"),
		"old version":          with(2, "v=16"),
		"no version":           with(2, "19"),
		"params garbled":       with(3, "m=x,t=1,p=1"),
		"memory over bound":    with(3, "m=300000,t=1,p=1"),
		"time over bound":      with(3, "m=64,t=11,p=1"),
		"zero time":            with(3, "m=64,t=0,p=1"),
		"zero threads":         with(3, "m=64,t=1,p=0"),
		"threads overflow":     with(3, "m=64,t=1,p=256"),
		"negative memory":      with(3, "m=-1,t=1,p=1"),
		"salt not base64":      with(4, "!!!"),
		"sum not base64":       with(5, "!!!"),
		"empty sum":            with(5, ""),
		"missing segment":      strings.Join(parts[:5], "$"),
		"extra segment":        good + "$x",
		"padded base64 sum":    with(5, parts[5]+"="),
		"sum of another value": with(5, base64.RawStdEncoding.EncodeToString(make([]byte, 32))),
	}
	for name, h := range tests {
		t.Run(name, func(t *testing.T) {
			// A malformed hash must answer false, never panic: it comes from the database.
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("VerifyPassword panicked on %q: %v", h, r)
				}
			}()
			if authn.VerifyPassword("s3cret-password", h) {
				t.Fatalf("verifies against %q", h)
			}
		})
	}
}

func TestCheckPasswordPolicy(t *testing.T) {
	tests := []struct {
		pw string
		ok bool
	}{
		{"", false},
		{strings.Repeat("a", authn.MinPasswordLen-1), false},
		{strings.Repeat("a", authn.MinPasswordLen), true},
		{strings.Repeat("a", authn.MaxPasswordLen), true},
		{strings.Repeat("a", authn.MaxPasswordLen+1), false},
		// The lower bound counts characters, so ten two-byte letters are enough...
		{strings.Repeat("é", authn.MinPasswordLen), true},
		// ...and five of them (ten bytes) are not.
		{strings.Repeat("é", authn.MinPasswordLen/2), false},
	}
	for _, tc := range tests {
		err := authn.CheckPasswordPolicy("new_password", tc.pw)
		if tc.ok {
			if err != nil {
				t.Errorf("len %d: %v", len(tc.pw), err)
			}
			continue
		}
		e := apperr.As(err)
		if e == nil || e.Code != apperr.Invalid || e.Fields["new_password"] == "" {
			t.Errorf("len %d: got %v, want Invalid naming new_password", len(tc.pw), err)
		}
	}
}
