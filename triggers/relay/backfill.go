package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/mongo/readconcern"

	"github.com/edugrid/edugrid/shared/events"
)

// BackfillRequest records that a tenant's warehouse rows must be rebuilt from a snapshot.
type BackfillRequest struct {
	ID      string `bson:"_id"` // cluster/tenant: one open request per tenant; cluster/tenant/collection/document for one document
	Cluster string `bson:"cluster"`
	Tenant  string `bson:"tenant"`
	// Collection and DocumentID name the one document to backfill; empty for the whole tenant.
	Collection  string     `bson:"collection,omitempty"`
	DocumentID  string     `bson:"document_id,omitempty"`
	Reason      string     `bson:"reason"`
	RequestedAt time.Time  `bson:"requested_at"`
	DoneAt      *time.Time `bson:"done_at,omitempty"`
	Events      int64      `bson:"events,omitempty"`
}

// recoverHistoryLost handles a checkpoint the cluster no longer has history for, or one of another
// cluster (reason says which): it records a backfill for every tenant database on the cluster (any of
// them may have changed in the lost stretch), clears the checkpoint so the next stream starts from now,
// and starts the backfills in the background.
func (r *Relay) recoverHistoryLost(ctx context.Context, reason string) error {
	tenants, err := r.recordClusterBackfill(ctx, reason)
	if err != nil {
		return err
	}
	// The records exist before the dead token is dropped, so a crash between the two loses nothing.
	if err := r.saveCheckpoint(ctx, nil); err != nil {
		return err
	}
	r.cfg.Logger.Warn("relay: "+reason+"; starting from now and backfilling",
		slog.String("cluster", r.cfg.Cluster), slog.Any("tenants", tenants))
	r.backfills.Add(1)
	go func() {
		defer r.backfills.Done()
		// Give the new stream a moment to start first: the snapshot must be read after it.
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := r.RunPendingBackfills(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Logger.Error("relay: backfill failed; run `relay backfill -pending`", slog.String("error", err.Error()))
		}
	}()
	return nil
}

// recordClusterBackfill records a backfill for every tenant database on the cluster and returns their
// slugs.
func (r *Relay) recordClusterBackfill(ctx context.Context, reason string) ([]string, error) {
	names, err := r.cfg.Client.ListDatabaseNames(ctx, bson.M{})
	if err != nil {
		return nil, fmt.Errorf("list tenant databases of %s: %w", r.cfg.Cluster, err)
	}
	var tenants []string
	for _, n := range names {
		slug, ok := events.TenantFromDatabase(n)
		if !ok {
			continue
		}
		tenants = append(tenants, slug)
		if err := r.recordTenantBackfill(ctx, slug, reason); err != nil {
			return nil, err
		}
	}
	return tenants, nil
}

// recordTenantBackfill records that every analysed collection of the tenant slug must be published
// again from a snapshot.
func (r *Relay) recordTenantBackfill(ctx context.Context, slug, reason string) error {
	id := r.cfg.Cluster + "/" + slug
	_, err := r.cfg.Platform.Collection(backfillsCollection).ReplaceOne(ctx, bson.M{"_id": id},
		BackfillRequest{ID: id, Cluster: r.cfg.Cluster, Tenant: slug, Reason: reason, RequestedAt: r.cfg.Clock.Now()},
		options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("record backfill of %s: %w", slug, err)
	}
	return nil
}

// recordLostChange records a backfill for the change whose fragments were dropped (a split event that
// could not be reassembled), as narrowly as the fragments tell: the document when one of them named
// it, else its tenant, else (no fragment said where the change was) every tenant on the cluster. A
// change the relay would not have published (another database, an unanalysed collection) needs none.
func (r *Relay) recordLostChange(ctx context.Context, dropped []bson.Raw, reason string) error {
	db, coll, key := lostDocument(dropped)
	if db == "" {
		tenants, err := r.recordClusterBackfill(ctx, reason)
		if err == nil {
			r.cfg.Logger.Warn("relay: "+reason+"; every tenant of the cluster recorded for a backfill",
				slog.String("cluster", r.cfg.Cluster), slog.Any("tenants", tenants))
		}
		return err
	}
	slug, ok := events.TenantFromDatabase(db)
	if !ok || !slices.Contains(r.cfg.Collections, coll) || neverPublished[coll] {
		return nil
	}
	if key == nil {
		if err := r.recordTenantBackfill(ctx, slug, reason); err != nil {
			return err
		}
		r.cfg.Logger.Warn("relay: "+reason+"; recorded for a backfill", slog.String("cluster", r.cfg.Cluster), slog.String("tenant", slug))
		return nil
	}
	return r.recordDocumentBackfill(ctx, &events.Event{Tenant: slug, Collection: coll, DocumentID: documentID(key)}, reason)
}

