package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/internal/pipeline"
	"github.com/edugrid/edugrid/shared/events"
	"github.com/edugrid/edugrid/shared/warehouse"
	"github.com/edugrid/edugrid/triggers/ingest"
)

// BenchmarkIngest measures ingest from the subscription into DuckDB: b.N attendance-sheet events wait in
// the emulator; the pull loop's batches (up to 1,000 messages: one Pull, one Apply, one Acknowledge)
// store them.
func BenchmarkIngest(b *testing.B) {
	env := apptest.New(b)
	l := start(b, env, b.TempDir()+"/wh.duckdb")
	l.Stop() // only the emulator's contents and a fresh warehouse are wanted; restart below without relays
	l, err := pipeline.Start(context.Background(), env.App, pipeline.Options{WarehousePath: ""})
	if err != nil {
		b.Fatal(err)
	}
	env.Warehouse.Set(l.Warehouse)
	defer l.Stop()
	topic := "projects/" + pipeline.Project + "/topics/" + pipeline.Topic
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("m%08d", i)
		e := &events.Event{ID: events.IDFromToken([]byte(id)), Tenant: "acme", Collection: "attendance_sheets", Op: events.Insert, DocumentID: id,
			Time:     events.ClusterTime{T: 1780000000, I: uint32(i + 1)},
			Document: []byte(`{"_id":"` + id + `","batch_id":"b1","branch_id":"r1","date":"2026-06-01","marks":[{"student_id":"a","status":"present"},{"student_id":"b","status":"absent"}]}`)}
		data, err := events.Encode(e)
		if err != nil {
			b.Fatal(err)
		}
		l.Server.Publish(topic, data, nil)
	}
	b.ResetTimer()
	ctx := context.Background()
	for {
		rows, err := l.Warehouse.Query(ctx, warehouse.MustQuery("acme", "SELECT count(*) FROM attendance_sheets", warehouse.AttendanceSheets))
		if err != nil {
			b.Fatal(err)
		}
		if rows[0][0] == int64(b.N) {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling harder competes with the writer for the 2 cores
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkApplyBatch measures the ingest core alone: batches of applyBatch decoded events into DuckDB.
var applyBatch = 1000

func BenchmarkApplyBatch(b *testing.B) {
	env := apptest.New(b)
	l := start(b, env, "")
	in := ingest.New(l.Warehouse, nil, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	var batch []*events.Event
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("m%08d", i)
		batch = append(batch, &events.Event{V: 1, ID: events.IDFromToken([]byte(id)), Tenant: "acme", Collection: "attendance_sheets", Op: events.Insert, DocumentID: id,
			Time:     events.ClusterTime{T: 1780000000, I: uint32(i + 1)},
			Document: []byte(`{"batch_id":"b1","branch_id":"r1","date":"2026-06-01","marks":[{"student_id":"a","status":"present"},{"student_id":"b","status":"absent"}]}`)})
		if len(batch) == applyBatch || i == b.N-1 {
			if err := in.Apply(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkEndToEndLatency measures, on the local wiring, the time from an API write (POST
// /users/branches) answering to its row being readable in the warehouse: change stream, relay, emulator,
// pull loop, DuckDB. One write at a time; p50 and p99 over b.N writes.
func BenchmarkEndToEndLatency(b *testing.B) {
	env := apptest.New(b)
	l := start(b, env, b.TempDir()+"/wh.duckdb")
	env.Provision("acme")
	token := env.Login("acme", "owner@acme.test").AccessToken
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := env.Do("POST", "/users/branches", token, map[string]string{"code": fmt.Sprintf("B%06d", i), "name": "Branch"})
		if rec.Code != http.StatusCreated {
			b.Fatalf("create branch: %d %s", rec.Code, rec.Body)
		}
		written := time.Now()
		id := apptest.Decode[struct {
			ID string `json:"id"`
		}](b, rec).ID
		q := warehouse.MustQuery("acme", "SELECT count(*) FROM branches WHERE id = @id", warehouse.Branches).With("id", id)
		for {
			rows, err := l.Warehouse.Query(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			if rows[0][0] == int64(1) {
				break
			}
			if time.Since(written) > 10*time.Second {
				b.Fatal("write not in the warehouse after 10 s")
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, time.Since(written))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
