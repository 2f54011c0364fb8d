// Command dev runs the whole of edugrid locally in one process, on embedded defaults: every HTTP area under
// /<area>/… on one address, the embedded MongoDB engine in a directory under the data directory, a signing key
// kept beside it, and a demo institution seeded on first start. The change-data-capture pipeline runs
// in the same process: a relay on every cluster's change stream, an in-process Pub/Sub emulator, the
// ingest pull loop and a DuckDB warehouse in <data dir>/warehouse.duckdb, so a write through the API shows
// in the /analytics reports within a second. Notifications are delivered as in production, to stand-ins
// for the providers on loopback (a real SMTP server with STARTTLS, and MSG91, Twilio and WhatsApp Cloud
// API stand-ins); every message sent is listed at /dev/messages (JSON) and /dev/messages.html.
//
//	go run ./scripts/dev
//
// Settings (environment): EDUGRID_ADDR (default 127.0.0.1:8080), EDUGRID_DATA_DIR (default ./.data),
// EDUGRID_DEMO_PASSWORD (the demo users' password; default edugrid-demo-1), EDUGRID_REMINDER_INTERVAL (how
// often the fee reminder run runs; default 1h; POST /reminders/run runs it at once), and every EDUGRID_* variable
// the functions read. Ctrl-C stops it cleanly; every acknowledged write is already on disk.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/functions/payments"
	"github.com/edugrid/edugrid/internal/loopback"
	"github.com/edugrid/edugrid/internal/pipeline"
	"github.com/edugrid/edugrid/scripts/seed"
	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/config"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/logging"
	"github.com/edugrid/edugrid/shared/notify"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/warehouse"
	"github.com/edugrid/edugrid/triggers/delivery"
	"github.com/edugrid/edugrid/triggers/reconcile"
	"github.com/edugrid/edugrid/triggers/reminders"
)

// DefaultDemoPassword is the demo users' password when EDUGRID_DEMO_PASSWORD is not set. It exists only
// in the local stack's seed; production has no default password anywhere.
const DefaultDemoPassword = "edugrid-demo-1"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	store.TuneGCForEmbedded(os.Getenv)
	if err := run(ctx, os.Getenv, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "edugrid dev:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends. When ready is not nil, the listening address is sent on it once the stack
// serves.
func run(ctx context.Context, getenv func(string) string, out io.Writer, ready chan<- string) error {
	get := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	addr := get("EDUGRID_ADDR", "127.0.0.1:8080")
	dataDir := get("EDUGRID_DATA_DIR", ".data")
	password := get("EDUGRID_DEMO_PASSWORD", DefaultDemoPassword)
	if err := authn.CheckPasswordPolicy("EDUGRID_DEMO_PASSWORD", password); err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	keyPEM, err := signingKey(filepath.Join(dataDir, "signing-key.pem"))
	if err != nil {
		return err
	}
	// The local stack's own defaults, under anything the environment sets.
	defaults := map[string]string{
		"EDUGRID_PLATFORM_URI":            "lungo:file:" + filepath.Join(dataDir, "edugrid.lungo"),
		"EDUGRID_SIGNING_KEYS":            string(keyPEM),
		"EDUGRID_PLATFORM_ADMIN_EMAIL":    "admin@edugrid.local",
		"EDUGRID_PLATFORM_ADMIN_PASSWORD": password,
		"EDUGRID_SECRETS_KEY_FILE":        filepath.Join(dataDir, "secrets.key"),
	}
	cfg, err := config.FromEnv(func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return defaults[k]
	})
	if err != nil {
		return err
	}
	// A frontend's dev server (Vite, webpack…) runs on a loopback port of its own.
	cfg.CORSAllowLoopback = true
	logger := logging.NewLogger(os.Stderr, logging.ParseLevel(cfg.LogLevel))
	slog.SetDefault(logger)
	a, err := app.New(ctx, cfg, app.Options{Logger: logger, Schema: &all.Schema})
	if err != nil {
		return err
	}
	defer a.Close()
	lb, err := loopback.Start(loopback.DefaultCredentials, 10000)
	if err != nil {
		return fmt.Errorf("start the notification providers' stand-ins: %w", err)
	}
	defer lb.Close()
	// SMS through the Twilio stand-in unless told otherwise: MSG91 needs each institution's DLT template
	// ids (a template's sms_template_id), which the demo institution has not registered.
	smsProvider := get("EDUGRID_SMS_PROVIDER", "twilio")
	senders, err := lb.Senders(smsProvider)
	if err != nil {
		return err
	}
	// Subscribed before the seed publishes anything.
	topic, emulated := a.Notifier.(*notify.Topic)
	if emulated {
		if err := topic.Subscribe(ctx, deliverySubscription); err != nil {
			return err
		}
	}
	logins, seeded, err := seed.Demo(ctx, a, password)
	if err != nil {
		return err
	}
	// Stopped before a.Close: the relays use its cluster clients. Checkpoints every 5 s: each checkpoint
	// is a write to the embedded engine, and a restart merely publishes those seconds again.
	cdc, err := pipeline.Start(ctx, a, pipeline.Options{WarehousePath: filepath.Join(dataDir, "warehouse.duckdb"), Logger: logger, CheckpointEvery: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("start the analytics pipeline: %w", err)
	}
	defer cdc.Stop()
	if seeded {
		// The relays start after the seed, so it reaches the warehouse as a snapshot, in the background.
		cdc.Backfill(seed.DemoSlug)
	}

	gateways, gws := startGateways(ctx, logger)
	defer gateways.Close()
	svcs := all.Build(a, all.Options{Warehouse: func() warehouse.Warehouse { return cdc.Warehouse }, Senders: senders, Gateways: gws})
	if emulated {
		// The push subscription's stand-in: the delivery function's handler, pulling from the emulator.
		d := delivery.New(delivery.Deps{Notifications: svcs.Notifications, Tenants: a.Registry, Databases: a.Databases, Logger: logger})
		go d.Pull(ctx, topic, deliverySubscription, delivery.PullOptions{})
	}
	areas := svcs.Areas(a)
	mux := http.NewServeMux()
	for _, area := range areas {
		mux.Handle("/"+area.Name+"/", area)
		mux.Handle("/"+area.Name, area)
	}
	mux.Handle("GET /openapi.json", httpapi.DocumentHandler(all.Document(areas)))
	// The reminders trigger, as Cloud Scheduler calls it in production, here on demand and without its
	// OIDC check (the local stack listens on loopback); and on a timer.
	interval, err := time.ParseDuration(get("EDUGRID_REMINDER_INTERVAL", "1h"))
	if err != nil || interval <= 0 {
		return fmt.Errorf("EDUGRID_REMINDER_INTERVAL must be a positive duration such as 1h")
	}
	runner := reminders.NewRunner(a, svcs.Fees)
	mux.Handle("POST /reminders/run", reminders.Handler(runner, nil))
	go runReminders(ctx, runner, interval, logger)
	// The payments reconciliation trigger, on demand and without its OIDC check, as for reminders.
	mux.Handle("POST /reconcile/run", reconcile.Handler(svcs.Payments, payments.DefaultReconcileWindow, nil, logger))
	mux.HandleFunc("GET /dev/pay.html", payPage)
	// Every message the stand-ins accepted, on every channel: local only.
	mux.Handle("GET /dev/messages", lb.MessagesHandler())
	mux.Handle("GET /dev/messages.html", lb.MessagesHandler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	})

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	base := "http://" + ln.Addr().String()
	for _, l := range logins {
		if l.Role == rbac.Owner {
			if err := gateways.configureDemoGateway(mux, base, l.Email, password); err != nil {
				return err
			}
		}
	}
	printWelcome(out, base, cfg.AdminEmail, password, logins)
	if ready != nil {
		ready <- ln.Addr().String()
	}

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// runReminders runs a reminder run every interval until ctx ends. Runs are idempotent, so one that
// overlaps an on-demand run sends nothing twice.
func runReminders(ctx context.Context, r *reminders.Runner, interval time.Duration, logger *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if _, err := r.Run(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("scheduled reminder run", slog.String("error", err.Error()))
		}
	}
}

