package store

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/256dpi/lungo"
)

// Dial connects to a cluster. *Dialer implements it; tests substitute counting or failing dialers.
type Dial func(ctx context.Context, uri string) (lungo.IClient, error)

// Cache keeps one client per cluster URI for a warm instance: one client reaches every database on its
// cluster, so tenants share clients. It is an LRU bounded to a capacity; an evicted client is disconnected
// only when its last lease is released, so a request never loses its client mid-flight. Connecting is lazy
// and single-flight: concurrent first requests for a cluster share one dial. Safe for concurrent use.
type Cache struct {
	dial     Dial
	capacity int

	mu      sync.Mutex
	entries map[string]*entry
	lru     *list.List // front = most recently used; values are *entry
	closed  bool
}

type entry struct {
	uri     string
	ready   chan struct{} // closed when the dial finished
	client  lungo.IClient
	err     error
	refs    int
	evicted bool
	elem    *list.Element

	dbMu sync.Mutex
	dbs  map[string]lungo.IDatabase // handles are cheap to use but not to make: the engines check options by reflection
}

// NewCache returns a cache holding at most capacity clients (at least 1) that connects with dial.
func NewCache(dial Dial, capacity int) *Cache {
	if capacity < 1 {
		capacity = 1
	}
	return &Cache{dial: dial, capacity: capacity, entries: map[string]*entry{}, lru: list.New()}
}

// Lease is a counted reference to a cached client. Release it exactly once when done; the client stays
// connected at least until then.
type Lease struct {
	cache *Cache
	e     *entry
	once  sync.Once
}

// Client returns the leased client.
func (l *Lease) Client() lungo.IClient { return l.e.client }

// Database returns the named database of the leased client. Handles are kept with the client, so a warm
// instance makes each tenant's handle once.
func (l *Lease) Database(name string) lungo.IDatabase {
	e := l.e
	e.dbMu.Lock()
	defer e.dbMu.Unlock()
	if db, ok := e.dbs[name]; ok {
		return db
	}
	if e.dbs == nil {
		e.dbs = map[string]lungo.IDatabase{}
	}
	db := e.client.Database(name)
	e.dbs[name] = db
	return db
}

// Release gives the lease back. Calling it more than once is harmless.
func (l *Lease) Release() { l.once.Do(func() { l.cache.release(l.e) }) }

// dialTimeout bounds a dial that no caller is waiting for any more.
const dialTimeout = 30 * time.Second

// Acquire returns a lease on the client for uri, dialing it if needed. Every caller, including the one
// that starts the dial, waits for it only as long as its own ctx lives and then gets ctx's error without
// holding a reference; the dial itself goes on for the others. A failed dial is returned to everyone
// waiting on it and not cached, so the next Acquire tries again.
func (c *Cache) Acquire(ctx context.Context, uri string) (*Lease, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("acquire cluster client: cache closed")
	}
	e, ok := c.entries[uri]
	if ok {
		e.refs++
		c.lru.MoveToFront(e.elem)
		c.mu.Unlock()
	} else {
		// One reference for this caller, one for the dial, which releases it when done: whoever lets go
		// last disconnects an evicted client, and that is never a request stuck behind a slow dial.
		e = &entry{uri: uri, ready: make(chan struct{}), refs: 2}
		e.elem = c.lru.PushFront(e)
		c.entries[uri] = e
		victims := c.evictLocked()
		c.mu.Unlock()
		disconnectAll(victims)
		go c.connect(ctx, e)
	}
	select {
	case <-e.ready:
	case <-ctx.Done():
		c.release(e)
		return nil, fmt.Errorf("acquire cluster client: %w", ctx.Err())
	}
	if e.err != nil {
		c.release(e)
		return nil, e.err
	}
	return &Lease{cache: c, e: e}, nil
}

// connect dials e's cluster and publishes the outcome to every waiter. It gives up the dial's reference
// before waking the waiters, so by the time any of them returns, only leases keep the client.
func (c *Cache) connect(ctx context.Context, e *entry) {
	defer func() {
		if v := recover(); v != nil {
			e.client, e.err = nil, fmt.Errorf("dial cluster: panic: %v", v)
		}
		if e.err != nil {
			c.forget(e)
		}
		c.mu.Lock()
		e.refs--
		last := e.refs == 0 && e.evicted
		c.mu.Unlock()
		close(e.ready)
		if last {
			disconnectAll([]*entry{e})
		}
	}()
	// The dial outlives the first caller's cancellation: other requests may be waiting on it.
	dialCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dialTimeout)
	defer cancel()
	e.client, e.err = c.dial(dialCtx, e.uri)
}

// forget removes a failed entry so the next Acquire dials afresh.
func (c *Cache) forget(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[e.uri] == e {
		delete(c.entries, e.uri)
		c.lru.Remove(e.elem)
	}
}

// evictLocked drops least recently used entries beyond capacity and returns those nobody holds, to be
// disconnected outside the lock.
func (c *Cache) evictLocked() []*entry {
	var idle []*entry
	for c.lru.Len() > c.capacity {
		back := c.lru.Back()
		e := back.Value.(*entry)
		c.lru.Remove(back)
		delete(c.entries, e.uri)
		e.evicted = true
		if e.refs == 0 {
			idle = append(idle, e)
		}
	}
	return idle
}

func (c *Cache) release(e *entry) {
	c.mu.Lock()
	e.refs--
	if e.refs < 0 {
		c.mu.Unlock()
		panic("store.Cache: lease released more often than acquired")
	}
	last := e.refs == 0 && e.evicted
	c.mu.Unlock()
	if last {
		disconnectAll([]*entry{e})
	}
}

func disconnectAll(es []*entry) {
	for _, e := range es {
		<-e.ready
		if e.client != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = e.client.Disconnect(ctx)
			cancel()
		}
	}
}

// Len returns the number of cached clients (evicted clients still leased are not counted).
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Close evicts every client; each is disconnected now or when its last lease is released.
func (c *Cache) Close() {
	c.mu.Lock()
	c.closed = true
	var idle []*entry
	for uri, e := range c.entries {
		delete(c.entries, uri)
		e.evicted = true
		if e.refs == 0 {
			idle = append(idle, e)
		}
	}
	c.lru.Init()
	c.mu.Unlock()
	disconnectAll(idle)
}
