package auth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/internal/apptest"
)

// me mirrors GET /auth/me as the frontend reads it; local field names pin the JSON contract.
type me struct {
	UserID   string   `json:"user_id"`
	PRN      string   `json:"prn"`
	Tenant   string   `json:"tenant"`
	Role     string   `json:"role"`
	Branches []string `json:"branches"`
	Email    string   `json:"email"`
}

// creds is a login body; omitempty keeps absent fields absent, as a frontend sends them.
type creds struct {
	Tenant   string `json:"tenant,omitempty"`
	Email    string `json:"email,omitempty"`
	PRN      string `json:"prn,omitempty"`
	Password string `json:"password,omitempty"`
}

func login(env *apptest.Env, c creds) *httptest.ResponseRecorder {
	env.T.Helper()
	return env.Do("POST", "/auth/login", "", c)
}

func refresh(env *apptest.Env, token string) *httptest.ResponseRecorder {
	env.T.Helper()
	return env.Do("POST", "/auth/refresh", "", map[string]string{"refresh_token": token})
}

func getMe(t *testing.T, env *apptest.Env, access string) me {
	t.Helper()
	rec := env.Do("GET", "/auth/me", access, nil)
	apptest.MustStatus(t, rec, http.StatusOK)
	return apptest.Decode[me](t, rec)
}

func mustPair(t *testing.T, rec *httptest.ResponseRecorder) apptest.TokenPair {
	t.Helper()
	apptest.MustStatus(t, rec, http.StatusOK)
	p := apptest.Decode[apptest.TokenPair](t, rec)
	if p.AccessToken == "" || p.RefreshToken == "" {
		t.Fatalf("token pair without both tokens: %s", rec.Body)
	}
	return p
}

// jwtParts splits an access token into its decoded header and claims and the signed input and signature,
// so the tests can check what a third-party verifier would see.
func jwtParts(t *testing.T, tok string) (header, claims map[string]any, signed string, sig []byte) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("access token has %d parts, want 3", len(parts))
	}
	dec := func(s string, v any) {
		raw, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("token segment: %v", err)
		}
		if v != nil {
			if err := json.Unmarshal(raw, v); err != nil {
				t.Fatalf("token segment: %v", err)
			}
		}
	}
	dec(parts[0], &header)
	dec(parts[1], &claims)
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatalf("token signature: %v", err)
	}
	return header, claims, parts[0] + "." + parts[1], sig
}

func TestLoginByTenantAndEmail(t *testing.T) {
	env := apptest.New(t)
	ten := env.Provision("alpha")

	for _, email := range []string{ten.OwnerEmail, "  OWNER@Alpha.TEST "} { // emails are case- and space-insensitive
		t.Run(email, func(t *testing.T) {
			rec := login(env, creds{Tenant: "alpha", Email: email, Password: apptest.Password})
			p := mustPair(t, rec)
			if p.TokenType != "Bearer" || p.ExpiresIn != 900 {
				t.Errorf("token_type %q expires_in %d, want Bearer 900", p.TokenType, p.ExpiresIn)
			}
			if p.AccessToken == p.RefreshToken {
				t.Error("access and refresh token are the same string")
			}
			// Tokens must never land in a shared cache.
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			header, claims, _, _ := jwtParts(t, p.AccessToken)
			if header["alg"] != "EdDSA" || header["typ"] != "at+jwt" || header["kid"] == "" {
				t.Errorf("header = %v", header)
			}
			if claims["sub"] != ten.OwnerID || claims["tnt"] != "alpha" || claims["role"] != "owner" || claims["prn"] != ten.OwnerPRN {
				t.Errorf("claims = %v", claims)
			}
			exp, iat := claims["exp"].(float64), claims["iat"].(float64)
			if exp-iat != 900 {
				t.Errorf("exp - iat = %v, want 900", exp-iat)
			}
			if got := getMe(t, env, p.AccessToken); got.UserID != ten.OwnerID {
				t.Errorf("me = %+v", got)
			}
		})
	}
}

