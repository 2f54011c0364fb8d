// Package pipeline wires the change-data-capture pipeline in one process, for the local stack and the
// end-to-end tests: a relay per cluster against the embedded engine, an in-process Pub/Sub emulator
// (pstest), the ingest pull loop, and a DuckDB warehouse. A write through the API reaches the reports
// within a fraction of a second.
//
// It is wiring: with scripts/dev and the end-to-end tests it is the only importer of the DuckDB engine.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/events"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/warehouse"
	"github.com/edugrid/edugrid/shared/warehouse/duckdb"
	"github.com/edugrid/edugrid/triggers/ingest"
	"github.com/edugrid/edugrid/triggers/relay"
)

// Names in the emulator.
const (
	Project      = "edugrid-local"
	Topic        = "edugrid-changes"
	Subscription = "edugrid-ingest"
)

// Options configures Start.
type Options struct {
	// WarehousePath is the DuckDB file; "" keeps the warehouse in memory.
	WarehousePath string
	Logger        *slog.Logger
	// CheckpointEvery is the relays' checkpoint interval (default 1 s).
	CheckpointEvery time.Duration
	// PubSub configures the emulator, for fault tests: pstest.WithErrorInjection or another Reactor.
	PubSub []pstest.ServerReactorOption
	// WrapWarehouse, when set, wraps the warehouse the ingest pull loop writes to (reports still read
	// Local.Warehouse), for fault tests.
	WrapWarehouse func(warehouse.Warehouse) warehouse.Warehouse
}

// Local is a running pipeline.
type Local struct {
	Warehouse *duckdb.Warehouse
	Server    *pstest.Server
	Relays    []*relay.Relay

	logger   *slog.Logger
	conn     *grpc.ClientConn
	client   *pubsub.Client
	pub      relay.PubSub
	leases   []*store.Lease
	cancel   context.CancelFunc
	runCtx   context.Context
	pullCtx  context.Context
	stopPull context.CancelFunc
	wg       sync.WaitGroup
	pullWG   sync.WaitGroup
	in       *ingest.Ingester
	once     sync.Once
}

// Start opens the warehouse (Local.Warehouse, for the caller to attach to the analytics area), starts the
// emulator with the changes topic and subscription, one relay per configured cluster and the pull loop. It returns once every relay's stream
// is open, so every write after Start reaches the warehouse. Stop releases everything.
func Start(ctx context.Context, a *app.App, opts Options) (*Local, error) {
	logger := opts.Logger
	if logger == nil {
		logger = a.Logger
	}
	wh, err := duckdb.Open(ctx, opts.WarehousePath)
	if err != nil {
		return nil, err
	}
	l := &Local{Warehouse: wh, logger: logger, Server: pstest.NewServer(opts.PubSub...)}
	fail := func(err error) (*Local, error) {
		l.close()
		return nil, err
	}
	l.conn, err = grpc.NewClient(l.Server.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fail(fmt.Errorf("connect to the pubsub emulator: %w", err))
	}
	l.client, err = pubsub.NewClient(context.WithoutCancel(ctx), Project, option.WithGRPCConn(l.conn))
	if err != nil {
		return fail(fmt.Errorf("pubsub client: %w", err))
	}
	topic := "projects/" + Project + "/topics/" + Topic
	if _, err := l.client.TopicAdminClient.CreateTopic(ctx, &pb.Topic{Name: topic}); err != nil {
		return fail(fmt.Errorf("create topic: %w", err))
	}
	if _, err := l.client.SubscriptionAdminClient.CreateSubscription(ctx, &pb.Subscription{
		Name: SubscriptionName(), Topic: topic, AckDeadlineSeconds: 30,
	}); err != nil {
		return fail(fmt.Errorf("create subscription: %w", err))
	}
	l.pub = relay.NewPubSub(l.client, Topic)

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.runCtx, l.cancel = runCtx, cancel
	uris := map[string]string{} // uri -> cluster name: one stream per cluster, however many names point at it
	for name, uri := range a.Config.Clusters {
		if prev, ok := uris[uri]; !ok || name < prev {
			uris[uri] = name
		}
	}
	keys := make([]string, 0, len(uris))
	for uri := range uris {
		keys = append(keys, uri)
	}
	slices.Sort(keys)
	for _, uri := range keys {
		lease, err := a.Clusters.Acquire(ctx, uri)
		if err != nil {
			return fail(err)
		}
		l.leases = append(l.leases, lease)
		r := relay.New(relay.Config{
			Cluster: uris[uri], Client: lease.Client(), Platform: a.Platform, Publisher: l.pub,
			Collections: events.AnalysedCollections(), Clock: a.Clock, Logger: logger, CheckpointEvery: opts.CheckpointEvery,
		})
		l.Relays = append(l.Relays, r)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			if err := r.Run(runCtx); err != nil {
				logger.Error("relay stopped", slog.String("error", err.Error()))
			}
		}()
		select {
		case <-r.Ready():
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(30 * time.Second):
			return fail(errors.New("relay did not open its change stream within 30 s"))
		}
	}

	var ingested warehouse.Warehouse = wh
	if opts.WrapWarehouse != nil {
		ingested = opts.WrapWarehouse(wh)
	}
	l.in = ingest.New(ingested, a.Clock, logger)
	l.pullCtx, l.stopPull = context.WithCancel(context.WithoutCancel(ctx))
	l.pullWG.Add(1)
	go func() {
		defer l.pullWG.Done()
		asBackground()
		_ = ingest.PullLoop(l.pullCtx, l.client.SubscriptionAdminClient, SubscriptionName(), l.in, logger)
	}()
	return l, nil
}

