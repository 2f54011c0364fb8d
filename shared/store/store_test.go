package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/id"
)

func mustDial(t testing.TB, d *Dialer, uri string) lungo.IClient {
	t.Helper()
	c, err := d.Dial(context.Background(), uri)
	if err != nil {
		t.Fatalf("Dial(%q): %v", uri, err)
	}
	return c
}

func mustInsert(t *testing.T, coll lungo.ICollection, doc bson.M) {
	t.Helper()
	if _, err := coll.InsertOne(context.Background(), doc); err != nil {
		t.Fatalf("insert %v: %v", doc, err)
	}
}

func count(t *testing.T, coll lungo.ICollection, filter bson.M) int64 {
	t.Helper()
	n, err := coll.CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatalf("count %v: %v", filter, err)
	}
	return n
}

// newDB opens a fresh in-memory engine through the Dialer, as the test suites of the areas do.
func newDB(t testing.TB) lungo.IDatabase {
	t.Helper()
	d := NewDialer()
	t.Cleanup(d.Close)
	return mustDial(t, d, "lungo:memory:"+t.Name()).Database("edu_test")
}

func TestDialerMemoryEnginePerName(t *testing.T) {
	d := NewDialer()
	defer d.Close()
	one := mustDial(t, d, "lungo:memory:alpha")
	again := mustDial(t, d, "lungo:memory:alpha")
	other := mustDial(t, d, "lungo:memory:beta")

	mustInsert(t, one.Database("edu_x").Collection("things"), bson.M{"_id": "t1"})
	if n := count(t, again.Database("edu_x").Collection("things"), bson.M{"_id": "t1"}); n != 1 {
		t.Errorf("second client for the same name sees %d documents, want 1 (same engine)", n)
	}
	if n := count(t, other.Database("edu_x").Collection("things"), bson.M{}); n != 0 {
		t.Errorf("client for another name sees %d documents, want 0 (separate engine)", n)
	}
}

// A cache that evicts an embedded client disconnects it and later dials again; the data must survive that,
// or the local stack would lose tenants whenever the cluster LRU churned.
func TestDialerMemorySurvivesCacheEviction(t *testing.T) {
	d := NewDialer()
	defer d.Close()
	c := NewCache(d.Dial, 1)
	defer c.Close()
	l, err := c.Acquire(context.Background(), "lungo:memory:a")
	if err != nil {
		t.Fatal(err)
	}
	mustInsert(t, l.Client().Database("edu_x").Collection("things"), bson.M{"_id": "kept"})
	l.Release()
	l, err = c.Acquire(context.Background(), "lungo:memory:b") // evicts and disconnects a
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	l, err = c.Acquire(context.Background(), "lungo:memory:a")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if n := count(t, l.Client().Database("edu_x").Collection("things"), bson.M{"_id": "kept"}); n != 1 {
		t.Fatalf("after eviction and re-dial the engine holds %d documents, want 1", n)
	}
}

func TestDialerFilePersistsAcrossDialers(t *testing.T) {
	for _, scheme := range []string{"lungo:file:", "lungo:singlefile:"} {
		t.Run(scheme, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "edugrid.lungo")
			uri := scheme + path

			d := NewDialer()
			mustInsert(t, mustDial(t, d, uri).Database("edu_x").Collection("things"), bson.M{"_id": "t1", "n": 7})
			d.Close()

			// The store holds password hashes and every tenant's records.
			err := filepath.WalkDir(path, func(p string, e os.DirEntry, err error) error {
				if err != nil {
					return err
				}
				info, err := e.Info()
				if err != nil {
					return err
				}
				if perm := info.Mode().Perm(); perm&0o077 != 0 {
					t.Errorf("%s: mode %v, want owner-only", p, perm)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("store files: %v", err)
			}

			d2 := NewDialer()
			defer d2.Close()
			if got := readN(t, mustDial(t, d2, uri), "t1"); got != 7 {
				t.Fatalf("read back n=%d, want 7", got)
			}
		})
	}
}

// readN reads field n of document id in edu_x.things.
func readN(t *testing.T, c lungo.IClient, id string) int64 {
	t.Helper()
	var got struct {
		N int64 `bson:"n"`
	}
	if err := c.Database("edu_x").Collection("things").FindOne(context.Background(), bson.M{"_id": id}).Decode(&got); err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	return got.N
}

