// Package notify sends notifications (absence alerts, fee reminders) to guardians, students and staff
// through a Pub/Sub topic; the delivery function subscribed to it (triggers/delivery, through
// functions/notifications) turns them into email, SMS or WhatsApp messages.
//
// Delivery is "at most once per key" from edugrid's side: Send records each notification in the tenant
// database (collection "notifications", _id = the notification's ID, its idempotency key) BEFORE
// publishing it, outbox style. A second Send with the same ID finds the record and skips it, so re-marking
// a student absent or re-running a reminder job never alerts twice. A publish that fails leaves its record
// unpublished, and Flush publishes it later. Pub/Sub itself delivers at least once, so every message
// carries the notification ID as its event_id attribute and consumers drop repeats by it.
package notify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/store"
)

// Collection is the outbox collection in each tenant database.
const Collection = "notifications"

// Notification is one message to one recipient.
type Notification struct {
	// ID is the idempotency key, e.g. "absence:<student>:<date>:<guardian>": at most one notification with
	// a given ID is ever sent per tenant.
	ID     string `bson:"_id" json:"id"`
	Tenant string `bson:"tenant" json:"tenant"`
	// Kind names the template, e.g. "attendance.absence", "fees.reminder".
	Kind string `bson:"kind" json:"kind"`
	// Recipient is a user id, phone number or email address.
	Recipient string            `bson:"recipient" json:"recipient"`
	Subject   string            `bson:"subject" json:"subject"`
	Body      string            `bson:"body" json:"body"`
	Data      map[string]string `bson:"data,omitempty" json:"data,omitempty"`
	CreatedAt time.Time         `bson:"created_at" json:"created_at"`
}

func (n Notification) validate() error {
	switch {
	case n.ID == "":
		return apperr.Field("id", apperr.FieldRequired, "is required")
	case n.Tenant == "":
		return apperr.Field("tenant", apperr.FieldRequired, "is required")
	case n.Kind == "":
		return apperr.Field("kind", apperr.FieldRequired, "is required")
	case n.Recipient == "":
		return apperr.Field("recipient", apperr.FieldRequired, "is required")
	case n.CreatedAt.IsZero():
		return apperr.Field("created_at", apperr.FieldRequired, "is required")
	}
	return nil
}

// Publisher hands a notification to the delivery pipeline. Publish returns only once the notification is
// accepted (for Pub/Sub: the server acknowledged the message); it must be safe for concurrent use.
type Publisher interface {
	Publish(ctx context.Context, n Notification) error
}

// Failing returns a Publisher whose every Publish fails with err: the stand-in where publishing is not
// configured (Send still records, so Flush sends once it is), and a broken topic for tests.
func Failing(err error) Publisher { return failing{err} }

type failing struct{ err error }

func (f failing) Publish(context.Context, Notification) error { return f.err }

// record is a notification as the outbox keeps it.
type record struct {
	Notification `bson:",inline"`
	// Claim is a random token per Send call, so that after a partly failed insert the caller can tell
	// which records it wrote itself.
	Claim     string `bson:"claim"`
	Published bool   `bson:"published"`
	Attempts  int    `bson:"attempts"`
}

// EnsureIndexes creates the outbox's indexes in a tenant database; idempotent.
func EnsureIndexes(ctx context.Context, db lungo.IDatabase) error {
	_, err := db.Collection(Collection).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "published", Value: 1}, {Key: "_id", Value: 1}},
		Options: options.Index().SetName("unpublished").
			SetPartialFilterExpression(bson.D{{Key: "published", Value: false}}),
	})
	if err != nil {
		return fmt.Errorf("notify: create indexes in %s: %w", db.Name(), err)
	}
	return nil
}

// Result counts what Send or Flush did.
type Result struct {
	Published int // published now
	Skipped   int // already recorded earlier (sent, or waiting for Flush)
	Failed    int // recorded but not published; Flush retries them
}

