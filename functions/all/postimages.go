package all

import (
	"context"
	"errors"
	"fmt"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/events"
	"github.com/edugrid/edugrid/shared/store"
)

// enablePostImages turns on change-stream post-images for every analysed collection of a tenant database
// (collMod changeStreamPreAndPostImages), creating the collection with the option when it does not exist
// yet. With them the relay reads each changed document as that change wrote it (fullDocument: required)
// instead of looking it up later, when it may have changed again or been deleted. Setting the option
// again is a no-op, so the step is idempotent.
//
// It does nothing where post-images do not exist: on the embedded engine, which has no collMod (its
// change events carry the document as written anyway), on MongoDB before 6.0, and on a MongoDB-compatible
// server that claims 6.0 or later but implements no collMod (FerretDB); the relay keeps looking documents
// up there (a stream requiring post-images that finds none falls back to the lookup).
func enablePostImages(ctx context.Context, db lungo.IDatabase) error {
	if _, embedded := db.(*lungo.Database); embedded {
		return nil
	}
	major, _, err := store.ServerVersion(ctx, db.Client())
	if err != nil {
		return fmt.Errorf("enable post-images on %s: %w", db.Name(), err)
	}
	if major < 6 {
		return nil
	}
	enabled := bson.D{{Key: "enabled", Value: true}}
	for _, coll := range events.AnalysedCollections() {
		err := db.RunCommand(ctx, bson.D{{Key: "collMod", Value: coll}, {Key: "changeStreamPreAndPostImages", Value: enabled}}).Err()
		if hasCode(err, 59) || hasCode(err, 238) { // CommandNotFound, NotImplemented: no post-images here
			return nil
		}
		if hasCode(err, 26) { // NamespaceNotFound: the area has not written to it yet
			err = db.CreateCollection(ctx, coll, options.CreateCollection().SetChangeStreamPreAndPostImages(enabled))
			if hasCode(err, 48) { // NamespaceExists: created meanwhile by a write; set the option on it
				err = db.RunCommand(ctx, bson.D{{Key: "collMod", Value: coll}, {Key: "changeStreamPreAndPostImages", Value: enabled}}).Err()
			}
		}
		if err != nil {
			return fmt.Errorf("enable post-images on %s.%s: %w", db.Name(), coll, err)
		}
	}
	return nil
}

func hasCode(err error, code int) bool {
	var se mongo.ServerError
	return errors.As(err, &se) && se.HasErrorCode(code)
}
