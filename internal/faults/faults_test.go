package faults_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/internal/pipeline"
	"github.com/edugrid/edugrid/internal/wiretest"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// eventually polls cond every 10 ms until it holds, failing after 15 s with cond's last state.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached in 15 s; last state %s", what, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A write whose database call is still waiting at the request's deadline (here: behind a transaction
// holding the embedded engine's write lock) answers 503 "unavailable" with Retry-After and no internals,
// writes nothing, and does not hold reads up; once the lock is released the same write succeeds.
func TestDatabaseTimeoutAnswers503AndRecovers(t *testing.T) {
	wiretest.RequireEmbedded(t, "a transaction holds the engine's one write lock; a server's transaction blocks no other collection")
	// Long enough that the sign-in and the read below never hit it on a loaded machine under -race.
	const timeout = time.Second
	env := apptest.New(t, "EDUGRID_REQUEST_TIMEOUT", timeout.String())
	env.Provision("acme")
	owner := env.Login("acme", "owner@acme.test").AccessToken
	db := env.TenantDB("acme")

	holding, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- store.Tx(context.Background(), db, func(ctx context.Context) error {
			if _, err := db.Collection("fault_lock").InsertOne(ctx, bson.M{"_id": "lock"}); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()

	start := time.Now()
	rec := env.Do("POST", "/users/branches", owner, map[string]string{"code": "NORTH", "name": "North"})
	took := time.Since(start)
	p := apptest.MustProblem(t, rec, http.StatusServiceUnavailable, "unavailable")
	if got := rec.Header().Get("Retry-After"); got != httpapi.RetryAfterUnavailable {
		t.Errorf("Retry-After = %q, want %q", got, httpapi.RetryAfterUnavailable)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q", ct)
	}
	for _, leak := range []string{"goroutine", "token", "transaction", "lungo", "edu_acme", ".go:"} {
		if strings.Contains(rec.Body.String(), leak) {
			t.Errorf("the 503 leaks %q: %s", leak, rec.Body)
		}
	}
	if p.Detail == "" || !strings.Contains(rec.Body.String(), `"request_id"`) {
		t.Errorf("problem without detail or request id: %s", rec.Body)
	}
	if took < timeout || took > timeout+5*time.Second {
		t.Errorf("answered after %s, want the %s deadline", took, timeout)
	}
	// Reads take a snapshot and never wait for the write lock.
	apptest.MustStatus(t, env.Do("GET", "/users/branches", owner, nil), http.StatusOK)

	close(release)
	released = true
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	rec = env.Do("POST", "/users/branches", owner, map[string]string{"code": "NORTH", "name": "North"})
	apptest.MustStatus(t, rec, http.StatusCreated) // 201, not 409: the timed-out attempt wrote nothing
	rec = env.Do("GET", "/users/branches", owner, nil)
	if n := strings.Count(rec.Body.String(), `"code":"NORTH"`); n != 1 {
		t.Fatalf("%d NORTH branches after the retry, want 1: %s", n, rec.Body)
	}
}

// failFirst is a pstest reactor failing, once armed, the next n calls of the function it is registered
// for with code, then letting every call through.
type failFirst struct {
	mu     sync.Mutex
	n      int
	code   codes.Code
	failed int
}

func (f *failFirst) arm(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n = n
}

func (f *failFirst) React(any) (bool, any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failed < f.n {
		f.failed++
		return true, nil, status.Error(f.code, "injected fault")
	}
	return false, nil, nil
}

func (f *failFirst) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// branchChanges returns, per branch document id of tenant, how many raw changes the warehouse holds.
func branchChanges(t *testing.T, l *pipeline.Local, tenant string) map[string]int {
	t.Helper()
	rows, err := l.Warehouse.Dump(context.Background(), warehouse.Changes)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows { // event_id, tenant, collection, op, document_id, …
		if r[1] == tenant && r[2] == "branches" {
			out[r[4].(string)]++
		}
	}
	return out
}

func writeBranches(t *testing.T, db lungo.IDatabase, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, err := db.Collection("branches").InsertOne(context.Background(), bson.M{"_id": fmt.Sprintf("b%04d", i), "code": fmt.Sprintf("C%04d", i), "name": "n", "active": true}); err != nil {
			t.Fatal(err)
		}
	}
}

// exactlyOnce waits until the warehouse holds one raw change and one current row for each of the n
// branches written, and fails if any change is there twice.
func exactlyOnce(t *testing.T, l *pipeline.Local, n int) {
	t.Helper()
	eventually(t, "every branch in the warehouse once", func() (bool, string) {
		got := branchChanges(t, l, "acme")
		for id, c := range got {
			if c != 1 {
				t.Fatalf("branch %s has %d raw changes, want exactly 1", id, c)
			}
		}
		rows, err := l.Warehouse.Query(context.Background(), warehouse.MustQuery("acme", "SELECT count(*) FROM branches", warehouse.Branches))
		if err != nil {
			t.Fatal(err)
		}
		return len(got) == n && rows[0][0] == int64(n), fmt.Sprintf("%d raw changes, current rows %v", len(got), rows)
	})
}

// Pub/Sub refusing the relay's publishes: with a retryable code the client retries by itself; with a
// permanent one the relay gives up on the stream, resumes from its checkpoint (never past the failed
// publish) and publishes again. Either way every change reaches the warehouse exactly once: what was
// published twice is deduplicated by event id.
func TestPublishErrorsLoseAndDuplicateNothing(t *testing.T) {
	for _, tt := range []struct {
		name string
		code codes.Code
	}{
		{"retryable", codes.Unavailable},
		{"permanent", codes.PermissionDenied},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wiretest.RequireChangeStreams(t)
			env := apptest.New(t)
			faults := &failFirst{code: tt.code}
			l, err := pipeline.Start(context.Background(), env.App, pipeline.Options{CheckpointEvery: 20 * time.Millisecond,
				PubSub: []pstest.ServerReactorOption{{FuncName: "Publish", Reactor: faults}}})
			if err != nil {
				t.Fatal(err)
			}
			env.Warehouse.Set(l.Warehouse)
			t.Cleanup(l.Stop)
			env.Provision("acme")
			db := env.TenantDB("acme")
			eventually(t, "the provisioning in the warehouse", func() (bool, string) {
				rows, err := l.Warehouse.Query(context.Background(), warehouse.MustQuery("acme", "SELECT count(*) FROM users", warehouse.Users))
				return err == nil && rows[0][0] == int64(1), fmt.Sprint(rows, err)
			})
			faults.arm(3) // the branches' publishes fail, not the provisioning's
			writeBranches(t, db, 0, 200)
			exactlyOnce(t, l, 200)
			if got := faults.count(); got != 3 {
				t.Fatalf("%d publishes failed, want 3: the fault was not exercised", got)
			}
			// After recovering, the stream keeps flowing.
			writeBranches(t, db, 200, 250)
			exactlyOnce(t, l, 250)
		})
	}
}

