package tenant_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

const stateTTL = time.Minute

// clusters are the cluster names tenants may name, each its own in-memory engine.
var clusters = map[string]string{"main": "lungo:memory:main", "east": "lungo:memory:east"}

// accountStates stands in for account.State: the test sets each account's state and sees every lookup.
type accountStates struct {
	mu    sync.Mutex
	m     map[string]tenant.TokenState // database name + "/" + user id
	err   error
	calls []string
}

func (s *accountStates) set(dbName, user string, st tenant.TokenState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[dbName+"/"+user] = st
}

func (s *accountStates) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *accountStates) lookups() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

func (s *accountStates) get(_ context.Context, db lungo.IDatabase, user string) (tenant.TokenState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := db.Name() + "/" + user
	s.calls = append(s.calls, key)
	if s.err != nil {
		return tenant.TokenState{}, s.err
	}
	st, ok := s.m[key]
	if !ok {
		return tenant.TokenState{}, apperr.Errorf(apperr.NotFound, "no such account")
	}
	return st, nil
}

// countingDial wraps the real dialer to count dials and disconnects per URI: a disconnect is how a
// released lease on an evicted cluster shows.
type countingDial struct {
	dialer      *store.Dialer
	mu          sync.Mutex
	dials       map[string]int
	disconnects map[string]int
}

type countedClient struct {
	lungo.IClient
	uri string
	d   *countingDial
}

func (c *countedClient) Disconnect(context.Context) error {
	c.d.mu.Lock()
	defer c.d.mu.Unlock()
	c.d.disconnects[c.uri]++
	return nil // the Dialer owns the embedded engine; it stays open for the next dial
}

func (d *countingDial) dial(ctx context.Context, uri string) (lungo.IClient, error) {
	c, err := d.dialer.Dial(ctx, uri)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dials[uri]++
	return &countedClient{IClient: c, uri: uri, d: d}, nil
}

func (d *countingDial) counts(uri string) (dials, disconnects int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dials[uri], d.disconnects[uri]
}

type guardEnv struct {
	clk      *clock.Manual
	platform lungo.IDatabase
	reg      *tenant.Registry
	tokens   *authn.Tokens
	states   *accountStates
	dial     *countingDial
	guard    *tenant.Guard
}

func newGuardEnv(t *testing.T, cacheSize int) *guardEnv {
	t.Helper()
	clk := clock.NewManual(base)
	dialer := store.NewDialer()
	t.Cleanup(dialer.Close)
	cd := &countingDial{dialer: dialer, dials: map[string]int{}, disconnects: map[string]int{}}
	cache := store.NewCache(cd.dial, cacheSize)
	t.Cleanup(cache.Close)

	platform := newPlatformDB(t)
	reg := newRegistry(t, platform, clk)
	keyPEM, err := authn.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := authn.ParseKeyRing(keyPEM, nil)
	if err != nil {
		t.Fatal(err)
	}
	tokens := authn.NewTokens(kr, authn.TokenConfig{Issuer: "edugrid-test", Audience: "edugrid-api", AccessTTL: 15 * time.Minute}, clk)
	states := &accountStates{m: map[string]tenant.TokenState{}}
	guard := tenant.NewGuard(tenant.GuardConfig{
		Tokens: tokens, Registry: reg, Databases: tenant.NewDatabases(cache, clusters),
		States: states.get, Clock: clk, StateTTL: stateTTL,
	})
	return &guardEnv{clk: clk, platform: platform, reg: reg, tokens: tokens, states: states, dial: cd, guard: guard}
}

// tenantWithUser creates an active tenant on cluster and an active account user-1 of version 1 in it.
func (e *guardEnv) tenantWithUser(t *testing.T, slug, cluster string) {
	t.Helper()
	mustCreate(t, e.reg, newTenant(slug, tenant.Active, cluster))
	e.states.set(tenant.DatabaseName(slug), "user-1", tenant.TokenState{Version: 1, Active: true})
}

func (e *guardEnv) token(t *testing.T, c authn.Claims) string {
	t.Helper()
	s, _, err := e.tokens.Issue(c)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return s
}

