package fees

import (
	"context"
	"fmt"

	"github.com/256dpi/lungo"

	"github.com/edugrid/edugrid/shared/store"
)

// ImportInstalments writes instalments as they are, in one insert, for bulk imports and test fixtures that
// need many dues fast: no assignment is checked, no audit entry written, and an instalment whose id exists
// fails the insert. db is the tenant database; ctx may be a store.Tx context. Dues of a real enrolment come
// from Assign.
func ImportInstalments(ctx context.Context, db lungo.IDatabase, is []Instalment) error {
	if err := store.InsertAll(ctx, db.Collection(instalmentsCollection), is); err != nil {
		return fmt.Errorf("import instalments: %w", err)
	}
	return nil
}

// InstalmentByID returns an instalment as stored; NotFound ("no such instalment") when there is none or the
// id is malformed. db is the tenant database; no visibility check is made, so it serves the system's own
// jobs and tests, not a request.
func InstalmentByID(ctx context.Context, db lungo.IDatabase, instalmentID string) (*Instalment, error) {
	return store.ByID[Instalment](ctx, db.Collection(instalmentsCollection), instalmentID, "instalment")
}
