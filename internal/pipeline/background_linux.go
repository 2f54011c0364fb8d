package pipeline

import (
	"runtime"
	"syscall"
)

// backgroundNice is how many steps of niceness the local stack's ingest thread runs below the rest of
// the process. Ingest runs in the same process as the API in the local stack, and each DuckDB batch holds
// a core for tens of milliseconds: at the same priority those bursts took a core from the API and added
// to its tail latency under the load script. Ten steps down, the kernel gives API threads about nine
// tenths of a contended core, and ingest still uses every idle cycle. (In production ingest is a function
// of its own.)
const backgroundNice = 10

// asBackground locks the calling goroutine to its OS thread and lowers that thread's priority by
// backgroundNice (to at most niceness 19), so the goroutine, and the DuckDB calls it makes, run as
// background work. The thread is retired when the goroutine ends (it stays locked), so no other goroutine
// ever runs at the lowered priority. It reports whether the priority was lowered.
func asBackground() bool {
	runtime.LockOSThread()
	tid := syscall.Gettid()
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
	if err != nil {
		return false
	}
	// The raw system call answers 20 - niceness.
	return syscall.Setpriority(syscall.PRIO_PROCESS, tid, min(20-p+backgroundNice, 19)) == nil
}