// claims are those of user-1 (version 1, owner) of slug at tenant version 0.
func claims(slug string) authn.Claims {
	c := authn.Claims{Tenant: slug, TenantVersion: 0, UserVersion: 1, Role: string(rbac.Owner)}
	c.Subject = "user-1"
	return c
}

func bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/branches", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func (e *guardEnv) mustAuthenticate(t *testing.T, r *http.Request, perm rbac.Permission) (context.Context, func()) {
	t.Helper()
	ctx, release, err := e.guard.Authenticate(r, perm)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if ctx == nil || release == nil {
		t.Fatalf("Authenticate returned ctx %v, release nil %v", ctx, release == nil)
	}
	return ctx, release
}

func (e *guardEnv) wantRefused(t *testing.T, r *http.Request, perm rbac.Permission, code apperr.Code) {
	t.Helper()
	ctx, release, err := e.guard.Authenticate(r, perm)
	if got := apperr.CodeOf(err); got != code {
		t.Fatalf("got %v (code %q), want code %q", err, got, code)
	}
	// A refusal hands back nothing to release: any lease taken on the way must already be returned.
	if ctx != nil || release != nil {
		t.Fatalf("refusal returned ctx %v, release nil %v", ctx, release == nil)
	}
}

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}

func TestGuardBindsRequestToTokenTenant(t *testing.T) {
	e := newGuardEnv(t, 4)
	e.tenantWithUser(t, "st-marys", "main")
	e.tenantWithUser(t, "beta", "main")
	c := claims("st-marys")
	c.Role, c.Branches, c.PRN = string(rbac.Teacher), []string{"b1"}, "00013250000017"

	// Every other place a client could name a tenant names beta; only the token may decide.
	r := httptest.NewRequest(http.MethodPost, "/tenants/beta/branches?tenant=beta&db=edu_beta", nil)
	r.Header.Set("Authorization", "Bearer "+e.token(t, c))
	r.Header.Set("X-Tenant", "beta")
	r.Header.Set("X-Edugrid-Tenant", "beta")
	r.Host = "beta.edugrid.example"
	ctx, release := e.mustAuthenticate(t, r, rbac.BranchesRead)
	defer release()

	p, ok := rbac.FromContext(ctx)
	want := rbac.Principal{Subject: "user-1", Tenant: "st-marys", Role: rbac.Teacher, Branches: []string{"b1"}, PRN: "00013250000017"}
	if !ok || p.Subject != want.Subject || p.Tenant != want.Tenant || p.Role != want.Role || !slices.Equal(p.Branches, want.Branches) || p.PRN != want.PRN {
		t.Errorf("principal %+v, want %+v", p, want)
	}
	if got := tenant.FromContext(ctx).Slug; got != "st-marys" {
		t.Errorf("tenant %q", got)
	}
	db := store.Database(ctx)
	if db.Name() != tenant.DatabaseName("st-marys") {
		t.Errorf("database %q, want %q", db.Name(), tenant.DatabaseName("st-marys"))
	}
	if got := e.states.lookups(); !slices.Equal(got, []string{"edu_st_marys/user-1"}) {
		t.Errorf("account looked up as %v", got)
	}

	// The handle reaches that database on the tenant's own cluster: a write through it is there.
	if _, err := db.Collection("probe").InsertOne(ctx, bson.M{"_id": "x"}); err != nil {
		t.Fatal(err)
	}
	client, err := e.dial.dialer.Dial(context.Background(), clusters["main"])
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int64{"edu_st_marys": 1, "edu_beta": 0} {
		n, err := client.Database(name).Collection("probe").CountDocuments(context.Background(), bson.M{})
		if err != nil || n != want {
			t.Errorf("%s holds %d probes (%v), want %d", name, n, err, want)
		}
	}
}

