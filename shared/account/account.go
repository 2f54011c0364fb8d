// Package account holds the sign-in accounts of a tenant: staff, students and guardians, each a document
// in the tenant database's users collection (platform admins live in the same shape in the platform
// database). Areas create accounts for the people they own (users creates staff, students creates
// students and guardians); auth signs them in; the tenant guard checks their token version.
package account

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/256dpi/lungo"
	"github.com/edugrid/edugrid/shared/httpapi"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/prnum"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// Collection is the accounts collection, in every tenant database and in the platform database.
const Collection = "users"

// Status is an account's state; only Active accounts sign in.
type Status string

// The states.
const (
	Active   Status = "active"
	Disabled Status = "disabled"
)

// Values implements httpapi.Enum.
func (Status) Values() []string { return httpapi.EnumValues([]Status{Active, Disabled}) }

// User is one sign-in account.
type User struct {
	ID string `bson:"_id" json:"id"`
	// PRN is the person's registration number (platform admins have none).
	PRN string `bson:"prn,omitempty" json:"prn,omitempty"`
	// Email is normalised to lower case; students may have none and sign in with their PRN.
	Email    string    `bson:"email,omitempty" json:"email,omitempty"`
	Name     string    `bson:"name" json:"name"`
	Phone    string    `bson:"phone,omitempty" json:"phone,omitempty"`
	Role     rbac.Role `bson:"role" json:"role"`
	Branches []string  `bson:"branches" json:"branches"`
	Status   Status    `bson:"status" json:"status"`
	// SubjectID links a student or guardian account to its record in the students area.
	SubjectID    string    `bson:"subject_id,omitempty" json:"subject_id,omitempty"`
	PasswordHash string    `bson:"password_hash" json:"-"`
	TokenVersion int64     `bson:"token_version" json:"-"`
	CreatedAt    time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt    time.Time `bson:"updated_at" json:"updated_at"`
}

// EnsureIndexes creates the accounts indexes in db: unique email and unique PRN where present.
func EnsureIndexes(ctx context.Context, db lungo.IDatabase) error {
	_, err := db.Collection(Collection).Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetUnique(true).SetName("email_unique").
			SetPartialFilterExpression(bson.M{"email": bson.M{"$exists": true}})},
		{Keys: bson.D{{Key: "prn", Value: 1}}, Options: options.Index().SetUnique(true).SetName("prn_unique").
			SetPartialFilterExpression(bson.M{"prn": bson.M{"$exists": true}})},
		{Keys: bson.D{{Key: "role", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("role_id")},
	})
	if err != nil {
		return fmt.Errorf("create account indexes: %w", err)
	}
	return nil
}

// NormalizeEmail lower-cases and checks an address; Invalid names field when it is not one.
func NormalizeEmail(field, s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 || !strings.Contains(s[strings.LastIndex(s, "@"):], ".") {
		return "", apperr.Field(field, apperr.FieldFormat, "must be an email address")
	}
	return s, nil
}

// PRNRole returns the PRN role code of a role.
func PRNRole(r rbac.Role) (prnum.Role, bool) {
	switch r {
	case rbac.Owner:
		return prnum.Owner, true
	case rbac.BranchAdmin:
		return prnum.BranchAdmin, true
	case rbac.Teacher:
		return prnum.Teacher, true
	case rbac.Accountant:
		return prnum.Accountant, true
	case rbac.Counsellor:
		return prnum.Counsellor, true
	case rbac.Guardian:
		return prnum.Guardian, true
	case rbac.Student:
		return prnum.Student, true
	}
	return 0, false
}

// NewUser is the input to Create.
type NewUser struct {
	Email     string
	Name      string
	Phone     string
	Role      rbac.Role
	Branches  []string
	SubjectID string
	Password  string
	// TenantNumber, when non-zero, gives the account a freshly allocated PRN for its role and Year.
	TenantNumber int
	Year         int
}

