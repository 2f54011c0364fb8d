package leads

import (
	"context"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// canSeeLead is the one visibility rule; visibleLeadsFilter is the same rule as a query.
func canSeeLead(p rbac.Principal, l *Lead) bool {
	switch p.Role {
	case rbac.Owner:
		return true
	case rbac.BranchAdmin:
		return p.CanSeeBranch(l.BranchID)
	case rbac.Counsellor:
		return l.CounsellorID == p.Subject || l.CounsellorID == ""
	}
	return false
}

func visibleLeadsFilter(p rbac.Principal) bson.M {
	switch p.Role {
	case rbac.Owner:
		return bson.M{}
	case rbac.BranchAdmin:
		return bson.M{"branch_id": store.In(p.Branches)}
	case rbac.Counsellor:
		return bson.M{"counsellor_id": store.In([]string{p.Subject, ""})}
	}
	return bson.M{"_id": store.In(nil)}
}

var errNoLead = apperr.Errorf(apperr.NotFound, "no such lead")

// findLead reads a lead without a visibility check; NotFound when there is none.
func findLead(ctx context.Context, leadID string) (*Lead, error) {
	return store.ByID[Lead](ctx, store.Database(ctx).Collection(leadsCollection), leadID, "lead")
}

// visibleLead returns a lead the request's caller may see; NotFound otherwise.
func visibleLead(ctx context.Context, leadID string) (*Lead, error) {
	l, err := findLead(ctx, leadID)
	if err != nil {
		return nil, err
	}
	if !canSeeLead(rbac.Must(ctx), l) {
		return nil, errNoLead
	}
	return l, nil
}
