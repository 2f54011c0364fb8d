package analytics

// The engagement reports read what functions/learning records (see warehouse.LearningLessons,
// LearningInteractions, QuizAttempts, QuizAnswers) with the enrolments and students tables:
//
//   - active learners (learning_active.go): distinct learners with any interaction per course, batch and
//     day, week or month;
//   - the completion funnel of one course (learning_funnel.go);
//   - time spent per learner over a range (learning_time.go);
//   - item analysis of one quiz (learning_quiz.go);
//   - enrolled learners inactive for N days (learning_inactive.go).
//
// An interaction belongs to the branch of its batch (the batches table), an enrolment to its own
// branch_id: branch admins see only rows of their branches, owners all.

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// LearningFilter narrows an engagement report; an empty field does not narrow.
type LearningFilter struct {
	Course string
	Batch  string
	Branch string
}

func (f LearningFilter) validate() error {
	for _, c := range []struct{ field, v, what string }{{"course", f.Course, "a course id"}, {"batch", f.Batch, "a batch id"}, {"branch", f.Branch, "a branch id"}} {
		if c.v != "" && !id.Valid(c.v) {
			return apperr.Field(c.field, apperr.FieldFormat, "must be "+c.what)
		}
	}
	return nil
}

// conditions returns the SQL conditions for the filter's course and batch on the named columns; bind
// binds their parameters. The branch is filtered in Go, with the caller's visibility.
func (f LearningFilter) conditions(course, batch string) string {
	var b strings.Builder
	if f.Course != "" && course != "" {
		b.WriteString(" AND " + course + " = @course")
	}
	if f.Batch != "" && batch != "" {
		b.WriteString(" AND " + batch + " = @batch")
	}
	return b.String()
}

func (f LearningFilter) bind(q *warehouse.Query, course, batch bool) *warehouse.Query {
	if f.Course != "" && course {
		q = q.With("course", f.Course)
	}
	if f.Batch != "" && batch {
		q = q.With("batch", f.Batch)
	}
	return q
}

// sees reports whether a row of branch passes the filter and the caller's branch scope.
func (f LearningFilter) sees(p rbac.Principal, branch string) bool {
	return (f.Branch == "" || branch == f.Branch) && p.CanSeeBranch(branch)
}

// Inactive-learner thresholds, in days.
const (
	DefaultInactiveDays = 14
	MaxInactiveDays     = 365
)

var learningQuery = []httpapi.QueryParam{
	{Name: "course", Description: "only this course id"},
	batchParam,
	branchParam,
}

// learningRoutes are the engagement reports' routes.
func (s *Service) learningRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/learning/active", Permission: rbac.AnalyticsRead, Summary: "Distinct learners with any interaction per course and batch, per day, week or month",
			Response: ActiveLearnersReport{}, Handler: s.handleActiveLearners, Query: append([]httpapi.QueryParam{
				windowParam,
				windowFromParam,
				toParam,
			}, learningQuery...)},
		{Method: "GET", Path: "/learning/courses/{course}/funnel", Permission: rbac.AnalyticsRead, Summary: "Share of a course's enrolled learners completing each published lesson, in lesson order",
			Response: FunnelReport{}, Handler: s.handleFunnel, Query: []httpapi.QueryParam{
				{Name: "batch", Description: "only learners enrolled in this batch id"},
				{Name: "branch", Description: "only learners enrolled in this branch id"},
			}},
		{Method: "GET", Path: "/learning/time-spent", Permission: rbac.AnalyticsRead, Summary: "Time each learner spent on content over a range, most first",
			Response: TimeSpentReport{}, Handler: s.handleTimeSpent, Query: append(append([]httpapi.QueryParam{
				{Name: "from", Description: "first day, YYYY-MM-DD (default: 29 days before to)", Format: httpapi.FormatDate},
				toParam,
			}, learningQuery...), httpapi.PageQuery...)},
		{Method: "GET", Path: "/learning/quizzes/{quiz}/items", Permission: rbac.AnalyticsRead, Summary: "Difficulty, discrimination and most chosen wrong answer of each question of a quiz, from first attempts",
			Response: QuizItemReport{}, Handler: s.handleQuizItems, Query: []httpapi.QueryParam{
				{Name: "batch", Description: "only attempts made in this batch id"},
				{Name: "branch", Description: "only attempts made in this branch id"},
			}},
		{Method: "GET", Path: "/learning/inactive", Permission: rbac.AnalyticsRead, Summary: "Enrolled learners with no interaction in their course for N days, or never",
			Response: InactiveReport{}, Handler: s.handleInactive, Query: append(append([]httpapi.QueryParam{
				{Name: "days", Description: fmt.Sprintf("inactive for more than this many days, 1..%d (default %d)", MaxInactiveDays, DefaultInactiveDays), Type: 0, Minimum: 1, Maximum: MaxInactiveDays},
			}, learningQuery...), httpapi.PageQuery...)},
	}
}

func learningFilter(r *http.Request) LearningFilter {
	q := r.URL.Query()
	return LearningFilter{Course: q.Get("course"), Batch: q.Get("batch"), Branch: q.Get("branch")}
}

func (s *Service) handleActiveLearners(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	win, rng, err := ParseRange(q.Get("window"), q.Get("from"), q.Get("to"), s.today(r.Context()))
	if err != nil {
		return err
	}
	rep, err := s.ActiveLearners(r.Context(), win, rng, learningFilter(r))
	if err != nil {
		return err
	}
	httpapi.JSON(w, http.StatusOK, rep)
	return nil
}

func (s *Service) handleFunnel(w http.ResponseWriter, r *http.Request) error {
	f := learningFilter(r)
	f.Course = r.PathValue("course")
	rep, err := s.CompletionFunnel(r.Context(), f)
	if err != nil {
		return err
	}
	httpapi.JSON(w, http.StatusOK, rep)
	return nil
}

func (s *Service) handleTimeSpent(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	_, rng, err := ParseRange(string(Day), q.Get("from"), q.Get("to"), s.today(r.Context()))
	if err != nil {
		return err
	}
	pr, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	rep, err := s.TimeSpent(r.Context(), rng, learningFilter(r), pr)
	if err != nil {
		return err
	}
	httpapi.JSON(w, http.StatusOK, rep)
	return nil
}

func (s *Service) handleQuizItems(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.QuizItems(r.Context(), r.PathValue("quiz"), learningFilter(r))
	if err != nil {
		return err
	}
	httpapi.JSON(w, http.StatusOK, rep)
	return nil
}

func (s *Service) handleInactive(w http.ResponseWriter, r *http.Request) error {
	days := int64(DefaultInactiveDays)
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > MaxInactiveDays {
			return apperr.Field("days", apperr.FieldOutOfRange, fmt.Sprintf("must be a whole number from 1 to %d", MaxInactiveDays))
		}
		days = n
	}
	pr, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	rep, err := s.InactiveLearners(r.Context(), days, learningFilter(r), pr)
	if err != nil {
		return err
	}
	httpapi.JSON(w, http.StatusOK, rep)
	return nil
}

// ratio is n/d, or nil when d is 0.
// descending encodes n so that larger values sort first as text (n >= 0).
func descending(n int64) string {
	return fmt.Sprintf("%019d", math.MaxInt64-max(n, 0))
}
