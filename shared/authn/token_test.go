package authn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/clock"
)

const (
	testIssuer   = "https://auth.edugrid.test"
	testAudience = "edugrid-api"
	testTTL      = 15 * time.Minute
)

// base lies in the future on purpose: the embedded engine's TTL monitor runs on the wall clock, and
// refresh tokens stamped with a past time could be expired away under a slow test.
var base = time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)

// testKey is a generated signing key in both forms: PEM for ParseKeyRing and the parsed key for forging.
type testKey struct {
	pem  []byte
	priv ed25519.PrivateKey
}

func mustKey(t *testing.T) testKey {
	t.Helper()
	p, err := authn.GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	block, _ := pem.Decode(p)
	if block == nil {
		t.Fatal("GenerateKey returned no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("parse generated key: %v", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		t.Fatalf("GenerateKey returned a %T, want ed25519", k)
	}
	return testKey{pem: p, priv: priv}
}

func mustRing(t *testing.T, signing, verify []byte) *authn.KeyRing {
	t.Helper()
	kr, err := authn.ParseKeyRing(signing, verify)
	if err != nil {
		t.Fatalf("ParseKeyRing: %v", err)
	}
	return kr
}

func newTokens(t *testing.T, kr *authn.KeyRing, clk clock.Clock) *authn.Tokens {
	t.Helper()
	return authn.NewTokens(kr, authn.TokenConfig{Issuer: testIssuer, Audience: testAudience, AccessTTL: testTTL}, clk)
}

// thumbprint computes the RFC 7638 thumbprint independently of the package: json.Marshal sorts map keys
// and adds no whitespace, which is exactly the canonical form the RFC asks for.
func thumbprint(t *testing.T, pub ed25519.PublicKey) string {
	t.Helper()
	canon, err := json.Marshal(map[string]string{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(pub)})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(canon)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func wantUnauthenticated(t *testing.T, err error, msgPart string) {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want Unauthenticated")
	}
	if got := apperr.CodeOf(err); got != apperr.Unauthenticated {
		t.Fatalf("code %q (%v), want %q", got, err, apperr.Unauthenticated)
	}
	if msgPart != "" && !strings.Contains(apperr.As(err).Message, msgPart) {
		t.Fatalf("message %q, want it to mention %q", apperr.As(err).Message, msgPart)
	}
}

// validClaims are the claims of a token Verify accepts at base; each rejection row changes one thing.
func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss":  testIssuer,
		"aud":  []string{testAudience},
		"sub":  "user-1",
		"tnt":  "acme",
		"tv":   int64(3),
		"uv":   int64(7),
		"role": "teacher",
		"br":   []string{"b1"},
		"iat":  base.Unix(),
		"nbf":  base.Unix(),
		"exp":  base.Add(testTTL).Unix(),
		"jti":  "jti-1",
	}
}

func validHeader(kid string) map[string]any {
	return map[string]any{"kid": kid, "typ": authn.TokenType}
}

// forge signs claims with method and key under header (alg is set by the method). A nil header value
// deletes that header member.
func forge(t *testing.T, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("forge token: %v", err)
	}
	return s
}

func TestVerifyAcceptsIssuedToken(t *testing.T) {
	clk := clock.NewManual(base)
	kr := mustRing(t, mustKey(t).pem, nil)
	tokens := newTokens(t, kr, clk)
	in := authn.Claims{Tenant: "acme", TenantVersion: 3, UserVersion: 7, Role: "teacher", Branches: []string{"b1", "b2"}, PRN: "00013250000017"}
	in.Subject = "user-1"
	raw, exp, err := tokens.Issue(in)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if !exp.Equal(base.Add(testTTL)) {
		t.Errorf("exp %v, want %v", exp, base.Add(testTTL))
	}

	// The header must carry the ring's kid and the at+jwt type, or other verifiers cannot check it.
	parsed, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
	if err != nil {
		t.Fatalf("ParseUnverified: %v", err)
	}
	if parsed.Header["alg"] != "EdDSA" || parsed.Header["typ"] != authn.TokenType || parsed.Header["kid"] != kr.JWKS().Keys[0].Kid {
		t.Errorf("header %v", parsed.Header)
	}

	clk.Advance(time.Minute)
	c, err := tokens.Verify(raw)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.Subject != "user-1" || c.Tenant != "acme" || c.TenantVersion != 3 || c.UserVersion != 7 || c.Role != "teacher" ||
		!slices.Equal(c.Branches, []string{"b1", "b2"}) || c.PRN != "00013250000017" {
		t.Errorf("claims %+v", c)
	}
	if c.Issuer != testIssuer || !slices.Equal([]string(c.Audience), []string{testAudience}) || c.ID == "" {
		t.Errorf("registered claims %+v", c.RegisteredClaims)
	}
	if !c.IssuedAt.Equal(base) || !c.NotBefore.Equal(base) || !c.ExpiresAt.Equal(base.Add(testTTL)) {
		t.Errorf("times iat %v nbf %v exp %v", c.IssuedAt, c.NotBefore, c.ExpiresAt)
	}
}

