package wiretest

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Namespace returns a client that shows client's databases whose names start with prefix, without the
// prefix: Database("edu_acme") is the server's "<prefix>edu_acme", and Name says "edu_acme". Tests
// sharing one server each get their own prefix, so every database name the product derives (the
// platform database, edu_<slug>, the relay's edugrid_cluster) is theirs alone, and the product code runs
// unchanged. Change streams opened through it see only the prefixed databases, with ns.db reported
// without the prefix (two stages put in front of the caller's pipeline). The server's own databases
// (admin, local, config) are reached as they are, for buildInfo, hello and the like.
//
// Disconnect does nothing: whoever made client owns it and disconnects it.
func Namespace(client lungo.IClient, prefix string) lungo.IClient {
	return &nsClient{IClient: client, prefix: prefix}
}

type nsClient struct {
	lungo.IClient
	prefix string
	// plainTx: the server has no transactions; sessions run store.Tx's bodies as plain writes.
	plainTx bool
	// noPartial: the server has no partial indexes; they are created as plain, non-unique indexes.
	noPartial bool
	// noTTL: the server has no TTL indexes; they are created without expiry.
	noTTL bool
}

// own reports whether name is a database the namespace maps, rather than one of the server's own.
func own(name string) bool {
	return name != "admin" && name != "local" && name != "config"
}

func (c *nsClient) real(name string) string {
	if !own(name) {
		return name
	}
	return c.prefix + name
}

func (c *nsClient) Database(name string, opts ...*options.DatabaseOptions) lungo.IDatabase {
	return &nsDatabase{IDatabase: c.IClient.Database(c.real(name), opts...), client: c, name: name}
}

func (c *nsClient) Disconnect(context.Context) error { return nil }

// ListDatabaseNames lists the namespace's databases. A filter other than an empty one is refused: it
// would name databases as the caller sees them, which the server does not know.
func (c *nsClient) ListDatabaseNames(ctx context.Context, filter any, opts ...*options.ListDatabasesOptions) ([]string, error) {
	res, err := c.ListDatabases(ctx, filter, opts...)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(res.Databases))
	for _, d := range res.Databases {
		names = append(names, d.Name)
	}
	return names, nil
}

func (c *nsClient) ListDatabases(ctx context.Context, filter any, opts ...*options.ListDatabasesOptions) (mongo.ListDatabasesResult, error) {
	if !emptyFilter(filter) {
		return mongo.ListDatabasesResult{}, fmt.Errorf("wiretest: list databases: only an empty filter is supported, got %v", filter)
	}
	// Filtered here rather than by the server: the embedded engine has no $regex.
	res, err := c.IClient.ListDatabases(ctx, bson.M{}, opts...)
	if err != nil {
		return res, err
	}
	out := res
	out.Databases = nil
	out.TotalSize = 0
	for _, d := range res.Databases {
		if name, ok := strings.CutPrefix(d.Name, c.prefix); ok {
			d.Name = name
			out.Databases = append(out.Databases, d)
			out.TotalSize += d.SizeOnDisk
		}
	}
	return out, nil
}

func emptyFilter(filter any) bool {
	switch f := filter.(type) {
	case nil:
		return true
	case bson.M:
		return len(f) == 0
	case bson.D:
		return len(f) == 0
	case map[string]any:
		return len(f) == 0
	}
	return false
}

func (c *nsClient) Watch(ctx context.Context, pipeline any, opts ...*options.ChangeStreamOptions) (lungo.IChangeStream, error) {
	p, err := c.pipeline(pipeline)
	if err != nil {
		return nil, err
	}
	return c.IClient.Watch(ctx, p, opts...)
}

// pipeline puts two stages in front of a change stream's pipeline: only the namespace's databases, and
// ns.db without the prefix, so the caller's own stages (a $match on ns.db) see the names it knows.
func (c *nsClient) pipeline(pipeline any) (mongo.Pipeline, error) {
	out := mongo.Pipeline{
		{{Key: "$match", Value: bson.M{"ns.db": bson.M{"$regex": "^" + regexp.QuoteMeta(c.prefix)}}}},
		{{Key: "$set", Value: bson.M{"ns.db": bson.M{"$substrBytes": bson.A{"$ns.db", len(c.prefix), 1000}}}}},
	}
	switch p := pipeline.(type) {
	case nil:
	case mongo.Pipeline:
		out = append(out, p...)
	case []bson.D:
		out = append(out, p...)
	case bson.A:
		for _, stage := range p {
			d, ok := stage.(bson.D)
			if !ok {
				return nil, fmt.Errorf("wiretest: watch: a stage of type %T is not supported (use bson.D)", stage)
			}
			out = append(out, d)
		}
	default:
		return nil, fmt.Errorf("wiretest: watch: pipeline of type %T is not supported (use mongo.Pipeline)", pipeline)
	}
	return out, nil
}

type nsDatabase struct {
	lungo.IDatabase
	client *nsClient
	name   string
}

