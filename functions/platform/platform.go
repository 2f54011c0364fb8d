// Package platform is the platform admins' area: provisioning institutions (tenants) with their database,
// indexes, tenant number and owner account; listing and reading them; branding and settings; suspending
// and resuming; revoking every token of a tenant. One public route serves a tenant's branding by slug for
// white-labelled login pages.
//
// Permissions: rbac.PlatformTenants (platform admins only), except the public branding read.
package platform

import (
	"context"
	"fmt"
	"strings"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/schema"
	"github.com/edugrid/edugrid/shared/tenant"
)

// Service manages tenants. Construct with New.
type Service struct {
	deps Deps
}

// RefreshTokens revokes every refresh token of a tenant database, for suspensions and forced sign-outs.
type RefreshTokens interface {
	RevokeAll(ctx context.Context, db lungo.IDatabase) error
}

// Deps is what the platform area needs; every field is required.
type Deps struct {
	Clock     clock.Clock
	Audit     audit.Recorder
	Passwords authn.PasswordParams
	Registry  *tenant.Registry
	Databases *tenant.Databases
	Refresh   RefreshTokens
	// DefaultCluster is where institutions are provisioned unless the request names a cluster or it is full.
	DefaultCluster string
	// NamespaceBudget is a cluster's budget of namespaces for tenant databases (config.Config's).
	NamespaceBudget func(cluster string) int
	// Schema is the plan a new tenant database is brought to before the institution is activated
	// (functions/all.Schema).
	Schema schema.Plan
}

// New returns the platform service over d.
func New(d Deps) *Service { return &Service{deps: d} }

// OwnerInput describes a new tenant's owner account.
type OwnerInput struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// ProvisionRequest creates a tenant.
type ProvisionRequest struct {
	Slug     string           `json:"slug"`
	Name     string           `json:"name"`
	Cluster  string           `json:"cluster,omitempty" example:"default"`
	Branding *tenant.Branding `json:"branding,omitempty"`
	Settings *tenant.Settings `json:"settings,omitempty"`
	Owner    OwnerInput       `json:"owner"`
}

// Validate implements httpapi.Validator. It judges r as normalized leaves it and changes nothing.
func (r ProvisionRequest) Validate() error {
	_, err := r.normalized()
	return err
}

// normalized returns r as it is recorded (the owner's email in its stored form), or the Invalid error
// naming every bad field.
func (r ProvisionRequest) normalized() (ProvisionRequest, error) {
	var bad apperr.Problems
	bad.Check(tenant.ValidateSlug(r.Slug))
	if _, err := httpapi.Text("name", r.Name, 120); err != nil || len(strings.TrimSpace(r.Name)) < 2 {
		code := apperr.FieldTooShort
		if e := apperr.As(err); e != nil && len(e.Errors) == 1 {
			code = e.Errors[0].Code
		}
		bad.Add("name", code, "must be 2 to 120 characters, without control or bidi override characters")
	}
	if r.Branding != nil {
		bad.Check(r.Branding.Validate())
	}
	if r.Settings != nil {
		bad.Check(r.Settings.Validate())
	}
	_, err := httpapi.Text("owner.name", r.Owner.Name, 120)
	bad.Check(err)
	if email, err := account.NormalizeEmail("owner.email", r.Owner.Email); bad.Check(err) {
		r.Owner.Email = email
	}
	bad.Check(authn.CheckPasswordPolicy("owner.password", r.Owner.Password))
	return r, bad.Err()
}

// Provisioned is the answer to a provisioning request.
type Provisioned struct {
	Tenant tenant.Tenant `json:"tenant"`
	Owner  account.User  `json:"owner"`
}

