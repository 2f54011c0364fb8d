package fees

import (
	"context"
	"errors"
	"testing"

	"github.com/edugrid/edugrid/shared/store"
)

// An aborted transaction gives its number back: the next committed one takes it, so receipts have no gaps.
func TestAbortedNumberIsReused(t *testing.T) {
	d := store.NewDialer()
	t.Cleanup(d.Close)
	client, err := d.Dial(context.Background(), "lungo:memory:counter-test")
	if err != nil {
		t.Fatal(err)
	}
	db := client.Database("edu_counter")
	ctx := store.WithDatabase(context.Background(), db)
	take := func(fail bool) (int64, error) {
		var n int64
		err := store.Tx(ctx, db, func(tc context.Context) error {
			var err error
			if n, err = nextNumber(tc, "receipt"); err != nil {
				return err
			}
			if fail {
				return errors.New("payment failed after taking its number")
			}
			return nil
		})
		return n, err
	}
	if n, err := take(false); err != nil || n != 1 {
		t.Fatalf("first = %d, %v", n, err)
	}
	if _, err := take(true); err == nil {
		t.Fatal("the failing transaction committed")
	}
	if n, err := take(false); err != nil || n != 2 {
		t.Fatalf("after an abort = %d, %v; want 2", n, err)
	}
}
