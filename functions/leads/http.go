package leads

import (
	"net/http"

	"github.com/edugrid/edugrid/functions/fees"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
)

// Routes is the leads area's route table.
func (s *Service) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "POST", Path: "/{$}", Permission: rbac.LeadsWrite, Summary: "Record a lead; 409 naming the open lead with the same phone or email",
			Request: NewLead{}, Response: Lead{}, Status: http.StatusCreated, Handler: s.handleCreate},
		{Method: "GET", Path: "/{$}", Permission: rbac.LeadsRead, Summary: "List the leads the caller may see, oldest first",
			Response: httpapi.Page[Lead]{}, Handler: s.handleList,
			Query: append([]httpapi.QueryParam{
				{Name: "stage", Description: "only leads in this stage", Type: Stage("")},
				{Name: "source", Description: "only leads from this source", Type: Source("")},
				{Name: "branch", Description: "only leads of this branch id"},
				{Name: "counsellor", Description: "only leads assigned to this staff id; none for unassigned"},
			}, httpapi.PageQuery...)},
		{Method: "GET", Path: "/{id}", Permission: rbac.LeadsRead, Summary: "Read a lead",
			Response: Lead{}, Handler: s.handleGet},
		{Method: "PATCH", Path: "/{id}", Permission: rbac.LeadsWrite, Summary: "Correct a lead's contact or interest; 409 naming an open lead with the new phone or email",
			Request: LeadChange{}, Response: Lead{}, Handler: s.handleUpdate},
		{Method: "POST", Path: "/{id}/stage", Permission: rbac.LeadsWrite, Summary: "Move a lead to another stage (allowed moves only; lost needs a reason)",
			Request: StageChange{}, Response: Lead{}, Handler: s.handleStage},
		{Method: "POST", Path: "/{id}/assign", Permission: rbac.LeadsAssign, Summary: "Assign a lead to a counsellor, or unassign it",
			Request: Assignment{}, Response: Lead{}, Handler: s.handleAssign},
		{Method: "POST", Path: "/{id}/notes", Permission: rbac.LeadsWrite, Summary: "Add a note to a lead's history",
			Request: NewNote{}, Response: Activity{}, Status: http.StatusCreated, Handler: s.handleNote},
		{Method: "GET", Path: "/{id}/activities", Permission: rbac.LeadsRead, Summary: "A lead's activity history, oldest first",
			Response: httpapi.Page[Activity]{}, Query: httpapi.PageQuery, Handler: s.handleActivities},
		{Method: "POST", Path: "/{id}/followups", Permission: rbac.LeadsWrite, Summary: "Schedule a follow-up of a lead",
			Request: NewFollowUp{}, Response: FollowUp{}, Status: http.StatusCreated, Handler: s.handleFollowUp},
		{Method: "POST", Path: "/followups/{id}/done", Permission: rbac.LeadsWrite, Summary: "Mark a follow-up done",
			Request: FollowUpDone{}, Response: FollowUp{}, Handler: s.handleFollowUpDone},
		{Method: "GET", Path: "/followups/overdue", Permission: rbac.LeadsRead, Summary: "Overdue follow-ups: the caller's (counsellors) or a counsellor's (admins), most overdue first",
			Response: httpapi.Page[FollowUp]{}, Handler: s.handleOverdue,
			Query: append([]httpapi.QueryParam{{Name: "counsellor", Description: "staff id; admins only, counsellors get their own"}}, httpapi.PageQuery...)},
		{Method: "POST", Path: "/{id}/convert", Permission: rbac.LeadsConvert,
			Summary: "Convert a won lead into an enrolled, billed student in one step (Idempotency-Key header required; a retry answers 200 with the original result)",
			Request: ConvertLead{}, Response: Conversion{}, Status: http.StatusCreated, IdempotencyKey: true, Handler: s.handleConvert},
	}
}

