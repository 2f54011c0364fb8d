// Package app builds the infrastructure every edugrid function shares on a warm instance: configuration,
// the cluster client cache, the tenant registry and guard, the token machinery, the notifier, the audit
// log and the logger. It knows no area: the wiring (functions/all) hands each area the parts of an App its
// Deps ask for, and registers each entry point through Lazy, so no I/O happens at start-up and the pieces
// are built once per instance and reused across invocations. Nothing here opens the analytics warehouse:
// only the analytics function's wiring does.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"

	"github.com/256dpi/lungo"

	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/config"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/lazy"
	"github.com/edugrid/edugrid/shared/logging"
	"github.com/edugrid/edugrid/shared/notify"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/schema"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// App holds the shared dependencies of the functions. Fields are set by New and read-only after.
type App struct {
	Config    config.Config
	Clock     clock.Clock
	Logger    *slog.Logger
	Dialer    *store.Dialer
	Clusters  *store.Cache
	Platform  lungo.IDatabase
	Registry  *tenant.Registry
	Databases *tenant.Databases
	Guard     *tenant.Guard
	Tokens    *authn.Tokens
	Refresh   *authn.Refresher
	Passwords authn.PasswordParams
	// Notifier publishes notifications (use notify.Send, which records them first). It connects on first
	// use: to EDUGRID_PUBSUB_PROJECT's topic, or without a project to an in-process emulator this App owns.
	Notifier notify.Publisher
	// Audit records entries on tenant audit logs, stamped with Clock's time and the request id.
	Audit audit.Log
	// Upgrader applies the schema plan of Options.Schema to institutions; nil without a plan.
	Upgrader *tenant.Upgrader

	platformLease *store.Lease
	topic         *notify.Topic
}

// Options adjusts New for tests and the local stack.
type Options struct {
	Clock  clock.Clock
	Logger *slog.Logger
	// Passwords overrides the Argon2id cost (tests use a cheap one).
	Passwords *authn.PasswordParams
	// Schema is the code's plan of tenant-database migrations (functions/all.Schema). With one, the guard
	// upgrades an institution behind it before serving it; without, no schema is checked.
	Schema *schema.Plan
	// Dial, when set, connects to clusters instead of the App's Dialer (the over-the-wire test tier gives
	// each test its own database names on a shared server through it).
	Dial store.Dial
}

// New builds an App from cfg: it connects to the platform cluster, ensures the registry's indexes and
// bootstraps the first platform admin when configured. Close releases everything.
func New(ctx context.Context, cfg config.Config, opts Options) (*App, error) {
	a := &App{Config: cfg, Clock: opts.Clock, Logger: opts.Logger, Passwords: authn.DefaultPasswordParams}
	if a.Clock == nil {
		a.Clock = clock.System()
	}
	if a.Logger == nil {
		a.Logger = logging.NewLogger(os.Stderr, logging.ParseLevel(cfg.LogLevel))
	}
	if opts.Passwords != nil {
		a.Passwords = *opts.Passwords
	}

	signing := cfg.SigningKeys
	if len(signing) == 0 && len(cfg.VerifyKeys) == 0 {
		if cfg.Production() {
			return nil, fmt.Errorf("build app: no signing keys configured")
		}
		a.Logger.Warn("no EDUGRID_SIGNING_KEYS set: generating a key for this process only; tokens will not survive a restart")
		key, err := authn.GenerateKey()
		if err != nil {
			return nil, err
		}
		signing = key
	}
	keys, err := authn.ParseKeyRing(signing, cfg.VerifyKeys)
	if err != nil {
		return nil, fmt.Errorf("build app: %w", err)
	}
	a.Tokens = authn.NewTokens(keys, authn.TokenConfig{Issuer: cfg.Issuer, Audience: cfg.Audience, AccessTTL: cfg.AccessTTL}, a.Clock)
	a.Refresh = authn.NewRefresher(cfg.RefreshTTL, a.Clock)

	a.Notifier = a.notifier()
	a.Audit = audit.Log{Clock: a.Clock}

	a.Dialer = store.NewDialer()
	dial := a.Dialer.Dial
	if opts.Dial != nil {
		dial = opts.Dial
	}
	a.Clusters = store.NewCache(dial, cfg.ClusterCacheSize)
	// The platform client is leased for the instance's lifetime, so cache eviction never disconnects it.
	a.platformLease, err = a.Clusters.Acquire(ctx, cfg.PlatformURI)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("build app: connect to platform cluster: %w", err)
	}
	a.Platform = a.platformLease.Client().Database(cfg.PlatformDB)
	a.Registry = tenant.NewRegistry(a.Platform, cfg.TenantCacheTTL, a.Clock)
	a.Databases = tenant.NewDatabases(a.Clusters, cfg.Clusters)
	if opts.Schema != nil {
		a.Upgrader = tenant.NewUpgrader(*opts.Schema, a.Registry, a.Databases, a.Clock)
	}
	a.Guard = tenant.NewGuard(tenant.GuardConfig{Upgrader: a.Upgrader,
		Tokens: a.Tokens, Registry: a.Registry, Databases: a.Databases, Clock: a.Clock, StateTTL: cfg.TenantCacheTTL,
		States: AccountStates,
	})
	if err := a.Registry.EnsureIndexes(ctx); err != nil {
		a.Close()
		return nil, fmt.Errorf("build app: %w", err)
	}
	if err := account.EnsureIndexes(ctx, a.Platform); err != nil {
		a.Close()
		return nil, fmt.Errorf("build app: %w", err)
	}
	if err := authn.EnsureRefreshIndexes(ctx, a.Platform); err != nil {
		a.Close()
		return nil, fmt.Errorf("build app: %w", err)
	}
	if err := a.bootstrapAdmin(ctx); err != nil {
		a.Close()
		return nil, fmt.Errorf("build app: %w", err)
	}
	return a, nil
}