// PendingBackfills lists the open backfill requests of the relay's cluster.
func (r *Relay) PendingBackfills(ctx context.Context) ([]BackfillRequest, error) {
	cur, err := r.cfg.Platform.Collection(backfillsCollection).Find(ctx, bson.M{"cluster": r.cfg.Cluster, "done_at": nil})
	if err != nil {
		return nil, fmt.Errorf("list backfills of %s: %w", r.cfg.Cluster, err)
	}
	var out []BackfillRequest
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list backfills of %s: %w", r.cfg.Cluster, err)
	}
	return out, nil
}

// RunPendingBackfills backfills every open request of the cluster and marks each done; it returns how
// many it completed.
func (r *Relay) RunPendingBackfills(ctx context.Context) (int, error) {
	reqs, err := r.PendingBackfills(ctx)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, req := range reqs {
		var n int64
		if req.DocumentID != "" {
			n, err = r.backfillDocument(ctx, req)
		} else {
			n, err = r.Backfill(ctx, req.Tenant)
		}
		if err != nil {
			return done, err
		}
		at := r.cfg.Clock.Now()
		_, err = r.cfg.Platform.Collection(backfillsCollection).UpdateOne(ctx, bson.M{"_id": req.ID, "requested_at": req.RequestedAt},
			bson.M{"$set": bson.M{"done_at": at, "events": n}})
		if err != nil {
			return done, fmt.Errorf("mark backfill of %s done: %w", req.Tenant, err)
		}
		done++
	}
	return done, nil
}

// Progress reports a backfill's progress: events published so far.
type Progress func(tenant, collection string, published int64)

// Backfill publishes a snapshot of every analysed collection of tenant into the event stream, one
// Snapshot event per document, and waits until all are published. Each snapshot carries the cluster's
// time taken just before the snapshot is read (clusterTime), never the relay host's clock: every change
// at or before that time is in the snapshot, so the snapshot wins over those older versions, and every
// change the snapshot may have missed comes later, or at the same time with a position, and wins over
// it. It returns the number of events published. Documents deleted while history was lost are not
// removed from the warehouse.
func (r *Relay) Backfill(ctx context.Context, tenant string) (int64, error) {
	return r.BackfillWithProgress(ctx, tenant, nil)
}

