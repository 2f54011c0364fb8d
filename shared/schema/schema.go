// Package schema versions tenant databases. Every tenant database records the migrations applied to it
// in its "schema_migrations" collection (one document per version), so the version travels with the
// database when an institution moves to another cluster. A Plan is the code's ordered list of
// migrations; bringing a database up to date applies, in order, each migration above the version it
// records, and records each one as soon as it is applied, so a run stopped anywhere resumes where it
// stopped.
//
// Migrations must be idempotent (creating an index that exists, setting a collection option that is
// set, backfilling only documents that lack a field): a migration applied but not yet recorded when a
// run was stopped runs again.
//
// functions/all holds edugrid's plan; shared/tenant's Upgrader applies it to institutions, both from the
// guard (an institution behind the code is brought up to date before its request is served) and from the
// operator's migration run (scripts/migrate).
package schema

import (
	"context"
	"fmt"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/store"
)

// Collection is where a tenant database records its applied migrations.
const Collection = "schema_migrations"

// Migration is one step of a tenant database's schema.
type Migration struct {
	// Version is the migration's place in its plan: 1, 2, 3… without gaps.
	Version int
	// Name says what it does, for logs and the record ("indexes", "fee_instalments.currency backfill").
	Name string
	// Apply makes the change; it must be idempotent (see the package doc).
	Apply func(ctx context.Context, db lungo.IDatabase) error
}

// Plan is an ordered list of migrations. Build one with NewPlan.
type Plan struct {
	steps []Migration
}

// NewPlan returns the plan of ms, which must be numbered 1, 2, 3… in order, each with a name and an Apply.
// It panics otherwise: a plan is written in code, and a broken one must not reach a deployment.
func NewPlan(ms ...Migration) Plan {
	for i, m := range ms {
		if m.Version != i+1 || m.Name == "" || m.Apply == nil {
			panic(fmt.Sprintf("schema: migration %d (%q) is out of order or incomplete", i+1, m.Name))
		}
	}
	return Plan{steps: ms}
}

// Then returns p followed by ms, numbered on from p's last version (NewPlan's rules apply).
func (p Plan) Then(ms ...Migration) Plan {
	return NewPlan(append(append([]Migration{}, p.steps...), ms...)...)
}

// Latest is the version a database has once every migration of p is applied.
func (p Plan) Latest() int { return len(p.steps) }

type record struct {
	Version   int       `bson:"_id"`
	Name      string    `bson:"name"`
	AppliedAt time.Time `bson:"applied_at"`
}

// Version returns the highest migration recorded in db (0 for a database that records none).
func Version(ctx context.Context, db lungo.IDatabase) (int, error) {
	var r record
	err := db.Collection(Collection).FindOne(ctx, bson.M{}, options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})).Decode(&r)
	if store.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read schema version of %s: %w", db.Name(), err)
	}
	return r.Version, nil
}

// Migrate applies to db every migration of p above the version db records, in order, recording each one
// at now. It returns the version db then has. A migration that fails stops the run with its error; the
// ones before it stay applied and recorded. A database ahead of p (written by a newer release) is left
// as it is and its version returned.
func (p Plan) Migrate(ctx context.Context, db lungo.IDatabase, now time.Time) (int, error) {
	v, err := Version(ctx, db)
	if err != nil {
		return 0, err
	}
	for _, m := range p.steps {
		if m.Version <= v {
			continue
		}
		if err := m.Apply(ctx, db); err != nil {
			return v, fmt.Errorf("migrate %s to %d (%s): %w", db.Name(), m.Version, m.Name, err)
		}
		_, err := db.Collection(Collection).UpdateOne(ctx, bson.M{"_id": m.Version},
			bson.M{"$setOnInsert": bson.M{"name": m.Name, "applied_at": now.UTC()}}, options.Update().SetUpsert(true))
		if err != nil {
			return v, fmt.Errorf("record migration %d of %s: %w", m.Version, db.Name(), err)
		}
		v = m.Version
	}
	return v, nil
}