func TestGuardRefuses(t *testing.T) {
	tests := []struct {
		name  string
		perm  rbac.Permission
		setup func(t *testing.T, e *guardEnv) *http.Request
		want  apperr.Code
	}{
		{"no Authorization header", rbac.BranchesRead, func(t *testing.T, e *guardEnv) *http.Request {
			return httptest.NewRequest(http.MethodGet, "/branches", nil)
		}, apperr.Unauthenticated},
		{"token only in the query", rbac.BranchesRead, func(t *testing.T, e *guardEnv) *http.Request {
			return httptest.NewRequest(http.MethodGet, "/branches?access_token="+e.token(t, claims("acme")), nil)
		}, apperr.Unauthenticated},
		{"Basic scheme", rbac.BranchesRead, func(t *testing.T, e *guardEnv) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/branches", nil)
			r.SetBasicAuth("user-1", "password")
			return r
		}, apperr.Unauthenticated},
		{"token without scheme", rbac.BranchesRead, func(t *testing.T, e *guardEnv) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/branches", nil)
			r.Header.Set("Authorization", e.token(t, claims("acme")))
			return r
		}, apperr.Unauthenticated},
		{"Bearer without token", rbac.BranchesRead, func(t *testing.T, e *guardEnv) *http.Request {
			return bearer("")
		}, apperr.Unauthenticated},
		{"invalid token", rbac.BranchesRead, func(t *testing.T, e *guardEnv) *http.Request {
			return bearer("not.a.token")
		}, apperr.Unauthenticated},
		{"suspended tenant", rbac.BranchesRead, func(t *testing.T, e *guardEnv) *http.Request {
			if _, err := e.reg.Update(context.Background(), "acme", bson.M{"status": tenant.Suspended}, false); err != nil {
				t.Fatal(err)
			}
			return bearer(e.token(t, claims("acme")))
		}, apperr.Suspended},
		{"provisioning tenant", rbac.BranchesRead, func(t *testing.T, e *guardEnv) *http.Request {
			mustCreate(t, e.reg, newTenant("newbie", tenant.Provisioning, "main"))
			e.states.set("edu_newbie", "user-1", tenant.TokenState{Version: 1, Active: true})
			return bearer(e.token(t, claims("newbie")))
		}, apperr.Unauthenticated},
		{"stale tenant version", rbac.BranchesRead, func(t *testing.T, e *guardEnv) *http.Request {
			tok := e.token(t, claims("acme"))
			if _, err := e.reg.Update(context.Background(), "acme", nil, true); err != nil {
				t.Fatal(err)
			}
			return bearer(tok)
		}, apperr.Unauthenticated},
		{"tenant version from the future", rbac.BranchesRead, func(t *testing.T, e *guardEnv) *http.Request {
			c := claims("acme")
			c.TenantVersion = 1
			return bearer(e.token(t, c))
		}, apperr.Unauthenticated},
		{"unknown tenant", rbac.BranchesRead, func(t *testing.T, e *guardEnv) *http.Request {
			return bearer(e.token(t, claims("ghost")))
		}, apperr.Unauthenticated},
		{"tenant on an unconfigured cluster", rbac.BranchesRead, func(t *testing.T, e *guardEnv) *http.Request {
			e.tenantWithUser(t, "lost", "nowhere")
			return bearer(e.token(t, claims("lost")))
		}, apperr.Internal},
		{"account inactive", rbac.BranchesRead, func(t *testing.T, e *guardEnv) *http.Request {
			e.states.set("edu_acme", "user-1", tenant.TokenState{Version: 1, Active: false})
			return bearer(e.token(t, claims("acme")))
		}, apperr.Unauthenticated},
		{"account version changed", rbac.BranchesRead, func(t *testing.T, e *guardEnv) *http.Request {
			e.states.set("edu_acme", "user-1", tenant.TokenState{Version: 2, Active: true})
			return bearer(e.token(t, claims("acme")))
		}, apperr.Unauthenticated},
		{"account unknown", rbac.BranchesRead, func(t *testing.T, e *guardEnv) *http.Request {
			c := claims("acme")
			c.Subject = "user-404"
			return bearer(e.token(t, c))
		}, apperr.Unauthenticated},
		{"account store down", rbac.BranchesRead, func(t *testing.T, e *guardEnv) *http.Request {
			e.states.fail(errors.New("connection refused"))
			return bearer(e.token(t, claims("acme")))
		}, apperr.Unavailable},
		{"tenant token on a platform route", rbac.PlatformTenants, func(t *testing.T, e *guardEnv) *http.Request {
			return bearer(e.token(t, claims("acme")))
		}, apperr.Forbidden},
		{"tenant token claiming platform_admin", rbac.BranchesRead, func(t *testing.T, e *guardEnv) *http.Request {
			c := claims("acme")
			c.Role = string(rbac.PlatformAdmin)
			return bearer(e.token(t, c))
		}, apperr.Unauthenticated},
		{"tenant token claiming platform_admin on a platform route", rbac.PlatformTenants, func(t *testing.T, e *guardEnv) *http.Request {
			c := claims("acme")
			c.Role = string(rbac.PlatformAdmin)
			return bearer(e.token(t, c))
		}, apperr.Unauthenticated},
		{"tenant token with an unknown role", rbac.BranchesRead, func(t *testing.T, e *guardEnv) *http.Request {
			c := claims("acme")
			c.Role = "superuser"
			return bearer(e.token(t, c))
		}, apperr.Unauthenticated},
		{"platform token with a tenant role", rbac.PlatformTenants, func(t *testing.T, e *guardEnv) *http.Request {
			c := claims(authn.PlatformTenant)
			e.states.set("edugrid_platform", "user-1", tenant.TokenState{Version: 1, Active: true})
			return bearer(e.token(t, c))
		}, apperr.Unauthenticated},
		{"platform admin inactive", rbac.PlatformTenants, func(t *testing.T, e *guardEnv) *http.Request {
			c := claims(authn.PlatformTenant)
			c.Role = string(rbac.PlatformAdmin)
			e.states.set("edugrid_platform", "user-1", tenant.TokenState{Version: 1, Active: false})
			return bearer(e.token(t, c))
		}, apperr.Unauthenticated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newGuardEnv(t, 4)
			e.tenantWithUser(t, "acme", "main")
			// The control: before the row's change the owner of acme gets in, so each row shows one cause.
			_, release := e.mustAuthenticate(t, bearer(e.token(t, claims("acme"))), rbac.BranchesRead)
			release()
			e.clk.Advance(stateTTL) // let the control's cached account state lapse
			r := tc.setup(t, e)
			e.wantRefused(t, r, tc.perm, tc.want)
		})
	}
}

