package learning

import (
	"net/http"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
)

// Routes is the learning area's route table.
func (s *Service) Routes() []httpapi.Route {
	return []httpapi.Route{
		// Authoring (staff): drafts and answers included.
		{Method: "GET", Path: "/courses/{course}/content", Permission: rbac.LearningContentWrite, Summary: "A course's modules and lessons as authors see them, drafts and answers included",
			Response: CourseContent{}, Handler: s.handleContent},
		{Method: "POST", Path: "/courses/{course}/modules", Permission: rbac.LearningContentWrite, Summary: "Add a draft module to a course",
			Request: NewModule{}, Response: Module{}, Status: http.StatusCreated, Handler: s.handleCreateModule},
		{Method: "PATCH", Path: "/modules/{id}", Permission: rbac.LearningContentWrite, Summary: "Change or publish a module",
			Request: ModuleChange{}, Response: Module{}, Handler: s.handleUpdateModule},
		{Method: "POST", Path: "/modules/{id}/lessons", Permission: rbac.LearningContentWrite, Summary: "Add a draft lesson with its content items to a module",
			Request: NewLesson{}, Response: Lesson{}, Status: http.StatusCreated, Handler: s.handleCreateLesson},
		{Method: "GET", Path: "/lessons/{id}", Permission: rbac.LearningContentWrite, Summary: "Read a lesson as authors see it, answers included",
			Response: Lesson{}, Handler: s.handleGetLesson},
		{Method: "PATCH", Path: "/lessons/{id}", Permission: rbac.LearningContentWrite, Summary: "Change or publish a lesson; items replace the whole list",
			Request: LessonChange{}, Response: Lesson{}, Handler: s.handleUpdateLesson},

		// Studying (the calling student, in the courses they are enrolled in today).
		{Method: "GET", Path: "/learn/courses", Permission: rbac.LearningStudy, Summary: "The caller's courses today, with their progress",
			Response: httpapi.Page[MyCourse]{}, Query: httpapi.PageQuery, Handler: s.handleMyCourses},
		{Method: "GET", Path: "/learn/courses/{course}", Permission: rbac.LearningStudy, Summary: "A course's published content, without quiz answers, with the caller's progress",
			Response: Outline{}, Handler: s.handleOutline},
		{Method: "GET", Path: "/learn/lessons/{id}", Permission: rbac.LearningStudy, Summary: "A published lesson, without quiz answers",
			Response: LessonView{}, Handler: s.handleStudyLesson},
		{Method: "POST", Path: "/learn/interactions", Permission: rbac.LearningStudy, Summary: "Record up to 50 of the caller's interactions, each once however often sent",
			Request: InteractionBatch{}, Response: Recording{}, Handler: s.handleInteractions, Errors: []apperr.Code{apperr.NotFound, apperr.RateLimited}},
		{Method: "GET", Path: "/learn/lessons/{lesson}/quizzes/{quiz}/attempts", Permission: rbac.LearningStudy, Summary: "The caller's attempts at a quiz, best and latest score",
			Response: AttemptsView{}, Handler: s.handleAttempts},
		{Method: "POST", Path: "/learn/lessons/{lesson}/quizzes/{quiz}/attempts", Permission: rbac.LearningStudy, Summary: "Submit an attempt at a quiz, graded on the server",
			Request: Submission{}, Response: AttemptsView{}, Status: http.StatusCreated, Handler: s.handleSubmit},

		// Progress (staff of the student's branch, guardians, the student).
		{Method: "GET", Path: "/progress/students/{id}", Permission: rbac.LearningProgressRead, Summary: "A student's progress in each of their courses",
			Response: httpapi.Page[ProgressView]{}, Query: httpapi.PageQuery, Handler: s.handleStudentProgress},
		{Method: "GET", Path: "/progress/batches/{id}", Permission: rbac.LearningProgressRead, Summary: "The progress of every student enrolled in a batch today, in student id order",
			Response: httpapi.Page[ProgressView]{}, Query: httpapi.PageQuery, Handler: s.handleBatchProgress},
	}
}

