// Package relay publishes every change in the tenant databases of one cluster to Pub/Sub, as change
// events (shared/events), for the ingest function to turn into warehouse rows.
//
// One cluster-wide change stream per cluster (update events carry the document as written, from
// post-images, on MongoDB 6.0+; looked up otherwise) is filtered to tenant
// databases (edu_*) and to the collections analytics uses. The filter is applied in code as well as in
// the stream's pipeline, because the embedded engine ignores the pipeline. Secrets never leave: refresh
// token documents are not published at all, and fields holding password hashes, tokens or secrets are
// removed from every document and update before publishing.
//
// Delivery is at least once and never skips: each event is published with an ordering key per document
// and its event id as an attribute, and the stream's resume token is checkpointed in the platform
// database only once every earlier publish succeeded. A restart resumes after the checkpoint, so it may
// publish some events again, which ingest absorbs. When the cluster no longer holds the checkpoint's
// history, the relay records every tenant of the cluster for a backfill, starts from now, and backfills
// them from snapshots; it never retries a dead token.
//
// A checkpoint is keyed by the cluster's name and records the cluster's identity: an id the relay
// stores on the cluster itself the first time it streams it (IdentityDatabase). A name repointed at
// another cluster (a restore, a migration, a configuration mistake) finds a checkpoint of a different
// identity; its token is never replayed there, and the relay takes the history-lost path instead.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/events"
	"github.com/edugrid/edugrid/shared/store"
)

// Attributes every published message carries.
const (
	AttrEventID    = "event_id"
	AttrTenant     = "tenant"
	AttrCollection = "collection"
)

// Publisher publishes messages with ordering keys. PubSub adapts a Pub/Sub publisher.
type Publisher interface {
	// Publish starts publishing and returns at once; the result reports the outcome.
	Publish(ctx context.Context, orderingKey string, data []byte, attrs map[string]string) Result
	// ResumePublish lets a key publish again after a failure paused it.
	ResumePublish(orderingKey string)
}

// Result is the outcome of one publish; *pubsub.PublishResult is one.
type Result interface {
	Get(ctx context.Context) (serverID string, err error)
}

// Config configures a Relay.
type Config struct {
	// Cluster names the cluster; it keys the checkpoint.
	Cluster string
	// Client reaches every database of the cluster.
	Client lungo.IClient
	// Platform is the platform database, where checkpoints and backfill requests live.
	Platform  lungo.IDatabase
	Publisher Publisher
	// Collections are the collections to publish (events.AnalysedCollections()).
	Collections []string
	Clock       clock.Clock
	Logger      *slog.Logger
	// CheckpointEvery is how often a changed checkpoint is saved while events flow or the stream idles
	// (default 1 s); at most that much is published again after a crash.
	CheckpointEvery time.Duration
	// MaxInFlight bounds publishes awaiting their result (default 10,000).
	MaxInFlight int
	// DrainTimeout bounds how long a stop waits for publishes in flight (default 30 s).
	DrainTimeout time.Duration
	// MaxLag is how far behind the cluster the stream may fall before Health reports it not OK (default
	// 5 minutes).
	MaxLag time.Duration
	// LagReportEvery is how often the stream's lag is logged (default 1 minute).
	LagReportEvery time.Duration
	// MaxMessageBytes is the largest event published (default: Pub/Sub's 10 MB less room for the
	// attributes and ordering key). A larger one is skipped and its document recorded for a backfill.
	MaxMessageBytes int
}

// Relay runs one cluster's change stream. Construct with New; Run it once.
type Relay struct {
	cfg Config

	// clusterID is the streamed cluster's identity, read at the start of each stream (Run's goroutine
	// only; commit, which saves checkpoints, runs while it is fixed).
	clusterID string

	// lookupOnly: a stream requiring post-images failed for want of one (Run's goroutine only).
	lookupOnly bool
	// embedded: the cluster is the embedded engine, whose streams block until a write and whose
	// post-batch token does not move while idle.
	embedded bool
	health   streamHealth

	backfills sync.WaitGroup
	published atomic.Int64
	ready     chan struct{}
	readyOnce sync.Once
}

// Ready is closed once the first change stream is open: changes made after it are published.
func (r *Relay) Ready() <-chan struct{} { return r.ready }