// BackfillWithProgress is Backfill reporting progress every 1,000 events and at the end of each
// collection.
func (r *Relay) BackfillWithProgress(ctx context.Context, tenant string, progress Progress) (int64, error) {
	at, err := r.clusterTime(ctx)
	if err != nil {
		return 0, fmt.Errorf("backfill %s: %w", tenant, err)
	}
	run := r.cfg.Clock.Now().UTC().Format(time.RFC3339Nano)
	db := r.cfg.Client.Database(databaseName(tenant))
	var published int64
	for _, coll := range r.cfg.Collections {
		if neverPublished[coll] {
			continue
		}
		cur, err := db.Collection(coll).Find(ctx, bson.M{})
		if err != nil {
			return published, fmt.Errorf("backfill %s.%s: %w", tenant, coll, err)
		}
		var results []pendingResult
		for cur.Next(ctx) {
			var doc bson.Raw
			if err := cur.Decode(&doc); err != nil {
				_ = cur.Close(ctx)
				return published, fmt.Errorf("backfill %s.%s: %w", tenant, coll, err)
			}
			var idOnly struct {
				ID any `bson:"_id"`
			}
			if err := bson.Unmarshal(doc, &idOnly); err != nil {
				_ = cur.Close(ctx)
				return published, fmt.Errorf("backfill %s.%s: %w", tenant, coll, err)
			}
			id := documentID(idOnly.ID)
			body, err := redactedJSON(doc)
			if err != nil {
				_ = cur.Close(ctx)
				return published, fmt.Errorf("backfill %s.%s %s: %w", tenant, coll, id, err)
			}
			ev := &events.Event{V: events.Version, ID: events.SnapshotID(run, tenant, coll, id), Tenant: tenant, Collection: coll,
				Op: events.Snapshot, DocumentID: id, Time: at, Document: body}
			data, err := events.Encode(ev)
			if err != nil {
				r.cfg.Logger.Error("relay: backfill skipped a document", slog.String("tenant", tenant), slog.String("collection", coll), slog.String("error", err.Error()))
				continue
			}
			key := ev.OrderingKey()
			results = append(results, pendingResult{key, r.cfg.Publisher.Publish(ctx, key, data,
				map[string]string{AttrEventID: ev.ID, AttrTenant: tenant, AttrCollection: coll})})
			if len(results) >= 1000 {
				if err := r.await(ctx, results); err != nil {
					_ = cur.Close(ctx)
					return published, err
				}
				published += int64(len(results))
				results = results[:0]
				if progress != nil {
					progress(tenant, coll, published)
				}
			}
		}
		err = errors.Join(cur.Err(), cur.Close(ctx))
		if err != nil {
			return published, fmt.Errorf("backfill %s.%s: %w", tenant, coll, err)
		}
		if err := r.await(ctx, results); err != nil {
			return published, err
		}
		published += int64(len(results))
		if progress != nil {
			progress(tenant, coll, published)
		}
	}
	return published, nil
}

// clockCollection is the platform database's collection where the relay reads the embedded engine's
// cluster time (one document per cluster).
const clockCollection = "relay_clock"

// clusterTime returns the cluster's current time, such that every change at or before it is visible to
// reads made afterwards. On MongoDB it is the operation time of a majority read: the majority commit
// point, below which no write is still in flight. The embedded engine runs no commands and serialises
// its writes, so there it is the timestamp of a write of its own ($currentDate), taken from the clock
// its history is stamped with.
func (r *Relay) clusterTime(ctx context.Context) (events.ClusterTime, error) {
	if _, embedded := r.cfg.Client.(*lungo.Client); embedded {
		clk := r.cfg.Platform.Collection(clockCollection)
		if _, err := clk.UpdateOne(ctx, bson.M{"_id": r.cfg.Cluster}, bson.M{"$currentDate": bson.M{"at": bson.M{"$type": "timestamp"}}},
			options.Update().SetUpsert(true)); err != nil {
			return events.ClusterTime{}, fmt.Errorf("read the cluster time of %s: %w", r.cfg.Cluster, err)
		}
		var doc struct {
			At primitive.Timestamp `bson:"at"`
		}
		if err := clk.FindOne(ctx, bson.M{"_id": r.cfg.Cluster}).Decode(&doc); err != nil {
			return events.ClusterTime{}, fmt.Errorf("read the cluster time of %s: %w", r.cfg.Cluster, err)
		}
		return events.ClusterTime{T: doc.At.T, I: doc.At.I}, nil
	}
	var at *primitive.Timestamp
	err := r.cfg.Client.UseSession(ctx, func(sc lungo.ISessionContext) error {
		majority := r.cfg.Platform.Collection(checkpointsCollection, options.Collection().SetReadConcern(readconcern.Majority()))
		if err := majority.FindOne(sc, bson.M{"_id": r.cfg.Cluster}).Err(); err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return err
		}
		at = sc.OperationTime()
		return nil
	})
	if err == nil && (at == nil || at.T == 0) {
		err = errors.New("the server reported no operation time (is it a replica set?)")
	}
	if err != nil {
		return events.ClusterTime{}, fmt.Errorf("read the cluster time of %s: %w", r.cfg.Cluster, err)
	}
	return events.ClusterTime{T: at.T, I: at.I}, nil
}

type pendingResult struct {
	key string
	res Result
}