// A data directory from before the directory store (one file at the path) opens with its data, becomes a
// directory, and keeps the old file as <path>.legacy.
func TestDialerFileMigratesSingleFileStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edugrid.lungo")
	old := NewDialer()
	mustInsert(t, mustDial(t, old, "lungo:singlefile:"+path).Database("edu_x").Collection("things"), bson.M{"_id": "t1", "n": 3})
	old.Close()

	d := NewDialer()
	c := mustDial(t, d, "lungo:file:"+path)
	if got := readN(t, c, "t1"); got != 3 {
		t.Fatalf("after migration read n=%d, want 3", got)
	}
	mustInsert(t, c.Database("edu_x").Collection("things"), bson.M{"_id": "t2", "n": 4})
	d.Close()
	if info, err := os.Stat(path); err != nil || !info.IsDir() {
		t.Fatalf("after migration the store is not a directory (%v)", err)
	}
	if info, err := os.Stat(path + ".legacy"); err != nil || info.IsDir() {
		t.Fatalf("after migration the single-file backup is missing (%v)", err)
	}

	d2 := NewDialer()
	defer d2.Close()
	c2 := mustDial(t, d2, "lungo:file:"+path)
	if got := readN(t, c2, "t1"); got != 3 {
		t.Fatalf("reopened after migration: n=%d, want 3", got)
	}
	if got := readN(t, c2, "t2"); got != 4 {
		t.Fatalf("reopened after migration: n=%d, want 4", got)
	}
}

// Two engines over one directory would interleave their logs; the second open is refused until the first
// Dialer closes.
func TestDialerFileRefusesSecondOpener(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no advisory lock on this system")
	}
	uri := "lungo:file:" + filepath.Join(t.TempDir(), "edugrid.lungo")
	first := NewDialer()
	mustDial(t, first, uri)
	second := NewDialer()
	defer second.Close()
	if _, err := second.Dial(context.Background(), uri); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("second Dialer on an open directory: err %v, want it refused", err)
	}
	first.Close()
	mustDial(t, second, uri)
}

func TestDialerRefusals(t *testing.T) {
	const secret = "hunter2-s3cret"
	closed := NewDialer()
	closed.Close()
	tests := []struct {
		name string
		d    *Dialer
		uri  string
	}{
		{"unsupported scheme", NewDialer(), "postgres://admin:" + secret + "@db.internal:5432/edu"},
		{"lookalike scheme", NewDialer(), "mongodbx://admin:" + secret + "@db.internal/"},
		{"empty", NewDialer(), ""},
		{"file without path", NewDialer(), "lungo:file:"},
		{"single file without path", NewDialer(), "lungo:singlefile:"},
		{"dialer closed", closed, "lungo:memory:late"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer tt.d.Close()
			c, err := tt.d.Dial(context.Background(), tt.uri)
			if err == nil {
				t.Fatalf("Dial(%q) = %v, want an error", tt.uri, c)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error echoes the URI and its credentials: %v", err)
			}
		})
	}
}

// A dead cluster must be reported by Dial (it pings), within the caller's deadline rather than the
// driver's 30 s server selection timeout, and without the credentials from the URI.
func TestDialerMongoDBDeadClusterFailsFast(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	const secret = "hunter2-s3cret"
	uri := "mongodb://edugrid:" + secret + "@" + addr + "/?directConnection=true"

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	d := NewDialer()
	defer d.Close()
	start := time.Now()
	c, err := d.Dial(ctx, uri)
	elapsed := time.Since(start)
	if err == nil {
		_ = c.Disconnect(context.Background())
		t.Fatalf("Dial to a closed port succeeded")
	}
	if elapsed > 8*time.Second {
		t.Errorf("Dial took %v with a 2 s deadline, want it bounded by the deadline", elapsed)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error carries the password: %v", err)
	}
	if !strings.Contains(err.Error(), "mongodb cluster") {
		t.Errorf("error %q does not say which engine failed", err)
	}
}

