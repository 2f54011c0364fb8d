package students

import (
	"net/http"
	"time"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
)

// Routes is the students area's route table. Sub-resources of a student (guardians, enrolments) take the
// student as a query parameter or body field rather than a /{id}/... path, which would collide with
// /by-prn/{prn}.
func (s *Service) Routes() []httpapi.Route {
	studentQuery := []httpapi.QueryParam{{Name: "student", Description: "the student's id", Required: true}}
	return []httpapi.Route{
		{Method: "POST", Path: "/{$}", Permission: rbac.StudentsWrite, Summary: "Admit a student: record, sign-in account and PRN",
			Request: NewStudent{}, Response: Student{}, Status: http.StatusCreated, Handler: s.handleCreateStudent},
		{Method: "GET", Path: "/{$}", Permission: rbac.StudentsRead, Summary: "Search the students the caller may see, in name order",
			Response: httpapi.Page[Student]{}, Handler: s.handleSearch,
			Query: append([]httpapi.QueryParam{
				{Name: "q", Description: "name prefix, case-insensitive"},
				{Name: "branch", Description: "only students of this branch id"},
				{Name: "batch", Description: "only students actively enrolled in this batch id"},
				{Name: "status", Description: "only students in this status", Type: StudentStatus("")},
			}, httpapi.PageQuery...)},
		{Method: "GET", Path: "/{id}", Permission: rbac.StudentsRead, Summary: "Read a student",
			Response: Student{}, Handler: s.handleGetStudent},
		{Method: "PATCH", Path: "/{id}", Permission: rbac.StudentsWrite, Summary: "Change a student's profile; status withdrawn closes their enrolments",
			Request: StudentChange{}, Response: Student{}, Handler: s.handleUpdateStudent},
		{Method: "GET", Path: "/by-prn/{prn}", Permission: rbac.StudentsRead, Summary: "Find a student by PRN",
			Response: Student{}, Handler: s.handleByPRN},
		{Method: "POST", Path: "/guardians", Permission: rbac.StudentsWrite, Summary: "Add a guardian to a student, new or found by email or phone",
			Request: NewGuardian{}, Response: Guardian{}, Status: http.StatusCreated, Handler: s.handleAddGuardian},
		{Method: "GET", Path: "/guardians", Permission: rbac.StudentsRead, Summary: "A student's guardians, oldest first",
			Response: httpapi.Page[Guardian]{}, Query: append(append([]httpapi.QueryParam{}, studentQuery...), httpapi.PageQuery...), Handler: s.handleGuardians},
		{Method: "POST", Path: "/enrolments", Permission: rbac.EnrolmentsWrite, Summary: "Enrol a student into a batch",
			Request: NewEnrolment{}, Response: Enrolment{}, Status: http.StatusCreated, Handler: s.handleEnrol},
		{Method: "GET", Path: "/enrolments", Permission: rbac.StudentsRead, Summary: "A student's enrolment history, oldest first",
			Response: httpapi.Page[Enrolment]{}, Query: append(append([]httpapi.QueryParam{}, studentQuery...), httpapi.PageQuery...), Handler: s.handleEnrolments},
		{Method: "POST", Path: "/enrolments/{id}/transfer", Permission: rbac.EnrolmentsWrite, Summary: "Transfer an enrolment to another batch",
			Request: EnrolmentMove{}, Response: Enrolment{}, Status: http.StatusCreated, Handler: s.handleTransfer},
		{Method: "POST", Path: "/enrolments/{id}/withdraw", Permission: rbac.EnrolmentsWrite, Summary: "Withdraw an enrolment",
			Request: EnrolmentMove{}, Example: EnrolmentMove{Date: "2026-06-01"}, Response: Enrolment{}, Handler: s.handleWithdraw},
		{Method: "GET", Path: "/timetable", Permission: rbac.StudentsRead,
			Summary:  "A student's timetable: the sessions of their batches over a date range, in start order (students see their own, guardians their children's)",
			Response: httpapi.Page[TimetableEntry]{}, Handler: s.handleTimetable,
			Query: append(append(append([]httpapi.QueryParam{}, studentQuery...),
				httpapi.QueryParam{Name: "from", Description: "first tenant-local date YYYY-MM-DD; today when omitted", Format: httpapi.FormatDate},
				httpapi.QueryParam{Name: "to", Description: "last tenant-local date YYYY-MM-DD; 30 days after from when omitted; at most 92 days after from", Format: httpapi.FormatDate}),
				httpapi.PageQuery...)},
		{Method: "GET", Path: "/batches/{id}/roster", Permission: rbac.StudentsRead, Summary: "The students of a batch on a date, in name order",
			Response: httpapi.Page[RosterEntry]{}, Handler: s.handleRoster,
			Query: append([]httpapi.QueryParam{{Name: "date", Description: "tenant-local date YYYY-MM-DD; today when omitted", Format: httpapi.FormatDate}}, httpapi.PageQuery...)},
	}
}

