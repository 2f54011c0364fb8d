package attendance

import (
	"context"
	"fmt"

	"github.com/256dpi/lungo"

	"github.com/edugrid/edugrid/shared/store"
)

// ImportSheets writes whole attendance sheets as they are, in one insert, for the demo seed and imports of
// past attendance: no roster check, no alert, no audit entry, and a sheet that already exists fails the
// insert. db is the tenant database; ctx may be a store.Tx context.
func ImportSheets(ctx context.Context, db lungo.IDatabase, sheets []Sheet) error {
	if err := store.InsertAll(ctx, db.Collection(sheetsCollection), sheets); err != nil {
		return fmt.Errorf("import attendance sheets: %w", err)
	}
	return nil
}
