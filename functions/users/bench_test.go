package users_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/edugrid/edugrid/functions/users"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// BenchmarkBranchRead measures what authentication and tenant resolution add to a simple tenant-scoped
// read on a warm instance: GET /users/branches/{id} through the full chain with a bearer token, side by
// side with the same read served by a public route whose context is prepared once, as if the guard cost
// nothing. Run: go test -run '^$' -bench BranchRead -benchmem -count 6 ./functions/users
func BenchmarkBranchRead(b *testing.B) {
	env := apptest.New(b)
	ten := env.Provision("bench")
	tok := env.Login("bench", ten.OwnerEmail).AccessToken
	rec := env.Do("POST", "/users/branches", tok, map[string]string{"code": "MAIN", "name": "Main"})
	if rec.Code != http.StatusCreated {
		b.Fatalf("create branch: %d %s", rec.Code, rec.Body)
	}
	branch := apptest.Decode[users.Branch](b, rec)
	path := "/users/branches/" + branch.ID

	// The same read with the guard's work done once up front.
	t, err := env.App.Registry.Get(context.Background(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	db := env.TenantDB("bench")
	prepared := store.WithDatabase(tenant.WithTenant(rbac.WithPrincipal(context.Background(),
		rbac.Principal{Subject: ten.OwnerID, Tenant: "bench", Role: rbac.Owner}), t), db)
	svc := env.Services.Users
	bare := httpapi.NewArea("users", []httpapi.Route{{Method: "GET", Path: "/branches/{id}", Permission: rbac.Public,
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			got, err := svc.GetBranch(prepared, r.PathValue("id"))
			if err != nil {
				return err
			}
			httpapi.JSON(w, http.StatusOK, got)
			return nil
		}}}, httpapi.Options{Logger: env.App.Logger})

	// Both sides receive the same request, header included; only the guard differs.
	run := func(b *testing.B, h http.Handler) {
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest("GET", path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
	}
	b.Run("unauthenticated", func(b *testing.B) { run(b, bare) })
	var area http.Handler
	for _, a := range env.Areas {
		if a.Name == "users" {
			area = a
		}
	}
	b.Run("authenticated", func(b *testing.B) { run(b, area) })
}

// BenchmarkGuard is the guard alone on a warm instance: verify a cached token, resolve the cached tenant,
// lease its cluster client and check the cached account state.
// Run: go test -run '^$' -bench Guard -benchmem ./functions/users
func BenchmarkGuard(b *testing.B) {
	env := apptest.New(b)
	ten := env.Provision("bench")
	tok := env.Login("bench", ten.OwnerEmail).AccessToken
	req := httptest.NewRequest("GET", "/users/branches", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	for b.Loop() {
		_, release, err := env.App.Guard.Authenticate(req, rbac.BranchesRead)
		if err != nil {
			b.Fatal(err)
		}
		release()
	}
}