// Area returns the students area's HTTP handler, served with opts.
func (s *Service) Area(opts httpapi.Options) *httpapi.Area {
	return httpapi.NewArea("students", s.Routes(), opts)
}

func (s *Service) handleCreateStudent(w http.ResponseWriter, r *http.Request) error {
	var in NewStudent
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	st, err := s.CreateStudent(r.Context(), in)
	return httpapi.Reply(w, http.StatusCreated, st, err)
}

func (s *Service) handleSearch(w http.ResponseWriter, r *http.Request) error {
	pr, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p, err := s.SearchStudents(r.Context(), StudentSearch{
		Name: q.Get("q"), Branch: q.Get("branch"), Batch: q.Get("batch"), Status: StudentStatus(q.Get("status")),
	}, pr)
	if err != nil {
		return err
	}
	httpapi.JSON(w, http.StatusOK, p)
	return nil
}

func (s *Service) handleGetStudent(w http.ResponseWriter, r *http.Request) error {
	st, err := s.GetStudent(r.Context(), r.PathValue("id"))
	return httpapi.Reply(w, http.StatusOK, st, err)
}

func (s *Service) handleUpdateStudent(w http.ResponseWriter, r *http.Request) error {
	var in StudentChange
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	st, err := s.UpdateStudent(r.Context(), r.PathValue("id"), in)
	return httpapi.Reply(w, http.StatusOK, st, err)
}

func (s *Service) handleByPRN(w http.ResponseWriter, r *http.Request) error {
	st, err := s.StudentByPRN(r.Context(), r.PathValue("prn"))
	return httpapi.Reply(w, http.StatusOK, st, err)
}

func (s *Service) handleAddGuardian(w http.ResponseWriter, r *http.Request) error {
	var in NewGuardian
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	g, err := s.AddGuardian(r.Context(), in)
	return httpapi.Reply(w, http.StatusCreated, g, err)
}

// studentParam reads the required ?student= parameter.
func studentParam(r *http.Request) (string, error) {
	id := r.URL.Query().Get("student")
	if id == "" {
		return "", apperr.Field("student", apperr.FieldRequired, "is required")
	}
	return id, nil
}

func (s *Service) handleGuardians(w http.ResponseWriter, r *http.Request) error {
	studentID, err := studentParam(r)
	if err := httpapi.CheckQuery(r, err); err != nil {
		return err
	}
	return httpapi.ListPage(w, r, func() ([]Guardian, error) { return s.GuardiansOfStudent(r.Context(), studentID) },
		func(g Guardian) string { return g.ID })
}

func (s *Service) handleEnrol(w http.ResponseWriter, r *http.Request) error {
	var in NewEnrolment
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	e, err := s.Enrol(r.Context(), in)
	return httpapi.Reply(w, http.StatusCreated, e, err)
}

func (s *Service) handleEnrolments(w http.ResponseWriter, r *http.Request) error {
	studentID, err := studentParam(r)
	if err := httpapi.CheckQuery(r, err); err != nil {
		return err
	}
	return httpapi.ListPage(w, r, func() ([]Enrolment, error) { return s.EnrolmentsOf(r.Context(), studentID) },
		func(e Enrolment) string { return e.From + searchCursorSep + e.ID })
}

func (s *Service) handleTransfer(w http.ResponseWriter, r *http.Request) error {
	var in EnrolmentMove
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	e, err := s.Transfer(r.Context(), r.PathValue("id"), in)
	return httpapi.Reply(w, http.StatusCreated, e, err)
}

func (s *Service) handleWithdraw(w http.ResponseWriter, r *http.Request) error {
	var in EnrolmentMove
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	e, err := s.Withdraw(r.Context(), r.PathValue("id"), in)
	return httpapi.Reply(w, http.StatusOK, e, err)
}

func (s *Service) handleTimetable(w http.ResponseWriter, r *http.Request) error {
	studentID, err := studentParam(r)
	if err := httpapi.CheckQuery(r, err); err != nil {
		return err
	}
	rng := TimetableRange{From: r.URL.Query().Get("from"), To: r.URL.Query().Get("to")}
	return httpapi.ListPage(w, r, func() ([]TimetableEntry, error) { return s.Timetable(r.Context(), studentID, rng) },
		func(e TimetableEntry) string { return e.StartsAt.UTC().Format(time.RFC3339Nano) + "/" + e.ID })
}

func (s *Service) handleRoster(w http.ResponseWriter, r *http.Request) error {
	date := r.URL.Query().Get("date")
	if err := httpapi.OptionalDate("date", date); err != nil {
		return err
	}
	return httpapi.ListPage(w, r, func() ([]RosterEntry, error) { return s.Roster(r.Context(), r.PathValue("id"), date) },
		func(e RosterEntry) string { return normaliseName(e.Name) + searchCursorSep + e.Enrolment.StudentID })
}
