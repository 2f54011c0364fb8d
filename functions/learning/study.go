package learning

import (
	"context"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/store"
)

// The learner-facing types. They are separate from the stored ones and have no answer fields at all, so
// nothing a learner reads before submitting can carry a quiz's answers.

// LessonView is a published lesson as a learner sees it.
type LessonView struct {
	ID       string     `json:"id"`
	CourseID string     `json:"course_id"`
	ModuleID string     `json:"module_id"`
	Title    string     `json:"title"`
	Order    int64      `json:"order"`
	Items    []ItemView `json:"items"`
	// Done is whether the learner has completed the lesson.
	Done bool `json:"done"`
}

// ItemView is a content item as a learner sees it.
type ItemView struct {
	ID              string    `json:"id"`
	Kind            ItemKind  `json:"kind"`
	Title           string    `json:"title"`
	URL             string    `json:"url,omitempty"`
	DurationSeconds int64     `json:"duration_seconds,omitempty"`
	Quiz            *QuizView `json:"quiz,omitempty"`
}

// QuizView is a quiz's questions without their answers.
type QuizView struct {
	MaxAttempts int64          `json:"max_attempts"`
	Questions   []QuestionView `json:"questions"`
}

// QuestionView is a question without its answer.
type QuestionView struct {
	ID      string       `json:"id"`
	Kind    QuestionKind `json:"kind"`
	Prompt  string       `json:"prompt"`
	Points  float64      `json:"points"`
	Options []Option     `json:"options"`
}

func lessonView(l *Lesson, done bool) LessonView {
	v := LessonView{ID: l.ID, CourseID: l.CourseID, ModuleID: l.ModuleID, Title: l.Title, Order: l.Order, Items: make([]ItemView, len(l.Items)), Done: done}
	for i, it := range l.Items {
		iv := ItemView{ID: it.ID, Kind: it.Kind, Title: it.Title, URL: it.URL, DurationSeconds: it.DurationSeconds}
		if it.Quiz != nil {
			qv := &QuizView{MaxAttempts: it.Quiz.MaxAttempts, Questions: make([]QuestionView, len(it.Quiz.Questions))}
			for j, q := range it.Quiz.Questions {
				qv.Questions[j] = QuestionView{ID: q.ID, Kind: q.Kind, Prompt: q.Prompt, Points: q.Points, Options: slices.Clone(q.Options)}
				if qv.Questions[j].Options == nil {
					qv.Questions[j].Options = []Option{}
				}
			}
			iv.Quiz = qv
		}
		v.Items[i] = iv
	}
	return v
}

// Outline is a course's published content for a learner enrolled in it, with their progress.
type Outline struct {
	CourseID   string       `json:"course_id"`
	CourseName string       `json:"course_name"`
	BatchID    string       `json:"batch_id"`
	Modules    []ModuleView `json:"modules"`
	Progress   ProgressView `json:"progress"`
}

// ModuleView is a published module with its published lessons, in order.
type ModuleView struct {
	ID      string       `json:"id"`
	Title   string       `json:"title"`
	Order   int64        `json:"order"`
	Lessons []LessonView `json:"lessons"`
}

