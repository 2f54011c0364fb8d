package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/events"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
	"github.com/edugrid/edugrid/triggers/relay"
)

// fakePub records what is published; fail decides per message whether its publish fails.
type fakePub struct {
	mu      sync.Mutex
	msgs    []msg
	fail    func(e *events.Event) bool
	resumed []string
	arrived chan struct{}
}

type msg struct {
	key   string
	ev    *events.Event
	attrs map[string]string
	raw   string
}

type result struct{ err error }

func (r result) Get(context.Context) (string, error) { return "id", r.err }

func newPub() *fakePub { return &fakePub{arrived: make(chan struct{}, 100000)} }

func (p *fakePub) Publish(_ context.Context, key string, data []byte, attrs map[string]string) relay.Result {
	ev, err := events.Decode(data)
	if err != nil {
		panic(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil && p.fail(ev) {
		return result{errors.New("injected publish failure")}
	}
	p.msgs = append(p.msgs, msg{key, ev, attrs, string(data)})
	p.arrived <- struct{}{}
	return result{}
}

func (p *fakePub) ResumePublish(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resumed = append(p.resumed, key)
}

func (p *fakePub) all() []msg {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]msg(nil), p.msgs...)
}

// waitFor waits until n messages have arrived in total.
func (p *fakePub) waitFor(t *testing.T, n int) []msg {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for len(p.all()) < n {
		select {
		case <-p.arrived:
		case <-deadline:
			t.Fatalf("published %d messages, want %d", len(p.all()), n)
		}
	}
	return p.all()
}

type cluster struct {
	client   lungo.IClient
	platform lungo.IDatabase
}

func newCluster(t testing.TB) cluster {
	t.Helper()
	d := store.NewDialer()
	t.Cleanup(d.Close)
	c, err := d.Dial(context.Background(), "lungo:memory:relay-test")
	if err != nil {
		t.Fatal(err)
	}
	return cluster{client: c, platform: c.Database("edugrid_platform")}
}

func (c cluster) relay(pub relay.Publisher) *relay.Relay {
	return c.relayEvery(pub, 10*time.Millisecond)
}

func (c cluster) relayEvery(pub relay.Publisher, checkpointEvery time.Duration) *relay.Relay {
	return relay.New(relay.Config{
		Cluster: "default", Client: c.client, Platform: c.platform, Publisher: pub,
		Collections: []string{"users", "branches", "refresh_tokens"},
		Logger:      slog.New(slog.NewJSONHandler(io.Discard, nil)), CheckpointEvery: checkpointEvery,
	})
}

