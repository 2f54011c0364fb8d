package relay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/logging"
	"github.com/edugrid/edugrid/triggers/relay"
)

// unwatchable is the embedded engine with change streams that cannot open (a cluster refusing them, a
// user without the privilege).
type unwatchable struct{ lungo.IClient }

func (unwatchable) Watch(context.Context, interface{}, ...*options.ChangeStreamOptions) (lungo.IChangeStream, error) {
	return nil, errors.New("injected: change streams are not allowed")
}

// Database answers buildInfo as a MongoDB 7.0 server would, so the relay gets as far as opening its stream.
func (u unwatchable) Database(name string, opts ...*options.DatabaseOptions) lungo.IDatabase {
	return mongo7{u.IClient.Database(name, opts...)}
}

type mongo7 struct{ lungo.IDatabase }

func (mongo7) RunCommand(context.Context, interface{}, ...*options.RunCmdOptions) lungo.ISingleResult {
	return mongo.NewSingleResultFromDocument(bson.D{{Key: "versionArray", Value: bson.A{int32(7), int32(0)}}}, nil, nil)
}

// gatedPub accepts publishes at once but completes none until opened: a Pub/Sub that stopped answering.
type gatedPub struct {
	gate    chan struct{}
	arrived chan struct{}
}

type gatedResult struct{ gate chan struct{} }

func (r gatedResult) Get(ctx context.Context) (string, error) {
	select {
	case <-r.gate:
		return "id", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (p *gatedPub) Publish(context.Context, string, []byte, map[string]string) relay.Result {
	p.arrived <- struct{}{}
	return gatedResult{p.gate}
}

func (p *gatedPub) ResumePublish(string) {}

type healthBody struct {
	Status  string `json:"status"`
	Streams []struct {
		State      string  `json:"state"`
		LagSeconds float64 `json:"lag_seconds"`
	} `json:"streams"`
}

// mustHealth asks the health handler of r at path until it answers wantCode with one stream in
// wantState (a relay's own checkpoint writes wake its stream for a moment), and returns the body.
func mustHealth(t *testing.T, r *relay.Relay, path string, wantCode int, wantState string) healthBody {
	t.Helper()
	var rec *httptest.ResponseRecorder
	var body healthBody
	eventually(t, fmt.Sprintf("GET %s answers %d with one %s stream", path, wantCode, wantState), func() bool {
		rec = httptest.NewRecorder()
		relay.HealthHandler(r).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		body = healthBody{}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("GET %s: body %q: %v", path, rec.Body.String(), err)
		}
		return rec.Code == wantCode && len(body.Streams) == 1 && body.Streams[0].State == wantState
	})
	if strings.Contains(rec.Body.String(), "default") || strings.Contains(rec.Body.String(), "lungo") {
		t.Fatalf("GET %s names the deployment: %s", path, rec.Body.String())
	}
	return body
}

// eventually waits until ok holds.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHealth(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		run  func(t *testing.T, c cluster, clk *clock.Manual) *relay.Relay
		// want answers of /healthz and /healthz/started once the scenario has run
		wantLive, wantStarted int
		wantState             string
	}{
		{
			name: "a stream that cannot open",
			run: func(t *testing.T, c cluster, clk *clock.Manual) *relay.Relay {
				r := relay.New(relay.Config{Cluster: "default", Client: unwatchable{c.client}, Platform: c.platform,
					Publisher: newPub(), Collections: []string{"branches"}, Clock: clk, Logger: slog.New(slog.DiscardHandler)})
				start(t, r)
				time.Sleep(50 * time.Millisecond) // a few attempts to open
				return r
			},
			wantLive: http.StatusServiceUnavailable, wantStarted: http.StatusServiceUnavailable, wantState: "closed",
		},
		{
			// An hour with nothing to relay is not lag: the stream waits at the cluster's present.
			name: "a healthy stream, busy then idle for an hour",
			run: func(t *testing.T, c cluster, clk *clock.Manual) *relay.Relay {
				pub := newPub()
				r := relay.New(relay.Config{Cluster: "default", Client: c.client, Platform: c.platform,
					Publisher: pub, Collections: []string{"branches"}, Clock: clk, Logger: slog.New(slog.DiscardHandler),
					CheckpointEvery: 10 * time.Millisecond, MaxLag: time.Minute})
				start(t, r)
				waitReady(t, r)
				if _, err := c.db("acme").Collection("branches").InsertOne(ctx, bson.M{"_id": "b1"}); err != nil {
					t.Fatal(err)
				}
				pub.waitFor(t, 1)
				clk.Advance(time.Hour)
				eventually(t, "the stream reports no lag", func() bool { return r.Health().OK })
				return r
			},
			wantLive: http.StatusOK, wantStarted: http.StatusOK, wantState: "open",
		},
		{
			// Pub/Sub stops answering: the reader stops at the change it holds while the cluster moves on.
			name: "a lagging stream",
			run: func(t *testing.T, c cluster, clk *clock.Manual) *relay.Relay {
				pub := &gatedPub{gate: make(chan struct{}), arrived: make(chan struct{}, 100)}
				r := relay.New(relay.Config{Cluster: "default", Client: c.client, Platform: c.platform,
					Publisher: pub, Collections: []string{"branches"}, Clock: clk, Logger: slog.New(slog.DiscardHandler),
					MaxInFlight: 1, DrainTimeout: 10 * time.Millisecond, MaxLag: time.Minute})
				start(t, r)
				waitReady(t, r)
				for i := range 5 {
					if _, err := c.db("acme").Collection("branches").InsertOne(ctx, bson.M{"_id": fmt.Sprintf("b%d", i)}); err != nil {
						t.Fatal(err)
					}
				}
				<-pub.arrived
				<-pub.arrived // the first is awaited, the second fills the queue: the reader is stuck
				clk.Advance(2 * time.Minute)
				return r
			},
			wantLive: http.StatusServiceUnavailable, wantStarted: http.StatusOK, wantState: "open",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := clock.NewManual(time.Now())
			r := c.run(t, newCluster(t), clk)
			body := mustHealth(t, r, "/healthz", c.wantLive, c.wantState)
			mustHealth(t, r, "/healthz/started", c.wantStarted, c.wantState)
			if c.wantState == "open" && (c.wantLive == http.StatusOK) != (body.Streams[0].LagSeconds < 60) {
				t.Fatalf("lag %v s with answer %d", body.Streams[0].LagSeconds, c.wantLive)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the relay's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The lag is logged periodically as a structured line Cloud Logging can turn into a metric.
func TestLagIsLogged(t *testing.T) {
	c := newCluster(t)
	var out syncBuffer
	r := relay.New(relay.Config{Cluster: "default", Client: c.client, Platform: c.platform, Publisher: newPub(),
		Collections: []string{"branches"}, Logger: logging.NewLogger(&out, slog.LevelInfo), LagReportEvery: 5 * time.Millisecond})
	start(t, r)
	waitReady(t, r)
	eventually(t, "a lag line is logged", func() bool { return strings.Contains(out.String(), `"message":"relay stream lag"`) })
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rec struct {
			Severity string   `json:"severity"`
			Message  string   `json:"message"`
			Cluster  string   `json:"cluster"`
			Open     *bool    `json:"stream_open"`
			Lag      *float64 `json:"lag_seconds"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec.Message != "relay stream lag" {
			continue
		}
		if rec.Severity == "" || rec.Cluster != "default" || rec.Open == nil || rec.Lag == nil {
			t.Fatalf("lag line %s lacks severity, cluster, stream_open or lag_seconds", line)
		}
		return
	}
	t.Fatalf("no lag line in %s", out.String())
}
