package analytics

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// ActivePeriod is one window: Active is the distinct learners with at least one interaction on a day of
// the window inside the report's range.
type ActivePeriod struct {
	Start  string `json:"start" format:"date"`
	Active int64  `json:"active"`
}

// BatchActivity is one batch of a course. Active counts distinct learners over the whole range.
type BatchActivity struct {
	BatchID   string         `json:"batch_id"`
	BatchName string         `json:"batch_name,omitempty"`
	BranchID  string         `json:"branch_id"`
	Active    int64          `json:"active"`
	Periods   []ActivePeriod `json:"periods"`
}

// CourseActivity is one course: its counts are distinct learners across the batches shown (a learner
// active in two of its batches counts once).
type CourseActivity struct {
	CourseID string          `json:"course_id"`
	Active   int64           `json:"active"`
	Periods  []ActivePeriod  `json:"periods"`
	Batches  []BatchActivity `json:"batches"`
}

// ActiveLearnersReport is the daily, weekly or monthly active learners per course and batch. Every
// window from the one holding From to the one holding To is listed, idle ones with 0.
type ActiveLearnersReport struct {
	Window  Window           `json:"window"`
	From    string           `json:"from" format:"date"`
	To      string           `json:"to" format:"date"`
	Courses []CourseActivity `json:"courses"`
}

// One row per (course, batch, day, learner) with any interaction, whatever its kind: the windows are made
// in Go, so the SQL needs no date functions.
const activeLearnersSQL = `SELECT i.course_id, i.batch_id, b.branch_id, b.name, i.day, i.student_id
FROM learning_interactions AS i LEFT JOIN batches AS b ON b.id = i.batch_id
WHERE i.day >= @from AND i.day <= @to%s
GROUP BY i.course_id, i.batch_id, b.branch_id, b.name, i.day, i.student_id`

// ActiveLearners returns, per course and batch and per window over r, the distinct learners with any
// interaction (viewed, completed or quiz_attempted) on a day of the window within r. An interaction counts
// for the batch it was recorded in and that batch's branch: branch admins see their branches' batches
// only. Errors: Invalid for a malformed filter, Unavailable when no warehouse is configured.
func (s *Service) ActiveLearners(ctx context.Context, w Window, r Range, f LearningFilter) (*ActiveLearnersReport, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	q := newQuery(ctx, fmt.Sprintf(activeLearnersSQL, f.conditions("i.course_id", "i.batch_id")), warehouse.LearningInteractions, warehouse.Batches).
		With("from", warehouse.Day{Time: r.From}).With("to", warehouse.Day{Time: r.To})
	rows, err := s.query(ctx, f.bind(q, true, true))
	if err != nil {
		return nil, err
	}
	p := rbac.Must(ctx)
	type set = map[string]struct{}
	type tally struct {
		all     set
		periods map[time.Time]set
	}
	add := func(t *tally, start time.Time, student string) {
		t.all[student] = struct{}{}
		if t.periods[start] == nil {
			t.periods[start] = set{}
		}
		t.periods[start][student] = struct{}{}
	}
	newTally := func() *tally { return &tally{all: set{}, periods: map[time.Time]set{}} }
	courses := map[string]*tally{}
	batches := map[string]map[string]*BatchActivity{} // course -> batch
	batchTallies := map[*BatchActivity]*tally{}
	for _, row := range rows {
		course, batch, branch, student := str(row[0]), str(row[1]), str(row[2]), str(row[5])
		day, ok := row[4].(time.Time)
		if !ok {
			return nil, fmt.Errorf("active learners report: day is %T", row[4])
		}
		if !f.sees(p, branch) {
			continue
		}
		if courses[course] == nil {
			courses[course] = newTally()
			batches[course] = map[string]*BatchActivity{}
		}
		b := batches[course][batch]
		if b == nil {
			b = &BatchActivity{BatchID: batch, BranchID: branch}
			batches[course][batch] = b
			batchTallies[b] = newTally()
		}
		if name := str(row[3]); name != "" {
			b.BatchName = name
		}
		start := w.Start(day)
		add(courses[course], start, student)
		add(batchTallies[b], start, student)
	}
	var starts []time.Time
	for st := w.Start(r.From); !st.After(r.To); st = nextWindow(w, st) {
		starts = append(starts, st)
	}
	periods := func(t *tally) []ActivePeriod {
		out := make([]ActivePeriod, len(starts))
		for i, st := range starts {
			out[i] = ActivePeriod{Start: st.Format(time.DateOnly), Active: int64(len(t.periods[st]))}
		}
		return out
	}
	out := &ActiveLearnersReport{Window: w, From: r.From.Format(time.DateOnly), To: r.To.Format(time.DateOnly), Courses: []CourseActivity{}}
	for course, t := range courses {
		c := CourseActivity{CourseID: course, Active: int64(len(t.all)), Periods: periods(t)}
		for _, b := range batches[course] {
			bt := batchTallies[b]
			b.Active, b.Periods = int64(len(bt.all)), periods(bt)
			c.Batches = append(c.Batches, *b)
		}
		sort.Slice(c.Batches, func(i, j int) bool {
			if c.Batches[i].BatchName != c.Batches[j].BatchName {
				return c.Batches[i].BatchName < c.Batches[j].BatchName
			}
			return c.Batches[i].BatchID < c.Batches[j].BatchID
		})
		out.Courses = append(out.Courses, c)
	}
	sort.Slice(out.Courses, func(i, j int) bool { return out.Courses[i].CourseID < out.Courses[j].CourseID })
	return out, nil
}

// nextWindow returns the start of the window of kind w after the one starting at start.
func nextWindow(w Window, start time.Time) time.Time {
	switch w {
	case Week:
		return start.AddDate(0, 0, 7)
	case Month:
		return start.AddDate(0, 1, 0)
	}
	return start.AddDate(0, 0, 1)
}
