package academic

import (
	"context"
	"fmt"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// SessionStatus is whether a session takes place.
type SessionStatus string

// The session states.
const (
	Scheduled SessionStatus = "scheduled"
	Cancelled SessionStatus = "cancelled"
)

// sessionStatuses lists every session status; the API document shows them as the enum of a session status field.
var sessionStatuses = []SessionStatus{Scheduled, Cancelled}

// Values implements httpapi.Enum.
func (SessionStatus) Values() []string { return httpapi.EnumValues(sessionStatuses) }

// SessionKind tells schedule-made sessions from one-off ones.
type SessionKind string

// The session kinds.
const (
	Regular SessionKind = "regular"
	Extra   SessionKind = "extra"
)

// sessionKinds lists every session kind; the API document shows them as the enum of a session kind field.
var sessionKinds = []SessionKind{Regular, Extra}

// Values implements httpapi.Enum.
func (SessionKind) Values() []string { return httpapi.EnumValues(sessionKinds) }

// Session is one class meeting of a batch.
type Session struct {
	ID       string `bson:"_id" json:"id"`
	BatchID  string `bson:"batch_id" json:"batch_id"`
	BranchID string `bson:"branch_id" json:"branch_id"`
	// Date is the tenant-local calendar date the session starts on, "YYYY-MM-DD": the day attendance is
	// taken for, whatever the UTC date of StartsAt.
	Date            string        `bson:"date" json:"date" format:"date"`
	StartsAt        time.Time     `bson:"starts_at" json:"starts_at"`
	DurationMinutes int           `bson:"duration_minutes" json:"duration_minutes"`
	Status          SessionStatus `bson:"status" json:"status"`
	Kind            SessionKind   `bson:"kind" json:"kind"`
	CancelReason    string        `bson:"cancel_reason,omitempty" json:"cancel_reason,omitempty"`
	CreatedAt       time.Time     `bson:"created_at" json:"created_at"`
	UpdatedAt       time.Time     `bson:"updated_at" json:"updated_at"`
}

func tenantLocation(ctx context.Context) *time.Location { return tenant.FromContext(ctx).Location() }

// localStart is the instant a session on a tenant-local date and wall-clock time starts. For a wall-clock
// time that does not exist that day (in a DST gap) Go picks an instant next to the gap; the session keeps
// its date either way.
func localStart(date time.Time, hhmm string, loc *time.Location) (time.Time, error) {
	h, m, err := clockTime(hhmm)
	if err != nil {
		return time.Time{}, err
	}
	return time.Date(date.Year(), date.Month(), date.Day(), h, m, 0, 0, loc).UTC(), nil
}

// Materialise returns the regular sessions of batch b: one for every slot on every matching weekday from
// b.StartDate to b.EndDate (both included), with dates and wall-clock times in loc, the tenant's zone.
func Materialise(b *Batch, loc *time.Location, now time.Time) ([]Session, error) {
	start, err := ParseDate("start_date", b.StartDate)
	if err != nil {
		return nil, err
	}
	end, err := ParseDate("end_date", b.EndDate)
	if err != nil {
		return nil, err
	}
	var out []Session
	// Days are stepped on civil dates (midnight UTC), never on instants in loc, so a DST change can neither
	// skip nor repeat a day.
	for d := start; !d.After(end); d = d.AddDate(0, 0, 1) {
		for _, sl := range b.Schedule {
			if wd, _ := sl.Weekday.weekday(); wd != d.Weekday() {
				continue
			}
			at, err := localStart(d, sl.Start, loc)
			if err != nil {
				return nil, apperr.Field("schedule", apperr.FieldFormat, "has a malformed start time")
			}
			out = append(out, Session{
				ID: id.New(), BatchID: b.ID, BranchID: b.BranchID, Date: d.Format(DateLayout), StartsAt: at,
				DurationMinutes: sl.DurationMinutes, Status: Scheduled, Kind: Regular, CreatedAt: now, UpdatedAt: now,
			})
		}
	}
	return out, nil
}

// FindSession reads a session from db without any visibility check; NotFound when there is none.
func FindSession(ctx context.Context, db lungo.IDatabase, sessionID string) (*Session, error) {
	return store.ByID[Session](ctx, db.Collection(sessionsCollection), sessionID, "session")
}

// VisibleSession returns a session of a batch the request's caller may see, with its batch; NotFound
// otherwise.
func VisibleSession(ctx context.Context, sessionID string) (*Session, *Batch, error) {
	ses, err := FindSession(ctx, store.Database(ctx), sessionID)
	if err != nil {
		return nil, nil, err
	}
	b, err := VisibleBatch(ctx, ses.BatchID)
	if err != nil {
		return nil, nil, apperr.Errorf(apperr.NotFound, "no such session")
	}
	return ses, b, nil
}

// SessionRange narrows a session list to tenant-local dates, both included; empty means open.
type SessionRange struct {
	From string
	To   string
}

// ListSessions returns a page of the sessions of a batch the caller may see (NotFound otherwise), in
// start order. The page cursor is the start instant of the last session.
func (s *Service) ListSessions(ctx context.Context, batchID string, r SessionRange, pr httpapi.PageRequest) (httpapi.Page[Session], error) {
	if _, err := VisibleBatch(ctx, batchID); err != nil {
		return httpapi.Page[Session]{}, err
	}
	and := bson.A{bson.M{"batch_id": batchID}}
	if r.From != "" {
		if _, err := ParseDate("from", r.From); err != nil {
			return httpapi.Page[Session]{}, err
		}
		and = append(and, bson.M{"date": bson.M{"$gte": r.From}})
	}
	if r.To != "" {
		if _, err := ParseDate("to", r.To); err != nil {
			return httpapi.Page[Session]{}, err
		}
		and = append(and, bson.M{"date": bson.M{"$lte": r.To}})
	}
	if pr.After != "" {
		after, err := time.Parse(time.RFC3339Nano, pr.After)
		if err != nil {
			return httpapi.Page[Session]{}, apperr.Field("cursor", apperr.FieldFormat, "is not a cursor of this list")
		}
		and = append(and, bson.M{"starts_at": bson.M{"$gt": after}})
	}
	cur, err := store.Database(ctx).Collection(sessionsCollection).Find(ctx, bson.M{"$and": and},
		options.Find().SetSort(bson.D{{Key: "starts_at", Value: 1}}).SetLimit(int64(pr.Limit+1)))
	if err != nil {
		return httpapi.Page[Session]{}, fmt.Errorf("list sessions of batch %s: %w", batchID, err)
	}
	items := []Session{}
	if err := cur.All(ctx, &items); err != nil {
		return httpapi.Page[Session]{}, fmt.Errorf("list sessions of batch %s: %w", batchID, err)
	}
	return httpapi.NewPage(items, pr.Limit, func(s Session) string { return s.StartsAt.UTC().Format(time.RFC3339Nano) }), nil
}

// NewExtraSession schedules a one-off session of a batch.
type NewExtraSession struct {
	// Date is the tenant-local date, Start the tenant-local wall-clock time "HH:MM".
	Date            string `json:"date" format:"date"`
	Start           string `json:"start" format:"time"`
	DurationMinutes int    `json:"duration_minutes"`
}

// Validate implements httpapi.Validator.
func (n NewExtraSession) Validate() error {
	var bad apperr.Problems
	_, err := ParseDate("date", n.Date)
	bad.Check(err)
	if _, _, err := clockTime(n.Start); err != nil {
		bad.Add("start", apperr.FieldFormat, "must be a time HH:MM")
	}
	if n.DurationMinutes < 15 || n.DurationMinutes > 600 {
		bad.Add("duration_minutes", apperr.FieldOutOfRange, "must be 15 to 600")
	}
	return bad.Err()
}

// AddExtraSession schedules a one-off session of a batch the caller may see (NotFound otherwise). Conflict
// when the batch already has a session starting at that instant.
func (s *Service) AddExtraSession(ctx context.Context, batchID string, in NewExtraSession) (*Session, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	b, err := VisibleBatch(ctx, batchID)
	if err != nil {
		return nil, err
	}
	d, _ := ParseDate("date", in.Date)
	at, err := localStart(d, in.Start, tenantLocation(ctx))
	if err != nil {
		return nil, apperr.Field("start", apperr.FieldFormat, "must be a time HH:MM")
	}
	now := s.deps.Clock.Now()
	ses := &Session{
		ID: id.New(), BatchID: b.ID, BranchID: b.BranchID, Date: in.Date, StartsAt: at, DurationMinutes: in.DurationMinutes,
		Status: Scheduled, Kind: Extra, CreatedAt: now, UpdatedAt: now,
	}
	if _, err := store.Database(ctx).Collection(sessionsCollection).InsertOne(ctx, ses); err != nil {
		if store.IsDuplicateKey(err) {
			return nil, apperr.Errorf(apperr.Conflict, "the batch already has a session at %s %s", in.Date, in.Start)
		}
		return nil, fmt.Errorf("add extra session to batch %s: %w", batchID, err)
	}
	if err := s.deps.Audit.Record(ctx, store.Database(ctx), audit.By(rbac.Must(ctx)), "academic.session.added", audit.Target{Kind: "session", ID: ses.ID},
		map[string]any{"batch_id": b.ID, "date": in.Date, "start": in.Start}); err != nil {
		return nil, err
	}
	return ses, nil
}

// SessionCancellation cancels a session.
type SessionCancellation struct {
	Reason string `json:"reason,omitempty"`
}

// Validate implements httpapi.Validator.
func (c SessionCancellation) Validate() error {
	if len(c.Reason) > 500 {
		return apperr.Field("reason", apperr.FieldTooLong, "at most 500 characters")
	}
	return nil
}

// CancelSession cancels a scheduled session of a batch the caller may see (NotFound otherwise); Conflict
// when it is already cancelled.
func (s *Service) CancelSession(ctx context.Context, sessionID string, c SessionCancellation) (*Session, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if _, _, err := VisibleSession(ctx, sessionID); err != nil {
		return nil, err
	}
	var out Session
	err := store.Database(ctx).Collection(sessionsCollection).FindOneAndUpdate(ctx,
		bson.M{"_id": sessionID, "status": string(Scheduled)},
		bson.M{"$set": bson.M{"status": string(Cancelled), "cancel_reason": c.Reason, "updated_at": s.deps.Clock.Now()}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&out)
	if store.IsNotFound(err) {
		return nil, apperr.Errorf(apperr.Conflict, "the session is already cancelled")
	}
	if err != nil {
		return nil, fmt.Errorf("cancel session %s: %w", sessionID, err)
	}
	if err := s.deps.Audit.Record(ctx, store.Database(ctx), audit.By(rbac.Must(ctx)), "academic.session.cancelled", audit.Target{Kind: "session", ID: sessionID}, c); err != nil {
		return nil, err
	}
	return &out, nil
}
