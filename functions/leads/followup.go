package leads

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// FollowUp is a promise to get back to a lead by a time.
type FollowUp struct {
	ID       string `bson:"_id" json:"id"`
	LeadID   string `bson:"lead_id" json:"lead_id"`
	BranchID string `bson:"branch_id" json:"branch_id"`
	// CounsellorID is who is to follow up: the lead's counsellor when it was scheduled, else its author.
	CounsellorID string     `bson:"counsellor_id" json:"counsellor_id"`
	DueAt        time.Time  `bson:"due_at" json:"due_at"`
	Note         string     `bson:"note" json:"note,omitempty"`
	Done         bool       `bson:"done" json:"done"`
	DoneAt       *time.Time `bson:"done_at,omitempty" json:"done_at,omitempty"`
	Outcome      string     `bson:"outcome,omitempty" json:"outcome,omitempty"`
	CreatedBy    string     `bson:"created_by" json:"created_by"`
	CreatedAt    time.Time  `bson:"created_at" json:"created_at"`
}

// NewFollowUp schedules a follow-up of a lead.
type NewFollowUp struct {
	DueAt time.Time `json:"due_at"`
	Note  string    `json:"note,omitempty"`
}

// Validate implements httpapi.Validator. It judges n as normalized leaves it and changes nothing.
func (n NewFollowUp) Validate() error {
	_, err := n.normalized()
	return err
}

// normalized returns n as it is recorded (text trimmed), or the Invalid error naming every bad field.
func (n NewFollowUp) normalized() (NewFollowUp, error) {
	var bad apperr.Problems
	if n.DueAt.IsZero() {
		bad.Add("due_at", apperr.FieldRequired, "is required: an RFC 3339 time")
	}
	if v, err := httpapi.OptionalText("note", n.Note, maxNote); bad.Check(err) {
		n.Note = v
	}
	return n, bad.Err()
}

// FollowUpDone closes a follow-up, with what came of it.
type FollowUpDone struct {
	Outcome string `json:"outcome,omitempty"`
}

// Validate implements httpapi.Validator. It judges d as normalized leaves it and changes nothing.
func (d FollowUpDone) Validate() error {
	_, err := d.normalized()
	return err
}

// normalized returns d as it is recorded (text trimmed), or the Invalid error naming its one field.
func (d FollowUpDone) normalized() (FollowUpDone, error) {
	var err error
	d.Outcome, err = httpapi.OptionalText("outcome", d.Outcome, maxNote)
	return d, err
}

