package delivery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/edugrid/edugrid/shared/notify"
)

// Puller is the subscription the local stack pulls notifications from (notify.Topic).
type Puller interface {
	Pull(ctx context.Context, subscription string, max int) ([]notify.Notification, error)
}

// PullOptions tune Pull.
type PullOptions struct {
	// Every is how long to wait when nothing is waiting; 200 ms when 0.
	Every time.Duration
	// SweepEvery is how often waiting deliveries are swept; 30 s when 0.
	SweepEvery time.Duration
	// Concurrency bounds the notifications delivered at once; 32 when 0.
	Concurrency int
}

// Pull delivers what arrives on subscription until ctx ends: the local stack's stand-in for the push
// subscription. The emulator's pull acknowledges at once, so a notification whose delivery failed
// transiently is left queued in its delivery log and sent by the next sweep.
func (h *Handler) Pull(ctx context.Context, p Puller, subscription string, o PullOptions) {
	if o.Every <= 0 {
		o.Every = 200 * time.Millisecond
	}
	if o.SweepEvery <= 0 {
		o.SweepEvery = 30 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	lastSweep := time.Now()
	for ctx.Err() == nil {
		ns, err := p.Pull(ctx, subscription, 1000)
		if err != nil && ctx.Err() == nil {
			h.deps.Logger.Warn("pull notifications", slog.String("error", err.Error()))
		}
		var wg sync.WaitGroup
		slots := make(chan struct{}, o.Concurrency)
		for _, n := range ns {
			wg.Add(1)
			slots <- struct{}{}
			go func() {
				defer func() { <-slots; wg.Done() }()
				_ = h.Notification(ctx, n) // logged there; the sweep retries what failed
			}()
		}
		wg.Wait()
		if time.Since(lastSweep) >= o.SweepEvery {
			lastSweep = time.Now()
			if err := h.Sweep(ctx); err != nil && ctx.Err() == nil {
				h.deps.Logger.Warn("delivery sweep", slog.String("error", err.Error()))
			}
		}
		if len(ns) == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(o.Every):
			}
		}
	}
}
