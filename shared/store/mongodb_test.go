package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/mongo/readconcern"
)

// A cluster URI gets majority writes with journaling and the serverless pool defaults wherever it sets
// nothing, keeps what it sets itself, and is refused when it weakens the write or read concern.
func TestMongoOptions(t *testing.T) {
	const base = "mongodb://u:secret@db1.example:27017,db2.example:27017/?replicaSet=rs0"
	for _, c := range []struct {
		name, query string
		refused     string // a phrase of the refusal; "" when accepted
		pool        uint64
		idle        time.Duration
		selection   time.Duration
		connect     time.Duration
		timeout     *time.Duration // nil: no client timeout
		w           any
	}{
		{name: "defaults", pool: 10, idle: time.Minute, selection: 5 * time.Second, connect: 5 * time.Second, timeout: ptr(30 * time.Second), w: "majority"},
		{name: "own pool and timeouts", query: "&maxPoolSize=3&maxIdleTimeMS=1000&serverSelectionTimeoutMS=2000&connectTimeoutMS=1500&timeoutMS=9000",
			pool: 3, idle: time.Second, selection: 2 * time.Second, connect: 1500 * time.Millisecond, timeout: ptr(9 * time.Second), w: "majority"},
		{name: "w=majority", query: "&w=majority", pool: 10, idle: time.Minute, selection: 5 * time.Second, connect: 5 * time.Second, timeout: ptr(30 * time.Second), w: "majority"},
		{name: "w=3 is stronger", query: "&w=3", pool: 10, idle: time.Minute, selection: 5 * time.Second, connect: 5 * time.Second, timeout: ptr(30 * time.Second), w: 3},
		{name: "journal=true", query: "&journal=true", pool: 10, idle: time.Minute, selection: 5 * time.Second, connect: 5 * time.Second, timeout: ptr(30 * time.Second), w: "majority"},
		{name: "wtimeout keeps no client timeout", query: "&w=majority&wtimeoutMS=5000", pool: 10, idle: time.Minute, selection: 5 * time.Second, connect: 5 * time.Second, w: "majority"},
		{name: "socket timeout keeps no client timeout", query: "&socketTimeoutMS=5000", pool: 10, idle: time.Minute, selection: 5 * time.Second, connect: 5 * time.Second, w: "majority"},
		{name: "readConcernLevel=majority", query: "&readConcernLevel=majority", pool: 10, idle: time.Minute, selection: 5 * time.Second, connect: 5 * time.Second, timeout: ptr(30 * time.Second), w: "majority"},
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
			if *opts.MaxPoolSize != c.pool || *opts.MaxConnIdleTime != c.idle || *opts.ServerSelectionTimeout != c.selection || *opts.ConnectTimeout != c.connect {
				t.Errorf("pool %d, idle %v, selection %v, connect %v; want %d, %v, %v, %v",
					*opts.MaxPoolSize, *opts.MaxConnIdleTime, *opts.ServerSelectionTimeout, *opts.ConnectTimeout, c.pool, c.idle, c.selection, c.connect)
			}
			switch {
			case c.timeout == nil && opts.Timeout != nil:
				t.Errorf("client timeout %v, want none", *opts.Timeout)
			case c.timeout != nil && (opts.Timeout == nil || *opts.Timeout != *c.timeout):
				t.Errorf("client timeout %v, want %v", opts.Timeout, *c.timeout)
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
