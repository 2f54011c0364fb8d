package tenant_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/tenant"
)

// base lies in the future so the embedded engine's wall-clock TTL monitor never touches test documents.
var base = time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)

const registryTTL = 30 * time.Second

func newPlatformDB(t *testing.T) lungo.IDatabase {
	t.Helper()
	client, engine, err := lungo.Open(context.Background(), lungo.Options{Store: lungo.NewMemoryStore()})
	if err != nil {
		t.Fatalf("open engine: %v", err)
	}
	t.Cleanup(engine.Close)
	return client.Database("edugrid_platform")
}

func newRegistry(t *testing.T, db lungo.IDatabase, clk clock.Clock) *tenant.Registry {
	t.Helper()
	r := tenant.NewRegistry(db, registryTTL, clk)
	if err := r.EnsureIndexes(context.Background()); err != nil {
		t.Fatalf("EnsureIndexes: %v", err)
	}
	return r
}

func newTenant(slug string, status tenant.Status, cluster string) *tenant.Tenant {
	return &tenant.Tenant{
		Slug: slug, Name: "Institution " + slug, Status: status, Cluster: cluster,
		Branding: tenant.Branding{DisplayName: slug}, Settings: tenant.DefaultSettings(),
	}
}

func mustCreate(t *testing.T, r *tenant.Registry, ten *tenant.Tenant) *tenant.Tenant {
	t.Helper()
	if err := r.Create(context.Background(), ten); err != nil {
		t.Fatalf("Create %s: %v", ten.Slug, err)
	}
	return ten
}

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if got := apperr.CodeOf(err); got != code {
		t.Fatalf("got %v (code %q), want code %q", err, got, code)
	}
}

// rename changes a tenant's name behind the registry's back, as another instance or an operator would.
func rename(t *testing.T, db lungo.IDatabase, slug, name string) {
	t.Helper()
	res, err := db.Collection("tenants").UpdateOne(context.Background(), bson.M{"_id": slug}, bson.M{"$set": bson.M{"name": name}})
	if err != nil || res.MatchedCount != 1 {
		t.Fatalf("rename %s: %v (matched %v)", slug, err, res)
	}
}

func mustGet(t *testing.T, r *tenant.Registry, slug string) *tenant.Tenant {
	t.Helper()
	ten, err := r.Get(context.Background(), slug)
	if err != nil {
		t.Fatalf("Get %s: %v", slug, err)
	}
	return ten
}

func TestRegistryCreate(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewManual(base)
	r := newRegistry(t, newPlatformDB(t), clk)
	for i, slug := range []string{"alpha", "st-marys", "gamma"} {
		ten := mustCreate(t, r, newTenant(slug, tenant.Active, "main"))
		if ten.Number != i+1 {
			t.Errorf("%s got number %d, want %d", slug, ten.Number, i+1)
		}
		if now := clk.Now(); ten.DB != tenant.DatabaseName(slug) || !ten.CreatedAt.Equal(now) || !ten.UpdatedAt.Equal(now) {
			t.Errorf("%s: db %q created %v updated %v", slug, ten.DB, ten.CreatedAt, ten.UpdatedAt)
		}
		clk.Advance(time.Second)
	}

	got, err := r.Load(ctx, "st-marys")
	if err != nil {
		t.Fatal(err)
	}
	if got.Number != 2 || got.DB != "edu_st_marys" || got.Name != "Institution st-marys" || got.Status != tenant.Active {
		t.Errorf("stored %+v", got)
	}

	wantCode(t, r.Create(ctx, newTenant("alpha", tenant.Active, "main")), apperr.Conflict)
	wantCode(t, r.Create(ctx, newTenant("Bad_Slug", tenant.Active, "main")), apperr.Invalid)
	wantCode(t, r.Create(ctx, newTenant("platform", tenant.Active, "main")), apperr.Invalid)
	if _, err := r.Load(ctx, "Bad_Slug"); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("refused tenant was stored: %v", err)
	}
}