// Collections in the platform database.
const (
	checkpointsCollection = "relay_checkpoints"
	backfillsCollection   = "relay_backfills"
)

// New returns a relay for cfg.
func New(cfg Config) *Relay {
	if cfg.Clock == nil {
		cfg.Clock = clock.System()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = time.Second
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 10000
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	if cfg.MaxLag <= 0 {
		cfg.MaxLag = 5 * time.Minute
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 10_000_000 - 64<<10
	}
	if cfg.LagReportEvery <= 0 {
		cfg.LagReportEvery = time.Minute
	}
	cfg.Collections = slices.Clone(cfg.Collections)
	_, embedded := cfg.Client.(*lungo.Client)
	return &Relay{cfg: cfg, embedded: embedded, ready: make(chan struct{})}
}

// Published returns how many events this relay has published successfully.
func (r *Relay) Published() int64 { return r.published.Load() }

// checkpoint is the stored resume position of one cluster's stream.
type checkpoint struct {
	Cluster string `bson:"_id"`
	Token   []byte `bson:"token"` // raw BSON of the resume token; empty means "from now"
	// ClusterID is the identity of the cluster the token belongs to; empty in checkpoints saved before
	// identities were recorded, which are trusted once and then annotated.
	ClusterID string    `bson:"cluster_id,omitempty"`
	UpdatedAt time.Time `bson:"updated_at"`
}

// The cluster's identity document, kept on the cluster itself so that it moves with the cluster's
// history (a restore of the cluster brings it along; another cluster has its own).
const (
	IdentityDatabase   = "edugrid_cluster"
	identityCollection = "identity"
)

// identity returns the cluster's id, creating it on first use. Two relays racing to create it agree:
// the upsert inserts one document and both read it back.
func (r *Relay) identity(ctx context.Context) (string, error) {
	coll := r.cfg.Client.Database(IdentityDatabase).Collection(identityCollection)
	_, err := coll.UpdateOne(ctx, bson.M{"_id": "cluster"},
		bson.M{"$setOnInsert": bson.M{"id": primitive.NewObjectID().Hex(), "created_at": r.cfg.Clock.Now()}}, options.Update().SetUpsert(true))
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return "", fmt.Errorf("record the identity of cluster %s: %w", r.cfg.Cluster, err)
	}
	var doc struct {
		ID string `bson:"id"`
	}
	if err := coll.FindOne(ctx, bson.M{"_id": "cluster"}).Decode(&doc); err != nil || doc.ID == "" {
		return "", fmt.Errorf("read the identity of cluster %s: %w", r.cfg.Cluster, errors.Join(err, errors.New("no id")))
	}
	return doc.ID, nil
}

func (r *Relay) loadCheckpoint(ctx context.Context) (bson.Raw, error) {
	var cp checkpoint
	err := r.cfg.Platform.Collection(checkpointsCollection).FindOne(ctx, bson.M{"_id": r.cfg.Cluster}).Decode(&cp)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load relay checkpoint of %s: %w", r.cfg.Cluster, err)
	}
	if len(cp.Token) == 0 {
		return nil, nil
	}
	if cp.ClusterID != "" && cp.ClusterID != r.clusterID {
		r.cfg.Logger.Error("relay: the checkpoint belongs to another cluster; not resuming from it",
			slog.String("cluster", r.cfg.Cluster), slog.String("checkpoint_cluster_id", cp.ClusterID), slog.String("cluster_id", r.clusterID))
		return nil, errForeignCheckpoint
	}
	return bson.Raw(cp.Token), nil
}

func (r *Relay) saveCheckpoint(ctx context.Context, token bson.Raw) error {
	_, err := r.cfg.Platform.Collection(checkpointsCollection).ReplaceOne(ctx, bson.M{"_id": r.cfg.Cluster},
		checkpoint{Cluster: r.cfg.Cluster, Token: []byte(token), ClusterID: r.clusterID, UpdatedAt: r.cfg.Clock.Now()}, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("save relay checkpoint of %s: %w", r.cfg.Cluster, err)
	}
	return nil
}

// errHistoryLost says the stream cannot resume from the checkpoint.
var errHistoryLost = errors.New("change stream history lost")