func TestVerifyRejects(t *testing.T) {
	clk := clock.NewManual(base)
	key := mustKey(t)
	kr := mustRing(t, key.pem, nil)
	kid := kr.JWKS().Keys[0].Kid
	tokens := newTokens(t, kr, clk)
	pub := key.priv.Public().(ed25519.PublicKey)
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := kr.PublicPEM()

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	stranger := mustKey(t)

	// withClaim returns the valid claims with one member changed (nil deletes it).
	withClaim := func(name string, v any) jwt.MapClaims {
		c := validClaims()
		if v == nil {
			delete(c, name)
		} else {
			c[name] = v
		}
		return c
	}
	withHeader := func(name string, v any) map[string]any {
		h := validHeader(kid)
		h[name] = v
		return h
	}
	good := func(claims jwt.MapClaims) string {
		return forge(t, jwt.SigningMethodEdDSA, key.priv, validHeader(kid), claims)
	}

	// The control: unmodified forged claims must verify, or every row below would pass for the wrong reason.
	if _, err := tokens.Verify(good(validClaims())); err != nil {
		t.Fatalf("control token refused: %v", err)
	}

	tamper := func() string {
		// Flip one character in the middle of the payload; the signature no longer matches.
		parts := strings.Split(good(validClaims()), ".")
		p := []byte(parts[1])
		i := len(p) / 2
		if p[i] == 'A' {
			p[i] = 'B'
		} else {
			p[i] = 'A'
		}
		parts[1] = string(p)
		return strings.Join(parts, ".")
	}
	swapClaims := func() string {
		// A well-formed payload granting more, under the original token's signature.
		parts := strings.Split(good(validClaims()), ".")
		c := validClaims()
		c["role"] = "owner"
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		parts[1] = base64.RawURLEncoding.EncodeToString(b)
		return strings.Join(parts, ".")
	}
	refresh, err := authn.NewRefresher(time.Hour, clk).Issue(context.Background(), newDB(t), "acme", "user-1", 7, 0, "")
	if err != nil {
		t.Fatalf("issue refresh token: %v", err)
	}

	tests := []struct {
		name  string
		token string
		msg   string // part of the message, when it matters
	}{
		{"alg none", forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validHeader(kid), validClaims()), "invalid"},
		{"HS256 keyed with the raw public key", forge(t, jwt.SigningMethodHS256, []byte(pub), validHeader(kid), validClaims()), "invalid"},
		{"HS256 keyed with the public key DER", forge(t, jwt.SigningMethodHS256, pubDER, validHeader(kid), validClaims()), "invalid"},
		{"HS256 keyed with the public PEM", forge(t, jwt.SigningMethodHS256, pubPEM, validHeader(kid), validClaims()), "invalid"},
		{"RS256 with another key", forge(t, jwt.SigningMethodRS256, rsaKey, validHeader(kid), validClaims()), "invalid"},
		{"ES256 with another key", forge(t, jwt.SigningMethodES256, ecKey, validHeader(kid), validClaims()), "invalid"},
		{"unknown kid", forge(t, jwt.SigningMethodEdDSA, key.priv, withHeader("kid", "no-such-key"), validClaims()), "invalid"},
		{"missing kid", forge(t, jwt.SigningMethodEdDSA, key.priv, withHeader("kid", nil), validClaims()), "invalid"},
		{"typ JWT", forge(t, jwt.SigningMethodEdDSA, key.priv, withHeader("typ", "JWT"), validClaims()), "invalid"},
		{"missing typ", forge(t, jwt.SigningMethodEdDSA, key.priv, withHeader("typ", nil), validClaims()), "invalid"},
		{"kid not a string", forge(t, jwt.SigningMethodEdDSA, key.priv, withHeader("kid", 1), validClaims()), "invalid"},
		{"expired beyond leeway", good(withClaim("exp", base.Add(-31*time.Second).Unix())), "expired"},
		{"nbf beyond leeway", good(withClaim("nbf", base.Add(31*time.Second).Unix())), "invalid"},
		{"iat in the future", good(withClaim("iat", base.Add(time.Minute).Unix())), "invalid"},
		{"missing exp", good(withClaim("exp", nil)), "invalid"},
		{"missing aud", good(withClaim("aud", nil)), "invalid"},
		{"empty aud", good(withClaim("aud", []string{})), "invalid"},
		{"wrong aud", good(withClaim("aud", []string{"another-api"})), "invalid"},
		{"missing iss", good(withClaim("iss", nil)), "invalid"},
		{"wrong iss", good(withClaim("iss", "https://evil.example")), "invalid"},
		{"missing sub", good(withClaim("sub", nil)), "invalid"},
		{"missing tnt", good(withClaim("tnt", nil)), "invalid"},
		{"missing role", good(withClaim("role", nil)), "invalid"},
		{"missing iat", good(withClaim("iat", nil)), "invalid"},
		{"payload character flipped", tamper(), "invalid"},
		{"claims swapped under the old signature", swapClaims(), "invalid"},
		{"refresh token as access token", refresh, "invalid"},
		{"signed by a key not in the ring, ring kid", forge(t, jwt.SigningMethodEdDSA, stranger.priv, validHeader(kid), validClaims()), "invalid"},
		{"signed by a key not in the ring, own kid", forge(t, jwt.SigningMethodEdDSA, stranger.priv, validHeader(thumbprint(t, stranger.priv.Public().(ed25519.PublicKey))), validClaims()), "invalid"},
		{"empty string", "", "invalid"},
		{"garbage", "not a token", "invalid"},
		{"three dots", "...", "invalid"},
		{"two segments", "eyJhbGciOiJFZERTQSJ9.e30", "invalid"},
		{"non-base64 segments", "%%%.%%%.%%%", "invalid"},
		{"5 KB token", good(withClaim("pad", strings.Repeat("x", 5*1024))), "invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tokens.Verify(tc.token)
			if c != nil {
				t.Errorf("claims returned with error: %+v", c)
			}
			wantUnauthenticated(t, err, tc.msg)
		})
	}
}