// Numbers are four digits of every PRN; the 10,000th tenant must be refused, not given a fifth digit.
func TestRegistryCreateNumbersExhausted(t *testing.T) {
	ctx := context.Background()
	db := newPlatformDB(t)
	r := newRegistry(t, db, clock.NewManual(base))
	_, err := db.Collection("counters").UpdateOne(ctx, bson.M{"_id": "tenant_number"},
		bson.M{"$set": bson.M{"seq": tenant.MaxNumber - 1}}, options.Update().SetUpsert(true))
	if err != nil {
		t.Fatal(err)
	}
	if last := mustCreate(t, r, newTenant("last", tenant.Active, "main")); last.Number != tenant.MaxNumber {
		t.Errorf("number %d, want %d", last.Number, tenant.MaxNumber)
	}
	wantCode(t, r.Create(ctx, newTenant("one-too-many", tenant.Active, "main")), apperr.Conflict)
	if _, err := r.Load(ctx, "one-too-many"); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("tenant past the last number was stored: %v", err)
	}
	// The refusal wrote nothing: the counter still names the last number given out.
	var counter struct {
		Seq int `bson:"seq"`
	}
	if err := db.Collection("counters").FindOne(ctx, bson.M{"_id": "tenant_number"}).Decode(&counter); err != nil || counter.Seq != tenant.MaxNumber {
		t.Errorf("counter after a refused create = %d, %v; want %d", counter.Seq, err, tenant.MaxNumber)
	}
}

func TestRegistryGetCaches(t *testing.T) {
	db := newPlatformDB(t)
	clk := clock.NewManual(base)
	r := newRegistry(t, db, clk)
	mustCreate(t, r, newTenant("acme", tenant.Active, "main"))
	if got := mustGet(t, r, "acme").Name; got != "Institution acme" {
		t.Fatalf("name %q", got)
	}

	rename(t, db, "acme", "Renamed")
	clk.Advance(registryTTL - time.Nanosecond)
	if got := mustGet(t, r, "acme").Name; got != "Institution acme" {
		t.Errorf("within TTL: name %q, want the cached one", got)
	}
	clk.Advance(time.Nanosecond)
	if got := mustGet(t, r, "acme").Name; got != "Renamed" {
		t.Errorf("after TTL: name %q, want the stored one", got)
	}

	// Invalidate is how the instance that made a change sees it at once.
	rename(t, db, "acme", "Renamed again")
	if got := mustGet(t, r, "acme").Name; got != "Renamed" {
		t.Errorf("before Invalidate: name %q, want the cached one", got)
	}
	r.Invalidate("acme")
	if got := mustGet(t, r, "acme").Name; got != "Renamed again" {
		t.Errorf("after Invalidate: name %q", got)
	}
}

// A missing slug is cached too, so a flood of tokens naming a deleted tenant does not reach the database
// on every request.
func TestRegistryGetCachesMissing(t *testing.T) {
	ctx := context.Background()
	db := newPlatformDB(t)
	clk := clock.NewManual(base)
	r := newRegistry(t, db, clk)
	_, err := r.Get(ctx, "ghost")
	wantCode(t, err, apperr.NotFound)

	if _, err := db.Collection("tenants").InsertOne(ctx, newTenant("ghost", tenant.Active, "main")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(registryTTL - time.Second)
	_, err = r.Get(ctx, "ghost")
	wantCode(t, err, apperr.NotFound)
	clk.Advance(time.Second)
	if got := mustGet(t, r, "ghost"); got.Slug != "ghost" {
		t.Errorf("got %+v", got)
	}
}

func TestRegistryGetConcurrent(t *testing.T) {
	clk := clock.NewManual(base)
	r := newRegistry(t, newPlatformDB(t), clk)
	mustCreate(t, r, newTenant("acme", tenant.Active, "main"))
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			ten, err := r.Get(context.Background(), "acme")
			if err != nil || ten.Slug != "acme" {
				t.Errorf("Get: %v, %v", ten, err)
			}
		})
	}
	wg.Go(func() { clk.Advance(registryTTL) })
	wg.Go(func() { r.Invalidate("acme") })
	wg.Wait()
}

