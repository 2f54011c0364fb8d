package store

import (
	"context"
	"fmt"

	"github.com/256dpi/lungo"
)

// Tx runs fn in a multi-document transaction on db's cluster. fn must do all its reads and writes with the
// context it is given, which carries the session; a returned error aborts the transaction and is returned
// as is. On MongoDB the driver retries fn on transient transaction errors, so fn must be safe to run again;
// the embedded engine serialises transactions and never retries.
func Tx(ctx context.Context, db lungo.IDatabase, fn func(ctx context.Context) error) error {
	var fnErr error
	err := db.Client().UseSession(ctx, func(sc lungo.ISessionContext) error {
		_, err := sc.WithTransaction(sc, func(tc lungo.ISessionContext) (any, error) {
			fnErr = fn(tc)
			return nil, fnErr
		})
		return err
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("transaction on %s: %w", db.Name(), err)
	}
	return nil
}