// The leeway of 30 s absorbs clock skew between instances; a token just inside it must still pass so the
// rejection rows above are about the leeway's bound and not about any lateness at all.
func TestVerifyLeeway(t *testing.T) {
	clk := clock.NewManual(base)
	key := mustKey(t)
	kr := mustRing(t, key.pem, nil)
	kid := kr.JWKS().Keys[0].Kid
	tokens := newTokens(t, kr, clk)
	for name, c := range map[string]jwt.MapClaims{
		"expired 20 s ago":      {"exp": base.Add(-20 * time.Second).Unix()},
		"nbf 20 s ahead":        {"nbf": base.Add(20 * time.Second).Unix()},
		"iat 20 s ahead":        {"iat": base.Add(20 * time.Second).Unix()},
		"no nbf (not required)": {"nbf": nil},
	} {
		t.Run(name, func(t *testing.T) {
			claims := validClaims()
			for k, v := range c {
				if v == nil {
					delete(claims, k)
				} else {
					claims[k] = v
				}
			}
			if _, err := tokens.Verify(forge(t, jwt.SigningMethodEdDSA, key.priv, validHeader(kid), claims)); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestIssueWithoutSigningKey(t *testing.T) {
	kr := mustRing(t, nil, mustRing(t, mustKey(t).pem, nil).PublicPEM())
	if _, _, err := newTokens(t, kr, clock.NewManual(base)).Issue(authn.Claims{Tenant: "acme", Role: "owner"}); err == nil {
		t.Fatal("a verify-only ring issued a token")
	}
}

func TestKeyRotation(t *testing.T) {
	clk := clock.NewManual(base)
	oldKey, newKey := mustKey(t), mustKey(t)
	oldRing := mustRing(t, oldKey.pem, nil)
	claims := authn.Claims{Tenant: "acme", Role: "owner"}
	claims.Subject = "user-1"
	oldTok, _, err := newTokens(t, oldRing, clk).Issue(claims)
	if err != nil {
		t.Fatal(err)
	}

	// Mid-rotation: the new key signs, the old public key still verifies.
	rotating := mustRing(t, newKey.pem, oldRing.PublicPEM())
	rt := newTokens(t, rotating, clk)
	if _, err := rt.Verify(oldTok); err != nil {
		t.Fatalf("old token refused during rotation: %v", err)
	}
	newTok, _, err := rt.Issue(claims)
	if err != nil {
		t.Fatal(err)
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(newTok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	if want := thumbprint(t, newKey.priv.Public().(ed25519.PublicKey)); parsed.Header["kid"] != want {
		t.Errorf("new token kid %v, want the new key's %s", parsed.Header["kid"], want)
	}

	// A verify-only service handed the rotating ring's public keys accepts both.
	verifier := newTokens(t, mustRing(t, nil, rotating.PublicPEM()), clk)
	for _, tok := range []string{oldTok, newTok} {
		if _, err := verifier.Verify(tok); err != nil {
			t.Errorf("verify-only ring refused a token: %v", err)
		}
	}

	// After rotation: the old key is gone, and so is its tokens' validity. A fresh Tokens, because a warm
	// instance's cache would still answer for the old token.
	done := newTokens(t, mustRing(t, newKey.pem, nil), clk)
	_, err = done.Verify(oldTok)
	wantUnauthenticated(t, err, "invalid")
	if _, err := done.Verify(newTok); err != nil {
		t.Errorf("new token refused after rotation: %v", err)
	}
}

func TestJWKS(t *testing.T) {
	k1, k2, k3 := mustKey(t), mustKey(t), mustKey(t)
	retired := mustRing(t, append(append([]byte{}, k2.pem...), k3.pem...), nil).PublicPEM()
	// k2 appears twice (a retired key also listed as signing); the ring must list it once.
	kr := mustRing(t, append(append([]byte{}, k1.pem...), k2.pem...), retired)
	set := kr.JWKS()

	want := []string{
		thumbprint(t, k1.priv.Public().(ed25519.PublicKey)), // the signing key comes first
		thumbprint(t, k2.priv.Public().(ed25519.PublicKey)),
		thumbprint(t, k3.priv.Public().(ed25519.PublicKey)),
	}
	pubs := map[string]ed25519.PublicKey{}
	for _, k := range []testKey{k1, k2, k3} {
		pubs[thumbprint(t, k.priv.Public().(ed25519.PublicKey))] = k.priv.Public().(ed25519.PublicKey)
	}
	var got []string
	for _, k := range set.Keys {
		got = append(got, k.Kid)
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" || k.Use != "sig" {
			t.Errorf("key %s: kty %q crv %q alg %q use %q", k.Kid, k.Kty, k.Crv, k.Alg, k.Use)
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || !ed25519.PublicKey(x).Equal(pubs[k.Kid]) {
			t.Errorf("key %s: x %q does not decode to its public key (%v)", k.Kid, k.X, err)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("kids %v, want %v", got, want)
	}

	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range doc.Keys {
		if _, ok := k["d"]; ok {
			t.Errorf("JWKS carries private material: %s", b)
		}
		if names := slices.Sorted(maps.Keys(k)); !slices.Equal(names, []string{"alg", "crv", "kid", "kty", "use", "x"}) {
			t.Errorf("JWK members %v", names)
		}
	}
	for _, k := range []testKey{k1, k2, k3} {
		seed := base64.RawURLEncoding.EncodeToString(k.priv.Seed())
		if strings.Contains(string(b), seed) {
			t.Error("JWKS carries a private key seed")
		}
	}
}

func TestParseKeyRingRefuses(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaPubDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	block := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	good := mustKey(t)

	tests := []struct {
		name            string
		signing, verify []byte
	}{
		{"nothing", nil, nil},
		{"no PEM at all", []byte("not a key"), nil},
		{"RSA signing key", block("PRIVATE KEY", rsaDER), nil},
		{"RSA verify key", good.pem, block("PUBLIC KEY", rsaPubDER)},
		{"corrupt signing block", block("PRIVATE KEY", []byte{1, 2, 3}), nil},
		{"corrupt verify block", good.pem, block("PUBLIC KEY", []byte{1, 2, 3})},
		{"public key where a private one belongs", mustRing(t, good.pem, nil).PublicPEM(), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if kr, err := authn.ParseKeyRing(tc.signing, tc.verify); err == nil {
				t.Fatalf("accepted, JWKS %+v", kr.JWKS())
			}
		})
	}
}
