package attendance

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// StudentSummary is one student's attendance over a date range, overall and per batch.
type StudentSummary struct {
	StudentID string `json:"student_id"`
	DateRange
	Counts
	Batches []BatchCounts `json:"batches"`
}

// BatchCounts is a student's attendance in one batch.
type BatchCounts struct {
	BatchID string `json:"batch_id"`
	Counts
}

// StudentCounts is one student's attendance within a batch summary.
type StudentCounts struct {
	StudentID string `json:"student_id"`
	Counts
}

// BatchSummary is a batch's attendance over a date range: the totals, and each student's.
type BatchSummary struct {
	BatchID string `json:"batch_id"`
	DateRange
	// Sessions counts the sessions in the range with at least one mark.
	Sessions int `json:"sessions"`
	Counts
	Students []StudentCounts `json:"students"`
}

// sheets reads the sheets matching filter.
func sheets(ctx context.Context, filter bson.M) ([]Sheet, error) {
	var out []Sheet
	if err := findAll(ctx, store.Database(ctx).Collection(sheetsCollection), filter, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// tally is what a summary reads of a sheet: each student's status, from the tally every stored sheet
// carries (Sheet.MarshalBSON). Reading only the tally, by a projection both engines honour, skips each
// mark's remark, marker, time and history, which are most of a sheet's bytes: decoding whole sheets was
// the largest single cost of the load script's reads on the embedded engine.
type tally struct {
	ID      string            `bson:"_id"`
	BatchID string            `bson:"batch_id"`
	Tally   map[string]Status `bson:"tally"`
}

// tallies reads the tallies of the sheets matching filter. A sheet stored before sheets carried a tally
// is read whole and tallied from its marks.
func tallies(ctx context.Context, filter bson.M) ([]tally, error) {
	coll := store.Database(ctx).Collection(sheetsCollection)
	var out []tally
	cur, err := coll.Find(ctx, filter, options.Find().SetProjection(bson.M{"batch_id": 1, "tally": 1}))
	if err != nil {
		return nil, err
	}
	if err := cur.All(ctx, &out); err != nil {
		return nil, err
	}
	var untallied []string
	at := map[string]int{}
	for i, t := range out {
		if t.Tally == nil {
			untallied = append(untallied, t.ID)
			at[t.ID] = i
		}
	}
	if len(untallied) == 0 {
		return out, nil
	}
	shs, err := sheets(ctx, bson.M{"_id": store.In(untallied)})
	if err != nil {
		return nil, err
	}
	for _, sh := range shs {
		t := &out[at[sh.ID]]
		t.Tally = make(map[string]Status, len(sh.Marks))
		for _, m := range sh.Marks {
			t.Tally[m.StudentID] = m.Status
		}
	}
	return out, nil
}

// studentMarks reads a student's marks in a resolved range, oldest first.
func studentMarks(ctx context.Context, studentID string, r DateRange) ([]Mark, error) {
	shs, err := sheets(ctx, bson.M{"marks.student_id": studentID, "date": bson.M{"$gte": r.From, "$lte": r.To}})
	if err != nil {
		return nil, fmt.Errorf("marks of student %s: %w", studentID, err)
	}
	out := []Mark{}
	for i := range shs {
		for _, m := range shs[i].Marks {
			if m.StudentID == studentID {
				out = append(out, shs[i].mark(m))
			}
		}
	}
	// Sorted here rather than by the engine: the embedded engine sorts the whole collection before filtering.
	slices.SortFunc(out, func(a, b Mark) int {
		return cmp.Or(strings.Compare(a.Date, b.Date), strings.Compare(a.SessionID, b.SessionID))
	})
	return out, nil
}

// StudentMarks returns the marks of a student the caller may see (NotFound otherwise: students see only
// themselves, guardians their children, staff the students of their branches) in a date range, oldest
// first. Invalid for a malformed or too long range.
func (s *Service) StudentMarks(ctx context.Context, studentID string, r DateRange) ([]Mark, error) {
	if err := students.CanSeeStudent(ctx, studentID); err != nil {
		return nil, err
	}
	r, err := s.resolveRange(ctx, r)
	if err != nil {
		return nil, err
	}
	return studentMarks(ctx, studentID, r)
}

// StudentSummary counts the marks of a student the caller may see (as StudentMarks) in a date range.
func (s *Service) StudentSummary(ctx context.Context, studentID string, r DateRange) (*StudentSummary, error) {
	if err := students.CanSeeStudent(ctx, studentID); err != nil {
		return nil, err
	}
	r, err := s.resolveRange(ctx, r)
	if err != nil {
		return nil, err
	}
	ts, err := tallies(ctx, bson.M{"marks.student_id": studentID, "date": bson.M{"$gte": r.From, "$lte": r.To}})
	if err != nil {
		return nil, fmt.Errorf("summary of student %s: %w", studentID, err)
	}
	out := &StudentSummary{StudentID: studentID, DateRange: r, Batches: []BatchCounts{}}
	byBatch := map[string]*Counts{}
	for _, t := range ts {
		st, ok := t.Tally[studentID]
		if !ok {
			continue
		}
		out.add(st)
		c := byBatch[t.BatchID]
		if c == nil {
			c = &Counts{}
			byBatch[t.BatchID] = c
		}
		c.add(st)
	}
	out.finish()
	for b, c := range byBatch {
		c.finish()
		out.Batches = append(out.Batches, BatchCounts{BatchID: b, Counts: *c})
	}
	slices.SortFunc(out.Batches, func(a, b BatchCounts) int { return strings.Compare(a.BatchID, b.BatchID) })
	return out, nil
}

// BatchSummary counts the marks of a batch the caller may see (NotFound otherwise) in a date range, in
// total and per student (in student id order). Invalid for a malformed or too long range.
func (s *Service) BatchSummary(ctx context.Context, batchID string, r DateRange) (*BatchSummary, error) {
	if _, err := academic.VisibleBatch(ctx, batchID); err != nil {
		return nil, err
	}
	r, err := s.resolveRange(ctx, r)
	if err != nil {
		return nil, err
	}
	ts, err := tallies(ctx, bson.M{"batch_id": batchID, "date": bson.M{"$gte": r.From, "$lte": r.To}})
	if err != nil {
		return nil, fmt.Errorf("summary of batch %s: %w", batchID, err)
	}
	out := &BatchSummary{BatchID: batchID, DateRange: r, Students: []StudentCounts{}}
	sessions := map[string]bool{}
	byStudent := map[string]*Counts{}
	for _, t := range ts {
		for student, st := range t.Tally {
			sessions[t.ID] = true
			out.add(st)
			c := byStudent[student]
			if c == nil {
				c = &Counts{}
				byStudent[student] = c
			}
			c.add(st)
		}
	}
	out.Sessions = len(sessions)
	out.finish()
	for st, c := range byStudent {
		c.finish()
		out.Students = append(out.Students, StudentCounts{StudentID: st, Counts: *c})
	}
	slices.SortFunc(out.Students, func(a, b StudentCounts) int { return strings.Compare(a.StudentID, b.StudentID) })
	return out, nil
}

// AbsenteeQuery selects the absentees of one day.
type AbsenteeQuery struct {
	// Date is tenant-local; today when empty.
	Date string
	// Branch and Batch narrow the list; empty means every one the caller may see.
	Branch string
	Batch  string
}

// Absentee is an absent mark with the student's name and PRN.
type Absentee struct {
	Mark
	StudentName string `json:"student_name"`
	StudentPRN  string `json:"student_prn"`
}

// Absentees returns a page of the absent marks of a day in the batches the caller may see: tenant-level
// staff every batch, branch admins their branches', teachers the batches that name them. NotFound when the
// branch or batch asked for is not one the caller may see; Invalid for a malformed date.
func (s *Service) Absentees(ctx context.Context, q AbsenteeQuery, pr httpapi.PageRequest) (httpapi.Page[Absentee], error) {
	if q.Date == "" {
		q.Date = s.today(ctx)
	}
	if _, err := time.Parse(time.DateOnly, q.Date); err != nil {
		return httpapi.Page[Absentee]{}, apperr.Field("date", apperr.FieldFormat, "must be a date YYYY-MM-DD")
	}
	p := rbac.Must(ctx)
	and := bson.A{bson.M{"date": q.Date, "marks.status": string(Absent)}}
	if q.Batch != "" {
		if _, err := academic.VisibleBatch(ctx, q.Batch); err != nil {
			return httpapi.Page[Absentee]{}, err
		}
		and = append(and, bson.M{"batch_id": q.Batch})
	}
	if q.Branch != "" {
		if !id.Valid(q.Branch) || !p.CanSeeBranch(q.Branch) {
			return httpapi.Page[Absentee]{}, apperr.Errorf(apperr.NotFound, "no such branch")
		}
		and = append(and, bson.M{"branch_id": q.Branch})
	}
	scope, err := academic.InVisibleBatches(ctx, p)
	if err != nil {
		return httpapi.Page[Absentee]{}, err
	}
	and = append(and, scope)
	// The cursor is "<session>/<student>" of the last absentee given: sheets in id order, students in id
	// order within a sheet.
	afterSheet, afterStudent, _ := strings.Cut(pr.After, "/")
	if afterSheet != "" {
		and = append(and, bson.M{"_id": bson.M{"$gte": afterSheet}})
	}
	shs, err := sheets(ctx, bson.M{"$and": and})
	if err != nil {
		return httpapi.Page[Absentee]{}, fmt.Errorf("absentees on %s: %w", q.Date, err)
	}
	slices.SortFunc(shs, func(a, b Sheet) int { return strings.Compare(a.ID, b.ID) })
	var ms []Mark
	for i := range shs {
		sh := &shs[i]
		slices.SortFunc(sh.Marks, func(a, b SheetMark) int { return strings.Compare(a.StudentID, b.StudentID) })
		for _, m := range sh.Marks {
			if m.Status != Absent || sh.ID == afterSheet && m.StudentID <= afterStudent {
				continue
			}
			ms = append(ms, sh.mark(m))
		}
		if len(ms) > pr.Limit {
			break
		}
	}
	if len(ms) > pr.Limit+1 {
		ms = ms[:pr.Limit+1]
	}
	db := store.Database(ctx)
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.StudentID
	}
	sts, err := students.FindStudents(ctx, db, ids)
	if err != nil {
		return httpapi.Page[Absentee]{}, fmt.Errorf("absentees on %s: %w", q.Date, err)
	}
	byID := make(map[string]students.Student, len(sts))
	for _, st := range sts {
		byID[st.ID] = st
	}
	items := make([]Absentee, len(ms))
	for i, m := range ms {
		items[i] = Absentee{Mark: m, StudentName: byID[m.StudentID].Name, StudentPRN: string(byID[m.StudentID].PRN)}
	}
	return httpapi.NewPage(items, pr.Limit, func(a Absentee) string { return a.SessionID + "/" + a.StudentID }), nil
}
