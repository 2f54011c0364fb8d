package ingest

import (
	"testing"
	"time"
)

// A quiet stack's occasional batch goes through after the idle pause; batches that keep coming are paced
// to 1/(1+restFactor) of the time, within maxRest; a full batch never waits.
func TestPacer(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

	t.Run("occasional batches only pause", func(t *testing.T) {
		var p pacer
		now := t0
		for range 5 {
			now = now.Add(time.Second)
			if got := p.rest(3, 45*time.Millisecond, now); got != idlePause {
				t.Fatalf("rest after a 45 ms batch a second after the last = %v, want the idle pause %v", got, idlePause)
			}
		}
	})

	t.Run("steady batches rest restFactor times their cost", func(t *testing.T) {
		var p pacer
		now := t0
		took := 40 * time.Millisecond
		var busy, wall time.Duration
		for range 200 {
			now = now.Add(took)
			d := p.rest(200, took, now)
			now = now.Add(d)
			busy, wall = busy+took, wall+took+d
		}
		share := float64(busy) / float64(wall)
		if want := 1.0 / (1 + restFactor); share < want*0.95 || share > want*1.1 {
			t.Fatalf("busy share %.3f over 200 batches, want about %.3f", share, want)
		}
	})

	t.Run("a slow batch rests at most maxRest", func(t *testing.T) {
		var p pacer
		if got := p.rest(900, 2*time.Second, t0.Add(2*time.Second)); got != maxRest {
			t.Fatalf("rest = %v, want %v", got, maxRest)
		}
	})

	t.Run("catching up on a backlog is not paid back afterwards", func(t *testing.T) {
		var p pacer
		now := t0
		for range 100 {
			now = now.Add(50 * time.Millisecond)
			if got := p.rest(PullBatch, 50*time.Millisecond, now); got != 0 {
				t.Fatalf("rest after a full batch = %v", got)
			}
		}
		now = now.Add(10 * time.Millisecond)
		first := p.rest(5, 10*time.Millisecond, now)
		if first > maxRest {
			t.Fatalf("rest after the backlog = %v, want at most %v", first, maxRest)
		}
		// One rest repays what is owed: the next rest answers for the next pull's 10 ms only (about
		// restFactor × 10 ms), not for the backlog (which would be maxRest again).
		now = now.Add(first + 10*time.Millisecond)
		if got, bound := p.rest(5, 10*time.Millisecond, now), (restFactor+1)*10*time.Millisecond; got > bound {
			t.Fatalf("second rest after the backlog = %v, want at most %v", got, bound)
		}
	})

	t.Run("a full batch goes straight on", func(t *testing.T) {
		var p pacer
		if got := p.rest(PullBatch, 500*time.Millisecond, t0.Add(500*time.Millisecond)); got != 0 {
			t.Fatalf("rest = %v, want none", got)
		}
	})

	t.Run("an empty pull pauses", func(t *testing.T) {
		var p pacer
		if got := p.rest(0, time.Millisecond, t0); got != idlePause {
			t.Fatalf("rest = %v, want %v", got, idlePause)
		}
	})
}
