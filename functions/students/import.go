package students

import (
	"context"
	"fmt"

	"github.com/256dpi/lungo"

	"github.com/edugrid/edugrid/shared/store"
)

// ImportStudents writes student records as they are, in one insert, for bulk imports and test fixtures
// that need many students fast: no PRN is allocated, no sign-in account created, no audit entry written,
// and a record whose id, PRN or account already exists fails the insert. db is the tenant database; ctx
// may be a store.Tx context. Students admitted through the institution use CreateStudent.
func ImportStudents(ctx context.Context, db lungo.IDatabase, sts []Student) error {
	if err := store.InsertAll(ctx, db.Collection(studentsCollection), sts); err != nil {
		return fmt.Errorf("import students: %w", err)
	}
	return nil
}
