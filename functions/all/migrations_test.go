package all_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/schema"
	"github.com/edugrid/edugrid/shared/tenant"
)

// nextRelease is all.Schema as a later release extends it: one more index.
var nextRelease = all.Schema.Then(schema.Migration{Version: all.Schema.Latest() + 1, Name: "audit log by time",
	Apply: func(ctx context.Context, db lungo.IDatabase) error {
		_, err := db.Collection(audit.Collection).Indexes().CreateOne(ctx, mongo.IndexModel{
			Keys: bson.D{{Key: "at", Value: 1}}, Options: options.Index().SetName("at_next"),
		})
		return err
	}})

func indexNames(t *testing.T, env *apptest.Env, slug string) []string {
	t.Helper()
	cur, err := env.TenantDB(slug).Collection(audit.Collection).Indexes().List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var specs []struct {
		Name string `bson:"name"`
	}
	if err := cur.All(context.Background(), &specs); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
	}
	return names
}

func registered(t *testing.T, env *apptest.Env, slug string) *tenant.Tenant {
	t.Helper()
	ten, err := env.App.Registry.Load(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return ten
}

// Provisioned at version N, the code moves to N+1: the operator's run migrates every institution, in
// batches, and running it again does nothing.
func TestUpgradeAllMigratesEveryInstitution(t *testing.T) {
	env := apptest.New(t)
	slugs := []string{"mig-a", "mig-b", "mig-c", "mig-d", "mig-e"}
	for _, s := range slugs {
		env.Provision(s)
		if v := registered(t, env, s).SchemaVersion; v != all.Schema.Latest() {
			t.Fatalf("%s provisioned at schema %d, want %d", s, v, all.Schema.Latest())
		}
		if got, err := schema.Version(context.Background(), env.TenantDB(s)); err != nil || got != all.Schema.Latest() {
			t.Fatalf("%s records schema %d (%v), want %d", s, got, err, all.Schema.Latest())
		}
		if slices.Contains(indexNames(t, env, s), "at_next") {
			t.Fatalf("%s has the next release's index already", s)
		}
	}

	up := tenant.NewUpgrader(nextRelease, env.App.Registry, env.App.Databases, env.Clock)
	var batches []tenant.UpgradeReport
	rep, err := up.UpgradeAll(context.Background(), 2, func(r tenant.UpgradeReport) { batches = append(batches, r) })
	if err != nil || rep != (tenant.UpgradeReport{Tenants: 5, Upgraded: 5}) {
		t.Fatalf("upgrade all = %+v, %v; want 5 tenants upgraded", rep, err)
	}
	if len(batches) != 3 || batches[0].Tenants != 2 {
		t.Fatalf("progress after each batch of 2 = %+v, want 3 reports starting at 2", batches)
	}
	for _, s := range slugs {
		if !slices.Contains(indexNames(t, env, s), "at_next") {
			t.Errorf("%s lacks the new index after the run: %v", s, indexNames(t, env, s))
		}
		if v := registered(t, env, s).SchemaVersion; v != nextRelease.Latest() {
			t.Errorf("%s registered at schema %d, want %d", s, v, nextRelease.Latest())
		}
	}
	if rep, err := up.UpgradeAll(context.Background(), 2, nil); err != nil || rep != (tenant.UpgradeReport{Tenants: 5}) {
		t.Fatalf("second run = %+v, %v; want nothing to do", rep, err)
	}
}

// An institution behind the code is brought up to date by its first request, before the handler runs; a
// migration that fails answers 503 and leaves the institution at the version it reached.
func TestGuardUpgradesAnInstitutionBehindTheCode(t *testing.T) {
	env := apptest.New(t)
	env.Provision("lagging")
	owner := env.Login("lagging", "owner@lagging.test").AccessToken

	serveWith := func(plan schema.Plan) {
		up := tenant.NewUpgrader(plan, env.App.Registry, env.App.Databases, env.Clock)
		guard := tenant.NewGuard(tenant.GuardConfig{Tokens: env.App.Tokens, Registry: env.App.Registry,
			Databases: env.App.Databases, States: app.AccountStates, Clock: env.Clock, StateTTL: time.Second, Upgrader: up})
		opts := env.App.AreaOptions()
		opts.Auth = guard
		env.Handler = env.Services.Users.Area(opts)
	}

	serveWith(nextRelease)
	apptest.MustStatus(t, env.Do("GET", "/users/branches", owner, nil), http.StatusOK)
	if !slices.Contains(indexNames(t, env, "lagging"), "at_next") || registered(t, env, "lagging").SchemaVersion != nextRelease.Latest() {
		t.Fatalf("the first request did not upgrade the institution: indexes %v", indexNames(t, env, "lagging"))
	}

	broken := nextRelease.Then(schema.Migration{Version: nextRelease.Latest() + 1, Name: "broken",
		Apply: func(context.Context, lungo.IDatabase) error { return errors.New("index build failed") }})
	serveWith(broken)
	apptest.MustProblem(t, env.Do("GET", "/users/branches", owner, nil), http.StatusServiceUnavailable, "unavailable")
	if v := registered(t, env, "lagging").SchemaVersion; v != nextRelease.Latest() {
		t.Fatalf("after a failed migration the institution is registered at %d, want %d", v, nextRelease.Latest())
	}
}

// Post-images are MongoDB's (6.0+): on the embedded engine the migration that enables them changes
// nothing, creates no collection, and is still recorded, so the institution is at the code's version.
func TestPostImagesMigrationIsANoOpOnTheEmbeddedEngine(t *testing.T) {
	ctx := context.Background()
	env := apptest.New(t)
	env.Provision("postimg")
	db := env.TenantDB("postimg")
	var rec struct {
		Name string `bson:"name"`
	}
	if err := db.Collection(schema.Collection).FindOne(ctx, bson.M{"_id": 3}).Decode(&rec); err != nil || rec.Name != "change-stream post-images on the analysed collections" {
		t.Fatalf("migration 3 recorded as %+v (%v)", rec, err)
	}
	if v := registered(t, env, "postimg").SchemaVersion; v != all.Schema.Latest() || v < 3 {
		t.Fatalf("registered at schema %d, want %d", v, all.Schema.Latest())
	}

	// Run on its own against a fresh database: nothing appears.
	fresh := db.Client().Database(tenant.DatabaseName("postimg-fresh"))
	plan := schema.NewPlan(schema.Migration{Version: 1, Name: "post-images only", Apply: all.EnablePostImages})
	if v, err := plan.Migrate(ctx, fresh, env.Clock.Now()); err != nil || v != 1 {
		t.Fatalf("migrate = %d, %v", v, err)
	}
	names, err := fresh.ListCollectionNames(ctx, bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != schema.Collection {
		t.Fatalf("collections after the migration on the embedded engine = %v, want only %s", names, schema.Collection)
	}
}
