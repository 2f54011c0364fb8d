package schema_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/256dpi/lungo"

	"github.com/edugrid/edugrid/shared/schema"
)

func memoryDB(t *testing.T) lungo.IDatabase {
	t.Helper()
	client, engine, err := lungo.Open(context.Background(), lungo.Options{Store: lungo.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(engine.Close)
	return client.Database("edu_schema")
}

// step returns a migration that appends its version to ran, or fails with fail when it is set.
func step(v int, ran *[]int, fail error) schema.Migration {
	return schema.Migration{Version: v, Name: "step", Apply: func(context.Context, lungo.IDatabase) error {
		if fail != nil {
			return fail
		}
		*ran = append(*ran, v)
		return nil
	}}
}

func TestMigrateAppliesWhatIsMissingInOrderAndResumes(t *testing.T) {
	ctx := context.Background()
	db := memoryDB(t)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var ran []int

	v, err := schema.NewPlan(step(1, &ran, nil), step(2, &ran, nil)).Migrate(ctx, db, now)
	if err != nil || v != 2 || !slices.Equal(ran, []int{1, 2}) {
		t.Fatalf("first run: version %d, ran %v, err %v; want 2, [1 2]", v, ran, err)
	}

	// A release adds 3 and 4; 4 fails the first time: 3 stays applied and recorded.
	boom := errors.New("boom")
	v, err = schema.NewPlan(step(1, &ran, nil), step(2, &ran, nil), step(3, &ran, nil), step(4, &ran, boom)).Migrate(ctx, db, now)
	if !errors.Is(err, boom) || v != 3 || !slices.Equal(ran, []int{1, 2, 3}) {
		t.Fatalf("failing run: version %d, ran %v, err %v; want 3, [1 2 3], boom", v, ran, err)
	}
	if got, err := schema.Version(ctx, db); err != nil || got != 3 {
		t.Fatalf("recorded version = %d, %v; want 3", got, err)
	}

	// The next run resumes at 4 and runs nothing twice.
	v, err = schema.NewPlan(step(1, &ran, nil), step(2, &ran, nil), step(3, &ran, nil), step(4, &ran, nil)).Migrate(ctx, db, now)
	if err != nil || v != 4 || !slices.Equal(ran, []int{1, 2, 3, 4}) {
		t.Fatalf("resumed run: version %d, ran %v, err %v; want 4, [1 2 3 4]", v, ran, err)
	}

	// An older release meeting a newer database changes nothing and reports the database's version.
	v, err = schema.NewPlan(step(1, &ran, nil)).Migrate(ctx, db, now)
	if err != nil || v != 4 || len(ran) != 4 {
		t.Fatalf("older plan: version %d, ran %v, err %v; want 4 and nothing run", v, ran, err)
	}
}

func TestNewPlanRefusesABrokenPlan(t *testing.T) {
	noop := func(context.Context, lungo.IDatabase) error { return nil }
	for name, ms := range map[string][]schema.Migration{
		"gap":      {{Version: 1, Name: "a", Apply: noop}, {Version: 3, Name: "c", Apply: noop}},
		"zero":     {{Version: 0, Name: "a", Apply: noop}},
		"no name":  {{Version: 1, Apply: noop}},
		"no apply": {{Version: 1, Name: "a"}},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("NewPlan accepted a broken plan")
				}
			}()
			schema.NewPlan(ms...)
		})
	}
}
