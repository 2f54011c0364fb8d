package exams

import (
	"cmp"
	"context"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// How a report card is computed
//
// Every number is exact until the very end. Marks, maximum marks and weights are whole hundredths
// (hundredths). A test that counts contributes weight × marks ÷ maximum to its subject, as an exact
// fraction (math/big.Rat); an absent student's marks are 0; an exempt student's test counts neither in the
// marks nor in the weights, as if the test had not been set for them; a test without a result for the
// student is not counted either. A subject's percentage is the sum of its tests' contributions divided by
// the sum of their weights; the overall percentage does the same over every counted test of every
// subject, so each subject weighs as much as its tests' weights together. Only then is each percentage
// rounded, half up, to whole basis points (hundredths of a percent: 87.505 % is 8751), and that integer
// is what grades and ranks are decided on, so two students shown the same percentage always share a rank.
//
// Rank is competition ranking ("1224") within the batch over the same date range: the students with at
// least one counted test, ordered by overall basis points, highest first; equal basis points share the
// better rank and the next rank skips as many places as shared it. Among equals the list is in PRN order
// (then student id), so the same data always gives the same list, whatever order the database returns.

// DateRange is a span of tenant-local dates, both included.
type DateRange struct {
	From string `json:"from" format:"date"`
	To   string `json:"to" format:"date"`
}

// resolve fills an open range with the batch's dates. Invalid when a date is malformed or From is after To.
func (r DateRange) resolve(b *academic.Batch) (DateRange, error) {
	if r.From == "" {
		r.From = b.StartDate
	}
	if r.To == "" {
		r.To = b.EndDate
	}
	if _, err := academic.ParseDate("from", r.From); err != nil {
		return r, err
	}
	if _, err := academic.ParseDate("to", r.To); err != nil {
		return r, err
	}
	if r.From > r.To {
		return r, apperr.Field("from", apperr.FieldOutOfRange, "must not be after to")
	}
	return r, nil
}

// tally is the exact running sum of counted tests: Σ weight×marks/max and Σ weight.
type tally struct {
	sum    big.Rat
	weight int64 // hundredths
}

// add counts one test: w, m and outOf in hundredths.
func (t *tally) add(w, m, outOf int64) {
	t.sum.Add(&t.sum, big.NewRat(w*m, outOf))
	t.weight += w
}

// basisPoints is the tally's percentage in basis points, rounded half up; false when nothing counted.
func (t *tally) basisPoints() (int64, bool) {
	if t.weight == 0 {
		return 0, false
	}
	return roundBP(new(big.Rat).Mul(&t.sum, big.NewRat(100_00, t.weight))), true
}

// roundBP rounds a non-negative fraction half up to an integer: floor((2a + b) / 2b).
func roundBP(r *big.Rat) int64 {
	a := new(big.Int).Mul(r.Num(), big.NewInt(2))
	a.Add(a, r.Denom())
	b := new(big.Int).Mul(r.Denom(), big.NewInt(2))
	return a.Quo(a, b).Int64()
}

// percent is basis points as the percentage the API shows (87.51).
func percent(bp int64) *float64 {
	v := fromHundredths(bp)
	return &v
}

// counts reports whether a result counts, and its marks in hundredths (0 when absent).
func counts(r Result) (int64, bool) {
	switch r.Status {
	case Present:
		if r.Marks == nil {
			return 0, false
		}
		m, _ := hundredths(*r.Marks)
		return m, true
	case Absent:
		return 0, true
	}
	return 0, false
}

// Standing is one student's place in a batch over a date range.
type Standing struct {
	Rank        int     `json:"rank"`
	StudentID   string  `json:"student_id"`
	StudentName string  `json:"student_name"`
	StudentPRN  string  `json:"student_prn"`
	Percent     float64 `json:"percent"`
	Grade       string  `json:"grade"`
	bp          int64
}

// cohort is a batch's tests and results over a date range, and its ranking.
type cohort struct {
	tests     map[string]Test
	results   map[string][]Result // by student
	standings []Standing          // ranked, see the top of this file
}

// cohortOf reads a batch's tests and results in r and ranks its students.
func cohortOf(ctx context.Context, b *academic.Batch, r DateRange, sc Scale) (*cohort, error) {
	db := store.Database(ctx)
	inRange := bson.M{"batch_id": b.ID, "date": bson.M{"$gte": r.From, "$lte": r.To}}
	var ts []Test
	if err := findAll(ctx, db.Collection(testsCollection), inRange, &ts); err != nil {
		return nil, fmt.Errorf("tests of batch %s: %w", b.ID, err)
	}
	var rs []Result
	if err := findAll(ctx, db.Collection(resultsCollection), inRange, &rs); err != nil {
		return nil, fmt.Errorf("results of batch %s: %w", b.ID, err)
	}
	c := &cohort{tests: make(map[string]Test, len(ts)), results: map[string][]Result{}}
	for _, t := range ts {
		c.tests[t.ID] = t
	}
	overall := map[string]*tally{}
	for _, res := range rs {
		t, ok := c.tests[res.TestID]
		if !ok {
			continue
		}
		c.results[res.StudentID] = append(c.results[res.StudentID], res)
		m, ok := counts(res)
		if !ok {
			continue
		}
		tl := overall[res.StudentID]
		if tl == nil {
			tl = &tally{}
			overall[res.StudentID] = tl
		}
		w, _ := hundredths(t.Weight)
		outOf, _ := hundredths(t.MaxMarks)
		tl.add(w, m, outOf)
	}
	ids := make([]string, 0, len(overall))
	for sid := range overall {
		ids = append(ids, sid)
	}
	byID, err := studentsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	for sid, tl := range overall {
		bp, _ := tl.basisPoints()
		st := byID[sid]
		c.standings = append(c.standings, Standing{StudentID: sid, StudentName: st.Name, StudentPRN: string(st.PRN),
			Percent: *percent(bp), Grade: sc.grade(bp), bp: bp})
	}
	slices.SortFunc(c.standings, func(x, y Standing) int {
		return cmp.Or(cmp.Compare(y.bp, x.bp), strings.Compare(x.StudentPRN, y.StudentPRN), strings.Compare(x.StudentID, y.StudentID))
	})
	for i := range c.standings {
		if i > 0 && c.standings[i].bp == c.standings[i-1].bp {
			c.standings[i].Rank = c.standings[i-1].Rank
		} else {
			c.standings[i].Rank = i + 1
		}
	}
	return c, nil
}

// Ranking is a batch's ranked students over a date range.
type Ranking struct {
	BatchID string `json:"batch_id"`
	DateRange
	// Students are the students with at least one counted test, in rank order (PRN order among equals).
	Students []Standing `json:"students"`
}

// BatchRanking ranks the students of a batch the caller may see (NotFound otherwise) over a date range
// (the batch's dates when open), as described at the top of this file. Invalid for a malformed range.
func (s *Service) BatchRanking(ctx context.Context, batchID string, r DateRange) (*Ranking, error) {
	b, err := academic.VisibleBatch(ctx, batchID)
	if err != nil {
		return nil, err
	}
	if r, err = r.resolve(b); err != nil {
		return nil, err
	}
	sc, err := loadScale(ctx)
	if err != nil {
		return nil, err
	}
	c, err := cohortOf(ctx, b, r, sc)
	if err != nil {
		return nil, err
	}
	out := &Ranking{BatchID: b.ID, DateRange: r, Students: c.standings}
	if out.Students == nil {
		out.Students = []Standing{}
	}
	return out, nil
}

// TestReport is one test on a report card.
type TestReport struct {
	TestID   string   `json:"test_id"`
	Name     string   `json:"name"`
	Date     string   `json:"date" format:"date"`
	MaxMarks float64  `json:"max_marks"`
	Weight   float64  `json:"weight"`
	Status   Status   `json:"status"`
	Marks    *float64 `json:"marks"`
	// Percent is the test's percentage; null when exempt.
	Percent *float64 `json:"percent"`
}

// SubjectReport is one subject on a report card.
type SubjectReport struct {
	Subject string `json:"subject"`
	// Percent is the weighted percentage over the subject's counted tests; null when none counts.
	Percent *float64     `json:"percent"`
	Grade   string       `json:"grade,omitempty"`
	Tests   []TestReport `json:"tests"`
}

// ReportCard is one student's results in one batch over a date range.
type ReportCard struct {
	StudentID   string `json:"student_id"`
	StudentName string `json:"student_name"`
	StudentPRN  string `json:"student_prn"`
	BatchID     string `json:"batch_id"`
	BatchName   string `json:"batch_name"`
	DateRange
	// Subjects in name order, each with its tests by date.
	Subjects []SubjectReport `json:"subjects"`
	// Percent and Grade are overall; null and empty when no test counts.
	Percent *float64 `json:"percent"`
	Grade   string   `json:"grade,omitempty"`
	// Rank is within the batch over the same range; null when no test counts. RankedStudents is how many
	// students were ranked.
	Rank           *int  `json:"rank"`
	RankedStudents int   `json:"ranked_students"`
	GradingScale   Scale `json:"grading_scale"`
}

// ReportCard returns the report card of a student the caller may see (students.CanSeeStudent: students
// only their own, guardians their children's, staff their branches') in a batch the student was ever
// enrolled in, over a date range (the batch's dates when open). Staff must also see the batch
// (academic.CanSeeBatch). NotFound for anything else, including a student never enrolled in the batch;
// Invalid for a missing batch id or a malformed range. The computation is described at the top of this file.
func (s *Service) ReportCard(ctx context.Context, studentID, batchID string, r DateRange) (*ReportCard, error) {
	if batchID == "" {
		return nil, apperr.Field("batch", apperr.FieldRequired, "is required")
	}
	if err := students.CanSeeStudent(ctx, studentID); err != nil {
		return nil, err
	}
	db := store.Database(ctx)
	b, err := academic.FindBatch(ctx, db, batchID)
	if err != nil {
		return nil, err
	}
	if p := rbac.Must(ctx); p.Role.Staff() && !academic.CanSeeBatch(p, b) {
		return nil, apperr.Errorf(apperr.NotFound, "no such batch")
	}
	enrolled, err := students.EverEnrolled(ctx, db, studentID, b.ID)
	if err != nil {
		return nil, err
	}
	if !enrolled {
		return nil, apperr.Errorf(apperr.NotFound, "the student was never enrolled in this batch")
	}
	if r, err = r.resolve(b); err != nil {
		return nil, err
	}
	sc, err := loadScale(ctx)
	if err != nil {
		return nil, err
	}
	c, err := cohortOf(ctx, b, r, sc)
	if err != nil {
		return nil, err
	}
	byID, err := studentsByID(ctx, []string{studentID})
	if err != nil {
		return nil, err
	}
	st := byID[studentID]
	card := &ReportCard{StudentID: studentID, StudentName: st.Name, StudentPRN: string(st.PRN), BatchID: b.ID, BatchName: b.Name,
		DateRange: r, Subjects: []SubjectReport{}, RankedStudents: len(c.standings), GradingScale: sc}

	subjects := map[string]*SubjectReport{}
	tallies := map[string]*tally{}
	var overall tally
	for _, res := range c.results[studentID] {
		t := c.tests[res.TestID]
		sr := subjects[t.Subject]
		if sr == nil {
			sr = &SubjectReport{Subject: t.Subject, Tests: []TestReport{}}
			subjects[t.Subject] = sr
			tallies[t.Subject] = &tally{}
		}
		tr := TestReport{TestID: t.ID, Name: t.Name, Date: t.Date, MaxMarks: t.MaxMarks, Weight: t.Weight, Status: res.Status, Marks: res.Marks}
		if m, ok := counts(res); ok {
			w, _ := hundredths(t.Weight)
			outOf, _ := hundredths(t.MaxMarks)
			tallies[t.Subject].add(w, m, outOf)
			overall.add(w, m, outOf)
			tr.Percent = percent(roundBP(big.NewRat(m*100_00, outOf)))
		}
		sr.Tests = append(sr.Tests, tr)
	}
	for name, sr := range subjects {
		if bp, ok := tallies[name].basisPoints(); ok {
			sr.Percent, sr.Grade = percent(bp), sc.grade(bp)
		}
		slices.SortFunc(sr.Tests, func(x, y TestReport) int {
			return cmp.Or(strings.Compare(x.Date, y.Date), strings.Compare(x.TestID, y.TestID))
		})
		card.Subjects = append(card.Subjects, *sr)
	}
	slices.SortFunc(card.Subjects, func(x, y SubjectReport) int { return strings.Compare(x.Subject, y.Subject) })
	if bp, ok := overall.basisPoints(); ok {
		card.Percent, card.Grade = percent(bp), sc.grade(bp)
	}
	for _, sd := range c.standings {
		if sd.StudentID == studentID {
			rank := sd.Rank
			card.Rank = &rank
			break
		}
	}
	return card, nil
}