// Provision creates a tenant: a registry record with the next tenant number, its database's indexes, the
// owner account with its PRN, and the first audit entry; the tenant is served only once all of it exists
// (it stays "provisioning" until then). Provisioning a slug that is stuck half-way resumes it. A new
// institution goes to the requested cluster, else the default one, else the cluster with the most room
// (capacity.go). Errors: Invalid, Conflict when the slug is taken or no cluster it may go to has room.
func (s *Service) Provision(ctx context.Context, actor rbac.Principal, req ProvisionRequest) (Provisioned, error) {
	req, err := req.normalized()
	if err != nil {
		return Provisioned{}, err
	}
	if req.Cluster != "" && !s.deps.Databases.HasCluster(req.Cluster) {
		return Provisioned{}, apperr.Field("cluster", apperr.FieldNotAllowed, "is not a configured cluster")
	}
	var cluster string
	existing, err := s.deps.Registry.Load(ctx, req.Slug)
	switch {
	case err == nil && existing.Status == tenant.Provisioning:
		cluster = existing.Cluster // resuming: its place is taken already
	case err == nil:
		cluster = existing.Cluster // the slug is taken: Create answers Conflict below
	default:
		if cluster, err = s.place(ctx, req.Cluster); err != nil {
			return Provisioned{}, err
		}
	}
	t := &tenant.Tenant{
		Slug: req.Slug, Name: strings.TrimSpace(req.Name), Status: tenant.Provisioning, Cluster: cluster,
		Branding: tenant.Branding{DisplayName: strings.TrimSpace(req.Name)}, Settings: tenant.DefaultSettings(),
	}
	if req.Branding != nil {
		t.Branding = *req.Branding
	}
	if req.Settings != nil {
		t.Settings = *req.Settings
	}
	if err := s.deps.Registry.Create(ctx, t); err != nil {
		if apperr.CodeOf(err) != apperr.Conflict {
			return Provisioned{}, err
		}
		existing, lerr := s.deps.Registry.Load(ctx, req.Slug)
		if lerr != nil || existing.Status != tenant.Provisioning {
			return Provisioned{}, err
		}
		t = existing // resume a provisioning that failed half-way
	}

	db, release, err := s.deps.Databases.Open(ctx, t)
	if err != nil {
		return Provisioned{}, err
	}
	defer release()
	now := s.deps.Clock.Now()
	version, err := s.deps.Schema.Migrate(ctx, db, now)
	if err != nil {
		return Provisioned{}, fmt.Errorf("provision %s: %w", t.Slug, err)
	}
	owner, err := account.Create(ctx, db, account.NewUser{
		Email: req.Owner.Email, Name: strings.TrimSpace(req.Owner.Name), Role: rbac.Owner, Password: req.Owner.Password,
		TenantNumber: t.Number, Year: now.In(t.Location()).Year(),
	}, s.deps.Passwords, now)
	if apperr.CodeOf(err) == apperr.Conflict {
		owner, err = account.ByEmail(ctx, db, req.Owner.Email) // resumed: the owner was created last time
	}
	if err != nil {
		return Provisioned{}, fmt.Errorf("provision %s: %w", t.Slug, err)
	}
	if err := s.record(ctx, db, actor, "platform.tenant.provisioned", t.Slug, map[string]any{"number": t.Number, "owner": owner.ID}); err != nil {
		return Provisioned{}, err
	}
	active, err := s.deps.Registry.Update(ctx, t.Slug, bson.M{"status": tenant.Active, "schema_version": version}, false)
	if err != nil {
		return Provisioned{}, err
	}
	return Provisioned{Tenant: *active, Owner: *owner}, nil
}

// record appends to the tenant's audit log, which is where an institution's own history belongs.
func (s *Service) record(ctx context.Context, db lungo.IDatabase, actor rbac.Principal, action, slug string, details any) error {
	return s.deps.Audit.Record(ctx, db, audit.By(actor), action, audit.Target{Kind: "tenant", ID: slug}, details)
}

// Get returns a tenant straight from the registry (not the cache). NotFound when absent.
func (s *Service) Get(ctx context.Context, slug string) (*tenant.Tenant, error) {
	return s.deps.Registry.Load(ctx, slug)
}

// List returns a page of tenants in slug order.
func (s *Service) List(ctx context.Context, after string, limit int) ([]tenant.Tenant, error) {
	return s.deps.Registry.List(ctx, after, limit)
}

// SetBranding replaces a tenant's branding.
func (s *Service) SetBranding(ctx context.Context, actor rbac.Principal, slug string, b tenant.Branding) (*tenant.Tenant, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	return s.change(ctx, actor, slug, "platform.tenant.branding", bson.M{"branding": b}, false, b)
}

// SetSettings replaces a tenant's settings.
func (s *Service) SetSettings(ctx context.Context, actor rbac.Principal, slug string, st tenant.Settings) (*tenant.Tenant, error) {
	if err := st.Validate(); err != nil {
		return nil, err
	}
	return s.change(ctx, actor, slug, "platform.tenant.settings", bson.M{"settings": st}, false, st)
}

