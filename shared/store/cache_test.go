package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/256dpi/lungo"
)

// fakeClient stands in for a cluster client. The embedded interface is nil: the cache may only ever call
// Disconnect, and any other call panics, which is itself a finding.
type fakeClient struct {
	lungo.IClient
	uri string
	net *fakeNet

	// Guarded by net.mu.
	leases      int // leases the test currently holds on this client
	disconnects int
	violation   string // set when Disconnect ran while the test held a lease
}

func (c *fakeClient) Disconnect(context.Context) error {
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	c.disconnects++
	if c.leases > 0 {
		c.violation = fmt.Sprintf("%s disconnected with %d live leases", c.uri, c.leases)
	}
	return nil
}

// fakeNet is a Dial that creates one fakeClient per dial and records everything the cache does to them.
type fakeNet struct {
	mu      sync.Mutex
	dials   map[string]int
	clients []*fakeClient
	// fail, when set, decides the outcome of a dial before it happens (nil error = success).
	fail func(uri string, n int) error
	// gate, when set, is called inside every dial before it returns, to hold dials open.
	gate func(ctx context.Context, uri string) error
}

func newFakeNet() *fakeNet { return &fakeNet{dials: map[string]int{}} }

func (f *fakeNet) Dial(ctx context.Context, uri string) (lungo.IClient, error) {
	f.mu.Lock()
	f.dials[uri]++
	n := f.dials[uri]
	fail, gate := f.fail, f.gate
	f.mu.Unlock()
	if gate != nil {
		if err := gate(ctx, uri); err != nil {
			return nil, err
		}
	}
	if fail != nil {
		if err := fail(uri, n); err != nil {
			return nil, err
		}
	}
	c := &fakeClient{uri: uri, net: f}
	f.mu.Lock()
	f.clients = append(f.clients, c)
	f.mu.Unlock()
	return c, nil
}

func (f *fakeNet) dialCount(uri string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dials[uri]
}

// disconnects returns how often the n-th client dialed for uri (1-based) was disconnected.
func (f *fakeNet) disconnects(t *testing.T, uri string, n int) int {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := 0
	for _, c := range f.clients {
		if c.uri == uri {
			seen++
			if seen == n {
				return c.disconnects
			}
		}
	}
	t.Fatalf("no client #%d for %s (dialed %d)", n, uri, seen)
	return 0
}

// mustAcquire acquires uri and marks the lease as held on the fake client, failing if the client was
// already disconnected: a client handed out must be live.
func mustAcquire(t testing.TB, c *Cache, uri string) *Lease {
	t.Helper()
	l, err := c.Acquire(context.Background(), uri)
	if err != nil {
		t.Fatalf("Acquire(%q): %v", uri, err)
	}
	holdLease(t, l)
	return l
}

func holdLease(t testing.TB, l *Lease) {
	t.Helper()
	fc := l.Client().(*fakeClient)
	fc.net.mu.Lock()
	defer fc.net.mu.Unlock()
	if fc.disconnects > 0 {
		t.Errorf("Acquire handed out %s after it was disconnected", fc.uri)
	}
	fc.leases++
}

// dropLease unmarks the lease before releasing it, so a Disconnect the release causes sees no live lease.
func dropLease(l *Lease) {
	fc := l.Client().(*fakeClient)
	fc.net.mu.Lock()
	fc.leases--
	fc.net.mu.Unlock()
	l.Release()
}

func TestCacheLRUBound(t *testing.T) {
	const capacity = 3
	net := newFakeNet()
	c := NewCache(net.Dial, capacity)
	use := func(uri string) { dropLease(mustAcquire(t, c, uri)) }

	for _, uri := range []string{"a", "b", "c"} {
		use(uri)
	}
	// Touching a makes b the least recently used.
	use("a")
	use("d")
	if got := c.Len(); got != capacity {
		t.Fatalf("Len = %d after 4 distinct URIs, want %d", got, capacity)
	}
	if got := net.disconnects(t, "b", 1); got != 1 {
		t.Fatalf("b (least recently used) disconnected %d times, want 1", got)
	}
	for _, uri := range []string{"a", "c", "d"} {
		if got := net.disconnects(t, uri, 1); got != 0 {
			t.Errorf("%s disconnected %d times while still cached", uri, got)
		}
	}

	// c is now the least recently used; one more URI pushes it out.
	use("e")
	if got := net.disconnects(t, "c", 1); got != 1 {
		t.Fatalf("c disconnected %d times, want 1", got)
	}

	// A cached URI is not dialed again; an evicted one is.
	use("a")
	if got := net.dialCount("a"); got != 1 {
		t.Errorf("a dialed %d times while cached, want 1", got)
	}
	use("b")
	if got := net.dialCount("b"); got != 2 {
		t.Errorf("evicted b dialed %d times on re-acquire, want 2", got)
	}
	if got := c.Len(); got != capacity {
		t.Errorf("Len = %d, want %d", got, capacity)
	}
}

