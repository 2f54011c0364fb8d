package attendance

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// MaxMarksPerRequest bounds one marking: a session has at most a batch's capacity of students.
const MaxMarksPerRequest = academic.MaxCapacity

// MaxRemarkLength bounds a mark's remark, in characters.
const MaxRemarkLength = 500

// MarkInput is one student's mark in a session marking.
type MarkInput struct {
	StudentID string `json:"student_id"`
	Status    Status `json:"status"`
	Remark    string `json:"remark,omitempty"`
}

// SessionMarking marks students of one session. Students left out keep whatever mark they have.
type SessionMarking struct {
	Marks []MarkInput `json:"marks"`
}

// Validate implements httpapi.Validator.
func (m SessionMarking) Validate() error {
	ids := make([]string, len(m.Marks))
	for i, mk := range m.Marks {
		ids[i] = mk.StudentID
	}
	var bad apperr.Problems
	bad.Check(students.CheckRosterList("marks", ids, MaxMarksPerRequest))
	for i := range m.Marks {
		mk := &m.Marks[i]
		field := fmt.Sprintf("marks[%d]", i)
		switch {
		case mk.Status == "":
			bad.Add(field+".status", apperr.FieldRequired, "must be present, absent, late or excused")
		case !mk.Status.Valid():
			bad.Add(field+".status", apperr.FieldNotAllowed, "must be present, absent, late or excused")
		}
		if v, err := httpapi.OptionalText(field+".remark", mk.Remark, MaxRemarkLength); bad.Check(err) {
			mk.Remark = v
		}
	}
	return bad.Err()
}

// MarkingResult is what a marking did.
type MarkingResult struct {
	SessionID string `json:"session_id"`
	BatchID   string `json:"batch_id"`
	Date      string `json:"date" format:"date"`
	Created   int    `json:"created"`   // students marked for the first time
	Changed   int    `json:"changed"`   // marks overridden (the earlier value is in the history)
	Unchanged int    `json:"unchanged"` // marks given again with the same status and remark
	// Marks are the request's students' marks as they now stand, in request order.
	Marks []Mark `json:"marks"`
}

// change is one overridden mark, as the audit log records it.
type change struct {
	StudentID  string `json:"student_id"`
	From       Status `json:"from"`
	To         Status `json:"to"`
	RemarkFrom string `json:"remark_from,omitempty"`
	RemarkTo   string `json:"remark_to,omitempty"`
}

// auditChunk bounds the changes per audit entry, keeping each under audit.MaxDetailsBytes even with the
// longest remarks.
const auditChunk = 40

