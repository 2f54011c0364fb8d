package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/256dpi/lungo"
)

// Tx runs fn in a multi-document transaction on db's cluster. fn must do all its reads and writes with the
// context it is given, which carries the session; a returned error aborts the transaction and is returned
// as is. On MongoDB the transaction reads a snapshot and commits with write concern majority, whatever the
// cluster URI says. An attempt that fails with a TransientTransactionError (a write conflict, a failover)
// runs fn again after a jittered pause, up to 8 attempts and never past ctx's deadline, so fn must be safe
// to run again: it may not keep anything from an attempt outside the database (tests prove it with
// WithTxFaults). A commit with an unknown outcome is retried alone. The embedded engine serialises
// transactions and fails none of them, so there only injected faults cause retries.
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
	faults, _ := ctx.Value(faultsKey{}).(TxFaults)
	err := db.Client().UseSession(ctx, func(sc lungo.ISessionContext) error {
		for attempt := 1; ; attempt++ {
			err := runAttempt(sc, fn, faults, attempt)
			if err == nil || !HasLabel(err, labelTransient) {
				return err
			}
			// The whole transaction was aborted (a write conflict, a primary stepping down): run it again
			// after a pause, unless the request's deadline comes first.
			if perr := pause(ctx, attempt); perr != nil {
				return fmt.Errorf("%w (%w)", err, perr)
			}
		}
	})
	// The error itself, not one wrapping it: an fnError Tx wrapped further (retries given up) keeps its
	// context. Compared by type, never with ==: the driver's errors hold slices, and comparing two
	// fnErrors holding one would panic.
	if own, ok := err.(fnError); ok {
		return own.err // fn's error as fn returned it
	}
	if err != nil {
		return fmt.Errorf("transaction on %s: %w", db.Name(), err)
	}
	return nil
}

// fnError marks an error fn returned, so that Tx hands it back unchanged.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }
func (e fnError) Unwrap() error { return e.err }

// runAttempt runs one attempt of a transaction: fn, then the commit. A commit whose outcome is unknown
// (UnknownTransactionCommitResult: the connection dropped after the commit was sent) is retried on its
// own, never by running fn again, since fn's writes may already be committed; MongoDB makes a repeated
// commit of one transaction a no-op.
func runAttempt(sc lungo.ISessionContext, fn func(ctx context.Context) error, faults TxFaults, attempt int) error {
	if err := sc.StartTransaction(txOptions()); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	abort := func(err error) error {
		_ = sc.AbortTransaction(context.WithoutCancel(sc))
		return err
	}
	if err := faults.at(attempt, BeforeBody); err != nil {
		return abort(err)
	}
	if err := fn(context.WithValue(sc, txKey{}, true)); err != nil {
		return abort(fnError{err})
	}
	if err := faults.at(attempt, BeforeCommit); err != nil {
		return abort(err)
	}
	committed := false
	for try := 1; ; try++ {
		var err error
		if committed {
			err = nil // the commit went through; this retry is the no-op MongoDB answers
		} else if err = sc.CommitTransaction(sc); err == nil {
			committed = true
			err = faults.at(attempt, AfterCommit)
		}
		if err == nil {
			return nil
		}
		if !HasLabel(err, labelUnknownCommit) {
			return fmt.Errorf("commit: %w", err)
		}
		if perr := pause(sc, try); perr != nil {
			return errors.Join(err, perr)
		}
	}
}

// The driver's error labels that make a transaction worth retrying.
const (
	labelTransient     = "TransientTransactionError"
	labelUnknownCommit = "UnknownTransactionCommitResult"
)

// HasLabel reports whether err (or an error it wraps) carries the MongoDB error label.
func HasLabel(err error, label string) bool {
	var l interface{ HasErrorLabel(string) bool }
	for err != nil {
		if errors.As(err, &l) && l.HasErrorLabel(label) {
			return true
		}
		// errors.As stops at the first labelled error; a joined or wrapped chain may hold another.
		next := errors.Unwrap(err)
		if next == nil {
			return false
		}
		err = next
	}
	return false
}

// Retry pauses: full jitter over an exponential ceiling (5 ms, 10 ms, … up to 500 ms), so instances that
// conflicted on one hot document do not collide again in step, and at most maxAttempts attempts.
const (
	pauseBase   = 5 * time.Millisecond
	pauseCap    = 500 * time.Millisecond
	maxAttempts = 8
)

// pauseLength is the pause after attempt: 1 ms plus jitter(ceiling), a uniform draw below the attempt's
// ceiling (5 ms doubling up to 500 ms).
func pauseLength(attempt int, jitter func(ceiling time.Duration) time.Duration) time.Duration {
	return jitter(min(pauseCap, pauseBase<<(attempt-1))) + time.Millisecond
}

// pause waits before attempt+1, or returns why there is none: the attempts are used up, or ctx ends
// (or would end) before the pause does.
func pause(ctx context.Context, attempt int) error {
	if attempt >= maxAttempts {
		return fmt.Errorf("gave up after %d attempts", attempt)
	}
	d := pauseLength(attempt, rand.N[time.Duration])
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		return fmt.Errorf("no retry before the deadline: %w", context.DeadlineExceeded)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TxPoint is where in an attempt a test's fault strikes.
type TxPoint int

// The points of an attempt.
const (
	BeforeBody   TxPoint = iota // the transaction started, fn not yet run
	BeforeCommit                // fn ran and its writes are pending
	AfterCommit                 // the commit was applied, its answer lost
)

// TxFaults decides, for each attempt of a transaction and each point in it, whether the attempt fails
// there and with which error; nil lets it through. Tests put one in a context (WithTxFaults) to prove that
// every transaction body is safe to run twice and a commit safe to retry; production code never does.
type TxFaults func(attempt int, at TxPoint) error

func (f TxFaults) at(attempt int, p TxPoint) error {
	if f == nil {
		return nil
	}
	return f(attempt, p)
}

type faultsKey struct{}

// WithTxFaults returns ctx with faults applied to every transaction Tx starts under it. For tests.
func WithTxFaults(ctx context.Context, faults TxFaults) context.Context {
	return context.WithValue(ctx, faultsKey{}, faults)
}

type txKey struct{}

// InTx reports whether ctx carries a transaction started by Tx.
func InTx(ctx context.Context) bool {
	in, _ := ctx.Value(txKey{}).(bool)
	return in
}
