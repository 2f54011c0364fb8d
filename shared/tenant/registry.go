package tenant

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"golang.org/x/sync/singleflight"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/store"
)

// Collection names in the platform database.
const (
	tenantsCollection  = "tenants"
	countersCollection = "counters"
)

// MaxNumber is the largest tenant number: PRNs give it four digits.
const MaxNumber = 9999

// Registry reads and writes the tenant registry in the platform database, with a warm-instance cache in
// front of reads. A cached tenant is at most TTL old, so a suspension or token-version bump made by another
// instance takes effect everywhere within TTL; the instance that made it sees it at once. Safe for
// concurrent use.
type Registry struct {
	db    lungo.IDatabase
	ttl   time.Duration
	clock clock.Clock
	group singleflight.Group

	mu       sync.Mutex
	bySlug   map[string]cachedTenant
	byNumber map[int]string
	origins  cachedOrigins
}

// cachedOrigins is the union of every active tenant's Settings.Origins.
type cachedOrigins struct {
	set     map[string]bool // nil until the first load
	fetched time.Time
}

type cachedTenant struct {
	t       *Tenant // nil caches "no such tenant"
	fetched time.Time
}

// NewRegistry returns a registry over the platform database db.
func NewRegistry(db lungo.IDatabase, ttl time.Duration, clk clock.Clock) *Registry {
	return &Registry{db: db, ttl: ttl, clock: clk, bySlug: map[string]cachedTenant{}, byNumber: map[int]string{}}
}

// DB returns the platform database.
func (r *Registry) DB() lungo.IDatabase { return r.db }

// EnsureIndexes creates the registry's indexes.
func (r *Registry) EnsureIndexes(ctx context.Context) error {
	_, err := r.db.Collection(tenantsCollection).Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{Key: "number", Value: 1}}, Options: options.Index().SetUnique(true).SetName("number_unique")},
		{Keys: bson.D{{Key: "db", Value: 1}}, Options: options.Index().SetUnique(true).SetName("db_unique")},
	})
	if err != nil {
		return fmt.Errorf("create tenant registry indexes: %w", err)
	}
	return nil
}

// Get returns the tenant with slug, from the cache when fresh. It returns a NotFound error when there is
// no such tenant; the returned value is shared and must not be modified.
func (r *Registry) Get(ctx context.Context, slug string) (*Tenant, error) {
	now := r.clock.Now()
	r.mu.Lock()
	c, ok := r.bySlug[slug]
	r.mu.Unlock()
	if ok && now.Sub(c.fetched) < r.ttl {
		if c.t == nil {
			return nil, apperr.Errorf(apperr.NotFound, "no such institution")
		}
		return c.t, nil
	}
	// The shared load serves every waiting request, so one caller's cancellation must not fail the others.
	loadCtx := context.WithoutCancel(ctx)
	v, err, _ := r.group.Do("slug:"+slug, func() (any, error) {
		var t Tenant
		err := r.db.Collection(tenantsCollection).FindOne(loadCtx, bson.M{"_id": slug}).Decode(&t)
		if store.IsNotFound(err) {
			r.remember(slug, nil, now)
			return (*Tenant)(nil), nil
		}
		if err != nil {
			return nil, fmt.Errorf("load tenant %s: %w", slug, err)
		}
		r.remember(slug, &t, now)
		return &t, nil
	})
	if err != nil {
		return nil, err
	}
	t := v.(*Tenant)
	if t == nil {
		return nil, apperr.Errorf(apperr.NotFound, "no such institution")
	}
	return t, nil
}

