package store

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
)

// labelled returns an error as the driver reports one with the given label.
func labelled(label string) error {
	return mongo.CommandError{Code: 112, Name: "WriteConflict", Message: "injected", Labels: []string{label}}
}

// failOn returns faults that fail the given attempts at p with err.
func failOn(p TxPoint, err error, attempts ...int) TxFaults {
	return func(attempt int, at TxPoint) error {
		for _, a := range attempts {
			if a == attempt && at == p {
				return err
			}
		}
		return nil
	}
}

func TestTxRetries(t *testing.T) {
	transient, unknown := labelled(labelTransient), labelled(labelUnknownCommit)
	every := []int{1, 2, 3, 4, 5, 6, 7, 8, 9}
	tests := []struct {
		name    string
		faults  TxFaults
		runs    int32 // how often fn ran
		visible int64 // documents committed
		fails   bool
	}{
		{"no fault", nil, 1, 1, false},
		{"transient before the body: fn runs once, on the second attempt", failOn(BeforeBody, transient, 1), 1, 1, false},
		{"transient after the body: its writes are undone and fn runs again", failOn(BeforeCommit, transient, 1), 2, 1, false},
		{"two transient attempts in a row", failOn(BeforeCommit, transient, 1, 2), 3, 1, false},
		{"commit applied, answer lost: the commit is retried, fn is not", failOn(AfterCommit, unknown, 1), 1, 1, false},
		{"transient every time: gives up after 8 attempts", failOn(BeforeCommit, transient, every...), 8, 0, true},
		{"an error without a retry label is not retried", failOn(BeforeCommit, errors.New("disk full"), 1), 1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newDB(t)
			var runs atomic.Int32
			ctx := WithTxFaults(context.Background(), tt.faults)
			err := Tx(ctx, db, func(ctx context.Context) error {
				runs.Add(1)
				_, err := db.Collection("receipts").InsertOne(ctx, bson.M{"_id": "r1"})
				return err
			})
			if (err != nil) != tt.fails {
				t.Fatalf("Tx = %v, want failure %v", err, tt.fails)
			}
			if got := runs.Load(); got != tt.runs {
				t.Errorf("fn ran %d times, want %d", got, tt.runs)
			}
			n, cerr := db.Collection("receipts").CountDocuments(context.Background(), bson.M{})
			if cerr != nil {
				t.Fatal(cerr)
			}
			if n != tt.visible {
				t.Errorf("%d receipts committed, want %d", n, tt.visible)
			}
		})
	}
}

func TestTxRetryStopsAtTheDeadline(t *testing.T) {
	db := newDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	// Each attempt's body runs, then the attempt conflicts: Tx waits for a transaction that has begun.
	ctx = WithTxFaults(ctx, failOn(BeforeCommit, labelled(labelTransient), 1, 2, 3, 4, 5, 6, 7, 8))
	start := time.Now()
	err := Tx(ctx, db, func(ctx context.Context) error { return nil })
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Tx = %v, want the deadline named", err)
	}
	if !HasLabel(err, labelTransient) {
		t.Errorf("Tx = %v, want the last attempt's error kept", err)
	}
	if waited := time.Since(start); waited > 200*time.Millisecond {
		t.Errorf("Tx retried for %s past a 30 ms deadline", waited)
	}
}

func TestPauseGrowsWithJitterUnderItsCap(t *testing.T) {
	lowest := func(time.Duration) time.Duration { return 0 }
	highest := func(c time.Duration) time.Duration { return c - 1 }
	for _, c := range []struct {
		attempt int
		longest time.Duration
	}{{1, 6 * time.Millisecond}, {2, 11 * time.Millisecond}, {3, 21 * time.Millisecond}, {7, 321 * time.Millisecond}, {8, 501 * time.Millisecond}, {20, 501 * time.Millisecond}} {
		if got := pauseLength(c.attempt, lowest); got != time.Millisecond {
			t.Errorf("attempt %d: shortest pause %s, want 1ms", c.attempt, got)
		}
		if got := pauseLength(c.attempt, highest); got != c.longest-1 {
			t.Errorf("attempt %d: longest pause %s, want just under %s", c.attempt, got, c.longest)
		}
	}
	if err := pause(context.Background(), 1); err != nil {
		t.Fatalf("pause after the first attempt: %v", err)
	}
	if err := pause(context.Background(), maxAttempts); err == nil {
		t.Error("pause after the last attempt = nil, want it to refuse")
	}
}

func TestHasLabel(t *testing.T) {
	wrapped := errors.Join(errors.New("other"), fnError{labelled(labelTransient)})
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("plain"), false},
		{labelled(labelTransient), true},
		{wrapped, true},
		{labelled(labelUnknownCommit), false},
	} {
		if got := HasLabel(c.err, labelTransient); got != c.want {
			t.Errorf("HasLabel(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// BenchmarkTxRetry measures what a write conflict costs a transaction: one attempt, and two attempts when
// the first is aborted after its body (the body runs twice, with one jittered pause between).
func BenchmarkTxRetry(b *testing.B) {
	for _, c := range []struct {
		name   string
		faults TxFaults
	}{
		{"first attempt commits", nil},
		{"first attempt conflicts", failOn(BeforeCommit, labelled(labelTransient), 1)},
	} {
		b.Run(c.name, func(b *testing.B) {
			db := newDB(b)
			ctx := WithTxFaults(context.Background(), c.faults)
			coll := db.Collection("receipts")
			n := 0
			for b.Loop() {
				n++
				if err := Tx(ctx, db, func(ctx context.Context) error {
					_, err := coll.InsertOne(ctx, bson.M{"_id": n})
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// fn's own error comes back as fn returned it, even of a type == cannot compare (the driver's errors
// hold their labels in a slice): on MongoDB a body returning the driver's error unwrapped, a write
// conflict or a refused command, once made Tx panic.
func TestTxReturnsFnErrorOfAnyType(t *testing.T) {
	db := newDB(t)
	refused := mongo.CommandError{Code: 9, Name: "FailedToParse", Message: "refused", Labels: []string{"NoRetry"}}
	err := Tx(context.Background(), db, func(ctx context.Context) error { return refused })
	var got mongo.CommandError
	if !errors.As(err, &got) || got.Code != 9 || err.Error() != refused.Error() {
		t.Fatalf("Tx = %v (%T), want fn's CommandError as it was", err, err)
	}
	// A transient one is retried until the attempts are used up, then reported with that context.
	err = Tx(context.Background(), db, func(ctx context.Context) error { return labelled(labelTransient) })
	if !HasLabel(err, labelTransient) || !strings.Contains(err.Error(), "gave up after 8 attempts") {
		t.Fatalf("Tx = %v, want the transient error after 8 attempts", err)
	}
}
