package ingest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"

	"github.com/edugrid/edugrid/shared/events"
	"github.com/edugrid/edugrid/shared/warehouse"
	"github.com/edugrid/edugrid/triggers/ingest"
)

// memWarehouse records applied batches; fail makes Apply fail while set.
type memWarehouse struct {
	mu      sync.Mutex
	batches []warehouse.Batch
	fail    error
}

func (m *memWarehouse) Ensure(context.Context, []*warehouse.Table) error { return nil }
func (m *memWarehouse) Query(context.Context, *warehouse.Query) ([]warehouse.Row, error) {
	return nil, nil
}
func (m *memWarehouse) Close() error { return nil }
func (m *memWarehouse) Apply(_ context.Context, b warehouse.Batch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.batches = append(m.batches, b)
	return nil
}

func (m *memWarehouse) upserts() []warehouse.Upsert {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []warehouse.Upsert
	for _, b := range m.batches {
		out = append(out, b.Upserts...)
	}
	return out
}

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

func event(n int, op events.Op, coll, doc string) *events.Event {
	e := &events.Event{V: 1, ID: events.IDFromToken([]byte(fmt.Sprint(n))), Tenant: "acme", Collection: coll, Op: op,
		DocumentID: fmt.Sprintf("d%d", n), Time: events.ClusterTime{T: 1780000000, I: uint32(n)}}
	if doc != "" {
		e.Document = []byte(doc)
	}
	return e
}

func TestTransforms(t *testing.T) {
	wh := &memWarehouse{}
	in := ingest.New(wh, nil, quiet)
	evs := []*events.Event{
		event(1, events.Insert, "users", `{"role":"teacher","status":"active","branches":["b1"],"created_at":{"$date":"2026-06-01T09:00:00Z"},"email":"x@y.z"}`),
		event(2, events.Insert, "attendance_sheets", `{"batch_id":"b","branch_id":"r","date":"2026-06-02","marks":[{"student_id":"a","status":"late"},{"student_id":"b","status":"present"},{"student_id":"c","status":"late"},{"student_id":"d","status":"excused"}]}`),
		event(3, events.Delete, "branches", ""),
		event(4, events.Insert, "counters", `{"seq":1}`),                         // not analysed: raw change only
		event(5, events.Insert, "branches", `{"name":42}`),                       // wrong type: raw change only
		event(7, events.Insert, "attendance_sheets", `{"marks":[{"status":1}]}`), // wrong type inside an array: raw change only
		event(6, events.Insert, "audit_log", `{"action":"a","actor":{"id":"u","role":"owner"},"target":{"kind":"k","id":"i"},"at":{"$date":{"$numberLong":"1780000000000"}}}`),
	}
	if err := in.Apply(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if len(wh.batches) != 1 || len(wh.batches[0].Changes) != 7 {
		t.Fatalf("batches = %+v", wh.batches)
	}
	var ups, marks []warehouse.Upsert
	for _, u := range wh.upserts() {
		if u.Table.Children {
			marks = append(marks, u)
		} else {
			ups = append(ups, u)
		}
	}
	if len(ups) != 4 {
		t.Fatalf("%d upserts, want 4: %+v", len(ups), ups)
	}
	// The sheet's per-student rows: the marker carrying the sheet's version, then one row per mark.
	if len(marks) != 5 {
		t.Fatalf("%d attendance mark rows, want a marker and 4 marks: %+v", len(marks), marks)
	}
	if m := marks[0].Row; m[1] != "d2" || m[3] != true || m[5] != "d2" || m[2] != evs[1].Time.Seq() {
		t.Fatalf("marker row = %v", m)
	}
	if m := marks[1].Row; marks[1].Table != warehouse.AttendanceMarks || m[1] != "d2/a" || m[3] != false || m[5] != "d2" || m[6] != "a" ||
		m[7] != "b" || m[8] != "r" || m[9] != time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC) || m[10] != "late" {
		t.Fatalf("mark row = %v", m)
	}
	u := ups[0].Row
	if ups[0].Table != warehouse.Users || u[0] != "acme" || u[1] != "d1" || u[2] != evs[0].Time.Seq() || u[3] != false ||
		u[5] != "teacher" || u[7] != `["b1"]` || u[8] != time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC) {
		t.Fatalf("users row = %v", u)
	}
	if m := ups[1].Row; m[7] != time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC) || m[8] != int64(1) || m[9] != int64(2) || m[10] != int64(0) || m[11] != int64(1) {
		t.Fatalf("marks row = %v", m)
	}
	if d := ups[2].Row; d[3] != true || len(d) != len(warehouse.Branches.Columns) || d[6] != nil {
		t.Fatalf("tombstone = %v", d)
	}
	if a := ups[3].Row; a[5] != "a" || a[6] != "u" || a[9] != "i" || a[10] != time.UnixMilli(1780000000000).UTC() {
		t.Fatalf("audit row = %v", a)
	}
}

func push(t *testing.T, data []byte) cloudevents.Event {
	t.Helper()
	env := map[string]any{"message": map[string]any{"data": base64.StdEncoding.EncodeToString(data), "messageId": "m"}, "subscription": "s"}
	ce := cloudevents.New()
	ce.SetID("ce")
	ce.SetSource("//pubsub.googleapis.com/projects/p/topics/t")
	ce.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	if err := ce.SetData("application/json", env); err != nil {
		t.Fatal(err)
	}
	return ce
}

