package apptest

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/internal/wiretest"
)

// Writes follows every write to every database of an Env, the platform's and every cluster's, through
// the engines' change streams. Reading what was written since the last look costs a map lookup when
// nothing was, so a test can check after each of thousands of requests that a refused one wrote nothing.
type Writes struct {
	streams []lungo.IChangeStream
}

// testingTB is the part of testing.TB Writes uses: a fuzz target must not call its *testing.F's methods
// while fuzzing, so Since takes the test it reports to.
type testingTB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// WatchWrites starts following the Env's writes; the streams close when the test ends. Over the wire it
// needs change streams, and skips the test on a server without them (wiretest.RequireChangeStreams).
func (e *Env) WatchWrites() *Writes {
	e.T.Helper()
	wiretest.RequireChangeStreams(e.T)
	ctx := context.Background()
	uris := []string{e.App.Config.PlatformURI}
	for _, uri := range e.App.Config.Clusters {
		if !slices.Contains(uris, uri) {
			uris = append(uris, uri)
		}
	}
	w := &Writes{}
	for _, uri := range uris {
		lease, err := e.App.Clusters.Acquire(ctx, uri)
		if err != nil {
			e.T.Fatalf("apptest: watch writes on %s: %v", uri, err)
		}
		// A server holds an idle getMore up to the await time, and Since looks after every request: short,
		// yet long enough for a write acknowledged by a majority to reach the stream.
		stream, err := lease.Client().Watch(ctx, mongo.Pipeline{}, options.ChangeStream().SetMaxAwaitTime(50*time.Millisecond))
		if err != nil {
			lease.Release()
			e.T.Fatalf("apptest: watch writes on %s: %v", uri, err)
		}
		w.streams = append(w.streams, stream)
		e.T.Cleanup(func() {
			_ = stream.Close(context.Background())
			lease.Release()
		})
	}
	return w
}

// Since returns the writes made since the previous call (or since WatchWrites), one "db.collection op"
// per write, and fails t when a stream broke (more writes than the engine's oplog keeps happened between
// two looks).
func (w *Writes) Since(t testingTB) []string {
	t.Helper()
	var out []string
	for _, s := range w.streams {
		for s.TryNext(context.Background()) {
			var ev struct {
				Op string `bson:"operationType"`
				NS struct {
					DB   string `bson:"db"`
					Coll string `bson:"coll"`
				} `bson:"ns"`
			}
			if err := s.Decode(&ev); err != nil {
				t.Fatalf("apptest: decode a change event: %v", err)
			}
			out = append(out, fmt.Sprintf("%s.%s %s", ev.NS.DB, ev.NS.Coll, ev.Op))
		}
		if err := s.Err(); err != nil {
			t.Fatalf("apptest: following writes: %v", err)
		}
	}
	return out
}