// Area returns the leads area's HTTP handler, served with opts.
func (s *Service) Area(opts httpapi.Options) *httpapi.Area {
	return httpapi.NewArea("leads", s.Routes(), opts)
}

func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request) error {
	var in NewLead
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	l, err := s.CreateLead(r.Context(), in)
	return httpapi.Reply(w, http.StatusCreated, l, err)
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) error {
	pr, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p, err := s.ListLeads(r.Context(), LeadFilter{Stage: Stage(q.Get("stage")), Source: Source(q.Get("source")),
		Branch: q.Get("branch"), Counsellor: q.Get("counsellor")}, pr)
	if err != nil {
		return err
	}
	httpapi.JSON(w, http.StatusOK, p)
	return nil
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) error {
	l, err := s.GetLead(r.Context(), r.PathValue("id"))
	return httpapi.Reply(w, http.StatusOK, l, err)
}

func (s *Service) handleUpdate(w http.ResponseWriter, r *http.Request) error {
	var c LeadChange
	if err := httpapi.DecodeOnly(r, &c); err != nil {
		return err
	}
	l, err := s.UpdateLead(r.Context(), r.PathValue("id"), c)
	return httpapi.Reply(w, http.StatusOK, l, err)
}

func (s *Service) handleStage(w http.ResponseWriter, r *http.Request) error {
	var c StageChange
	if err := httpapi.DecodeOnly(r, &c); err != nil {
		return err
	}
	l, err := s.ChangeStage(r.Context(), r.PathValue("id"), c)
	return httpapi.Reply(w, http.StatusOK, l, err)
}

func (s *Service) handleAssign(w http.ResponseWriter, r *http.Request) error {
	var a Assignment
	if err := httpapi.DecodeOnly(r, &a); err != nil {
		return err
	}
	l, err := s.Assign(r.Context(), r.PathValue("id"), a)
	return httpapi.Reply(w, http.StatusOK, l, err)
}

func (s *Service) handleNote(w http.ResponseWriter, r *http.Request) error {
	var n NewNote
	if err := httpapi.DecodeOnly(r, &n); err != nil {
		return err
	}
	a, err := s.AddNote(r.Context(), r.PathValue("id"), n)
	return httpapi.Reply(w, http.StatusCreated, a, err)
}

func (s *Service) handleActivities(w http.ResponseWriter, r *http.Request) error {
	pr, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	p, err := s.Activities(r.Context(), r.PathValue("id"), pr)
	return httpapi.Reply(w, http.StatusOK, p, err)
}

func (s *Service) handleFollowUp(w http.ResponseWriter, r *http.Request) error {
	var n NewFollowUp
	if err := httpapi.DecodeOnly(r, &n); err != nil {
		return err
	}
	f, err := s.ScheduleFollowUp(r.Context(), r.PathValue("id"), n)
	return httpapi.Reply(w, http.StatusCreated, f, err)
}

func (s *Service) handleFollowUpDone(w http.ResponseWriter, r *http.Request) error {
	var d FollowUpDone
	if err := httpapi.DecodeOnly(r, &d); err != nil {
		return err
	}
	f, err := s.CompleteFollowUp(r.Context(), r.PathValue("id"), d)
	return httpapi.Reply(w, http.StatusOK, f, err)
}

func (s *Service) handleOverdue(w http.ResponseWriter, r *http.Request) error {
	pr, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	p, err := s.OverdueFollowUps(r.Context(), r.URL.Query().Get("counsellor"), pr)
	return httpapi.Reply(w, http.StatusOK, p, err)
}

func (s *Service) handleConvert(w http.ResponseWriter, r *http.Request) error {
	key := r.Header.Get(fees.IdempotencyHeader)
	if err := fees.ValidateIdempotencyKey(key); err != nil {
		return err
	}
	var in ConvertLead
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	c, replayed, err := s.Convert(r.Context(), r.PathValue("id"), key, in)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
		w.Header().Set("Idempotent-Replayed", "true")
	}
	httpapi.JSON(w, status, c)
	return nil
}
