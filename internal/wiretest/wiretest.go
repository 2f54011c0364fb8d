// Package wiretest runs edugrid's tests against a MongoDB server over the official driver, when
// EDUGRID_TEST_MONGODB_URI names one, instead of against the embedded engine. internal/apptest uses it, so
// every HTTP test and the pipeline's end-to-end tests run over the wire with that variable set.
//
// Each test gets its own database names on the shared server (Namespace: a unique prefix, invisible to
// the product code) and its databases are dropped when it ends, so tests and packages may share one
// server, in parallel too.
//
// What the server can do is found out once per test binary (Probe): whether it is a replica set (or
// mongos), whether a transaction commits and an aborted one leaves nothing, whether a change stream
// opens, whether partial and TTL indexes can be made. A test that needs one of them calls
// RequireTransactions, RequireChangeStreams or RequirePartialIndexes: on a server without it the test
// skips and says why, except under CI=true on a server that claims to be a replica set, where the missing
// feature is a failure. A test resting on the embedded engine itself calls RequireEmbedded.
//
// On a server without transactions (FerretDB, a standalone mongod) store.Tx cannot run at all; the
// clients Server hands out then run each transaction's body as plain writes (UseSession gives a session
// whose transaction calls do nothing), so the tests that do not depend on atomicity still cover the driver
// path. An aborted body's writes stay: tests that prove atomicity, retries or rollback call
// RequireTransactions. Likewise on a server without partial or TTL indexes (FerretDB) such an index is
// created as a plain one (not unique, no expiry; RequirePartialIndexes). Production never sees these clients.
package wiretest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/store"
)

// EnvURI names the server the tests run against; unset, they run on the embedded engine.
const EnvURI = "EDUGRID_TEST_MONGODB_URI"

// URI returns the server's URI, or "" when the tests run on the embedded engine.
func URI() string { return os.Getenv(EnvURI) }

// Capabilities is what the server at URI can do, found out by Probe.
type Capabilities struct {
	// Server describes it for skip messages: "MongoDB 8.0, replica set rs0".
	Server string
	// Major and Minor are buildInfo's version (FerretDB claims the MongoDB version it imitates).
	Major, Minor int
	// ReplicaSet: hello names a replica set, or the server is a mongos. Such a server claims
	// transactions and change streams.
	ReplicaSet bool
	// Transactions: a transaction committed, and an aborted one left nothing behind. TransactionsErr says
	// why not.
	Transactions    bool
	TransactionsErr error
	// ChangeStreams: a change stream opened. ChangeStreamsErr says why not.
	ChangeStreams    bool
	ChangeStreamsErr error
	// PartialIndexes: a unique partial index was created. PartialIndexesErr says why not.
	PartialIndexes    bool
	PartialIndexesErr error
	// TTLIndexes: a TTL index was created. TTLIndexesErr says why not.
	TTLIndexes    bool
	TTLIndexesErr error
}

var (
	probeOnce sync.Once
	probed    Capabilities
	probeErr  error
)

// Probe returns the capabilities of the server at URI, found out on the first call of the test binary.
// It fails the test when the server cannot be reached.
func Probe(t testing.TB) Capabilities {
	t.Helper()
	probeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		probed, probeErr = probe(ctx, URI())
	})
	if probeErr != nil {
		t.Fatalf("wiretest: %s: %v", EnvURI, probeErr)
	}
	return probed
}

