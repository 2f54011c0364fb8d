// Package id is edugrid's one generator of document ids: 24 lowercase hex characters (a MongoDB ObjectID),
// which sort by creation time, so cursor pagination by id returns documents oldest first.
package id

import "go.mongodb.org/mongo-driver/bson/primitive"

// New returns a fresh id.
func New() string { return primitive.NewObjectID().Hex() }

// Valid reports whether s has the form of an id. Handlers check path ids with it so that garbage is
// answered 404 without a database round trip.
func Valid(s string) bool {
	_, err := primitive.ObjectIDFromHex(s)
	return err == nil && len(s) == 24
}
