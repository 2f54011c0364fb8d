package tenant

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/schema"
)

// Upgrader brings institutions' databases to the code's schema version (a schema.Plan) and records the
// version in the registry, where the guard reads it. Safe for concurrent use: concurrent upgrades of one
// institution (many requests reaching a warm instance at once) run the plan once.
type Upgrader struct {
	plan     schema.Plan
	registry *Registry
	dbs      *Databases
	clock    clock.Clock

	mu       sync.Mutex
	inflight map[string]*upgrade // by slug
}

type upgrade struct {
	done chan struct{}
	t    *Tenant
	err  error
}

// NewUpgrader returns an Upgrader applying plan.
func NewUpgrader(plan schema.Plan, registry *Registry, dbs *Databases, clk clock.Clock) *Upgrader {
	return &Upgrader{plan: plan, registry: registry, dbs: dbs, clock: clk, inflight: map[string]*upgrade{}}
}

// Latest is the schema version the code expects of every tenant database.
func (u *Upgrader) Latest() int { return u.plan.Latest() }

// Behind reports whether t's recorded schema is older than the code's.
func (u *Upgrader) Behind(t *Tenant) bool { return t.SchemaVersion < u.plan.Latest() }

// Upgrade applies the migrations t's database lacks, records the new version in the registry and returns
// the tenant as now registered. A tenant already current is returned as it is. Errors are the failing
// migration's or the database's; what was applied before stays applied (the next call resumes).
func (u *Upgrader) Upgrade(ctx context.Context, t *Tenant) (*Tenant, error) {
	if !u.Behind(t) {
		return t, nil
	}
	u.mu.Lock()
	if c, ok := u.inflight[t.Slug]; ok {
		u.mu.Unlock()
		select {
		case <-c.done:
			return c.t, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := &upgrade{done: make(chan struct{})}
	u.inflight[t.Slug] = c
	u.mu.Unlock()

	// The upgrade is shared by every waiting request, so one caller's cancellation must not fail the rest.
	c.t, c.err = u.upgrade(context.WithoutCancel(ctx), t)
	u.mu.Lock()
	delete(u.inflight, t.Slug)
	u.mu.Unlock()
	close(c.done)
	return c.t, c.err
}

func (u *Upgrader) upgrade(ctx context.Context, t *Tenant) (*Tenant, error) {
	db, release, err := u.dbs.Open(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("upgrade %s: %w", t.Slug, err)
	}
	defer release()
	v, err := u.plan.Migrate(ctx, db, u.clock.Now())
	if err != nil {
		return nil, fmt.Errorf("upgrade %s: %w", t.Slug, err)
	}
	return u.registry.Update(ctx, t.Slug, bson.M{"schema_version": v}, false)
}

// UpgradeReport is what UpgradeAll did.
type UpgradeReport struct {
	Tenants  int `json:"tenants"`  // institutions seen
	Upgraded int `json:"upgraded"` // brought up to date
	Failed   int `json:"failed"`   // left behind; their errors are joined in UpgradeAll's error
}

// UpgradeAll upgrades every registered institution that is behind, batch at a time in slug order, and
// calls progress (when not nil) after each batch. It carries on past a failing institution and returns
// every failure joined; a stopped run is resumed by running it again.
func (u *Upgrader) UpgradeAll(ctx context.Context, batch int, progress func(UpgradeReport)) (UpgradeReport, error) {
	if batch <= 0 {
		batch = 100
	}
	var (
		rep  UpgradeReport
		errs []error
	)
	after := ""
	for {
		page, err := u.registry.List(ctx, after, batch)
		if err != nil {
			return rep, err
		}
		if len(page) > batch {
			page = page[:batch] // List reads one more to tell whether a page follows
		}
		for i := range page {
			t := &page[i]
			rep.Tenants++
			if !u.Behind(t) {
				continue
			}
			if _, err := u.Upgrade(ctx, t); err != nil {
				rep.Failed++
				errs = append(errs, err)
				continue
			}
			rep.Upgraded++
		}
		if progress != nil {
			progress(rep)
		}
		if len(page) < batch {
			return rep, errors.Join(errs...)
		}
		after = page[len(page)-1].Slug
	}
}
