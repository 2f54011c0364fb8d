package wiretest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/store"
)

// embedded returns a client of a private embedded engine.
func embedded(t *testing.T) lungo.IClient {
	t.Helper()
	d := store.NewDialer()
	t.Cleanup(d.Close)
	c, err := d.Dial(context.Background(), "lungo:memory:wiretest")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Two namespaces of one client see only their own databases, under the names the product uses, while
// the server holds them under the prefixed names; the server's own databases are not renamed.
func TestNamespaceSeparatesDatabases(t *testing.T) {
	ctx := context.Background()
	raw := embedded(t)
	a, b := Namespace(raw, "ta_"), Namespace(raw, "tb_")
	for _, ns := range []struct {
		c   lungo.IClient
		doc string
	}{{a, "in a"}, {b, "in b"}} {
		db := ns.c.Database("edu_acme")
		if db.Name() != "edu_acme" || db.Client() != ns.c || db.Collection("x").Database().Name() != "edu_acme" {
			t.Fatalf("names: database %q, its client %v, a collection's database %q", db.Name(), db.Client() == ns.c, db.Collection("x").Database().Name())
		}
		if _, err := db.Collection("x").InsertOne(ctx, bson.M{"_id": 1, "doc": ns.doc}); err != nil {
			t.Fatal(err)
		}
	}
	var got struct{ Doc string }
	if err := a.Database("edu_acme").Collection("x").FindOne(ctx, bson.M{"_id": 1}).Decode(&got); err != nil || got.Doc != "in a" {
		t.Fatalf("a reads %+v, %v; want its own document", got, err)
	}
	if err := raw.Database("tb_edu_acme").Collection("x").FindOne(ctx, bson.M{"_id": 1}).Decode(&got); err != nil || got.Doc != "in b" {
		t.Fatalf("the server's tb_edu_acme holds %+v, %v; want b's document", got, err)
	}
	names, err := a.ListDatabaseNames(ctx, bson.M{})
	if err != nil || !slices.Equal(names, []string{"edu_acme"}) {
		t.Fatalf("a lists %v, %v; want [edu_acme]", names, err)
	}
	if _, err := a.ListDatabaseNames(ctx, bson.M{"name": "edu_acme"}); err == nil {
		t.Fatal("a filter naming databases was accepted")
	}
	if got := a.Database("admin").(*nsDatabase).IDatabase.Name(); got != "admin" {
		t.Fatalf("admin is %q on the server, want admin", got)
	}
	if err := a.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := raw.Ping(ctx, nil); err != nil {
		t.Fatalf("Disconnect through a namespace disconnected the shared client: %v", err)
	}
}

// A transaction through a namespace is the server's: an aborted one leaves nothing. On a server without
// transactions (plainTx) the body's writes are plain, so an aborted body's write stays: why tests of
// atomicity call RequireTransactions.
func TestNamespaceTransactions(t *testing.T) {
	ctx := context.Background()
	raw := embedded(t)
	errAbort := errors.New("abort")
	for _, tt := range []struct {
		name    string
		plainTx bool
		left    int64
	}{{"server transactions", false, 0}, {"plain writes", true, 1}} {
		t.Run(tt.name, func(t *testing.T) {
			c := &nsClient{IClient: raw, prefix: "t" + unique() + "_", plainTx: tt.plainTx}
			db := c.Database("edu_acme")
			err := store.Tx(ctx, db, func(ctx context.Context) error {
				if _, err := db.Collection("x").InsertOne(ctx, bson.M{"_id": 1}); err != nil {
					return err
				}
				return errAbort
			})
			if !errors.Is(err, errAbort) {
				t.Fatalf("Tx = %v, want the body's error", err)
			}
			if n, err := db.Collection("x").CountDocuments(ctx, bson.M{}); err != nil || n != tt.left {
				t.Fatalf("%d documents after the abort (%v), want %d", n, err, tt.left)
			}
		})
	}
}

// Indexes the server lacks are created without the missing options: a partial unique index as a plain
// one, a TTL index without expiry; the rest as asked.
func TestPlainIndexesDropMissingOptions(t *testing.T) {
	ctx := context.Background()
	c := &nsClient{IClient: embedded(t), prefix: "tp_", noPartial: true, noTTL: true}
	coll := c.Database("edu_acme").Collection("students")
	_, err := coll.Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetUnique(true).SetPartialFilterExpression(bson.M{"email": bson.M{"$exists": true}})},
		{Keys: bson.D{{Key: "expires", Value: 1}}, Options: options.Index().SetExpireAfterSeconds(60)},
		{Keys: bson.D{{Key: "prn", Value: 1}}, Options: options.Index().SetUnique(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := coll.Indexes().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var specs []bson.M
	if err := cur.All(ctx, &specs); err != nil {
		t.Fatal(err)
	}
	got := map[string]bson.M{}
	for _, s := range specs {
		got[s["name"].(string)] = s
	}
	unique := func(name string) bool { u, _ := got[name]["unique"].(bool); return u }
	if s, ok := got["email_1"]; !ok || unique("email_1") || s["partialFilterExpression"] != nil {
		t.Fatalf("email_1 = %v, want a plain index", s)
	}
	if s, ok := got["expires_1"]; !ok || s["expireAfterSeconds"] != nil {
		t.Fatalf("expires_1 = %v, want no expiry", s)
	}
	if !unique("prn_1") {
		t.Fatalf("prn_1 = %v, want it unique as asked", got["prn_1"])
	}
	// Two students without an email: refused by a whole unique index, accepted by the plain one.
	for _, id := range []int{1, 2} {
		if _, err := coll.InsertOne(ctx, bson.M{"_id": id, "prn": id}); err != nil {
			t.Fatalf("student %d without an email: %v", id, err)
		}
	}
}

// Over the wire, a change stream through a namespace reports only its own databases' changes, ns.db
// without the prefix, so the relay's own $match on "^edu_" sees the names it knows.
func TestNamespaceChangeStream(t *testing.T) {
	if URI() == "" {
		t.Skip("needs a server: set " + EnvURI + " (the embedded engine ignores a stream's pipeline)")
	}
	RequireChangeStreams(t)
	s := NewServer(t)
	dial := s.Dial(func(context.Context, string) (lungo.IClient, error) { return nil, errors.New("not a wire URI") })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mine, err := dial(ctx, Scheme+"c1")
	if err != nil {
		t.Fatal(err)
	}
	other, err := dial(ctx, Scheme+"c2")
	if err != nil {
		t.Fatal(err)
	}
	stream, err := mine.Watch(ctx, mongo.Pipeline{{{Key: "$match", Value: bson.M{"ns.db": bson.M{"$regex": "^edu_"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stream.Close(context.WithoutCancel(ctx)) }()
	if _, err := other.Database("edu_acme").Collection("x").InsertOne(ctx, bson.M{"_id": "other"}); err != nil {
		t.Fatal(err)
	}
	if _, err := mine.Database("edu_acme").Collection("x").InsertOne(ctx, bson.M{"_id": "mine"}); err != nil {
		t.Fatal(err)
	}
	if !stream.Next(ctx) {
		t.Fatalf("no event: %v", stream.Err())
	}
	var ev struct {
		NS          struct{ DB, Coll string }
		DocumentKey struct {
			ID string `bson:"_id"`
		} `bson:"documentKey"`
	}
	if err := stream.Decode(&ev); err != nil {
		t.Fatal(err)
	}
	if ev.NS.DB != "edu_acme" || ev.DocumentKey.ID != "mine" {
		t.Fatalf("event %+v, want edu_acme's insert of mine", ev)
	}
}

// On a server without transactions store.Tx fails and writes nothing, whatever the body: production,
// which never gets the tests' plain-write clients, cannot lose atomicity there without a word.
func TestTxRefusedWithoutTransactions(t *testing.T) {
	if URI() == "" {
		t.Skip("needs a server without transactions: set " + EnvURI + " (FerretDB: scripts/ferretdb.sh start)")
	}
	if c := Probe(t); c.Transactions {
		t.Skipf("%s has transactions; this test is for a server without them (FerretDB, a standalone mongod)", c.Server)
	}
	ctx := context.Background()
	d := store.NewDialer()
	t.Cleanup(d.Close)
	raw, err := d.Dial(ctx, URI())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Disconnect(context.Background()) })
	db := Namespace(raw, "t"+unique()+"_").Database("edu_acme")
	t.Cleanup(func() { _ = db.Drop(context.Background()) })
	if _, err := db.Collection("x").InsertOne(ctx, bson.M{"_id": "before"}); err != nil {
		t.Fatal(err)
	}
	ran := 0
	err = store.Tx(ctx, db, func(ctx context.Context) error {
		ran++
		_, err := db.Collection("x").InsertOne(ctx, bson.M{"_id": "in-tx"})
		return err
	})
	if err == nil {
		t.Fatal("store.Tx succeeded on a server without transactions")
	}
	if n, cerr := db.Collection("x").CountDocuments(ctx, bson.M{"_id": "in-tx"}); cerr != nil || n != 0 {
		t.Fatalf("the refused transaction's write is there (%d, %v)", n, cerr)
	}
	t.Logf("refused after %d run(s) of the body: %v", ran, err)
}