func (d *nsDatabase) Name() string          { return d.name }
func (d *nsDatabase) Client() lungo.IClient { return d.client }

func (d *nsDatabase) Collection(name string, opts ...*options.CollectionOptions) lungo.ICollection {
	return &nsCollection{ICollection: d.IDatabase.Collection(name, opts...), db: d}
}

func (d *nsDatabase) Watch(ctx context.Context, pipeline any, opts ...*options.ChangeStreamOptions) (lungo.IChangeStream, error) {
	p, err := d.client.pipeline(pipeline)
	if err != nil {
		return nil, err
	}
	return d.IDatabase.Watch(ctx, p, opts...)
}

type nsCollection struct {
	lungo.ICollection
	db *nsDatabase
}

func (c *nsCollection) Database() lungo.IDatabase { return c.db }

func (c *nsCollection) Indexes() lungo.IIndexView {
	if cl := c.db.client; cl.noPartial || cl.noTTL {
		return plainIndexes{IIndexView: c.ICollection.Indexes(), partial: !cl.noPartial, ttl: !cl.noTTL}
	}
	return c.ICollection.Indexes()
}

// plainIndexes creates indexes without the options the server lacks (FerretDB has neither): a partial
// index becomes a plain one without its uniqueness (made whole, a partial unique index would refuse the
// documents its filter leaves out, two students without an email), and a TTL index one without expiry.
// Uniqueness among the filtered documents then goes unchecked and nothing expires; the tests that prove
// either need a server that has them.
type plainIndexes struct {
	lungo.IIndexView
	partial, ttl bool // the server has them
}

func (v plainIndexes) CreateOne(ctx context.Context, m mongo.IndexModel, opts ...*options.CreateIndexesOptions) (string, error) {
	names, err := v.CreateMany(ctx, []mongo.IndexModel{m}, opts...)
	if err != nil {
		return "", err
	}
	return names[0], nil
}

func (v plainIndexes) CreateMany(ctx context.Context, ms []mongo.IndexModel, opts ...*options.CreateIndexesOptions) ([]string, error) {
	out := make([]mongo.IndexModel, len(ms))
	for i, m := range ms {
		out[i] = m
		if m.Options == nil {
			continue
		}
		o := *m.Options
		if !v.partial && o.PartialFilterExpression != nil {
			o.PartialFilterExpression, o.Unique = nil, nil
		}
		if !v.ttl {
			o.ExpireAfterSeconds = nil
		}
		out[i].Options = &o
	}
	return v.IIndexView.CreateMany(ctx, out, opts...)
}

func (c *nsCollection) Clone(opts ...*options.CollectionOptions) (lungo.ICollection, error) {
	cl, err := c.ICollection.Clone(opts...)
	if err != nil {
		return nil, err
	}
	return &nsCollection{ICollection: cl, db: c.db}, nil
}

func (c *nsCollection) Watch(ctx context.Context, pipeline any, opts ...*options.ChangeStreamOptions) (lungo.IChangeStream, error) {
	p, err := c.db.client.pipeline(pipeline)
	if err != nil {
		return nil, err
	}
	return c.ICollection.Watch(ctx, p, opts...)
}

// UseSession, on a server without transactions, gives fn a session whose transaction calls do nothing
// and whose context carries no driver session, so the driver sends no transaction fields the server
// would refuse and store.Tx runs its body as plain writes (package doc).
func (c *nsClient) UseSession(ctx context.Context, fn func(lungo.ISessionContext) error) error {
	if !c.plainTx {
		return c.IClient.UseSession(ctx, fn)
	}
	return fn(plainSession{Context: ctx, client: c})
}

func (c *nsClient) UseSessionWithOptions(ctx context.Context, opts *options.SessionOptions, fn func(lungo.ISessionContext) error) error {
	if !c.plainTx {
		return c.IClient.UseSessionWithOptions(ctx, opts, fn)
	}
	return fn(plainSession{Context: ctx, client: c})
}

// plainSession is a session without a transaction: what a server without transactions can offer.
type plainSession struct {
	context.Context
	client *nsClient
}

func (plainSession) ID() bson.Raw                                          { return nil }
func (plainSession) AbortTransaction(context.Context) error                { return nil }
func (plainSession) AdvanceClusterTime(bson.Raw) error                     { return nil }
func (plainSession) AdvanceOperationTime(*primitive.Timestamp) error       { return nil }
func (s plainSession) Client() lungo.IClient                               { return s.client }
func (plainSession) ClusterTime() bson.Raw                                 { return nil }
func (plainSession) CommitTransaction(context.Context) error               { return nil }
func (plainSession) EndSession(context.Context)                            {}
func (plainSession) OperationTime() *primitive.Timestamp                   { return nil }
func (plainSession) StartTransaction(...*options.TransactionOptions) error { return nil }

func (s plainSession) WithTransaction(ctx context.Context, fn func(lungo.ISessionContext) (any, error), _ ...*options.TransactionOptions) (any, error) {
	return fn(plainSession{Context: ctx, client: s.client})
}
