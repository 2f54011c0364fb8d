package ingest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/edugrid/edugrid/shared/events"
)

// Batcher gathers events submitted one by one (one per push request) into batches: it commits a batch
// when it holds MaxEvents events or MaxWait after its first, and answers every submitter with that
// batch's outcome. Safe for concurrent use.
type Batcher struct {
	in        *Ingester
	maxEvents int
	maxWait   time.Duration

	mu      sync.Mutex
	pending []submission
	timer   *time.Timer
	closed  bool
	wg      sync.WaitGroup
}

type submission struct {
	ev   *events.Event
	done chan error
}

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("ingest: batcher closed")

// NewBatcher returns a Batcher committing through in; maxEvents and maxWait bound a batch.
func NewBatcher(in *Ingester, maxEvents int, maxWait time.Duration) *Batcher {
	if maxEvents < 1 {
		maxEvents = 1
	}
	return &Batcher{in: in, maxEvents: maxEvents, maxWait: maxWait}
}

// Submit adds ev to the current batch and waits until that batch is committed: nil means ev is stored.
// When ctx ends first, Submit returns ctx's error and the event may or may not be stored; Pub/Sub
// redelivers it and ingest is idempotent.
func (b *Batcher) Submit(ctx context.Context, ev *events.Event) error {
	s := submission{ev: ev, done: make(chan error, 1)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	b.pending = append(b.pending, s)
	switch {
	case len(b.pending) >= b.maxEvents:
		b.flushLocked()
	case len(b.pending) == 1:
		b.timer = time.AfterFunc(b.maxWait, b.flushTimer)
	}
	b.mu.Unlock()
	select {
	case err := <-s.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Batcher) flushTimer() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

// flushLocked hands the pending events to a committing goroutine.
func (b *Batcher) flushLocked() {
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if len(b.pending) == 0 {
		return
	}
	batch := b.pending
	b.pending = nil
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		evs := make([]*events.Event, len(batch))
		for i, s := range batch {
			evs[i] = s.ev
		}
		// The batch is committed on behalf of many requests: one leaving must not cancel it for the rest.
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := b.in.Apply(ctx, evs)
		cancel()
		for _, s := range batch {
			s.done <- err
		}
	}()
}

// Close commits what is pending, waits for every batch in flight and refuses further submissions.
func (b *Batcher) Close() {
	b.mu.Lock()
	b.closed = true
	b.flushLocked()
	b.mu.Unlock()
	b.wg.Wait()
}
