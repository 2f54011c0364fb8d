// Package academic is the area of what an institution teaches and when: courses (tenant-wide), batches
// (a course taught in one branch by named teachers, with a capacity and a weekly schedule) and the sessions
// materialised from each batch's schedule, plus one-off extra sessions and cancellations.
//
// Permissions: courses.read, batches.read (every staff role); courses.write, batches.write (owners and
// branch admins); sessions.write (owners, branch admins and teachers). A teacher sees only the batches that
// name them, branch admins the batches of their branches, tenant-level staff every batch; any other batch
// reads as not found. Students and guardians have no business here.
//
// The students area enrols students into batches. It asks this package for the seat (ReserveSeat,
// ReleaseSeat), so the rule that a batch never exceeds its capacity lives in batch.go. The roster of a batch
// is served by the students area (GET /students/batches/{id}/roster), because academic may not import
// students.
//
// Other areas read batches, sessions and courses through FindBatch, VisibleBatch, FindSession,
// VisibleSession and FindCourse, never through this area's collections.
package academic

import (
	"context"
	"fmt"

	"github.com/256dpi/lungo"
	"github.com/edugrid/edugrid/functions/users"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/clock"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Service manages courses, batches and sessions. Construct with New.
type Service struct {
	deps Deps
}

// Branches reads the institution's branches (the users area).
type Branches interface {
	// GetBranch returns a branch the caller may see; NotFound otherwise.
	GetBranch(ctx context.Context, branchID string) (*users.Branch, error)
}

// Deps is what the academic area needs; every field is required.
type Deps struct {
	Clock    clock.Clock
	Audit    audit.Recorder
	Branches Branches
}

// New returns the academic service over d.
func New(d Deps) *Service { return &Service{deps: d} }

// The area's collections in a tenant database.
const (
	coursesCollection  = "courses"
	batchesCollection  = "batches"
	sessionsCollection = "sessions"
)

// EnsureIndexes creates the area's indexes in a tenant database.
func EnsureIndexes(ctx context.Context, db lungo.IDatabase) error {
	if _, err := db.Collection(coursesCollection).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "code", Value: 1}}, Options: options.Index().SetUnique(true).SetName("code_unique"),
	}); err != nil {
		return fmt.Errorf("create course indexes: %w", err)
	}
	if _, err := db.Collection(batchesCollection).Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{Key: "branch_id", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("branch_id")},
		{Keys: bson.D{{Key: "teachers", Value: 1}}, Options: options.Index().SetName("teachers")},
	}); err != nil {
		return fmt.Errorf("create batch indexes: %w", err)
	}
	if _, err := db.Collection(sessionsCollection).Indexes().CreateMany(ctx, []mongo.IndexModel{
		// Two sessions of one batch never start at the same instant: an extra session on top of a regular
		// one is a mistake, and the index makes materialisation safe to repeat.
		{Keys: bson.D{{Key: "batch_id", Value: 1}, {Key: "starts_at", Value: 1}}, Options: options.Index().SetUnique(true).SetName("batch_start_unique")},
		{Keys: bson.D{{Key: "branch_id", Value: 1}, {Key: "date", Value: 1}}, Options: options.Index().SetName("branch_date")},
	}); err != nil {
		return fmt.Errorf("create session indexes: %w", err)
	}
	return nil
}
