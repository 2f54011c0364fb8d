package store

import (
	"context"
	"fmt"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/id"
)

// Page returns up to limit+1 documents of coll matching filter with ids after `after`, in id order; the
// extra one only tells the caller that another page exists (httpapi.NewPage drops it). filter is built by
// the caller's code, never taken from a client.
func Page[T any](ctx context.Context, coll lungo.ICollection, filter bson.M, after string, limit int) ([]T, error) {
	if after != "" {
		filter = bson.M{"$and": bson.A{filter, bson.M{"_id": bson.M{"$gt": after}}}}
	}
	cur, err := coll.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit+1)))
	if err != nil {
		return nil, fmt.Errorf("page of %s: %w", coll.Name(), err)
	}
	out := []T{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("page of %s: %w", coll.Name(), err)
	}
	return out, nil
}

// ByID reads the document of coll whose _id is docID. NotFound ("no such <what>") when docID is not a
// well-formed id or there is no such document; any other error is a database failure, wrapped as
// "get <what> <id>". Visibility is the caller's to check.
func ByID[T any](ctx context.Context, coll lungo.ICollection, docID, what string) (*T, error) {
	if !id.Valid(docID) {
		return nil, apperr.Errorf(apperr.NotFound, "no such %s", what)
	}
	var v T
	err := coll.FindOne(ctx, bson.M{"_id": docID}).Decode(&v)
	if IsNotFound(err) {
		return nil, apperr.Errorf(apperr.NotFound, "no such %s", what)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", what, docID, err)
	}
	return &v, nil
}

// In builds an $in condition. Both engines refuse a nil list; an empty one matches nothing, which is what
// a caller with no ids means.
func In(ids []string) bson.M {
	if ids == nil {
		ids = []string{}
	}
	return bson.M{"$in": ids}
}
