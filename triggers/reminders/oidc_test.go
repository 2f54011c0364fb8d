package reminders_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/api/idtoken"

	"github.com/edugrid/edugrid/triggers/reminders"
)

const (
	testAudience = "https://europe-west1-edugrid-test.cloudfunctions.net/edugrid-reminders"
	testAccount  = "edugrid-scheduler@edugrid-test.iam.gserviceaccount.com"
)

// googleKeys stands in for Google's certificate endpoint: every request the validator makes is answered
// with the test key set, so the production validation path runs offline.
type googleKeys struct{ jwks []byte }

func (g googleKeys) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"max-age=3600"}},
		Body: io.NopCloser(strings.NewReader(string(g.jwks)))}, nil
}

type signer struct {
	key *rsa.PrivateKey
	kid string
}

func newSigner(t testing.TB, kid string) signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signer{k, kid}
}

func (s signer) jwk() map[string]string {
	return map[string]string{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": s.kid,
		"n": base64.RawURLEncoding.EncodeToString(s.key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(s.key.E)).Bytes())}
}

func (s signer) token(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = s.kid
	out, err := tok.SignedString(s.key)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func schedulerClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"iss": "https://accounts.google.com", "aud": testAudience, "email": testAccount, "email_verified": true,
		"sub": "1234567890", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

// offlineOIDC returns the production validator with Google's keys replaced by the signers' keys.
func offlineOIDC(t testing.TB, signers ...signer) *reminders.OIDC {
	t.Helper()
	keys := []map[string]string{}
	for _, s := range signers {
		keys = append(keys, s.jwk())
	}
	raw, _ := json.Marshal(map[string]any{"keys": keys})
	v, err := reminders.NewOIDC(context.Background(), testAudience, testAccount,
		idtoken.WithHTTPClient(&http.Client{Transport: googleKeys{raw}}))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOIDCAcceptsOnlyTheSchedulersToken(t *testing.T) {
	google := newSigner(t, "google-1")
	stranger := newSigner(t, "google-1") // same kid, another key: a forged signature
	v := offlineOIDC(t, google)
	with := func(change func(jwt.MapClaims)) string {
		c := schedulerClaims()
		change(c)
		return google.token(t, c)
	}
	cases := []struct {
		name  string
		token string
		ok    bool
	}{
		{"the scheduler's token", google.token(t, schedulerClaims()), true},
		{"issuer without scheme", with(func(c jwt.MapClaims) { c["iss"] = "accounts.google.com" }), true},
		{"stale token", with(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }), false},
		{"wrong audience", with(func(c jwt.MapClaims) { c["aud"] = "https://elsewhere.example/run" }), false},
		{"another service account", with(func(c jwt.MapClaims) { c["email"] = "someone@edugrid-test.iam.gserviceaccount.com" }), false},
		{"unverified email", with(func(c jwt.MapClaims) { c["email_verified"] = false }), false},
		{"no email", with(func(c jwt.MapClaims) { delete(c, "email") }), false},
		{"not Google's issuer", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), false},
		{"forged signature", stranger.token(t, schedulerClaims()), false},
		{"unsigned", func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, schedulerClaims()).SignedString(jwt.UnsafeAllowNoneSignatureType)
			return s
		}(), false},
		{"garbage", "not.a.token", false},
		{"empty", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := v.Validate(context.Background(), c.token)
			if c.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !c.ok && err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestNewOIDCNeedsAudienceAndAccount(t *testing.T) {
	if _, err := reminders.NewOIDC(context.Background(), "", testAccount); err == nil {
		t.Fatal("no audience accepted")
	}
	if _, err := reminders.NewOIDC(context.Background(), testAudience, ""); err == nil {
		t.Fatal("no service account accepted")
	}
}
