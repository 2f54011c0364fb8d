package learning

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/edugrid/edugrid/shared/httpapi"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// InteractionKind is what a learner did.
type InteractionKind string

// The interaction kinds. Clients record Viewed and Completed; QuizAttempted is recorded by a quiz
// submission.
const (
	Viewed        InteractionKind = "viewed"
	Completed     InteractionKind = "completed"
	QuizAttempted InteractionKind = "quiz_attempted"
)

// interactionKinds lists every interaction kind; the API document shows them as the enum of a interaction kind field.
var interactionKinds = []InteractionKind{Viewed, Completed, QuizAttempted}

// Values implements httpapi.Enum.
func (InteractionKind) Values() []string { return httpapi.EnumValues(interactionKinds) }

// MaxViewSeconds bounds the time one viewed interaction may report: four hours.
const MaxViewSeconds = 4 * 3600

// interactionID is the form of a client's interaction id: long enough to be unique per client, short and
// plain enough to be a key.
var interactionID = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// Interaction is one recorded learner interaction. ID is the student id and the client's interaction id,
// so two students' equal ids never collide; At and Day are the server's time and tenant-local date.
type Interaction struct {
	ID            string          `bson:"_id" json:"-"`
	InteractionID string          `bson:"interaction_id" json:"interaction_id"`
	StudentID     string          `bson:"student_id" json:"student_id"`
	CourseID      string          `bson:"course_id" json:"course_id"`
	BatchID       string          `bson:"batch_id" json:"batch_id"`
	LessonID      string          `bson:"lesson_id" json:"lesson_id"`
	ItemID        string          `bson:"item_id" json:"item_id"`
	Kind          InteractionKind `bson:"kind" json:"kind"`
	Seconds       int64           `bson:"seconds" json:"seconds"`
	// AttemptID names the quiz attempt a quiz_attempted interaction recorded.
	AttemptID string    `bson:"attempt_id,omitempty" json:"attempt_id,omitempty"`
	At        time.Time `bson:"at" json:"at"`
	Day       string    `bson:"day" json:"day" format:"date"`
}

// NewInteraction is one interaction a client reports. ID is the client's own id for it: a retry sends the
// same id and is recorded once.
type NewInteraction struct {
	ID       string          `json:"id"`
	LessonID string          `json:"lesson_id"`
	ItemID   string          `json:"item_id,omitempty"`
	Kind     InteractionKind `json:"kind"`
	Seconds  int64           `json:"seconds,omitempty"`
}

// InteractionBatch is what a client sends: 1 to MaxBatch interactions, validated all before any is
// recorded.
type InteractionBatch struct {
	Interactions []NewInteraction `json:"interactions"`
}

// Validate implements httpapi.Validator.
func (b InteractionBatch) Validate() error {
	if len(b.Interactions) < 1 || len(b.Interactions) > MaxBatch {
		code := apperr.FieldTooLong
		if len(b.Interactions) < 1 {
			code = apperr.FieldRequired
		}
		return apperr.Field("interactions", code, fmt.Sprintf("must be 1 to %d interactions", MaxBatch))
	}
	var bad apperr.Problems
	seen := map[string]bool{}
	for i, in := range b.Interactions {
		field := fmt.Sprintf("interactions[%d]", i)
		if !interactionID.MatchString(in.ID) {
			bad.Add(field+".id", apperr.FieldFormat, "must be 8-64 characters of A-Z, a-z, 0-9, '_' and '-'")
		}
		if seen[in.ID] {
			bad.Add(field+".id", apperr.FieldDuplicate, "lists an interaction twice")
		}
		seen[in.ID] = true
		httpapi.CheckID(&bad, field+".lesson_id", in.LessonID, "must be a lesson id")
		switch in.Kind {
		case Viewed:
			if in.ItemID == "" {
				bad.Add(field+".item_id", apperr.FieldRequired, "is required for a viewed interaction")
			}
			if in.Seconds < 0 || in.Seconds > MaxViewSeconds {
				bad.Add(field+".seconds", apperr.FieldOutOfRange, fmt.Sprintf("must be 0 to %d", MaxViewSeconds))
			}
		case Completed:
			if in.Seconds != 0 {
				bad.Add(field+".seconds", apperr.FieldNotAllowed, "only a viewed interaction reports time")
			}
		case "":
			bad.Add(field+".kind", apperr.FieldRequired, "must be viewed or completed")
		default:
			bad.Add(field+".kind", apperr.FieldNotAllowed, "must be viewed or completed")
		}
		if len(in.ItemID) > 64 {
			bad.Add(field+".item_id", apperr.FieldFormat, "is not an item id")
		}
	}
	return bad.Err()
}

// RecordedInteraction is one interaction of a batch as recorded: Duplicate when its id had been recorded
// before, in which case Interaction is the original.
type RecordedInteraction struct {
	Interaction Interaction `json:"interaction"`
	Duplicate   bool        `json:"duplicate"`
}

// Recording is the answer to a batch of interactions, in the order sent.
type Recording struct {
	Recorded     int                   `json:"recorded"`
	Duplicates   int                   `json:"duplicates"`
	Interactions []RecordedInteraction `json:"interactions"`
}

