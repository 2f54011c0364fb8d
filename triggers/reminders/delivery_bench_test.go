package reminders_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/edugrid/edugrid/functions/platform"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/notify"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/triggers/delivery"
)

// BenchmarkRunToLastDelivery measures, for a reminder run over n institutions (17 reminders each, as in
// BenchmarkReminderRun, every recipient reachable by email), the time from the start of the run to the
// last message accepted by the loopback SMTP server: the run records and publishes the reminders to the
// in-process Pub/Sub emulator, and the delivery handler pulls and delivers them (32 at a time) as the
// push subscription would.
//
// Run with: go test ./triggers/reminders -run '^$' -bench RunToLastDelivery -benchtime 1x -timeout 60m
func BenchmarkRunToLastDelivery(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) { benchmarkRunToDelivery(b, n) })
	}
}

func benchmarkRunToDelivery(b *testing.B, n int) {
	per := tenantsPerCluster()
	clusters := (n + per - 1) / per
	uris := "{"
	for c := range clusters {
		if c > 0 {
			uris += ","
		}
		uris += fmt.Sprintf(`"c%d":"lungo:memory:deliver-%d-%d-%d"`, c, n, c, time.Now().UnixNano())
	}
	uris += "}"
	env := apptest.New(b, "EDUGRID_CLUSTERS", uris, "EDUGRID_DEFAULT_CLUSTER", "c0", "EDUGRID_CLUSTER_CACHE_SIZE", fmt.Sprint(clusters+1))
	start, _ := time.Parse(time.DateOnly, today)
	dues := make([]string, 100)
	for k := range dues {
		dues[k] = start.AddDate(0, 0, k-50).Format(time.DateOnly)
	}
	admin := rbac.Principal{Subject: "bench", Role: rbac.PlatformAdmin}
	for i := range n {
		slug := fmt.Sprintf("bench-%04d", i)
		if _, err := env.Services.Platform.Provision(context.Background(), admin, platform.ProvisionRequest{
			Slug: slug, Name: "Bench " + slug, Cluster: fmt.Sprintf("c%d", i%clusters),
			Owner: platform.OwnerInput{Name: "Owner", Email: "owner@" + slug + ".test", Password: apptest.Password},
		}); err != nil {
			b.Fatal(err)
		}
		_, db := tenantDB(b, env, slug)
		seedDue(b, db, dues, nil)
	}
	topic := env.App.Notifier.(*notify.Topic)
	const sub = "bench-delivery"
	if err := topic.Subscribe(context.Background(), sub); err != nil {
		b.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := delivery.New(delivery.Deps{Notifications: env.Services.Notifications, Tenants: env.App.Registry, Databases: env.App.Databases, Logger: quiet})
	r := runner(env, topic)
	r.Concurrency = 8
	r.Logger = quiet
	want := remindersPerTenant * n
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		go h.Pull(ctx, topic, sub, delivery.PullOptions{Every: 20 * time.Millisecond, SweepEvery: time.Hour})
		began := time.Now()
		rep, err := r.Run(context.Background())
		if err != nil || rep.Reminders != want {
			b.Fatalf("run: %v, %+v", err, rep)
		}
		ran := time.Since(began)
		for env.Loopback.Outbox.Len() < want {
			if time.Since(began) > 30*time.Minute {
				b.Fatalf("%d of %d reminders delivered after 30 minutes", env.Loopback.Outbox.Len(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
		total := time.Since(began)
		cancel()
		b.ReportMetric(ran.Seconds(), "run-s")
		b.ReportMetric(total.Seconds(), "last-delivered-s")
		b.ReportMetric(float64(want)/total.Seconds(), "deliveries/s")
	}
}