// Create inserts a new active account. The caller has validated the fields its area owns; Create checks
// the password policy, hashes the password with params, allocates a PRN when asked, and returns Conflict
// when the email or PRN is taken.
func Create(ctx context.Context, db lungo.IDatabase, n NewUser, params authn.PasswordParams, now time.Time) (*User, error) {
	if err := authn.CheckPasswordPolicy("password", n.Password); err != nil {
		return nil, err
	}
	hash, err := authn.HashPassword(n.Password, params)
	if err != nil {
		return nil, err
	}
	u := &User{
		ID: id.New(), Email: n.Email, Name: n.Name, Phone: n.Phone, Role: n.Role, Branches: n.Branches,
		Status: Active, SubjectID: n.SubjectID, PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	if u.Branches == nil {
		u.Branches = []string{}
	}
	// One transaction, so that an email already taken leaves the PRN sequence as it was: a refused
	// request writes nothing.
	err = store.Tx(ctx, db, func(ctx context.Context) error {
		if n.TenantNumber != 0 {
			code, ok := PRNRole(n.Role)
			if !ok {
				return fmt.Errorf("create account: role %s has no PRN code", n.Role)
			}
			p, err := prnum.Allocate(ctx, db, n.TenantNumber, code, n.Year)
			if err != nil {
				return fmt.Errorf("create account: %w", err)
			}
			u.PRN = string(p)
		}
		if _, err := db.Collection(Collection).InsertOne(ctx, u); err != nil {
			if store.IsDuplicateKey(err) {
				return apperr.Errorf(apperr.Conflict, "an account with this email already exists")
			}
			return fmt.Errorf("create account: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

func findOne(ctx context.Context, db lungo.IDatabase, filter bson.M, what string) (*User, error) {
	var u User
	err := db.Collection(Collection).FindOne(ctx, filter).Decode(&u)
	if store.IsNotFound(err) {
		return nil, apperr.Errorf(apperr.NotFound, "no such account")
	}
	if err != nil {
		return nil, fmt.Errorf("find account by %s: %w", what, err)
	}
	return &u, nil
}

// Get returns the account with id, or NotFound.
func Get(ctx context.Context, db lungo.IDatabase, userID string) (*User, error) {
	return findOne(ctx, db, bson.M{"_id": userID}, "id")
}

// ByEmail returns the account with a normalised email, or NotFound.
func ByEmail(ctx context.Context, db lungo.IDatabase, email string) (*User, error) {
	return findOne(ctx, db, bson.M{"email": email}, "email")
}

// ByPRN returns the account with PRN p, or NotFound.
func ByPRN(ctx context.Context, db lungo.IDatabase, p string) (*User, error) {
	return findOne(ctx, db, bson.M{"prn": p}, "prn")
}

// ActiveInBranch returns the active accounts of role whose branch scope includes branchID (branch admins
// of a branch, say), at most 50.
func ActiveInBranch(ctx context.Context, db lungo.IDatabase, role rbac.Role, branchID string) ([]User, error) {
	cur, err := db.Collection(Collection).Find(ctx, bson.M{"role": role, "branches": branchID, "status": Active},
		options.Find().SetLimit(50).SetProjection(bson.M{"password_hash": 0}))
	if err != nil {
		return nil, fmt.Errorf("accounts of role %s in branch %s: %w", role, branchID, err)
	}
	var out []User
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("accounts of role %s in branch %s: %w", role, branchID, err)
	}
	return out, nil
}

// ActiveWithRole returns the active accounts of role (accountants, owners), at most 50.
func ActiveWithRole(ctx context.Context, db lungo.IDatabase, role rbac.Role) ([]User, error) {
	cur, err := db.Collection(Collection).Find(ctx, bson.M{"role": role, "status": Active},
		options.Find().SetLimit(50).SetProjection(bson.M{"password_hash": 0}))
	if err != nil {
		return nil, fmt.Errorf("accounts of role %s: %w", role, err)
	}
	var out []User
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("accounts of role %s: %w", role, err)
	}
	return out, nil
}

// TokenState is what the tenant guard needs to know about an account on every request.
type TokenState struct {
	Version int64
	Active  bool
}

// State returns the account's token version and whether it is active; NotFound when it is gone.
func State(ctx context.Context, db lungo.IDatabase, userID string) (TokenState, error) {
	var u struct {
		Version int64  `bson:"token_version"`
		Status  Status `bson:"status"`
	}
	err := db.Collection(Collection).FindOne(ctx, bson.M{"_id": userID},
		options.FindOne().SetProjection(bson.M{"token_version": 1, "status": 1})).Decode(&u)
	if store.IsNotFound(err) {
		return TokenState{}, apperr.Errorf(apperr.NotFound, "no such account")
	}
	if err != nil {
		return TokenState{}, fmt.Errorf("read account state %s: %w", userID, err)
	}
	return TokenState{Version: u.Version, Active: u.Status == Active}, nil
}

// Update applies set (built by the caller's code, never from client JSON) to the account and returns it.
// With bumpVersion the account's token version is incremented, which ends every session of the user.
func Update(ctx context.Context, db lungo.IDatabase, userID string, set bson.M, bumpVersion bool, now time.Time) (*User, error) {
	if set == nil {
		set = bson.M{}
	}
	set["updated_at"] = now
	update := bson.M{"$set": set}
	if bumpVersion {
		update["$inc"] = bson.M{"token_version": 1}
	}
	var u User
	err := db.Collection(Collection).FindOneAndUpdate(ctx, bson.M{"_id": userID}, update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&u)
	if store.IsNotFound(err) {
		return nil, apperr.Errorf(apperr.NotFound, "no such account")
	}
	if err != nil {
		if store.IsDuplicateKey(err) {
			return nil, apperr.Errorf(apperr.Conflict, "an account with this email already exists")
		}
		return nil, fmt.Errorf("update account %s: %w", userID, err)
	}
	return &u, nil
}