// RecordInteractions records the calling student's interactions, each once however often it is sent,
// and updates their progress in the same transaction. Every interaction counts against the student's
// limit (RateLimited beyond it, nothing recorded; a refused batch still spends what it took). NotFound,
// with nothing recorded, when an interaction names a lesson the student may not study (see StudyLesson) or
// an item the lesson does not have.
func (s *Service) RecordInteractions(ctx context.Context, in InteractionBatch) (*Recording, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	me, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	for range in.Interactions {
		if !s.limiter.Allow(me.StudentID) {
			return nil, apperr.Errorf(apperr.RateLimited, "too many interactions; retry later")
		}
	}
	lessons, err := s.studyLessons(ctx, me, in.Interactions)
	if err != nil {
		return nil, err
	}
	now := s.now()
	day := tenant.FromContext(ctx).Today(now)
	docs := make([]Interaction, len(in.Interactions))
	for i, ni := range in.Interactions {
		l := lessons[ni.LessonID]
		if ni.ItemID != "" && !slices.ContainsFunc(l.lesson.Items, func(it Item) bool { return it.ID == ni.ItemID }) {
			return nil, apperr.Errorf(apperr.NotFound, "no such item in lesson %s", ni.LessonID)
		}
		docs[i] = Interaction{ID: scopedID(me.StudentID, ni.ID), InteractionID: ni.ID, StudentID: me.StudentID,
			CourseID: l.lesson.CourseID, BatchID: l.batchID, LessonID: ni.LessonID, ItemID: ni.ItemID, Kind: ni.Kind,
			Seconds: ni.Seconds, At: now, Day: day}
	}
	out := &Recording{}
	err = store.Tx(ctx, store.Database(ctx), func(tc context.Context) error {
		var err error
		out, err = recordInteractions(tc, docs)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// recordInteractions inserts the interactions not recorded before and updates the progress of every
// course they touch. Run it in a store.Tx: the existence check and the inserts are one step.
func recordInteractions(tc context.Context, docs []Interaction) (*Recording, error) {
	coll := store.Database(tc).Collection(interactionsCollection)
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	cur, err := coll.Find(tc, bson.M{"_id": store.In(ids)})
	if err != nil {
		return nil, fmt.Errorf("find recorded interactions: %w", err)
	}
	var existing []Interaction
	if err := cur.All(tc, &existing); err != nil {
		return nil, fmt.Errorf("find recorded interactions: %w", err)
	}
	before := map[string]*Interaction{}
	for i := range existing {
		before[existing[i].ID] = &existing[i]
	}
	out := &Recording{Interactions: make([]RecordedInteraction, len(docs))}
	var fresh []any
	type courseKey struct{ course, batch string }
	touched := map[courseKey][]string{}
	var order []courseKey
	for i, d := range docs {
		if old := before[d.ID]; old != nil {
			out.Interactions[i] = RecordedInteraction{Interaction: *old, Duplicate: true}
			out.Duplicates++
			continue
		}
		out.Interactions[i] = RecordedInteraction{Interaction: d}
		out.Recorded++
		fresh = append(fresh, d)
		k := courseKey{d.CourseID, d.BatchID}
		if _, ok := touched[k]; !ok {
			order = append(order, k)
			touched[k] = []string{}
		}
		if d.Kind == Completed && d.ItemID == "" {
			touched[k] = append(touched[k], d.LessonID)
		}
	}
	if len(fresh) == 0 {
		return out, nil
	}
	if _, err := coll.InsertMany(tc, fresh); err != nil {
		return nil, fmt.Errorf("record %d interactions: %w", len(fresh), err)
	}
	at := docs[0].At
	for _, k := range order {
		if err := touchProgress(tc, docs[0].StudentID, k.course, k.batch, touched[k], at); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type studied struct {
	lesson  *Lesson
	batchID string
}

// studyLessons resolves every lesson a batch of interactions names, with the rule of studyLesson, in as
// few reads as the batch allows. NotFound for the first lesson the student may not study.
func (s *Service) studyLessons(ctx context.Context, me *learner, ins []NewInteraction) (map[string]studied, error) {
	var ids []string
	for _, in := range ins {
		if !slices.Contains(ids, in.LessonID) {
			ids = append(ids, in.LessonID)
		}
	}
	db := store.Database(ctx)
	cur, err := db.Collection(lessonsCollection).Find(ctx, bson.M{"_id": store.In(ids), "status": string(Published)})
	if err != nil {
		return nil, fmt.Errorf("lessons of interactions: %w", err)
	}
	var lessons []Lesson
	if err := cur.All(ctx, &lessons); err != nil {
		return nil, fmt.Errorf("lessons of interactions: %w", err)
	}
	var moduleIDs []string
	for _, l := range lessons {
		moduleIDs = append(moduleIDs, l.ModuleID)
	}
	cur, err = db.Collection(modulesCollection).Find(ctx, bson.M{"_id": store.In(moduleIDs), "status": string(Published)})
	if err != nil {
		return nil, fmt.Errorf("modules of interactions: %w", err)
	}
	var mods []Module
	if err := cur.All(ctx, &mods); err != nil {
		return nil, fmt.Errorf("modules of interactions: %w", err)
	}
	batches, err := s.enrolledBatches(ctx, me.StudentID)
	if err != nil {
		return nil, err
	}
	out := map[string]studied{}
	for i := range lessons {
		l := &lessons[i]
		b, enrolled := batches[l.CourseID]
		if enrolled && slices.ContainsFunc(mods, func(m Module) bool { return m.ID == l.ModuleID }) {
			out[l.ID] = studied{lesson: l, batchID: b}
		}
	}
	for _, lid := range ids {
		if _, ok := out[lid]; !ok {
			return nil, apperr.Errorf(apperr.NotFound, "no such lesson %s", lid)
		}
	}
	return out, nil
}
