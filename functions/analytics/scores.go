package analytics

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// ScoreBuckets label the ten bands of the score distribution, in percent of the maximum marks: a score
// belongs to the band whose lower bound it reaches (89.99 % is in 80–90, 90 % and 100 % in 90–100).
var ScoreBuckets = []string{"0-10", "10-20", "20-30", "30-40", "40-50", "50-60", "60-70", "70-80", "80-90", "90-100"}

// ScoreFilter narrows the score distribution; every set field must match.
type ScoreFilter struct {
	Range   Range // test dates
	Test    string
	Batch   string
	Branch  string
	Subject string
}

// TestScores is the distribution of one test's results. Percentages are of the maximum marks, rounded
// to hundredths; Mean, Min and Max are over present students and null when none was present.
type TestScores struct {
	TestID       string   `json:"test_id"`
	Name         string   `json:"name"`
	Subject      string   `json:"subject"`
	BatchID      string   `json:"batch_id"`
	BranchID     string   `json:"branch_id"`
	Date         string   `json:"date" format:"date"`
	MaxMarks     float64  `json:"max_marks"`
	Present      int64    `json:"present"`
	Absent       int64    `json:"absent"`
	Exempt       int64    `json:"exempt"`
	MeanPercent  *float64 `json:"mean_percent"`
	MinPercent   *float64 `json:"min_percent"`
	MaxPercent   *float64 `json:"max_percent"`
	Distribution []int64  `json:"distribution"`
}

// ScoreReport is the score distribution of every matching test, and of all of them together.
type ScoreReport struct {
	From    string       `json:"from" format:"date"`
	To      string       `json:"to" format:"date"`
	Buckets []string     `json:"buckets"`
	Overall TestScores   `json:"overall"`
	Tests   []TestScores `json:"tests"`
}

// Each result's score in basis points of the maximum (integers, so both engines sum them exactly),
// counted per test, status and band. Marks have at most two decimals, so rounding to basis points loses
// nothing that decides a band.
const scoreSQL = `SELECT r.test_id, r.branch_id, r.status,
	CASE WHEN r.status <> 'present' THEN -1 WHEN r.bp >= 9000 THEN 9 WHEN r.bp >= 8000 THEN 8 WHEN r.bp >= 7000 THEN 7
		WHEN r.bp >= 6000 THEN 6 WHEN r.bp >= 5000 THEN 5 WHEN r.bp >= 4000 THEN 4 WHEN r.bp >= 3000 THEN 3
		WHEN r.bp >= 2000 THEN 2 WHEN r.bp >= 1000 THEN 1 ELSE 0 END AS band,
	COUNT(*) AS results, SUM(r.bp) AS bp_sum, MIN(r.bp) AS bp_min, MAX(r.bp) AS bp_max
FROM (SELECT test_id, branch_id, status, ROUND(marks * 10000 / max_marks) AS bp
	FROM exam_results WHERE date >= @from AND date <= @to%s) AS r
GROUP BY r.test_id, r.branch_id, r.status, band`

const scoreTestsSQL = `SELECT id, name, subject, batch_id, branch_id, date, max_marks FROM exam_tests WHERE date >= @from AND date <= @to%s`

