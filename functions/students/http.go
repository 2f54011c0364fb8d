package students

import (
	"net/http"

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
		{Method: "GET", Path: "/guardians", Permission: rbac.StudentsRead, Summary: "A student's guardians",
			Response: []Guardian{}, Query: studentQuery, Handler: s.handleGuardians},
		{Method: "POST", Path: "/enrolments", Permission: rbac.EnrolmentsWrite, Summary: "Enrol a student into a batch",
			Request: NewEnrolment{}, Response: Enrolment{}, Status: http.StatusCreated, Handler: s.handleEnrol},
		{Method: "GET", Path: "/enrolments", Permission: rbac.StudentsRead, Summary: "A student's enrolment history",
			Response: []Enrolment{}, Query: studentQuery, Handler: s.handleEnrolments},
		{Method: "POST", Path: "/enrolments/{id}/transfer", Permission: rbac.EnrolmentsWrite, Summary: "Transfer an enrolment to another batch",
			Request: EnrolmentMove{}, Response: Enrolment{}, Status: http.StatusCreated, Handler: s.handleTransfer},
		{Method: "POST", Path: "/enrolments/{id}/withdraw", Permission: rbac.EnrolmentsWrite, Summary: "Withdraw an enrolment",
			Request: EnrolmentMove{}, Example: EnrolmentMove{Date: "2026-06-01"}, Response: Enrolment{}, Handler: s.handleWithdraw},
		{Method: "GET", Path: "/batches/{id}/roster", Permission: rbac.StudentsRead, Summary: "The students of a batch on a date",
			Response: []RosterEntry{}, Handler: s.handleRoster,
			Query: []httpapi.QueryParam{{Name: "date", Description: "tenant-local date YYYY-MM-DD; today when omitted", Format: httpapi.FormatDate}}},
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
		return "", apperr.InvalidField("student", "is required")
	}
	return id, nil
}

func (s *Service) handleGuardians(w http.ResponseWriter, r *http.Request) error {
	studentID, err := studentParam(r)
	if err != nil {
		return err
	}
	gs, err := s.GuardiansOfStudent(r.Context(), studentID)
	return httpapi.Reply(w, http.StatusOK, gs, err)
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
	if err != nil {
		return err
	}
	es, err := s.EnrolmentsOf(r.Context(), studentID)
	return httpapi.Reply(w, http.StatusOK, es, err)
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

func (s *Service) handleRoster(w http.ResponseWriter, r *http.Request) error {
	date := r.URL.Query().Get("date")
	if err := httpapi.OptionalDate("date", date); err != nil {
		return err
	}
	rs, err := s.Roster(r.Context(), r.PathValue("id"), date)
	return httpapi.Reply(w, http.StatusOK, rs, err)
}
