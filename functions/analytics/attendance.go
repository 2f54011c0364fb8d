package analytics

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rate"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// AttendanceFilter narrows the attendance report.
type AttendanceFilter struct {
	Window Window
	Range  Range
	// Branch and Batch, when set, keep only that branch's or batch's rows.
	Branch string
	Batch  string
}

// AttendancePeriod is one window of one batch. Rate is attended / (attended + absent): late counts as
// attended, excused neither way; it is null when nothing was counted.
type AttendancePeriod struct {
	Start    string   `json:"start" format:"date"`
	Attended int64    `json:"attended"`
	Absent   int64    `json:"absent"`
	Excused  int64    `json:"excused"`
	Rate     *float64 `json:"rate"`
}

// BatchAttendance is one batch's attendance over the report's range.
type BatchAttendance struct {
	BatchID   string             `json:"batch_id"`
	BatchName string             `json:"batch_name,omitempty"`
	BranchID  string             `json:"branch_id"`
	Attended  int64              `json:"attended"`
	Absent    int64              `json:"absent"`
	Excused   int64              `json:"excused"`
	Rate      *float64           `json:"rate"`
	Periods   []AttendancePeriod `json:"periods"`
}

// AttendanceReport is the attendance rate by batch.
type AttendanceReport struct {
	Window  Window            `json:"window"`
	From    string            `json:"from" format:"date"`
	To      string            `json:"to" format:"date"`
	Batches []BatchAttendance `json:"batches"`
}

const attendanceSQL = `SELECT s.batch_id, s.branch_id, s.day,
	SUM(s.present + s.late) AS attended, SUM(s.absent) AS absent, SUM(s.excused) AS excused,
	MAX(b.name) AS batch_name
FROM attendance_sheets AS s LEFT JOIN batches AS b ON b.id = s.batch_id
WHERE s.day >= @from AND s.day <= @to
GROUP BY s.batch_id, s.branch_id, s.day`

// AttendanceByBatch returns the caller's tenant's attendance rate by batch, per window, over f.Range:
// the batches of the caller's branches only for branch admins. Errors: Invalid for a malformed filter,
// Unavailable when no warehouse is configured.
func (s *Service) AttendanceByBatch(ctx context.Context, f AttendanceFilter) (*AttendanceReport, error) {
	if f.Branch != "" && !id.Valid(f.Branch) {
		return nil, apperr.Field("branch", apperr.FieldFormat, "must be a branch id")
	}
	if f.Batch != "" && !id.Valid(f.Batch) {
		return nil, apperr.Field("batch", apperr.FieldFormat, "must be a batch id")
	}
	q := newQuery(ctx, attendanceSQL, warehouse.AttendanceSheets, warehouse.Batches).
		With("from", warehouse.Day{Time: f.Range.From}).With("to", warehouse.Day{Time: f.Range.To})
	rows, err := s.query(ctx, q)
	if err != nil {
		return nil, err
	}
	p := rbac.Must(ctx)
	type key struct{ batch, branch string }
	byBatch := map[key]*BatchAttendance{}
	periods := map[key]map[time.Time]*AttendancePeriod{}
	for _, r := range rows {
		batch, branch := str(r[0]), str(r[1])
		day, ok := r[2].(time.Time)
		if !ok {
			return nil, fmt.Errorf("attendance report: day is %T", r[2])
		}
		if (f.Batch != "" && batch != f.Batch) || (f.Branch != "" && branch != f.Branch) || !p.CanSeeBranch(branch) {
			continue
		}
		k := key{batch, branch}
		b := byBatch[k]
		if b == nil {
			b = &BatchAttendance{BatchID: batch, BranchID: branch}
			byBatch[k] = b
			periods[k] = map[time.Time]*AttendancePeriod{}
		}
		if name := str(r[6]); name != "" {
			b.BatchName = name
		}
		start := f.Window.Start(day)
		per := periods[k][start]
		if per == nil {
			per = &AttendancePeriod{Start: start.Format(time.DateOnly)}
			periods[k][start] = per
		}
		att, abs, exc := num(r[3]), num(r[4]), num(r[5])
		per.Attended += att
		per.Absent += abs
		per.Excused += exc
		b.Attended += att
		b.Absent += abs
		b.Excused += exc
	}
	out := &AttendanceReport{Window: f.Window, From: f.Range.From.Format(time.DateOnly), To: f.Range.To.Format(time.DateOnly), Batches: []BatchAttendance{}}
	for k, b := range byBatch {
		b.Rate = rate.Of(b.Attended, b.Attended+b.Absent)
		for _, per := range periods[k] {
			per.Rate = rate.Of(per.Attended, per.Attended+per.Absent)
			b.Periods = append(b.Periods, *per)
		}
		sort.Slice(b.Periods, func(i, j int) bool { return b.Periods[i].Start < b.Periods[j].Start })
		out.Batches = append(out.Batches, *b)
	}
	sort.Slice(out.Batches, func(i, j int) bool {
		if out.Batches[i].BatchName != out.Batches[j].BatchName {
			return out.Batches[i].BatchName < out.Batches[j].BatchName
		}
		return out.Batches[i].BatchID < out.Batches[j].BatchID
	})
	return out, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	}
	return 0
}