func TestLoginByPRN(t *testing.T) {
	env := apptest.New(t)
	env.Provision("alpha")
	bravo := env.Provision("bravo") // a second tenant, so routing by the PRN's tenant digits matters

	p := bravo.OwnerPRN
	grouped := p[0:4] + "-" + p[4:5] + "-" + p[5:7] + "-" + p[7:13] + "-" + p[13:] // as printed on ID cards
	for _, prn := range []string{p, grouped} {
		t.Run(prn, func(t *testing.T) {
			pair := mustPair(t, login(env, creds{PRN: prn, Password: apptest.Password}))
			got := getMe(t, env, pair.AccessToken)
			if got.UserID != bravo.OwnerID || got.Tenant != "bravo" || got.PRN != bravo.OwnerPRN {
				t.Errorf("me = %+v, want bravo's owner", got)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		apptest.MustProblem(t, login(env, creds{PRN: p, Password: "not-the-password"}), http.StatusUnauthorized, "unauthenticated")
	})
}

// A typo in a PRN is caught by the check digit, before the tenant or the account is looked up: changing a
// tenant digit would route to a tenant that does not exist, which a lookup would answer 401.
func TestLoginPRNTypoIsInvalid(t *testing.T) {
	env := apptest.New(t)
	ten := env.Provision("alpha")
	for i := range len(ten.OwnerPRN) {
		b := []byte(ten.OwnerPRN)
		b[i] = '0' + (b[i]-'0'+1)%10
		rec := login(env, creds{PRN: string(b), Password: apptest.Password})
		p := apptest.MustProblem(t, rec, http.StatusBadRequest, "invalid")
		if _, ok := p.Fields["prn"]; !ok || !strings.Contains(p.Detail, "check digit") {
			t.Fatalf("digit %d changed (%s): problem %+v, want a check-digit error on prn", i, b, p)
		}
	}
}

// Wrong password, unknown email and unknown institution must be indistinguishable, or the login form
// becomes an oracle for which accounts and institutions exist.
func TestLoginFailuresAreIndistinguishable(t *testing.T) {
	env := apptest.New(t)
	ten := env.Provision("alpha")
	cases := []struct {
		name string
		c    creds
	}{
		{"wrong password", creds{Tenant: "alpha", Email: ten.OwnerEmail, Password: "wrong-password-1"}},
		{"unknown email", creds{Tenant: "alpha", Email: "nobody@alpha.test", Password: apptest.Password}},
		{"unknown tenant", creds{Tenant: "nowhere", Email: ten.OwnerEmail, Password: apptest.Password}},
		{"unknown platform admin", creds{Tenant: "platform", Email: ten.OwnerEmail, Password: apptest.Password}},
		{"platform admin wrong password", creds{Tenant: "platform", Email: apptest.AdminEmail, Password: "wrong-password-1"}},
	}
	var detail string
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := login(env, tc.c)
			p := apptest.MustProblem(t, rec, http.StatusUnauthorized, "unauthenticated")
			if detail == "" {
				detail = p.Detail
			}
			if p.Detail != detail || len(p.Errors) != 0 {
				t.Errorf("detail %q errors %v; every credential failure must read %q", p.Detail, p.Errors, detail)
			}
			if rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestLoginRequestValidation(t *testing.T) {
	env := apptest.New(t)
	ten := env.Provision("alpha")
	cases := []struct {
		name  string
		body  any
		field string // the field the problem must name, if any
	}{
		{"tenant, email and prn", creds{Tenant: "alpha", Email: ten.OwnerEmail, PRN: ten.OwnerPRN, Password: apptest.Password}, ""},
		{"email and prn", creds{Email: ten.OwnerEmail, PRN: ten.OwnerPRN, Password: apptest.Password}, ""},
		{"tenant without email", creds{Tenant: "alpha", Password: apptest.Password}, ""},
		{"nothing to sign in with", creds{Password: apptest.Password}, ""},
		{"no password", creds{Tenant: "alpha", Email: ten.OwnerEmail}, "password"},
		{"unknown field", map[string]string{"tenant": "alpha", "email": ten.OwnerEmail, "password": apptest.Password, "remember_me": "yes"}, "remember_me"},
		{"operator instead of email", map[string]any{"tenant": "alpha", "email": map[string]any{"$ne": nil}, "password": apptest.Password}, "email"},
		{"malformed email", creds{Tenant: "alpha", Email: "owner at alpha", Password: apptest.Password}, "email"},
		{"not JSON", "tenant=alpha", ""},
		{"empty body", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := apptest.MustProblem(t, env.Do("POST", "/auth/login", "", tc.body), http.StatusBadRequest, "invalid")
			if tc.field != "" {
				if _, ok := p.Fields[tc.field]; !ok {
					t.Errorf("errors = %v, want field %q named", p.Errors, tc.field)
				}
			}
		})
	}
}

func TestLoginRateLimit(t *testing.T) {
	env := apptest.New(t)
	ten := env.Provision("alpha")
	bravo := env.Provision("bravo")
	right := creds{Tenant: "alpha", Email: ten.OwnerEmail, Password: apptest.Password}
	wrong := right
	wrong.Password = "guess-number-1"

	for i := range 10 {
		if rec := login(env, wrong); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failed attempt %d: %d %s, want 401", i+1, rec.Code, rec.Body)
		}
	}
	// The account's budget is spent: even the right password is refused, so a guesser learns nothing.
	rec := login(env, right)
	apptest.MustProblem(t, rec, http.StatusTooManyRequests, "rate_limited")
	if rec.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// The same account spelled differently is the same account.
	apptest.MustProblem(t, login(env, creds{Tenant: "ALPHA", Email: " Owner@Alpha.test", Password: apptest.Password}), http.StatusTooManyRequests, "rate_limited")
	// The limit is per account: another account signs in meanwhile.
	mustPair(t, login(env, creds{Tenant: "bravo", Email: bravo.OwnerEmail, Password: apptest.Password}))

	env.Clock.Advance(29 * time.Second)
	apptest.MustProblem(t, login(env, right), http.StatusTooManyRequests, "rate_limited")

	env.Clock.Advance(2 * time.Second) // 31 s after the budget ran out: one attempt has refilled
	mustPair(t, login(env, right))
	apptest.MustProblem(t, login(env, right), http.StatusTooManyRequests, "rate_limited")
}

// Parse ignores spaces and hyphens in a PRN, so the limit must key on the canonical PRN; otherwise every
// spelling of one PRN ("0001-1-…", "0001 1 …") would get ten more guesses at the same account.
func TestLoginRateLimitPRNSpellings(t *testing.T) {
	env := apptest.New(t)
	ten := env.Provision("alpha")
	p := ten.OwnerPRN
	spellings := []string{p, p[:4] + "-" + p[4:], p[:4] + " " + p[4:], p[:7] + "-" + p[7:]}
	for i := range 10 {
		rec := login(env, creds{PRN: spellings[i%len(spellings)], Password: "guess-number-1"})
		apptest.MustStatus(t, rec, http.StatusUnauthorized)
	}
	for _, s := range spellings {
		apptest.MustProblem(t, login(env, creds{PRN: s, Password: apptest.Password}), http.StatusTooManyRequests, "rate_limited")
	}
	// 11 spellings of one PRN (hyphens anywhere) must not buy an 11th guess either.
	apptest.MustProblem(t, login(env, creds{PRN: "-" + p + "-", Password: apptest.Password}), http.StatusTooManyRequests, "rate_limited")
}

func TestMe(t *testing.T) {
	env := apptest.New(t)
	ten := env.Provision("alpha")

	t.Run("tenant owner", func(t *testing.T) {
		got := getMe(t, env, env.Login("alpha", ten.OwnerEmail).AccessToken)
		want := me{UserID: ten.OwnerID, PRN: ten.OwnerPRN, Tenant: "alpha", Role: "owner", Branches: []string{}, Email: ten.OwnerEmail}
		if got.UserID != want.UserID || got.PRN != want.PRN || got.Tenant != want.Tenant || got.Role != want.Role || got.Email != want.Email {
			t.Errorf("me = %+v, want %+v", got, want)
		}
		// A frontend iterates branches: an owner's must be an empty list, not null.
		rec := env.Do("GET", "/auth/me", env.Login("alpha", ten.OwnerEmail).AccessToken, nil)
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
			t.Fatal(err)
		}
		if string(raw["branches"]) != "[]" {
			t.Errorf("branches = %s, want []", raw["branches"])
		}
	})
	t.Run("platform admin", func(t *testing.T) {
		got := getMe(t, env, env.AdminToken())
		if got.Tenant != "platform" || got.Role != "platform_admin" || got.UserID == "" || got.PRN != "" {
			t.Errorf("me = %+v", got)
		}
	})
	t.Run("no token", func(t *testing.T) {
		apptest.MustProblem(t, env.Do("GET", "/auth/me", "", nil), http.StatusUnauthorized, "unauthenticated")
	})
	t.Run("garbage token", func(t *testing.T) {
		apptest.MustProblem(t, env.Do("GET", "/auth/me", "not.a.jwt", nil), http.StatusUnauthorized, "unauthenticated")
	})
	t.Run("expired token", func(t *testing.T) {
		tok := env.Login("alpha", ten.OwnerEmail).AccessToken
		getMe(t, env, tok)
		env.Clock.Advance(15*time.Minute + 31*time.Second) // past expiry and the verifier's 30 s leeway
		apptest.MustProblem(t, env.Do("GET", "/auth/me", tok, nil), http.StatusUnauthorized, "unauthenticated")
	})
}

