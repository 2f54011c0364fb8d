package students

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/prnum"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// NewEnrolment enrols a student into a batch.
type NewEnrolment struct {
	StudentID string `json:"student_id"`
	BatchID   string `json:"batch_id"`
	// From is the tenant-local date the enrolment starts; today when omitted.
	From string `json:"from,omitempty" format:"date"`
}

// Validate implements httpapi.Validator.
func (n NewEnrolment) Validate() error {
	var bad apperr.Problems
	httpapi.CheckID(&bad, "student_id", n.StudentID, "must be a student id")
	httpapi.CheckID(&bad, "batch_id", n.BatchID, "must be a batch id")
	bad.Check(httpapi.OptionalDate("from", n.From))
	return bad.Err()
}

// EnrolmentMove transfers or withdraws an enrolment.
type EnrolmentMove struct {
	// BatchID is the batch to transfer to; transfers only.
	BatchID string `json:"batch_id,omitempty"`
	// Date is the tenant-local date the move takes effect: the closed enrolment's To and the new one's From.
	// Today when omitted.
	Date string `json:"date,omitempty" format:"date"`
}

// Validate implements httpapi.Validator.
func (m EnrolmentMove) Validate() error {
	var bad apperr.Problems
	if m.BatchID != "" {
		httpapi.CheckID(&bad, "batch_id", m.BatchID, "must be a batch id")
	}
	bad.Check(httpapi.OptionalDate("date", m.Date))
	return bad.Err()
}

// enrolTarget checks that the student may be put into batch b from date: same branch, batch not over.
func enrolTarget(st *Student, b *academic.Batch, from string) error {
	if st.Status != StudentActive {
		return apperr.Errorf(apperr.Conflict, "the student is withdrawn")
	}
	if b.BranchID != st.BranchID {
		return apperr.Field("batch_id", apperr.FieldNotAllowed, "is a batch of another branch than the student's")
	}
	if from > b.EndDate {
		return apperr.Field("batch_id", apperr.FieldNotAllowed, "the batch ends before the enrolment would start")
	}
	return nil
}

