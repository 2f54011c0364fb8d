package academic

import (
	"net/http"

	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
)

// Routes is the academic area's route table.
func (s *Service) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "POST", Path: "/courses", Permission: rbac.CoursesWrite, Summary: "Add a course",
			Request: NewCourse{}, Response: Course{}, Status: http.StatusCreated, Handler: s.handleCreateCourse},
		{Method: "GET", Path: "/courses", Permission: rbac.CoursesRead, Summary: "List the institution's courses",
			Response: httpapi.Page[Course]{}, Query: httpapi.PageQuery, Handler: s.handleListCourses},
		{Method: "GET", Path: "/courses/{id}", Permission: rbac.CoursesRead, Summary: "Read a course",
			Response: Course{}, Handler: s.handleGetCourse},
		{Method: "PATCH", Path: "/courses/{id}", Permission: rbac.CoursesWrite, Summary: "Change a course's name or subjects",
			Request: CourseChange{}, Response: Course{}, Handler: s.handleUpdateCourse},
		{Method: "POST", Path: "/batches", Permission: rbac.BatchesWrite, Summary: "Add a batch and materialise its sessions",
			Request: NewBatch{}, Response: Batch{}, Status: http.StatusCreated, Handler: s.handleCreateBatch},
		{Method: "GET", Path: "/batches", Permission: rbac.BatchesRead, Summary: "List the batches the caller may see",
			Response: httpapi.Page[Batch]{}, Handler: s.handleListBatches,
			Query: append([]httpapi.QueryParam{{Name: "branch", Description: "only batches of this branch id"}, {Name: "course", Description: "only batches of this course id"}}, httpapi.PageQuery...)},
		{Method: "GET", Path: "/batches/{id}", Permission: rbac.BatchesRead, Summary: "Read a batch",
			Response: Batch{}, Handler: s.handleGetBatch},
		{Method: "PATCH", Path: "/batches/{id}", Permission: rbac.BatchesWrite, Summary: "Change a batch's name, teachers or capacity",
			Request: BatchChange{}, Response: Batch{}, Handler: s.handleUpdateBatch},
		{Method: "GET", Path: "/batches/{id}/sessions", Permission: rbac.BatchesRead, Summary: "List a batch's sessions in start order",
			Response: httpapi.Page[Session]{}, Handler: s.handleListSessions,
			Query: append([]httpapi.QueryParam{{Name: "from", Description: "first tenant-local date, YYYY-MM-DD", Format: httpapi.FormatDate}, {Name: "to", Description: "last tenant-local date, YYYY-MM-DD", Format: httpapi.FormatDate}}, httpapi.PageQuery...)},
		{Method: "POST", Path: "/batches/{id}/sessions", Permission: rbac.SessionsWrite, Summary: "Schedule a one-off extra session",
			Request: NewExtraSession{}, Response: Session{}, Status: http.StatusCreated, Handler: s.handleAddExtraSession},
		{Method: "POST", Path: "/sessions/{id}/cancel", Permission: rbac.SessionsWrite, Summary: "Cancel a scheduled session",
			Request: SessionCancellation{}, Response: Session{}, Handler: s.handleCancelSession},
	}
}

// Area returns the academic area's HTTP handler, served with opts.
func (s *Service) Area(opts httpapi.Options) *httpapi.Area {
	return httpapi.NewArea("academic", s.Routes(), opts)
}

func (s *Service) handleCreateCourse(w http.ResponseWriter, r *http.Request) error {
	var in NewCourse
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	c, err := s.CreateCourse(r.Context(), in)
	return httpapi.Reply(w, http.StatusCreated, c, err)
}

func (s *Service) handleListCourses(w http.ResponseWriter, r *http.Request) error {
	pr, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	p, err := s.ListCourses(r.Context(), pr)
	return httpapi.Reply(w, http.StatusOK, p, err)
}

func (s *Service) handleGetCourse(w http.ResponseWriter, r *http.Request) error {
	c, err := s.GetCourse(r.Context(), r.PathValue("id"))
	return httpapi.Reply(w, http.StatusOK, c, err)
}

func (s *Service) handleUpdateCourse(w http.ResponseWriter, r *http.Request) error {
	var in CourseChange
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	c, err := s.UpdateCourse(r.Context(), r.PathValue("id"), in)
	return httpapi.Reply(w, http.StatusOK, c, err)
}

func (s *Service) handleCreateBatch(w http.ResponseWriter, r *http.Request) error {
	var in NewBatch
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	b, err := s.CreateBatch(r.Context(), in)
	return httpapi.Reply(w, http.StatusCreated, b, err)
}

func (s *Service) handleListBatches(w http.ResponseWriter, r *http.Request) error {
	pr, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p, err := s.ListBatches(r.Context(), BatchFilter{Branch: q.Get("branch"), Course: q.Get("course")}, pr)
	return httpapi.Reply(w, http.StatusOK, p, err)
}

func (s *Service) handleGetBatch(w http.ResponseWriter, r *http.Request) error {
	b, err := s.GetBatch(r.Context(), r.PathValue("id"))
	return httpapi.Reply(w, http.StatusOK, b, err)
}

func (s *Service) handleUpdateBatch(w http.ResponseWriter, r *http.Request) error {
	var in BatchChange
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	b, err := s.UpdateBatch(r.Context(), r.PathValue("id"), in)
	return httpapi.Reply(w, http.StatusOK, b, err)
}

func (s *Service) handleListSessions(w http.ResponseWriter, r *http.Request) error {
	pr, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p, err := s.ListSessions(r.Context(), r.PathValue("id"), SessionRange{From: q.Get("from"), To: q.Get("to")}, pr)
	return httpapi.Reply(w, http.StatusOK, p, err)
}

func (s *Service) handleAddExtraSession(w http.ResponseWriter, r *http.Request) error {
	var in NewExtraSession
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	ses, err := s.AddExtraSession(r.Context(), r.PathValue("id"), in)
	return httpapi.Reply(w, http.StatusCreated, ses, err)
}

func (s *Service) handleCancelSession(w http.ResponseWriter, r *http.Request) error {
	var in SessionCancellation
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	ses, err := s.CancelSession(r.Context(), r.PathValue("id"), in)
	return httpapi.Reply(w, http.StatusOK, ses, err)
}