// MarkSession marks students of a session of a batch the caller may see (NotFound otherwise). Everything
// is checked before anything is written, and everything is written in one transaction, so a refused
// request changes nothing:
//
//   - Invalid, naming every such student, when a student is not enrolled in the session's batch on the
//     session's date;
//   - Conflict when the session is cancelled, when its date is still ahead in the tenant's time zone, or
//     when the first marking of the session raced another one (sending the marks again succeeds).
//
// A student marked again with another status or remark keeps the earlier value in the mark's history, and
// the override is appended to the audit log in the same transaction. After the commit, every student
// marked absent alerts their guardians, at most once per student and day (see alert.go); a failed alert
// is logged and left in the outbox for notify.Flush, never reported as the marking's failure. A student
// whose run of absences reaches one of the institution's escalation rules escalates (escalation.go).
func (s *Service) MarkSession(ctx context.Context, sessionID string, in SessionMarking) (*MarkingResult, error) {
	// The HTTP layer validated already; Go callers get the same checks.
	if err := in.Validate(); err != nil {
		return nil, err
	}
	ses, b, err := academic.VisibleSession(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	if ses.Status == academic.Cancelled {
		return nil, apperr.Errorf(apperr.Conflict, "the session on %s was cancelled; it takes no attendance", ses.Date)
	}
	if today := s.today(ctx); ses.Date > today {
		return nil, apperr.Errorf(apperr.Conflict, "the session is on %s; attendance can be marked from that day", ses.Date)
	}
	db := store.Database(ctx)
	ids := make([]string, len(in.Marks))
	for i, mk := range in.Marks {
		ids[i] = mk.StudentID
	}
	if err := students.CheckOnRoll(ctx, db, ses.BatchID, ses.Date, ids, func(i int) string { return fmt.Sprintf("marks[%d].student_id", i) }, "session"); err != nil {
		return nil, err
	}

	p := rbac.Must(ctx)
	// Milliseconds, as the database keeps them, so the answer matches what a later read returns.
	now := s.deps.Clock.Now().UTC().Truncate(time.Millisecond)
	var res *MarkingResult
	err = store.Tx(ctx, db, func(tc context.Context) error {
		coll := db.Collection(sheetsCollection)
		sheet, err := loadSheet(tc, coll, ses.ID)
		if err != nil {
			return err
		}
		fresh := sheet == nil
		if fresh {
			sheet = &Sheet{ID: ses.ID, BatchID: ses.BatchID, BranchID: ses.BranchID, Date: ses.Date, Marks: []SheetMark{}}
		}
		res = &MarkingResult{SessionID: ses.ID, BatchID: ses.BatchID, Date: ses.Date, Marks: make([]Mark, len(in.Marks))}
		at := make(map[string]int, len(sheet.Marks)+len(in.Marks))
		for j, m := range sheet.Marks {
			at[m.StudentID] = j
		}
		var changes []change
		for i, mk := range in.Marks {
			j, ok := at[mk.StudentID]
			switch {
			case !ok:
				j = len(sheet.Marks)
				at[mk.StudentID] = j
				sheet.Marks = append(sheet.Marks, SheetMark{StudentID: mk.StudentID, Status: mk.Status, Remark: mk.Remark,
					MarkedBy: p.Subject, MarkedAt: now, History: []PreviousMark{}})
				res.Created++
			case sheet.Marks[j].Status == mk.Status && sheet.Marks[j].Remark == mk.Remark:
				res.Unchanged++
			default:
				old := &sheet.Marks[j]
				changes = append(changes, change{StudentID: mk.StudentID, From: old.Status, To: mk.Status, RemarkFrom: old.Remark, RemarkTo: mk.Remark})
				old.History = append(old.History, PreviousMark{Status: old.Status, Remark: old.Remark, MarkedBy: old.MarkedBy, MarkedAt: old.MarkedAt})
				old.Status, old.Remark, old.MarkedBy, old.MarkedAt = mk.Status, mk.Remark, p.Subject, now
				res.Changed++
			}
			res.Marks[i] = sheet.mark(sheet.Marks[j])
		}
		if res.Created+res.Changed == 0 {
			return nil
		}
		sheet.UpdatedAt = now
		if fresh {
			_, err = coll.InsertOne(tc, sheet)
		} else {
			_, err = coll.ReplaceOne(tc, bson.M{"_id": sheet.ID}, sheet)
		}
		if err != nil {
			return fmt.Errorf("mark session %s: %w", ses.ID, err)
		}
		for chunk := range slices.Chunk(changes, auditChunk) {
			if err := s.deps.Audit.Record(tc, db, audit.By(p), "attendance.marks.changed", audit.Target{Kind: "session", ID: ses.ID},
				map[string]any{"batch_id": ses.BatchID, "date": ses.Date, "changes": chunk}); err != nil {
				return fmt.Errorf("record the re-marking of session %s: %w", ses.ID, err)
			}
		}
		return nil
	})
	if store.IsDuplicateKey(err) {
		return nil, apperr.Errorf(apperr.Conflict, "the session was being marked at the same moment; please send the marks again")
	}
	if err != nil {
		return nil, err
	}

	var absent []string
	for _, mk := range in.Marks {
		if mk.Status == Absent {
			absent = append(absent, mk.StudentID)
		}
	}
	s.alertAbsences(ctx, ses, b, absent)
	s.escalate(ctx, ses, absent)
	return res, nil
}

// loadSheet reads the sheet of a session; nil when the session has no marks yet.
func loadSheet(ctx context.Context, coll lungo.ICollection, sessionID string) (*Sheet, error) {
	var sh Sheet
	err := coll.FindOne(ctx, bson.M{"_id": sessionID}).Decode(&sh)
	if store.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("attendance of session %s: %w", sessionID, err)
	}
	return &sh, nil
}

// SessionMarks returns the marks of a session of a batch the caller may see (NotFound otherwise), in
// student id order; none before the session is marked.
func (s *Service) SessionMarks(ctx context.Context, sessionID string) ([]Mark, error) {
	ses, _, err := academic.VisibleSession(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	sh, err := loadSheet(ctx, store.Database(ctx).Collection(sheetsCollection), ses.ID)
	if err != nil {
		return nil, err
	}
	if sh == nil {
		return []Mark{}, nil
	}
	out := make([]Mark, len(sh.Marks))
	for i, m := range sh.Marks {
		out[i] = sh.mark(m)
	}
	slices.SortFunc(out, func(a, b Mark) int { return strings.Compare(a.StudentID, b.StudentID) })
	return out, nil
}
