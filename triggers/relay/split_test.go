package relay

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/store"
)

func marshal(t *testing.T, v bson.D) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// frag is fragment n of of a split change event, carrying fields.
func frag(t *testing.T, n, of int, fields ...bson.E) bson.Raw {
	t.Helper()
	return marshal(t, append(bson.D{{Key: "_id", Value: bson.D{{Key: "_data", Value: "82" + string(rune('0'+n))}}},
		{Key: "splitEvent", Value: bson.D{{Key: "fragment", Value: int32(n)}, {Key: "of", Value: int32(of)}}}}, fields...))
}

// A split change event is rebuilt from its fragments before it is published; fragments that cannot make
// a whole event are handed back as dropped (for a backfill), never published in pieces, and a gap costs
// only the event it broke.
func TestFragmentsReassemble(t *testing.T) {
	whole := bson.D{{Key: "operationType", Value: "update"}, {Key: "ns", Value: bson.D{{Key: "db", Value: "edu_acme"}, {Key: "coll", Value: "users"}}},
		{Key: "fullDocument", Value: bson.D{{Key: "name", Value: "Ann"}}}, {Key: "updateDescription", Value: bson.D{{Key: "updatedFields", Value: bson.D{{Key: "name", Value: "Ann"}}}}}}
	unsplit := marshal(t, append(bson.D{{Key: "_id", Value: "t"}}, whole...))
	three := []bson.Raw{frag(t, 1, 3, whole[0], whole[1]), frag(t, 2, 3, whole[2]), frag(t, 3, 3, whole[3])}
	for _, c := range []struct {
		name     string
		changes  []bson.Raw
		wantDone []bool
		// wantDropped: how many fragments each change hands back as dropped.
		wantDropped []int
		// wantWhole: the last change completes the whole event.
		wantWhole bool
	}{
		{"not split", []bson.Raw{unsplit}, []bool{true}, []int{0}, true},
		{"three fragments", three, []bool{false, false, true}, []int{0, 0, 0}, true},
		{"a fragment missing", []bson.Raw{three[0], three[2]}, []bool{false, false}, []int{0, 2}, false},
		{"out of order", []bson.Raw{three[1], three[0], three[2]}, []bool{false, false, false}, []int{1, 0, 2}, false},
		{"a change before the last fragment", []bson.Raw{three[0], three[1], unsplit}, []bool{false, false, true}, []int{0, 0, 2}, true},
		{"a new event after a gap is rebuilt", slices.Concat(three[:2], three), []bool{false, false, false, false, true}, []int{0, 0, 2, 0, 0}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var f fragments
			var got bson.Raw
			for i, ch := range c.changes {
				out, done, dropped, err := f.add(ch)
				if done != c.wantDone[i] || len(dropped) != c.wantDropped[i] || (err != nil) != (len(dropped) > 0) {
					t.Fatalf("change %d: done %v, %d dropped, error %v; want done %v, %d dropped", i, done, len(dropped), err, c.wantDone[i], c.wantDropped[i])
				}
				got = out
			}
			if !c.wantWhole {
				if got != nil || len(f.parts) != 0 {
					t.Fatalf("incomplete event: returned %s, %d fragments still pending", got, len(f.parts))
				}
				return
			}
			if _, split := got.Lookup("splitEvent").DocumentOK(); split {
				t.Fatalf("reassembled change keeps splitEvent: %s", got)
			}
			for _, e := range whole {
				if got.Lookup(e.Key).Validate() != nil {
					t.Fatalf("reassembled change lacks %s: %s", e.Key, got)
				}
			}
			if name := got.Lookup("fullDocument", "name").StringValue(); name != "Ann" {
				t.Fatalf("fullDocument.name = %q in %s", name, got)
			}
		})
	}
}

