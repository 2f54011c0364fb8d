package ingest

import (
	"testing"
	"time"
)

// The pull loop rests in proportion to the last batch's cost while batches are partial, within bounds,
// and goes straight on after a full one.
func TestRest(t *testing.T) {
	cases := []struct {
		name string
		n    int
		took time.Duration
		want time.Duration
	}{
		{"empty pull idles", 0, 5 * time.Millisecond, idlePause},
		{"cheap partial batch rests at least the idle pause", 3, time.Millisecond, idlePause},
		{"partial batch rests in proportion to its cost", 200, 40 * time.Millisecond, restFactor * 40 * time.Millisecond},
		{"a slow partial batch rests at most maxRest", 900, 2 * time.Second, maxRest},
		{"full batch goes straight on", PullBatch, 500 * time.Millisecond, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := rest(c.n, c.took); got != c.want {
				t.Fatalf("rest(%d, %v) = %v, want %v", c.n, c.took, got, c.want)
			}
		})
	}
}