func TestIsDuplicateKey(t *testing.T) {
	coll := newDB(t).Collection("users")
	ctx := context.Background()
	if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "email", Value: 1}},
		Options: options.Index().SetUnique(true),
	}); err != nil {
		t.Fatalf("create index: %v", err)
	}
	mustInsert(t, coll, bson.M{"_id": "u1", "email": "a@example.com"})
	_, dupErr := coll.InsertOne(ctx, bson.M{"_id": "u2", "email": "a@example.com"})
	if dupErr == nil {
		t.Fatal("second insert with the same unique email succeeded")
	}

	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"embedded engine violation", dupErr, true},
		{"wrapped embedded violation", fmt.Errorf("create user: %w", dupErr), true},
		{"driver write exception 11000", mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 11000, Message: "E11000"}}}, true},
		{"nil", nil, false},
		{"not found", mongo.ErrNoDocuments, false},
		{"other driver code", mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 121, Message: "validation"}}}, false},
		{"plain error", errors.New("connection reset"), false},
		{"application conflict", apperr.Errorf(apperr.Conflict, "email taken"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsDuplicateKey(tt.err); got != tt.want {
				t.Errorf("IsDuplicateKey(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestIsNotFound(t *testing.T) {
	coll := newDB(t).Collection("users")
	missing := coll.FindOne(context.Background(), bson.M{"_id": "nobody"}).Err()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"embedded engine FindOne miss", missing, true},
		{"wrapped", fmt.Errorf("load user: %w", mongo.ErrNoDocuments), true},
		{"nil", nil, false},
		{"other", errors.New("no documents, but not that one"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsNotFound(tt.err); got != tt.want {
				t.Errorf("IsNotFound(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// ByID finds a document by id, and answers NotFound, never a database error, for a malformed id or a
// missing document.
func TestByID(t *testing.T) {
	ctx := context.Background()
	coll := newDB(t).Collection("things")
	type thing struct {
		ID   string `bson:"_id"`
		Name string `bson:"name"`
	}
	known, unknown := id.New(), id.New()
	if _, err := coll.InsertOne(ctx, thing{ID: known, Name: "kept"}); err != nil {
		t.Fatal(err)
	}
	got, err := ByID[thing](ctx, coll, known, "thing")
	if err != nil || got.Name != "kept" {
		t.Fatalf("ByID(known) = %+v, %v", got, err)
	}
	for _, docID := range []string{unknown, "not-an-id", `{"$ne": null}`, ""} {
		_, err := ByID[thing](ctx, coll, docID, "thing")
		if ae := apperr.As(err); ae == nil || ae.Code != apperr.NotFound || ae.Message != "no such thing" {
			t.Errorf("ByID(%q) = %v, want NotFound \"no such thing\"", docID, err)
		}
	}
}

func TestTx(t *testing.T) {
	errRefused := apperr.Errorf(apperr.Conflict, "refused")
	tests := []struct {
		name    string
		fnErr   error
		visible int64
	}{
		{"nil commits", nil, 2},
		{"application error rolls back", errRefused, 0},
		{"wrapped error rolls back", fmt.Errorf("allocate payment: %w", errRefused), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newDB(t)
			coll := db.Collection("payments")
			err := Tx(context.Background(), db, func(ctx context.Context) error {
				for _, id := range []string{"p1", "p2"} {
					if _, err := coll.InsertOne(ctx, bson.M{"_id": id}); err != nil {
						return err
					}
				}
				return tt.fnErr
			})
			// Tx promises fn's error as is, so callers can compare and unwrap it like their own.
			if err != tt.fnErr {
				t.Errorf("Tx = %v, want fn's error %v unchanged", err, tt.fnErr)
			}
			if tt.fnErr != nil && !errors.Is(err, errRefused) {
				t.Errorf("errors.Is(Tx error, fn's sentinel) = false")
			}
			if n := count(t, coll, bson.M{}); n != tt.visible {
				t.Errorf("%d documents visible after Tx, want %d", n, tt.visible)
			}
		})
	}
}

func TestTxNested(t *testing.T) {
	errLate := apperr.Errorf(apperr.Conflict, "last step refused")
	tests := []struct {
		name     string
		outerErr error
		innerErr error
		visible  int64
	}{
		{"both commit", nil, nil, 2},
		{"inner error aborts the outer work too", nil, errLate, 0},
		{"outer error after the inner Tx returned undoes the inner work", errLate, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newDB(t)
			coll := db.Collection("students")
			if InTx(context.Background()) {
				t.Fatal("InTx(Background) = true")
			}
			err := Tx(context.Background(), db, func(ctx context.Context) error {
				if !InTx(ctx) {
					t.Error("InTx inside Tx = false")
				}
				if _, err := coll.InsertOne(ctx, bson.M{"_id": "s1"}); err != nil {
					return err
				}
				// On the embedded engine a second transaction would wait for the first forever: joining
				// is what keeps this from deadlocking.
				if err := Tx(ctx, db, func(ctx context.Context) error {
					if _, err := coll.InsertOne(ctx, bson.M{"_id": "e1"}); err != nil {
						return err
					}
					return tt.innerErr
				}); err != nil {
					return err
				}
				return tt.outerErr
			})
			want := tt.innerErr
			if want == nil {
				want = tt.outerErr
			}
			if err != want {
				t.Errorf("Tx = %v, want %v", err, want)
			}
			if n := count(t, coll, bson.M{}); n != tt.visible {
				t.Errorf("%d documents visible, want %d", n, tt.visible)
			}
		})
	}
}

func TestDatabaseFromContext(t *testing.T) {
	db := newDB(t)
	if got := Database(WithDatabase(context.Background(), db)); got != db {
		t.Fatalf("Database returned %v, want the handle put in", got)
	}
	tests := []struct {
		name string
		ctx  context.Context
	}{
		{"no database", context.Background()},
		{"nil database", WithDatabase(context.Background(), nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Database did not panic on a context without a tenant database")
				}
			}()
			Database(tt.ctx)
		})
	}
}
