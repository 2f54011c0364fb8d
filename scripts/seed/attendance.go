package seed

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/functions/attendance"
	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// attendanceWeeks is how much attendance history the demo shows, up to yesterday.
const attendanceWeeks = 3

// seedAttendance marks every scheduled session of the demo's batches in the last few weeks, for the
// students enrolled that day: mostly present, some late, absent or excused, the same on every seeding. No
// guardian is alerted about the past. tctx is the owner's tenant context.
func seedAttendance(tctx context.Context, a *app.App) error {
	db := store.Database(tctx)
	today := a.Clock.Now().In(tenant.FromContext(tctx).Location())
	from := today.AddDate(0, 0, -7*attendanceWeeks).Format(time.DateOnly)
	to := today.AddDate(0, 0, -1).Format(time.DateOnly)
	sessions, err := academic.ScheduledSessionsBetween(tctx, db, from, to)
	if err != nil {
		return fmt.Errorf("seed attendance: %w", err)
	}
	// The sheets are written directly, in one insert: the local stack's file store rewrites its whole file
	// on every commit, and a marking per session made this the slowest part of the demo seed.
	owner := rbac.Must(tctx).Subject
	teachers := map[string]string{}
	now := a.Clock.Now().UTC().Truncate(time.Millisecond)
	var sheets []attendance.Sheet
	marks := 0
	for _, ses := range sessions {
		es, err := students.ActiveEnrolmentsOn(tctx, db, ses.BatchID, ses.Date)
		if err != nil {
			return fmt.Errorf("seed attendance: roster of %s: %w", ses.ID, err)
		}
		if len(es) == 0 {
			continue
		}
		by, ok := teachers[ses.BatchID]
		if !ok {
			b, err := academic.FindBatch(tctx, db, ses.BatchID)
			if err != nil {
				return fmt.Errorf("seed attendance: %w", err)
			}
			by = owner
			if len(b.Teachers) > 0 {
				by = b.Teachers[0]
			}
			teachers[ses.BatchID] = by
		}
		sh := attendance.Sheet{ID: ses.ID, BatchID: ses.BatchID, BranchID: ses.BranchID, Date: ses.Date, UpdatedAt: now}
		for _, e := range es {
			status, remark := demoMark(e.StudentID, ses.Date)
			sh.Marks = append(sh.Marks, attendance.SheetMark{StudentID: e.StudentID, Status: status, Remark: remark,
				MarkedBy: by, MarkedAt: ses.StartsAt.Add(10 * time.Minute), History: []attendance.PreviousMark{}})
		}
		sheets = append(sheets, sh)
		marks += len(sh.Marks)
	}
	if err := attendance.ImportSheets(tctx, db, sheets); err != nil {
		return fmt.Errorf("seed attendance: %w", err)
	}
	a.Logger.Info("seeded attendance", slog.Int("sessions", len(sessions)), slog.Int("marks", marks),
		slog.String("from", from), slog.String("to", to))
	return nil
}

// demoMark picks a status from a hash of the student and the date: about 85 % present, 6 % late, 7 %
// absent and 2 % excused.
func demoMark(studentID, date string) (attendance.Status, string) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(studentID + date))
	switch n := h.Sum32() % 100; {
	case n < 85:
		return attendance.Present, ""
	case n < 91:
		return attendance.Late, "traffic"
	case n < 98:
		return attendance.Absent, ""
	default:
		return attendance.Excused, "medical leave"
	}
}