// CourseOutline returns the published content of a course the calling student is enrolled in today.
// NotFound when there is no such course or the caller is not enrolled in a batch of it.
func (s *Service) CourseOutline(ctx context.Context, courseID string) (*Outline, error) {
	me, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !id.Valid(courseID) {
		return nil, apperr.Errorf(apperr.NotFound, "no such course")
	}
	batchID, err := s.batchFor(ctx, me.StudentID, courseID)
	if err != nil {
		return nil, err
	}
	course, err := s.deps.Courses.GetCourse(ctx, courseID)
	if err != nil {
		return nil, err
	}
	mods, lessons, err := publishedContent(ctx, courseID)
	if err != nil {
		return nil, err
	}
	p, err := s.progressOf(ctx, me.StudentID, courseID, batchID)
	if err != nil {
		return nil, err
	}
	done := map[string]bool{}
	for _, l := range p.CompletedLessons {
		done[l] = true
	}
	out := &Outline{CourseID: courseID, CourseName: course.Name, BatchID: batchID, Modules: make([]ModuleView, len(mods)), Progress: *p}
	at := map[string]int{}
	for i, m := range mods {
		out.Modules[i] = ModuleView{ID: m.ID, Title: m.Title, Order: m.Order, Lessons: []LessonView{}}
		at[m.ID] = i
	}
	for i := range lessons {
		mi := at[lessons[i].ModuleID]
		out.Modules[mi].Lessons = append(out.Modules[mi].Lessons, lessonView(&lessons[i], done[lessons[i].ID]))
	}
	return out, nil
}

// MyCourse is one course the calling student is enrolled in today, with their progress.
type MyCourse struct {
	CourseID   string       `json:"course_id"`
	CourseName string       `json:"course_name"`
	BatchID    string       `json:"batch_id"`
	Progress   ProgressView `json:"progress"`
}

// MyCourses lists the courses the calling student is enrolled in today, by course id.
func (s *Service) MyCourses(ctx context.Context) ([]MyCourse, error) {
	me, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	batches, err := s.enrolledBatches(ctx, me.StudentID)
	if err != nil {
		return nil, err
	}
	out := []MyCourse{}
	acad := s.deps.Courses
	for _, courseID := range sortedKeys(batches) {
		c, err := acad.GetCourse(ctx, courseID)
		if err != nil {
			return nil, err
		}
		p, err := s.progressOf(ctx, me.StudentID, courseID, batches[courseID])
		if err != nil {
			return nil, err
		}
		out = append(out, MyCourse{CourseID: courseID, CourseName: c.Name, BatchID: batches[courseID], Progress: *p})
	}
	return out, nil
}

// studyLesson finds a lesson the calling student may study: published, in a published module, of a course
// they are enrolled in today. It returns the lesson and the batch of that enrolment; NotFound otherwise.
func (s *Service) studyLesson(ctx context.Context, me *learner, lessonID string) (*Lesson, string, error) {
	if !id.Valid(lessonID) {
		return nil, "", apperr.Errorf(apperr.NotFound, "no such lesson")
	}
	var l Lesson
	err := store.Database(ctx).Collection(lessonsCollection).FindOne(ctx, bson.M{"_id": lessonID, "status": string(Published)}).Decode(&l)
	if store.IsNotFound(err) {
		return nil, "", apperr.Errorf(apperr.NotFound, "no such lesson")
	}
	if err != nil {
		return nil, "", fmt.Errorf("get lesson %s: %w", lessonID, err)
	}
	batchID, err := s.batchFor(ctx, me.StudentID, l.CourseID)
	if err != nil {
		return nil, "", apperr.Errorf(apperr.NotFound, "no such lesson")
	}
	n, err := store.Database(ctx).Collection(modulesCollection).CountDocuments(ctx, bson.M{"_id": l.ModuleID, "status": string(Published)})
	if err != nil {
		return nil, "", fmt.Errorf("module of lesson %s: %w", lessonID, err)
	}
	if n == 0 {
		return nil, "", apperr.Errorf(apperr.NotFound, "no such lesson")
	}
	return &l, batchID, nil
}

// StudyLesson returns a published lesson of a course the calling student is enrolled in today, without
// quiz answers. NotFound otherwise.
func (s *Service) StudyLesson(ctx context.Context, lessonID string) (*LessonView, error) {
	me, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	l, batchID, err := s.studyLesson(ctx, me, lessonID)
	if err != nil {
		return nil, err
	}
	p, err := s.progressOf(ctx, me.StudentID, l.CourseID, batchID)
	if err != nil {
		return nil, err
	}
	v := lessonView(l, slices.Contains(p.CompletedLessons, l.ID))
	return &v, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
