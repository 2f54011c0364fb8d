package learning

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// Progress is one learner's progress in one course, as stored: rewritten in the transaction that records
// the learner's interactions, so a completion and the count it changes are never apart.
type Progress struct {
	ID        string `bson:"_id" json:"-"`
	StudentID string `bson:"student_id" json:"student_id"`
	CourseID  string `bson:"course_id" json:"course_id"`
	BatchID   string `bson:"batch_id" json:"batch_id"`
	// LessonsCompleted counts the completed lessons among the LessonsTotal published ones.
	LessonsCompleted int64     `bson:"lessons_completed" json:"lessons_completed"`
	LessonsTotal     int64     `bson:"lessons_total" json:"lessons_total"`
	Percent          float64   `bson:"percent" json:"percent"`
	LastActivityAt   time.Time `bson:"last_activity_at" json:"last_activity_at"`
	// CompletedLessons is every lesson the learner has completed, published now or not.
	CompletedLessons []string  `bson:"completed_lessons" json:"completed_lessons"`
	UpdatedAt        time.Time `bson:"updated_at" json:"updated_at"`
}

// ProgressView is a learner's progress in a course as the API shows it: counted against the lessons
// published now, so publishing a lesson lowers the percentage at once. LastActivityAt is null before the
// learner's first interaction.
type ProgressView struct {
	StudentID        string     `json:"student_id"`
	CourseID         string     `json:"course_id"`
	BatchID          string     `json:"batch_id"`
	LessonsCompleted int64      `json:"lessons_completed"`
	LessonsTotal     int64      `json:"lessons_total"`
	Percent          float64    `json:"percent"`
	LastActivityAt   *time.Time `json:"last_activity_at"`
	CompletedLessons []string   `json:"completed_lessons"`
}

func percent(done, total int64) float64 {
	if total == 0 {
		return 0
	}
	return math.Round(float64(done)*10000/float64(total)) / 100
}

// countDone counts the completed lessons that are published.
func countDone(completed, published []string) int64 {
	var n int64
	for _, l := range completed {
		if slices.Contains(published, l) {
			n++
		}
	}
	return n
}

// progressOf returns a learner's progress in a course counted against today's published lessons. batchID
// is shown when the learner has no stored progress yet.
func (s *Service) progressOf(ctx context.Context, studentID, courseID, batchID string) (*ProgressView, error) {
	published, err := publishedLessonIDs(ctx, courseID)
	if err != nil {
		return nil, err
	}
	var p Progress
	err = store.Database(ctx).Collection(progressCollection).FindOne(ctx, bson.M{"_id": scopedID(studentID, courseID)}).Decode(&p)
	if err != nil && !store.IsNotFound(err) {
		return nil, fmt.Errorf("progress of %s in %s: %w", studentID, courseID, err)
	}
	return view(&p, studentID, courseID, batchID, published), nil
}

func view(p *Progress, studentID, courseID, batchID string, published []string) *ProgressView {
	v := &ProgressView{StudentID: studentID, CourseID: courseID, BatchID: batchID, LessonsTotal: int64(len(published)), CompletedLessons: []string{}}
	if p.ID != "" {
		if p.BatchID != "" && batchID == "" {
			v.BatchID = p.BatchID
		}
		at := p.LastActivityAt
		v.LastActivityAt = &at
		v.CompletedLessons = append(v.CompletedLessons, p.CompletedLessons...)
	}
	v.LessonsCompleted = countDone(v.CompletedLessons, published)
	v.Percent = percent(v.LessonsCompleted, v.LessonsTotal)
	return v
}