func TestPlatformAdminLogin(t *testing.T) {
	env := apptest.New(t)
	pair := mustPair(t, login(env, creds{Tenant: "platform", Email: apptest.AdminEmail, Password: apptest.Password}))
	_, claims, _, _ := jwtParts(t, pair.AccessToken)
	if claims["tnt"] != "platform" || claims["role"] != "platform_admin" {
		t.Errorf("claims = %v", claims)
	}
	// The admin's refresh token lives in the platform database and rotates like anyone's.
	next := mustPair(t, refresh(env, pair.RefreshToken))
	if got := getMe(t, env, next.AccessToken); got.Role != "platform_admin" {
		t.Errorf("me after refresh = %+v", got)
	}
	apptest.MustProblem(t, refresh(env, pair.RefreshToken), http.StatusUnauthorized, "unauthenticated")
}

func TestRefreshRotation(t *testing.T) {
	env := apptest.New(t)
	ten := env.Provision("alpha")
	first := env.Login("alpha", ten.OwnerEmail)

	second := mustPair(t, refresh(env, first.RefreshToken))
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatal("refresh returned the same tokens")
	}
	if second.TokenType != "Bearer" || second.ExpiresIn != 900 {
		t.Errorf("pair = %+v", second)
	}
	if got := getMe(t, env, second.AccessToken); got.UserID != ten.OwnerID {
		t.Errorf("me = %+v", got)
	}

	// Reusing a rotated token means it was stolen (or the client is broken): the whole sign-in ends, so
	// the thief's or the victim's newer token is useless too.
	apptest.MustProblem(t, refresh(env, first.RefreshToken), http.StatusUnauthorized, "unauthenticated")
	apptest.MustProblem(t, refresh(env, second.RefreshToken), http.StatusUnauthorized, "unauthenticated")

	// Another sign-in of the same person is a different family and survives.
	other := env.Login("alpha", ten.OwnerEmail)
	mustPair(t, refresh(env, other.RefreshToken))

	t.Run("malformed", func(t *testing.T) {
		for _, tok := range []string{"", "garbage", "rt1.alpha.short", "rt1.alpha." + strings.Repeat("A", 43)} {
			apptest.MustProblem(t, refresh(env, tok), http.StatusUnauthorized, "unauthenticated")
		}
	})
	t.Run("expired", func(t *testing.T) {
		p := env.Login("alpha", ten.OwnerEmail)
		env.Clock.Advance(721 * time.Hour) // past the 720 h refresh lifetime
		apptest.MustProblem(t, refresh(env, p.RefreshToken), http.StatusUnauthorized, "unauthenticated")
	})
}

