package warehouse

import "sync"

// Slot holds a warehouse that is attached after the areas reading it were built: the local stack starts
// its analytics pipeline after wiring the areas, and tests swap warehouses between cases. Get is what the
// analytics area's Deps.Warehouse takes. Safe for concurrent use; the zero Slot holds nothing.
type Slot struct {
	mu sync.RWMutex
	w  Warehouse
}

// Set attaches w (nil detaches); the caller still owns w and closes it.
func (s *Slot) Set(w Warehouse) {
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
}

// Get returns the attached warehouse, or nil.
func (s *Slot) Get() Warehouse {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.w
}
