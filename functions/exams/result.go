package exams

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"

	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// MaxResultsPerRequest bounds one entry: a test has at most a batch's capacity of students.
const MaxResultsPerRequest = academic.MaxCapacity

// ResultInput is one student's result in an entry.
type ResultInput struct {
	StudentID string `json:"student_id"`
	Status    Status `json:"status"`
	// Marks is required when Status is present and refused otherwise.
	Marks *float64 `json:"marks,omitempty"`
}

// ResultEntry enters results of one test. Students left out keep whatever result they have.
type ResultEntry struct {
	Results []ResultInput `json:"results"`
}

// Validate implements httpapi.Validator. The test's maximum marks are checked by EnterResults.
func (e ResultEntry) Validate() error {
	ids := make([]string, len(e.Results))
	for i, r := range e.Results {
		ids[i] = r.StudentID
	}
	var bad apperr.Problems
	bad.Check(students.CheckRosterList("results", ids, MaxResultsPerRequest))
	for i, r := range e.Results {
		field := fmt.Sprintf("results[%d]", i)
		switch {
		case r.Status == "":
			bad.Add(field+".status", apperr.FieldRequired, "must be present, absent or exempt")
			continue
		case !r.Status.Valid():
			bad.Add(field+".status", apperr.FieldNotAllowed, "must be present, absent or exempt")
			continue
		}
		switch {
		case r.Status == Present && r.Marks == nil:
			bad.Add(field+".marks", apperr.FieldRequired, "is required when the student was present")
		case r.Status != Present && r.Marks != nil:
			bad.Add(field+".marks", apperr.FieldNotAllowed, "is given only when the student was present")
		case r.Marks != nil:
			if h, ok := hundredths(*r.Marks); !ok || h < 0 {
				bad.Add(field+".marks", apperr.FieldOutOfRange, "must be 0 or more, with at most two decimals")
			}
		}
	}
	return bad.Err()
}

// EntryOutcome is what an entry did.
type EntryOutcome struct {
	TestID    string `json:"test_id"`
	Created   int    `json:"created"`   // students given a result for the first time
	Changed   int    `json:"changed"`   // results edited (each recorded in the audit log)
	Unchanged int    `json:"unchanged"` // results given again as they were
	// Results are the request's students' results as they now stand, in request order.
	Results []Result `json:"results"`
}

// resultValue is a result as an edit's audit record shows it.
type resultValue struct {
	Status Status   `json:"status"`
	Marks  *float64 `json:"marks,omitempty"`
}

// resultChange is one edited result in the audit log.
type resultChange struct {
	StudentID string      `json:"student_id"`
	Before    resultValue `json:"before"`
	After     resultValue `json:"after"`
}

// auditChunk bounds the changes per audit entry, keeping each far under audit.MaxDetailsBytes.
const auditChunk = 100

// AuditAction is the audit log action of an entry that edited results; the target is the test
// (kind "exam_test").
const AuditAction = "exams.results.changed"