// touchProgress records activity of a learner in a course at `at`, with the lessons they have just
// completed, and recounts against the published lessons. Call it inside the store.Tx that records the
// interactions, with only the newly recorded completions, so a retried interaction counts once.
func touchProgress(tc context.Context, studentID, courseID, batchID string, completed []string, at time.Time) error {
	coll := store.Database(tc).Collection(progressCollection)
	key := scopedID(studentID, courseID)
	var p Progress
	err := coll.FindOne(tc, bson.M{"_id": key}).Decode(&p)
	if err != nil && !store.IsNotFound(err) {
		return fmt.Errorf("progress of %s in %s: %w", studentID, courseID, err)
	}
	if p.ID == "" {
		p = Progress{ID: key, StudentID: studentID, CourseID: courseID, CompletedLessons: []string{}}
	}
	for _, l := range completed {
		if !slices.Contains(p.CompletedLessons, l) {
			p.CompletedLessons = append(p.CompletedLessons, l)
		}
	}
	published, err := publishedLessonIDs(tc, courseID)
	if err != nil {
		return err
	}
	p.BatchID = batchID
	p.LessonsTotal = int64(len(published))
	p.LessonsCompleted = countDone(p.CompletedLessons, published)
	p.Percent = percent(p.LessonsCompleted, p.LessonsTotal)
	if at.After(p.LastActivityAt) {
		p.LastActivityAt = at
	}
	p.UpdatedAt = at
	if _, err := coll.ReplaceOne(tc, bson.M{"_id": key}, p, options.Replace().SetUpsert(true)); err != nil {
		return fmt.Errorf("write progress of %s in %s: %w", studentID, courseID, err)
	}
	return nil
}

// StudentProgress returns a student's progress in every course they are enrolled in today or have been
// active in, by course id. NotFound unless the caller may see the student (students.CanSeeStudent: staff
// of the student's branch, the student, their guardians).
func (s *Service) StudentProgress(ctx context.Context, studentID string) ([]ProgressView, error) {
	if err := students.CanSeeStudent(ctx, studentID); err != nil {
		return nil, err
	}
	batches, err := s.enrolledBatches(ctx, studentID)
	if err != nil {
		return nil, err
	}
	cur, err := store.Database(ctx).Collection(progressCollection).Find(ctx, bson.M{"student_id": studentID})
	if err != nil {
		return nil, fmt.Errorf("progress of %s: %w", studentID, err)
	}
	var stored []Progress
	if err := cur.All(ctx, &stored); err != nil {
		return nil, fmt.Errorf("progress of %s: %w", studentID, err)
	}
	byCourse := map[string]*Progress{}
	for i := range stored {
		byCourse[stored[i].CourseID] = &stored[i]
		if _, ok := batches[stored[i].CourseID]; !ok {
			batches[stored[i].CourseID] = ""
		}
	}
	out := []ProgressView{}
	for _, courseID := range sortedKeys(batches) {
		published, err := publishedLessonIDs(ctx, courseID)
		if err != nil {
			return nil, err
		}
		p := byCourse[courseID]
		if p == nil {
			p = &Progress{}
		}
		out = append(out, *view(p, studentID, courseID, batches[courseID], published))
	}
	return out, nil
}

// BatchProgress returns the progress in the batch's course of every student enrolled in the batch today,
// in enrolment order. NotFound unless the caller is staff who may see the batch (academic.CanSeeBatch: a
// teacher only the batches that name them), as on every other batch route.
func (s *Service) BatchProgress(ctx context.Context, batchID string) ([]ProgressView, error) {
	db := store.Database(ctx)
	b, err := academic.FindBatch(ctx, db, batchID)
	if err != nil {
		return nil, err
	}
	if p := rbac.Must(ctx); !p.Role.Staff() || !academic.CanSeeBatch(p, b) {
		return nil, apperr.Errorf(apperr.NotFound, "no such batch")
	}
	es, err := students.ActiveEnrolmentsOn(ctx, db, batchID, s.today(ctx))
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(es))
	for i, e := range es {
		keys[i] = scopedID(e.StudentID, b.CourseID)
	}
	cur, err := db.Collection(progressCollection).Find(ctx, bson.M{"_id": store.In(keys)})
	if err != nil {
		return nil, fmt.Errorf("progress of batch %s: %w", batchID, err)
	}
	var stored []Progress
	if err := cur.All(ctx, &stored); err != nil {
		return nil, fmt.Errorf("progress of batch %s: %w", batchID, err)
	}
	byStudent := map[string]*Progress{}
	for i := range stored {
		byStudent[stored[i].StudentID] = &stored[i]
	}
	published, err := publishedLessonIDs(ctx, b.CourseID)
	if err != nil {
		return nil, err
	}
	out := make([]ProgressView, 0, len(es))
	for _, e := range es {
		p := byStudent[e.StudentID]
		if p == nil {
			p = &Progress{}
		}
		out = append(out, *view(p, e.StudentID, b.CourseID, batchID, published))
	}
	return out, nil
}