// errForeignCheckpoint says the checkpoint was saved on another cluster: what happened on this one since
// is unknown, as if its history were lost.
var errForeignCheckpoint = fmt.Errorf("%w: the checkpoint belongs to another cluster", errHistoryLost)

// isHistoryLost recognises both engines' "resume point no longer in the oplog".
func isHistoryLost(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, lungo.ErrLostOplogPosition) || strings.Contains(err.Error(), "unable to resume change stream") {
		return true
	}
	var se mongo.ServerError
	// 286 ChangeStreamHistoryLost; 280 ChangeStreamFatalError (resume token not found).
	return errors.As(err, &se) && (se.HasErrorCode(286) || se.HasErrorCode(280))
}

// isMissingPostImage recognises MongoDB's refusal of an update event on a stream with fullDocument
// required when the collection keeps no post-image for it: NoMatchingDocument (47), "Change stream was
// configured to require a post-image for all update events, but the post-image was not found" (the
// wording of 6.0 to 8.0). Both the code and the words are checked: 47 alone is also a plain "no document".
func isMissingPostImage(err error) bool {
	var se mongo.ServerError
	return errors.As(err, &se) && se.HasErrorCode(47) && strings.Contains(err.Error(), "post-image")
}

// Run streams changes until ctx ends, then drains the publishes in flight, saves the checkpoint and
// returns nil. A publish failure or a stream error restarts the stream from the last checkpoint after a
// pause; lost history is handled as the package doc says. Errors that make running pointless (the
// platform database unreachable at start) are returned.
func (r *Relay) Run(ctx context.Context) error {
	defer r.backfills.Wait()
	reportCtx, stopReports := context.WithCancel(ctx)
	defer stopReports()
	go r.reportLag(reportCtx)
	backoff := 200 * time.Millisecond
	for {
		err := r.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errHistoryLost) {
			reason := "change stream history lost"
			if errors.Is(err, errForeignCheckpoint) {
				reason = "checkpoint from another cluster"
			}
			if err := r.recoverHistoryLost(ctx, reason); err != nil {
				r.cfg.Logger.Error("relay: recording backfills failed", slog.String("error", err.Error()))
			} else {
				backoff = 200 * time.Millisecond
				continue
			}
		} else if err != nil {
			r.cfg.Logger.Warn("relay: stream stopped; resuming from the checkpoint", slog.String("cluster", r.cfg.Cluster), slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// pending is one stream position in order: a publish to await, or (res nil) a position to pass.
type pending struct {
	token bson.Raw
	key   string
	res   Result
}

// runOnce runs one stream from the checkpoint until ctx ends or something fails.
func (r *Relay) runOnce(ctx context.Context) error {
	id, err := r.identity(ctx)
	if err != nil {
		return err
	}
	r.clusterID = id
	token, err := r.loadCheckpoint(ctx)
	if err != nil {
		return err
	}
	full, split, err := r.streamOptions(ctx)
	if err != nil {
		return err
	}
	opts := options.ChangeStream().SetFullDocument(full).SetMaxAwaitTime(time.Second)
	if token != nil {
		opts.SetStartAfter(token)
	}
	// Only the real engine reads the pipeline; the embedded one ignores it, so the filter is repeated in
	// code below.
	pipeline := mongo.Pipeline{{{Key: "$match", Value: bson.M{
		"ns.db":   bson.M{"$regex": "^edu_"},
		"ns.coll": bson.M{"$in": r.cfg.Collections},
	}}}}
	if split {
		// Events over 16 MB come in fragments, reassembled in read, instead of stopping the stream.
		pipeline = append(pipeline, bson.D{{Key: "$changeStreamSplitLargeEvent", Value: bson.D{}}})
	}
	stream, err := r.cfg.Client.Watch(ctx, pipeline, opts)
	if err != nil {
		if isHistoryLost(err) {
			return errHistoryLost
		}
		return fmt.Errorf("watch cluster %s: %w", r.cfg.Cluster, err)
	}
	// The stream has read up to its start: the checkpoint's position, or now when it starts from now.
	readTo := r.cfg.Clock.Now()
	if at, ok := tokenTime(token); ok {
		readTo = at
	}
	if at, ok := tokenTime(stream.ResumeToken()); ok && at.After(readTo) {
		readTo = at
	}
	r.health.opened(readTo)
	defer r.health.closed()
	if token == nil {
		// Starting from now: record the position, so a restart before the first event does not skip.
		if t := stream.ResumeToken(); t != nil {
			if err := r.saveCheckpoint(ctx, t); err != nil {
				return err
			}
		}
	}

	r.readyOnce.Do(func() { close(r.ready) })

	streamCtx, cancelStream := context.WithCancel(ctx)
	inflight := make(chan pending, r.cfg.MaxInFlight)
	committed := make(chan error, 1)
	go func() { committed <- r.commit(ctx, inflight, cancelStream) }()

	readErr := r.read(streamCtx, stream, inflight)
	if full == options.Required && isMissingPostImage(readErr) {
		// An institution not yet migrated to post-images (tenant schema 3): looking documents up is
		// the only way to go on; the next stream does, until the relay restarts.
		r.lookupOnly = true
		r.cfg.Logger.Error("relay: a collection has no post-images (run the tenant migration); looking documents up instead",
			slog.String("cluster", r.cfg.Cluster), slog.String("error", readErr.Error()))
	}
	// Close blocks while Next waits: Next's context is cancelled (read returned), so closing is safe.
	cancelStream()
	_ = stream.Close(context.WithoutCancel(ctx))
	close(inflight)
	commitErr := <-committed
	if commitErr != nil {
		return commitErr
	}
	if ctx.Err() != nil {
		return nil
	}
	return readErr
}

// read pulls events from the stream into inflight until ctx ends or the stream fails.
func (r *Relay) read(ctx context.Context, stream lungo.IChangeStream, inflight chan<- pending) error {
	var lastQueued bson.Raw
	var split fragments
	for {
		if !stream.TryNext(ctx) {
			if err := stream.Err(); err != nil {
				return streamErr(ctx, err)
			}
			// Idle: pass the post-batch position on, so the checkpoint follows the stream while nothing
			// of interest happens.
			t := stream.ResumeToken()
			if at, ok := tokenTime(t); ok {
				r.health.advance(at)
			}
			if t != nil && !bytesEqual(t, lastQueued) {
				lastQueued = t
				if !send(ctx, inflight, pending{token: slices.Clone(t)}) {
					return nil
				}
			}
			if !r.embedded {
				// On MongoDB TryNext is a getMore the server holds for up to MaxAwaitTime while nothing
				// happens: looping on it is the stream's heartbeat, each one moving the post-batch token
				// (and so the checkpoint and the health check's lag) to the cluster's present.
				if ctx.Err() != nil {
					return nil
				}
				continue
			}
			// The embedded engine's TryNext does not wait and its token stands still while idle; its Next
			// blocks until the next write of any database, so a stream waiting there is not behind.
			r.health.setWaiting(true)
			next := stream.Next(ctx)
			r.health.setWaiting(false)
			if !next {
				if err := stream.Err(); err != nil {
					return streamErr(ctx, err)
				}
				return nil
			}
		}
		token := slices.Clone(stream.ResumeToken())
		lastQueued = token
		if at, ok := tokenTime(token); ok {
			r.health.advance(at)
		}
		var change bson.Raw
		if err := stream.Decode(&change); err != nil {
			r.cfg.Logger.Error("relay: unreadable change skipped", slog.String("cluster", r.cfg.Cluster), slog.String("error", err.Error()))
			continue
		}
		change, whole, err := split.add(slices.Clone(change))
		if err != nil {
			r.cfg.Logger.Error("relay: split change could not be reassembled; skipped", slog.String("cluster", r.cfg.Cluster), slog.String("error", err.Error()))
		}
		if !whole {
			// A fragment: its position is passed on with the last one, so a restart rebuilds the event.
			continue
		}
		ev, own, err := r.event(change, token)
		if err != nil {
			// A change the relay cannot read will never become readable: log it and move on, rather
			// than stopping every tenant's stream.
			r.cfg.Logger.Error("relay: unreadable change skipped", slog.String("cluster", r.cfg.Cluster), slog.String("error", err.Error()))
		}
		if own {
			continue // the relay's own checkpoint write: passing it on would make idling write forever
		}
		p := pending{token: token}
		if ev != nil {
			data, err := events.Encode(ev)
			if err == nil && len(data) > r.cfg.MaxMessageBytes {
				// Pub/Sub would refuse it on every attempt and stop the stream: the document is recorded
				// for a backfill (its snapshot, the document alone, is smaller) before its position passes.
				if err := r.recordDocumentBackfill(ctx, ev, fmt.Sprintf("change of %d bytes too large to publish", len(data))); err != nil {
					return err
				}
				data, err = nil, fmt.Errorf("change %s of %s/%s: %d bytes, over %d; recorded for a backfill", ev.ID, ev.Tenant, ev.Collection, len(data), r.cfg.MaxMessageBytes)
			}
			if err != nil {
				r.cfg.Logger.Error("relay: change skipped", slog.String("cluster", r.cfg.Cluster), slog.String("error", err.Error()))
			} else {
				p.key = ev.OrderingKey()
				p.res = r.cfg.Publisher.Publish(ctx, p.key, data, map[string]string{
					AttrEventID: ev.ID, AttrTenant: ev.Tenant, AttrCollection: ev.Collection,
				})
			}
		}
		if p.res != nil {
			// A publish once started is always handed on, even when stopping: commit drains everything
			// until inflight is closed (so this cannot block for good), and resumes its key should it fail.
			inflight <- p
			continue
		}
		if !send(ctx, inflight, p) {
			return nil
		}
	}
}

func streamErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return nil
	}
	if isHistoryLost(err) {
		return errHistoryLost
	}
	return fmt.Errorf("change stream: %w", err)
}

func send(ctx context.Context, ch chan<- pending, p pending) bool {
	select {
	case ch <- p:
		return true
	case <-ctx.Done():
		// Not queued, so never checkpointed: the next run reads it again.
		return false
	}
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

// commit awaits every publish in stream order and checkpoints the position of the last one that
// succeeded after all earlier ones did. A failed publish stops the stream (stop) and is returned; the
// positions after it are never checkpointed. When inflight is closed it drains what is queued, bounded
// by the drain timeout, and saves the checkpoint.
func (r *Relay) commit(ctx context.Context, inflight <-chan pending, stop func()) error {
	drainCtx, cancelDrain := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelDrain()
	go func() {
		select {
		case <-ctx.Done():
			t := time.NewTimer(r.cfg.DrainTimeout)
			defer t.Stop()
			select {
			case <-t.C:
				cancelDrain()
			case <-drainCtx.Done():
			}
		case <-drainCtx.Done():
		}
	}()

	var safe, saved bson.Raw
	var failed error
	ticker := time.NewTicker(r.cfg.CheckpointEvery)
	defer ticker.Stop()
	save := func() error {
		if safe == nil || bytesEqual(safe, saved) {
			return nil
		}
		if err := r.saveCheckpoint(drainCtx, safe); err != nil {
			return err
		}
		saved = safe
		return nil
	}
	for {
		select {
		case p, ok := <-inflight:
			if !ok {
				return errors.Join(failed, save())
			}
			if failed != nil {
				// Drain: nothing after a failure is checkpointed. A publish that failed too paused its key,
				// and the stream started again would find it still paused and fail once more for each.
				if p.res != nil {
					if _, err := p.res.Get(drainCtx); err != nil {
						r.cfg.Publisher.ResumePublish(p.key)
					}
				}
				continue
			}
			if p.res != nil {
				if _, err := p.res.Get(drainCtx); err != nil {
					failed = fmt.Errorf("publish to %s: %w", p.key, err)
					r.cfg.Publisher.ResumePublish(p.key)
					stop()
					continue
				}
				r.published.Add(1)
			}
			safe = p.token
		case <-ticker.C:
			if failed == nil {
				if err := save(); err != nil {
					failed = err
					stop()
				}
			}
		}
	}
}

// event turns the stream's current change into an event: nil when it is not for publishing (another
// database, an unanalysed collection, a refresh token, a non-document operation). own reports the
// relay's own checkpoint write.
func (r *Relay) event(change bson.Raw, token bson.Raw) (ev *events.Event, own bool, err error) {
	var c struct {
		Op string `bson:"operationType"`
		NS struct {
			DB   string `bson:"db"`
			Coll string `bson:"coll"`
		} `bson:"ns"`
		Key struct {
			ID any `bson:"_id"`
		} `bson:"documentKey"`
		Time              primitive.Timestamp `bson:"clusterTime"`
		FullDocument      bson.Raw            `bson:"fullDocument"`
		UpdateDescription struct {
			Updated bson.Raw `bson:"updatedFields"`
			Removed []string `bson:"removedFields"`
		} `bson:"updateDescription"`
	}
	if err := bson.Unmarshal(change, &c); err != nil {
		return nil, false, fmt.Errorf("decode change: %w", err)
	}
	if c.NS.DB == r.cfg.Platform.Name() && c.NS.Coll == checkpointsCollection {
		return nil, true, nil
	}
	slug, ok := events.TenantFromDatabase(c.NS.DB)
	if !ok || !slices.Contains(r.cfg.Collections, c.NS.Coll) || neverPublished[c.NS.Coll] {
		return nil, false, nil
	}
	op := events.Op(c.Op)
	switch op {
	case events.Insert, events.Update, events.Replace, events.Delete:
	default:
		return nil, false, nil
	}
	ev = &events.Event{
		V: events.Version, ID: events.IDFromToken(token), Tenant: slug, Collection: c.NS.Coll, Op: op,
		DocumentID: documentID(c.Key.ID), Time: events.ClusterTime{T: c.Time.T, I: c.Time.I}, Position: position(token),
	}
	if op != events.Delete && len(c.FullDocument) > 0 {
		if ev.Document, err = redactedJSON(c.FullDocument); err != nil {
			return nil, false, fmt.Errorf("change %s of %s.%s: %w", ev.DocumentID, c.NS.DB, c.NS.Coll, err)
		}
	}
	if op == events.Update {
		if len(c.UpdateDescription.Updated) > 0 {
			if ev.Updated, err = redactedJSON(c.UpdateDescription.Updated); err != nil {
				return nil, false, fmt.Errorf("change %s of %s.%s: %w", ev.DocumentID, c.NS.DB, c.NS.Coll, err)
			}
		}
		for _, f := range c.UpdateDescription.Removed {
			if !secretPath(f) {
				ev.Removed = append(ev.Removed, f)
			}
		}
	}
	return ev, false, nil
}

// position returns the event position of a resume token: MongoDB's token is a hex KeyString (_data) that
// starts with the cluster time and then orders the events within it (a transaction's writes by their
// index), and its byte order is the stream's order; the embedded engine's token is the cluster time
// alone ({ts}), rendered in the same form. Any other token gives no position, which orders by cluster
// time alone.
func position(token bson.Raw) string {
	if s, ok := token.Lookup("_data").StringValueOK(); ok {
		s = strings.ToUpper(s)
		if len(s)%2 == 0 && len(s) <= events.MaxPosition && strings.Trim(s, "0123456789ABCDEF") == "" {
			return s
		}
		return ""
	}
	if t, i, ok := token.Lookup("ts").TimestampOK(); ok {
		return events.PositionFromTimestamp(events.ClusterTime{T: t, I: i})
	}
	return ""
}

// documentID renders a document key as the event's document id.
func documentID(v any) string {
	switch id := v.(type) {
	case string:
		return id
	case primitive.ObjectID:
		return id.Hex()
	case int32:
		return strconv.FormatInt(int64(id), 10)
	case int64:
		return strconv.FormatInt(id, 10)
	case int:
		return strconv.Itoa(id)
	case float64:
		return strconv.FormatFloat(id, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// streamOptions chooses how update events carry the document: as the change wrote it (required, from
// the post-images tenant schema 3 enables) on MongoDB 6.0 and later, else looked up when the relay
// reads the event (updateLookup: the document as it is then, possibly changed again or gone). The
// embedded engine ignores the option; its events carry the document as written. split reports MongoDB
// 7.0 or later, which splits large events on request.
func (r *Relay) streamOptions(ctx context.Context) (full options.FullDocument, split bool, err error) {
	if r.embedded {
		return options.UpdateLookup, false, nil
	}
	major, _, err := store.ServerVersion(ctx, r.cfg.Client)
	if err != nil {
		return "", false, fmt.Errorf("cluster %s: %w", r.cfg.Cluster, err)
	}
	full = options.UpdateLookup
	if major >= 6 && !r.lookupOnly {
		full = options.Required
	}
	return full, major >= 7, nil
}
