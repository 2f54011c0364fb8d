// Package attendance is the area of who was in class: one mark per (session, student) with a status
// (present, absent, late, excused), taken for a whole session in one request; summaries per student and
// per batch over a date range; the absentees of a day; and an alert to a student's guardians when the
// student is marked absent.
//
// Permissions: attendance.write (owners, branch admins, teachers) marks sessions; attendance.read (every
// staff role) reads session marks, batch summaries and absentee lists; attendance.students.read (staff,
// students and guardians) reads one student's marks and summary. Teachers mark and read only the sessions
// of batches that name them, branch admins those of their branches; a student reads only their own
// attendance and a guardian only their children's. Anything else reads as not found.
//
// The rules live in mark.go: a session is marked all or nothing (every student must be enrolled in the
// session's batch on the session's date, or nothing of the request is written); re-marking keeps each
// earlier value in the mark's history and records the override in the audit log; a student marked absent
// alerts their guardians at most once per day (alert.go).
//
// A session's marks are stored together, in one Sheet document per session (collection
// attendance_sheets), each mark with its own history; see Sheet for why.
package attendance

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/256dpi/lungo"
	"github.com/edugrid/edugrid/shared/httpapi"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/notify"
	"github.com/edugrid/edugrid/shared/rate"
	"github.com/edugrid/edugrid/shared/tenant"
)

// Service marks and reports attendance. Construct with New.
type Service struct {
	deps Deps
}

// Deps is what the attendance area needs; every field is required.
type Deps struct {
	Clock clock.Clock
	Audit audit.Recorder
	// Notifier publishes absence alerts after they are recorded in the tenant's outbox.
	Notifier notify.Publisher
	// Logger reports alerts that could not be published (they stay in the outbox).
	Logger *slog.Logger
}

// New returns the attendance service over d.
func New(d Deps) *Service { return &Service{deps: d} }

// sheetsCollection holds the attendance sheets, one per session.
const sheetsCollection = "attendance_sheets"

// Status is a student's attendance at one session.
type Status string

// The statuses. Late counts as attended; excused counts neither way.
const (
	Present Status = "present"
	Absent  Status = "absent"
	Late    Status = "late"
	Excused Status = "excused"
)

// statuses lists every mark status; the API document shows them as the enum of a mark status field.
var statuses = []Status{Present, Absent, Late, Excused}

// Values implements httpapi.Enum.
func (Status) Values() []string { return httpapi.EnumValues(statuses) }

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool { return slices.Contains(statuses, s) }

// Sheet is the attendance of one session: its marks, one per student, held in one document so that
// marking a whole session is a single write. (The embedded engine copies a collection once per document
// written, so a document per mark would make a 50-student marking cost 50 copies of every mark ever
// taken; on MongoDB one document is also one write instead of fifty.)
type Sheet struct {
	// ID is the session's id.
	ID       string `bson:"_id"`
	BatchID  string `bson:"batch_id"`
	BranchID string `bson:"branch_id"`
	// Date is the session's tenant-local date, "YYYY-MM-DD".
	Date      string      `bson:"date"`
	Marks     []SheetMark `bson:"marks"`
	UpdatedAt time.Time   `bson:"updated_at"`
}

// MarshalBSON stores the sheet with its tally: each student's current status, keyed by student id, in
// student id order. The summaries read only the tally (see tallies), so every write must carry one that
// matches the marks; marshalling it here means no writer can forget it.
func (sh Sheet) MarshalBSON() ([]byte, error) {
	type Fields Sheet // without this method; exported, or the encoder would skip the embedded fields
	tally := make(bson.D, 0, len(sh.Marks))
	for _, m := range sh.Marks {
		tally = append(tally, bson.E{Key: m.StudentID, Value: string(m.Status)})
	}
	slices.SortFunc(tally, func(a, b bson.E) int { return strings.Compare(a.Key, b.Key) })
	return bson.Marshal(struct {
		Fields `bson:",inline"`
		Tally  bson.D `bson:"tally"`
	}{Fields(sh), tally})
}

// SheetMark is one student's mark as the sheet stores it.
type SheetMark struct {
	StudentID string    `bson:"student_id"`
	Status    Status    `bson:"status"`
	Remark    string    `bson:"remark"`
	MarkedBy  string    `bson:"marked_by"`
	MarkedAt  time.Time `bson:"marked_at"`
	// History holds the earlier values, oldest first; empty until the mark is changed.
	History []PreviousMark `bson:"history"`
}

