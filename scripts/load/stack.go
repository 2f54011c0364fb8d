package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/internal/pipeline"
	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/config"
	"github.com/edugrid/edugrid/shared/logging"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// stack is the local stack served from this process.
type stack struct {
	base string
	stop func()
}

// startStack serves every API area on a free loopback port as scripts/dev does: the embedded engine in
// memory or persisted under a temporary directory (-engine file: the directory store, singlefile: the old
// one-file store), a generated signing key, the platform admin given,
// and (cdc) the change-data-capture pipeline with DuckDB beside the engine. The stack trusts one proxy hop
// of X-Forwarded-For, so each virtual user is its own client to the per-address login limit.
func startStack(ctx context.Context, engine, adminEmail, adminPassword string, cdc bool, passwords *authn.PasswordParams, logw io.Writer) (*stack, error) {
	dir, err := os.MkdirTemp("", "edugrid-load-")
	if err != nil {
		return nil, err
	}
	var cleanups []func()
	stop := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
		_ = os.RemoveAll(dir)
	}
	fail := func(err error) (*stack, error) {
		stop()
		return nil, err
	}
	var uri, warehousePath string
	switch engine {
	case "memory":
		uri = "lungo:memory:load"
	case "file", "singlefile":
		uri, warehousePath = "lungo:"+engine+":"+filepath.Join(dir, "edugrid.lungo"), filepath.Join(dir, "warehouse.duckdb")
	default:
		return fail(fmt.Errorf("-engine %q: want memory, file or singlefile", engine))
	}
	key, err := authn.GenerateKey()
	if err != nil {
		return fail(err)
	}
	env := map[string]string{
		"EDUGRID_PLATFORM_URI":            uri,
		"EDUGRID_SIGNING_KEYS":            string(key),
		"EDUGRID_PLATFORM_ADMIN_EMAIL":    adminEmail,
		"EDUGRID_PLATFORM_ADMIN_PASSWORD": adminPassword,
		"EDUGRID_CLIENT_IP_HOPS":          "1",
	}
	cfg, err := config.FromEnv(func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	})
	if err != nil {
		return fail(err)
	}
	logger := logging.NewLogger(logw, logging.ParseLevel(cfg.LogLevel))
	a, err := app.New(ctx, cfg, app.Options{Logger: logger, Passwords: passwords, Schema: &all.Schema})
	if err != nil {
		return fail(err)
	}
	cleanups = append(cleanups, a.Close)
	var wh warehouse.Warehouse
	if cdc {
		l, err := pipeline.Start(ctx, a, pipeline.Options{WarehousePath: warehousePath, Logger: logger})
		if err != nil {
			return fail(fmt.Errorf("start the analytics pipeline: %w", err))
		}
		cleanups = append(cleanups, l.Stop)
		wh = l.Warehouse
	}
	areas := all.Build(a, all.Options{Warehouse: func() warehouse.Warehouse { return wh }}).Areas(a)
	mux := http.NewServeMux()
	for _, area := range areas {
		mux.Handle("/"+area.Name+"/", area)
		mux.Handle("/"+area.Name, area)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	cleanups = append(cleanups, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "edugrid load: stack stopped:", err)
		}
	})
	return &stack{base: "http://" + ln.Addr().String(), stop: stop}, nil
}
