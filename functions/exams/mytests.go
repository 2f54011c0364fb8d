package exams

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// StudentTest is one test of a student's batches with the student's result in it: nil until results of
// the test are entered, and for a test still ahead.
type StudentTest struct {
	Test   Test          `json:"test"`
	Result *StudentScore `json:"result"`
}

// StudentScore is a student's result in one test.
type StudentScore struct {
	Status Status `json:"status"`
	// Marks is set only when Status is present.
	Marks    *float64 `json:"marks"`
	MaxMarks float64  `json:"max_marks"`
}

// StudentTests returns the tests of every batch the student was enrolled in on the test's date, past
// and ahead, in date order, each with the student's result. NotFound unless the caller may see the
// student (students.CanSeeStudent: students their own, guardians their children's, staff their branches');
// a teacher sees only the tests of the batches they teach.
func (s *Service) StudentTests(ctx context.Context, studentID string) ([]StudentTest, error) {
	if err := students.CanSeeStudent(ctx, studentID); err != nil {
		return nil, err
	}
	db := store.Database(ctx)
	es, err := students.EnrolmentHistory(ctx, db, studentID)
	if err != nil {
		return nil, err
	}
	batchIDs := make([]string, 0, len(es))
	for _, e := range es {
		if !slices.Contains(batchIDs, e.BatchID) {
			batchIDs = append(batchIDs, e.BatchID)
		}
	}
	filter := bson.M{"batch_id": store.In(batchIDs)}
	if p := rbac.Must(ctx); p.Role.Staff() {
		visible, err := academic.InVisibleBatches(ctx, p)
		if err != nil {
			return nil, err
		}
		filter = bson.M{"$and": bson.A{filter, visible}}
	}
	var ts []Test
	if err := findAll(ctx, db.Collection(testsCollection), filter, &ts); err != nil {
		return nil, fmt.Errorf("tests of student %s: %w", studentID, err)
	}
	ts = slices.DeleteFunc(ts, func(t Test) bool {
		return !slices.ContainsFunc(es, func(e students.Enrolment) bool { return e.BatchID == t.BatchID && e.ActiveOn(t.Date) })
	})
	var rs []Result
	if err := findAll(ctx, db.Collection(resultsCollection), bson.M{"student_id": studentID}, &rs); err != nil {
		return nil, fmt.Errorf("results of student %s: %w", studentID, err)
	}
	byTest := make(map[string]Result, len(rs))
	for _, r := range rs {
		byTest[r.TestID] = r
	}
	out := make([]StudentTest, len(ts))
	for i, t := range ts {
		out[i] = StudentTest{Test: t}
		if r, ok := byTest[t.ID]; ok {
			out[i].Result = &StudentScore{Status: r.Status, Marks: r.Marks, MaxMarks: r.MaxMarks}
		}
	}
	slices.SortFunc(out, func(a, b StudentTest) int {
		return cmp.Or(strings.Compare(a.Test.Date, b.Test.Date), strings.Compare(a.Test.ID, b.Test.ID))
	})
	return out, nil
}
