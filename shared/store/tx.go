package store

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/256dpi/lungo"
)

// Tx runs fn in a multi-document transaction on db's cluster. fn must do all its reads and writes with the
// context it is given, which carries the session; a returned error aborts the transaction and is returned
// as is. On MongoDB the transaction reads a snapshot and commits with write concern majority, whatever the
// cluster URI says, and the driver retries fn on transient transaction errors, so fn must be safe to run
// again; the embedded engine serialises transactions and never retries.
//
// Called with a context that already carries a Tx, fn joins that transaction instead of starting another:
// an operation that is one transaction on its own (create a student, enrol, assign a fee plan) becomes one
// step of a larger all-or-nothing operation (convert a lead) without changing its code. The outer Tx then
// decides alone whether everything commits, and an inner error aborts everything.
//
// A transaction still waiting to begin when ctx ends gives up with ctx's error (context.DeadlineExceeded
// for a request past its deadline) and never runs fn. The embedded engine waits for its one write token
// without looking at the context, so the wait happens on another goroutine, which, once the token comes,
// aborts at once. Once fn runs, Tx waits for it: a transaction that may still commit is never reported
// as failed.
func Tx(ctx context.Context, db lungo.IDatabase, fn func(ctx context.Context) error) error {
	if InTx(ctx) {
		return fn(ctx)
	}
	if ctx.Done() == nil {
		return tx(ctx, db, fn)
	}
	const waiting, running, abandoned = 0, 1, 2
	var state atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- tx(ctx, db, func(tc context.Context) error {
			// A retry by the driver finds running already and runs fn again.
			if !state.CompareAndSwap(waiting, running) && state.Load() == abandoned {
				return ctx.Err()
			}
			return fn(tc)
		})
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if state.CompareAndSwap(waiting, abandoned) {
			return fmt.Errorf("transaction on %s: waiting to begin: %w", db.Name(), ctx.Err())
		}
		return <-done
	}
}

func tx(ctx context.Context, db lungo.IDatabase, fn func(ctx context.Context) error) error {
	var fnErr error
	err := db.Client().UseSession(ctx, func(sc lungo.ISessionContext) error {
		_, err := sc.WithTransaction(sc, func(tc lungo.ISessionContext) (any, error) {
			fnErr = fn(context.WithValue(tc, txKey{}, true))
			return nil, fnErr
		}, txOptions())
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
