package analytics

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/rate"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// FunnelStep is one published lesson of the course. Completed counts the report's learners who completed
// it; Share is Completed / the report's learners (null when there are none); DropOff is how many fewer
// completed it than the step before (the first lesson's step before is all the learners; negative when
// learners skipped ahead), DropOffRate is DropOff / that previous count (null when it is 0).
type FunnelStep struct {
	LessonID    string   `json:"lesson_id"`
	Title       string   `json:"title"`
	ModuleID    string   `json:"module_id"`
	Order       int64    `json:"order"`
	Completed   int64    `json:"completed"`
	Share       *float64 `json:"share"`
	DropOff     int64    `json:"drop_off"`
	DropOffRate *float64 `json:"drop_off_rate"`
}

// FunnelReport is the completion funnel of one course as of a day.
type FunnelReport struct {
	CourseID string `json:"course_id"`
	AsOf     string `json:"as_of" format:"date"`
	// Learners is the distinct students holding an active enrolment in a batch of the course today.
	Learners int64        `json:"learners"`
	Lessons  []FunnelStep `json:"lessons"`
}

const (
	// Every lesson of the course, drafts included: a course with none is unknown to the warehouse.
	funnelLessonsSQL = `SELECT id, title, module_id, lesson_order, status FROM learning_lessons WHERE course_id = @course`
	// The course's learners today: active enrolments that have started and not stopped.
	funnelLearnersSQL = `SELECT student_id, batch_id, branch_id FROM enrolments
WHERE course_id = @course AND status = 'active' AND from_date <= @today AND (to_date IS NULL OR to_date > @today)`
	// A lesson completion is a completed interaction without an item (an item's completion counts toward
	// nothing).
	funnelCompletionsSQL = `SELECT lesson_id, student_id FROM learning_interactions
WHERE course_id = @course AND kind = 'completed' AND (item_id IS NULL OR item_id = '')
GROUP BY lesson_id, student_id`
)

// CompletionFunnel returns the completion funnel of course f.Course: its published lessons in lesson
// order (then id), each with how many of the course's learners completed it. The learners are the
// students with an active enrolment today (tenant-local) in a batch of the course, in the caller's
// branches (and f.Branch, f.Batch when set); a learner's completion counts whichever batch they were in
// when they completed, and a completion by a student who is no longer enrolled does not count. Errors:
// NotFound when the warehouse holds no lesson of the course, Invalid for a malformed filter, Unavailable
// when no warehouse is configured.
func (s *Service) CompletionFunnel(ctx context.Context, f LearningFilter) (*FunnelReport, error) {
	if f.Course == "" {
		return nil, apperr.Field("course", apperr.FieldFormat, "must be a course id")
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	lessons, err := s.query(ctx, newQuery(ctx, funnelLessonsSQL, warehouse.LearningLessons).With("course", f.Course))
	if err != nil {
		return nil, err
	}
	if len(lessons) == 0 {
		return nil, apperr.Errorf(apperr.NotFound, "no lessons of course %s", f.Course)
	}
	today := s.today(ctx)
	enrolled, err := s.query(ctx, newQuery(ctx, funnelLearnersSQL, warehouse.Enrolments).With("course", f.Course).With("today", warehouse.Day{Time: today}))
	if err != nil {
		return nil, err
	}
	completions, err := s.query(ctx, newQuery(ctx, funnelCompletionsSQL, warehouse.LearningInteractions).With("course", f.Course))
	if err != nil {
		return nil, err
	}
	p := rbac.Must(ctx)
	learners := map[string]bool{}
	for _, r := range enrolled {
		if (f.Batch == "" || str(r[1]) == f.Batch) && f.sees(p, str(r[2])) {
			learners[str(r[0])] = true
		}
	}
	completed := map[string]int64{}
	for _, r := range completions {
		if learners[str(r[1])] {
			completed[str(r[0])]++
		}
	}
	out := &FunnelReport{CourseID: f.Course, AsOf: today.Format(time.DateOnly), Learners: int64(len(learners)), Lessons: []FunnelStep{}}
	for _, r := range lessons {
		if str(r[4]) != "published" {
			continue
		}
		order, ok := r[3].(int64)
		if !ok && r[3] != nil {
			return nil, fmt.Errorf("completion funnel: lesson order is %T", r[3])
		}
		out.Lessons = append(out.Lessons, FunnelStep{LessonID: str(r[0]), Title: str(r[1]), ModuleID: str(r[2]), Order: order})
	}
	sort.Slice(out.Lessons, func(i, j int) bool {
		a, b := out.Lessons[i], out.Lessons[j]
		if a.Order != b.Order {
			return a.Order < b.Order
		}
		return a.LessonID < b.LessonID
	})
	prev := out.Learners
	for i := range out.Lessons {
		st := &out.Lessons[i]
		st.Completed = completed[st.LessonID]
		st.Share = rate.Of(st.Completed, out.Learners)
		st.DropOff = prev - st.Completed
		st.DropOffRate = rate.Of(st.DropOff, prev)
		prev = st.Completed
	}
	return out, nil
}
