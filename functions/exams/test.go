package exams

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// Limits on a test's numbers. They keep every sum of hundredths far inside int64 and catch typing slips
// (a weight of 1000 meant as 10.00).
const (
	MaxMarksLimit = 10_000
	MaxWeight     = 100
	// DefaultWeight is the weight of a test created without one.
	DefaultWeight = 1
)

// NewTest creates a test.
type NewTest struct {
	BatchID string `json:"batch_id"`
	// Subject must be one of the course's subjects when the course lists any.
	Subject string `json:"subject"`
	Name    string `json:"name"`
	// Date is tenant-local "YYYY-MM-DD", within the batch's dates.
	Date     string  `json:"date" format:"date"`
	MaxMarks float64 `json:"max_marks"`
	// Weight is DefaultWeight when omitted.
	Weight *float64 `json:"weight,omitempty"`
}

// Validate implements httpapi.Validator. It judges n as normalized leaves it and changes nothing.
func (n NewTest) Validate() error {
	_, err := n.normalized()
	return err
}

// normalized returns n as it is recorded (text trimmed, the default weight filled in), or the Invalid
// error naming every bad field.
func (n NewTest) normalized() (NewTest, error) {
	var bad apperr.Problems
	httpapi.CheckID(&bad, "batch_id", n.BatchID, "must be a batch id")
	if v, err := httpapi.Text("subject", n.Subject, 80); bad.Check(err) {
		n.Subject = v
	}
	if v, err := httpapi.Text("name", n.Name, 120); bad.Check(err) {
		n.Name = v
	}
	_, err := academic.ParseDate("date", n.Date)
	bad.Check(err)
	if h, ok := hundredths(n.MaxMarks); !ok || h <= 0 || h > MaxMarksLimit*100 {
		bad.Add("max_marks", apperr.FieldOutOfRange, fmt.Sprintf("must be above 0 and at most %d, with at most two decimals", MaxMarksLimit))
	}
	if n.Weight == nil {
		w := float64(DefaultWeight)
		n.Weight = &w
	}
	if h, ok := hundredths(*n.Weight); !ok || h <= 0 || h > MaxWeight*100 {
		bad.Add("weight", apperr.FieldOutOfRange, fmt.Sprintf("must be above 0 and at most %d, with at most two decimals", MaxWeight))
	}
	return n, bad.Err()
}

// CreateTest creates a test of a batch the caller may see (NotFound otherwise). Invalid when the date is
// outside the batch's dates or the subject is not one of the course's subjects (when the course lists
// any). A test may be created for a past date, to record one already held.
func (s *Service) CreateTest(ctx context.Context, in NewTest) (*Test, error) {
	in, err := in.normalized()
	if err != nil {
		return nil, err
	}
	b, err := academic.VisibleBatch(ctx, in.BatchID)
	if err != nil {
		return nil, err
	}
	if in.Date < b.StartDate || in.Date > b.EndDate {
		return nil, apperr.Field("date", apperr.FieldOutOfRange, fmt.Sprintf("must be within the batch's dates, %s to %s", b.StartDate, b.EndDate))
	}
	db := store.Database(ctx)
	c, err := academic.FindCourse(ctx, db, b.CourseID)
	if err != nil {
		return nil, fmt.Errorf("course %s of batch %s: %w", b.CourseID, b.ID, err)
	}
	if len(c.Subjects) > 0 && !slices.Contains(c.Subjects, in.Subject) {
		return nil, apperr.Field("subject", apperr.FieldNotAllowed, fmt.Sprintf("must be a subject of course %s: %v", c.Code, c.Subjects))
	}
	mm, _ := hundredths(in.MaxMarks)
	w, _ := hundredths(*in.Weight)
	t := &Test{
		ID: id.New(), BatchID: b.ID, BranchID: b.BranchID, CourseID: b.CourseID, Subject: in.Subject, Name: in.Name,
		Date: in.Date, MaxMarks: fromHundredths(mm), Weight: fromHundredths(w), CreatedBy: rbac.Must(ctx).Subject,
		CreatedAt: s.deps.Clock.Now().UTC().Truncate(time.Millisecond),
	}
	if _, err := db.Collection(testsCollection).InsertOne(ctx, t); err != nil {
		return nil, fmt.Errorf("create test of batch %s: %w", b.ID, err)
	}
	return t, nil
}

// findTest reads a test without any visibility check; NotFound when there is none.
func findTest(ctx context.Context, testID string) (*Test, error) {
	return store.ByID[Test](ctx, store.Database(ctx).Collection(testsCollection), testID, "test")
}

// visibleTest returns a test of a batch the caller may see (academic.CanSeeBatch), NotFound otherwise.
func visibleTest(ctx context.Context, testID string) (*Test, *academic.Batch, error) {
	t, err := findTest(ctx, testID)
	if err != nil {
		return nil, nil, err
	}
	b, err := academic.VisibleBatch(ctx, t.BatchID)
	if apperr.CodeOf(err) == apperr.NotFound {
		return nil, nil, apperr.Errorf(apperr.NotFound, "no such test")
	}
	if err != nil {
		return nil, nil, err
	}
	return t, b, nil
}

// GetTest returns a test of a batch the caller may see; NotFound otherwise.
func (s *Service) GetTest(ctx context.Context, testID string) (*Test, error) {
	t, _, err := visibleTest(ctx, testID)
	return t, err
}

// TestFilter narrows a test list; empty fields do not filter.
type TestFilter struct {
	Batch   string
	Subject string
	// From and To are tenant-local dates, both included.
	From, To string
}

// ListTests returns a page of the tests of the batches the caller may see, in id (creation) order.
// NotFound when the batch asked for is not one the caller may see; Invalid for a malformed date.
func (s *Service) ListTests(ctx context.Context, f TestFilter, pr httpapi.PageRequest) (httpapi.Page[Test], error) {
	if err := httpapi.OptionalDate("from", f.From); err != nil {
		return httpapi.Page[Test]{}, err
	}
	if err := httpapi.OptionalDate("to", f.To); err != nil {
		return httpapi.Page[Test]{}, err
	}
	scope, err := academic.InVisibleBatches(ctx, rbac.Must(ctx))
	if err != nil {
		return httpapi.Page[Test]{}, err
	}
	and := bson.A{scope}
	if f.Batch != "" {
		if _, err := academic.VisibleBatch(ctx, f.Batch); err != nil {
			return httpapi.Page[Test]{}, err
		}
		and = append(and, bson.M{"batch_id": f.Batch})
	}
	if f.Subject != "" {
		and = append(and, bson.M{"subject": f.Subject})
	}
	if f.From != "" {
		and = append(and, bson.M{"date": bson.M{"$gte": f.From}})
	}
	if f.To != "" {
		and = append(and, bson.M{"date": bson.M{"$lte": f.To}})
	}
	ts, err := store.Page[Test](ctx, store.Database(ctx).Collection(testsCollection), bson.M{"$and": and}, pr.After, pr.Limit)
	if err != nil {
		return httpapi.Page[Test]{}, fmt.Errorf("list tests: %w", err)
	}
	return httpapi.NewPage(ts, pr.Limit, func(t Test) string { return t.ID }), nil
}