// AccountStates reads the token state of an account for the guard (tenant.AccountStates).
func AccountStates(ctx context.Context, db lungo.IDatabase, userID string) (tenant.TokenState, error) {
	s, err := account.State(ctx, db, userID)
	return tenant.TokenState{Version: s.Version, Active: s.Active}, err
}

// bootstrapAdmin creates the configured platform admin when that email has no account yet.
func (a *App) bootstrapAdmin(ctx context.Context) error {
	if a.Config.AdminEmail == "" {
		return nil
	}
	email, err := account.NormalizeEmail("EDUGRID_PLATFORM_ADMIN_EMAIL", a.Config.AdminEmail)
	if err != nil {
		return err
	}
	_, err = account.ByEmail(ctx, a.Platform, email)
	if err == nil {
		return nil
	}
	if apperr.CodeOf(err) != apperr.NotFound {
		return err
	}
	_, err = account.Create(ctx, a.Platform, account.NewUser{
		Email: email, Name: "Platform admin", Role: rbac.PlatformAdmin, Password: a.Config.AdminPassword,
	}, a.Passwords, a.Clock.Now())
	if apperr.CodeOf(err) == apperr.Conflict {
		return nil // another instance won the race
	}
	if err != nil {
		return fmt.Errorf("bootstrap platform admin: %w", err)
	}
	a.Logger.Info("created the first platform admin", slog.String("email", email))
	return nil
}

// notifier builds the configured Publisher without connecting it.
func (a *App) notifier() notify.Publisher {
	if a.Config.PubSubProject == "" && a.Config.Production() {
		// An emulator in production would swallow every alert; failing leaves them in the outbox for Flush.
		return notify.Failing(errors.New("notifications are not configured: set EDUGRID_PUBSUB_PROJECT"))
	}
	a.topic = notify.NewTopic(notify.TopicConfig{Project: a.Config.PubSubProject, Topic: a.Config.NotificationsTopic})
	return a.topic
}

// AreaOptions returns the httpapi options every area is built with.
func (a *App) AreaOptions() httpapi.Options {
	return httpapi.Options{Auth: a.Guard, Logger: a.Logger, Project: a.Config.Project, Timeout: a.Config.RequestTimeout,
		CORS: httpapi.CORS{Origins: a.Config.CORSOrigins, AllowLoopback: a.Config.CORSAllowLoopback && !a.Config.Production(), Tenants: a.Registry}}
}

// Close releases the notifications topic, the platform lease, every cached cluster client and the embedded
// engines.
func (a *App) Close() {
	if a.topic != nil {
		if err := a.topic.Close(); err != nil {
			a.Logger.Warn("close the notifications topic", slog.String("error", err.Error()))
		}
	}
	if a.platformLease != nil {
		a.platformLease.Release()
	}
	if a.Clusters != nil {
		a.Clusters.Close()
	}
	if a.Dialer != nil {
		a.Dialer.Close()
	}
}

// Lazy returns the entry point of a function: on its first request it builds the instance's App from the
// environment and opts (one App shared by every function in the process: the first to start builds it,
// so every entry point of a process passes the same opts) and the area's handler, then serves. A failed
// build answers 503 and is retried on the next request instead of being cached.
func Lazy(opts Options, build func(*App) http.Handler) http.HandlerFunc {
	h := lazy.New(func(ctx context.Context) (http.Handler, error) {
		a, err := instance(ctx, opts)
		if err != nil {
			return nil, err
		}
		return build(a), nil
	})
	return func(w http.ResponseWriter, r *http.Request) {
		handler, err := h.Get(r.Context())
		if err != nil {
			slog.Error("function start-up failed", slog.String("error", err.Error()))
			httpapi.WriteError(w, r, &apperr.Error{Code: apperr.Unavailable, Message: "the service is starting or misconfigured; retry shortly"})
			return
		}
		handler.ServeHTTP(w, r)
	}
}

// Instance returns the process-wide App behind Lazy, building it from the environment and opts on the
// first call: the entry points that are not HTTP (the delivery function) share it the same way.
func Instance(ctx context.Context, opts Options) (*App, error) { return instance(ctx, opts) }

var (
	instanceMu  sync.Mutex
	instanceApp *App // the lazily built, process-wide App behind Lazy
)

func instance(ctx context.Context, opts Options) (*App, error) {
	instanceMu.Lock()
	defer instanceMu.Unlock()
	if instanceApp != nil {
		return instanceApp, nil
	}
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	a, err := New(context.WithoutCancel(ctx), cfg, opts)
	if err != nil {
		return nil, err
	}
	instanceApp = a
	return a, nil
}
