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
	"strings"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// Service manages branches and staff. Construct with New.
type Service struct {
	app *app.App
}

// New returns the users service over a.
func New(a *app.App) *Service { return &Service{app: a} }

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

func (s *Service) record(ctx context.Context, action string, target audit.Target, details any) error {
	p := rbac.Must(ctx)
	_, err := audit.Append(ctx, store.Database(ctx), audit.Record{
		Actor: audit.Actor{ID: p.Subject, Role: string(p.Role)}, Action: action, Target: target,
		Details: details, At: s.app.Clock.Now(), RequestID: httpapi.RequestID(ctx),
	})
	if err != nil {
		return fmt.Errorf("record %s %s: %w", action, target.ID, err)
	}
	return nil
}

// page runs a find for one page in id order: limit+1 items, so the caller can tell a next page exists.
func page[T any](ctx context.Context, coll lungo.ICollection, filter bson.M, pr httpapi.PageRequest) ([]T, error) {
	if pr.After != "" {
		filter = bson.M{"$and": bson.A{filter, bson.M{"_id": bson.M{"$gt": pr.After}}}}
	}
	cur, err := coll.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(pr.Limit+1)))
	if err != nil {
		return nil, err
	}
	out := []T{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func cleanName(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) < 1 || len(s) > max {
		return "", apperr.InvalidField(field, fmt.Sprintf("must be 1 to %d characters", max))
	}
	return s, nil
}

// visibleStaffFilter limits a staff query to what the caller may see: tenant-level roles see all staff,
// branch-level roles the staff sharing one of their branches.
func visibleStaffFilter(p rbac.Principal) bson.M {
	f := bson.M{"role": bson.M{"$in": staffRoles}}
	if p.Role.Level() == rbac.LevelBranch {
		f["branches"] = in(p.Branches)
	}
	return f
}

var staffRoles = bson.A{string(rbac.Owner), string(rbac.BranchAdmin), string(rbac.Teacher), string(rbac.Accountant), string(rbac.Counsellor)}

func (s *Service) tenantNow(ctx context.Context) (int, int) {
	t := tenant.FromContext(ctx)
	return t.Number, s.app.Clock.Now().In(t.Location()).Year()
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

// in builds an $in condition; a nil list would be refused by the engines, an empty one matches nothing.
func in(ids []string) bson.M {
	if ids == nil {
		ids = []string{}
	}
	return bson.M{"$in": ids}
}
