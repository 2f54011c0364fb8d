// Package auth is the sign-in area: login by tenant and email or by PRN, refresh-token rotation, logout,
// logout everywhere, password change, the caller's own identity and the JWKS other services verify
// edugrid tokens with.
//
// Permissions: login, refresh, logout and JWKS are public (the credentials are in the body); me,
// logout-all and password need any valid access token and act on the caller only.
package auth

import (
	"context"
	"fmt"
	"strings"

	"github.com/256dpi/lungo"

	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/prnum"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// Service signs people in. Construct with New.
type Service struct {
	deps       Deps
	perAccount *authn.Limiter
	perAddress *authn.Limiter
	// dummyHash is verified against when an account does not exist, so a missing account costs the same
	// time as a wrong password and timing does not reveal which emails are registered.
	dummyHash string
}

// AccountCache is the guard's cache of account states: forgetting one makes a sign-out or a password
// change count on the very next request.
type AccountCache interface {
	ForgetAccount(db lungo.IDatabase, userID string)
}

// Deps is what the auth area needs; every field is required.
type Deps struct {
	Clock     clock.Clock
	Passwords authn.PasswordParams
	Registry  *tenant.Registry
	Databases *tenant.Databases
	// Platform is the platform database, where platform admins sign in.
	Platform lungo.IDatabase
	Tokens   *authn.Tokens
	Refresh  *authn.Refresher
	Accounts AccountCache
	// ClientIPHops is how many trusted proxies append to X-Forwarded-For; it keys the per-address limit.
	ClientIPHops int
}

// New returns the auth service over d.
func New(d Deps) *Service {
	h, err := authn.HashPassword("edugrid-dummy-password", d.Passwords)
	if err != nil {
		panic(err) // crypto/rand failing
	}
	return &Service{
		deps: d,
		// An account gets 10 attempts at once, then one every 30 seconds: a person who mistypes is not
		// locked out for long, an online guesser gets about 3,000 tries a day per instance.
		perAccount: authn.NewLimiter(30e9, 10, 100_000, d.Clock),
		// An address gets 30 at once (a classroom behind one NAT), then two a second.
		perAddress: authn.NewLimiter(5e8, 30, 100_000, d.Clock),
		dummyHash:  h,
	}
}

// TokenPair is what a successful login or refresh answers.
type TokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// LoginRequest signs in with tenant slug and email, or with a PRN (which names its tenant).
type LoginRequest struct {
	Tenant   string `json:"tenant,omitempty"`
	Email    string `json:"email,omitempty"`
	PRN      string `json:"prn,omitempty"`
	Password string `json:"password"`
}

// Example implements httpapi.Exampler: a sign-in by tenant and email (the other form is a PRN alone).
func (LoginRequest) Example() any {
	return LoginRequest{Tenant: "sunrise-academy", Email: "asha.rao@example.edu", Password: "correct-horse-battery-staple"}
}

// Validate implements httpapi.Validator.
func (r LoginRequest) Validate() error {
	var bad apperr.Problems
	switch {
	case r.Password == "":
		bad.Add("password", apperr.FieldRequired, "is required")
	case len(r.Password) > authn.MaxPasswordLen:
		bad.Add("password", apperr.FieldTooLong, "is too long")
	}
	switch {
	case r.PRN != "" && (r.Tenant != "" || r.Email != ""):
		bad.Add("prn", apperr.FieldNotAllowed, "sign in with either a PRN or a tenant and email, not both")
	case r.PRN == "" && r.Tenant == "" && r.Email == "":
		bad.Add("prn", apperr.FieldRequired, "tenant and email (or a PRN) are required")
	case r.PRN == "" && r.Tenant == "":
		bad.Add("tenant", apperr.FieldRequired, "tenant and email (or a PRN) are required")
	case r.PRN == "" && r.Email == "":
		bad.Add("email", apperr.FieldRequired, "tenant and email (or a PRN) are required")
	}
	return bad.Err()
}

var errBadCredentials = &apperr.Error{Code: apperr.Unauthenticated, Message: "the sign-in details are incorrect"}

// Login checks credentials and issues a token pair. clientIP keys the per-address rate limit. It returns
// Unauthenticated for any wrong credential (without saying which), Invalid for a PRN with a bad check
// digit, Suspended for a suspended institution and RateLimited after too many attempts.
func (s *Service) Login(ctx context.Context, req LoginRequest, clientIP string) (TokenPair, error) {
	if err := req.Validate(); err != nil {
		return TokenPair{}, err
	}
	accountKey := "prn:" + req.PRN
	if p, err := prnum.Parse(req.PRN); err == nil {
		// Parse ignores spaces and hyphens, so the limit keys on the canonical PRN: otherwise every
		// spelling of one PRN ("0001-1-…", "0001 1 …") would buy another burst of guesses at one account.
		accountKey = "prn:" + string(p)
	}
	if req.PRN == "" {
		accountKey = "email:" + strings.ToLower(req.Tenant) + "/" + strings.ToLower(strings.TrimSpace(req.Email))
	}
	if !s.perAddress.Allow(clientIP) || !s.perAccount.Allow(accountKey) {
		return TokenPair{}, apperr.Errorf(apperr.RateLimited, "too many sign-in attempts; wait a minute and try again")
	}

	if req.Tenant == authn.PlatformTenant {
		return s.loginPlatform(ctx, req)
	}
	var (
		t   *tenant.Tenant
		err error
	)
	if req.PRN != "" {
		p, perr := prnum.Parse(req.PRN)
		if perr != nil {
			return TokenPair{}, perr
		}
		req.PRN = string(p)
		t, err = s.deps.Registry.ByNumber(ctx, p.Tenant())
	} else {
		t, err = s.deps.Registry.Get(ctx, req.Tenant)
	}
	if apperr.CodeOf(err) == apperr.NotFound {
		authn.VerifyPassword(req.Password, s.dummyHash)
		return TokenPair{}, errBadCredentials
	}
	if err != nil {
		return TokenPair{}, err
	}
	switch t.Status {
	case tenant.Active:
	case tenant.Suspended:
		return TokenPair{}, apperr.Errorf(apperr.Suspended, "this institution's access is suspended")
	default:
		return TokenPair{}, errBadCredentials
	}
	db, release, err := s.deps.Databases.Open(ctx, t)
	if err != nil {
		return TokenPair{}, err
	}
	defer release()

	var u *account.User
	if req.PRN != "" {
		u, err = account.ByPRN(ctx, db, req.PRN)
	} else {
		email, eerr := account.NormalizeEmail("email", req.Email)
		if eerr != nil {
			return TokenPair{}, eerr
		}
		u, err = account.ByEmail(ctx, db, email)
	}
	if err := s.checkPassword(u, err, req.Password); err != nil {
		return TokenPair{}, err
	}
	return s.issue(ctx, db, t.Slug, t.TokenVersion, u, "")
}

func (s *Service) loginPlatform(ctx context.Context, req LoginRequest) (TokenPair, error) {
	email, err := account.NormalizeEmail("email", req.Email)
	if err != nil {
		return TokenPair{}, err
	}
	u, err := account.ByEmail(ctx, s.deps.Platform, email)
	if err := s.checkPassword(u, err, req.Password); err != nil {
		return TokenPair{}, err
	}
	return s.issue(ctx, s.deps.Platform, authn.PlatformTenant, 0, u, "")
}

// checkPassword turns a lookup result and a password into a verdict, spending one hash either way.
func (s *Service) checkPassword(u *account.User, lookupErr error, password string) error {
	if apperr.CodeOf(lookupErr) == apperr.NotFound {
		authn.VerifyPassword(password, s.dummyHash)
		return errBadCredentials
	}
	if lookupErr != nil {
		return lookupErr
	}
	if !authn.VerifyPassword(password, u.PasswordHash) || u.Status != account.Active {
		return errBadCredentials
	}
	return nil
}

func (s *Service) issue(ctx context.Context, db lungo.IDatabase, tenantSlug string, tenantVersion int64, u *account.User, family string) (TokenPair, error) {
	c := authn.Claims{
		Tenant:        tenantSlug,
		TenantVersion: tenantVersion,
		UserVersion:   u.TokenVersion,
		Role:          string(u.Role),
		Branches:      u.Branches,
		PRN:           u.PRN,
	}
	c.Subject = u.ID
	access, _, err := s.deps.Tokens.Issue(c)
	if err != nil {
		return TokenPair{}, err
	}
	refresh, err := s.deps.Refresh.Issue(ctx, db, tenantSlug, u.ID, u.TokenVersion, tenantVersion, family)
	if err != nil {
		return TokenPair{}, err
	}
	return TokenPair{AccessToken: access, RefreshToken: refresh, TokenType: "Bearer", ExpiresIn: int(s.deps.Tokens.AccessTTL().Seconds())}, nil
}

// tenantDB opens the database a refresh token belongs to: the platform database for platform admins.
// A suspended tenant is refused unless evenSuspended: signing out must work in any state.
func (s *Service) tenantDB(ctx context.Context, slug string, evenSuspended bool) (lungo.IDatabase, *tenant.Tenant, func(), error) {
	if slug == authn.PlatformTenant {
		return s.deps.Platform, nil, func() {}, nil
	}
	t, err := s.deps.Registry.Get(ctx, slug)
	if apperr.CodeOf(err) == apperr.NotFound {
		return nil, nil, nil, &apperr.Error{Code: apperr.Unauthenticated, Message: "the refresh token is invalid or expired"}
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if t.Status == tenant.Suspended && !evenSuspended {
		return nil, nil, nil, apperr.Errorf(apperr.Suspended, "this institution's access is suspended")
	}
	if t.Status != tenant.Active && t.Status != tenant.Suspended {
		return nil, nil, nil, &apperr.Error{Code: apperr.Unauthenticated, Message: "the refresh token is invalid or expired"}
	}
	db, release, err := s.deps.Databases.Open(ctx, t)
	if err != nil {
		return nil, nil, nil, err
	}
	return db, t, release, nil
}

// Refresh rotates a refresh token into a new pair. A reused token revokes its whole family; a token of a
// user whose version changed (password change, logout everywhere) or who was disabled is refused. Errors:
// Unauthenticated, Suspended.
func (s *Service) Refresh(ctx context.Context, token string) (TokenPair, error) {
	slug, err := authn.RefreshTenant(token)
	if err != nil {
		return TokenPair{}, err
	}
	db, t, release, err := s.tenantDB(ctx, slug, false)
	if err != nil {
		return TokenPair{}, err
	}
	defer release()
	old, err := s.deps.Refresh.Rotate(ctx, db, token)
	if err != nil {
		return TokenPair{}, err
	}
	u, err := account.Get(ctx, db, old.UserID)
	if err != nil && apperr.CodeOf(err) != apperr.NotFound {
		return TokenPair{}, err
	}
	var tv int64
	if t != nil {
		tv = t.TokenVersion
	}
	if u == nil || u.Status != account.Active || u.TokenVersion != old.UserVersion || old.TenantVersion != tv {
		if err := s.deps.Refresh.RevokeFamily(ctx, db, old.Family); err != nil {
			return TokenPair{}, err
		}
		return TokenPair{}, &apperr.Error{Code: apperr.Unauthenticated, Message: "the session has been ended; sign in again"}
	}
	return s.issue(ctx, db, slug, tv, u, old.Family)
}

// Logout revokes the sign-in a refresh token belongs to, also while the tenant is suspended (else the
// token would come back to life on resume). An unknown token is not an error: the caller is signed out
// either way. An unreachable database is: the sign-in was not ended, and the caller must retry.
func (s *Service) Logout(ctx context.Context, token string) error {
	slug, err := authn.RefreshTenant(token)
	if err != nil {
		return nil
	}
	db, _, release, err := s.tenantDB(ctx, slug, true)
	if err != nil {
		if apperr.CodeOf(err) == apperr.Unauthenticated {
			return nil
		}
		return err
	}
	defer release()
	rt, err := s.deps.Refresh.Lookup(ctx, db, token)
	if err != nil {
		if apperr.As(err) != nil {
			return nil
		}
		return err
	}
	return s.deps.Refresh.RevokeFamily(ctx, db, rt.Family)
}

// callerDB returns the database holding the caller's account: the tenant's, or the platform's.
func (s *Service) callerDB(ctx context.Context, p rbac.Principal) lungo.IDatabase {
	if p.Role == rbac.PlatformAdmin {
		return s.deps.Platform
	}
	return store.Database(ctx)
}

// LogoutEverywhere ends every session of the caller: their refresh tokens are revoked and their token
// version bumped, so access tokens already issued stop working within the guard's cache TTL.
func (s *Service) LogoutEverywhere(ctx context.Context) error {
	p := rbac.Must(ctx)
	db := s.callerDB(ctx, p)
	if _, err := account.Update(ctx, db, p.Subject, nil, true, s.deps.Clock.Now()); err != nil {
		return fmt.Errorf("logout everywhere: %w", err)
	}
	s.deps.Accounts.ForgetAccount(db, p.Subject)
	return s.deps.Refresh.RevokeUser(ctx, db, p.Subject)
}

// PasswordChange is the body of a password change.
type PasswordChange struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password" example:"a-new-horse-battery-staple"`
}

// Validate implements httpapi.Validator.
func (r PasswordChange) Validate() error {
	var bad apperr.Problems
	if r.CurrentPassword == "" {
		bad.Add("current_password", apperr.FieldRequired, "is required")
	}
	if bad.Check(authn.CheckPasswordPolicy("new_password", r.NewPassword)) && r.NewPassword == r.CurrentPassword {
		bad.Add("new_password", apperr.FieldNotAllowed, "must differ from the current password")
	}
	return bad.Err()
}

// ChangePassword sets the caller's new password after checking the current one, then ends every session
// of theirs (the caller signs in again). Errors: Unauthenticated for a wrong current password.
func (s *Service) ChangePassword(ctx context.Context, req PasswordChange) error {
	if err := req.Validate(); err != nil {
		return err
	}
	p := rbac.Must(ctx)
	db := s.callerDB(ctx, p)
	u, err := account.Get(ctx, db, p.Subject)
	if err != nil {
		return err
	}
	if !authn.VerifyPassword(req.CurrentPassword, u.PasswordHash) {
		return apperr.Errorf(apperr.Unauthenticated, "the current password is incorrect")
	}
	hash, err := authn.HashPassword(req.NewPassword, s.deps.Passwords)
	if err != nil {
		return err
	}
	if _, err := account.Update(ctx, db, p.Subject, map[string]any{"password_hash": hash}, true, s.deps.Clock.Now()); err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	s.deps.Accounts.ForgetAccount(db, p.Subject)
	return s.deps.Refresh.RevokeUser(ctx, db, p.Subject)
}

// Me describes the caller.
type Me struct {
	UserID   string    `json:"user_id"`
	PRN      string    `json:"prn,omitempty"`
	Tenant   string    `json:"tenant"`
	Role     rbac.Role `json:"role"`
	Branches []string  `json:"branches"`
	Name     string    `json:"name"`
	Email    string    `json:"email,omitempty"`
}

// WhoAmI returns the caller's identity.
func (s *Service) WhoAmI(ctx context.Context) (Me, error) {
	p := rbac.Must(ctx)
	u, err := account.Get(ctx, s.callerDB(ctx, p), p.Subject)
	if err != nil {
		return Me{}, err
	}
	tenantSlug := p.Tenant
	if p.Role == rbac.PlatformAdmin {
		tenantSlug = authn.PlatformTenant
	}
	return Me{UserID: u.ID, PRN: u.PRN, Tenant: tenantSlug, Role: u.Role, Branches: u.Branches, Name: u.Name, Email: u.Email}, nil
}