func TestCacheCapacityBelowOneKeepsOne(t *testing.T) {
	net := newFakeNet()
	c := NewCache(net.Dial, 0)
	dropLease(mustAcquire(t, c, "a"))
	dropLease(mustAcquire(t, c, "b"))
	if got := c.Len(); got != 1 {
		t.Fatalf("Len = %d with capacity 0, want 1 (capacity is at least 1)", got)
	}
}

func TestCacheEvictedClientDisconnectsAtLastRelease(t *testing.T) {
	net := newFakeNet()
	c := NewCache(net.Dial, 1)
	first := mustAcquire(t, c, "a")
	second := mustAcquire(t, c, "a")
	if first.Client() != second.Client() {
		t.Fatal("two leases on one URI got different clients")
	}

	dropLease(mustAcquire(t, c, "b")) // evicts a while both its leases are out
	if got := net.disconnects(t, "a", 1); got != 0 {
		t.Fatalf("a disconnected %d times while leased", got)
	}
	if _, ok := first.Client().(*fakeClient); !ok {
		t.Fatal("an evicted lease lost its client")
	}

	dropLease(first)
	if got := net.disconnects(t, "a", 1); got != 0 {
		t.Fatalf("a disconnected with one lease still out")
	}
	dropLease(second)
	if got := net.disconnects(t, "a", 1); got != 1 {
		t.Fatalf("a disconnected %d times after its last release, want 1", got)
	}

	// A second Release must neither disconnect again nor drive the count negative (which panics).
	second.Release()
	first.Release()
	if got := net.disconnects(t, "a", 1); got != 1 {
		t.Fatalf("a disconnected %d times after double release, want 1", got)
	}
	for _, fc := range net.clients {
		if fc.violation != "" {
			t.Error(fc.violation)
		}
	}
}

func TestCacheReleaseTwiceKeepsCountForOtherLeases(t *testing.T) {
	net := newFakeNet()
	c := NewCache(net.Dial, 1)
	a1 := mustAcquire(t, c, "a")
	a2 := mustAcquire(t, c, "a")
	dropLease(a1)
	a1.Release() // must not count against a2
	dropLease(mustAcquire(t, c, "b"))
	if got := net.disconnects(t, "a", 1); got != 0 {
		t.Fatalf("a disconnected while a2 holds it: a repeated Release was counted twice")
	}
	dropLease(a2)
	if got := net.disconnects(t, "a", 1); got != 1 {
		t.Fatalf("a disconnected %d times, want 1", got)
	}
}

// doneCounter is a context that counts calls to Done. A caller waiting for another caller's dial must
// watch its context, so the count tells the fake dial how many callers are already waiting, without
// sleeping.
type doneCounter struct {
	context.Context
	calls atomic.Int32
	ch    chan struct{} // signalled on every call
}

func newDoneCounter(ctx context.Context) *doneCounter {
	return &doneCounter{Context: ctx, ch: make(chan struct{}, 1024)}
}

func (d *doneCounter) Done() <-chan struct{} {
	d.calls.Add(1)
	select {
	case d.ch <- struct{}{}:
	default:
	}
	return d.Context.Done()
}

// waitFor blocks until Done was called at least n times; the deadline only turns a hang into a failure.
func (d *doneCounter) waitFor(n int32) error {
	deadline := time.After(10 * time.Second)
	for d.calls.Load() < n {
		select {
		case <-d.ch:
		case <-deadline:
			return fmt.Errorf("only %d of %d callers started waiting", d.calls.Load(), n)
		}
	}
	return nil
}

func TestCacheSingleFlight(t *testing.T) {
	const callers = 50
	net := newFakeNet()
	ctx := newDoneCounter(context.Background())
	// The one dial holds until all 50 callers (the first included) are waiting for it, so they really overlap it.
	net.gate = func(context.Context, string) error { return ctx.waitFor(callers) }
	c := NewCache(net.Dial, 4)

	leases := make([]*Lease, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { leases[i], errs[i] = c.Acquire(ctx, "mongodb://cluster-1") })
	}
	wg.Wait()

	if got := net.dialCount("mongodb://cluster-1"); got != 1 {
		t.Fatalf("%d concurrent first acquires dialed %d times, want 1", callers, got)
	}
	var client lungo.IClient
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if client == nil {
			client = leases[i].Client()
		}
		if leases[i].Client() != client {
			t.Fatalf("caller %d got a different client", i)
		}
	}
	for _, l := range leases {
		l.Release()
	}
	if got := c.Len(); got != 1 {
		t.Errorf("Len = %d, want 1", got)
	}
	if got := net.disconnects(t, "mongodb://cluster-1", 1); got != 0 {
		t.Errorf("a cached client was disconnected %d times after its leases were released", got)
	}
}