func TestLogout(t *testing.T) {
	env := apptest.New(t)
	ten := env.Provision("alpha")
	pair := env.Login("alpha", ten.OwnerEmail)
	rotated := mustPair(t, refresh(env, pair.RefreshToken))
	keep := env.Login("alpha", ten.OwnerEmail) // another device

	rec := env.Do("POST", "/auth/logout", "", map[string]string{"refresh_token": rotated.RefreshToken})
	apptest.MustStatus(t, rec, http.StatusNoContent)
	if rec.Body.Len() != 0 {
		t.Errorf("204 with body %q", rec.Body)
	}
	apptest.MustProblem(t, refresh(env, rotated.RefreshToken), http.StatusUnauthorized, "unauthenticated")
	// The other device's sign-in is not this one's.
	mustPair(t, refresh(env, keep.RefreshToken))

	// Signing out is idempotent and never an oracle: whatever the token, the caller is signed out.
	for _, tok := range []string{rotated.RefreshToken, "", "garbage", "rt1.nowhere." + strings.Repeat("A", 43), "rt1.alpha." + strings.Repeat("A", 43)} {
		apptest.MustStatus(t, env.Do("POST", "/auth/logout", "", map[string]string{"refresh_token": tok}), http.StatusNoContent)
	}
}

func TestLogoutEverywhere(t *testing.T) {
	env := apptest.New(t)
	ten := env.Provision("alpha")
	bravo := env.Provision("bravo")
	laptop := env.Login("alpha", ten.OwnerEmail)
	phone := env.Login("alpha", ten.OwnerEmail)
	other := env.Login("bravo", bravo.OwnerEmail)
	// Warm this instance's caches of the token and the account state, so the test shows the change
	// reaching them rather than a cold cache.
	getMe(t, env, laptop.AccessToken)
	getMe(t, env, phone.AccessToken)

	apptest.MustProblem(t, env.Do("POST", "/auth/logout-all", "", nil), http.StatusUnauthorized, "unauthenticated")
	apptest.MustStatus(t, env.Do("POST", "/auth/logout-all", laptop.AccessToken, nil), http.StatusNoContent)

	for name, p := range map[string]apptest.TokenPair{"laptop": laptop, "phone": phone} {
		apptest.MustProblem(t, env.Do("GET", "/auth/me", p.AccessToken, nil), http.StatusUnauthorized, "unauthenticated")
		if rec := refresh(env, p.RefreshToken); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s refresh after logout-all: %d %s", name, rec.Code, rec.Body)
		}
	}
	// Another person is untouched, and the owner can sign in again.
	getMe(t, env, other.AccessToken)
	mustPair(t, refresh(env, other.RefreshToken))
	fresh := env.Login("alpha", ten.OwnerEmail)
	getMe(t, env, fresh.AccessToken)
	mustPair(t, refresh(env, fresh.RefreshToken))
}

