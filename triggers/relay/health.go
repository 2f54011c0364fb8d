package relay

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson"
)

// StreamState names the state of a relay's change stream.
type StreamState string

// The states a Health reports.
const (
	// StreamOpen: the stream is open and being read.
	StreamOpen StreamState = "open"
	// StreamClosed: the stream is not open (not yet opened, failed and waiting to reopen, or stopped).
	StreamClosed StreamState = "closed"
)

// Health is one relay's stream as its health check sees it.
type Health struct {
	State StreamState `json:"state"`
	// LagSeconds is now minus the cluster time the stream has read up to: the time of the last change it
	// read, or of the last empty wait on the server (its post-batch resume token). 0 while the embedded
	// engine's stream waits for a change: that engine wakes its streams on every write, so a waiting
	// stream has read everything.
	LagSeconds float64 `json:"lag_seconds"`
	// OK reports an open stream within the relay's MaxLag.
	OK bool `json:"-"`
}

// streamHealth is what the stream reader tells the health check. Safe for concurrent use.
type streamHealth struct {
	mu   sync.Mutex
	open bool
	// readTo is the cluster time, as a wall-clock time, the stream has read up to.
	readTo time.Time
	// waiting: the embedded engine's stream is blocked waiting for the next write.
	waiting bool
}

func (s *streamHealth) opened(readTo time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open, s.readTo, s.waiting = true, readTo, false
}

func (s *streamHealth) closed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open, s.waiting = false, false
}

// advance records that the stream has read up to at; an earlier time never moves it back.
func (s *streamHealth) advance(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at.After(s.readTo) {
		s.readTo = at
	}
}

func (s *streamHealth) setWaiting(w bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waiting = w
}

func (s *streamHealth) report(now time.Time, maxLag time.Duration) Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.open {
		return Health{State: StreamClosed}
	}
	var lag time.Duration
	if !s.waiting {
		lag = max(now.Sub(s.readTo), 0)
	}
	return Health{State: StreamOpen, LagSeconds: lag.Round(100 * time.Millisecond).Seconds(), OK: lag <= maxLag}
}

// Health reports the relay's stream: open or not, and how far behind the cluster it is, measured on the
// relay's clock. OK is false when the stream is not open or lags more than Config.MaxLag.
func (r *Relay) Health() Health {
	return r.health.report(r.cfg.Clock.Now(), r.cfg.MaxLag)
}

// tokenTime returns the cluster time a resume token stands for, as a wall-clock time: MongoDB's token
// (_data, a hex KeyString) starts with the cluster time, type byte 0x82 then the timestamp's seconds and
// increment big-endian, in events and in post-batch tokens alike; the embedded engine's token is {ts}.
func tokenTime(token bson.Raw) (time.Time, bool) {
	if s, ok := token.Lookup("_data").StringValueOK(); ok {
		if len(s) < 18 || !strings.EqualFold(s[:2], "82") {
			return time.Time{}, false
		}
		var secs uint32
		for _, c := range s[2:10] {
			d, ok := hexDigit(c)
			if !ok {
				return time.Time{}, false
			}
			secs = secs<<4 | uint32(d)
		}
		return time.Unix(int64(secs), 0).UTC(), true
	}
	if t, _, ok := token.Lookup("ts").TimestampOK(); ok {
		return time.Unix(int64(t), 0).UTC(), true
	}
	return time.Time{}, false
}

func hexDigit(c rune) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return byte(c - '0'), true
	case c >= 'a' && c <= 'f':
		return byte(c - 'a' + 10), true
	case c >= 'A' && c <= 'F':
		return byte(c - 'A' + 10), true
	}
	return 0, false
}

// reportLag logs the stream's health every LagReportEvery until ctx ends: one structured line per
// period that a log-based metric can read (lag_seconds, stream_open).
func (r *Relay) reportLag(ctx context.Context) {
	t := time.NewTicker(r.cfg.LagReportEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h := r.Health()
			level := slog.LevelInfo
			if !h.OK {
				level = slog.LevelWarn
			}
			r.cfg.Logger.LogAttrs(ctx, level, "relay stream lag", slog.String("cluster", r.cfg.Cluster),
				slog.Bool("stream_open", h.State == StreamOpen), slog.Float64("lag_seconds", h.LagSeconds))
		}
	}
}

// HealthReporter is what the health endpoint reads of each relay; *Relay is one.
type HealthReporter interface {
	Health() Health
}

// The health endpoint's paths; Cloud Run's probes (infra/relay.tf) name them.
const (
	// HealthPath answers 200 when every stream is open and within its maximum lag, else 503: the
	// liveness check.
	HealthPath = "/healthz"
	// StartedPath answers 200 once every stream is open, however far behind: the startup check, since a
	// relay that starts far behind its clusters is catching up, not broken.
	StartedPath = "/healthz/started"
)

// HealthHandler serves the relays' health on GET HealthPath and GET StartedPath as JSON:
// {"status": "ok"|"unavailable", "streams": [{"state", "lag_seconds"}, …]} in the order given, without
// cluster names or anything else of the deployment. Other paths answer 404.
func HealthHandler(relays ...HealthReporter) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+HealthPath, healthHandler(relays, false))
	mux.Handle("GET "+StartedPath, healthHandler(relays, true))
	return mux
}

func healthHandler(relays []HealthReporter, startup bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		body := struct {
			Status  string   `json:"status"`
			Streams []Health `json:"streams"`
		}{Status: "ok", Streams: []Health{}}
		for _, r := range relays {
			h := r.Health()
			if h.State != StreamOpen || !startup && !h.OK {
				body.Status = "unavailable"
			}
			body.Streams = append(body.Streams, h)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if body.Status != "ok" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(body)
	})
}
