package notify_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/notify"
)

var at = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

func newDB(t *testing.T) lungo.IDatabase {
	t.Helper()
	client, engine, err := lungo.Open(context.Background(), lungo.Options{Store: lungo.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(engine.Close)
	db := client.Database("edu_test")
	if err := notify.EnsureIndexes(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return db
}

// recorder is a Publisher that keeps what it was given, failing while fail is set.
type recorder struct {
	mu   sync.Mutex
	got  []notify.Notification
	fail error
}

func (r *recorder) Publish(_ context.Context, n notify.Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.got = append(r.got, n)
	return nil
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, n := range r.got {
		out = append(out, n.ID)
	}
	slices.Sort(out)
	return out
}

func note(id string) notify.Notification {
	return notify.Notification{ID: id, Tenant: "alpha", Kind: "test.kind", Recipient: "user-" + id, Subject: "Hello", Body: "Body of " + id, Data: map[string]string{"k": id}, CreatedAt: at}
}

func unpublished(t *testing.T, db lungo.IDatabase) int64 {
	t.Helper()
	n, err := db.Collection(notify.Collection).CountDocuments(context.Background(), bson.M{"published": false})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSendAtMostOncePerID(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	pub := &recorder{}

	res, err := notify.Send(ctx, db, pub, []notify.Notification{note("a"), note("b"), note("a")})
	if err != nil {
		t.Fatal(err)
	}
	if res != (notify.Result{Published: 2, Skipped: 1}) {
		t.Errorf("first send = %+v, want 2 published, 1 skipped", res)
	}
	res, err = notify.Send(ctx, db, pub, []notify.Notification{note("b"), note("c"), note("a")})
	if err != nil {
		t.Fatal(err)
	}
	if res != (notify.Result{Published: 1, Skipped: 2}) {
		t.Errorf("second send = %+v, want 1 published, 2 skipped", res)
	}
	if got := pub.ids(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("published %v, want a, b, c once each", got)
	}
	if n := unpublished(t, db); n != 0 {
		t.Errorf("%d records left unpublished", n)
	}
}

func TestSendConcurrentDuplicates(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	pub := &recorder{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := notify.Send(ctx, db, pub, []notify.Notification{note("x"), note("y")}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := pub.ids(); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("published %v, want x and y once each", got)
	}
}

func TestSendRefusesIncomplete(t *testing.T) {
	db := newDB(t)
	for _, tc := range []struct {
		field string
		edit  func(*notify.Notification)
	}{
		{"id", func(n *notify.Notification) { n.ID = "" }},
		{"tenant", func(n *notify.Notification) { n.Tenant = "" }},
		{"kind", func(n *notify.Notification) { n.Kind = "" }},
		{"recipient", func(n *notify.Notification) { n.Recipient = "" }},
		{"created_at", func(n *notify.Notification) { n.CreatedAt = time.Time{} }},
	} {
		n := note("bad")
		tc.edit(&n)
		_, err := notify.Send(context.Background(), db, &recorder{}, []notify.Notification{note("good"), n})
		if e := apperr.As(err); e == nil || e.Code != apperr.Invalid || e.Fields[tc.field] == "" {
			t.Errorf("without %s: err = %v, want invalid naming it", tc.field, err)
		}
	}
	if n, _ := db.Collection(notify.Collection).CountDocuments(context.Background(), bson.M{}); n != 0 {
		t.Errorf("%d records written by refused sends", n)
	}
}

func TestFailedPublishThenFlush(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	down := errors.New("topic unavailable")

	res, err := notify.Send(ctx, db, notify.Failing(down), []notify.Notification{note("a"), note("b")})
	if !errors.Is(err, down) || res != (notify.Result{Failed: 2}) {
		t.Fatalf("send to a failing topic = %+v, %v; want 2 failed wrapping the cause", res, err)
	}
	if n := unpublished(t, db); n != 2 {
		t.Fatalf("%d unpublished records, want 2 kept for the retry", n)
	}
	// A retry of the same notifications is a duplicate: it must not publish, Flush does.
	pub := &recorder{}
	if res, err := notify.Send(ctx, db, pub, []notify.Notification{note("a")}); err != nil || res != (notify.Result{Skipped: 1}) {
		t.Fatalf("resend = %+v, %v; want skipped", res, err)
	}
	if _, err := notify.Flush(ctx, db, notify.Failing(down)); !errors.Is(err, down) {
		t.Fatalf("flush to a failing topic: %v", err)
	}
	res, err = notify.Flush(ctx, db, pub)
	if err != nil || res != (notify.Result{Published: 2}) {
		t.Fatalf("flush = %+v, %v; want 2 published", res, err)
	}
	if got := pub.ids(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("flushed %v", got)
	}
	if res, err := notify.Flush(ctx, db, pub); err != nil || res != (notify.Result{}) {
		t.Errorf("second flush = %+v, %v; want nothing to do", res, err)
	}
	var rec struct {
		Attempts int `bson:"attempts"`
	}
	if err := db.Collection(notify.Collection).FindOne(ctx, bson.M{"_id": "a"}).Decode(&rec); err != nil || rec.Attempts != 3 {
		t.Errorf("attempts of a = %d (%v), want 3", rec.Attempts, err)
	}
}

func TestFlushPagesThroughMany(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	var ns []notify.Notification
	for i := range 1203 {
		ns = append(ns, note(fmt.Sprintf("n%04d", i)))
	}
	if _, err := notify.Send(ctx, db, notify.Failing(errors.New("down")), ns); err == nil {
		t.Fatal("want the failure reported")
	}
	pub := &recorder{}
	res, err := notify.Flush(ctx, db, pub)
	if err != nil || res.Published != len(ns) || len(pub.ids()) != len(ns) {
		t.Fatalf("flush = %+v, %v, published %d; want all %d", res, err, len(pub.ids()), len(ns))
	}
}

func TestTopicPublishesThroughPubSub(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	topic := notify.NewTopic(notify.TopicConfig{Topic: "edugrid-notifications"})
	t.Cleanup(func() { _ = topic.Close() })
	if !topic.Emulated() {
		t.Fatal("a topic without a project must use the in-process emulator")
	}
	if err := topic.Subscribe(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	if err := topic.Subscribe(ctx, "test"); err != nil {
		t.Fatalf("subscribing twice: %v", err)
	}
	if got, err := topic.Pull(ctx, "test", 10); err != nil || len(got) != 0 {
		t.Fatalf("pull before publishing = %v, %v", got, err)
	}

	ns := []notify.Notification{note("a"), note("b")}
	if _, err := notify.Send(ctx, db, topic, ns); err != nil {
		t.Fatal(err)
	}
	if _, err := notify.Send(ctx, db, topic, ns); err != nil {
		t.Fatal(err)
	}
	got, err := topic.Pull(ctx, "test", 10)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b notify.Notification) int { return cmpString(a.ID, b.ID) })
	if len(got) != 2 {
		t.Fatalf("received %d messages, want 2: %+v", len(got), got)
	}
	for i, n := range got {
		want := ns[i]
		if n.ID != want.ID || n.Recipient != want.Recipient || n.Body != want.Body || n.Data["k"] != want.ID || !n.CreatedAt.Equal(at) {
			t.Errorf("received %+v, want %+v", n, want)
		}
	}
	if again, err := topic.Pull(ctx, "test", 10); err != nil || len(again) != 0 {
		t.Errorf("after acknowledging, pull = %v, %v; want nothing", again, err)
	}

	if err := topic.Close(); err != nil {
		t.Fatal(err)
	}
	if err := topic.Publish(ctx, note("late")); err == nil {
		t.Error("publish after close succeeded")
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