// flakyWarehouse fails the first n Applies, then passes every call to the real warehouse.
type flakyWarehouse struct {
	warehouse.Warehouse
	mu      sync.Mutex
	n       int
	failed  int
	applied int
}

func (f *flakyWarehouse) Apply(ctx context.Context, b warehouse.Batch) error {
	f.mu.Lock()
	if f.failed < f.n {
		f.failed++
		f.mu.Unlock()
		return errors.New("injected warehouse fault: connection reset")
	}
	f.applied++
	f.mu.Unlock()
	return f.Warehouse.Apply(ctx, b)
}

func (f *flakyWarehouse) counts() (failed, applied int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed, f.applied
}

// The warehouse failing a few batches, then recovering: ingest gives each failed batch back to Pub/Sub,
// which delivers it again at once; every change then lands once, and the reports read right.
func TestWarehouseFailingThenRecovering(t *testing.T) {
	wiretest.RequireChangeStreams(t)
	env := apptest.New(t)
	var flaky *flakyWarehouse
	l, err := pipeline.Start(context.Background(), env.App, pipeline.Options{CheckpointEvery: 20 * time.Millisecond,
		WrapWarehouse: func(wh warehouse.Warehouse) warehouse.Warehouse {
			flaky = &flakyWarehouse{Warehouse: wh, n: 3}
			return flaky
		}})
	if err != nil {
		t.Fatal(err)
	}
	env.Warehouse.Set(l.Warehouse)
	t.Cleanup(l.Stop)
	env.Provision("acme")
	owner := env.Login("acme", "owner@acme.test").AccessToken
	db := env.TenantDB("acme")
	writeBranches(t, db, 0, 100)
	start := time.Now()
	exactlyOnce(t, l, 100)
	if failed, applied := flaky.counts(); failed != 3 || applied == 0 {
		t.Fatalf("warehouse failed %d and applied %d batches, want 3 failures then success", failed, applied)
	}
	// Redelivered at once, not after the subscription's 30 s ack deadline.
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("recovery took %s", took)
	}
	// A report over what was ingested through the failures: the owner is the one staff member.
	eventually(t, "staff report", func() (bool, string) {
		rec := env.Do("GET", "/analytics/staff", owner, nil)
		return rec.Code == http.StatusOK && strings.Contains(rec.Body.String(), `"role":"owner","total":1`), rec.Body.String()
	})
}
