package ingest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"

	"github.com/edugrid/edugrid/shared/events"
	"github.com/edugrid/edugrid/shared/warehouse"
	"github.com/edugrid/edugrid/triggers/ingest"
)

// fuzzWarehouse records the event ids of the changes it is given. Its other methods are never called by
// the ingest path (they would panic on the nil interface).
type fuzzWarehouse struct {
	warehouse.Warehouse
	mu  sync.Mutex
	ids []string
}

func (w *fuzzWarehouse) Apply(_ context.Context, b warehouse.Batch) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range b.Changes {
		w.ids = append(w.ids, c.EventID)
	}
	return nil
}

// FuzzCloudEvent pushes arbitrary Pub/Sub messages (message data, an attribute, or a whole arbitrary push
// envelope) through the CloudEvent entry point: it never panics, never asks for a redelivery (an error)
// while the warehouse works, and a message holding a valid change event of any analysed collection,
// whatever its document, is stored; everything else is acknowledged as poison.
// Run it longer with: go test ./triggers/ingest -run '^$' -fuzz '^FuzzCloudEvent$' -fuzztime 1m
func FuzzCloudEvent(f *testing.F) {
	for i, tr := range ingest.Transforms() {
		for _, op := range []events.Op{events.Insert, events.Update, events.Delete} {
			e := &events.Event{ID: events.IDFromToken([]byte(fmt.Sprint(i, op))), Tenant: "acme", Collection: tr.Collection, Op: op,
				DocumentID: "0123456789abcdef01234567", Time: events.ClusterTime{T: 1780000000, I: uint32(i)}}
			if op != events.Delete {
				e.Document = json.RawMessage(`{"_id":"0123456789abcdef01234567","name":"n","status":"active","amount":100,"date":"2026-06-01","marks":[{"student_id":"s","status":"present"}],"created_at":{"$date":"2026-06-01T09:00:00Z"}}`)
			}
			data, err := events.Encode(e)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data, "event_id", e.ID, []byte(nil))
		}
	}
	f.Add([]byte("garbage"), "", "", []byte(nil))
	f.Add([]byte(`{"v":1}`), "x", "y", []byte(nil))
	f.Add([]byte(nil), "", "", []byte(`{"message":{"data":"!!not base64","attributes":{"a":1}}}`))
	f.Add([]byte(nil), "", "", []byte(`{"message":null}`))
	f.Add([]byte(nil), "", "", []byte(`[]`))
	wh := &fuzzWarehouse{}
	b := ingest.NewBatcher(ingest.New(wh, nil, quiet), 1, time.Millisecond)
	f.Cleanup(b.Close)
	handle := ingest.Handler(b, quiet)
	f.Fuzz(func(t *testing.T, data []byte, attrKey, attrValue string, rawEnvelope []byte) {
		ce := cloudevents.New()
		ce.SetID("ce")
		ce.SetSource("//pubsub.googleapis.com/projects/p/topics/t")
		ce.SetType("google.cloud.pubsub.topic.v1.messagePublished")
		var err error
		if rawEnvelope != nil {
			err = ce.SetData("application/json", rawEnvelope)
		} else {
			err = ce.SetData("application/json", map[string]any{
				"message":      map[string]any{"data": base64.StdEncoding.EncodeToString(data), "messageId": "m", "attributes": map[string]string{attrKey: attrValue}},
				"subscription": "s",
			})
		}
		if err != nil {
			return // not a CloudEvent Eventarc could deliver
		}
		if err := handle(context.Background(), ce); err != nil {
			t.Fatalf("the handler asked for a redelivery of %q (envelope %q): %v", data, rawEnvelope, err)
		}
		if rawEnvelope != nil {
			return
		}
		if ev, err := events.Decode(data); err == nil {
			wh.mu.Lock()
			stored := slices.Contains(wh.ids, ev.ID)
			wh.mu.Unlock()
			if !stored {
				t.Fatalf("a valid event %s was acknowledged but not stored", ev.ID)
			}
		}
	})
}