func TestRegistryByNumber(t *testing.T) {
	ctx := context.Background()
	db := newPlatformDB(t)
	clk := clock.NewManual(base)
	r := newRegistry(t, db, clk)
	for _, slug := range []string{"alpha", "bravo", "charlie"} {
		mustCreate(t, r, newTenant(slug, tenant.Active, "main"))
	}

	// Another instance knows nothing yet: it reads the number from the database.
	cold := newRegistry(t, db, clk)
	for n, want := range map[int]string{1: "alpha", 2: "bravo", 3: "charlie"} {
		got, err := cold.ByNumber(ctx, n)
		if err != nil || got.Slug != want {
			t.Errorf("ByNumber(%d) = %v, %v; want %s", n, got, err, want)
		}
	}
	_, err := cold.ByNumber(ctx, 42)
	wantCode(t, err, apperr.NotFound)

	// The number lookup shares the slug cache and its TTL.
	rename(t, db, "bravo", "Bravo Renamed")
	if got, _ := cold.ByNumber(ctx, 2); got.Name != "Institution bravo" {
		t.Errorf("within TTL: %q", got.Name)
	}
	clk.Advance(registryTTL)
	if got, _ := cold.ByNumber(ctx, 2); got.Name != "Bravo Renamed" {
		t.Errorf("after TTL: %q", got.Name)
	}
}

