package authn

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/edugrid/edugrid/shared/clock"
)

// Limiter is a token-bucket rate limiter per key (an account, a client address), bounded to a number of
// keys with least-recently-used eviction so a flood of distinct keys cannot exhaust memory. Limits are per
// instance: with N warm instances an attacker gets at most N times the budget, which still turns an online
// password search from millions of guesses into a handful. Safe for concurrent use.
type Limiter struct {
	mu       sync.Mutex
	every    time.Duration
	burst    int
	capacity int
	clock    clock.Clock
	items    map[string]*list.Element
	lru      *list.List
}

type bucket struct {
	key string
	lim *rate.Limiter
}

// NewLimiter allows burst attempts per key, refilled one per every, tracking at most capacity keys.
func NewLimiter(every time.Duration, burst, capacity int, clk clock.Clock) *Limiter {
	return &Limiter{every: every, burst: burst, capacity: capacity, clock: clk, items: map[string]*list.Element{}, lru: list.New()}
}

// Allow takes one attempt from key's bucket and reports whether it was there.
func (l *Limiter) Allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.items[key]
	if ok {
		l.lru.MoveToFront(el)
	} else {
		el = l.lru.PushFront(&bucket{key: key, lim: rate.NewLimiter(rate.Every(l.every), l.burst)})
		l.items[key] = el
		for l.lru.Len() > l.capacity {
			back := l.lru.Back()
			l.lru.Remove(back)
			delete(l.items, back.Value.(*bucket).key)
		}
	}
	return el.Value.(*bucket).lim.AllowN(l.clock.Now(), 1)
}
