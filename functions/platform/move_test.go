package platform_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/tenant"
)

// Moving a tenant: refused while active, refused for an unknown cluster; once suspended and its database
// copied, the registry points at the new cluster and, resumed, its users reach their data there.
func TestMoveCluster(t *testing.T) {
	env := apptest.New(t)
	ten := env.Provision("mover")
	admin := env.AdminToken()
	owner := env.Login("mover", ten.OwnerEmail).AccessToken
	if rec := env.Do("POST", "/users/branches", owner, map[string]string{"code": "MAIN", "name": "Main"}); rec.Code != http.StatusCreated {
		t.Fatalf("create branch: %d %s", rec.Code, rec.Body)
	}

	apptest.MustProblem(t, env.Do("PUT", "/platform/tenants/mover/cluster", admin, map[string]string{"cluster": "second"}), http.StatusConflict, "conflict")
	apptest.MustProblem(t, env.Do("PUT", "/platform/tenants/mover/cluster", admin, map[string]string{"cluster": "nowhere"}), http.StatusBadRequest, "invalid")
	if rec := env.Do("POST", "/platform/tenants/mover/suspend", admin, nil); rec.Code != http.StatusOK {
		t.Fatalf("suspend: %d %s", rec.Code, rec.Body)
	}

	// The operator's copy step, done here document by document.
	ctx := context.Background()
	before, err := env.App.Registry.Load(ctx, "mover")
	if err != nil {
		t.Fatal(err)
	}
	src, releaseSrc, err := env.App.Databases.Open(ctx, before)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseSrc()
	moved := *before
	moved.Cluster = "second"
	dst, releaseDst, err := env.App.Databases.Open(ctx, &moved)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseDst()
	names, err := src.ListCollectionNames(ctx, bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		cur, err := src.Collection(name).Find(ctx, bson.M{})
		if err != nil {
			t.Fatal(err)
		}
		var docs []any
		if err := cur.All(ctx, &docs); err != nil {
			t.Fatal(err)
		}
		if len(docs) > 0 {
			if _, err := dst.Collection(name).InsertMany(ctx, docs); err != nil {
				t.Fatalf("copy %s: %v", name, err)
			}
		}
	}

	rec := env.Do("PUT", "/platform/tenants/mover/cluster", admin, map[string]string{"cluster": "second"})
	if rec.Code != http.StatusOK {
		t.Fatalf("move: %d %s", rec.Code, rec.Body)
	}
	if got := apptest.Decode[tenant.Tenant](t, rec); got.Cluster != "second" {
		t.Fatalf("cluster after move = %q", got.Cluster)
	}
	if rec := env.Do("POST", "/platform/tenants/mover/resume", admin, nil); rec.Code != http.StatusOK {
		t.Fatalf("resume: %d %s", rec.Code, rec.Body)
	}
	// Wipe the old copy: reads must now come from the new cluster.
	if err := src.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	owner = env.Login("mover", ten.OwnerEmail).AccessToken
	rec = env.Do("GET", "/users/branches", owner, nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "MAIN") {
		t.Fatalf("branches after the move: %d %s", rec.Code, rec.Body)
	}
	if rec := env.Do("GET", "/users/audit/verify", owner, nil); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"ok":true`) {
		t.Fatalf("audit chain after the move: %d %s", rec.Code, rec.Body)
	}
}
