// Package users is the area of an institution's organisation: its branches and its staff accounts
// (owners, branch admins, teachers, accountants, counsellors), each with a role, a branch scope and a PRN.
//
// Permissions: branches.read, branches.write (owners); staff.read, staff.write (owners; branch admins
// for teachers and branch admins of their own branches). Branch-scoped staff see only their branches and
// the staff who share one; anything else reads as not found.
package users

import (
	"context"
	"fmt"
	"slices"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// AccountCache is the guard's cache of account states: forgetting one makes a role or scope change count
// on the very next request.
type AccountCache interface {
	ForgetAccount(db lungo.IDatabase, userID string)
}

// RefreshTokens revokes a person's refresh tokens, so a narrowed scope cannot outlive the change.
type RefreshTokens interface {
	RevokeUser(ctx context.Context, db lungo.IDatabase, userID string) error
}

// Deps is what the users area needs; every field is required.
type Deps struct {
	Clock     clock.Clock
	Audit     audit.Recorder
	Passwords authn.PasswordParams
	Accounts  AccountCache
	Refresh   RefreshTokens
}

// Service manages branches and staff. Construct with New.
type Service struct {
	deps Deps
}

// New returns the users service over d.
func New(d Deps) *Service { return &Service{deps: d} }

const branchesCollection = "branches"

// EnsureIndexes creates the area's indexes in a tenant database.
func EnsureIndexes(ctx context.Context, db lungo.IDatabase) error {
	_, err := db.Collection(branchesCollection).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "code", Value: 1}}, Options: options.Index().SetUnique(true).SetName("code_unique"),
	})
	if err != nil {
		return fmt.Errorf("create branch indexes: %w", err)
	}
	return nil
}

// visibleStaffFilter limits a staff query to what the caller may see: tenant-level roles see all staff,
// branch-level roles the staff sharing one of their branches.
func visibleStaffFilter(p rbac.Principal) bson.M {
	f := bson.M{"role": bson.M{"$in": staffRoles}}
	if p.Role.Level() == rbac.LevelBranch {
		f["branches"] = store.In(p.Branches)
	}
	return f
}

var staffRoles = bson.A{string(rbac.Owner), string(rbac.BranchAdmin), string(rbac.Teacher), string(rbac.Accountant), string(rbac.Counsellor)}

func (s *Service) tenantNow(ctx context.Context) (int, int) {
	t := tenant.FromContext(ctx)
	return t.Number, s.deps.Clock.Now().In(t.Location()).Year()
}

func canSeeStaff(p rbac.Principal, u *account.User) bool {
	if !u.Role.Staff() {
		return false
	}
	if p.Role.Level() == rbac.LevelTenant {
		return true
	}
	for _, b := range u.Branches {
		if slices.Contains(p.Branches, b) {
			return true
		}
	}
	return false
}
