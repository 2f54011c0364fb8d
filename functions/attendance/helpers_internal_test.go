package attendance

import (
	"context"
	"testing"

	"github.com/256dpi/lungo"

	"github.com/edugrid/edugrid/shared/store"
)

// memoryDB returns a context holding a fresh database on an embedded engine in memory, and the database.
func memoryDB(tb testing.TB, name string) (context.Context, lungo.IDatabase) {
	tb.Helper()
	ctx := context.Background()
	d := store.NewDialer()
	tb.Cleanup(d.Close)
	client, err := d.Dial(ctx, "lungo:memory:"+name)
	if err != nil {
		tb.Fatal(err)
	}
	db := client.Database(name)
	return store.WithDatabase(ctx, db), db
}