// Backfill publishes a snapshot of tenant's analysed collections in the background (see
// relay.Relay.Backfill), for data written before the relays started. Stop waits for it.
func (l *Local) Backfill(tenant string) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for _, r := range l.Relays { // the tenant lives on one cluster; the others' snapshots are empty
			n, err := r.Backfill(l.runCtx, tenant)
			if err != nil {
				if l.runCtx.Err() == nil {
					l.logger.Error("pipeline: backfill failed", slog.String("tenant", tenant), slog.String("error", err.Error()))
				}
				return
			}
			if n > 0 {
				l.logger.Info("pipeline: backfilled", slog.String("tenant", tenant), slog.Int64("events", n))
			}
		}
	}()
}

// SubscriptionName is the full name of the ingest subscription.
func SubscriptionName() string { return "projects/" + Project + "/subscriptions/" + Subscription }

// Publisher returns the relays' publisher, for backfills.
func (l *Local) Publisher() relay.Publisher { return l.pub }

// Ingester returns the ingest core the pull loop feeds.
func (l *Local) Ingester() *ingest.Ingester { return l.in }

// Stop shuts down in order: the relays drain their publishes and save their checkpoints, the pull loop
// ingests what is left in the subscription, then the emulator and the warehouse close. Calls after the
// first do nothing.
func (l *Local) Stop() {
	l.once.Do(func() {
		if l.cancel != nil {
			l.cancel()
		}
		l.wg.Wait()
		if l.stopPull != nil {
			l.stopPull()
			l.pullWG.Wait()
			l.drain()
		}
		l.close()
	})
}

// drain ingests whatever the subscription still holds.
func (l *Local) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		n, err := ingest.PullOnce(ctx, l.client.SubscriptionAdminClient, SubscriptionName(), l.in, l.logger)
		if err != nil {
			l.logger.Warn("pipeline: final ingest failed; the events are published again from the checkpoint", slog.String("error", err.Error()))
			return
		}
		if n == 0 {
			return
		}
	}
}

func (l *Local) close() {
	if l.pub.P != nil {
		l.pub.P.Stop()
	}
	if l.client != nil {
		_ = l.client.Close()
	}
	if l.conn != nil {
		_ = l.conn.Close()
	}
	if l.Server != nil {
		_ = l.Server.Close()
	}
	for _, lease := range l.leases {
		lease.Release()
	}
	if l.Warehouse != nil {
		_ = l.Warehouse.Close()
	}
}
