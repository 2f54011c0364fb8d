package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
)

// A transaction waiting behind another at its context's deadline gives up with DeadlineExceeded without
// running its function, and writes nothing even once the engine frees up; the next one succeeds.
func TestTxGivesUpWaitingAtTheDeadline(t *testing.T) {
	db := newDB(t)
	coll := db.Collection("things")
	holding, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- Tx(context.Background(), db, func(ctx context.Context) error {
			if _, err := coll.InsertOne(ctx, bson.M{"_id": "held"}); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	ran := make(chan struct{}, 1)
	start := time.Now()
	err := Tx(ctx, db, func(ctx context.Context) error {
		ran <- struct{}{}
		_, err := coll.InsertOne(ctx, bson.M{"_id": "late"})
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) || !IsTimeout(err) {
		t.Fatalf("Tx behind a held transaction = %v, want a timeout", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("Tx gave up after %s, want about its 50 ms deadline", waited)
	}

	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	// The abandoned transaction's goroutine gets the token after the held one and must abort unrun; a
	// transaction after it serialises behind it, so once this one commits the other has finished.
	if err := Tx(context.Background(), db, func(ctx context.Context) error {
		_, err := coll.InsertOne(ctx, bson.M{"_id": "next"})
		return err
	}); err != nil {
		t.Fatalf("Tx after the block cleared: %v", err)
	}
	select {
	case <-ran:
		t.Fatal("the abandoned transaction ran its function")
	default:
	}
	if n := count(t, coll, bson.M{}); n != 2 {
		t.Fatalf("%d documents, want the held one and the next one", n)
	}
}

// Once a transaction's function runs, a deadline passing meanwhile does not report it failed: it may
// commit, and then it did.
func TestTxWaitsForARunningFunction(t *testing.T) {
	db := newDB(t)
	coll := db.Collection("things")
	ctx, cancel := context.WithCancel(context.Background())
	err := Tx(ctx, db, func(tc context.Context) error {
		if _, err := coll.InsertOne(tc, bson.M{"_id": "a"}); err != nil {
			return err
		}
		cancel() // the request's deadline passes while the transaction works
		return nil
	})
	if err != nil {
		t.Fatalf("Tx = %v, want its committed success", err)
	}
	if n := count(t, coll, bson.M{"_id": "a"}); n != 1 {
		t.Fatalf("%d documents, want the committed one", n)
	}
}

func TestIsTimeout(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"deadline", context.DeadlineExceeded, true},
		{"wrapped deadline", fmt.Errorf("find student: %w", context.DeadlineExceeded), true},
		{"network timeout", fmt.Errorf("read: %w", &net.OpError{Op: "read", Err: timeoutErr{}}), true},
		{"cancelled", context.Canceled, false},
		{"not found", mongo.ErrNoDocuments, false},
		{"other", errors.New("boom"), false},
	}
	for _, tt := range tests {
		if got := IsTimeout(tt.err); got != tt.want {
			t.Errorf("%s: IsTimeout(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