func probe(ctx context.Context, uri string) (Capabilities, error) {
	var c Capabilities
	dialer := store.NewDialer()
	defer dialer.Close()
	client, err := dialer.Dial(ctx, uri)
	if err != nil {
		return c, err
	}
	defer func() { _ = client.Disconnect(context.WithoutCancel(ctx)) }()
	var hello struct {
		SetName string `bson:"setName"`
		Msg     string `bson:"msg"`
	}
	if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		return c, fmt.Errorf("hello: %w", err)
	}
	if c.Major, c.Minor, err = store.ServerVersion(ctx, client); err != nil {
		return c, err
	}
	c.ReplicaSet = hello.SetName != "" || hello.Msg == "isdbgrid"
	c.Server = fmt.Sprintf("a server claiming MongoDB %d.%d, standalone", c.Major, c.Minor)
	switch {
	case hello.SetName != "":
		c.Server = fmt.Sprintf("MongoDB %d.%d, replica set %s", c.Major, c.Minor, hello.SetName)
	case hello.Msg == "isdbgrid":
		c.Server = fmt.Sprintf("MongoDB %d.%d, mongos", c.Major, c.Minor)
	}

	db := client.Database("wiretest_probe_" + unique())
	defer func() { _ = db.Drop(context.WithoutCancel(ctx)) }()
	c.TransactionsErr = probeTransactions(ctx, db)
	c.Transactions = c.TransactionsErr == nil
	stream, err := db.Watch(ctx, mongo.Pipeline{})
	if err == nil {
		_ = stream.Close(ctx)
	}
	c.ChangeStreamsErr = err
	c.ChangeStreams = err == nil
	_, c.PartialIndexesErr = db.Collection("probe").Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "email", Value: 1}},
		Options: options.Index().SetUnique(true).SetPartialFilterExpression(bson.M{"email": bson.M{"$exists": true}})})
	c.PartialIndexes = c.PartialIndexesErr == nil
	_, c.TTLIndexesErr = db.Collection("probe").Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "expires", Value: 1}},
		Options: options.Index().SetExpireAfterSeconds(0)})
	c.TTLIndexes = c.TTLIndexesErr == nil
	return c, nil
}

// probeTransactions commits one transaction and aborts another: a server that ignored transactions and
// applied the aborted write anyway would be worse than one that refuses them.
func probeTransactions(ctx context.Context, db lungo.IDatabase) error {
	coll := db.Collection("probe")
	// The collection exists first: before MongoDB 4.4 a transaction could not create one.
	if _, err := coll.InsertOne(ctx, bson.M{"_id": "created"}); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	if err := store.Tx(ctx, db, func(ctx context.Context) error {
		_, err := coll.InsertOne(ctx, bson.M{"_id": "committed"})
		return err
	}); err != nil {
		return err
	}
	errAbort := errors.New("abort")
	if err := store.Tx(ctx, db, func(ctx context.Context) error {
		if _, err := coll.InsertOne(ctx, bson.M{"_id": "aborted"}); err != nil {
			return err
		}
		return errAbort
	}); !errors.Is(err, errAbort) {
		return fmt.Errorf("aborted transaction: %v", err)
	}
	if n, err := coll.CountDocuments(ctx, bson.M{"_id": "aborted"}); err != nil || n != 0 {
		return fmt.Errorf("an aborted transaction's write is there (%d, %v)", n, err)
	}
	return nil
}

// RequireTransactions skips the test, saying why, unless its databases have multi-document transactions
// (the embedded engine always has). Under CI=true a server claiming to be a replica set must have them.
func RequireTransactions(t testing.TB) {
	t.Helper()
	if URI() == "" {
		return
	}
	c := Probe(t)
	require(t, c, "multi-document transactions (atomicity, rollback or retries)", c.Transactions, c.TransactionsErr)
}

// RequirePartialIndexes skips the test, saying why, unless its databases have partial indexes (the
// embedded engine has): without them a partial unique index is created as a plain one (Server), so a test
// proving that uniqueness needs them.
func RequirePartialIndexes(t testing.TB) {
	t.Helper()
	if URI() == "" {
		return
	}
	c := Probe(t)
	require(t, c, "partial unique indexes", c.PartialIndexes, c.PartialIndexesErr)
}

// RequireChangeStreams skips the test, saying why, unless its clusters have change streams (the
// embedded engine always has). Under CI=true a server claiming to be a replica set must have them.
func RequireChangeStreams(t testing.TB) {
	t.Helper()
	if URI() == "" {
		return
	}
	c := Probe(t)
	require(t, c, "change streams", c.ChangeStreams, c.ChangeStreamsErr)
}

