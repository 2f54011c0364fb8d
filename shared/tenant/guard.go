package tenant

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/256dpi/lungo"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// TokenVerifier checks access tokens (authn.Tokens).
type TokenVerifier interface {
	Verify(token string) (*authn.Claims, error)
}

// AccountStates reads an account's token version and status (account.State).
type AccountStates func(ctx context.Context, db lungo.IDatabase, userID string) (TokenState, error)

// TokenState mirrors account.TokenState so this package does not depend on accounts' storage.
type TokenState struct {
	Version int64
	Active  bool
}

// Guard is the framework-level middleware of every tenant-facing route (an httpapi.Authenticator).
type Guard struct {
	tokens   TokenVerifier
	registry *Registry
	dbs      *Databases
	states   AccountStates
	platform lungo.IDatabase
	upgrader *Upgrader
	clock    clock.Clock
	ttl      time.Duration

	mu    sync.Mutex
	users map[string]cachedState // db + "/" + user id
}

type cachedState struct {
	s       TokenState
	fetched time.Time
}

// GuardConfig holds the Guard's dependencies.
type GuardConfig struct {
	Tokens    TokenVerifier
	Registry  *Registry
	Databases *Databases
	States    AccountStates
	Clock     clock.Clock
	// StateTTL bounds how stale a cached account state may be: a logout-everywhere or password change
	// ends the user's access tokens within it.
	StateTTL time.Duration
	// Upgrader, when set, brings an institution whose database is behind the code's schema up to date
	// before its request is served.
	Upgrader *Upgrader
}

// NewGuard returns a Guard.
func NewGuard(c GuardConfig) *Guard {
	return &Guard{tokens: c.Tokens, registry: c.Registry, dbs: c.Databases, states: c.States,
		platform: c.Registry.DB(), upgrader: c.Upgrader, clock: c.Clock, ttl: c.StateTTL, users: map[string]cachedState{}}
}

var (
	errNoToken   = &apperr.Error{Code: apperr.Unauthenticated, Message: "a bearer access token is required"}
	errRevoked   = &apperr.Error{Code: apperr.Unauthenticated, Message: "the session has been ended; sign in again"}
	errSuspended = &apperr.Error{Code: apperr.Suspended, Message: "this institution's access is suspended"}
	errUpgrading = &apperr.Error{Code: apperr.Unavailable, Message: "this institution's data is being upgraded to a new release; retry shortly"}
)

// Authenticate implements httpapi.Authenticator. For a tenant token it checks, in order: the signature and
// claims; that the tenant exists and is active; that the token's tenant version is current; that the
// account is active and its version current; then it leases the tenant's cluster client and puts the
// principal, the tenant and the tenant's database into the context. Platform admin tokens get the
// principal only, and only for routes their role allows.
func (g *Guard) Authenticate(r *http.Request, perm rbac.Permission) (context.Context, func(), error) {
	raw := httpapi.BearerToken(r)
	if raw == "" {
		return nil, nil, errNoToken
	}
	c, err := g.tokens.Verify(raw)
	if err != nil {
		return nil, nil, err
	}
	ctx := r.Context()
	p := rbac.Principal{Subject: c.Subject, Role: rbac.Role(c.Role), Branches: c.Branches, PRN: c.PRN}

	if c.Tenant == authn.PlatformTenant {
		if p.Role != rbac.PlatformAdmin {
			return nil, nil, errRevoked
		}
		if err := g.checkAccount(ctx, g.platform, c); err != nil {
			return nil, nil, err
		}
		return rbac.WithPrincipal(ctx, p), func() {}, nil
	}
	if p.Role == rbac.PlatformAdmin || !p.Role.Valid() {
		return nil, nil, errRevoked
	}
	if perm == rbac.PlatformTenants {
		return nil, nil, apperr.Errorf(apperr.Forbidden, "your role may not do this")
	}

	t, err := g.registry.Get(ctx, c.Tenant)
	if apperr.CodeOf(err) == apperr.NotFound {
		return nil, nil, errRevoked
	}
	if err != nil {
		return nil, nil, unavailable(err)
	}
	switch {
	case t.Status == Suspended:
		return nil, nil, errSuspended
	case t.Status != Active:
		return nil, nil, errRevoked
	case c.TenantVersion != t.TokenVersion:
		return nil, nil, errRevoked
	}
	if g.upgrader != nil && g.upgrader.Behind(t) {
		// A release added migrations this institution has not had yet: apply them first (once, however
		// many requests wait), so no handler ever meets a database without the indexes it relies on.
		if t, err = g.upgrader.Upgrade(ctx, t); err != nil {
			return nil, nil, fmt.Errorf("%w (cause: %v)", errUpgrading, err)
		}
	}
	db, release, err := g.dbs.Open(ctx, t)
	if err != nil {
		return nil, nil, err
	}
	if err := g.checkAccount(ctx, db, c); err != nil {
		release()
		return nil, nil, err
	}
	p.Tenant = t.Slug
	ctx = rbac.WithPrincipal(ctx, p)
	ctx = WithTenant(ctx, t)
	ctx = store.WithDatabase(ctx, db)
	return ctx, release, nil
}

