package platform_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/edugrid/edugrid/functions/platform"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/events"
	"github.com/edugrid/edugrid/shared/httpapi"
)

// With room for two institutions on the default cluster and one on the second, new institutions fill the
// default one, then go where there is room, and then are refused; the clusters route shows it all.
func TestProvisioningPlacesInstitutionsWhereTheyFit(t *testing.T) {
	n := platform.NamespacesPerTenant
	env := apptest.New(t, "EDUGRID_CLUSTER_NAMESPACES", fmt.Sprintf(`{"default": %d, "second": %d}`, 2*n+10, 2*n-1))
	admin := env.AdminToken()
	provision := func(slug string, cluster string, want int) *provisioned {
		t.Helper()
		b := provisionBody(slug)
		if cluster != "" {
			b["cluster"] = cluster
		}
		rec := env.Do("POST", "/platform/tenants", admin, b)
		if want != http.StatusCreated {
			apptest.MustProblem(t, rec, want, "conflict")
			return nil
		}
		apptest.MustStatus(t, rec, want)
		p := apptest.Decode[provisioned](t, rec)
		return &p
	}
	for i, slug := range []string{"fits-one", "fits-two"} {
		if p := provision(slug, "", http.StatusCreated); p.Tenant.Cluster != "default" {
			t.Fatalf("institution %d went to %q, want default", i+1, p.Tenant.Cluster)
		}
	}
	apptest.MustProblem(t, env.Do("POST", "/platform/tenants", admin, map[string]any{
		"slug": "fits-three", "name": "Three", "cluster": "default",
		"owner": map[string]any{"name": "Owner", "email": "owner@fits-three.test", "password": apptest.Password},
	}), http.StatusConflict, "conflict")
	if p := provision("fits-three", "", http.StatusCreated); p.Tenant.Cluster != "second" {
		t.Fatalf("with the default cluster full, the institution went to %q, want second", p.Tenant.Cluster)
	}
	provision("fits-four", "", http.StatusConflict)
	provision("fits-four", "second", http.StatusConflict)

	rec := env.Do("GET", "/platform/clusters", admin, nil)
	apptest.MustStatus(t, rec, http.StatusOK)
	got := apptest.Decode[httpapi.Page[platform.ClusterUse]](t, rec).Items
	want := []platform.ClusterUse{
		{Name: "default", Default: true, Tenants: 2, Namespaces: 2 * n, Budget: 2*n + 10, Room: 0},
		{Name: "second", Tenants: 1, Namespaces: n, Budget: 2*n - 1, Room: 0},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("clusters = %+v, want %+v", got, want)
	}
	if rec := env.Do("GET", "/platform/clusters", env.Login("fits-one", "owner@fits-one.test").AccessToken, nil); rec.Code < 400 {
		t.Fatalf("an institution's owner read the clusters: %d", rec.Code)
	}
}

// NamespacesPerTenant is what placement counts per institution: a new database must stay within it.
func TestNamespacesPerTenantCoversAProvisionedDatabase(t *testing.T) {
	env := apptest.New(t)
	env.Provision("counted")
	ctx := context.Background()
	db := env.TenantDB("counted")
	names, err := db.ListCollectionNames(ctx, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, name := range names {
		cur, err := db.Collection(name).Indexes().List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var specs []map[string]any
		if err := cur.All(ctx, &specs); err != nil {
			t.Fatal(err)
		}
		total += 1 + len(specs)
	}
	// On MongoDB 6+ tenant migration 3 creates every analysed collection that does not exist yet (to set
	// its post-image option); the embedded engine skips that step, so those collections are counted here.
	created := 0
	for _, coll := range events.AnalysedCollections() {
		if !slices.Contains(names, coll) {
			created++
		}
	}
	if total+created < 30 || total+created > platform.NamespacesPerTenant {
		t.Fatalf("a provisioned database has %d collections and indexes in %d collections, and migration 3 adds %d collections on MongoDB; NamespacesPerTenant is %d",
			total, len(names), created, platform.NamespacesPerTenant)
	}
	t.Logf("a provisioned database: %d collections, %d namespaces, %d more collections on MongoDB 6+", len(names), total, created)
}