// start runs r until the returned stop is called; stop waits for Run to return.
func start(t *testing.T, r *relay.Relay) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("relay did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func (c cluster) db(slug string) lungo.IDatabase { return c.client.Database(tenant.DatabaseName(slug)) }

func waitReady(t *testing.T, r *relay.Relay) {
	t.Helper()
	select {
	case <-r.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("relay did not start")
	}
}

func TestPublishesFilteredRedactedEvents(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t)
	pub := newPub()
	r := c.relay(pub)
	start(t, r)
	waitReady(t, r)

	users := c.db("acme-co").Collection("users")
	if _, err := users.InsertOne(ctx, bson.M{"_id": "u1", "name": "Ann", "password_hash": "$argon2id$secret", "token_version": 3,
		"profile": bson.M{"api_key": "k", "city": "Pune"}, "created_at": time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	// Not published: another collection, a secret collection, a database that is not a tenant's.
	_, _ = c.db("acme-co").Collection("counters").InsertOne(ctx, bson.M{"_id": "x"})
	_, _ = c.db("acme-co").Collection("refresh_tokens").InsertOne(ctx, bson.M{"_id": "hash", "user": "u1"})
	_, _ = c.client.Database("other").Collection("users").InsertOne(ctx, bson.M{"_id": "z"})
	if _, err := users.UpdateOne(ctx, bson.M{"_id": "u1"}, bson.M{"$set": bson.M{"name": "Anne", "password_hash": "new"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := users.DeleteOne(ctx, bson.M{"_id": "u1"}); err != nil {
		t.Fatal(err)
	}

	msgs := pub.waitFor(t, 3)
	if len(msgs) != 3 {
		t.Fatalf("published %d, want 3: %+v", len(msgs), msgs)
	}
	ops := []events.Op{events.Insert, events.Update, events.Delete}
	var last events.ClusterTime
	for i, m := range msgs {
		ev := m.ev
		if ev.Op != ops[i] || ev.Tenant != "acme-co" || ev.Collection != "users" || ev.DocumentID != "u1" {
			t.Fatalf("event %d = %+v", i, ev)
		}
		if m.key != "acme-co/users/u1" || m.attrs[relay.AttrEventID] != ev.ID || m.attrs[relay.AttrTenant] != "acme-co" {
			t.Fatalf("event %d key %q attrs %v", i, m.key, m.attrs)
		}
		if ev.Time.Seq() <= last.Seq() {
			t.Fatalf("cluster times not increasing: %v then %v", last, ev.Time)
		}
		last = ev.Time
		if want := events.PositionFromTimestamp(ev.Time); ev.Position != want {
			t.Fatalf("event %d position %q, want %q (the embedded engine's token is its cluster time)", i, ev.Position, want)
		}
		for _, secret := range []string{"password", "argon2", "token", "api_key"} {
			if strings.Contains(m.raw, secret) {
				t.Fatalf("event %d leaks %q: %s", i, secret, m.raw)
			}
		}
	}
	var doc map[string]any
	if err := json.Unmarshal(msgs[0].ev.Document, &doc); err != nil || doc["name"] != "Ann" || doc["profile"].(map[string]any)["city"] != "Pune" {
		t.Fatalf("insert document = %s", msgs[0].ev.Document)
	}
	if !strings.Contains(string(msgs[1].ev.Updated), `"name":"Anne"`) || !strings.Contains(string(msgs[1].ev.Document), "Anne") {
		t.Fatalf("update = %s / %s", msgs[1].ev.Updated, msgs[1].ev.Document)
	}
}

// A relay stopped mid-stream and restarted publishes every change: nothing written while it was down
// or in flight when it stopped is lost (some may be published twice).
func TestRestartLosesNothing(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t)
	pub := newPub()
	r := c.relay(pub)
	stop := start(t, r)
	waitReady(t, r)
	coll := c.db("acme").Collection("branches")
	write := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := coll.InsertOne(ctx, bson.M{"_id": fmt.Sprintf("b%03d", i), "name": "x"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(0, 50)
	pub.waitFor(t, 20)
	stop() // mid-stream: some of the 50 may not be published yet
	write(50, 100)
	r = c.relay(pub)
	start(t, r)
	waitReady(t, r)
	write(100, 120)
	// Some changes may be published twice; wait for every document, not for a number of messages.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ids := map[string]bool{}
		for _, m := range pub.all() {
			ids[m.ev.DocumentID] = true
		}
		if len(ids) == 120 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("published %d distinct documents, want 120", len(ids))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A failed publish is never checkpointed past: the relay restarts from before it and publishes it.
func TestFailedPublishIsRetriedFromCheckpoint(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t)
	pub := newPub()
	var failOnce sync.Once
	pub.fail = func(e *events.Event) bool {
		failed := false
		if e.DocumentID == "b005" {
			failOnce.Do(func() { failed = true })
		}
		return failed
	}
	r := c.relay(pub)
	start(t, r)
	waitReady(t, r)
	for i := 0; i < 10; i++ {
		if _, err := c.db("acme").Collection("branches").InsertOne(ctx, bson.M{"_id": fmt.Sprintf("b%03d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ids := map[string]bool{}
		for _, m := range pub.all() {
			ids[m.ev.DocumentID] = true
		}
		if len(ids) == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("published %v, want all 10 documents", ids)
		}
		time.Sleep(10 * time.Millisecond)
	}
	pub.mu.Lock()
	resumed := pub.resumed
	pub.mu.Unlock()
	if len(resumed) == 0 || resumed[0] != "acme/branches/b005" {
		t.Fatalf("ResumePublish calls = %v, want the failed key", resumed)
	}
}

// A checkpoint whose history is gone is not retried: the relay records every tenant for a backfill,
// starts from now, and publishes each tenant's snapshot.
func TestHistoryLostBackfills(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t)
	for _, slug := range []string{"acme", "beta-inst"} {
		if _, err := c.db(slug).Collection("branches").InsertOne(ctx, bson.M{"_id": "b-" + slug, "name": "Main", "secret_code": "x"}); err != nil {
			t.Fatal(err)
		}
	}
	dead, _ := bson.Marshal(bson.M{"ts": bson.M{"t": 1, "i": 1}})
	if _, err := c.platform.Collection(relay.CheckpointsCollection).InsertOne(ctx, bson.M{"_id": "default", "token": dead}); err != nil {
		t.Fatal(err)
	}
	pub := newPub()
	r := c.relay(pub)
	start(t, r)
	msgs := pub.waitFor(t, 2)
	snap := map[string]bool{}
	for _, m := range msgs {
		if m.ev.Op != events.Snapshot || strings.Contains(m.raw, "secret") {
			t.Fatalf("backfill event = %s", m.raw)
		}
		snap[m.ev.Tenant+"/"+m.ev.DocumentID] = true
	}
	if !snap["acme/b-acme"] || !snap["beta-inst/b-beta-inst"] {
		t.Fatalf("snapshots = %v", snap)
	}
	// The stream runs from now: a new change is published as usual.
	if _, err := c.db("acme").Collection("branches").InsertOne(ctx, bson.M{"_id": "b2"}); err != nil {
		t.Fatal(err)
	}
	msgs = pub.waitFor(t, 3)
	if last := msgs[len(msgs)-1].ev; last.Op != events.Insert || last.DocumentID != "b2" {
		t.Fatalf("after recovery published %+v", last)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pending, err := r.PendingBackfills(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backfills still pending: %+v", pending)
		}
		time.Sleep(10 * time.Millisecond)
	}
	n, _ := c.platform.Collection(relay.BackfillsCollection).CountDocuments(ctx, bson.M{"done_at": bson.M{"$ne": nil}})
	if n != 2 {
		t.Fatalf("%d backfills done, want 2", n)
	}
}

func TestDatabaseNameAgrees(t *testing.T) {
	for _, slug := range []string{"acme", "beta-inst", "a-b-c"} {
		got, ok := events.TenantFromDatabase(tenant.DatabaseName(slug))
		if !ok || got != slug {
			t.Fatalf("TenantFromDatabase(DatabaseName(%q)) = %q, %v", slug, got, ok)
		}
	}
}

// pausingPub behaves like the Pub/Sub client with ordering keys: a failed publish pauses its key, and
// every later publish on it fails until ResumePublish.
type pausingPub struct {
	*fakePub
	paused map[string]bool
	// pausedFailures counts publishes refused only because their key was still paused.
	pausedFailures int
}

func (p *pausingPub) Publish(ctx context.Context, key string, data []byte, attrs map[string]string) relay.Result {
	p.mu.Lock()
	if p.paused[key] {
		p.pausedFailures++
		p.mu.Unlock()
		return result{errors.New("ordering key paused")}
	}
	p.mu.Unlock()
	res := p.fakePub.Publish(ctx, key, data, attrs)
	if _, err := res.Get(ctx); err != nil {
		p.mu.Lock()
		p.paused[key] = true
		p.mu.Unlock()
	}
	return res
}

func (p *pausingPub) ResumePublish(key string) {
	p.mu.Lock()
	delete(p.paused, key)
	p.mu.Unlock()
	p.fakePub.ResumePublish(key)
}

// Several publishes failing in one stream are all resumed when it stops, so the stream started again
// from the checkpoint publishes them instead of failing once more per paused key.
func TestEveryFailedKeyIsResumed(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t)
	pub := &pausingPub{fakePub: newPub(), paused: map[string]bool{}}
	failing := map[string]bool{"b002": true, "b005": true, "b007": true}
	pub.fail = func(e *events.Event) bool {
		if failing[e.DocumentID] {
			delete(failing, e.DocumentID) // once each
			return true
		}
		return false
	}
	r := c.relay(pub)
	start(t, r)
	waitReady(t, r)
	// One insert of all ten, so every publish is in flight before the first failure is seen.
	var docs []any
	for i := 0; i < 10; i++ {
		docs = append(docs, bson.M{"_id": fmt.Sprintf("b%03d", i)})
	}
	if _, err := c.db("acme").Collection("branches").InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ids := map[string]bool{}
		for _, m := range pub.all() {
			ids[m.ev.DocumentID] = true
		}
		if len(ids) == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("published %v, want all 10 documents", ids)
		}
		time.Sleep(10 * time.Millisecond)
	}
	pub.mu.Lock()
	defer pub.mu.Unlock()
	if pub.pausedFailures != 0 {
		t.Fatalf("%d publishes failed on a key left paused; every failed key should have been resumed", pub.pausedFailures)
	}
}

// A relay host whose clock runs an hour ahead of the cluster cannot let a snapshot beat the changes
// that follow it: the snapshot carries the cluster's time, so a change made after the backfill is the
// newer version, and the snapshot is still newer than the change made before it.
func TestBackfillUsesTheClusterTime(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t)
	branches := c.db("acme").Collection("branches")
	if _, err := branches.InsertOne(ctx, bson.M{"_id": "b1", "name": "before"}); err != nil {
		t.Fatal(err)
	}
	pub := newPub()
	r := relay.New(relay.Config{
		Cluster: "default", Client: c.client, Platform: c.platform, Publisher: pub, Collections: []string{"branches"},
		Clock:  clock.NewManual(time.Now().Add(time.Hour)), // the host's clock, an hour ahead
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), CheckpointEvery: 10 * time.Millisecond,
	})
	start(t, r)
	waitReady(t, r)
	if _, err := branches.UpdateOne(ctx, bson.M{"_id": "b1"}, bson.M{"$set": bson.M{"name": "old change"}}); err != nil {
		t.Fatal(err)
	}
	older := pub.waitFor(t, 1)[0].ev
	if _, err := r.Backfill(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := branches.UpdateOne(ctx, bson.M{"_id": "b1"}, bson.M{"$set": bson.M{"name": "after"}}); err != nil {
		t.Fatal(err)
	}
	msgs := pub.waitFor(t, 3)
	snap, after := msgs[1].ev, msgs[2].ev
	if snap.Op != events.Snapshot || after.Op != events.Update {
		t.Fatalf("published %v then %v, want a snapshot then the update", snap.Op, after.Op)
	}
	if !after.After(snap) {
		t.Errorf("the change after the backfill (%v) does not beat the snapshot (%v): the snapshot used the host's clock", after.Time, snap.Time)
	}
	if !snap.After(older) {
		t.Errorf("the snapshot (%v) does not beat the change before it (%v)", snap.Time, older.Time)
	}
}

// tokenAfter returns a resume token of this cluster positioned after a write of a document it makes.
func (c cluster) tokenAfter(t *testing.T) bson.Raw {
	t.Helper()
	ctx := context.Background()
	stream, err := c.client.Watch(ctx, []bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stream.Close(ctx) }()
	if _, err := c.db("acme").Collection("branches").InsertOne(ctx, bson.M{"_id": "b-first"}); err != nil {
		t.Fatal(err)
	}
	if !stream.Next(ctx) {
		t.Fatalf("no change: %v", stream.Err())
	}
	return slices.Clone(stream.ResumeToken())
}

// A checkpoint is tied to the cluster it was saved on: one saved on another cluster under the same
// name is refused even though its token would resume here, and the relay backfills instead of
// replaying; a checkpoint from before identities were recorded is trusted and then annotated.
func TestCheckpointOfAnotherClusterIsRefused(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name       string
		clusterID  string // in the stored checkpoint
		wantReplay bool
	}{
		{"foreign", "0123456789abcdef01234567", false},
		{"from before identities", "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := newCluster(t)
			token := cl.tokenAfter(t)
			if _, err := cl.db("acme").Collection("branches").InsertOne(ctx, bson.M{"_id": "b-missed"}); err != nil {
				t.Fatal(err)
			}
			cp := bson.M{"_id": "default", "token": []byte(token)}
			if c.clusterID != "" {
				cp["cluster_id"] = c.clusterID
			}
			if _, err := cl.platform.Collection(relay.CheckpointsCollection).InsertOne(ctx, cp); err != nil {
				t.Fatal(err)
			}
			pub := newPub()
			r := cl.relay(pub)
			stop := start(t, r)
			if c.wantReplay {
				if m := pub.waitFor(t, 1)[0]; m.ev.Op != events.Insert || m.ev.DocumentID != "b-missed" {
					t.Fatalf("published %s of %s, want the missed insert replayed from the token", m.ev.Op, m.ev.DocumentID)
				}
			} else {
				for _, m := range pub.waitFor(t, 2) {
					if m.ev.Op != events.Snapshot {
						t.Fatalf("published %s of %s, want only snapshots (the foreign token replayed?)", m.ev.Op, m.ev.DocumentID)
					}
				}
				var req relay.BackfillRequest
				if err := cl.platform.Collection(relay.BackfillsCollection).FindOne(ctx, bson.M{"_id": "default/acme"}).Decode(&req); err != nil || req.Reason != "checkpoint from another cluster" {
					t.Fatalf("backfill request %+v, %v", req, err)
				}
			}
			stop()
			var id, saved struct {
				ID        string `bson:"id"`
				ClusterID string `bson:"cluster_id"`
			}
			if err := cl.client.Database(relay.IdentityDatabase).Collection(relay.IdentityCollection).FindOne(ctx, bson.M{}).Decode(&id); err != nil || id.ID == "" {
				t.Fatalf("cluster identity %+v, %v", id, err)
			}
			if err := cl.platform.Collection(relay.CheckpointsCollection).FindOne(ctx, bson.M{"_id": "default"}).Decode(&saved); err != nil || saved.ClusterID != id.ID {
				t.Fatalf("checkpoint carries cluster id %q, want %q (%v)", saved.ClusterID, id.ID, err)
			}
		})
	}
}

// A change too large for Pub/Sub never stops the stream: it is skipped, its document recorded for a
// backfill, the changes after it are published, and the backfill publishes the document's snapshot.
func TestTooLargeChangeIsBackfilled(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t)
	pub := newPub()
	r := relay.New(relay.Config{
		Cluster: "default", Client: c.client, Platform: c.platform, Publisher: pub, Collections: []string{"branches"},
		Logger: slog.New(slog.DiscardHandler), CheckpointEvery: 10 * time.Millisecond, MaxMessageBytes: 2000,
	})
	start(t, r)
	waitReady(t, r)
	branches := c.db("acme").Collection("branches")
	if _, err := branches.InsertOne(ctx, bson.M{"_id": "big", "notes": strings.Repeat("x", 3000)}); err != nil {
		t.Fatal(err)
	}
	if _, err := branches.InsertOne(ctx, bson.M{"_id": "small"}); err != nil {
		t.Fatal(err)
	}
	if m := pub.waitFor(t, 1)[0]; m.ev.DocumentID != "small" {
		t.Fatalf("published %s first, want the change after the skipped one", m.ev.DocumentID)
	}
	var req relay.BackfillRequest
	if err := c.platform.Collection(relay.BackfillsCollection).FindOne(ctx, bson.M{"_id": "default/acme/branches/big"}).Decode(&req); err != nil ||
		req.DocumentID != "big" || req.Collection != "branches" || req.DoneAt != nil {
		t.Fatalf("backfill request %+v, %v", req, err)
	}
	if n, err := r.RunPendingBackfills(ctx); err != nil || n != 1 {
		t.Fatalf("RunPendingBackfills = %d, %v", n, err)
	}
	if m := pub.waitFor(t, 2)[1]; m.ev.Op != events.Snapshot || m.ev.DocumentID != "big" {
		t.Fatalf("backfill published %s of %s, want the snapshot of big", m.ev.Op, m.ev.DocumentID)
	}
}
