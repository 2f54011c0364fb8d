package authn

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/edugrid/edugrid/shared/apperr"
)

// PasswordParams are Argon2id cost parameters. DefaultPasswordParams follow OWASP's minimum (19 MiB,
// two passes), which keeps a login under ~50 ms on a function's single vCPU; tests use cheaper ones.
type PasswordParams struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultPasswordParams are the production cost parameters.
var DefaultPasswordParams = PasswordParams{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

// Password length bounds. The upper bound stops a megabyte "password" from costing a hash of it.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 128
)

// CheckPasswordPolicy returns an Invalid error naming field when pw is too short or too long.
func CheckPasswordPolicy(field, pw string) error {
	msg := fmt.Sprintf("must be at least %d characters and at most %d bytes", MinPasswordLen, MaxPasswordLen)
	switch n := len([]rune(pw)); {
	case n == 0:
		return apperr.Field(field, apperr.FieldRequired, msg)
	case n < MinPasswordLen:
		return apperr.Field(field, apperr.FieldTooShort, msg)
	case len(pw) > MaxPasswordLen:
		return apperr.Field(field, apperr.FieldTooLong, msg)
	}
	return nil
}

// HashPassword returns the PHC-format Argon2id hash of pw with a fresh salt.
func HashPassword(pw string, p PasswordParams) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	sum := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum)), nil
}

// VerifyPassword reports whether pw matches the PHC hash; a malformed hash never matches. The parameters
// come from the hash, so raising DefaultPasswordParams keeps old hashes working.
func VerifyPassword(pw, hash string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var v int
	var p PasswordParams
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return false
	}
	// argon2.IDKey panics on zero time or threads; a hash from the database must never crash a login.
	if p.MemoryKiB > 256*1024 || p.Time == 0 || p.Time > 10 || p.Threads == 0 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// randomToken returns n random bytes, base64url encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // the kernel's RNG failing is not recoverable
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