func TestRegistryUpdate(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewManual(base)
	r := newRegistry(t, newPlatformDB(t), clk)
	mustCreate(t, r, newTenant("acme", tenant.Active, "main"))
	mustGet(t, r, "acme") // warm the cache: Update must not leave it stale on this instance

	clk.Advance(time.Minute)
	got, err := r.Update(ctx, "acme", bson.M{"status": tenant.Suspended}, true)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got.TokenVersion != 1 || got.Status != tenant.Suspended || !got.UpdatedAt.Equal(base.Add(time.Minute)) {
		t.Errorf("updated %+v", got)
	}
	if c := mustGet(t, r, "acme"); c.TokenVersion != 1 || c.Status != tenant.Suspended {
		t.Errorf("Get after Update: version %d status %s", c.TokenVersion, c.Status)
	}

	got, err = r.Update(ctx, "acme", bson.M{"status": tenant.Active}, false)
	if err != nil {
		t.Fatal(err)
	}
	if got.TokenVersion != 1 || got.Status != tenant.Active {
		t.Errorf("without bump: %+v", got)
	}
	got, err = r.Update(ctx, "acme", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if got.TokenVersion != 2 {
		t.Errorf("second bump: version %d", got.TokenVersion)
	}

	_, err = r.Update(ctx, "ghost", bson.M{"name": "x"}, true)
	wantCode(t, err, apperr.NotFound)
}

func TestRegistryList(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t, newPlatformDB(t), clock.NewManual(base))
	for _, slug := range []string{"delta", "alpha", "echo", "charlie", "bravo"} {
		mustCreate(t, r, newTenant(slug, tenant.Active, "main"))
	}
	slugs := func(ts []tenant.Tenant) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Slug)
		}
		return out
	}
	for _, tc := range []struct {
		after string
		want  []string
	}{
		{"", []string{"alpha", "bravo", "charlie"}}, // the third says another page exists
		{"bravo", []string{"charlie", "delta", "echo"}},
		{"delta", []string{"echo"}},
		{"echo", nil},
	} {
		got, err := r.List(ctx, tc.after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(slugs(got), tc.want) {
			t.Errorf("List(%q, 2) = %v, want %v", tc.after, slugs(got), tc.want)
		}
	}
	all, err := r.List(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(slugs(all)) != "[alpha bravo charlie delta echo]" {
		t.Errorf("List all = %v", slugs(all))
	}
}

func TestRegistryOriginAllowed(t *testing.T) {
	db := newPlatformDB(t)
	clk := clock.NewManual(base)
	r := newRegistry(t, db, clk)
	withOrigins := func(slug string, status tenant.Status, origins ...string) {
		t.Helper()
		ten := newTenant(slug, status, "main")
		ten.Settings.Origins = origins
		mustCreate(t, r, ten)
	}
	withOrigins("acme", tenant.Active, "https://app.acme.example.edu", "http://localhost:5173")
	withOrigins("bravo", tenant.Active, "https://bravo.example.edu")
	withOrigins("gone", tenant.Suspended, "https://gone.example.edu")
	withOrigins("plain", tenant.Active)

	allowed := func(origin string) bool {
		t.Helper()
		ok, err := r.OriginAllowed(context.Background(), origin)
		if err != nil {
			t.Fatalf("OriginAllowed(%q): %v", origin, err)
		}
		return ok
	}
	for _, tt := range []struct {
		origin string
		want   bool
	}{
		{"https://app.acme.example.edu", true},
		{"http://localhost:5173", true},
		{"https://bravo.example.edu", true},
		{"https://gone.example.edu", false}, // a suspended institution's origins are not served
		{"https://app.acme.example.edu:443", false},
		{"http://localhost:5174", false},
		{"https://evil.example.com", false},
		{"", false},
	} {
		if got := allowed(tt.origin); got != tt.want {
			t.Errorf("OriginAllowed(%q) = %v, want %v", tt.origin, got, tt.want)
		}
	}

	// Another instance adds an origin: seen after the TTL, not before.
	if _, err := db.Collection("tenants").UpdateOne(context.Background(), bson.M{"_id": "plain"},
		bson.M{"$set": bson.M{"settings.origins": []string{"https://plain.example.edu"}}}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(registryTTL - time.Nanosecond)
	if allowed("https://plain.example.edu") {
		t.Error("within the TTL: a new origin is allowed before the cache expired")
	}
	clk.Advance(time.Nanosecond)
	if !allowed("https://plain.example.edu") {
		t.Error("after the TTL: the new origin is still refused")
	}

	// This instance's own change (Update invalidates) applies at once.
	if _, err := r.Update(context.Background(), "bravo", bson.M{"status": tenant.Suspended}, false); err != nil {
		t.Fatal(err)
	}
	if allowed("https://bravo.example.edu") {
		t.Error("an institution suspended here keeps its origin allowed")
	}
}

// A reload that fails keeps answering from the last union instead of cutting every browser off.
func TestRegistryOriginAllowedKeepsLastAnswerOnFailure(t *testing.T) {
	client, engine, err := lungo.Open(context.Background(), lungo.Options{Store: lungo.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	db := client.Database("edugrid_platform")
	clk := clock.NewManual(base)
	r := newRegistry(t, db, clk)
	ten := newTenant("acme", tenant.Active, "main")
	ten.Settings.Origins = []string{"https://app.acme.example.edu"}
	mustCreate(t, r, ten)
	if ok, err := r.OriginAllowed(context.Background(), "https://app.acme.example.edu"); !ok || err != nil {
		t.Fatalf("OriginAllowed = %v, %v", ok, err)
	}
	engine.Close()
	clk.Advance(registryTTL)
	if ok, err := r.OriginAllowed(context.Background(), "https://app.acme.example.edu"); !ok || err != nil {
		t.Errorf("with the database gone: OriginAllowed = %v, %v; want the last answer", ok, err)
	}

	// With nothing loaded yet there is no answer to fall back on.
	if _, err := tenant.NewRegistry(db, registryTTL, clk).OriginAllowed(context.Background(), "https://app.acme.example.edu"); err == nil {
		t.Error("a registry that never loaded answers without its database")
	}
}