// ByNumber returns the tenant with number n (the first four digits of a PRN), or NotFound.
func (r *Registry) ByNumber(ctx context.Context, n int) (*Tenant, error) {
	r.mu.Lock()
	slug, ok := r.byNumber[n]
	r.mu.Unlock()
	if ok {
		return r.Get(ctx, slug)
	}
	loadCtx := context.WithoutCancel(ctx)
	v, err, _ := r.group.Do("number:"+strconv.Itoa(n), func() (any, error) {
		var t Tenant
		err := r.db.Collection(tenantsCollection).FindOne(loadCtx, bson.M{"number": n}).Decode(&t)
		if store.IsNotFound(err) {
			return (*Tenant)(nil), nil
		}
		if err != nil {
			return nil, fmt.Errorf("load tenant number %d: %w", n, err)
		}
		r.remember(t.Slug, &t, r.clock.Now())
		return &t, nil
	})
	if err != nil {
		return nil, err
	}
	if v.(*Tenant) == nil {
		return nil, apperr.Errorf(apperr.NotFound, "no such institution")
	}
	return v.(*Tenant), nil
}

func (r *Registry) remember(slug string, t *Tenant, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bySlug[slug] = cachedTenant{t: t, fetched: at}
	if t != nil {
		r.byNumber[t.Number] = slug
	}
}

// Invalidate drops slug from this instance's cache, so this instance sees its own change at once.
func (r *Registry) Invalidate(slug string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.bySlug, slug)
	r.origins.fetched = time.Time{} // its origins or its status may have changed
}

// OriginAllowed reports whether an active tenant lists origin in its Settings.Origins (it implements
// httpapi.OriginChecker). It answers from the union of every active tenant's origins, loaded at most
// once per TTL; when a reload fails, the last loaded union keeps answering, so a brief outage of the
// platform database does not cut browsers off. An error comes back only when nothing was ever loaded.
func (r *Registry) OriginAllowed(ctx context.Context, origin string) (bool, error) {
	now := r.clock.Now()
	r.mu.Lock()
	c := r.origins
	r.mu.Unlock()
	if c.set != nil && now.Sub(c.fetched) < r.ttl {
		return c.set[origin], nil
	}
	loadCtx := context.WithoutCancel(ctx)
	v, err, _ := r.group.Do("origins", func() (any, error) {
		set, err := r.loadOrigins(loadCtx)
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		r.origins = cachedOrigins{set: set, fetched: now}
		r.mu.Unlock()
		return set, nil
	})
	if err != nil {
		if c.set != nil {
			return c.set[origin], nil
		}
		return false, err
	}
	return v.(map[string]bool)[origin], nil
}

