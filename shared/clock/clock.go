// Package clock is edugrid's one source of the current time, so tests can move time instead of sleeping.
package clock

import (
	"sync"
	"time"
)

// Precision is the resolution of every time a Clock tells: milliseconds, what MongoDB stores. A time
// answered right after a write (created_at) then reads the same as when it is read back later, in every
// area.
const Precision = time.Millisecond

// Clock tells the time, in UTC, to the millisecond (Precision).
type Clock interface {
	Now() time.Time
}

type system struct{}

func (system) Now() time.Time { return time.Now().UTC().Truncate(Precision) }

// System returns the real clock, in UTC, to the millisecond.
func System() Clock { return system{} }

// Manual is a clock that moves only when told; safe for concurrent use. The zero value starts at the zero
// time; use NewManual.
type Manual struct {
	mu  sync.Mutex
	now time.Time
}

// NewManual returns a Manual clock set to t.
func NewManual(t time.Time) *Manual { return &Manual{now: t.UTC()} }

// Now returns the clock's current time, to the millisecond (Advance and Set may move it by less).
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now.Truncate(Precision)
}

// Advance moves the clock forward by d.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = m.now.Add(d)
}

// Set moves the clock to t.
func (m *Manual) Set(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = t.UTC()
}
