package leads

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// Stage is where a lead is in the funnel.
type Stage string

// The stages, in funnel order.
const (
	StageNew           Stage = "new"
	StageContacted     Stage = "contacted"
	StageDemoScheduled Stage = "demo_scheduled"
	StageDemoAttended  Stage = "demo_attended"
	StageNegotiation   Stage = "negotiation"
	StageWon           Stage = "won"
	StageLost          Stage = "lost"
)

// Stages lists every stage in funnel order.
var Stages = []Stage{StageNew, StageContacted, StageDemoScheduled, StageDemoAttended, StageNegotiation, StageWon, StageLost}

// Values implements httpapi.Enum: the stages the API accepts and answers.
func (Stage) Values() []string { return httpapi.EnumValues(Stages) }

// Valid reports whether v is one of Values.
func (v Stage) Valid() bool { return slices.Contains(Stages, v) }

// transitions is the whole table of allowed stage moves. A lost lead may be reopened (back to contacted);
// a won lead moves nowhere: it is converted into a student or stays won.
var transitions = map[Stage][]Stage{
	StageNew:           {StageContacted, StageLost},
	StageContacted:     {StageDemoScheduled, StageNegotiation, StageLost},
	StageDemoScheduled: {StageDemoAttended, StageContacted, StageLost},
	StageDemoAttended:  {StageNegotiation, StageWon, StageLost},
	StageNegotiation:   {StageWon, StageLost},
	StageLost:          {StageContacted},
	StageWon:           {},
}

// CanMove reports whether a lead in stage from may move to stage to.
func CanMove(from, to Stage) bool { return slices.Contains(transitions[from], to) }

// open reports whether a lead in stage s takes part in duplicate detection.
func (s Stage) open() bool { return s != StageWon && s != StageLost }

// StageChange moves a lead to another stage.
type StageChange struct {
	Stage Stage `json:"stage"`
	// LostReason is required when Stage is lost, refused otherwise.
	LostReason string `json:"lost_reason,omitempty"`
}

// Example implements httpapi.Exampler: a new lead's first move (a move to lost also gives lost_reason).
func (StageChange) Example() any { return StageChange{Stage: StageContacted} }

// Validate implements httpapi.Validator. It judges c as normalized leaves it and changes nothing.
func (c StageChange) Validate() error {
	_, err := c.normalized()
	return err
}

// normalized returns c as it is recorded (the reason trimmed), or the Invalid error naming every bad
// field.
func (c StageChange) normalized() (StageChange, error) {
	var bad apperr.Problems
	switch {
	case c.Stage == "":
		bad.Add("stage", apperr.FieldRequired, "must be one of "+joinStages(Stages))
	case !c.Stage.Valid():
		bad.Add("stage", apperr.FieldNotAllowed, "must be one of "+joinStages(Stages))
	}
	if c.Stage == StageLost {
		r, err := httpapi.Text("lost_reason", c.LostReason, 500)
		if e := apperr.As(err); e != nil {
			code := apperr.FieldInvalid
			if len(e.Errors) == 1 {
				code = e.Errors[0].Code
			}
			bad.Add("lost_reason", code, "is required to mark a lead lost, at most 500 characters")
		}
		c.LostReason = r
	} else if c.LostReason != "" {
		bad.Add("lost_reason", apperr.FieldNotAllowed, "is only for moving a lead to lost")
	}
	return c, bad.Err()
}

func joinStages(ss []Stage) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}

// ChangeStage moves a lead the caller may see (NotFound otherwise) to another stage. Conflict when the
// table does not allow the move (the message names the moves that are allowed), or when a reopened lead's
// phone or email now belongs to another open lead. The move is appended to the lead's stages and its
// activity history in one transaction.
func (s *Service) ChangeStage(ctx context.Context, leadID string, c StageChange) (*Lead, error) {
	c, err := c.normalized()
	if err != nil {
		return nil, err
	}
	l, err := visibleLead(ctx, leadID)
	if err != nil {
		return nil, err
	}
	if !CanMove(l.Stage, c.Stage) {
		allowed := "none"
		if next := transitions[l.Stage]; len(next) > 0 {
			allowed = joinStages(next)
		}
		return nil, apperr.Errorf(apperr.Conflict, "a lead in stage %s cannot move to %s (allowed: %s)", l.Stage, c.Stage, allowed)
	}
	now := s.deps.Clock.Now()
	set := bson.M{"stage": c.Stage, "lost_reason": c.LostReason, "open": c.Stage.open(), "updated_at": now}
	var out Lead
	err = store.Tx(ctx, store.Database(ctx), func(tc context.Context) error {
		coll := store.Database(tc).Collection(leadsCollection)
		// The filter names the stage read, so a concurrent move makes this one fail rather than skip a step.
		err := coll.FindOneAndUpdate(tc, bson.M{"_id": l.ID, "stage": l.Stage},
			bson.M{"$set": set, "$push": bson.M{"stages": StageEntry{Stage: c.Stage, At: now}}},
			options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&out)
		if store.IsNotFound(err) {
			return apperr.Errorf(apperr.Conflict, "the lead changed stage meanwhile; read it again")
		}
		if store.IsDuplicateKey(err) {
			return errRaced
		}
		if err != nil {
			return fmt.Errorf("move lead %s to %s: %w", l.ID, c.Stage, err)
		}
		return s.record(tc, Activity{LeadID: l.ID, Kind: ActivityStage, FromStage: l.Stage, ToStage: c.Stage, Reason: c.LostReason})
	})
	if err != nil {
		return nil, raced(ctx, err, l.PhoneNorm, l.EmailNorm, l.ID)
	}
	return &out, nil
}

// actor is the id activities name as their author.
func actor(ctx context.Context) string { return rbac.Must(ctx).Subject }
