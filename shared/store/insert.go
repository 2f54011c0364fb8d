package store

import (
	"context"
	"fmt"

	"github.com/256dpi/lungo"
)

// InsertAll writes docs into coll in one InsertMany, for bulk imports and seeding; nothing is written when
// docs is empty (InsertMany refuses an empty list).
func InsertAll[T any](ctx context.Context, coll lungo.ICollection, docs []T) error {
	if len(docs) == 0 {
		return nil
	}
	all := make([]any, len(docs))
	for i, d := range docs {
		all[i] = d
	}
	if _, err := coll.InsertMany(ctx, all); err != nil {
		return fmt.Errorf("insert %d into %s: %w", len(docs), coll.Name(), err)
	}
	return nil
}