// RequireEmbedded skips the test over the wire: what it proves rests on the embedded engine itself
// (why says what), and it runs whenever EDUGRID_TEST_MONGODB_URI is unset.
func RequireEmbedded(t testing.TB, why string) {
	t.Helper()
	if URI() != "" {
		t.Skipf("runs on the embedded engine only (%s); unset %s to run it", why, EnvURI)
	}
}

func require(t testing.TB, c Capabilities, what string, ok bool, why error) {
	t.Helper()
	if ok {
		return
	}
	if c.ReplicaSet && os.Getenv("CI") == "true" {
		t.Fatalf("needs %s, which %s at %s claims and fails: %v", what, c.Server, EnvURI, why)
	}
	t.Skipf("needs %s, which %s at %s does not have (%v); run it on a replica set or without %s (README, Tests and checks)",
		what, c.Server, EnvURI, why, EnvURI)
}

func unique() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Server is one test's share of the server at URI: a connection made through store.Dialer (so the
// product's client options apply) and, per cluster name, a Namespace of it. Its databases are dropped
// when the test ends.
type Server struct {
	t      testing.TB
	caps   Capabilities
	prefix string

	mu     sync.Mutex
	client lungo.IClient
	dialer *store.Dialer
}

// Scheme is the prefix of the cluster URIs a Server's Dial answers: wire:<cluster> is the cluster's
// namespace on the shared server.
const Scheme = "wire:"

// NewServer returns the test's share of the server at URI; the test fails when there is none or it
// cannot be reached.
func NewServer(t testing.TB) *Server {
	t.Helper()
	if URI() == "" {
		t.Fatalf("wiretest: %s is not set", EnvURI)
	}
	s := &Server{t: t, caps: Probe(t), prefix: "t" + unique() + "_", dialer: store.NewDialer()}
	t.Cleanup(s.close)
	return s
}

// Capabilities returns what the server can do.
func (s *Server) Capabilities() Capabilities { return s.caps }

// Dial connects to wire:<cluster> URIs, each its own namespace on the server, and hands any other URI to
// fallback. It is a store.Dial.
func (s *Server) Dial(fallback store.Dial) store.Dial {
	return func(ctx context.Context, uri string) (lungo.IClient, error) {
		cluster, ok := strings.CutPrefix(uri, Scheme)
		if !ok {
			return fallback(ctx, uri)
		}
		if cluster == "" || strings.ContainsAny(cluster, "_./ \"$") {
			return nil, fmt.Errorf("wiretest: cluster URI %q: want wire:<name> with letters and digits", uri)
		}
		client, err := s.connect(ctx)
		if err != nil {
			return nil, err
		}
		return &nsClient{IClient: client, prefix: s.prefix + cluster + "_", plainTx: !s.caps.Transactions,
			noPartial: !s.caps.PartialIndexes, noTTL: !s.caps.TTLIndexes}, nil
	}
}

func (s *Server) connect(ctx context.Context) (lungo.IClient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		return s.client, nil
	}
	c, err := s.dialer.Dial(ctx, URI())
	if err != nil {
		return nil, err
	}
	s.client = c
	return c, nil
}

// close drops every database of the test's namespaces and disconnects.
func (s *Server) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.dialer.Close()
	if s.client == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	defer func() { _ = s.client.Disconnect(ctx) }()
	names, err := Namespace(s.client, s.prefix).ListDatabaseNames(ctx, bson.M{})
	if err != nil {
		s.t.Errorf("wiretest: list the test's databases to drop them: %v", err)
		return
	}
	for _, name := range names {
		if err := s.client.Database(s.prefix + name).Drop(ctx); err != nil {
			s.t.Errorf("wiretest: drop %s%s: %v", s.prefix, name, err)
		}
	}
}