// ScheduleFollowUp schedules a follow-up of a lead the caller may see (NotFound otherwise), for the lead's
// counsellor, or for the caller while the lead is unassigned. Conflict for a lost or converted lead,
// which has nobody left to follow up; Invalid for a due time more than a year away or already past.
func (s *Service) ScheduleFollowUp(ctx context.Context, leadID string, in NewFollowUp) (*FollowUp, error) {
	in, err := in.normalized()
	if err != nil {
		return nil, err
	}
	l, err := visibleLead(ctx, leadID)
	if err != nil {
		return nil, err
	}
	if l.StudentID != "" {
		return nil, apperr.Errorf(apperr.Conflict, "the lead was converted into student %s", l.StudentID)
	}
	if l.Stage == StageLost {
		return nil, apperr.Errorf(apperr.Conflict, "the lead is lost; reopen it to follow it up")
	}
	now := s.deps.Clock.Now()
	if !in.DueAt.After(now) || in.DueAt.After(now.AddDate(1, 0, 0)) {
		return nil, apperr.Field("due_at", apperr.FieldOutOfRange, "must be in the future, within a year")
	}
	who := l.CounsellorID
	if who == "" {
		who = actor(ctx)
	}
	f := &FollowUp{ID: id.New(), LeadID: l.ID, BranchID: l.BranchID, CounsellorID: who, DueAt: in.DueAt.UTC().Truncate(time.Millisecond), Note: in.Note,
		CreatedBy: actor(ctx), CreatedAt: now}
	err = store.Tx(ctx, store.Database(ctx), func(tc context.Context) error {
		if _, err := store.Database(tc).Collection(followUpsCollection).InsertOne(tc, f); err != nil {
			return fmt.Errorf("schedule follow-up of lead %s: %w", l.ID, err)
		}
		return s.record(tc, Activity{LeadID: l.ID, Kind: ActivityFollowUp, FollowUpID: f.ID, CounsellorID: who, DueAt: &f.DueAt, Note: f.Note})
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// CompleteFollowUp marks a follow-up done. The caller must see its lead (NotFound otherwise); Conflict
// when it is already done.
func (s *Service) CompleteFollowUp(ctx context.Context, followUpID string, d FollowUpDone) (*FollowUp, error) {
	d, err := d.normalized()
	if err != nil {
		return nil, err
	}
	f, err := store.ByID[FollowUp](ctx, store.Database(ctx).Collection(followUpsCollection), followUpID, "follow-up")
	if err != nil {
		return nil, err
	}
	if _, err := visibleLead(ctx, f.LeadID); err != nil {
		return nil, apperr.Errorf(apperr.NotFound, "no such follow-up")
	}
	now := s.deps.Clock.Now()
	var out FollowUp
	err = store.Tx(ctx, store.Database(ctx), func(tc context.Context) error {
		err := store.Database(tc).Collection(followUpsCollection).FindOneAndUpdate(tc, bson.M{"_id": f.ID, "done": false},
			bson.M{"$set": bson.M{"done": true, "done_at": now, "outcome": d.Outcome}},
			options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&out)
		if store.IsNotFound(err) {
			return apperr.Errorf(apperr.Conflict, "the follow-up is already done")
		}
		if err != nil {
			return fmt.Errorf("complete follow-up %s: %w", f.ID, err)
		}
		return s.record(tc, Activity{LeadID: f.LeadID, Kind: ActivityFollowUpDone, FollowUpID: f.ID, CounsellorID: f.CounsellorID, Note: d.Outcome})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// overdueCursorSep separates the due time and the id in an overdue-list cursor.
const overdueCursorSep = "|"

// OverdueFollowUps returns a page of the follow-ups not done whose due time has passed (by the injected
// clock), most overdue first. A counsellor gets their own (counsellor "" or their own id; NotFound for
// anyone else's); admins get one counsellor's when given, else every overdue follow-up of the leads they
// may see (branch admins: their branches).
func (s *Service) OverdueFollowUps(ctx context.Context, counsellor string, pr httpapi.PageRequest) (httpapi.Page[FollowUp], error) {
	p := rbac.Must(ctx)
	and := bson.A{bson.M{"done": false, "due_at": bson.M{"$lt": s.deps.Clock.Now()}}}
	switch {
	case p.Role == rbac.Counsellor:
		if counsellor != "" && counsellor != p.Subject {
			return httpapi.Page[FollowUp]{}, apperr.Errorf(apperr.NotFound, "no such counsellor")
		}
		and = append(and, bson.M{"counsellor_id": p.Subject})
	case p.Role == rbac.BranchAdmin:
		and = append(and, bson.M{"branch_id": store.In(p.Branches)})
	case p.Role != rbac.Owner:
		and = append(and, bson.M{"_id": store.In(nil)})
	}
	if counsellor != "" && p.Role != rbac.Counsellor {
		and = append(and, bson.M{"counsellor_id": counsellor})
	}
	if pr.After != "" {
		at, after, ok := strings.Cut(pr.After, overdueCursorSep)
		due, err := time.Parse(time.RFC3339Nano, at)
		if !ok || err != nil || !id.Valid(after) {
			return httpapi.Page[FollowUp]{}, apperr.Field("cursor", apperr.FieldFormat, "is not a cursor of this list")
		}
		and = append(and, bson.M{"$or": bson.A{
			bson.M{"due_at": bson.M{"$gt": due}},
			bson.M{"due_at": due, "_id": bson.M{"$gt": after}},
		}})
	}
	cur, err := store.Database(ctx).Collection(followUpsCollection).Find(ctx, bson.M{"$and": and}, options.Find().
		SetSort(bson.D{{Key: "due_at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(pr.Limit+1)))
	if err != nil {
		return httpapi.Page[FollowUp]{}, fmt.Errorf("overdue follow-ups: %w", err)
	}
	items := []FollowUp{}
	if err := cur.All(ctx, &items); err != nil {
		return httpapi.Page[FollowUp]{}, fmt.Errorf("overdue follow-ups: %w", err)
	}
	return httpapi.NewPage(items, pr.Limit, func(f FollowUp) string {
		return f.DueAt.UTC().Format(time.RFC3339Nano) + overdueCursorSep + f.ID
	}), nil
}
