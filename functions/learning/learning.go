// Package learning is the area of course content and what learners do with it: modules and lessons per
// course (each lesson a list of content items: video, document, link, quiz), quizzes graded on the server,
// learner interactions (content viewed, lesson completed, quiz attempted) and each learner's progress per
// course.
//
// Permissions: learning.content.write (owners, branch admins, teachers) authors content and reads the
// authoring view, drafts and quiz answers included; learning.study (students) reads the published content
// of the caller's own courses, records the caller's interactions and submits quiz attempts;
// learning.progress.read (owners, branch admins, teachers, counsellors, guardians, students) reads progress
// of the students the caller may see (students.CanSeeStudent: staff their branches, guardians their
// children, a student themself). Courses are tenant-wide, and so is their content: every author may edit
// every course's content.
//
// A learner sees a course's content only while enrolled in a batch of that course today (tenant-local): an
// active enrolment in a batch whose course_id is the course. Any other course, lesson or quiz reads as not
// found. Content is visible to learners when both its lesson and the lesson's module are published.
//
// Learner-facing responses are their own types (LessonView, QuizView, QuestionView) with no answer fields
// at all, so a quiz's answers cannot reach a learner before they submit by a forgotten omitempty. An
// attempt's result says which questions were right; the solutions themselves are shown only once the
// learner has used every attempt, so they cannot be copied into the next attempt.
//
// # Stored documents (read by the warehouse; never rename a field)
//
//   - learning_modules: one per module (modulesCollection, Module).
//   - learning_lessons: one per lesson, its content items inside (lessonsCollection, Lesson).
//   - learning_interactions: one per recorded interaction, _id = student id + ":" + the client's
//     interaction id (interactionsCollection, Interaction). A lesson completion is kind "completed" with
//     item_id ""; kind "completed" with an item id marks one item done and counts toward nothing.
//   - quiz_attempts: one per submitted attempt (attemptsCollection, Attempt).
//   - learning_progress: one per (student, course), _id = student id + ":" + course id
//     (progressCollection, Progress), written in the transaction that records the interactions.
package learning

import (
	"context"
	"fmt"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// The area's collections in a tenant database.
const (
	modulesCollection      = "learning_modules"
	lessonsCollection      = "learning_lessons"
	interactionsCollection = "learning_interactions"
	attemptsCollection     = "quiz_attempts"
	progressCollection     = "learning_progress"
)

// Interaction limits per student: InteractionRate a minute on average, in bursts of up to
// InteractionBurst. A request carries at most MaxBatch interactions, every one of which counts.
const (
	InteractionRate  = 120
	InteractionBurst = 120
	MaxBatch         = 50
	// limiterKeys bounds the limiter's memory on a warm instance.
	limiterKeys = 100_000
)

// Service manages content, interactions, quizzes and progress. Construct with New.
type Service struct {
	deps    Deps
	limiter *authn.Limiter
}

// Courses reads the institution's courses (the academic area).
type Courses interface {
	// GetCourse returns a course; NotFound when there is none.
	GetCourse(ctx context.Context, courseID string) (*academic.Course, error)
}

// Deps is what the learning area needs; every field is required.
type Deps struct {
	Clock   clock.Clock
	Audit   audit.Recorder
	Courses Courses
}

// New returns the learning service over d.
func New(d Deps) *Service {
	return &Service{deps: d, limiter: authn.NewLimiter(time.Minute/InteractionRate, InteractionBurst, limiterKeys, d.Clock)}
}

// EnsureIndexes creates the area's indexes in a tenant database.
func EnsureIndexes(ctx context.Context, db lungo.IDatabase) error {
	if _, err := db.Collection(modulesCollection).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "course_id", Value: 1}, {Key: "order", Value: 1}}, Options: options.Index().SetName("course_order"),
	}); err != nil {
		return fmt.Errorf("create module indexes: %w", err)
	}
	if _, err := db.Collection(lessonsCollection).Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{Key: "course_id", Value: 1}, {Key: "order", Value: 1}}, Options: options.Index().SetName("course_order")},
		{Keys: bson.D{{Key: "module_id", Value: 1}}, Options: options.Index().SetName("module_id")},
	}); err != nil {
		return fmt.Errorf("create lesson indexes: %w", err)
	}
	if _, err := db.Collection(interactionsCollection).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "student_id", Value: 1}, {Key: "course_id", Value: 1}, {Key: "at", Value: 1}}, Options: options.Index().SetName("student_course_at"),
	}); err != nil {
		return fmt.Errorf("create interaction indexes: %w", err)
	}
	if _, err := db.Collection(attemptsCollection).Indexes().CreateOne(ctx, mongo.IndexModel{
		// The attempt limit: an attempt number is taken once per (student, quiz), whoever races.
		Keys:    bson.D{{Key: "student_id", Value: 1}, {Key: "quiz_id", Value: 1}, {Key: "attempt", Value: 1}},
		Options: options.Index().SetUnique(true).SetName("student_quiz_attempt_unique"),
	}); err != nil {
		return fmt.Errorf("create attempt indexes: %w", err)
	}
	if _, err := db.Collection(progressCollection).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "course_id", Value: 1}, {Key: "student_id", Value: 1}}, Options: options.Index().SetName("course_student"),
	}); err != nil {
		return fmt.Errorf("create progress indexes: %w", err)
	}
	return nil
}

// learner is the calling student.
type learner struct {
	StudentID string
}

// caller returns the student record of the request's caller. Only students study; another role reaching a
// learner route (none holds learning.study today) finds nothing.
func caller(ctx context.Context) (*learner, error) {
	p := rbac.Must(ctx)
	if p.Role != rbac.Student {
		return nil, apperr.Errorf(apperr.NotFound, "no such learner")
	}
	studentID, err := students.StudentIDOfAccount(ctx, store.Database(ctx), p.Subject)
	if apperr.CodeOf(err) == apperr.NotFound {
		return nil, apperr.Errorf(apperr.NotFound, "no such learner")
	}
	if err != nil {
		return nil, fmt.Errorf("learner of account %s: %w", p.Subject, err)
	}
	return &learner{StudentID: studentID}, nil
}

// enrolledBatches maps each course the student is enrolled in today (tenant-local) to the batch of the
// earliest such enrolment.
func (s *Service) enrolledBatches(ctx context.Context, studentID string) (map[string]string, error) {
	es, err := students.StudentEnrolmentsOn(ctx, store.Database(ctx), studentID, s.today(ctx))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, e := range es {
		if _, ok := out[e.CourseID]; !ok {
			out[e.CourseID] = e.BatchID
		}
	}
	return out, nil
}

// batchFor returns the batch through which the student may see the course today; NotFound when none.
func (s *Service) batchFor(ctx context.Context, studentID, courseID string) (string, error) {
	batches, err := s.enrolledBatches(ctx, studentID)
	if err != nil {
		return "", err
	}
	b, ok := batches[courseID]
	if !ok {
		return "", apperr.Errorf(apperr.NotFound, "no such course")
	}
	return b, nil
}

func (s *Service) today(ctx context.Context) string {
	return tenant.FromContext(ctx).Today(s.deps.Clock.Now())
}

// now is the server's time as both engines store it (milliseconds), so a document read back equals the one
// written.
func (s *Service) now() time.Time { return s.deps.Clock.Now().UTC().Truncate(time.Millisecond) }

func scopedID(studentID, other string) string { return studentID + ":" + other }