// Area returns the learning area's HTTP handler, served with opts.
func (s *Service) Area(opts httpapi.Options) *httpapi.Area {
	return httpapi.NewArea("learning", s.Routes(), opts)
}

func (s *Service) handleContent(w http.ResponseWriter, r *http.Request) error {
	c, err := s.Content(r.Context(), r.PathValue("course"))
	return httpapi.Reply(w, http.StatusOK, c, err)
}

func (s *Service) handleCreateModule(w http.ResponseWriter, r *http.Request) error {
	var in NewModule
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	m, err := s.CreateModule(r.Context(), r.PathValue("course"), in)
	return httpapi.Reply(w, http.StatusCreated, m, err)
}

func (s *Service) handleUpdateModule(w http.ResponseWriter, r *http.Request) error {
	var c ModuleChange
	if err := httpapi.DecodeOnly(r, &c); err != nil {
		return err
	}
	m, err := s.UpdateModule(r.Context(), r.PathValue("id"), c)
	return httpapi.Reply(w, http.StatusOK, m, err)
}

func (s *Service) handleCreateLesson(w http.ResponseWriter, r *http.Request) error {
	var in NewLesson
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	l, err := s.CreateLesson(r.Context(), r.PathValue("id"), in)
	return httpapi.Reply(w, http.StatusCreated, l, err)
}

func (s *Service) handleGetLesson(w http.ResponseWriter, r *http.Request) error {
	l, err := s.GetLesson(r.Context(), r.PathValue("id"))
	return httpapi.Reply(w, http.StatusOK, l, err)
}

func (s *Service) handleUpdateLesson(w http.ResponseWriter, r *http.Request) error {
	var c LessonChange
	if err := httpapi.DecodeOnly(r, &c); err != nil {
		return err
	}
	l, err := s.UpdateLesson(r.Context(), r.PathValue("id"), c)
	return httpapi.Reply(w, http.StatusOK, l, err)
}

func (s *Service) handleMyCourses(w http.ResponseWriter, r *http.Request) error {
	return httpapi.ListPage(w, r, func() ([]MyCourse, error) { return s.MyCourses(r.Context()) },
		func(c MyCourse) string { return c.CourseID })
}

func (s *Service) handleOutline(w http.ResponseWriter, r *http.Request) error {
	o, err := s.CourseOutline(r.Context(), r.PathValue("course"))
	return httpapi.Reply(w, http.StatusOK, o, err)
}

func (s *Service) handleStudyLesson(w http.ResponseWriter, r *http.Request) error {
	l, err := s.StudyLesson(r.Context(), r.PathValue("id"))
	return httpapi.Reply(w, http.StatusOK, l, err)
}

func (s *Service) handleInteractions(w http.ResponseWriter, r *http.Request) error {
	var in InteractionBatch
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	rec, err := s.RecordInteractions(r.Context(), in)
	return httpapi.Reply(w, http.StatusOK, rec, err)
}

func (s *Service) handleAttempts(w http.ResponseWriter, r *http.Request) error {
	v, err := s.QuizAttempts(r.Context(), r.PathValue("lesson"), r.PathValue("quiz"))
	return httpapi.Reply(w, http.StatusOK, v, err)
}

func (s *Service) handleSubmit(w http.ResponseWriter, r *http.Request) error {
	var sub Submission
	if err := httpapi.DecodeOnly(r, &sub); err != nil {
		return err
	}
	v, err := s.SubmitAttempt(r.Context(), r.PathValue("lesson"), r.PathValue("quiz"), sub)
	return httpapi.Reply(w, http.StatusCreated, v, err)
}

func (s *Service) handleStudentProgress(w http.ResponseWriter, r *http.Request) error {
	return httpapi.ListPage(w, r, func() ([]ProgressView, error) { return s.StudentProgress(r.Context(), r.PathValue("id")) },
		func(p ProgressView) string { return p.CourseID + "/" + p.BatchID })
}

func (s *Service) handleBatchProgress(w http.ResponseWriter, r *http.Request) error {
	return httpapi.ListPage(w, r, func() ([]ProgressView, error) { return s.BatchProgress(r.Context(), r.PathValue("id")) },
		func(p ProgressView) string { return p.StudentID })
}
