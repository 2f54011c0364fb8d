package all_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/schema"
	"github.com/edugrid/edugrid/shared/tenant"
)

// BenchmarkUpgradeAll measures one operator run over 1,000 institutions on the embedded engine, each
// iteration a release that adds one index migration: the figure per op is the time per 1,000 tenants.
//
//	go test ./functions/all -run '^$' -bench BenchmarkUpgradeAll -benchtime 3x
func BenchmarkUpgradeAll(b *testing.B) {
	const tenants = 1000
	// 1,000 institutions are far past two clusters' default namespace budget.
	env := apptest.New(b, "EDUGRID_CLUSTER_NAMESPACES", `{"default":1000000,"second":1000000}`)
	for i := range tenants {
		env.Provision(fmt.Sprintf("bench-%04d", i))
	}
	plan := all.Schema
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("bench_%d", i)
		plan = plan.Then(schema.Migration{Version: plan.Latest() + 1, Name: name, Apply: func(ctx context.Context, db lungo.IDatabase) error {
			_, err := db.Collection(audit.Collection).Indexes().CreateOne(ctx, mongo.IndexModel{
				Keys: bson.D{{Key: name, Value: 1}}, Options: options.Index().SetName(name)})
			return err
		}})
		rep, err := tenant.NewUpgrader(plan, env.App.Registry, env.App.Databases, env.Clock).UpgradeAll(context.Background(), 100, nil)
		if err != nil || rep.Upgraded != tenants {
			b.Fatalf("upgrade = %+v, %v", rep, err)
		}
	}
}