func (g *Guard) checkAccount(ctx context.Context, db lungo.IDatabase, c *authn.Claims) error {
	key := db.Name() + "/" + c.Subject
	now := g.clock.Now()
	g.mu.Lock()
	cs, ok := g.users[key]
	g.mu.Unlock()
	if !ok || now.Sub(cs.fetched) >= g.ttl {
		s, err := g.states(ctx, db, c.Subject)
		if apperr.CodeOf(err) == apperr.NotFound {
			return errRevoked
		}
		if err != nil {
			return unavailable(err)
		}
		cs = cachedState{s: s, fetched: now}
		g.mu.Lock()
		if len(g.users) > 50_000 {
			clear(g.users) // a crude bound; entries refill within one TTL
		}
		g.users[key] = cs
		g.mu.Unlock()
	}
	if !cs.s.Active || cs.s.Version != c.UserVersion {
		return errRevoked
	}
	return nil
}

// ForgetAccount drops a cached account state, so this instance applies a version bump it made at once.
func (g *Guard) ForgetAccount(db lungo.IDatabase, userID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.users, db.Name()+"/"+userID)
}

// unavailable reports a dependency failure as retryable (503) while the log keeps the cause.
func unavailable(err error) error {
	if apperr.As(err) != nil || errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w (cause: %v)", &apperr.Error{Code: apperr.Unavailable, Message: "the institution's data is unreachable; retry shortly"}, err)
}

// Databases opens tenant databases: it maps a tenant's cluster name to its URI and leases the cluster's
// client from the warm-instance cache. The Guard uses it for every request; sign-in, refresh and
// provisioning use it to reach a tenant before a token exists. Safe for concurrent use.
type Databases struct {
	clusters *store.Cache
	uris     map[string]string
}

// NewDatabases returns a Databases over clusters, with uris mapping cluster names to URIs.
func NewDatabases(clusters *store.Cache, uris map[string]string) *Databases {
	return &Databases{clusters: clusters, uris: uris}
}

// HasCluster reports whether name is a configured cluster.
func (d *Databases) HasCluster(name string) bool { _, ok := d.uris[name]; return ok }

// Clusters returns the configured cluster names in order.
func (d *Databases) Clusters() []string {
	names := make([]string, 0, len(d.uris))
	for name := range d.uris {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Open returns t's database and the function that releases its cluster lease; call it when done. A
// cluster that cannot be reached is an Unavailable error.
func (d *Databases) Open(ctx context.Context, t *Tenant) (lungo.IDatabase, func(), error) {
	uri, ok := d.uris[t.Cluster]
	if !ok {
		return nil, nil, fmt.Errorf("tenant %s names unknown cluster %q", t.Slug, t.Cluster)
	}
	lease, err := d.clusters.Acquire(ctx, uri)
	if err != nil {
		return nil, nil, unavailable(err)
	}
	return lease.Database(t.DB), lease.Release, nil
}