// Send records every notification of ns in db's outbox and publishes those not recorded before. A
// notification whose ID is already recorded, by an earlier call or twice in ns, is skipped. Recording
// happens outside any transaction of the caller: call Send after the change that causes the notification
// has committed, so a rolled-back change never alerts anyone.
//
// It returns an apperr Invalid error, recording nothing, when a notification lacks its ID, tenant, kind,
// recipient or creation time. A failed publish leaves its record for Flush; Send then returns the
// publish errors joined, with Result.Failed counting them. Any other error is a database failure.
func Send(ctx context.Context, db lungo.IDatabase, pub Publisher, ns []Notification) (Result, error) {
	var res Result
	seen := make(map[string]bool, len(ns))
	fresh := make([]Notification, 0, len(ns))
	for _, n := range ns {
		if err := n.validate(); err != nil {
			return Result{}, err
		}
		if seen[n.ID] {
			res.Skipped++
			continue
		}
		seen[n.ID] = true
		fresh = append(fresh, n)
	}
	if len(fresh) == 0 {
		return res, nil
	}
	ids := make([]string, len(fresh))
	for i, n := range fresh {
		ids[i] = n.ID
	}
	coll := db.Collection(Collection)

	// Most repeats are known ones (a re-marked absence); filtering them first keeps the insert clean.
	existing, err := distinctIDs(ctx, coll, bson.M{"_id": bson.M{"$in": ids}})
	if err != nil {
		return Result{}, fmt.Errorf("notify: find recorded notifications: %w", err)
	}
	claim := id.New()
	docs := make([]any, 0, len(fresh))
	for _, n := range fresh {
		if existing[n.ID] {
			res.Skipped++
			continue
		}
		docs = append(docs, record{Notification: n, Claim: claim})
	}
	if len(docs) == 0 {
		return res, nil
	}
	toPublish := make([]Notification, 0, len(docs))
	_, err = coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	switch {
	case err == nil:
		for _, d := range docs {
			toPublish = append(toPublish, d.(record).Notification)
		}
	case store.IsDuplicateKey(err):
		// A concurrent Send recorded some of the same IDs first; ours are the ones carrying our claim.
		mine, ferr := distinctIDs(ctx, coll, bson.M{"_id": bson.M{"$in": ids}, "claim": claim})
		if ferr != nil {
			return Result{}, fmt.Errorf("notify: find recorded notifications: %w", ferr)
		}
		for _, d := range docs {
			if n := d.(record).Notification; mine[n.ID] {
				toPublish = append(toPublish, n)
			} else {
				res.Skipped++
			}
		}
	default:
		return Result{}, fmt.Errorf("notify: record %d notifications: %w", len(docs), err)
	}

	pres, err := publishAndMark(ctx, coll, pub, toPublish)
	res.Published, res.Failed = pres.Published, pres.Failed
	return res, err
}

// Flush publishes every recorded notification of db that is not published yet: those whose publish
// failed, and those of a Send still in flight, which may then reach the topic twice (consumers drop the
// repeat by its event_id). It returns the publish errors joined, after trying every record; any other
// error is a database failure.
func Flush(ctx context.Context, db lungo.IDatabase, pub Publisher) (Result, error) {
	const batch = 500
	coll := db.Collection(Collection)
	var (
		total Result
		errs  []error
		after string
	)
	for {
		filter := bson.M{"published": false}
		if after != "" {
			filter["_id"] = bson.M{"$gt": after}
		}
		cur, err := coll.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(batch))
		if err != nil {
			return total, fmt.Errorf("notify: find unpublished notifications: %w", err)
		}
		var recs []record
		if err := cur.All(ctx, &recs); err != nil {
			return total, fmt.Errorf("notify: find unpublished notifications: %w", err)
		}
		if len(recs) == 0 {
			break
		}
		ns := make([]Notification, len(recs))
		for i, r := range recs {
			ns[i] = r.Notification
		}
		after = ns[len(ns)-1].ID
		res, err := publishAndMark(ctx, coll, pub, ns)
		total.Published += res.Published
		total.Failed += res.Failed
		if err != nil {
			errs = append(errs, err)
		}
		if len(recs) < batch {
			break
		}
	}
	return total, errors.Join(errs...)
}

// maxInFlight bounds concurrent publishes. Concurrent calls let the Pub/Sub client bundle many messages
// into one request instead of waiting out its bundling delay once per message.
const maxInFlight = 64

// publishAndMark publishes ns concurrently and marks the ones that succeeded as published.
func publishAndMark(ctx context.Context, coll lungo.ICollection, pub Publisher, ns []Notification) (Result, error) {
	if len(ns) == 0 {
		return Result{}, nil
	}
	var (
		mu     sync.Mutex
		ok     = make([]string, 0, len(ns))
		failed = make([]string, 0)
		errs   []error
		wg     sync.WaitGroup
		slots  = make(chan struct{}, maxInFlight)
	)
	for _, n := range ns {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			err := pub.Publish(ctx, n)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, n.ID)
				errs = append(errs, fmt.Errorf("publish notification %s: %w", n.ID, err))
				return
			}
			ok = append(ok, n.ID)
		}()
	}
	wg.Wait()
	res := Result{Published: len(ok), Failed: len(failed)}
	// The marks must land even when ctx was cancelled mid-publish: a published record left unmarked would
	// only be sent again by Flush.
	mctx := context.WithoutCancel(ctx)
	if len(ok) > 0 {
		if _, err := coll.UpdateMany(mctx, bson.M{"_id": bson.M{"$in": ok}},
			bson.M{"$set": bson.M{"published": true}, "$inc": bson.M{"attempts": 1}}); err != nil {
			return res, fmt.Errorf("notify: mark %d notifications published: %w", len(ok), err)
		}
	}
	if len(failed) > 0 {
		if _, err := coll.UpdateMany(mctx, bson.M{"_id": bson.M{"$in": failed}}, bson.M{"$inc": bson.M{"attempts": 1}}); err != nil {
			errs = append(errs, fmt.Errorf("notify: count failed attempts: %w", err))
		}
	}
	return res, errors.Join(errs...)
}

func distinctIDs(ctx context.Context, coll lungo.ICollection, filter bson.M) (map[string]bool, error) {
	cur, err := coll.Find(ctx, filter, options.Find().SetProjection(bson.M{"_id": 1}))
	if err != nil {
		return nil, err
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(docs))
	for _, d := range docs {
		out[d.ID] = true
	}
	return out, nil
}
