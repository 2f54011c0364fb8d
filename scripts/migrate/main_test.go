package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/functions/platform"
	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/config"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/tenant"
)

// Institutions provisioned before schema versions existed are registered at version 0: the run brings
// them to the release's version, and a second run has nothing to do.
func TestRunMigratesInstitutionsBehind(t *testing.T) {
	ctx := context.Background()
	key, err := authn.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"EDUGRID_PLATFORM_URI": "lungo:file:" + filepath.Join(t.TempDir(), "edugrid.lungo"),
		"EDUGRID_SIGNING_KEYS": string(key),
	}
	getenv := func(k string) string { return vars[k] }
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		t.Fatal(err)
	}
	cheap := authn.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}
	a, err := app.New(ctx, cfg, app.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Passwords: &cheap, Schema: &all.Schema})
	if err != nil {
		t.Fatal(err)
	}
	admin := rbac.Principal{Subject: "test", Role: rbac.PlatformAdmin}
	svcs := all.Build(a, all.Options{})
	for _, slug := range []string{"old-one", "old-two"} {
		if _, err := svcs.Platform.Provision(ctx, admin, platformRequest(slug)); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Registry.Update(ctx, slug, bson.M{"schema_version": 0}, false); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()

	for i, want := range []tenant.UpgradeReport{{Tenants: 2, Upgraded: 2}, {Tenants: 2}} {
		var out bytes.Buffer
		if err := run(ctx, getenv, 1, &out, io.Discard); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		var got tenant.UpgradeReport
		if err := json.Unmarshal(out.Bytes(), &got); err != nil || got != want {
			t.Fatalf("run %d reported %s (%v), want %+v", i+1, out.String(), err, want)
		}
	}
}

func platformRequest(slug string) platform.ProvisionRequest {
	return platform.ProvisionRequest{Slug: slug, Name: "Institute " + slug,
		Owner: platform.OwnerInput{Name: "Owner", Email: "owner@" + slug + ".test", Password: "owner-password-1"}}
}