// A change whose fragments were dropped is recorded for a backfill as narrowly as they tell: its
// document when one fragment carried the key, its tenant when only ns came, every tenant of the cluster
// when nothing said where; a change the relay never publishes records nothing.
func TestLostChangeIsRecordedForBackfill(t *testing.T) {
	ctx := context.Background()
	ns := func(db, coll string) bson.E {
		return bson.E{Key: "ns", Value: bson.D{{Key: "db", Value: db}, {Key: "coll", Value: coll}}}
	}
	key := func(id any) bson.E { return bson.E{Key: "documentKey", Value: bson.D{{Key: "_id", Value: id}}} }
	op := bson.E{Key: "operationType", Value: "update"}
	for _, c := range []struct {
		name    string
		dropped []bson.Raw
		want    []string // backfill request ids
	}{
		{"the document", []bson.Raw{frag(t, 1, 3, op), frag(t, 3, 3, ns("edu_acme", "users"), key("u1"))}, []string{"default/acme/users/u1"}},
		{"key and ns in different fragments", []bson.Raw{frag(t, 1, 3, op, key("u2")), frag(t, 3, 3, ns("edu_acme", "users"))}, []string{"default/acme/users/u2"}},
		{"its tenant", []bson.Raw{frag(t, 1, 3, op, ns("edu_acme", "users"))}, []string{"default/acme"}},
		{"every tenant", []bson.Raw{frag(t, 1, 3, op)}, []string{"default/acme", "default/beta"}},
		{"an unanalysed collection", []bson.Raw{frag(t, 1, 3, ns("edu_acme", "scratch"), key("x"))}, nil},
		{"another database", []bson.Raw{frag(t, 1, 3, ns("edugrid_platform", "users"), key("x"))}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := store.NewDialer()
			t.Cleanup(d.Close)
			client, err := d.Dial(ctx, "lungo:memory:lost-change")
			if err != nil {
				t.Fatal(err)
			}
			for _, db := range []string{"edu_acme", "edu_beta"} {
				if _, err := client.Database(db).Collection("users").InsertOne(ctx, bson.M{"_id": "seed"}); err != nil {
					t.Fatal(err)
				}
			}
			platform := client.Database("edugrid_platform")
			r := New(Config{Cluster: "default", Client: client, Platform: platform, Publisher: nil, Collections: []string{"users"},
				Clock: clock.NewManual(clock.System().Now()), Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
			if err := r.recordLostChange(ctx, c.dropped, "test"); err != nil {
				t.Fatal(err)
			}
			reqs, err := r.PendingBackfills(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, q := range reqs {
				got = append(got, q.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Fatalf("backfills %v, want %v", got, c.want)
			}
		})
	}
}

// scriptedStream hands out the given changes in order, then ends as a closed stream does.
type scriptedStream struct {
	changes []bson.Raw
	at      int
}

func (s *scriptedStream) Close(context.Context) error { return nil }
func (s *scriptedStream) Decode(v any) error          { return bson.Unmarshal(s.changes[s.at-1], v) }
func (s *scriptedStream) Err() error                  { return nil }
func (s *scriptedStream) ID() int64                   { return 1 }
func (s *scriptedStream) Next(ctx context.Context) bool {
	return s.TryNext(ctx)
}
func (s *scriptedStream) ResumeToken() bson.Raw {
	if s.at == 0 {
		return nil
	}
	return s.changes[s.at-1].Lookup("_id").Document()
}
func (s *scriptedStream) SetBatchSize(int32) {}
func (s *scriptedStream) TryNext(context.Context) bool {
	if s.at >= len(s.changes) {
		return false
	}
	s.at++
	return true
}

type recordingPub struct{ keys []string }

type doneResult struct{}

func (doneResult) Get(context.Context) (string, error) { return "id", nil }

func (p *recordingPub) Publish(_ context.Context, key string, _ []byte, _ map[string]string) Result {
	p.keys = append(p.keys, key)
	return doneResult{}
}
func (p *recordingPub) ResumePublish(string) {}

// A split event whose middle fragment never came is not a stuck stream: the stream reads on, the change
// after it is published, and the lost change's document is recorded for a backfill before that
// change's position is handed on for the checkpoint.
func TestFragmentGapBackfillsAndReadsOn(t *testing.T) {
	ctx := context.Background()
	d := store.NewDialer()
	t.Cleanup(d.Close)
	client, err := d.Dial(ctx, "lungo:memory:fragment-gap")
	if err != nil {
		t.Fatal(err)
	}
	pub := &recordingPub{}
	r := New(Config{Cluster: "default", Client: client, Platform: client.Database("edugrid_platform"), Publisher: pub,
		Collections: []string{"users"}, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	ns := bson.E{Key: "ns", Value: bson.D{{Key: "db", Value: "edu_acme"}, {Key: "coll", Value: "users"}}}
	next := marshal(t, bson.D{{Key: "_id", Value: bson.D{{Key: "_data", Value: "8299"}}}, {Key: "operationType", Value: "insert"},
		{Key: "clusterTime", Value: primitive.Timestamp{T: 1780304400, I: 1}}, ns,
		{Key: "documentKey", Value: bson.D{{Key: "_id", Value: "u2"}}}, {Key: "fullDocument", Value: bson.D{{Key: "_id", Value: "u2"}}}})
	stream := &scriptedStream{changes: []bson.Raw{
		frag(t, 1, 3, bson.E{Key: "operationType", Value: "update"}, ns, bson.E{Key: "documentKey", Value: bson.D{{Key: "_id", Value: "u1"}}}),
		frag(t, 3, 3, bson.E{Key: "updateDescription", Value: bson.D{}}),
		next,
	}}
	inflight := make(chan pending, 10)
	if err := r.read(ctx, stream, inflight); err != nil {
		t.Fatalf("read = %v, want the stream read to its end", err)
	}
	close(inflight)
	var positions []string
	for p := range inflight {
		if p.res != nil {
			positions = append(positions, p.key)
		}
	}
	if len(pub.keys) != 1 || len(positions) != 1 {
		t.Fatalf("published %v (handed on %v), want the one change after the gap", pub.keys, positions)
	}
	reqs, err := r.PendingBackfills(ctx)
	if err != nil || len(reqs) != 1 || reqs[0].ID != "default/acme/users/u1" {
		t.Fatalf("backfills %+v, %v; want u1's document", reqs, err)
	}
}
