package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// InactiveLearner is one active enrolment whose student has not interacted with its course for more than
// the report's days. LastActiveDay and DaysInactive (today minus that day) are null for a learner who
// never interacted with the course.
type InactiveLearner struct {
	EnrolmentID   string  `json:"enrolment_id"`
	StudentID     string  `json:"student_id"`
	PRN           string  `json:"prn"`
	CourseID      string  `json:"course_id"`
	BatchID       string  `json:"batch_id"`
	BranchID      string  `json:"branch_id"`
	LastActiveDay *string `json:"last_active_day" format:"date"`
	DaysInactive  *int64  `json:"days_inactive"`
}

// InactiveReport is one page of inactive learners: those who never interacted first, then the longest
// inactive, then by PRN.
type InactiveReport struct {
	AsOf       string            `json:"as_of" format:"date"`
	Days       int64             `json:"days"`
	Items      []InactiveLearner `json:"items"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// Every enrolment open today (active, started, not stopped) with the day of its student's last
// interaction in its course, in any batch, when that day is before the cutoff or there is none.
const inactiveSQL = `SELECT e.student_id, e.course_id, e.batch_id, e.branch_id, s.prn, i.last_day, e.id
FROM enrolments AS e
	LEFT JOIN students AS s ON s.id = e.student_id
	LEFT JOIN (SELECT student_id, course_id, MAX(day) AS last_day FROM learning_interactions GROUP BY student_id, course_id) AS i
		ON i.student_id = e.student_id AND i.course_id = e.course_id
WHERE e.status = 'active' AND e.from_date <= @today AND (e.to_date IS NULL OR e.to_date > @today)
	AND (i.last_day IS NULL OR i.last_day < @cutoff)%s`

// InactiveLearners returns the page pr of the students with an active enrolment today (tenant-local) whose
// last interaction in the enrolment's course is more than days days before today (before today - days),
// or who never interacted with it: one entry per enrolment, in the caller's branches (the enrolment's
// branch) and f when set. Errors: Invalid for a malformed filter or days outside 1..MaxInactiveDays,
// Unavailable when no warehouse is configured.
func (s *Service) InactiveLearners(ctx context.Context, days int64, f LearningFilter, pr httpapi.PageRequest) (*InactiveReport, error) {
	if days < 1 || days > MaxInactiveDays {
		return nil, apperr.Field("days", apperr.FieldOutOfRange, fmt.Sprintf("must be a whole number from 1 to %d", MaxInactiveDays))
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	today := s.today(ctx)
	q := newQuery(ctx, fmt.Sprintf(inactiveSQL, f.conditions("e.course_id", "e.batch_id")), warehouse.Enrolments, warehouse.Students, warehouse.LearningInteractions).
		With("today", warehouse.Day{Time: today}).With("cutoff", warehouse.Day{Time: today.AddDate(0, 0, -int(days))})
	rows, err := s.query(ctx, f.bind(q, true, true))
	if err != nil {
		return nil, err
	}
	p := rbac.Must(ctx)
	items := []InactiveLearner{}
	for _, r := range rows {
		l := InactiveLearner{EnrolmentID: str(r[6]), StudentID: str(r[0]), CourseID: str(r[1]), BatchID: str(r[2]), BranchID: str(r[3]), PRN: str(r[4])}
		if !f.sees(p, l.BranchID) {
			continue
		}
		if r[5] != nil {
			last, ok := r[5].(time.Time)
			if !ok {
				return nil, fmt.Errorf("inactive learners report: last day is %T", r[5])
			}
			day, n := last.Format(time.DateOnly), int64(today.Sub(last).Hours()/24)
			l.LastActiveDay, l.DaysInactive = &day, &n
		}
		items = append(items, l)
	}
	page := httpapi.PageBy(items, pr, func(l InactiveLearner) string {
		k := "0"
		if l.LastActiveDay != nil {
			k = "1" + *l.LastActiveDay
		}
		return k + "/" + l.PRN + "/" + l.StudentID + "/" + l.EnrolmentID
	})
	return &InactiveReport{AsOf: today.Format(time.DateOnly), Days: days, Items: page.Items, NextCursor: page.NextCursor}, nil
}
