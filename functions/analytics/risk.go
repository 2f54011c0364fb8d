package analytics

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rate"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/tenant"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// Defaults of the at-risk report.
const (
	DefaultAtRiskRate        = 75 // percent
	DefaultAtRiskMinSessions = 3
)

// AtRiskFilter narrows the at-risk report.
type AtRiskFilter struct {
	// Range is the days whose attendance counts; overdue means due before Range.To and still open.
	Range Range
	// MaxRate is the attendance rate, in percent (1..100), below which a student counts as low.
	MaxRate int64
	// MinSessions is how many counted marks (attended or absent) a student needs in Range to be judged.
	MinSessions int64
	Branch      string
}

// AtRiskStudent is one student with low attendance and overdue fees. Amounts are minor units of the
// report's currency.
type AtRiskStudent struct {
	StudentID          string  `json:"student_id"`
	PRN                string  `json:"prn"`
	BranchID           string  `json:"branch_id"`
	Attended           int64   `json:"attended"`
	Absent             int64   `json:"absent"`
	Rate               float64 `json:"rate"`
	Overdue            int64   `json:"overdue"`
	OverdueInstalments int64   `json:"overdue_instalments"`
	OldestDue          string  `json:"oldest_due" format:"date"`
	DaysOverdue        int64   `json:"days_overdue"`
}

// AtRiskReport lists students whose attendance rate is below MaxRate percent and who have overdue fees,
// lowest rate first.
type AtRiskReport struct {
	From        string          `json:"from" format:"date"`
	To          string          `json:"to" format:"date"`
	MaxRate     int64           `json:"max_rate"`
	MinSessions int64           `json:"min_sessions"`
	Currency    string          `json:"currency"`
	Students    []AtRiskStudent `json:"students"`
}

// A student's marks in the range (late counts as attended, excused neither way) joined with their open
// instalments due before the range's last day. The rate test is done in integers: attended/(attended +
// absent) < max_rate% ⇔ attended*100 < max_rate*(attended+absent).
const atRiskSQL = `SELECT a.student_id, s.branch_id, a.branch_id, a.attended, a.absent, o.overdue, o.instalments, o.oldest_due, s.prn
FROM (SELECT student_id, MAX(branch_id) AS branch_id,
		SUM(CASE WHEN status = 'present' OR status = 'late' THEN 1 ELSE 0 END) AS attended,
		SUM(CASE WHEN status = 'absent' THEN 1 ELSE 0 END) AS absent
	FROM attendance_marks WHERE day >= @from AND day <= @to GROUP BY student_id) AS a
JOIN (SELECT student_id, SUM(outstanding) AS overdue, COUNT(*) AS instalments, MIN(due_date) AS oldest_due
	FROM fee_instalments WHERE status = 'open' AND outstanding > 0 AND due_date < @to GROUP BY student_id) AS o
	ON o.student_id = a.student_id
LEFT JOIN students AS s ON s.id = a.student_id
WHERE a.attended + a.absent >= @min_sessions AND a.attended * 100 < @max_rate * (a.attended + a.absent)`

// AtRisk returns the caller's tenant's students with an attendance rate below f.MaxRate percent over
// f.Range (at least f.MinSessions counted marks) and open instalments due before f.Range.To. A student's
// branch is their home branch (the attendance's when the student row has not reached the warehouse);
// branch admins see only their branches' students. Errors: Invalid for a malformed filter, Unavailable
// when no warehouse is configured.
func (s *Service) AtRisk(ctx context.Context, f AtRiskFilter) (*AtRiskReport, error) {
	if f.Branch != "" && !id.Valid(f.Branch) {
		return nil, apperr.Field("branch", apperr.FieldFormat, "must be a branch id")
	}
	if f.MaxRate < 1 || f.MaxRate > 100 {
		return nil, apperr.Field("max_rate", apperr.FieldOutOfRange, "must be a percentage from 1 to 100")
	}
	if f.MinSessions < 1 || f.MinSessions > 10000 {
		return nil, apperr.Field("min_sessions", apperr.FieldOutOfRange, "must be from 1 to 10000")
	}
	q := newQuery(ctx, atRiskSQL, warehouse.AttendanceMarks, warehouse.FeeInstalments, warehouse.Students).
		With("from", warehouse.Day{Time: f.Range.From}).With("to", warehouse.Day{Time: f.Range.To}).
		With("min_sessions", f.MinSessions).With("max_rate", f.MaxRate)
	rows, err := s.query(ctx, q)
	if err != nil {
		return nil, err
	}
	p := rbac.Must(ctx)
	out := &AtRiskReport{From: f.Range.From.Format(time.DateOnly), To: f.Range.To.Format(time.DateOnly), MaxRate: f.MaxRate,
		MinSessions: f.MinSessions, Currency: tenant.FromContext(ctx).Settings.Currency, Students: []AtRiskStudent{}}
	for _, r := range rows {
		branch := str(r[1])
		if branch == "" {
			branch = str(r[2])
		}
		if (f.Branch != "" && branch != f.Branch) || !p.CanSeeBranch(branch) {
			continue
		}
		oldest, ok := r[7].(time.Time)
		if !ok {
			return nil, fmt.Errorf("at-risk report: oldest due is %T", r[7])
		}
		st := AtRiskStudent{StudentID: str(r[0]), PRN: str(r[8]), BranchID: branch, Attended: num(r[3]), Absent: num(r[4]),
			Overdue: num(r[5]), OverdueInstalments: num(r[6]), OldestDue: oldest.Format(time.DateOnly),
			DaysOverdue: int64(f.Range.To.Sub(oldest).Hours() / 24)}
		if r := rate.Of(st.Attended, st.Attended+st.Absent); r != nil {
			st.Rate = *r
		}
		out.Students = append(out.Students, st)
	}
	sort.Slice(out.Students, func(i, j int) bool {
		a, b := out.Students[i], out.Students[j]
		// Compare rates exactly: a.att/(a.att+a.abs) < b.att/(b.att+b.abs).
		if x, y := a.Attended*(b.Attended+b.Absent), b.Attended*(a.Attended+a.Absent); x != y {
			return x < y
		}
		if a.Overdue != b.Overdue {
			return a.Overdue > b.Overdue
		}
		if a.PRN != b.PRN {
			return a.PRN < b.PRN
		}
		return a.StudentID < b.StudentID
	})
	return out, nil
}

// intParam reads an optional integer query parameter.
func intParam(field, v string, def int64) (int64, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, apperr.Field(field, apperr.FieldFormat, "must be an integer")
	}
	return n, nil
}
