// Package authn issues and checks credentials: access JWTs signed with Ed25519 (kid in the header, typ
// at+jwt, iss/aud/sub/exp/iat required, EdDSA the only accepted algorithm), a key ring that verifies old
// and new keys during rotation, opaque refresh tokens stored hashed and rotated on use with reuse
// detection, password hashing with Argon2id, and login rate limits.
package authn

import (
	"container/list"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/clock"
)

// TokenType is the typ header of access tokens (RFC 9068), so an ID token or any other JWT signed by the
// same key is never taken for an access token.
const TokenType = "at+jwt"

// PlatformTenant is the tenant claim of platform admins' tokens; it can never be a tenant slug.
const PlatformTenant = "platform"

// Claims are the claims of an edugrid access token.
type Claims struct {
	jwt.RegisteredClaims
	// Tenant is the tenant slug, or PlatformTenant.
	Tenant string `json:"tnt"`
	// TenantVersion must equal the tenant's current token version; bumping it logs the tenant out.
	TenantVersion int64 `json:"tv"`
	// UserVersion must equal the user's current token version; bumping it logs the user out.
	UserVersion int64    `json:"uv"`
	Role        string   `json:"role" example:"owner"`
	Branches    []string `json:"br,omitempty"`
	PRN         string   `json:"prn,omitempty"`
}

// TokenConfig names the issuer and audience of access tokens and their lifetime.
type TokenConfig struct {
	Issuer    string
	Audience  string
	AccessTTL time.Duration
	// CacheSize bounds the verified-token cache; 0 means 10,000.
	CacheSize int
}

// Tokens issues and verifies access tokens. Safe for concurrent use.
type Tokens struct {
	keys   *KeyRing
	cfg    TokenConfig
	clock  clock.Clock
	parser *jwt.Parser
	cache  *tokenCache
}

// NewTokens returns a Tokens over keys.
func NewTokens(keys *KeyRing, cfg TokenConfig, clk clock.Clock) *Tokens {
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 10_000
	}
	t := &Tokens{keys: keys, cfg: cfg, clock: clk, cache: newTokenCache(cfg.CacheSize)}
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(clk.Now),
		jwt.WithLeeway(30*time.Second),
		jwt.WithStrictDecoding(),
	)
	return t
}

// Keys returns the key ring, for publishing the JWKS.
func (t *Tokens) Keys() *KeyRing { return t.keys }

// AccessTTL returns the lifetime of issued access tokens.
func (t *Tokens) AccessTTL() time.Duration { return t.cfg.AccessTTL }

// Issue signs an access token for c, filling in iss, aud, iat, nbf, exp and jti. It fails when the ring
// has no signing key.
func (t *Tokens) Issue(c Claims) (string, time.Time, error) {
	kid, signer, ok := t.keys.signer()
	if !ok {
		return "", time.Time{}, errors.New("issue access token: no signing key configured")
	}
	now := t.clock.Now().Truncate(time.Second)
	exp := now.Add(t.cfg.AccessTTL)
	c.Issuer = t.cfg.Issuer
	c.Audience = jwt.ClaimStrings{t.cfg.Audience}
	c.IssuedAt = jwt.NewNumericDate(now)
	c.NotBefore = jwt.NewNumericDate(now)
	c.ExpiresAt = jwt.NewNumericDate(exp)
	c.ID = randomToken(12)
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = kid
	tok.Header["typ"] = TokenType
	s, err := tok.SignedString(signer)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue access token: %w", err)
	}
	return s, exp, nil
}

var (
	errTokenInvalid = &apperr.Error{Code: apperr.Unauthenticated, Message: "the access token is invalid"}
	errTokenExpired = &apperr.Error{Code: apperr.Unauthenticated, Message: "the access token has expired"}
)

// Verify checks an access token's signature, header and claims and returns its claims. A token verified
// before is answered from a bounded cache of token hashes until it expires, so a frontend's repeated
// token costs a hash and a map lookup. The returned Claims are shared: callers must not modify them.
// Every failure is an *apperr.Error with code Unauthenticated; the reason is not disclosed beyond
// "expired" versus "invalid".
func (t *Tokens) Verify(token string) (*Claims, error) {
	if len(token) > 4096 {
		return nil, errTokenInvalid
	}
	key := sha256.Sum256([]byte(token))
	now := t.clock.Now()
	if c, ok := t.cache.get(key, now); ok {
		return c, nil
	}
	c := &Claims{}
	_, err := t.parser.ParseWithClaims(token, c, func(tok *jwt.Token) (any, error) {
		if typ, _ := tok.Header["typ"].(string); typ != TokenType {
			return nil, errors.New("wrong typ header")
		}
		kid, _ := tok.Header["kid"].(string)
		pub, ok := t.keys.lookup(kid)
		if !ok {
			return nil, errors.New("unknown kid")
		}
		return pub, nil
	})
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, errTokenExpired
		}
		return nil, errTokenInvalid
	}
	if c.Subject == "" || c.Tenant == "" || c.Role == "" || c.IssuedAt == nil {
		return nil, errTokenInvalid
	}
	t.cache.put(key, c, c.ExpiresAt.Time)
	return c, nil
}

// tokenCache is a bounded LRU of verified tokens keyed by their SHA-256.
type tokenCache struct {
	mu       sync.Mutex
	capacity int
	items    map[[32]byte]*list.Element
	lru      *list.List
}

type cachedToken struct {
	key    [32]byte
	claims *Claims
	exp    time.Time
}

func newTokenCache(capacity int) *tokenCache {
	return &tokenCache{capacity: capacity, items: map[[32]byte]*list.Element{}, lru: list.New()}
}

func (c *tokenCache) get(key [32]byte, now time.Time) (*Claims, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	ct := el.Value.(*cachedToken)
	if !now.Before(ct.exp) {
		c.lru.Remove(el)
		delete(c.items, key)
		return nil, false
	}
	c.lru.MoveToFront(el)
	return ct.claims, true
}

func (c *tokenCache) put(key [32]byte, claims *Claims, exp time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[key]; ok {
		return
	}
	c.items[key] = c.lru.PushFront(&cachedToken{key: key, claims: claims, exp: exp})
	for c.lru.Len() > c.capacity {
		back := c.lru.Back()
		c.lru.Remove(back)
		delete(c.items, back.Value.(*cachedToken).key)
	}
}

func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
