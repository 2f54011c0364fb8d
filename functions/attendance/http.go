package attendance

import (
	"net/http"

	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
)

// Routes is the attendance area's route table.
func (s *Service) Routes() []httpapi.Route {
	rangeQuery := []httpapi.QueryParam{
		{Name: "from", Description: "first tenant-local date YYYY-MM-DD; 30 days before to when omitted", Format: httpapi.FormatDate},
		{Name: "to", Description: "last tenant-local date YYYY-MM-DD; today when omitted", Format: httpapi.FormatDate},
	}
	return []httpapi.Route{
		{Method: "PUT", Path: "/sessions/{id}/marks", Permission: rbac.AttendanceWrite,
			Summary: "Mark students of a session, all or nothing; re-marking keeps the earlier value in the history",
			Request: SessionMarking{}, Response: MarkingResult{}, Handler: s.handleMarkSession},
		{Method: "GET", Path: "/sessions/{id}/marks", Permission: rbac.AttendanceRead, Summary: "The marks of a session, in student id order",
			Response: httpapi.Page[Mark]{}, Query: httpapi.PageQuery, Handler: s.handleSessionMarks},
		{Method: "GET", Path: "/students/{id}/marks", Permission: rbac.AttendanceStudentsRead, Summary: "A student's marks over a date range, oldest first",
			Response: httpapi.Page[Mark]{}, Query: append(append([]httpapi.QueryParam{}, rangeQuery...), httpapi.PageQuery...), Handler: s.handleStudentMarks},
		{Method: "GET", Path: "/students/{id}/summary", Permission: rbac.AttendanceStudentsRead, Summary: "A student's attendance counts and rate over a date range",
			Response: StudentSummary{}, Query: rangeQuery, Handler: s.handleStudentSummary},
		{Method: "GET", Path: "/batches/{id}/summary", Permission: rbac.AttendanceRead, Summary: "A batch's attendance counts and rate over a date range, per student",
			Response: BatchSummary{}, Query: rangeQuery, Handler: s.handleBatchSummary},
		{Method: "GET", Path: "/absentees", Permission: rbac.AttendanceRead, Summary: "The students marked absent on a day",
			Response: httpapi.Page[Absentee]{}, Handler: s.handleAbsentees,
			Query: append([]httpapi.QueryParam{
				{Name: "date", Description: "tenant-local date YYYY-MM-DD; today when omitted", Format: httpapi.FormatDate},
				{Name: "branch", Description: "only this branch id"},
				{Name: "batch", Description: "only this batch id"},
			}, httpapi.PageQuery...)},
		{Method: "GET", Path: "/escalation", Permission: rbac.AttendanceRead,
			Summary:  "The institution's escalation rules: after how many absences in a row whom to tell",
			Response: EscalationRules{}, Handler: s.handleEscalation},
		{Method: "PUT", Path: "/escalation", Permission: rbac.NotificationsWrite,
			Summary: "Replace the institution's escalation rules (audited); an empty list turns escalation off",
			Request: EscalationInput{}, Response: EscalationRules{}, Handler: s.handleSetEscalation},
	}
}

func (s *Service) handleEscalation(w http.ResponseWriter, r *http.Request) error {
	out, err := s.Escalation(r.Context())
	return httpapi.Reply(w, http.StatusOK, out, err)
}

func (s *Service) handleSetEscalation(w http.ResponseWriter, r *http.Request) error {
	var in EscalationInput
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	out, err := s.SetEscalation(r.Context(), in)
	return httpapi.Reply(w, http.StatusOK, out, err)
}

// Area returns the attendance area's HTTP handler, served with opts.
func (s *Service) Area(opts httpapi.Options) *httpapi.Area {
	return httpapi.NewArea("attendance", s.Routes(), opts)
}

func dateRange(r *http.Request) DateRange {
	q := r.URL.Query()
	return DateRange{From: q.Get("from"), To: q.Get("to")}
}

func (s *Service) handleMarkSession(w http.ResponseWriter, r *http.Request) error {
	var in SessionMarking
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	res, err := s.MarkSession(r.Context(), r.PathValue("id"), in)
	return httpapi.Reply(w, http.StatusOK, res, err)
}

func (s *Service) handleSessionMarks(w http.ResponseWriter, r *http.Request) error {
	return httpapi.ListPage(w, r, func() ([]Mark, error) { return s.SessionMarks(r.Context(), r.PathValue("id")) },
		func(m Mark) string { return m.StudentID })
}

func (s *Service) handleStudentMarks(w http.ResponseWriter, r *http.Request) error {
	return httpapi.ListPage(w, r, func() ([]Mark, error) { return s.StudentMarks(r.Context(), r.PathValue("id"), dateRange(r)) },
		func(m Mark) string { return m.Date + "/" + m.SessionID })
}

func (s *Service) handleStudentSummary(w http.ResponseWriter, r *http.Request) error {
	sum, err := s.StudentSummary(r.Context(), r.PathValue("id"), dateRange(r))
	return httpapi.Reply(w, http.StatusOK, sum, err)
}

func (s *Service) handleBatchSummary(w http.ResponseWriter, r *http.Request) error {
	sum, err := s.BatchSummary(r.Context(), r.PathValue("id"), dateRange(r))
	return httpapi.Reply(w, http.StatusOK, sum, err)
}

func (s *Service) handleAbsentees(w http.ResponseWriter, r *http.Request) error {
	pr, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p, err := s.Absentees(r.Context(), AbsenteeQuery{Date: q.Get("date"), Branch: q.Get("branch"), Batch: q.Get("batch")}, pr)
	return httpapi.Reply(w, http.StatusOK, p, err)
}
