package students

import (
	"context"
	"fmt"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/store"
)

// The reads below serve other areas that hold student, guardian or enrolment ids of their own rows and
// need the documents behind them; they are the only way another area reaches this area's collections.
// db is the tenant database; no visibility check is made, so callers check what the request may see
// first (CanSeeStudent, academic.VisibleBatch) or act for the system (alerts, reminders).

// FindStudents returns the students with the given ids in one query, in no particular order; ids without
// a student are left out, and none is an empty slice.
func FindStudents(ctx context.Context, db lungo.IDatabase, ids []string) ([]Student, error) {
	return findMany[Student](ctx, db.Collection(studentsCollection), ids, "students")
}

// FindGuardians returns the guardians with the given ids (Student.GuardianIDs) in one query, in no
// particular order; ids without a guardian are left out, and none is an empty slice. Together with
// FindStudents it reaches the guardians of many students in two queries, where GuardiansOf serves one.
func FindGuardians(ctx context.Context, db lungo.IDatabase, ids []string) ([]Guardian, error) {
	return findMany[Guardian](ctx, db.Collection(guardiansCollection), ids, "guardians")
}

// EnrolmentHistory returns every enrolment of a student, oldest first (From, then id): what a student's
// tests and timetable are drawn from.
func EnrolmentHistory(ctx context.Context, db lungo.IDatabase, studentID string) ([]Enrolment, error) {
	cur, err := db.Collection(enrolmentsCollection).Find(ctx, bson.M{"student_id": studentID},
		options.Find().SetSort(bson.D{{Key: "from", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("enrolments of student %s: %w", studentID, err)
	}
	out := []Enrolment{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("enrolments of student %s: %w", studentID, err)
	}
	return out, nil
}

// EverEnrolled reports whether the student has any enrolment in the batch, active or ended, whatever its
// status now.
func EverEnrolled(ctx context.Context, db lungo.IDatabase, studentID, batchID string) (bool, error) {
	n, err := db.Collection(enrolmentsCollection).CountDocuments(ctx, bson.M{"student_id": studentID, "batch_id": batchID})
	if err != nil {
		return false, fmt.Errorf("enrolments of student %s in batch %s: %w", studentID, batchID, err)
	}
	return n > 0, nil
}

// StudentIDOfAccount returns the id of the student whose sign-in account is accountID (a student's
// rbac.Principal.Subject), reading nothing else of the record; NotFound when the account is no student's.
func StudentIDOfAccount(ctx context.Context, db lungo.IDatabase, accountID string) (string, error) {
	var st Student
	err := db.Collection(studentsCollection).FindOne(ctx, bson.M{"account_id": accountID},
		options.FindOne().SetProjection(bson.M{"_id": 1})).Decode(&st)
	if store.IsNotFound(err) {
		return "", apperr.Errorf(apperr.NotFound, "no such student")
	}
	if err != nil {
		return "", fmt.Errorf("student of account %s: %w", accountID, err)
	}
	return st.ID, nil
}

func findMany[T any](ctx context.Context, coll lungo.ICollection, ids []string, what string) ([]T, error) {
	cur, err := coll.Find(ctx, bson.M{"_id": store.In(ids)})
	if err != nil {
		return nil, fmt.Errorf("find %d %s: %w", len(ids), what, err)
	}
	out := []T{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("find %d %s: %w", len(ids), what, err)
	}
	return out, nil
}

// ActiveEnrolments returns every enrolment of the tenant whose status is active now, in id order.
func ActiveEnrolments(ctx context.Context, db lungo.IDatabase) ([]Enrolment, error) {
	return findEnrolments(ctx, db, bson.M{"status": string(EnrolmentActive)}, "active enrolments")
}

// CourseEnrolmentsOn returns the enrolments into any batch of a course active on a tenant-local date
// "YYYY-MM-DD" (the rule of ActiveEnrolmentsOn), in id order. Enrolments carry their course
// (Enrolment.CourseID), so this is one query. Invalid when date is malformed.
func CourseEnrolmentsOn(ctx context.Context, db lungo.IDatabase, courseID, date string) ([]Enrolment, error) {
	if _, err := time.Parse(time.DateOnly, date); err != nil {
		return nil, apperr.Field("date", apperr.FieldFormat, "must be a date YYYY-MM-DD")
	}
	return findEnrolments(ctx, db, bson.M{
		"course_id": courseID, "from": bson.M{"$lte": date}, "$or": bson.A{bson.M{"to": ""}, bson.M{"to": bson.M{"$gt": date}}},
	}, "enrolments of course "+courseID+" on "+date)
}

func findEnrolments(ctx context.Context, db lungo.IDatabase, filter bson.M, what string) ([]Enrolment, error) {
	cur, err := db.Collection(enrolmentsCollection).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out := []Enrolment{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