func TestPasswordChange(t *testing.T) {
	env := apptest.New(t)
	ten := env.Provision("alpha")
	pair := env.Login("alpha", ten.OwnerEmail)
	getMe(t, env, pair.AccessToken) // warm the account state cache
	const newPassword = "a-new-password-2"
	change := func(current, next string) *httptest.ResponseRecorder {
		return env.Do("POST", "/auth/password", pair.AccessToken, map[string]string{"current_password": current, "new_password": next})
	}

	apptest.MustProblem(t, change("wrong-password-1", newPassword), http.StatusUnauthorized, "unauthenticated")
	for _, weak := range []string{"short", "", strings.Repeat("x", 129)} {
		p := apptest.MustProblem(t, change(apptest.Password, weak), http.StatusBadRequest, "invalid")
		if _, ok := p.Fields["new_password"]; !ok {
			t.Errorf("weak %q: errors %v, want new_password", weak, p.Errors)
		}
	}
	apptest.MustProblem(t, change(apptest.Password, apptest.Password), http.StatusBadRequest, "invalid")
	apptest.MustProblem(t, env.Do("POST", "/auth/password", "", map[string]string{"current_password": apptest.Password, "new_password": newPassword}),
		http.StatusUnauthorized, "unauthenticated")
	// None of the refusals changed anything.
	getMe(t, env, pair.AccessToken)

	apptest.MustStatus(t, change(apptest.Password, newPassword), http.StatusNoContent)

	apptest.MustProblem(t, login(env, creds{Tenant: "alpha", Email: ten.OwnerEmail, Password: apptest.Password}), http.StatusUnauthorized, "unauthenticated")
	fresh := mustPair(t, login(env, creds{Tenant: "alpha", Email: ten.OwnerEmail, Password: newPassword}))
	getMe(t, env, fresh.AccessToken)
	// Whoever knew the old password may hold old sessions: they all end.
	apptest.MustProblem(t, refresh(env, pair.RefreshToken), http.StatusUnauthorized, "unauthenticated")
	apptest.MustProblem(t, env.Do("GET", "/auth/me", pair.AccessToken, nil), http.StatusUnauthorized, "unauthenticated")
	mustPair(t, refresh(env, fresh.RefreshToken))
}

