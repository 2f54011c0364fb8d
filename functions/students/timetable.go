package students

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/store"
)

// Timetable bounds: DefaultTimetableDays ahead when no end is given, at most MaxTimetableDays in one
// request.
const (
	DefaultTimetableDays = 30
	MaxTimetableDays     = 92
)

// TimetableEntry is one session of a student's timetable: the session, the batch it belongs to and that
// batch's course. A cancelled session stays in the timetable with its reason, so a student sees why a
// class is not on.
type TimetableEntry struct {
	academic.Session
	BatchName string `json:"batch_name"`
	CourseID  string `json:"course_id"`
}

// TimetableRange is the tenant-local dates of a timetable, both included. From is today when empty, To
// DefaultTimetableDays after From when empty.
type TimetableRange struct {
	From string
	To   string
}

// Timetable returns the sessions of a student's batches dated in r, in start order: every session of a
// batch on a date the student's enrolment in it covers, so a transfer shows the old batch before it and
// the new one after. NotFound unless the caller may see the student (the student, their guardians, staff
// of the student's branch); Invalid naming from or to for a malformed range, one that ends before it
// starts or one longer than MaxTimetableDays.
func (s *Service) Timetable(ctx context.Context, studentID string, r TimetableRange) ([]TimetableEntry, error) {
	from, to, err := s.timetableRange(ctx, r)
	if err != nil {
		return nil, err
	}
	if _, err := visibleStudent(ctx, studentID); err != nil {
		return nil, err
	}
	db := store.Database(ctx)
	es, err := EnrolmentHistory(ctx, db, studentID)
	if err != nil {
		return nil, err
	}
	// Only the enrolments that overlap the range.
	es = slices.DeleteFunc(es, func(e Enrolment) bool { return e.From > to || e.To != "" && e.To <= from })
	byBatch := map[string][]Enrolment{}
	var batchIDs []string
	for _, e := range es {
		if _, seen := byBatch[e.BatchID]; !seen {
			batchIDs = append(batchIDs, e.BatchID)
		}
		byBatch[e.BatchID] = append(byBatch[e.BatchID], e)
	}
	out := []TimetableEntry{}
	if len(batchIDs) == 0 {
		return out, nil
	}
	sessions, err := academic.SessionsOfBatches(ctx, db, batchIDs, from, to)
	if err != nil {
		return nil, err
	}
	batches := map[string]*academic.Batch{}
	for _, id := range batchIDs {
		b, err := academic.FindBatch(ctx, db, id)
		if err != nil {
			return nil, fmt.Errorf("timetable of student %s: batch %s: %w", studentID, id, err)
		}
		batches[id] = b
	}
	for _, ses := range sessions {
		if !slices.ContainsFunc(byBatch[ses.BatchID], func(e Enrolment) bool { return e.ActiveOn(ses.Date) }) {
			continue
		}
		b := batches[ses.BatchID]
		out = append(out, TimetableEntry{Session: ses, BatchName: b.Name, CourseID: b.CourseID})
	}
	slices.SortFunc(out, func(a, b TimetableEntry) int {
		return cmp.Or(a.StartsAt.Compare(b.StartsAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// timetableRange resolves r's defaults and checks it; both fields are checked at once.
func (s *Service) timetableRange(ctx context.Context, r TimetableRange) (string, string, error) {
	var bad apperr.Problems
	if r.From == "" {
		r.From = s.today(ctx)
	}
	from, err := time.Parse(time.DateOnly, r.From)
	if err != nil {
		bad.Add("from", apperr.FieldFormat, "must be a date YYYY-MM-DD")
	}
	if r.To == "" && err == nil {
		r.To = from.AddDate(0, 0, DefaultTimetableDays).Format(time.DateOnly)
	}
	to, err := time.Parse(time.DateOnly, r.To)
	if err != nil {
		bad.Add("to", apperr.FieldFormat, "must be a date YYYY-MM-DD")
	}
	if bad.Len() == 0 {
		switch {
		case to.Before(from):
			bad.Add("to", apperr.FieldOutOfRange, "must not be before from")
		case to.Sub(from) >= MaxTimetableDays*24*time.Hour:
			bad.Add("to", apperr.FieldOutOfRange, fmt.Sprintf("the range may span at most %d days", MaxTimetableDays))
		}
	}
	return r.From, r.To, bad.Err()
}