func TestCacheFailedDialReachesEveryWaiterAndIsNotCached(t *testing.T) {
	const callers = 10
	errDown := errors.New("cluster down")
	net := newFakeNet()
	ctx := newDoneCounter(context.Background())
	net.gate = func(context.Context, string) error { return ctx.waitFor(callers) }
	net.fail = func(_ string, n int) error {
		if n == 1 {
			return errDown
		}
		return nil
	}
	c := NewCache(net.Dial, 1)

	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			l, err := c.Acquire(ctx, "a")
			if err == nil {
				l.Release()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, errDown) {
			t.Errorf("caller %d: err = %v, want the dial error", i, err)
		}
	}
	if got := net.dialCount("a"); got != 1 {
		t.Fatalf("dialed %d times for one failing flight, want 1", got)
	}
	if got := c.Len(); got != 0 {
		t.Fatalf("Len = %d after a failed dial, want 0 (failures are not cached)", got)
	}

	net.gate = nil
	l := mustAcquire(t, c, "a")
	defer dropLease(l)
	if got := net.dialCount("a"); got != 2 {
		t.Fatalf("Acquire after a failed dial dialed %d times in total, want 2", got)
	}
}

func TestCacheCancelWhileWaitingForAnotherDial(t *testing.T) {
	net := newFakeNet()
	open := make(chan struct{})
	dialing := make(chan struct{})
	net.gate = func(_ context.Context, uri string) error {
		if uri == "a" {
			close(dialing)
			<-open
		}
		return nil
	}
	c := NewCache(net.Dial, 1)

	type result struct {
		l   *Lease
		err error
	}
	first := make(chan result, 1)
	go func() {
		l, err := c.Acquire(context.Background(), "a")
		first <- result{l, err}
	}()
	<-dialing

	// Already cancelled: the second caller finds the dial in flight and must give up at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if l, err := c.Acquire(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire with a cancelled context while another dials = %v, %v; want context.Canceled", l, err)
	}

	close(open)
	r := <-first
	if r.err != nil {
		t.Fatalf("the dialing caller failed: %v", r.err)
	}
	dropLease(r.l)

	// If the cancelled caller had leaked its reference, evicting a would not disconnect it.
	dropLease(mustAcquire(t, c, "b"))
	if got := net.disconnects(t, "a", 1); got != 1 {
		t.Fatalf("evicted idle client disconnected %d times, want 1: the cancelled caller leaked a lease", got)
	}
}

func TestCacheClose(t *testing.T) {
	net := newFakeNet()
	c := NewCache(net.Dial, 4)
	held := mustAcquire(t, c, "a")
	dropLease(mustAcquire(t, c, "b"))

	c.Close()
	if got := net.disconnects(t, "b", 1); got != 1 {
		t.Errorf("idle b disconnected %d times on Close, want 1", got)
	}
	if got := net.disconnects(t, "a", 1); got != 0 {
		t.Errorf("leased a disconnected %d times on Close, want 0 until released", got)
	}
	if got := c.Len(); got != 0 {
		t.Errorf("Len = %d after Close, want 0", got)
	}
	if l, err := c.Acquire(context.Background(), "b"); err == nil {
		l.Release()
		t.Error("Acquire after Close succeeded")
	}

	dropLease(held)
	if got := net.disconnects(t, "a", 1); got != 1 {
		t.Errorf("a disconnected %d times after its release following Close, want 1", got)
	}
	c.Close() // a second Close must not disconnect anything again
	if got := net.disconnects(t, "b", 1); got != 1 {
		t.Errorf("b disconnected %d times after a second Close, want 1", got)
	}
}

func TestCacheCloseDuringDial(t *testing.T) {
	net := newFakeNet()
	open := make(chan struct{})
	dialing := make(chan struct{})
	net.gate = func(context.Context, string) error {
		close(dialing)
		<-open
		return nil
	}
	c := NewCache(net.Dial, 4)
	got := make(chan *Lease, 1)
	go func() {
		l, err := c.Acquire(context.Background(), "a")
		if err != nil {
			t.Errorf("Acquire: %v", err)
		}
		got <- l
	}()
	<-dialing
	c.Close()
	close(open)
	l := <-got
	if l == nil {
		t.FailNow()
	}
	holdLease(t, l)
	if n := net.disconnects(t, "a", 1); n != 0 {
		t.Fatalf("client dialed across Close disconnected %d times while leased", n)
	}
	dropLease(l)
	if n := net.disconnects(t, "a", 1); n != 1 {
		t.Fatalf("client dialed across Close disconnected %d times after release, want 1", n)
	}
}