// Enrol puts a student into a batch. The caller must see both (NotFound otherwise); the batch must be in
// the student's branch and not over (Invalid); Conflict when the student is withdrawn, already actively
// enrolled in the batch, or the batch is full. Safe under concurrency: the seat and the enrolment are
// written in one transaction, and the unique index on active (batch, student) refuses a second one.
func (s *Service) Enrol(ctx context.Context, in NewEnrolment) (*Enrolment, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	st, err := visibleStudent(ctx, in.StudentID)
	if err != nil {
		return nil, err
	}
	b, err := academic.VisibleBatch(ctx, in.BatchID)
	if err != nil {
		return nil, err
	}
	from := in.From
	if from == "" {
		from = s.today(ctx)
	}
	if err := enrolTarget(st, b, from); err != nil {
		return nil, err
	}
	now := s.deps.Clock.Now()
	var e *Enrolment
	err = store.Tx(ctx, store.Database(ctx), func(tc context.Context) error {
		var err error
		if e, err = s.open(tc, st, b, from, now); err != nil {
			return err
		}
		return s.deps.Audit.Record(tc, store.Database(tc), audit.By(rbac.Must(tc)), "students.enrolment.created", audit.Target{Kind: "enrolment", ID: e.ID},
			map[string]any{"student_id": st.ID, "batch_id": b.ID, "from": from})
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// open writes a new active enrolment and takes its seat; tc is a transaction context.
func (s *Service) open(tc context.Context, st *Student, b *academic.Batch, from string, now time.Time) (*Enrolment, error) {
	db := store.Database(tc)
	coll := db.Collection(enrolmentsCollection)
	// Checked before the seat, so a double enrolment says so rather than "full"; the unique index still
	// decides when two race past this check on MongoDB.
	n, err := coll.CountDocuments(tc, bson.M{"batch_id": b.ID, "student_id": st.ID, "status": string(EnrolmentActive)})
	if err != nil {
		return nil, fmt.Errorf("enrol student %s: %w", st.PRN, err)
	}
	if n > 0 {
		return nil, apperr.Errorf(apperr.Conflict, "the student is already enrolled in this batch")
	}
	if err := academic.ReserveSeat(tc, db, b.ID); err != nil {
		return nil, err
	}
	e := &Enrolment{
		ID: id.New(), StudentID: st.ID, BatchID: b.ID, BranchID: b.BranchID, CourseID: b.CourseID,
		From: from, Status: EnrolmentActive, CreatedAt: now, UpdatedAt: now,
	}
	if _, err := coll.InsertOne(tc, e); err != nil {
		if store.IsDuplicateKey(err) {
			return nil, apperr.Errorf(apperr.Conflict, "the student is already enrolled in this batch")
		}
		return nil, fmt.Errorf("enrol student %s: %w", st.PRN, err)
	}
	return e, nil
}

// close ends an active enrolment on date with status and gives its seat back; tc is a transaction context.
// Conflict when the enrolment is no longer active (someone else moved it first).
func (s *Service) close(tc context.Context, e *Enrolment, status EnrolmentStatus, date, transferredTo string, now time.Time) error {
	db := store.Database(tc)
	set := bson.M{"status": string(status), "to": date, "updated_at": now}
	if transferredTo != "" {
		set["transferred_to"] = transferredTo
	}
	res, err := db.Collection(enrolmentsCollection).UpdateOne(tc, bson.M{"_id": e.ID, "status": string(EnrolmentActive)}, bson.M{"$set": set})
	if err != nil {
		return fmt.Errorf("close enrolment %s: %w", e.ID, err)
	}
	if res.MatchedCount == 0 {
		return apperr.Errorf(apperr.Conflict, "the enrolment is no longer active")
	}
	return academic.ReleaseSeat(tc, db, e.BatchID)
}

// closeActiveEnrolments withdraws every active enrolment of a student on date and returns their ids.
func (s *Service) closeActiveEnrolments(tc context.Context, studentID, date string, now time.Time) ([]string, error) {
	cur, err := store.Database(tc).Collection(enrolmentsCollection).Find(tc, bson.M{"student_id": studentID, "status": string(EnrolmentActive)})
	if err != nil {
		return nil, fmt.Errorf("enrolments of student %s: %w", studentID, err)
	}
	var open []Enrolment
	if err := cur.All(tc, &open); err != nil {
		return nil, fmt.Errorf("enrolments of student %s: %w", studentID, err)
	}
	ids := []string{}
	for _, e := range open {
		// An enrolment starting after the withdrawal closes on its own first day: it never took effect.
		if err := s.close(tc, &e, EnrolmentWithdrawn, max(date, e.From), "", now); err != nil {
			return nil, err
		}
		ids = append(ids, e.ID)
	}
	return ids, nil
}

// visibleEnrolment returns an enrolment whose student the caller may see; NotFound otherwise.
func visibleEnrolment(ctx context.Context, enrolmentID string) (*Enrolment, *Student, error) {
	if !id.Valid(enrolmentID) {
		return nil, nil, apperr.Errorf(apperr.NotFound, "no such enrolment")
	}
	var e Enrolment
	err := store.Database(ctx).Collection(enrolmentsCollection).FindOne(ctx, bson.M{"_id": enrolmentID}).Decode(&e)
	if store.IsNotFound(err) {
		return nil, nil, apperr.Errorf(apperr.NotFound, "no such enrolment")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("get enrolment %s: %w", enrolmentID, err)
	}
	st, err := visibleStudent(ctx, e.StudentID)
	if err != nil {
		return nil, nil, apperr.Errorf(apperr.NotFound, "no such enrolment")
	}
	return &e, st, nil
}

// movable checks that an enrolment can be closed on date by the caller, who must see its batch.
func movable(ctx context.Context, e *Enrolment, date string) error {
	if _, err := academic.VisibleBatch(ctx, e.BatchID); err != nil {
		return apperr.Errorf(apperr.NotFound, "no such enrolment")
	}
	if e.Status != EnrolmentActive {
		return apperr.Errorf(apperr.Conflict, "the enrolment is %s, not active", e.Status)
	}
	if date < e.From {
		return apperr.Field("date", apperr.FieldOutOfRange, "is before the enrolment started")
	}
	return nil
}

// Transfer moves an active enrolment to another batch of the student's branch on a date, atomically: the
// old enrolment closes as transferred (To = date) and a new one opens (From = date). The caller must see
// the enrolment's student and both batches (NotFound otherwise); Conflict when the enrolment is not
// active, the student is already in the target batch, or the target is full; Invalid for the same batch,
// a date before the enrolment started, or a target batch of another branch or already over.
func (s *Service) Transfer(ctx context.Context, enrolmentID string, m EnrolmentMove) (*Enrolment, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if m.BatchID == "" {
		return nil, apperr.Field("batch_id", apperr.FieldRequired, "is required for a transfer")
	}
	e, st, err := visibleEnrolment(ctx, enrolmentID)
	if err != nil {
		return nil, err
	}
	date := m.Date
	if date == "" {
		date = s.today(ctx)
	}
	if err := movable(ctx, e, date); err != nil {
		return nil, err
	}
	if m.BatchID == e.BatchID {
		return nil, apperr.Field("batch_id", apperr.FieldNotAllowed, "is the batch the student is already in")
	}
	to, err := academic.VisibleBatch(ctx, m.BatchID)
	if err != nil {
		return nil, err
	}
	if err := enrolTarget(st, to, date); err != nil {
		return nil, err
	}
	now := s.deps.Clock.Now()
	var next *Enrolment
	err = store.Tx(ctx, store.Database(ctx), func(tc context.Context) error {
		var err error
		if next, err = s.open(tc, st, to, date, now); err != nil {
			return err
		}
		if err := s.close(tc, e, EnrolmentTransferred, date, next.ID, now); err != nil {
			return err
		}
		return s.deps.Audit.Record(tc, store.Database(tc), audit.By(rbac.Must(tc)), "students.enrolment.transferred", audit.Target{Kind: "enrolment", ID: e.ID},
			map[string]any{"student_id": st.ID, "from_batch_id": e.BatchID, "to_batch_id": to.ID, "to_enrolment_id": next.ID, "date": date})
	})
	if err != nil {
		return nil, err
	}
	return next, nil
}

// Withdraw ends an active enrolment on a date (To = date) and frees its seat. The caller must see the
// enrolment's student and batch (NotFound otherwise); Conflict when it is not active; Invalid for a date
// before it started.
func (s *Service) Withdraw(ctx context.Context, enrolmentID string, m EnrolmentMove) (*Enrolment, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if m.BatchID != "" {
		return nil, apperr.Field("batch_id", apperr.FieldNotAllowed, "is for transfers; a withdrawal names no batch")
	}
	e, st, err := visibleEnrolment(ctx, enrolmentID)
	if err != nil {
		return nil, err
	}
	date := m.Date
	if date == "" {
		date = s.today(ctx)
	}
	if err := movable(ctx, e, date); err != nil {
		return nil, err
	}
	now := s.deps.Clock.Now()
	err = store.Tx(ctx, store.Database(ctx), func(tc context.Context) error {
		if err := s.close(tc, e, EnrolmentWithdrawn, date, "", now); err != nil {
			return err
		}
		return s.deps.Audit.Record(tc, store.Database(tc), audit.By(rbac.Must(tc)), "students.enrolment.withdrawn", audit.Target{Kind: "enrolment", ID: e.ID},
			map[string]any{"student_id": st.ID, "batch_id": e.BatchID, "date": date})
	})
	if err != nil {
		return nil, err
	}
	e.Status, e.To, e.UpdatedAt = EnrolmentWithdrawn, date, now
	return e, nil
}

// EnrolmentsOf returns a student's whole enrolment history, oldest first, if the caller may see the
// student (NotFound otherwise).
func (s *Service) EnrolmentsOf(ctx context.Context, studentID string) ([]Enrolment, error) {
	if _, err := visibleStudent(ctx, studentID); err != nil {
		return nil, err
	}
	return EnrolmentHistory(ctx, store.Database(ctx), studentID)
}

// RosterEntry is one student of a batch's roster.
type RosterEntry struct {
	Enrolment Enrolment `json:"enrolment"`
	PRN       prnum.PRN `json:"prn"`
	Name      string    `json:"name"`
}

// Roster returns the students of a batch the caller may see (NotFound otherwise) whose enrolment is active
// on a tenant-local date (today when empty), in name order.
func (s *Service) Roster(ctx context.Context, batchID, date string) ([]RosterEntry, error) {
	if _, err := academic.VisibleBatch(ctx, batchID); err != nil {
		return nil, err
	}
	if date == "" {
		date = s.today(ctx)
	}
	db := store.Database(ctx)
	es, err := ActiveEnrolmentsOn(ctx, db, batchID, date)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(es))
	byStudent := make(map[string]Enrolment, len(es))
	for i, e := range es {
		ids[i] = e.StudentID
		byStudent[e.StudentID] = e
	}
	cur, err := db.Collection(studentsCollection).Find(ctx, bson.M{"_id": store.In(ids)},
		options.Find().SetSort(bson.D{{Key: "name_key", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("roster of batch %s: %w", batchID, err)
	}
	var sts []Student
	if err := cur.All(ctx, &sts); err != nil {
		return nil, fmt.Errorf("roster of batch %s: %w", batchID, err)
	}
	out := make([]RosterEntry, 0, len(sts))
	for _, st := range sts {
		out = append(out, RosterEntry{Enrolment: byStudent[st.ID], PRN: st.PRN, Name: st.Name})
	}
	return out, nil
}