// Concurrent pushes share batches; each returns when its batch is committed; a warehouse failure fails
// every request of the batch (Pub/Sub redelivers) and a poison message is acknowledged.
func TestCloudEventBatching(t *testing.T) {
	wh := &memWarehouse{}
	b := ingest.NewBatcher(ingest.New(wh, nil, quiet), 10, 20*time.Millisecond)
	defer b.Close()
	h := ingest.Handler(b, quiet)
	var wg sync.WaitGroup
	errs := make([]error, 25)
	for i := range 25 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data, _ := events.Encode(event(i, events.Insert, "branches", `{"name":"n"}`))
			errs[i] = h(context.Background(), push(t, data))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
	}
	wh.mu.Lock()
	n, stored := len(wh.batches), 0
	for _, bt := range wh.batches {
		stored += len(bt.Changes)
	}
	wh.mu.Unlock()
	if stored != 25 || n < 3 || n > 25 {
		t.Fatalf("%d events in %d batches, want 25 in at least 3 (batches of at most 10)", stored, n)
	}

	for _, poison := range [][]byte{[]byte("garbage"), []byte(`{"v":1}`)} {
		if err := h(context.Background(), push(t, poison)); err != nil {
			t.Fatalf("poison message not acknowledged: %v", err)
		}
	}
	wh.mu.Lock()
	wh.fail = errors.New("warehouse down")
	wh.mu.Unlock()
	data, _ := events.Encode(event(99, events.Insert, "branches", `{"name":"n"}`))
	if err := h(context.Background(), push(t, data)); err == nil {
		t.Fatal("a failed commit was acknowledged")
	}
}

// Close commits what is pending although neither bound was reached, and refuses later submissions.
func TestBatcherClose(t *testing.T) {
	wh := &memWarehouse{}
	b := ingest.NewBatcher(ingest.New(wh, nil, quiet), 100, time.Hour)
	done := make(chan error, 1)
	go func() { done <- b.Submit(context.Background(), event(1, events.Insert, "branches", `{}`)) }()
	b.Close()
	err := <-done
	switch {
	case err == nil: // it was pending: Close committed it
		if len(wh.upserts()) != 1 {
			t.Fatal("Submit returned nil but nothing was committed")
		}
	case !errors.Is(err, ingest.ErrClosed): // it came after Close
		t.Fatal(err)
	}
	if err := b.Submit(context.Background(), event(2, events.Insert, "branches", `{}`)); !errors.Is(err, ingest.ErrClosed) {
		t.Fatalf("Submit after Close = %v", err)
	}
}

func TestFieldsTypeErrors(t *testing.T) {
	f, err := ingest.ParseFields([]byte(`{"s":"x","n":3,"b":true,"d":"2026-06-01","bad":[1]}`))
	if err != nil {
		t.Fatal(err)
	}
	if f.String("s") != "x" || f.Int("n") != int64(3) || f.Bool("b") != true || f.String("missing") != nil || f.Err() != nil {
		t.Fatalf("accessors wrong: %v", f.Err())
	}
	if f.Int("s"); f.Err() == nil {
		t.Fatal("string read as int")
	}
	if _, err := json.Marshal(f.JSON("bad")); err != nil {
		t.Fatal(err)
	}
}

// The relay publishes events.AnalysedCollections and ingest transforms its own list: a collection in one
// and not the other would be published and dropped, or expected and never published.
func TestTransformsCoverAnalysedCollections(t *testing.T) {
	var transformed []string
	for _, tr := range ingest.Transforms() {
		transformed = append(transformed, tr.Collection)
	}
	analysed := events.AnalysedCollections()
	for _, c := range analysed {
		if !slices.Contains(transformed, c) {
			t.Errorf("%s is analysed (events.AnalysedCollections) but ingest has no transform for it", c)
		}
	}
	for _, c := range transformed {
		if !slices.Contains(analysed, c) {
			t.Errorf("ingest transforms %s, which events.AnalysedCollections does not list, so the relay never publishes it", c)
		}
	}
}

// Every row an event makes carries its position last, so the warehouse can order the writes of one
// transaction (one cluster time): current-state rows, tombstones, child rows and their markers, and the
// raw change.
func TestRowsCarryThePosition(t *testing.T) {
	wh := &memWarehouse{}
	in := ingest.New(wh, nil, quiet)
	sheet := event(1, events.Insert, "attendance_sheets", `{"batch_id":"b","branch_id":"r","date":"2026-06-02","marks":[{"student_id":"a","status":"late"}]}`)
	gone := event(2, events.Delete, "branches", "")
	for _, e := range []*events.Event{sheet, gone} {
		e.Position = events.PositionFromTimestamp(e.Time) + "2B02"
	}
	if err := in.Apply(context.Background(), []*events.Event{sheet, gone}); err != nil {
		t.Fatal(err)
	}
	ups := wh.upserts()
	if len(ups) < 4 {
		t.Fatalf("%d upserts, want a sheet, a marker, a mark and a tombstone", len(ups))
	}
	for _, u := range ups {
		want := sheet.Position
		if u.Table == warehouse.Branches {
			want = gone.Position
		}
		if len(u.Row) != len(u.Table.Columns) || u.Row[len(u.Row)-1] != want {
			t.Errorf("%s row %v does not end with position %s", u.Table.Name, u.Row, want)
		}
	}
	for _, c := range wh.batches[0].Changes {
		if r := c.Values(); r[len(r)-1] == "" || len(r) != len(warehouse.Changes.Columns) {
			t.Errorf("change row %v has no position", r)
		}
	}
}