func (r *Registry) loadOrigins(ctx context.Context) (map[string]bool, error) {
	cur, err := r.db.Collection(tenantsCollection).Find(ctx,
		bson.M{"status": Active, "settings.origins": bson.M{"$exists": true}},
		options.Find().SetProjection(bson.M{"settings.origins": 1}))
	if err != nil {
		return nil, fmt.Errorf("load tenant origins: %w", err)
	}
	var docs []struct {
		Settings struct {
			Origins []string `bson:"origins"`
		} `bson:"settings"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("load tenant origins: %w", err)
	}
	set := map[string]bool{}
	for _, d := range docs {
		for _, o := range d.Settings.Origins {
			set[o] = true
		}
	}
	return set, nil
}

// Create inserts t with the next free tenant number (it sets t.Number, t.DB, CreatedAt and UpdatedAt).
// It returns a Conflict error when the slug is taken and when the 9,999 numbers are used up.
func (r *Registry) Create(ctx context.Context, t *Tenant) error {
	if err := ValidateSlug(t.Slug); err != nil {
		return err
	}
	// Refuse a taken slug before spending a tenant number on it (numbers are few: four digits).
	if n, err := r.db.Collection(tenantsCollection).CountDocuments(ctx, bson.M{"_id": t.Slug}); err != nil {
		return fmt.Errorf("create tenant %s: %w", t.Slug, err)
	} else if n > 0 {
		return apperr.Errorf(apperr.Conflict, "an institution with slug %q already exists", t.Slug)
	}
	// One transaction: a refusal (numbers used up, the slug taken meanwhile) leaves the counter as it was.
	err := store.Tx(ctx, r.db, func(ctx context.Context) error {
		var counter struct {
			Seq int `bson:"seq"`
		}
		err := r.db.Collection(countersCollection).FindOneAndUpdate(ctx,
			bson.M{"_id": "tenant_number"}, bson.M{"$inc": bson.M{"seq": 1}},
			options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After),
		).Decode(&counter)
		if err != nil {
			return fmt.Errorf("allocate tenant number: %w", err)
		}
		if counter.Seq > MaxNumber {
			return apperr.Errorf(apperr.Conflict, "every tenant number is in use")
		}
		now := r.clock.Now()
		t.Number = counter.Seq
		t.DB = DatabaseName(t.Slug)
		t.CreatedAt, t.UpdatedAt = now, now
		if _, err := r.db.Collection(tenantsCollection).InsertOne(ctx, t); err != nil {
			if store.IsDuplicateKey(err) {
				return apperr.Errorf(apperr.Conflict, "an institution with slug %q already exists", t.Slug)
			}
			return fmt.Errorf("create tenant %s: %w", t.Slug, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.Invalidate(t.Slug)
	return nil
}

// Load reads slug straight from the database, bypassing the cache; NotFound when absent.
func (r *Registry) Load(ctx context.Context, slug string) (*Tenant, error) {
	var t Tenant
	err := r.db.Collection(tenantsCollection).FindOne(ctx, bson.M{"_id": slug}).Decode(&t)
	if store.IsNotFound(err) {
		return nil, apperr.Errorf(apperr.NotFound, "no such institution")
	}
	if err != nil {
		return nil, fmt.Errorf("load tenant %s: %w", slug, err)
	}
	return &t, nil
}

// List returns up to limit+1 tenants with slugs after `after`, in slug order (the extra one tells the
// caller another page exists).
func (r *Registry) List(ctx context.Context, after string, limit int) ([]Tenant, error) {
	filter := bson.M{}
	if after != "" {
		filter["_id"] = bson.M{"$gt": after}
	}
	cur, err := r.db.Collection(tenantsCollection).Find(ctx, filter,
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit+1)))
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	var out []Tenant
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return out, nil
}

// Update applies set (a document of registry fields built by the caller's code, never by a client) to
// slug, stamps UpdatedAt, and returns the updated tenant; NotFound when absent. When bumpVersion is true the
// tenant's token version is incremented too, which logs out every user of the tenant.
func (r *Registry) Update(ctx context.Context, slug string, set bson.M, bumpVersion bool) (*Tenant, error) {
	if set == nil {
		set = bson.M{}
	}
	set["updated_at"] = r.clock.Now()
	update := bson.M{"$set": set}
	if bumpVersion {
		update["$inc"] = bson.M{"token_version": 1}
	}
	var t Tenant
	err := r.db.Collection(tenantsCollection).FindOneAndUpdate(ctx, bson.M{"_id": slug}, update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&t)
	if store.IsNotFound(err) {
		return nil, apperr.Errorf(apperr.NotFound, "no such institution")
	}
	if err != nil {
		return nil, fmt.Errorf("update tenant %s: %w", slug, err)
	}
	r.Invalidate(slug)
	return &t, nil
}

// CountByCluster returns how many institutions (in any status) each cluster holds.
func (r *Registry) CountByCluster(ctx context.Context) (map[string]int, error) {
	cur, err := r.db.Collection(tenantsCollection).Find(ctx, bson.M{}, options.Find().SetProjection(bson.M{"cluster": 1}))
	if err != nil {
		return nil, fmt.Errorf("count tenants by cluster: %w", err)
	}
	var rows []struct {
		Cluster string `bson:"cluster"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("count tenants by cluster: %w", err)
	}
	out := map[string]int{}
	for _, row := range rows {
		out[row.Cluster]++
	}
	return out, nil
}