func TestGuardAccountStateCache(t *testing.T) {
	e := newGuardEnv(t, 4)
	e.tenantWithUser(t, "acme", "main")
	tok := e.token(t, claims("acme"))
	ctx, release := e.mustAuthenticate(t, bearer(tok), rbac.BranchesRead)
	release()
	db := store.Database(ctx)

	// A password change elsewhere bumps the version; this instance learns it when its cached state lapses.
	e.states.set("edu_acme", "user-1", tenant.TokenState{Version: 2, Active: true})
	e.clk.Advance(stateTTL - time.Second)
	_, release = e.mustAuthenticate(t, bearer(tok), rbac.BranchesRead)
	release()
	if n := len(e.states.lookups()); n != 1 {
		t.Errorf("%d account lookups within the TTL, want 1 (the cache)", n)
	}
	e.clk.Advance(time.Second)
	e.wantRefused(t, bearer(tok), rbac.BranchesRead, apperr.Unauthenticated)

	// The instance that makes a change applies it at once through ForgetAccount.
	c := claims("acme")
	c.UserVersion = 2
	tok2 := e.token(t, c)
	_, release = e.mustAuthenticate(t, bearer(tok2), rbac.BranchesRead)
	release()
	e.states.set("edu_acme", "user-1", tenant.TokenState{Version: 2, Active: false})
	_, release = e.mustAuthenticate(t, bearer(tok2), rbac.BranchesRead) // still cached
	release()
	e.guard.ForgetAccount(db, "user-1")
	e.wantRefused(t, bearer(tok2), rbac.BranchesRead, apperr.Unauthenticated)
}

