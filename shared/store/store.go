// Package store opens MongoDB clusters and hands out database handles.
//
// All database code in edugrid talks to github.com/256dpi/lungo's driver interfaces (lungo.IClient,
// lungo.IDatabase, lungo.ICollection). A cluster URI picks the engine:
//
//	mongodb://…, mongodb+srv://…   the official MongoDB driver (production)
//	lungo:memory:<name>            the embedded engine in memory (tests); one engine per name per Dialer
//	lungo:file:<path>              the embedded engine persisted in the directory <path> (the local
//	                               stack; see DirStore); an old single-file store there is moved into it
//	lungo:singlefile:<path>        the embedded engine in one file rewritten on every commit (lungo's
//	                               FileStore, the format before DirStore), kept to compare the two
//
// The embedded engine has no aggregation pipeline and no $regex; it panics on options it does not
// support. Code that must run on both engines keeps to what both support (see DESIGN.md, engine facts).
//
// A request reaches its tenant's database only through the handle the tenant middleware puts into the
// request context (WithDatabase, Database); no handler names a database itself.
package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/mongo/readpref"
)

// Dialer connects to clusters by URI. It owns the embedded engines it opens: they live until Close, so an
// in-memory engine keeps its data when a client cache evicts and later re-dials it. Safe for concurrent
// use.
type Dialer struct {
	mu      sync.Mutex
	engines map[string]*lungo.Engine
	clients map[string]lungo.IClient
	dirs    map[string]*DirStore // released after their engine closes
	closed  bool
}

// NewDialer returns a Dialer with no open engines.
func NewDialer() *Dialer {
	return &Dialer{engines: map[string]*lungo.Engine{}, clients: map[string]lungo.IClient{}, dirs: map[string]*DirStore{}}
}

// Dial returns a connected client for uri. For MongoDB URIs it connects and pings, so a dead cluster is
// reported here rather than on the first query; writes are acknowledged by a majority and journaled, the
// pool and timeouts have serverless defaults the URI's own options override (mongoOptions), and a URI
// that weakens the write or read concern is refused. Errors name the engine but never the URI, which may
// hold credentials.
func (d *Dialer) Dial(ctx context.Context, uri string) (lungo.IClient, error) {
	switch {
	case strings.HasPrefix(uri, "mongodb://"), strings.HasPrefix(uri, "mongodb+srv://"):
		opts, err := mongoOptions(uri)
		if err != nil {
			return nil, fmt.Errorf("connect to mongodb cluster: %w", err)
		}
		client, err := lungo.Connect(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("connect to mongodb cluster: %w", err)
		}
		pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := client.Ping(pingCtx, readpref.Primary()); err != nil {
			_ = client.Disconnect(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("ping mongodb cluster: %w", err)
		}
		return client, nil
	case uri == "lungo:memory", strings.HasPrefix(uri, "lungo:memory:"), strings.HasPrefix(uri, "lungo:file:"),
		strings.HasPrefix(uri, "lungo:singlefile:"):
		return d.embedded(uri)
	default:
		return nil, fmt.Errorf("dial cluster: unsupported URI scheme (want mongodb://, mongodb+srv://, lungo:memory:<name>, lungo:file:<path> or lungo:singlefile:<path>)")
	}
}

func (d *Dialer) embedded(uri string) (lungo.IClient, error) {
	key := uri
	var st lungo.Store
	var dir *DirStore
	if scheme, path, ok := cutFileURI(uri); ok {
		if path == "" {
			return nil, fmt.Errorf("dial embedded engine: %s needs a path", scheme)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("dial embedded engine: %w", err)
		}
		// One engine per location whichever format names it: two engines over one file would overwrite
		// each other's commits.
		key = "lungo:file:" + abs
		if scheme == "lungo:singlefile:" {
			// Owner-only: the file holds password hashes and every tenant's records.
			st = lungo.NewFileStore(abs, 0o600)
		} else {
			// Synced every 100 ms rather than on each commit, as MongoDB's journal is by default: the engine
			// holds its lock, readers included, through each commit's Store, and a wait for the disk there
			// stalls every request. A process that dies loses nothing; a power cut the last 100 ms.
			dir = NewDirStore(abs, 100*time.Millisecond)
			st = dir
		}
	} else {
		st = lungo.NewMemoryStore()
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, fmt.Errorf("dial embedded engine: dialer closed")
	}
	if c, ok := d.clients[key]; ok {
		return c, nil
	}
	client, engine, err := lungo.Open(context.Background(), lungo.Options{
		Store: st,
		// The engine copies its whole oplog on every write and by default keeps every entry of the last
		// five minutes, so a burst of writes slows each next write in proportion (10,000 writes: 30x).
		// Keeping the newest 2,000 entries whatever their age bounds that cost; a change-stream reader
		// further behind than that gets "history lost" and the relay backfills from a snapshot.
		MinOplogAge:  time.Millisecond,
		MaxOplogSize: 2000,
	})
	if err != nil {
		if dir != nil {
			_ = dir.Close()
		}
		return nil, fmt.Errorf("open embedded engine: %w", err)
	}
	d.engines[key] = engine
	d.clients[key] = client
	if dir != nil {
		d.dirs[key] = dir
	}
	return client, nil
}

// cutFileURI splits a lungo:file: or lungo:singlefile: URI into its scheme and path.
func cutFileURI(uri string) (scheme, path string, ok bool) {
	for _, scheme := range []string{"lungo:file:", "lungo:singlefile:"} {
		if path, ok := strings.CutPrefix(uri, scheme); ok {
			return scheme, path, true
		}
	}
	return "", "", false
}

// Close closes every embedded engine the Dialer opened and releases their directories. Clients from MongoDB URIs are disconnected by
// whoever holds them (the Cache).
func (d *Dialer) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	for k, e := range d.engines {
		e.Close()
		if dir := d.dirs[k]; dir != nil {
			// After the engine: it commits nothing more. The error is the log's close, after every commit
			// was already synced, so there is nothing to lose by ignoring it.
			_ = dir.Close()
		}
		delete(d.engines, k)
		delete(d.clients, k)
		delete(d.dirs, k)
	}
}

type dbKey struct{}

// WithDatabase returns a context carrying db as the request's tenant database. Only the tenant middleware
// calls it (and tests standing in for it).
func WithDatabase(ctx context.Context, db lungo.IDatabase) context.Context {
	return context.WithValue(ctx, dbKey{}, db)
}

// Database returns the tenant database the middleware put into ctx. It panics when there is none: a
// handler that reaches for a tenant database on a route that is not tenant-scoped is a programming error,
// and the panic is recovered into a 500 without internals.
func Database(ctx context.Context) lungo.IDatabase {
	db, ok := ctx.Value(dbKey{}).(lungo.IDatabase)
	if !ok || db == nil {
		panic("store.Database: no tenant database in context (route is not tenant-scoped)")
	}
	return db
}