// ScoreDistribution returns the distribution of the results of the caller's tenant's tests dated within
// f.Range that match f: per test and overall, present students per band of ScoreBuckets, absent and
// exempt counts, and mean, lowest and highest percentage. Branch admins and teachers see only their
// branches' tests. Errors: Invalid for a malformed filter, Unavailable when no warehouse is configured.
func (s *Service) ScoreDistribution(ctx context.Context, f ScoreFilter) (*ScoreReport, error) {
	for _, c := range []struct{ field, v, what string }{{"test", f.Test, "a test id"}, {"batch", f.Batch, "a batch id"}, {"branch", f.Branch, "a branch id"}} {
		if c.v != "" && !id.Valid(c.v) {
			return nil, apperr.Field(c.field, apperr.FieldFormat, "must be "+c.what)
		}
	}
	if len(f.Subject) > 100 {
		return nil, apperr.Field("subject", apperr.FieldTooLong, "must be at most 100 characters")
	}
	// The optional filters are fixed SQL fragments over bound parameters.
	var cond, testCond strings.Builder
	params := map[string]string{}
	for _, c := range []struct{ col, testCol, param, v string }{
		{"test_id", "id", "test", f.Test}, {"batch_id", "batch_id", "batch", f.Batch}, {"branch_id", "branch_id", "branch", f.Branch}, {"subject", "subject", "subject", f.Subject},
	} {
		if c.v != "" {
			fmt.Fprintf(&cond, " AND %s = @%s", c.col, c.param)
			fmt.Fprintf(&testCond, " AND %s = @%s", c.testCol, c.param)
			params[c.param] = c.v
		}
	}
	bind := func(q *warehouse.Query) *warehouse.Query {
		q.With("from", warehouse.Day{Time: f.Range.From}).With("to", warehouse.Day{Time: f.Range.To})
		for _, name := range []string{"test", "batch", "branch", "subject"} {
			if v, ok := params[name]; ok {
				q.With(name, v)
			}
		}
		return q
	}
	rows, err := s.query(ctx, bind(newQuery(ctx, fmt.Sprintf(scoreSQL, cond.String()), warehouse.ExamResults)))
	if err != nil {
		return nil, err
	}
	tests, err := s.query(ctx, bind(newQuery(ctx, fmt.Sprintf(scoreTestsSQL, testCond.String()), warehouse.ExamTests)))
	if err != nil {
		return nil, err
	}
	p := rbac.Must(ctx)

	type acc struct {
		ts         *TestScores
		sum        int64
		min, max   int64
		hasPresent bool
	}
	newAcc := func(ts *TestScores) *acc {
		ts.Distribution = make([]int64, len(ScoreBuckets))
		return &acc{ts: ts}
	}
	overall := newAcc(&TestScores{})
	byTest := map[string]*acc{}
	for _, t := range tests {
		if !p.CanSeeBranch(str(t[4])) {
			continue
		}
		ts := &TestScores{TestID: str(t[0]), Name: str(t[1]), Subject: str(t[2]), BatchID: str(t[3]), BranchID: str(t[4])}
		if d, ok := t[5].(time.Time); ok {
			ts.Date = d.Format(time.DateOnly)
		}
		if m, ok := t[6].(float64); ok {
			ts.MaxMarks = m
		}
		byTest[ts.TestID] = newAcc(ts)
	}
	for _, r := range rows {
		if !p.CanSeeBranch(str(r[1])) {
			continue
		}
		a := byTest[str(r[0])]
		if a == nil { // the test's own row has not reached the warehouse yet
			a = newAcc(&TestScores{TestID: str(r[0]), BranchID: str(r[1])})
			byTest[a.ts.TestID] = a
		}
		band, n := num(r[3]), num(r[4])
		for _, x := range []*acc{a, overall} {
			switch str(r[2]) {
			case "absent":
				x.ts.Absent += n
			case "exempt":
				x.ts.Exempt += n
			case "present":
				if band < 0 || band >= int64(len(ScoreBuckets)) {
					return nil, fmt.Errorf("score report: band %d", band)
				}
				x.ts.Present += n
				x.ts.Distribution[band] += n
				x.sum += num(r[5])
				lo, hi := num(r[6]), num(r[7])
				if !x.hasPresent || lo < x.min {
					x.min = lo
				}
				if !x.hasPresent || hi > x.max {
					x.max = hi
				}
				x.hasPresent = true
			}
		}
	}
	finish := func(x *acc) TestScores {
		if x.hasPresent {
			mean := float64(x.sum) / float64(x.ts.Present) / 100
			lo, hi := float64(x.min)/100, float64(x.max)/100
			x.ts.MeanPercent, x.ts.MinPercent, x.ts.MaxPercent = &mean, &lo, &hi
		}
		return *x.ts
	}
	out := &ScoreReport{From: f.Range.From.Format(time.DateOnly), To: f.Range.To.Format(time.DateOnly), Buckets: ScoreBuckets,
		Overall: finish(overall), Tests: []TestScores{}}
	for _, a := range byTest {
		out.Tests = append(out.Tests, finish(a))
	}
	sort.Slice(out.Tests, func(i, j int) bool {
		if out.Tests[i].Date != out.Tests[j].Date {
			return out.Tests[i].Date < out.Tests[j].Date
		}
		return out.Tests[i].TestID < out.Tests[j].TestID
	})
	return out, nil
}
