package relay_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"go.mongodb.org/mongo-driver/bson"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/edugrid/edugrid/triggers/relay"
)

// BenchmarkPublish measures the relay's catch-up throughput into the Pub/Sub emulator: b.N changes wait
// in the change stream behind the checkpoint; the relay reads, redacts, encodes and publishes them (with
// an ordering key per document) and checkpoints.
func BenchmarkPublish(b *testing.B) {
	ctx := context.Background()
	srv := pstest.NewServer()
	defer srv.Close()
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	client, err := pubsub.NewClient(ctx, "bench", option.WithGRPCConn(conn))
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pb.Topic{Name: "projects/bench/topics/changes"}); err != nil {
		b.Fatal(err)
	}
	pub := relay.NewPubSub(client, "changes")
	defer pub.P.Stop()

	c := newCluster(b)
	coll := c.db("acme").Collection("branches")
	// A first change and a relay run leave a checkpoint, so the next run catches up from there.
	runFor(b, c.relay(pub), func() {
		if _, err := coll.InsertOne(ctx, bson.M{"_id": "first"}); err != nil {
			b.Fatal(err)
		}
	}, func(r *relay.Relay) bool { return r.Published() >= 1 })

	docs := make([]any, 0, 1000)
	for i := 0; i < b.N; i++ {
		docs = append(docs, bson.M{"_id": fmt.Sprintf("b%08d", i), "code": fmt.Sprintf("C%08d", i), "name": "Branch", "active": true, "created_at": time.Now()})
		if len(docs) == cap(docs) || i == b.N-1 {
			if _, err := coll.InsertMany(ctx, docs); err != nil {
				b.Fatal(err)
			}
			docs = docs[:0]
		}
	}
	b.ResetTimer()
	start := time.Now()
	runFor(b, c.relayEvery(pub, time.Second), func() {}, func(r *relay.Relay) bool { return r.Published() >= int64(b.N) })
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// runFor runs r, calls then once its stream is open, waits until done holds, then stops r and waits for
// its drain.
func runFor(b *testing.B, r *relay.Relay, then func(), done func(*relay.Relay) bool) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- r.Run(ctx) }()
	<-r.Ready()
	then()
	deadline := time.Now().Add(2 * time.Minute)
	for !done(r) {
		if time.Now().After(deadline) {
			b.Fatalf("relay published %d", r.Published())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-stopped; err != nil {
		b.Fatal(err)
	}
}
