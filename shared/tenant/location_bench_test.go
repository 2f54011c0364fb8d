package tenant

import (
	"testing"
	"time"
)

// Location against what it did before the cache (time.LoadLocation per call), side by side in one run.
func BenchmarkLocation(b *testing.B) {
	t := &Tenant{Settings: Settings{Timezone: "Asia/Kolkata"}}
	b.Run("load-each-call", func(b *testing.B) {
		for b.Loop() {
			if _, err := time.LoadLocation(t.Settings.Timezone); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			_ = t.Location()
		}
	})
}

func TestLocationCachedAndFallsBack(t *testing.T) {
	a, b := &Tenant{Settings: Settings{Timezone: "Asia/Kolkata"}}, &Tenant{Settings: Settings{Timezone: "Asia/Kolkata"}}
	first := a.Location()
	if first.String() != "Asia/Kolkata" || b.Location() != first {
		t.Fatalf("Location = %v then %v, want one cached Asia/Kolkata", first, b.Location())
	}
	for range 2 { // the second call is answered from the cache
		if got := (&Tenant{Settings: Settings{Timezone: "Not/AZone"}}).Location(); got != time.UTC {
			t.Fatalf("an unusable zone gives %v, want UTC", got)
		}
	}
}