// Suspend stops serving a tenant: every request of its users is refused until Resume. Its data stays.
func (s *Service) Suspend(ctx context.Context, actor rbac.Principal, slug string) (*tenant.Tenant, error) {
	return s.change(ctx, actor, slug, "platform.tenant.suspended", bson.M{"status": tenant.Suspended}, false, nil)
}

// Resume serves a suspended tenant again.
func (s *Service) Resume(ctx context.Context, actor rbac.Principal, slug string) (*tenant.Tenant, error) {
	return s.change(ctx, actor, slug, "platform.tenant.resumed", bson.M{"status": tenant.Active}, false, nil)
}

// RevokeTokens bumps the tenant's token version: every access token of the tenant stops working (on
// other instances within the tenant cache TTL) and every refresh is refused, so all its users sign in
// again. Other tenants are untouched.
func (s *Service) RevokeTokens(ctx context.Context, actor rbac.Principal, slug string) (*tenant.Tenant, error) {
	return s.change(ctx, actor, slug, "platform.tenant.tokens_revoked", nil, true, nil)
}

// ClusterMove points a tenant at another cluster.
type ClusterMove struct {
	Cluster string `json:"cluster" example:"default"`
}

// MoveCluster points a suspended tenant at another configured cluster. It moves no data: the operator
// suspends the tenant, copies its database to the new cluster, calls this, checks, and resumes (README,
// "Moving an institution to another cluster"). Errors: Invalid for an unknown cluster, Conflict unless
// the tenant is suspended, NotFound.
func (s *Service) MoveCluster(ctx context.Context, actor rbac.Principal, slug string, m ClusterMove) (*tenant.Tenant, error) {
	if !s.deps.Databases.HasCluster(m.Cluster) {
		return nil, apperr.Field("cluster", apperr.FieldNotAllowed, "is not a configured cluster")
	}
	cur, err := s.deps.Registry.Load(ctx, slug)
	if err != nil {
		return nil, err
	}
	if cur.Status != tenant.Suspended {
		return nil, apperr.Errorf(apperr.Conflict, "suspend the institution before moving it, so no write lands on the old cluster")
	}
	return s.change(ctx, actor, slug, "platform.tenant.cluster_moved", bson.M{"cluster": m.Cluster}, false,
		map[string]string{"from": cur.Cluster, "to": m.Cluster})
}

// change applies one registry change to an active or suspended tenant and records it in the tenant's
// audit log. NotFound for an unknown (or still provisioning) tenant.
func (s *Service) change(ctx context.Context, actor rbac.Principal, slug, action string, set bson.M, bump bool, details any) (*tenant.Tenant, error) {
	cur, err := s.deps.Registry.Load(ctx, slug)
	if err != nil {
		return nil, err
	}
	if cur.Status == tenant.Provisioning {
		return nil, apperr.Errorf(apperr.Conflict, "the institution is still being provisioned")
	}
	t, err := s.deps.Registry.Update(ctx, slug, set, bump)
	if err != nil {
		return nil, err
	}
	db, release, err := s.deps.Databases.Open(ctx, t)
	if err != nil {
		return nil, err
	}
	defer release()
	if bump {
		// Refresh tokens carry the tenant version and are refused after the bump anyway; revoking them
		// too leaves nothing usable behind in the database.
		if err := s.deps.Refresh.RevokeAll(ctx, db); err != nil {
			return nil, err
		}
	}
	if err := s.record(ctx, db, actor, action, slug, details); err != nil {
		return nil, err
	}
	return t, nil
}

// PublicBranding is what an unauthenticated login page may learn about a tenant.
type PublicBranding struct {
	Slug     string          `json:"slug"`
	Branding tenant.Branding `json:"branding"`
}

// Branding returns a tenant's public branding; NotFound for unknown or not-yet-provisioned tenants.
func (s *Service) Branding(ctx context.Context, slug string) (PublicBranding, error) {
	if tenant.ValidateSlug(slug) != nil {
		return PublicBranding{}, apperr.Errorf(apperr.NotFound, "no such institution")
	}
	t, err := s.deps.Registry.Get(ctx, slug)
	if err != nil {
		return PublicBranding{}, err
	}
	if t.Status == tenant.Provisioning {
		return PublicBranding{}, apperr.Errorf(apperr.NotFound, "no such institution")
	}
	return PublicBranding{Slug: t.Slug, Branding: t.Branding}, nil
}
