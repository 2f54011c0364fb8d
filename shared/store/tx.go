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
//
// Called with a context that already carries a Tx, fn joins that transaction instead of starting another:
// an operation that is one transaction on its own (create a student, enrol, assign a fee plan) becomes one
// step of a larger all-or-nothing operation (convert a lead) without changing its code. The outer Tx then
// decides alone whether everything commits, and an inner error aborts everything.
func Tx(ctx context.Context, db lungo.IDatabase, fn func(ctx context.Context) error) error {
	if InTx(ctx) {
		return fn(ctx)
	}
	var fnErr error
	err := db.Client().UseSession(ctx, func(sc lungo.ISessionContext) error {
		_, err := sc.WithTransaction(sc, func(tc lungo.ISessionContext) (any, error) {
			fnErr = fn(context.WithValue(tc, txKey{}, true))
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

type txKey struct{}

// InTx reports whether ctx carries a transaction started by Tx.
func InTx(ctx context.Context) bool {
	in, _ := ctx.Value(txKey{}).(bool)
	return in
}
