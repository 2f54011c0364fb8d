// Command relay runs the change-data-capture relay as a long-running service (Cloud Run): one change
// stream per configured cluster, publishing change events to the changes topic, until SIGTERM, when it
// drains the publishes in flight and saves its checkpoints. It also backfills tenants from snapshots.
//
//	relay                       serve; answers health checks on $PORT (default 8080): GET /healthz
//	                            (503 while a stream is not open or lags past EDUGRID_RELAY_MAX_LAG) and
//	                            GET /healthz/started (503 until every stream has opened)
//	relay backfill -tenant acme publish a snapshot of one tenant into the event stream
//	relay backfill -pending     run every backfill the relays recorded after losing history
//
// Settings (environment): the EDUGRID_* cluster variables every function reads (EDUGRID_PLATFORM_URI,
// EDUGRID_PLATFORM_DB, EDUGRID_CLUSTERS), EDUGRID_PUBSUB_PROJECT (the project of the topic; required),
// EDUGRID_CHANGES_TOPIC (default edugrid-changes), EDUGRID_RELAY_CLUSTERS (comma-separated cluster
// names to relay; default all) and EDUGRID_RELAY_MAX_LAG (default 5m).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/edugrid/edugrid/shared/config"
	"github.com/edugrid/edugrid/shared/events"
	"github.com/edugrid/edugrid/shared/logging"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/triggers/relay"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(1)
	}
}

// stack is what every subcommand needs: the clusters, the platform database and the publisher.
type stack struct {
	cfg    config.Config
	logger *slog.Logger
	dialer *store.Dialer
	client *pubsub.Client
	pub    relay.PubSub
	relays []*relay.Relay
	names  []string
}

func open(ctx context.Context, getenv func(string) string, logOut io.Writer) (*stack, error) {
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return nil, err
	}
	logger := logging.NewLogger(logOut, logging.ParseLevel(cfg.LogLevel))
	if cfg.PubSubProject == "" {
		return nil, errors.New("set EDUGRID_PUBSUB_PROJECT: the relay publishes to a real topic (the local stack runs its own relay)")
	}
	topic := cfg.ChangesTopic
	s := &stack{cfg: cfg, logger: logger, dialer: store.NewDialer()}
	platformClient, err := s.dialer.Dial(ctx, cfg.PlatformURI)
	if err != nil {
		s.close()
		return nil, err
	}
	platform := platformClient.Database(cfg.PlatformDB)
	s.client, err = pubsub.NewClient(context.WithoutCancel(ctx), cfg.PubSubProject)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("pubsub client: %w", err)
	}
	s.pub = relay.NewPubSub(s.client, topic)
	for name := range cfg.Clusters {
		if len(cfg.RelayClusters) == 0 || slices.Contains(cfg.RelayClusters, name) {
			s.names = append(s.names, name)
		}
	}
	slices.Sort(s.names)
	if len(s.names) == 0 {
		s.close()
		return nil, errors.New("EDUGRID_RELAY_CLUSTERS names no configured cluster")
	}
	for _, name := range s.names {
		c, err := s.dialer.Dial(ctx, cfg.Clusters[name])
		if err != nil {
			s.close()
			return nil, fmt.Errorf("cluster %s: %w", name, err)
		}
		s.relays = append(s.relays, relay.New(relay.Config{
			Cluster: name, Client: c, Platform: platform, Publisher: s.pub, Collections: events.AnalysedCollections(), Logger: logger,
			MaxLag: cfg.RelayMaxLag,
		}))
	}
	return s, nil
}

func (s *stack) close() {
	if s.pub.P != nil {
		s.pub.P.Stop() // flushes what is still bundled
	}
	if s.client != nil {
		_ = s.client.Close()
	}
	s.dialer.Close()
}

func run(ctx context.Context, args []string, getenv func(string) string, logOut io.Writer) error {
	if len(args) > 0 && args[0] == "backfill" {
		return backfill(ctx, args[1:], getenv, logOut)
	}
	if len(args) > 0 {
		return fmt.Errorf("unknown command %q (want no arguments, or backfill)", args[0])
	}
	s, err := open(ctx, getenv, logOut)
	if err != nil {
		return err
	}
	defer s.close()

	// Cloud Run sends traffic to $PORT and stops instances that do not listen.
	port := getenv("PORT")
	if port == "" {
		port = "8080"
	}
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return err
	}
	reporters := make([]relay.HealthReporter, len(s.relays))
	for i, r := range s.relays {
		reporters[i] = r
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: relay.HealthHandler(reporters...)}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	var wg sync.WaitGroup
	for i, r := range s.relays {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(ctx); err != nil {
				s.logger.Error("relay stopped", slog.String("cluster", s.names[i]), slog.String("error", err.Error()))
			}
		}()
	}
	s.logger.Info("relaying", slog.Any("clusters", s.names))
	wg.Wait() // Run returns once ctx ends and its publishes are drained and checkpointed
	s.logger.Info("stopped")
	return nil
}

func backfill(ctx context.Context, args []string, getenv func(string) string, logOut io.Writer) error {
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	slug := fs.String("tenant", "", "the tenant to snapshot")
	pending := fs.Bool("pending", false, "run every recorded backfill of the relayed clusters")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*slug == "") == !*pending {
		return errors.New("backfill: give -tenant <slug> or -pending")
	}
	s, err := open(ctx, getenv, logOut)
	if err != nil {
		return err
	}
	defer s.close()
	if *pending {
		for i, r := range s.relays {
			n, err := r.RunPendingBackfills(ctx)
			if err != nil {
				return err
			}
			s.logger.Info("backfills done", slog.String("cluster", s.names[i]), slog.Int("tenants", n))
		}
		return nil
	}
	if _, ok := events.TenantFromDatabase("edu_" + strings.ReplaceAll(*slug, "-", "_")); !ok {
		return fmt.Errorf("backfill: %q is not a tenant slug", *slug)
	}
	// The tenant lives on one cluster; the snapshot of the others is empty, so every relayed cluster is
	// asked and the registry need not be read here.
	progress := newProgress(logOut, s.logger)
	var total int64
	for _, r := range s.relays {
		n, err := r.BackfillWithProgress(ctx, *slug, progress)
		if err != nil {
			return err
		}
		total += n
	}
	if f, ok := logOut.(*os.File); ok && isTerminal(f) {
		fmt.Fprintln(logOut)
	}
	s.logger.Info("backfill done", slog.String("tenant", *slug), slog.Int64("events", total))
	return nil
}

// progress shows a backfill's progress: a line rewritten in place on a terminal, a structured log line
// at most every two seconds otherwise.
type progress struct {
	out      io.Writer
	logger   *slog.Logger
	terminal bool
	last     time.Time
}

func newProgress(out io.Writer, logger *slog.Logger) relay.Progress {
	p := &progress{out: out, logger: logger}
	if f, ok := out.(*os.File); ok {
		p.terminal = isTerminal(f)
	}
	return p.report
}

func (p *progress) report(tenant, collection string, published int64) {
	if p.terminal {
		fmt.Fprintf(p.out, "\rbackfill %s: %s, %d events published   ", tenant, collection, published)
		return
	}
	if time.Since(p.last) >= 2*time.Second {
		p.last = time.Now()
		p.logger.Info("backfill progress", slog.String("tenant", tenant), slog.String("collection", collection), slog.Int64("published", published))
	}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
