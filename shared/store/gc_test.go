package store_test

import (
	"runtime/debug"
	"testing"

	"github.com/edugrid/edugrid/shared/store"
)

// The embedded engine's GC target applies unless the operator chose one with GOGC.
func TestTuneGCForEmbedded(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })
	env := func(v string) func(string) string {
		return func(name string) string {
			if name == "GOGC" {
				return v
			}
			return ""
		}
	}
	store.TuneGCForEmbedded(env("150"))
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("with GOGC set, the target became %d; want the operator's choice left alone", got)
	}
	store.TuneGCForEmbedded(env(""))
	if got := debug.SetGCPercent(100); got != store.EmbeddedGCPercent {
		t.Fatalf("target = %d, want %d", got, store.EmbeddedGCPercent)
	}
}
