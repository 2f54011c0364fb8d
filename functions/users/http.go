package users

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// Routes is the users area's route table.
func (s *Service) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "POST", Path: "/branches", Permission: rbac.BranchesWrite, Summary: "Add a branch",
			Request: NewBranch{}, Response: Branch{}, Status: http.StatusCreated, Handler: s.handleCreateBranch},
		{Method: "GET", Path: "/branches", Permission: rbac.BranchesRead, Summary: "List the branches the caller may see",
			Response: httpapi.Page[Branch]{}, Query: httpapi.PageQuery, Handler: s.handleListBranches},
		{Method: "GET", Path: "/branches/{id}", Permission: rbac.BranchesRead, Summary: "Read a branch",
			Response: Branch{}, Handler: s.handleGetBranch},
		{Method: "PATCH", Path: "/branches/{id}", Permission: rbac.BranchesWrite, Summary: "Change a branch",
			Request: BranchChange{}, Response: Branch{}, Handler: s.handleUpdateBranch},
		{Method: "POST", Path: "/staff", Permission: rbac.StaffWrite, Summary: "Create a staff account with a PRN",
			Request: NewStaff{}, Response: account.User{}, Status: http.StatusCreated, Handler: s.handleCreateStaff},
		{Method: "GET", Path: "/staff", Permission: rbac.StaffRead, Summary: "List the staff the caller may see",
			Response: httpapi.Page[account.User]{}, Handler: s.handleListStaff,
			Query: append([]httpapi.QueryParam{{Name: "role", Description: "only this role", Type: rbac.Role("")}, {Name: "branch", Description: "only staff of this branch id"}}, httpapi.PageQuery...)},
		{Method: "GET", Path: "/staff/{id}", Permission: rbac.StaffRead, Summary: "Read a staff account",
			Response: account.User{}, Handler: s.handleGetStaff},
		{Method: "PATCH", Path: "/staff/{id}", Permission: rbac.StaffWrite, Summary: "Change a staff account; role, branch or status changes end their sessions",
			Request: StaffChange{}, Response: account.User{}, Handler: s.handleUpdateStaff},
		{Method: "GET", Path: "/audit", Permission: rbac.AuditRead, Summary: "The audit history of one object, oldest first",
			Response: httpapi.Page[audit.View]{}, Handler: s.handleAudit,
			Query: append([]httpapi.QueryParam{
				{Name: "kind", Description: "the object's kind (required)", Enum: audit.TargetKinds()},
				{Name: "id", Description: "the object's id (required)"},
				{Name: "after", Description: "a sequence number to start after, instead of a cursor"}}, httpapi.PageQuery...)},
		{Method: "GET", Path: "/audit/verify", Permission: rbac.AuditRead, Summary: "Verify the institution's audit chain end to end",
			Response: audit.Report{}, Handler: s.handleAuditVerify},
	}
}

// Area returns the users area's HTTP handler, served with opts.
func (s *Service) Area(opts httpapi.Options) *httpapi.Area {
	return httpapi.NewArea("users", s.Routes(), opts)
}

func (s *Service) handleCreateBranch(w http.ResponseWriter, r *http.Request) error {
	var in NewBranch
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	b, err := s.CreateBranch(r.Context(), in)
	return httpapi.Reply(w, http.StatusCreated, b, err)
}

func (s *Service) handleListBranches(w http.ResponseWriter, r *http.Request) error {
	pr, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	p, err := s.ListBranches(r.Context(), pr)
	return httpapi.Reply(w, http.StatusOK, p, err)
}

func (s *Service) handleGetBranch(w http.ResponseWriter, r *http.Request) error {
	b, err := s.GetBranch(r.Context(), r.PathValue("id"))
	return httpapi.Reply(w, http.StatusOK, b, err)
}

func (s *Service) handleUpdateBranch(w http.ResponseWriter, r *http.Request) error {
	var c BranchChange
	if err := httpapi.DecodeOnly(r, &c); err != nil {
		return err
	}
	b, err := s.UpdateBranch(r.Context(), r.PathValue("id"), c)
	return httpapi.Reply(w, http.StatusOK, b, err)
}

func (s *Service) handleCreateStaff(w http.ResponseWriter, r *http.Request) error {
	var in NewStaff
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	u, err := s.CreateStaff(r.Context(), in)
	return httpapi.Reply(w, http.StatusCreated, u, err)
}

func (s *Service) handleListStaff(w http.ResponseWriter, r *http.Request) error {
	pr, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p, err := s.ListStaff(r.Context(), StaffFilter{Role: rbac.Role(q.Get("role")), Branch: q.Get("branch")}, pr)
	return httpapi.Reply(w, http.StatusOK, p, err)
}

func (s *Service) handleGetStaff(w http.ResponseWriter, r *http.Request) error {
	u, err := s.GetStaff(r.Context(), r.PathValue("id"))
	return httpapi.Reply(w, http.StatusOK, u, err)
}

func (s *Service) handleUpdateStaff(w http.ResponseWriter, r *http.Request) error {
	var c StaffChange
	if err := httpapi.DecodeOnly(r, &c); err != nil {
		return err
	}
	u, err := s.UpdateStaff(r.Context(), r.PathValue("id"), c)
	return httpapi.Reply(w, http.StatusOK, u, err)
}

// handleAudit serves one object's audit history as pages in sequence order; the cursor is the last
// entry's sequence number, and ?after= (a sequence number) still starts a listing where a client left off.
func (s *Service) handleAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	pr, err := httpapi.ParsePage(r)
	var bad apperr.Problems
	bad.Check(err)
	target := audit.Target{Kind: q.Get("kind"), ID: q.Get("id")}
	switch {
	case target.Kind == "":
		bad.Add("kind", apperr.FieldRequired, "is required: one of "+strings.Join(audit.TargetKinds(), ", "))
	case !audit.KnownKind(target.Kind):
		bad.Add("kind", apperr.FieldNotAllowed, "must be one of "+strings.Join(audit.TargetKinds(), ", "))
	}
	if target.ID == "" {
		bad.Add("id", apperr.FieldRequired, "is required")
	}
	var after int64
	if a := q.Get("after"); a != "" {
		// ParseInt, not fmt.Sscan: Sscan stops at the first non-digit and would read "5x" as 5.
		if after, err = strconv.ParseInt(a, 10, 64); err != nil || after < 0 {
			bad.Add("after", apperr.FieldFormat, "must be a sequence number")
		}
	}
	if err := bad.Err(); err != nil {
		return err
	}
	if pr.After != "" {
		// Cursors are issued below from sequence numbers; one that is not is not ours.
		if after, err = strconv.ParseInt(pr.After, 10, 64); err != nil || after < 0 {
			return apperr.Field("cursor", apperr.FieldFormat, "is not a cursor this API issued")
		}
	}
	entries, err := audit.List(r.Context(), store.Database(r.Context()), target, after, pr.Limit+1)
	if err != nil {
		return err
	}
	views := make([]audit.View, len(entries))
	for i, e := range entries {
		views[i] = e.View()
	}
	httpapi.JSON(w, http.StatusOK, httpapi.NewPage(views, pr.Limit, func(v audit.View) string { return strconv.FormatInt(v.Seq, 10) }))
	return nil
}

func (s *Service) handleAuditVerify(w http.ResponseWriter, r *http.Request) error {
	rep, err := audit.Verify(r.Context(), store.Database(r.Context()))
	return httpapi.Reply(w, http.StatusOK, rep, err)
}
