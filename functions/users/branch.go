package users

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// Branch is one location (organisation) of an institution.
type Branch struct {
	ID        string    `bson:"_id" json:"id"`
	Code      string    `bson:"code" json:"code"`
	Name      string    `bson:"name" json:"name"`
	Address   string    `bson:"address" json:"address,omitempty"`
	Phone     string    `bson:"phone" json:"phone,omitempty"`
	Active    bool      `bson:"active" json:"active"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt time.Time `bson:"updated_at" json:"updated_at"`
}

var branchCode = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{1,15}$`)

// NewBranch creates a branch.
type NewBranch struct {
	Code    string `json:"code"`
	Name    string `json:"name"`
	Address string `json:"address,omitempty"`
	Phone   string `json:"phone,omitempty"`
}

// Validate implements httpapi.Validator. It judges b as normalized leaves it and changes nothing.
func (b NewBranch) Validate() error {
	_, err := b.normalized()
	return err
}

// normalized returns b as it is recorded (text trimmed), or the Invalid error naming every bad field.
func (b NewBranch) normalized() (NewBranch, error) {
	var bad apperr.Problems
	httpapi.CheckPattern(&bad, "code", b.Code, branchCode, "must be 2-16 characters of A-Z, 0-9 and '-'")
	if v, err := httpapi.Text("name", b.Name, 120); bad.Check(err) {
		b.Name = v
	}
	checkContact(&bad, &b.Address, &b.Phone)
	return b, bad.Err()
}

// checkContact records an address over 500 bytes or a phone over 32 as too long; nil means absent.
func checkContact(bad *apperr.Problems, address, phone *string) {
	if address != nil && len(*address) > 500 {
		bad.Add("address", apperr.FieldTooLong, "must be at most 500 bytes")
	}
	if phone != nil && len(*phone) > 32 {
		bad.Add("phone", apperr.FieldTooLong, "must be at most 32 bytes")
	}
}

// BranchChange updates a branch; absent fields stay as they are.
type BranchChange struct {
	Name    *string `json:"name,omitempty"`
	Address *string `json:"address,omitempty"`
	Phone   *string `json:"phone,omitempty"`
	Active  *bool   `json:"active,omitempty"`
}

// Validate implements httpapi.Validator. It judges c as normalized leaves it and changes nothing.
func (c BranchChange) Validate() error {
	_, err := c.normalized()
	return err
}

// normalized returns c as it is recorded (text trimmed), or the Invalid error naming every bad field.
func (c BranchChange) normalized() (BranchChange, error) {
	var bad apperr.Problems
	if c.Name != nil {
		if n, err := httpapi.Text("name", *c.Name, 120); bad.Check(err) {
			c.Name = &n
		}
	}
	checkContact(&bad, c.Address, c.Phone)
	return c, bad.Err()
}

// CreateBranch adds a branch to the caller's tenant. Conflict when the code is taken.
func (s *Service) CreateBranch(ctx context.Context, in NewBranch) (*Branch, error) {
	in, err := in.normalized()
	if err != nil {
		return nil, err
	}
	now := s.deps.Clock.Now()
	b := &Branch{ID: id.New(), Code: in.Code, Name: in.Name, Address: in.Address, Phone: in.Phone, Active: true, CreatedAt: now, UpdatedAt: now}
	if _, err := store.Database(ctx).Collection(branchesCollection).InsertOne(ctx, b); err != nil {
		if store.IsDuplicateKey(err) {
			return nil, apperr.Errorf(apperr.Conflict, "a branch with code %s already exists", in.Code)
		}
		return nil, fmt.Errorf("create branch %s: %w", in.Code, err)
	}
	if err := s.deps.Audit.Record(ctx, store.Database(ctx), audit.By(rbac.Must(ctx)), "users.branch.created", audit.Target{Kind: "branch", ID: b.ID}, in); err != nil {
		return nil, err
	}
	return b, nil
}

// GetBranch returns a branch the caller may see; NotFound otherwise.
func (s *Service) GetBranch(ctx context.Context, branchID string) (*Branch, error) {
	p := rbac.Must(ctx)
	if !p.CanSeeBranch(branchID) {
		return nil, apperr.Errorf(apperr.NotFound, "no such branch")
	}
	return store.ByID[Branch](ctx, store.Database(ctx).Collection(branchesCollection), branchID, "branch")
}

// ListBranches returns a page of the branches the caller may see.
func (s *Service) ListBranches(ctx context.Context, pr httpapi.PageRequest) (httpapi.Page[Branch], error) {
	p := rbac.Must(ctx)
	filter := bson.M{}
	if p.Role.Level() != rbac.LevelTenant {
		filter["_id"] = store.In(p.Branches)
	}
	items, err := store.Page[Branch](ctx, store.Database(ctx).Collection(branchesCollection), filter, pr.After, pr.Limit)
	if err != nil {
		return httpapi.Page[Branch]{}, fmt.Errorf("list branches: %w", err)
	}
	return httpapi.NewPage(items, pr.Limit, func(b Branch) string { return b.ID }), nil
}

// UpdateBranch changes a branch the caller may see; NotFound otherwise.
func (s *Service) UpdateBranch(ctx context.Context, branchID string, c BranchChange) (*Branch, error) {
	c, err := c.normalized()
	if err != nil {
		return nil, err
	}
	if _, err := s.GetBranch(ctx, branchID); err != nil {
		return nil, err
	}
	set := bson.M{"updated_at": s.deps.Clock.Now()}
	if c.Name != nil {
		set["name"] = *c.Name
	}
	if c.Address != nil {
		set["address"] = *c.Address
	}
	if c.Phone != nil {
		set["phone"] = *c.Phone
	}
	if c.Active != nil {
		set["active"] = *c.Active
	}
	var b Branch
	err = store.Database(ctx).Collection(branchesCollection).FindOneAndUpdate(ctx, bson.M{"_id": branchID}, bson.M{"$set": set},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&b)
	if err != nil {
		return nil, fmt.Errorf("update branch %s: %w", branchID, err)
	}
	if err := s.deps.Audit.Record(ctx, store.Database(ctx), audit.By(rbac.Must(ctx)), "users.branch.updated", audit.Target{Kind: "branch", ID: branchID}, c); err != nil {
		return nil, err
	}
	return &b, nil
}

// branchesExist checks that every id names a branch of the tenant.
func branchesExist(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	for _, b := range ids {
		if !id.Valid(b) {
			return apperr.Field("branches", apperr.FieldNotAllowed, "names a branch that does not exist")
		}
	}
	n, err := store.Database(ctx).Collection(branchesCollection).CountDocuments(ctx, bson.M{"_id": store.In(ids)})
	if err != nil {
		return fmt.Errorf("check branches: %w", err)
	}
	if int(n) != len(ids) {
		return apperr.Field("branches", apperr.FieldNotAllowed, "names a branch that does not exist")
	}
	return nil
}