// EnterResults enters results of a test of a batch the caller may see and may write (NotFound otherwise).
// Everything is checked before anything is written, and everything is written in one transaction, so a
// refused request changes nothing:
//
//   - Invalid when marks exceed the test's maximum (every such field named), or when a student is not
//     enrolled in the test's batch on the test's date (every such student named);
//   - Conflict when the test's date is still ahead in the tenant's time zone, or when the first entry of
//     the test raced another one (sending the results again succeeds).
//
// A result given again with another status or other marks is an edit: its earlier and new values are
// appended to the audit log in the same transaction. A result given again as it was is not written.
func (s *Service) EnterResults(ctx context.Context, testID string, in ResultEntry) (*EntryOutcome, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	t, _, err := visibleTest(ctx, testID)
	if err != nil {
		return nil, err
	}
	if today := s.today(ctx); t.Date > today {
		return nil, apperr.Errorf(apperr.Conflict, "the test is on %s; results can be entered from that day", t.Date)
	}
	maxH, _ := hundredths(t.MaxMarks)
	var over []apperr.FieldError
	for i, r := range in.Results {
		if r.Marks == nil {
			continue
		}
		if h, _ := hundredths(*r.Marks); h > maxH {
			over = append(over, apperr.FieldError{Field: fmt.Sprintf("results[%d].marks", i), Code: apperr.FieldOutOfRange,
				Message: fmt.Sprintf("must be at most the test's maximum, %v", t.MaxMarks)})
		}
	}
	if len(over) > 0 {
		e := apperr.Invalidated(over)
		e.Message = fmt.Sprintf("nothing was entered: %d result(s) exceed the test's maximum of %v marks", len(over), t.MaxMarks)
		return nil, e
	}
	db := store.Database(ctx)
	studentIDs := make([]string, len(in.Results))
	for i, r := range in.Results {
		studentIDs[i] = r.StudentID
	}
	if err := students.CheckOnRoll(ctx, db, t.BatchID, t.Date, studentIDs, func(i int) string { return fmt.Sprintf("results[%d].student_id", i) }, "test"); err != nil {
		return nil, err
	}

	p := rbac.Must(ctx)
	// Milliseconds, as the database keeps them, so the answer matches what a later read returns.
	now := s.deps.Clock.Now().UTC().Truncate(time.Millisecond)
	ids := make([]string, len(in.Results))
	for i, r := range in.Results {
		ids[i] = ResultID(t.ID, r.StudentID)
	}
	var out *EntryOutcome
	err = store.Tx(ctx, db, func(tc context.Context) error {
		// Built afresh on every run: MongoDB's driver may run this function again.
		out = &EntryOutcome{TestID: t.ID, Results: make([]Result, len(in.Results))}
		coll := db.Collection(resultsCollection)
		var existing []Result
		if err := findAll(tc, coll, bson.M{"_id": store.In(ids)}, &existing); err != nil {
			return fmt.Errorf("results of test %s: %w", t.ID, err)
		}
		before := make(map[string]Result, len(existing))
		for _, r := range existing {
			before[r.StudentID] = r
		}
		var (
			writes  []mongo.WriteModel
			changes []resultChange
		)
		for i, r := range in.Results {
			next := Result{ID: ids[i], TestID: t.ID, BatchID: t.BatchID, BranchID: t.BranchID, CourseID: t.CourseID,
				Subject: t.Subject, Date: t.Date, StudentID: r.StudentID, Status: r.Status, MaxMarks: t.MaxMarks,
				UpdatedBy: p.Subject, UpdatedAt: now}
			if r.Marks != nil {
				h, _ := hundredths(*r.Marks)
				m := fromHundredths(h)
				next.Marks = &m
			}
			out.Results[i] = next
			old, had := before[r.StudentID]
			switch {
			case !had:
				out.Created++
				// An insert, not an upsert: the embedded engine scans the whole collection for a replace's
				// filter, and a first entry is most of the writes.
				writes = append(writes, mongo.NewInsertOneModel().SetDocument(next))
			case sameResult(old, next):
				out.Unchanged++
				out.Results[i] = old
			default:
				out.Changed++
				changes = append(changes, resultChange{StudentID: r.StudentID,
					Before: resultValue{Status: old.Status, Marks: old.Marks}, After: resultValue{Status: next.Status, Marks: next.Marks}})
				writes = append(writes, mongo.NewReplaceOneModel().SetFilter(bson.M{"_id": next.ID}).SetReplacement(next))
			}
		}
		if len(writes) == 0 {
			return nil
		}
		// One bulk write for the whole test: one round trip on MongoDB, whatever the batch's size.
		if _, err := coll.BulkWrite(tc, writes); err != nil {
			return fmt.Errorf("enter results of test %s: %w", t.ID, err)
		}
		for chunk := range slices.Chunk(changes, auditChunk) {
			if err := s.deps.Audit.Record(tc, db, audit.By(p), AuditAction, audit.Target{Kind: "exam_test", ID: t.ID},
				map[string]any{"batch_id": t.BatchID, "subject": t.Subject, "date": t.Date, "changes": chunk}); err != nil {
				return fmt.Errorf("record the result edits of test %s: %w", t.ID, err)
			}
		}
		return nil
	})
	if store.IsDuplicateKey(err) {
		// Two first entries of one test raced on MongoDB; the embedded engine serialises transactions.
		return nil, apperr.Errorf(apperr.Conflict, "the test's results were being entered at the same moment; please send them again")
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// sameResult reports whether two results of one student in one test say the same, comparing marks in
// whole hundredths.
func sameResult(a, b Result) bool {
	if a.Status != b.Status || (a.Marks == nil) != (b.Marks == nil) {
		return false
	}
	if a.Marks == nil {
		return true
	}
	x, _ := hundredths(*a.Marks)
	y, _ := hundredths(*b.Marks)
	return x == y
}

// StudentResult is a result with the student's name and PRN, for staff lists.
type StudentResult struct {
	Result
	StudentName string `json:"student_name"`
	StudentPRN  string `json:"student_prn"`
}

// TestResults returns the results of a test of a batch the caller may see (NotFound otherwise), in PRN
// order; none before results are entered.
func (s *Service) TestResults(ctx context.Context, testID string) ([]StudentResult, error) {
	t, _, err := visibleTest(ctx, testID)
	if err != nil {
		return nil, err
	}
	db := store.Database(ctx)
	var rs []Result
	if err := findAll(ctx, db.Collection(resultsCollection), bson.M{"test_id": t.ID}, &rs); err != nil {
		return nil, fmt.Errorf("results of test %s: %w", t.ID, err)
	}
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.StudentID
	}
	byID, err := studentsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]StudentResult, len(rs))
	for i, r := range rs {
		st := byID[r.StudentID]
		out[i] = StudentResult{Result: r, StudentName: st.Name, StudentPRN: string(st.PRN)}
	}
	slices.SortFunc(out, func(a, b StudentResult) int {
		return cmp.Or(strings.Compare(a.StudentPRN, b.StudentPRN), strings.Compare(a.StudentID, b.StudentID))
	})
	return out, nil
}

// studentsByID reads the named students of the request's tenant.
func studentsByID(ctx context.Context, ids []string) (map[string]students.Student, error) {
	sts, err := students.FindStudents(ctx, store.Database(ctx), ids)
	if err != nil {
		return nil, fmt.Errorf("students: %w", err)
	}
	out := make(map[string]students.Student, len(sts))
	for _, st := range sts {
		out[st.ID] = st
	}
	return out, nil
}
