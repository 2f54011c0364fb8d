package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// LearnerTime is one learner's engagement over the report's range: Seconds is the sum of the seconds of
// their viewed interactions, ActiveDays the distinct days with any interaction, LastActiveDay and
// LastActivityAt their latest interaction in the range. PRN is empty while the student's record has not
// reached the warehouse.
type LearnerTime struct {
	StudentID      string    `json:"student_id"`
	PRN            string    `json:"prn"`
	Seconds        int64     `json:"seconds"`
	ActiveDays     int64     `json:"active_days"`
	LastActiveDay  string    `json:"last_active_day" format:"date"`
	LastActivityAt time.Time `json:"last_activity_at"`
}

// TimeSpentReport is one page of learners by time spent, most first, then by PRN and student id.
type TimeSpentReport struct {
	From       string        `json:"from" format:"date"`
	To         string        `json:"to" format:"date"`
	Items      []LearnerTime `json:"items"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// One row per (learner, branch, day): a learner who studied in batches of two branches has rows in both,
// and a branch admin sees only the days and seconds of their branches. Seconds are summed as integers in
// the engine; everything else is added up in Go.
const timeSpentSQL = `SELECT i.student_id, b.branch_id, i.day,
	SUM(CASE WHEN i.kind = 'viewed' AND i.seconds IS NOT NULL THEN i.seconds ELSE 0 END) AS seconds,
	MAX(i.occurred_at) AS last_at, MAX(s.prn) AS prn
FROM learning_interactions AS i
	LEFT JOIN batches AS b ON b.id = i.batch_id
	LEFT JOIN students AS s ON s.id = i.student_id
WHERE i.day >= @from AND i.day <= @to%s
GROUP BY i.student_id, b.branch_id, i.day`

// TimeSpent returns the page pr of the learners with any interaction in r (in course f.Course and batch
// f.Batch when set), with the time they spent viewing content, their active days and last activity,
// sorted by time spent (most first), PRN and student id. Branch admins see only interactions recorded in
// their branches' batches. Errors: Invalid for a malformed filter, Unavailable when no warehouse is
// configured.
func (s *Service) TimeSpent(ctx context.Context, r Range, f LearningFilter, pr httpapi.PageRequest) (*TimeSpentReport, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	q := newQuery(ctx, fmt.Sprintf(timeSpentSQL, f.conditions("i.course_id", "i.batch_id")), warehouse.LearningInteractions, warehouse.Batches, warehouse.Students).
		With("from", warehouse.Day{Time: r.From}).With("to", warehouse.Day{Time: r.To})
	rows, err := s.query(ctx, f.bind(q, true, true))
	if err != nil {
		return nil, err
	}
	p := rbac.Must(ctx)
	type learner struct {
		LearnerTime
		days    map[time.Time]bool
		lastDay time.Time
	}
	byStudent := map[string]*learner{}
	for _, row := range rows {
		student, branch := str(row[0]), str(row[1])
		if !f.sees(p, branch) {
			continue
		}
		day, ok := row[2].(time.Time)
		if !ok {
			return nil, fmt.Errorf("time spent report: day is %T", row[2])
		}
		l := byStudent[student]
		if l == nil {
			l = &learner{LearnerTime: LearnerTime{StudentID: student}, days: map[time.Time]bool{}}
			byStudent[student] = l
		}
		l.Seconds += max(num(row[3]), 0)
		l.days[day] = true
		if day.After(l.lastDay) {
			l.lastDay = day
		}
		if at, ok := row[4].(time.Time); ok && at.After(l.LastActivityAt) {
			l.LastActivityAt = at.UTC()
		}
		if prn := str(row[5]); prn != "" {
			l.PRN = prn
		}
	}
	items := make([]LearnerTime, 0, len(byStudent))
	for _, l := range byStudent {
		l.ActiveDays = int64(len(l.days))
		l.LastActiveDay = l.lastDay.Format(time.DateOnly)
		items = append(items, l.LearnerTime)
	}
	page := httpapi.PageBy(items, pr, func(l LearnerTime) string { return descending(l.Seconds) + "/" + l.PRN + "/" + l.StudentID })
	return &TimeSpentReport{From: r.From.Format(time.DateOnly), To: r.To.Format(time.DateOnly), Items: page.Items, NextCursor: page.NextCursor}, nil
}
