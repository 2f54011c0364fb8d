package leads

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/store"
)

// ActivityKind names what happened to a lead.
type ActivityKind string

// The activity kinds.
const (
	ActivityCreated      ActivityKind = "created"
	ActivityUpdated      ActivityKind = "updated"
	ActivityStage        ActivityKind = "stage_changed"
	ActivityNote         ActivityKind = "note"
	ActivityAssigned     ActivityKind = "assigned"
	ActivityFollowUp     ActivityKind = "followup_scheduled"
	ActivityFollowUpDone ActivityKind = "followup_done"
	ActivityConverted    ActivityKind = "converted"
)

// activityKinds lists every lead activity kind; the API document shows them as the enum of a lead activity kind field.
var activityKinds = []ActivityKind{ActivityCreated, ActivityUpdated, ActivityStage, ActivityNote, ActivityAssigned, ActivityFollowUp, ActivityFollowUpDone, ActivityConverted}

// Values implements httpapi.Enum.
func (ActivityKind) Values() []string { return httpapi.EnumValues(activityKinds) }

// maxNote bounds a note, in characters.
const maxNote = 2000

// Activity is one event in a lead's history (an update of the contact or interest is recorded as such;
// the lead holds the values). Fields that do not apply to the kind are empty.
type Activity struct {
	ID      string       `bson:"_id" json:"id"`
	LeadID  string       `bson:"lead_id" json:"lead_id"`
	Kind    ActivityKind `bson:"kind" json:"kind"`
	ActorID string       `bson:"actor_id" json:"actor_id"`
	At      time.Time    `bson:"at" json:"at"`
	// FromStage and ToStage describe a stage change; Reason is a lost lead's reason.
	FromStage Stage  `bson:"from_stage,omitempty" json:"from_stage,omitempty"`
	ToStage   Stage  `bson:"to_stage,omitempty" json:"to_stage,omitempty"`
	Reason    string `bson:"reason,omitempty" json:"reason,omitempty"`
	Note      string `bson:"note,omitempty" json:"note,omitempty"`
	// CounsellorID is the new assignee of an assignment ("" when taken back) or a follow-up's counsellor.
	CounsellorID string     `bson:"counsellor_id,omitempty" json:"counsellor_id,omitempty"`
	FollowUpID   string     `bson:"followup_id,omitempty" json:"followup_id,omitempty"`
	DueAt        *time.Time `bson:"due_at,omitempty" json:"due_at,omitempty"`
	StudentID    string     `bson:"student_id,omitempty" json:"student_id,omitempty"`
}

// record appends an activity, stamped with the caller and the clock; ctx is usually a transaction's.
func (s *Service) record(ctx context.Context, a Activity) error {
	_, err := s.recorded(ctx, a)
	return err
}

func (s *Service) recorded(ctx context.Context, a Activity) (*Activity, error) {
	a.ID, a.ActorID, a.At = id.New(), actor(ctx), s.deps.Clock.Now()
	if _, err := store.Database(ctx).Collection(activitiesCollection).InsertOne(ctx, a); err != nil {
		return nil, fmt.Errorf("record %s of lead %s: %w", a.Kind, a.LeadID, err)
	}
	return &a, nil
}

// NewNote adds a note to a lead's history.
type NewNote struct {
	Note string `json:"note"`
}

// Validate implements httpapi.Validator. It judges n as normalized leaves it and changes nothing.
func (n NewNote) Validate() error {
	_, err := n.normalized()
	return err
}

// normalized returns n as it is recorded (text trimmed), or the Invalid error naming its one field.
func (n NewNote) normalized() (NewNote, error) {
	var err error
	n.Note, err = httpapi.Text("note", n.Note, maxNote)
	return n, err
}

// AddNote adds a note to the history of a lead the caller may see (NotFound otherwise).
func (s *Service) AddNote(ctx context.Context, leadID string, n NewNote) (*Activity, error) {
	n, err := n.normalized()
	if err != nil {
		return nil, err
	}
	l, err := visibleLead(ctx, leadID)
	if err != nil {
		return nil, err
	}
	return s.recorded(ctx, Activity{LeadID: l.ID, Kind: ActivityNote, Note: n.Note})
}

// Activities returns a page of the history of a lead the caller may see (NotFound otherwise), oldest
// first.
func (s *Service) Activities(ctx context.Context, leadID string, pr httpapi.PageRequest) (httpapi.Page[Activity], error) {
	l, err := visibleLead(ctx, leadID)
	if err != nil {
		return httpapi.Page[Activity]{}, err
	}
	items, err := store.Page[Activity](ctx, store.Database(ctx).Collection(activitiesCollection), bson.M{"lead_id": l.ID}, pr.After, pr.Limit)
	if err != nil {
		return httpapi.Page[Activity]{}, fmt.Errorf("history of lead %s: %w", l.ID, err)
	}
	return httpapi.NewPage(items, pr.Limit, func(a Activity) string { return a.ID }), nil
}
