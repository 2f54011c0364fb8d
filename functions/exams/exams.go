// Package exams is the area of tests and their results: a test of one batch in one subject on one day
// (maximum marks, weight), the results of a whole test entered in one request (marks, or absent, or
// exempt), the institution's grading scale (percentage bands to grade labels), and a student's report card
// per subject and overall with their rank within the batch.
//
// Permissions: exams.write (owners, branch admins, teachers) creates tests and enters or edits their
// results; exams.read (owners, branch admins, teachers, counsellors) reads tests, a whole test's results and
// a batch's ranking; reportcards.read (those staff, students and guardians) reads one student's report card
// and the grading scale; grading.write (owners) sets the grading scale. Accountants hold none of them: marks
// are not theirs to see. Teachers work only with the batches that name them, branch admins with their
// branches' batches; a student reads only their own report card and a guardian only their children's.
// Anything else reads as not found.
//
// Where the rules live:
//   - test.go: what a test is (a date within its batch, a subject of its course, marks and weight with at
//     most two decimals).
//   - result.go: a test's results are entered all or nothing (every student enrolled in the batch on the
//     test's date, no test still ahead); changed results are recorded in the audit log with their earlier
//     value, in the same transaction.
//   - grading.go: the grading scale and its validation; DefaultScale when the institution has set none.
//   - reportcard.go: how percentages, grades and ranks are computed, exactly.
//
// # Stored documents (the warehouse transforms read these names; add fields, never rename or drop)
//
// exam_tests holds one Test per test; exam_results one Result per (test, student), with _id "<test
// id>:<student id>". Marks are kept as float64 with at most two decimals; every comparison and sum works on
// whole hundredths (see hundredths) so that no float rounding can change a grade or a rank.
package exams

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/256dpi/lungo"
	"github.com/edugrid/edugrid/shared/httpapi"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/tenant"
)

// The area's collections in a tenant database.
const (
	testsCollection   = "exam_tests"
	resultsCollection = "exam_results"
	// gradingCollection holds the institution's grading scale, one document (ScaleDocumentID).
	gradingCollection = "exam_grading"
)

// Service manages tests, results, the grading scale and report cards. Construct with New.
type Service struct {
	deps Deps
}

// Deps is what the exams area needs; every field is required.
type Deps struct {
	Clock clock.Clock
	Audit audit.Recorder
}

// New returns the exams service over d.
func New(d Deps) *Service { return &Service{deps: d} }

// Status is a student's result state in one test.
type Status string

// The result states. Absent counts as zero marks; exempt counts neither way (see reportcard.go).
const (
	Present Status = "present"
	Absent  Status = "absent"
	Exempt  Status = "exempt"
)

// statuses lists every result status; the API document shows them as the enum of a result status field.
var statuses = []Status{Present, Absent, Exempt}

// Values implements httpapi.Enum.
func (Status) Values() []string { return httpapi.EnumValues(statuses) }

// Valid reports whether s is one of the states.
func (s Status) Valid() bool { return slices.Contains(statuses, s) }

// Test is one test of a batch in one subject on one tenant-local date.
type Test struct {
	ID       string `bson:"_id" json:"id"`
	BatchID  string `bson:"batch_id" json:"batch_id"`
	BranchID string `bson:"branch_id" json:"branch_id"`
	CourseID string `bson:"course_id" json:"course_id"`
	Subject  string `bson:"subject" json:"subject"`
	Name     string `bson:"name" json:"name"`
	// Date is tenant-local, "YYYY-MM-DD".
	Date string `bson:"date" json:"date" format:"date"`
	// MaxMarks is > 0 with at most two decimals.
	MaxMarks float64 `bson:"max_marks" json:"max_marks"`
	// Weight is the test's share in its subject's and the overall percentage, > 0 with at most two decimals.
	Weight    float64   `bson:"weight" json:"weight"`
	CreatedBy string    `bson:"created_by" json:"created_by"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
}

// Result is one student's result in one test. The test's batch, branch, course, subject, date and maximum
// marks are copied in, so the warehouse and the report card need no join.
type Result struct {
	// ID is ResultID(TestID, StudentID).
	ID        string `bson:"_id" json:"-"`
	TestID    string `bson:"test_id" json:"test_id"`
	BatchID   string `bson:"batch_id" json:"batch_id"`
	BranchID  string `bson:"branch_id" json:"branch_id"`
	CourseID  string `bson:"course_id" json:"course_id"`
	Subject   string `bson:"subject" json:"subject"`
	Date      string `bson:"date" json:"date" format:"date"`
	StudentID string `bson:"student_id" json:"student_id"`
	Status    Status `bson:"status" json:"status"`
	// Marks is set only when Status is Present: 0 <= Marks <= MaxMarks, at most two decimals.
	Marks     *float64  `bson:"marks,omitempty" json:"marks"`
	MaxMarks  float64   `bson:"max_marks" json:"max_marks"`
	UpdatedBy string    `bson:"updated_by" json:"updated_by"`
	UpdatedAt time.Time `bson:"updated_at" json:"updated_at"`
}

// ResultID is the _id of the result of a student in a test.
func ResultID(testID, studentID string) string { return testID + ":" + studentID }

// EnsureIndexes creates the area's indexes in a tenant database.
func EnsureIndexes(ctx context.Context, db lungo.IDatabase) error {
	if _, err := db.Collection(testsCollection).Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{Key: "batch_id", Value: 1}, {Key: "date", Value: 1}}, Options: options.Index().SetName("batch_date")},
		{Keys: bson.D{{Key: "branch_id", Value: 1}, {Key: "date", Value: 1}}, Options: options.Index().SetName("branch_date")},
	}); err != nil {
		return fmt.Errorf("create exam test indexes: %w", err)
	}
	if _, err := db.Collection(resultsCollection).Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{Key: "test_id", Value: 1}, {Key: "student_id", Value: 1}}, Options: options.Index().SetName("test_student")},
		{Keys: bson.D{{Key: "batch_id", Value: 1}, {Key: "date", Value: 1}}, Options: options.Index().SetName("batch_date")},
		{Keys: bson.D{{Key: "student_id", Value: 1}, {Key: "date", Value: 1}}, Options: options.Index().SetName("student_date")},
	}); err != nil {
		return fmt.Errorf("create exam result indexes: %w", err)
	}
	return nil
}

// hundredths returns v in whole hundredths; false when v is not finite or has more than two decimals.
// Marks, maximum marks, weights and band minimums all go through it, so that every sum and comparison is
// on integers.
func hundredths(v float64) (int64, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e12 {
		return 0, false
	}
	h := math.Round(v * 100)
	// 87.35*100 is 8734.999999999999 in binary floating point: a tolerance far below a hundredth keeps it.
	if math.Abs(v*100-h) > 1e-6 {
		return 0, false
	}
	return int64(h), true
}

// fromHundredths is the float64 of h hundredths, the value the API shows and the database keeps.
func fromHundredths(h int64) float64 { return float64(h) / 100 }

// today is the tenant-local date now.
func (s *Service) today(ctx context.Context) string {
	return tenant.FromContext(ctx).Today(s.deps.Clock.Now())
}

// findAll decodes every document of coll matching filter into out.
func findAll(ctx context.Context, coll lungo.ICollection, filter bson.M, out any) error {
	cur, err := coll.Find(ctx, filter)
	if err != nil {
		return err
	}
	return cur.All(ctx, out)
}