func TestJWKS(t *testing.T) {
	env := apptest.New(t)
	ten := env.Provision("alpha")
	access := env.Login("alpha", ten.OwnerEmail).AccessToken
	header, _, signed, sig := jwtParts(t, access)

	for _, path := range []string{"/auth/jwks", "/auth/.well-known/jwks.json"} {
		t.Run(path, func(t *testing.T) {
			rec := env.Do("GET", path, "", nil)
			apptest.MustStatus(t, rec, http.StatusOK)
			if !strings.HasPrefix(rec.Header().Get("Cache-Control"), "public") {
				t.Errorf("Cache-Control = %q, want a public cache", rec.Header().Get("Cache-Control"))
			}
			if strings.Contains(rec.Body.String(), `"d"`) {
				t.Fatalf("JWKS carries a private key member: %s", rec.Body)
			}
			set := apptest.Decode[struct {
				Keys []struct {
					Kty, Crv, X, Kid, Use, Alg string
				} `json:"keys"`
			}](t, rec)
			if len(set.Keys) == 0 {
				t.Fatal("JWKS lists no key")
			}
			// A third party must be able to verify our access token with what we publish.
			verified := false
			for _, k := range set.Keys {
				if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" || k.Use != "sig" || k.Kid == "" {
					t.Errorf("key = %+v", k)
				}
				if k.Kid != header["kid"] {
					continue
				}
				pub, err := base64.RawURLEncoding.DecodeString(k.X)
				if err != nil || len(pub) != ed25519.PublicKeySize {
					t.Fatalf("key x: %v (%d bytes)", err, len(pub))
				}
				verified = ed25519.Verify(pub, []byte(signed), sig)
			}
			if !verified {
				t.Errorf("no published key (kid %v) verifies an access token", header["kid"])
			}
		})
	}
}

func TestSuspendedTenantLogin(t *testing.T) {
	env := apptest.New(t)
	ten := env.Provision("alpha")
	admin := env.AdminToken()
	before := env.Login("alpha", ten.OwnerEmail)

	apptest.MustStatus(t, env.Do("POST", "/platform/tenants/alpha/suspend", admin, nil), http.StatusOK)
	apptest.MustProblem(t, login(env, creds{Tenant: "alpha", Email: ten.OwnerEmail, Password: apptest.Password}), http.StatusForbidden, "tenant_suspended")
	apptest.MustProblem(t, login(env, creds{PRN: ten.OwnerPRN, Password: apptest.Password}), http.StatusForbidden, "tenant_suspended")
	apptest.MustProblem(t, refresh(env, before.RefreshToken), http.StatusForbidden, "tenant_suspended")
	apptest.MustProblem(t, env.Do("GET", "/auth/me", before.AccessToken, nil), http.StatusForbidden, "tenant_suspended")

	apptest.MustStatus(t, env.Do("POST", "/platform/tenants/alpha/resume", admin, nil), http.StatusOK)
	getMe(t, env, env.Login("alpha", ten.OwnerEmail).AccessToken)
	mustPair(t, refresh(env, before.RefreshToken))
}

// Signing out must end the session whatever state the institution is in: a suspended tenant is resumed
// later, and a refresh token "signed out" meanwhile must not come back to life with it.
func TestLogoutWhileSuspended(t *testing.T) {
	env := apptest.New(t)
	ten := env.Provision("alpha")
	admin := env.AdminToken()
	pair := env.Login("alpha", ten.OwnerEmail)

	apptest.MustStatus(t, env.Do("POST", "/platform/tenants/alpha/suspend", admin, nil), http.StatusOK)
	apptest.MustStatus(t, env.Do("POST", "/auth/logout", "", map[string]string{"refresh_token": pair.RefreshToken}), http.StatusNoContent)
	apptest.MustStatus(t, env.Do("POST", "/platform/tenants/alpha/resume", admin, nil), http.StatusOK)

	apptest.MustProblem(t, refresh(env, pair.RefreshToken), http.StatusUnauthorized, "unauthenticated")
}

// When the tenant's cluster cannot be reached the sign-out did not happen, and the caller must be told so
// (503, retry) rather than be shown a 204 while the refresh token stays valid.
func TestLogoutWhenClusterIsDown(t *testing.T) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	env := apptest.New(t, "EDUGRID_CLUSTERS",
		`{"default":"lungo:memory:c1-`+hex.EncodeToString(b[:])+`","dead":"unreachable://cluster"}`)
	admin := env.AdminToken()
	body := map[string]any{"slug": "remote", "name": "Remote", "cluster": "dead",
		"owner": map[string]string{"name": "Owner", "email": "owner@remote.test", "password": apptest.Password}}
	apptest.MustProblem(t, env.Do("POST", "/platform/tenants", admin, body), http.StatusServiceUnavailable, "unavailable")
	// Stand in for a tenant that was served until its cluster went down.
	if _, err := env.Registry().Update(context.Background(), "remote", bson.M{"status": "active"}, false); err != nil {
		t.Fatal(err)
	}
	tok := "rt1.remote." + strings.Repeat("A", 43)
	apptest.MustProblem(t, env.Do("POST", "/auth/logout", "", map[string]string{"refresh_token": tok}), http.StatusServiceUnavailable, "unavailable")
}