func TestGuardTenantChanges(t *testing.T) {
	e := newGuardEnv(t, 4)
	e.tenantWithUser(t, "acme", "main")
	tok := e.token(t, claims("acme"))
	_, release := e.mustAuthenticate(t, bearer(tok), rbac.BranchesRead)
	release()

	// Another instance suspends the tenant: this one serves from its cache until the registry TTL passes.
	other := tenant.NewRegistry(e.platform, registryTTL, e.clk)
	if _, err := other.Update(context.Background(), "acme", bson.M{"status": tenant.Suspended}, false); err != nil {
		t.Fatal(err)
	}
	_, release = e.mustAuthenticate(t, bearer(tok), rbac.BranchesRead)
	release()
	e.clk.Advance(registryTTL)
	e.wantRefused(t, bearer(tok), rbac.BranchesRead, apperr.Suspended)

	// Reactivating with a version bump on this instance logs everyone out at once; new tokens work.
	if _, err := e.reg.Update(context.Background(), "acme", bson.M{"status": tenant.Active}, true); err != nil {
		t.Fatal(err)
	}
	e.wantRefused(t, bearer(tok), rbac.BranchesRead, apperr.Unauthenticated)
	c := claims("acme")
	c.TenantVersion = 1
	_, release = e.mustAuthenticate(t, bearer(e.token(t, c)), rbac.BranchesRead)
	release()
}

func TestGuardPlatformToken(t *testing.T) {
	for _, perm := range []rbac.Permission{rbac.PlatformTenants, rbac.Self, rbac.BranchesRead} {
		t.Run(string(perm), func(t *testing.T) {
			e := newGuardEnv(t, 4)
			e.tenantWithUser(t, "acme", "main")
			e.states.set("edugrid_platform", "admin-1", tenant.TokenState{Version: 1, Active: true})
			c := claims(authn.PlatformTenant)
			c.Subject, c.Role = "admin-1", string(rbac.PlatformAdmin)
			r := bearer(e.token(t, c))
			r.Header.Set("X-Tenant", "acme") // naming a tenant gets a platform admin no tenant either

			ctx, release := e.mustAuthenticate(t, r, perm)
			release()
			release()
			p, ok := rbac.FromContext(ctx)
			if !ok || p.Subject != "admin-1" || p.Role != rbac.PlatformAdmin || p.Tenant != "" {
				t.Errorf("principal %+v", p)
			}
			// Whether the route is allowed is the HTTP layer's rbac.Allowed check; what matters here is
			// that no tenant data is within reach.
			if !panics(func() { tenant.FromContext(ctx) }) {
				t.Error("platform admin's context carries a tenant")
			}
			if !panics(func() { store.Database(ctx) }) {
				t.Error("platform admin's context carries a tenant database")
			}
			if got := e.states.lookups(); got[len(got)-1] != "edugrid_platform/admin-1" {
				t.Errorf("account looked up as %v", got)
			}
			for _, uri := range clusters {
				if dials, _ := e.dial.counts(uri); dials != 0 {
					t.Errorf("%s dialled %d times for a platform token", uri, dials)
				}
			}
		})
	}
}

// With room for one cluster client, a client evicted while a request holds it is disconnected exactly when
// that request's release runs; a lease the Guard forgot to return would keep it connected for ever.
func TestGuardReleaseReturnsLease(t *testing.T) {
	e := newGuardEnv(t, 1)
	e.tenantWithUser(t, "alpha", "main")
	e.tenantWithUser(t, "bravo", "east")
	main, east := clusters["main"], clusters["east"]
	wantDisconnects := func(uri string, want int) {
		t.Helper()
		if _, got := e.dial.counts(uri); got != want {
			t.Fatalf("%s disconnected %d times, want %d", uri, got, want)
		}
	}

	_, releaseA := e.mustAuthenticate(t, bearer(e.token(t, claims("alpha"))), rbac.BranchesRead)
	_, releaseB := e.mustAuthenticate(t, bearer(e.token(t, claims("bravo"))), rbac.BranchesRead)
	wantDisconnects(main, 0) // evicted but still leased by request A
	releaseA()
	wantDisconnects(main, 1)
	releaseA() // a second call must neither panic nor disconnect again
	wantDisconnects(main, 1)
	releaseB()
	wantDisconnects(east, 0) // released but still cached

	// A refusal after the lease was taken (the account check comes last) must give the lease back.
	c := claims("alpha")
	c.Subject = "user-404"
	e.wantRefused(t, bearer(e.token(t, c)), rbac.BranchesRead, apperr.Unauthenticated)
	wantDisconnects(east, 1) // evicted by alpha's cluster
	_, releaseB = e.mustAuthenticate(t, bearer(e.token(t, claims("bravo"))), rbac.BranchesRead)
	releaseB()
	wantDisconnects(main, 2) // evicted by bravo's and not held by the refused request
}
