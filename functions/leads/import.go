package leads

import (
	"context"
	"fmt"

	"github.com/256dpi/lungo"

	"github.com/edugrid/edugrid/shared/store"
)

// ImportFollowUps writes follow-ups as they are, in one insert, for the demo seed and imports of a
// funnel's history: unlike scheduling through the API, a follow-up may be due in the past. db is the
// tenant database; ctx may be a store.Tx context.
func ImportFollowUps(ctx context.Context, db lungo.IDatabase, followUps []FollowUp) error {
	if err := store.InsertAll(ctx, db.Collection(followUpsCollection), followUps); err != nil {
		return fmt.Errorf("import follow-ups: %w", err)
	}
	return nil
}
