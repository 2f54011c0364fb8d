package prnum

import (
	"context"
	"fmt"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/store"
)

// countersCollection is the collection, in each tenant's database, that holds the PRN sequence counters.
const countersCollection = "counters"

// upsertAttempts bounds the retries of a counter upsert that lost a race. One retry always suffices in
// practice, because the loser's retry finds the winner's document; the bound only stops a misbehaving
// server from looping us forever.
const upsertAttempts = 5

// Allocate issues the next PRN for (tenant, role, year), drawing the sequence number atomically from the
// counter document "prn:<role>:<yy>" in the counters collection of db, which must be the tenant's own
// database. Sequences start at 1 and are independent per role and per two-digit year; concurrent callers
// never receive the same PRN. A number is consumed even if the caller then fails to use it, so sequences
// may have gaps.
//
// tenant, role and year are validated as in New before the database is touched, returning an Invalid
// *apperr.Error. When the sequence for (role, year) has passed 999999 Allocate returns an *apperr.Error
// with code Conflict. Database failures are returned wrapped as "allocate PRN role R year Y: ...".
func Allocate(ctx context.Context, db lungo.IDatabase, tenant int, role Role, year int) (PRN, error) {
	yy, err := checkParts(tenant, role, year)
	if err != nil {
		return "", err
	}
	counterID := fmt.Sprintf("prn:%d:%02d", role, yy)
	// int64 so the counter is stored as a 64-bit integer by both engines, whatever the caller increments.
	update := bson.M{"$inc": bson.M{"seq": int64(1)}}
	opts := options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)

	var doc struct {
		Seq int64 `bson:"seq"`
	}
	for attempt := 1; ; attempt++ {
		err = db.Collection(countersCollection).
			FindOneAndUpdate(ctx, bson.M{"_id": counterID}, update, opts).
			Decode(&doc)
		// Two first upserts racing on MongoDB can both miss the document and both insert; the loser gets
		// a duplicate key error, and retrying then finds and increments the winner's document.
		if err == nil || !store.IsDuplicateKey(err) || attempt == upsertAttempts || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("allocate PRN role %d year %d: %w", role, yy, err)
	}
	if doc.Seq > maxSeq {
		return "", apperr.Errorf(apperr.Conflict,
			"PRN numbers for role %d in year %02d are exhausted (%d issued)", role, yy, maxSeq)
	}
	if doc.Seq < 1 {
		// Only a hand-edited counter can get here; issuing sequence 0 or a negative one would make an
		// unparseable PRN.
		return "", fmt.Errorf("allocate PRN role %d year %d: counter %q holds seq %d", role, yy, counterID, doc.Seq)
	}
	return New(tenant, role, yy, int(doc.Seq))
}
