package store

import "runtime/debug"

// EmbeddedGCPercent is the garbage collector's target (GOGC) for a process that serves the embedded
// engine. Its databases live on the Go heap as trees of small values, so every collection cycle marks
// every institution's data: with the default of 100 the load script spent a ninth of its CPU marking,
// and 400 gave 28 % more requests per CPU-second for about twice the memory (BENCHMARKS.md, "Load").
// A function deployed against MongoDB keeps little on its heap and is left at Go's default.
const EmbeddedGCPercent = 400

// TuneGCForEmbedded sets the collector's target to EmbeddedGCPercent unless the environment sets GOGC.
// Only main of a command that serves the embedded engine (the local stack, the load script) calls it.
func TuneGCForEmbedded(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(EmbeddedGCPercent)
	}
}
