package academic

import (
	"context"
	"fmt"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/store"
)

// The reads below serve whole-tenant jobs (the demo seed, imports) rather than requests: db is the tenant
// database and no visibility check is made.

// FindCourseByCode reads the course with the given code; NotFound when there is none.
func FindCourseByCode(ctx context.Context, db lungo.IDatabase, code string) (*Course, error) {
	var c Course
	err := db.Collection(coursesCollection).FindOne(ctx, bson.M{"code": code}).Decode(&c)
	if store.IsNotFound(err) {
		return nil, apperr.Errorf(apperr.NotFound, "no such course")
	}
	if err != nil {
		return nil, fmt.Errorf("course %s: %w", code, err)
	}
	return &c, nil
}

// FindBatches returns every batch of the tenant in id order.
func FindBatches(ctx context.Context, db lungo.IDatabase) ([]Batch, error) {
	cur, err := db.Collection(batchesCollection).Find(ctx, bson.M{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("batches: %w", err)
	}
	out := []Batch{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("batches: %w", err)
	}
	return out, nil
}

// ScheduledSessionsBetween returns the tenant's sessions still scheduled (not cancelled) dated from to to,
// both included ("YYYY-MM-DD"), in no particular order.
func ScheduledSessionsBetween(ctx context.Context, db lungo.IDatabase, from, to string) ([]Session, error) {
	cur, err := db.Collection(sessionsCollection).Find(ctx, bson.M{
		"date": bson.M{"$gte": from, "$lte": to}, "status": string(Scheduled),
	})
	if err != nil {
		return nil, fmt.Errorf("sessions from %s to %s: %w", from, to, err)
	}
	out := []Session{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("sessions from %s to %s: %w", from, to, err)
	}
	return out, nil
}

// SessionsOfBatches returns the sessions of batchIDs dated from to to, both included ("YYYY-MM-DD"),
// cancelled ones too, in no particular order: a student's timetable (the students area checks who may
// see it). db is the tenant database; no visibility check is made.
func SessionsOfBatches(ctx context.Context, db lungo.IDatabase, batchIDs []string, from, to string) ([]Session, error) {
	cur, err := db.Collection(sessionsCollection).Find(ctx, bson.M{
		"batch_id": store.In(batchIDs), "date": bson.M{"$gte": from, "$lte": to},
	})
	if err != nil {
		return nil, fmt.Errorf("sessions of %d batches from %s to %s: %w", len(batchIDs), from, to, err)
	}
	out := []Session{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("sessions of %d batches from %s to %s: %w", len(batchIDs), from, to, err)
	}
	return out, nil
}
