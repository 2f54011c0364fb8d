package users

import (
	"context"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// NewStaff creates a staff account.
type NewStaff struct {
	Email    string    `json:"email"`
	Name     string    `json:"name"`
	Phone    string    `json:"phone,omitempty"`
	Role     rbac.Role `json:"role"`
	Branches []string  `json:"branches"`
	// Password is the initial password, handed to the person by whoever creates the account.
	Password string `json:"password"`
}

// Validate implements httpapi.Validator. It judges n as normalized leaves it and changes nothing.
func (n NewStaff) Validate() error {
	_, err := n.normalized()
	return err
}

// normalized returns n as it is recorded (email in its stored form, text trimmed), or the Invalid error
// naming every bad field.
func (n NewStaff) normalized() (NewStaff, error) {
	var bad apperr.Problems
	if v, err := account.NormalizeEmail("email", n.Email); bad.Check(err) {
		n.Email = v
	}
	if v, err := httpapi.Text("name", n.Name, 120); bad.Check(err) {
		n.Name = v
	}
	if len(n.Phone) > 32 {
		bad.Add("phone", apperr.FieldTooLong, "must be at most 32 bytes")
	}
	bad.Check(validateRoleScope(n.Role, n.Branches))
	return n, bad.Err()
}

func validateRoleScope(r rbac.Role, branches []string) error {
	var bad apperr.Problems
	switch {
	case r == "":
		bad.Add("role", apperr.FieldRequired, "must be one of owner, branch_admin, teacher, accountant, counsellor")
	case !r.Staff():
		bad.Add("role", apperr.FieldNotAllowed, "must be one of owner, branch_admin, teacher, accountant, counsellor")
	case r.Level() == rbac.LevelBranch && len(branches) == 0:
		bad.Add("branches", apperr.FieldRequired, "a branch admin or teacher needs at least one branch")
	}
	if len(branches) > 50 {
		bad.Add("branches", apperr.FieldTooLong, "at most 50")
	}
	seen := map[string]bool{}
	for _, b := range branches {
		if seen[b] {
			bad.Add("branches", apperr.FieldDuplicate, "lists a branch twice")
		}
		seen[b] = true
	}
	return bad.Err()
}

// StaffChange updates a staff account; absent fields stay as they are. A change of role, branches or
// status ends the person's sessions, so their next token carries the new scope.
type StaffChange struct {
	Name     *string         `json:"name,omitempty"`
	Phone    *string         `json:"phone,omitempty"`
	Role     *rbac.Role      `json:"role,omitempty"`
	Branches *[]string       `json:"branches,omitempty"`
	Status   *account.Status `json:"status,omitempty"`
}

// Validate implements httpapi.Validator. It judges c as normalized leaves it and changes nothing.
func (c StaffChange) Validate() error {
	_, err := c.normalized()
	return err
}

// normalized returns c as it is recorded (text trimmed), or the Invalid error naming every bad field.
func (c StaffChange) normalized() (StaffChange, error) {
	var bad apperr.Problems
	if c.Name != nil {
		if n, err := httpapi.Text("name", *c.Name, 120); bad.Check(err) {
			c.Name = &n
		}
	}
	if c.Phone != nil && len(*c.Phone) > 32 {
		bad.Add("phone", apperr.FieldTooLong, "must be at most 32 bytes")
	}
	if c.Status != nil && *c.Status != account.Active && *c.Status != account.Disabled {
		bad.Add("status", apperr.FieldNotAllowed, `must be "active" or "disabled"`)
	}
	return c, bad.Err()
}

// CreateStaff creates a staff account with a PRN in the caller's tenant. The caller must be allowed to
// grant the role and branch scope (Forbidden otherwise); the branches must exist (Invalid); the email
// must be free (Conflict).
func (s *Service) CreateStaff(ctx context.Context, in NewStaff) (*account.User, error) {
	in, err := in.normalized()
	if err != nil {
		return nil, err
	}
	p := rbac.Must(ctx)
	if !p.CanGrant(in.Role, in.Branches) {
		return nil, apperr.Errorf(apperr.Forbidden, "you may not give the role %s with these branches", in.Role)
	}
	if err := branchesExist(ctx, in.Branches); err != nil {
		return nil, err
	}
	number, year := s.tenantNow(ctx)
	u, err := account.Create(ctx, store.Database(ctx), account.NewUser{
		Email: in.Email, Name: in.Name, Phone: in.Phone, Role: in.Role, Branches: in.Branches,
		Password: in.Password, TenantNumber: number, Year: year,
	}, s.deps.Passwords, s.deps.Clock.Now())
	if err != nil {
		return nil, err
	}
	if err := s.deps.Audit.Record(ctx, store.Database(ctx), audit.By(rbac.Must(ctx)), "users.staff.created", audit.Target{Kind: "user", ID: u.ID},
		map[string]any{"role": u.Role, "branches": u.Branches, "prn": u.PRN}); err != nil {
		return nil, err
	}
	return u, nil
}

// GetStaff returns a staff account the caller may see; NotFound otherwise (including for students and
// guardians, who are not staff).
func (s *Service) GetStaff(ctx context.Context, userID string) (*account.User, error) {
	if !id.Valid(userID) {
		return nil, apperr.Errorf(apperr.NotFound, "no such staff member")
	}
	u, err := account.Get(ctx, store.Database(ctx), userID)
	if apperr.CodeOf(err) == apperr.NotFound || err == nil && !canSeeStaff(rbac.Must(ctx), u) {
		return nil, apperr.Errorf(apperr.NotFound, "no such staff member")
	}
	return u, err
}

// StaffFilter narrows a staff list.
type StaffFilter struct {
	Role   rbac.Role
	Branch string
}

// ListStaff returns a page of the staff the caller may see, oldest first.
func (s *Service) ListStaff(ctx context.Context, f StaffFilter, pr httpapi.PageRequest) (httpapi.Page[account.User], error) {
	filter := visibleStaffFilter(rbac.Must(ctx))
	if f.Role != "" {
		if !f.Role.Staff() {
			return httpapi.Page[account.User]{}, apperr.Field("role", apperr.FieldNotAllowed, "is not a staff role")
		}
		filter = bson.M{"$and": bson.A{filter, bson.M{"role": string(f.Role)}}}
	}
	if f.Branch != "" {
		filter = bson.M{"$and": bson.A{filter, bson.M{"branches": f.Branch}}}
	}
	items, err := store.Page[account.User](ctx, store.Database(ctx).Collection(account.Collection), filter, pr.After, pr.Limit)
	if err != nil {
		return httpapi.Page[account.User]{}, fmt.Errorf("list staff: %w", err)
	}
	return httpapi.NewPage(items, pr.Limit, func(u account.User) string { return u.ID }), nil
}

// UpdateStaff changes a staff account. The caller must be able to see the person (NotFound otherwise),
// to grant both the person's current and new role and scope (Forbidden otherwise), and may not change
// their own role, scope or status (Forbidden), so nobody locks an institution out of itself by accident.
func (s *Service) UpdateStaff(ctx context.Context, userID string, c StaffChange) (*account.User, error) {
	c, err := c.normalized()
	if err != nil {
		return nil, err
	}
	p := rbac.Must(ctx)
	cur, err := s.GetStaff(ctx, userID)
	if err != nil {
		return nil, err
	}
	if userID != p.Subject && !p.CanGrant(cur.Role, cur.Branches) {
		return nil, apperr.Errorf(apperr.Forbidden, "you may not manage this role or these branches")
	}
	role, branches := cur.Role, cur.Branches
	if c.Role != nil {
		role = *c.Role
	}
	if c.Branches != nil {
		branches = *c.Branches
	}
	scopeChanged := c.Role != nil && *c.Role != cur.Role || c.Branches != nil && !slices.Equal(*c.Branches, cur.Branches) ||
		c.Status != nil && *c.Status != cur.Status
	if scopeChanged {
		if userID == p.Subject {
			return nil, apperr.Errorf(apperr.Forbidden, "you may not change your own role, branches or status")
		}
		if err := validateRoleScope(role, branches); err != nil {
			return nil, err
		}
		if !p.CanGrant(role, branches) {
			return nil, apperr.Errorf(apperr.Forbidden, "you may not manage this role or these branches")
		}
		if err := branchesExist(ctx, branches); err != nil {
			return nil, err
		}
	}
	set := bson.M{}
	if c.Name != nil {
		set["name"] = *c.Name
	}
	if c.Phone != nil {
		set["phone"] = *c.Phone
	}
	if c.Role != nil {
		set["role"] = string(role)
	}
	if c.Branches != nil {
		set["branches"] = branches
	}
	if c.Status != nil {
		set["status"] = *c.Status
	}
	db := store.Database(ctx)
	u, err := account.Update(ctx, db, userID, set, scopeChanged, s.deps.Clock.Now())
	if err != nil {
		return nil, err
	}
	if scopeChanged {
		s.deps.Accounts.ForgetAccount(db, userID)
		if err := s.deps.Refresh.RevokeUser(ctx, db, userID); err != nil {
			return nil, err
		}
	}
	if err := s.deps.Audit.Record(ctx, store.Database(ctx), audit.By(rbac.Must(ctx)), "users.staff.updated", audit.Target{Kind: "user", ID: userID}, c); err != nil {
		return nil, err
	}
	return u, nil
}
