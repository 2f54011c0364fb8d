// Package lazy is how a function instance builds what it serves with: on first use rather than at
// start-up (an init registers, nothing more), once, and again on the next use after a failure instead
// of caching the failure. shared/app's entry points and the ingest function both build through it.
package lazy

import (
	"context"
	"sync"
)

// Value is a T built on the first successful Get. Safe for concurrent use: concurrent first calls wait
// for one build.
type Value[T any] struct {
	build func(ctx context.Context) (T, error)

	mu    sync.Mutex
	v     T
	built bool
}

// New returns a Value that build makes.
func New[T any](build func(ctx context.Context) (T, error)) *Value[T] {
	return &Value[T]{build: build}
}

// Get returns the built value, building it first if no build has succeeded yet; a failed build's error
// is returned and the next Get tries again.
func (l *Value[T]) Get(ctx context.Context) (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.built {
		v, err := l.build(ctx)
		if err != nil {
			var zero T
			return zero, err
		}
		l.v, l.built = v, true
	}
	return l.v, nil
}