func (r *Relay) await(ctx context.Context, rs []pendingResult) error {
	var first error
	for _, p := range rs {
		if _, err := p.res.Get(ctx); err != nil {
			r.cfg.Publisher.ResumePublish(p.key)
			if first == nil {
				first = fmt.Errorf("backfill publish to %s: %w", p.key, err)
			}
		}
	}
	return first
}

// databaseName is tenant.DatabaseName, repeated so the relay does not depend on the tenant package's
// registry machinery; TestDatabaseNameAgrees keeps the two in step.
func databaseName(slug string) string {
	b := []byte("edu_" + slug)
	for i, c := range b {
		if c == '-' {
			b[i] = '_'
		}
	}
	return string(b)
}

// recordDocumentBackfill records that ev's document must be published again from a snapshot.
func (r *Relay) recordDocumentBackfill(ctx context.Context, ev *events.Event, reason string) error {
	id := r.cfg.Cluster + "/" + ev.Tenant + "/" + ev.Collection + "/" + ev.DocumentID
	_, err := r.cfg.Platform.Collection(backfillsCollection).ReplaceOne(ctx, bson.M{"_id": id},
		BackfillRequest{ID: id, Cluster: r.cfg.Cluster, Tenant: ev.Tenant, Collection: ev.Collection, DocumentID: ev.DocumentID,
			Reason: reason, RequestedAt: r.cfg.Clock.Now()}, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("record backfill of %s: %w", id, err)
	}
	r.cfg.Logger.Warn("relay: "+reason+"; recorded for a backfill", slog.String("cluster", r.cfg.Cluster),
		slog.String("tenant", ev.Tenant), slog.String("collection", ev.Collection), slog.String("document", ev.DocumentID))
	return nil
}

// backfillDocument publishes a snapshot of the one document req names (nothing when it no longer exists;
// its deletion was published as usual).
func (r *Relay) backfillDocument(ctx context.Context, req BackfillRequest) (int64, error) {
	at, err := r.clusterTime(ctx)
	if err != nil {
		return 0, fmt.Errorf("backfill %s: %w", req.ID, err)
	}
	// The event's document id is the key rendered as text: a string key, or an ObjectID's hex.
	keys := bson.A{req.DocumentID}
	if oid, err := primitive.ObjectIDFromHex(req.DocumentID); err == nil {
		keys = append(keys, oid)
	}
	cur, err := r.cfg.Client.Database(databaseName(req.Tenant)).Collection(req.Collection).Find(ctx, bson.M{"_id": bson.M{"$in": keys}})
	if err != nil {
		return 0, fmt.Errorf("backfill %s: %w", req.ID, err)
	}
	defer func() { _ = cur.Close(ctx) }()
	run := r.cfg.Clock.Now().UTC().Format(time.RFC3339Nano)
	for cur.Next(ctx) {
		var doc bson.Raw
		if err := cur.Decode(&doc); err != nil {
			return 0, fmt.Errorf("backfill %s: %w", req.ID, err)
		}
		var idOnly struct {
			ID any `bson:"_id"`
		}
		if err := bson.Unmarshal(doc, &idOnly); err != nil || documentID(idOnly.ID) != req.DocumentID {
			continue
		}
		body, err := redactedJSON(doc)
		if err != nil {
			return 0, fmt.Errorf("backfill %s: %w", req.ID, err)
		}
		ev := &events.Event{V: events.Version, ID: events.SnapshotID(run, req.Tenant, req.Collection, req.DocumentID), Tenant: req.Tenant,
			Collection: req.Collection, Op: events.Snapshot, DocumentID: req.DocumentID, Time: at, Document: body}
		data, err := events.Encode(ev)
		if err != nil {
			return 0, fmt.Errorf("backfill %s: %w", req.ID, err)
		}
		key := ev.OrderingKey()
		if err := r.await(ctx, []pendingResult{{key, r.cfg.Publisher.Publish(ctx, key, data,
			map[string]string{AttrEventID: ev.ID, AttrTenant: req.Tenant, AttrCollection: req.Collection})}}); err != nil {
			return 0, err
		}
		return 1, nil
	}
	return 0, cur.Err()
}