// deliverySubscription is the emulator's subscription the local stack delivers notifications from.
const deliverySubscription = "edugrid-notifications-delivery"

// signingKey loads the local stack's signing key, generating it on first start, so tokens survive
// restarts of the local stack.
func signingKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	b, err = authn.GenerateKey()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("write signing key: %w", err)
	}
	return b, nil
}

func printWelcome(out io.Writer, base, adminEmail, password string, logins []seed.Login) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nedugrid is running at %s\n", base)
	fmt.Fprintf(&b, "  API document   %s/openapi.json\n", base)
	fmt.Fprintf(&b, "  health         %s/healthz\n", base)
	fmt.Fprintf(&b, "  fee reminders  curl -X POST %s/reminders/run   (also every EDUGRID_REMINDER_INTERVAL, default 1h)\n", base)
	fmt.Fprintf(&b, "  messages sent  %s/dev/messages.html   (JSON: %s/dev/messages)\n", base, base)
	fmt.Fprintf(&b, "  test payment   %s/dev/pay.html   (payment link, checkout, webhook, receipt, dues)\n\n", base)
	fmt.Fprintf(&b, "Demo institution %q, password %q for every login:\n", seed.DemoSlug, password)
	for _, l := range logins {
		fmt.Fprintf(&b, "  %-13s %-26s PRN %s\n", l.Role, l.Email, l.PRN)
	}
	fmt.Fprintf(&b, "Platform admin: %s (tenant \"platform\"), same password.\n\n", adminEmail)
	fmt.Fprintf(&b, "Try:\n  curl -s -X POST %s/auth/login -H 'content-type: application/json' \\\n", base)
	fmt.Fprintf(&b, "    -d '{\"tenant\":\"demo\",\"email\":\"owner@demo.test\",\"password\":\"%s\"}'\n\n", password)
	_, _ = io.WriteString(out, b.String())
}
