package learning

import (
	"context"
	"fmt"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/shared/store"
)

// History is learners' recorded activity, as the API would have stored it.
type History struct {
	Interactions []Interaction
	Attempts     []Attempt
	Progress     []Progress
}

// ImportHistory writes h as it is, one insert per collection, for the demo seed and imports of past
// activity: no rate limit, no recomputation of progress, and a document that already exists fails the
// insert. db is the tenant database; give a store.Tx context to write all of it or nothing.
func ImportHistory(ctx context.Context, db lungo.IDatabase, h History) error {
	if err := store.InsertAll(ctx, db.Collection(interactionsCollection), h.Interactions); err != nil {
		return fmt.Errorf("import learning history: %w", err)
	}
	if err := store.InsertAll(ctx, db.Collection(attemptsCollection), h.Attempts); err != nil {
		return fmt.Errorf("import learning history: %w", err)
	}
	if err := store.InsertAll(ctx, db.Collection(progressCollection), h.Progress); err != nil {
		return fmt.Errorf("import learning history: %w", err)
	}
	return nil
}

// CourseHistory reads back every learner's interactions, quiz attempts and progress in a course, in no
// particular order: the inverse of ImportHistory, for exports and for checking an import. db is the
// tenant database; no visibility check is made.
func CourseHistory(ctx context.Context, db lungo.IDatabase, courseID string) (History, error) {
	var h History
	for coll, out := range map[string]any{interactionsCollection: &h.Interactions, attemptsCollection: &h.Attempts, progressCollection: &h.Progress} {
		cur, err := db.Collection(coll).Find(ctx, bson.M{"course_id": courseID})
		if err == nil {
			err = cur.All(ctx, out)
		}
		if err != nil {
			return History{}, fmt.Errorf("learning history of course %s: %s: %w", courseID, coll, err)
		}
	}
	return h, nil
}
