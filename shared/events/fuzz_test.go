package events_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/edugrid/edugrid/shared/events"
)

// FuzzDecode feeds arbitrary message data to Decode, as a Pub/Sub subscriber receives it: Decode never
// panics, and either refuses the data (the ingester acknowledges and logs it as poison) or returns an
// event that is valid, came from exactly one JSON object, and survives Encode and Decode unchanged.
// Run it longer with: go test ./shared/events -run '^$' -fuzz '^FuzzDecode$' -fuzztime 1m
func FuzzDecode(f *testing.F) {
	good, err := events.Encode(valid())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	for _, mutate := range []func(e *events.Event){
		func(e *events.Event) { e.Op, e.Updated, e.Removed = events.Insert, nil, nil },
		func(e *events.Event) { e.Op, e.Document, e.Updated, e.Removed = events.Delete, nil, nil, nil },
		func(e *events.Event) { e.Op, e.Updated, e.Removed = events.Snapshot, nil, nil },
	} {
		e := valid()
		mutate(e)
		b, err := events.Encode(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{"", "{}", "null", "[]", `{"v":1}`, string(good) + "}", string(good) + "]", string(good) + " {}",
		string(bytes.Replace(good, []byte(`"v":1`), []byte(`"v":1,"v":2`), 1)),
		string(bytes.Replace(good, []byte(`"t":1780000000`), []byte(`"t":4294967296`), 1)),
		string(bytes.Replace(good, []byte(`"t":1780000000`), []byte(`"t":-1`), 1)),
		string(bytes.Replace(good, []byte(`"document":{`), []byte(`"document":{"$where":1,`), 1)),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := events.Decode(data)
		if err != nil {
			if e != nil {
				t.Fatalf("Decode(%q) returned an event with its error %v", data, err)
			}
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("Decode(%q) returned an invalid event: %v", data, err)
		}
		if !json.Valid(data) {
			t.Fatalf("Decode accepted %q, which is not one JSON value", data)
		}
		again, err := events.Encode(e)
		if err != nil {
			t.Fatalf("Decode(%q) returned an event Encode refuses: %v", data, err)
		}
		back, err := events.Decode(again)
		if err != nil {
			t.Fatalf("Decode refuses its own re-encoding %s: %v", again, err)
		}
		if b, _ := events.Encode(back); !bytes.Equal(b, again) {
			t.Fatalf("round trip of %q changed the event: %s then %s", data, again, b)
		}
	})
}