// TestCacheStress churns a small cache from many goroutines. Run under -race it checks the locking; the
// fake clients check that no client is disconnected while leased and none twice.
func TestCacheStress(t *testing.T) {
	const (
		workers  = 32
		rounds   = 500
		uris     = 20
		capacity = 4
	)
	net := newFakeNet()
	c := NewCache(net.Dial, capacity)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for range rounds {
				uri := fmt.Sprintf("mongodb://cluster-%d", rng.IntN(uris))
				l, err := c.Acquire(context.Background(), uri)
				if err != nil {
					t.Errorf("Acquire(%q): %v", uri, err)
					return
				}
				holdLease(t, l)
				dropLease(l)
			}
		})
	}
	wg.Wait()

	if got := c.Len(); got > capacity {
		t.Fatalf("Len = %d, over capacity %d", got, capacity)
	}
	net.mu.Lock()
	live := 0
	for _, fc := range net.clients {
		if fc.violation != "" {
			t.Error(fc.violation)
		}
		switch fc.disconnects {
		case 0:
			live++
		case 1:
		default:
			t.Errorf("%s disconnected %d times", fc.uri, fc.disconnects)
		}
	}
	clients := len(net.clients)
	net.mu.Unlock()
	// Every client not in the cache was evicted, and with no lease left each must be disconnected.
	if live != c.Len() {
		t.Fatalf("%d clients never disconnected, but %d are cached: evicted clients leaked", live, c.Len())
	}
	if clients <= capacity {
		t.Fatalf("only %d dials: the test did not churn the cache", clients)
	}

	c.Close()
	net.mu.Lock()
	defer net.mu.Unlock()
	for _, fc := range net.clients {
		if fc.disconnects != 1 {
			t.Errorf("%s disconnected %d times after Close, want 1", fc.uri, fc.disconnects)
		}
	}
}

// The tenant guard asks the lease for a tenant's handle on every request; the handle must be made once per
// client and shared by every lease on it, including leases taken concurrently.
func TestLeaseDatabaseReusesHandles(t *testing.T) {
	d := NewDialer()
	defer d.Close()
	c := NewCache(d.Dial, 2)
	defer c.Close()
	acquire := func() *Lease {
		t.Helper()
		l, err := c.Acquire(context.Background(), "lungo:memory:handles")
		if err != nil {
			t.Fatalf("Acquire: %v", err)
		}
		t.Cleanup(l.Release)
		return l
	}
	first, second := acquire(), acquire()

	a := first.Database("edu_acme")
	if a.Name() != "edu_acme" {
		t.Fatalf("Database(edu_acme).Name() = %q", a.Name())
	}
	if first.Database("edu_acme") != a || second.Database("edu_acme") != a {
		t.Error("a second call for the same database made a new handle")
	}
	if b := first.Database("edu_beta"); b == a || b.Name() != "edu_beta" {
		t.Errorf("Database(edu_beta) = %v (%q), want its own handle", b, b.Name())
	}

	handles := make([]lungo.IDatabase, 16)
	var wg sync.WaitGroup
	for i := range handles {
		wg.Go(func() {
			l, err := c.Acquire(context.Background(), "lungo:memory:handles")
			if err != nil {
				t.Errorf("Acquire: %v", err)
				return
			}
			defer l.Release()
			handles[i] = l.Database("edu_gamma")
		})
	}
	wg.Wait()
	for i, h := range handles {
		if h != handles[0] {
			t.Fatalf("concurrent caller %d got a different handle", i)
		}
	}
}

// A dial that panics must fail its waiters and leave the URI dialable, not wedge it forever.
func TestCacheDialPanicIsAnError(t *testing.T) {
	calls := 0
	c := NewCache(func(context.Context, string) (lungo.IClient, error) {
		calls++
		if calls == 1 {
			panic("driver bug")
		}
		return nil, errors.New("still down")
	}, 2)
	if _, err := c.Acquire(context.Background(), "a"); err == nil || !strings.Contains(err.Error(), "panic") {
		t.Fatalf("first Acquire = %v, want the panic as an error", err)
	}
	if _, err := c.Acquire(context.Background(), "a"); err == nil || !strings.Contains(err.Error(), "still down") {
		t.Fatalf("second Acquire = %v, want a fresh dial's error", err)
	}
}

// The caller that starts a dial waits only as long as its own context lives.
func TestCacheFirstCallerHonoursItsContext(t *testing.T) {
	unblock := make(chan struct{})
	defer close(unblock)
	c := NewCache(func(context.Context, string) (lungo.IClient, error) {
		<-unblock
		return nil, errors.New("late")
	}, 2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Acquire(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire with a cancelled context = %v, want context.Canceled", err)
	}
}
