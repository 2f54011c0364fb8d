package reminders_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/platform"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/notify"
	"github.com/edugrid/edugrid/shared/rbac"
)

// countingPublisher accepts every notification; the benchmark measures the run, not a topic.
type countingPublisher struct{}

func (countingPublisher) Publish(context.Context, notify.Notification) error { return nil }

// remindersPerTenant is how many of a tenant's 100 instalments, due one a day from 50 days ago to 49 days
// ahead, are in a reminder stage's window today under the default policy (3 days before, due date, 1 and 7
// days overdue, each sendable for 7 days): due dates from 13 days ago to 3 days ahead.
const remindersPerTenant = 17

// tenantsPerCluster is how many tenants share one embedded engine (25 unless
// EDUGRID_BENCH_TENANTS_PER_CLUSTER says otherwise). The embedded engine copies its whole oplog (every
// write of the last five minutes, across all its databases) for each document it writes, so one engine
// holding every tenant measures mostly that copy; production clusters (MongoDB) have no such cost.
func tenantsPerCluster() int {
	if n, err := strconv.Atoi(os.Getenv("EDUGRID_BENCH_TENANTS_PER_CLUSTER")); err == nil && n > 0 {
		return n
	}
	return 25
}

// BenchmarkReminderRun measures one reminder run over n tenants with 100 open instalments each, due one a
// day around today, on the embedded engine in memory, tenantsPerCluster() tenants per cluster:
//
//   - first: the reminders due today are recorded and published (17 per tenant), every instalment read;
//   - repeat: the same run again once they were sent, the steady state of an hourly job.
//
// Run with: go test ./triggers/reminders -run '^$' -bench ReminderRun -benchtime 2x -timeout 60m
func BenchmarkReminderRun(b *testing.B) {
	for _, n := range []int{100, 300, 1000} {
		b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) { benchmarkRun(b, n) })
	}
}

func benchmarkRun(b *testing.B, n int) {
	per := tenantsPerCluster()
	clusters := (n + per - 1) / per
	uris := "{"
	for c := range clusters {
		if c > 0 {
			uris += ","
		}
		uris += fmt.Sprintf(`"c%d":"lungo:memory:bench-%d-%d-%d"`, c, n, c, time.Now().UnixNano())
	}
	uris += "}"
	env := apptest.New(b, "EDUGRID_CLUSTERS", uris, "EDUGRID_DEFAULT_CLUSTER", "c0", "EDUGRID_CLUSTER_CACHE_SIZE", fmt.Sprint(clusters+1))
	start, _ := time.Parse(time.DateOnly, today)
	dues := make([]string, 100)
	for k := range dues {
		dues[k] = start.AddDate(0, 0, k-50).Format(time.DateOnly)
	}
	admin := rbac.Principal{Subject: "bench", Role: rbac.PlatformAdmin}
	dbs := make([]lungo.IDatabase, n)
	for i := range n {
		slug := fmt.Sprintf("bench-%04d", i)
		if _, err := env.Services.Platform.Provision(context.Background(), admin, platform.ProvisionRequest{
			Slug: slug, Name: "Bench " + slug, Cluster: fmt.Sprintf("c%d", i%clusters),
			Owner: platform.OwnerInput{Name: "Owner", Email: "owner@" + slug + ".test", Password: apptest.Password},
		}); err != nil {
			b.Fatal(err)
		}
		_, dbs[i] = tenantDB(b, env, slug)
		seedDue(b, dbs[i], dues, nil)
	}
	r := runner(env, countingPublisher{})
	r.Concurrency = 8
	r.Logger = nil
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			for _, db := range dbs {
				if _, err := db.Collection(notify.Collection).DeleteMany(context.Background(), bson.M{}); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			rep, err := r.Run(context.Background())
			if err != nil || rep.Reminders != remindersPerTenant*n {
				b.Fatalf("run: %v, %+v", err, rep)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/float64(n), "ms/tenant")
	})
	b.Run("repeat", func(b *testing.B) {
		for b.Loop() {
			rep, err := r.Run(context.Background())
			if err != nil || rep.Reminders != 0 || rep.Skipped != remindersPerTenant*n {
				b.Fatalf("run: %v, %+v", err, rep)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/float64(n), "ms/tenant")
	})
}
