package analytics

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// StaffCount is the number of active staff of one role, overall and per branch (a person with several
// branches counts in each).
type StaffCount struct {
	Role     rbac.Role        `json:"role"`
	Total    int64            `json:"total"`
	ByBranch map[string]int64 `json:"by_branch"`
}

// StaffReport is the active staff per role.
type StaffReport struct {
	Roles []StaffCount `json:"roles"`
}

const staffSQL = `SELECT role, branches FROM users WHERE status = 'active' AND role IN ('owner', 'branch_admin', 'teacher', 'accountant', 'counsellor')`

// StaffByRole counts the caller's tenant's active staff per role. Branch admins count only staff who
// share one of their branches, and see only their branches' columns. Errors: Unavailable when no
// warehouse is configured.
func (s *Service) StaffByRole(ctx context.Context) (*StaffReport, error) {
	rows, err := s.query(ctx, newQuery(ctx, staffSQL, warehouse.Users))
	if err != nil {
		return nil, err
	}
	p := rbac.Must(ctx)
	type person struct {
		role     rbac.Role
		branches []string
	}
	var people []person
	for _, r := range rows {
		var branches []string
		if raw := str(r[1]); raw != "" {
			_ = json.Unmarshal([]byte(raw), &branches) // a malformed list counts as no branch
		}
		people = append(people, person{rbac.Role(str(r[0])), branches})
	}
	people = visible(p, people, func(x person) []string { return x.branches })
	byRole := map[rbac.Role]*StaffCount{}
	for _, x := range people {
		c := byRole[x.role]
		if c == nil {
			c = &StaffCount{Role: x.role, ByBranch: map[string]int64{}}
			byRole[x.role] = c
		}
		c.Total++
		for _, b := range x.branches {
			if p.CanSeeBranch(b) {
				c.ByBranch[b]++
			}
		}
	}
	out := &StaffReport{Roles: []StaffCount{}}
	for _, c := range byRole {
		out.Roles = append(out.Roles, *c)
	}
	sort.Slice(out.Roles, func(i, j int) bool { return out.Roles[i].Role < out.Roles[j].Role })
	return out, nil
}