// Mark is a student's attendance at one session, with the values it had before each re-marking.
type Mark struct {
	SessionID string         `json:"session_id"`
	BatchID   string         `json:"batch_id"`
	BranchID  string         `json:"branch_id"`
	StudentID string         `json:"student_id"`
	Date      string         `json:"date" format:"date"` // the session's tenant-local date
	Status    Status         `json:"status"`
	Remark    string         `json:"remark,omitempty"`
	MarkedBy  string         `json:"marked_by"`
	MarkedAt  time.Time      `json:"marked_at"`
	History   []PreviousMark `json:"history"`
}

// PreviousMark is a value a mark had before it was changed.
type PreviousMark struct {
	Status   Status    `bson:"status" json:"status"`
	Remark   string    `bson:"remark" json:"remark,omitempty"`
	MarkedBy string    `bson:"marked_by" json:"marked_by"`
	MarkedAt time.Time `bson:"marked_at" json:"marked_at"`
}

// mark returns the sheet's mark m in its API form.
func (sh *Sheet) mark(m SheetMark) Mark {
	h := m.History
	if h == nil {
		h = []PreviousMark{}
	}
	return Mark{SessionID: sh.ID, BatchID: sh.BatchID, BranchID: sh.BranchID, StudentID: m.StudentID, Date: sh.Date,
		Status: m.Status, Remark: m.Remark, MarkedBy: m.MarkedBy, MarkedAt: m.MarkedAt, History: h}
}

// EnsureIndexes creates the area's indexes in a tenant database.
func EnsureIndexes(ctx context.Context, db lungo.IDatabase) error {
	_, err := db.Collection(sheetsCollection).Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{Key: "marks.student_id", Value: 1}, {Key: "date", Value: 1}}, Options: options.Index().SetName("student_date")},
		{Keys: bson.D{{Key: "batch_id", Value: 1}, {Key: "date", Value: 1}}, Options: options.Index().SetName("batch_date")},
		{Keys: bson.D{{Key: "date", Value: 1}, {Key: "branch_id", Value: 1}}, Options: options.Index().SetName("date_branch")},
	})
	if err != nil {
		return fmt.Errorf("create attendance indexes: %w", err)
	}
	return nil
}

// today is the tenant-local date now.
func (s *Service) today(ctx context.Context) string {
	return tenant.FromContext(ctx).Today(s.deps.Clock.Now())
}

// MaxRangeDays bounds a summary's date range, so one request cannot scan years of marks.
const MaxRangeDays = 366

// DateRange is a span of tenant-local dates, both included.
type DateRange struct {
	From string `json:"from" format:"date"`
	To   string `json:"to" format:"date"`
}

// resolveRange fills an open range: To defaults to today, From to 30 days before To. Invalid when a date
// is malformed, From is after To, or the range is longer than MaxRangeDays.
func (s *Service) resolveRange(ctx context.Context, r DateRange) (DateRange, error) {
	if r.To == "" {
		r.To = s.today(ctx)
	}
	to, err := time.Parse(time.DateOnly, r.To)
	if err != nil {
		return r, apperr.Field("to", apperr.FieldFormat, "must be a date YYYY-MM-DD")
	}
	if r.From == "" {
		r.From = to.AddDate(0, 0, -29).Format(time.DateOnly)
	}
	from, err := time.Parse(time.DateOnly, r.From)
	if err != nil {
		return r, apperr.Field("from", apperr.FieldFormat, "must be a date YYYY-MM-DD")
	}
	if from.After(to) {
		return r, apperr.Field("from", apperr.FieldOutOfRange, "must not be after to")
	}
	if to.Sub(from) >= MaxRangeDays*24*time.Hour {
		return r, apperr.Field("from", apperr.FieldOutOfRange, fmt.Sprintf("the range may span at most %d days", MaxRangeDays))
	}
	return r, nil
}

// Counts tallies marks by status. Rate is the share attended, (present + late) / (present + late +
// absent), rounded to four places (shared/rate); excused marks count neither way, and Rate is null when nothing counts.
type Counts struct {
	Total   int      `json:"total"`
	Present int      `json:"present"`
	Absent  int      `json:"absent"`
	Late    int      `json:"late"`
	Excused int      `json:"excused"`
	Rate    *float64 `json:"rate"`
}

func (c *Counts) add(s Status) {
	c.Total++
	switch s {
	case Present:
		c.Present++
	case Absent:
		c.Absent++
	case Late:
		c.Late++
	case Excused:
		c.Excused++
	}
}

func (c *Counts) finish() {
	c.Rate = rate.Of(int64(c.Present+c.Late), int64(c.Present+c.Late+c.Absent))
}
