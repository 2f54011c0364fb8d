package clock

import (
	"testing"
	"time"
)

func TestTimesAreUTCMilliseconds(t *testing.T) {
	ist := time.FixedZone("IST", 5*3600+1800)
	m := NewManual(time.Date(2026, 6, 1, 9, 30, 0, 123456789, ist))
	tests := []struct {
		name string
		c    Clock
		move func()
	}{
		{"system", System(), func() {}},
		{"manual", m, func() {}},
		{"manual advanced by less than a millisecond", m, func() { m.Advance(700 * time.Microsecond) }},
		{"manual set", m, func() { m.Set(time.Date(2026, 6, 2, 0, 0, 0, 999999, ist)) }},
	}
	for _, tt := range tests {
		tt.move()
		got := tt.c.Now()
		if got.Location() != time.UTC || got.Nanosecond()%int(Precision) != 0 {
			t.Errorf("%s: Now() = %v, want UTC to the millisecond", tt.name, got)
		}
	}
	if got, want := m.Now(), time.Date(2026, 6, 1, 18, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("after Set: %v, want %v", got, want)
	}
}
