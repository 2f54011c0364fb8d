package store

import (
	"context"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/mongo/readconcern"
)

// A cluster URI gets majority writes with journaling, and is refused when it weakens the write or read
// concern.
func TestMongoOptions(t *testing.T) {
	const base = "mongodb://u:secret@db1.example:27017,db2.example:27017/?replicaSet=rs0"
	for _, c := range []struct {
		name, query string
		refused     string // a phrase of the refusal; "" when accepted
		w           any
	}{
		{name: "defaults", w: "majority"},
		{name: "w=majority", query: "&w=majority", w: "majority"},
		{name: "w=3 is stronger", query: "&w=3", w: 3},
		{name: "journal=true", query: "&journal=true", w: "majority"},
		{name: "readConcernLevel=majority", query: "&readConcernLevel=majority", w: "majority"},
		{name: "w=1", query: "&w=1", refused: "w=1"},
		{name: "w=0", query: "&w=0", refused: "w=0"},
		{name: "journal=false", query: "&journal=false", refused: "journal=false"},
		{name: "readConcernLevel=local", query: "&readConcernLevel=local", refused: "readConcernLevel=local"},
		{name: "readConcernLevel=available", query: "&readConcernLevel=available", refused: "readConcernLevel=available"},
		{name: "malformed", query: "&maxPoolSize=lots", refused: "malformed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts, err := mongoOptions(base + c.query)
			if c.refused != "" {
				if err == nil || !strings.Contains(err.Error(), c.refused) {
					t.Fatalf("err = %v, want a refusal naming %q", err, c.refused)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("the refusal quotes the URI's credentials: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wc := opts.WriteConcern
			if wc == nil || wc.W != c.w || wc.Journal == nil || !*wc.Journal {
				t.Errorf("write concern %+v, want w=%v with journaling", wc, c.w)
			}
		})
	}
}

// Transactions read a snapshot and commit with a majority whatever the client's defaults are.
func TestTxOptions(t *testing.T) {
	o := txOptions()
	if o.ReadConcern == nil || o.ReadConcern.Level != readconcern.Snapshot().Level {
		t.Errorf("read concern %+v, want snapshot", o.ReadConcern)
	}
	if wc := o.WriteConcern; wc == nil || wc.W != "majority" || wc.Journal == nil || !*wc.Journal {
		t.Errorf("write concern %+v, want majority with journaling", o.WriteConcern)
	}
}

// Dial refuses a weakening URI before it connects, naming the option and never the credentials.
func TestDialRefusesAWeakURI(t *testing.T) {
	d := NewDialer()
	defer d.Close()
	_, err := d.Dial(context.Background(), "mongodb://u:secret@127.0.0.1:1/?w=0")
	if err == nil || !strings.Contains(err.Error(), "w=0") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("Dial = %v, want a refusal naming w=0", err)
	}
}
