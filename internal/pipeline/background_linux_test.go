package pipeline

import (
	"syscall"
	"testing"
)

// The ingest goroutine's thread runs at the background niceness, and no other thread does.
func TestAsBackgroundLowersOnlyItsThread(t *testing.T) {
	nice := func() int {
		// The raw getpriority system call answers 20 - nice.
		p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
		if err != nil {
			t.Error(err)
		}
		return 20 - p
	}
	before := nice()
	got := make(chan int)
	go func() {
		if !asBackground() {
			t.Error("asBackground could not lower the thread's priority")
		}
		got <- nice()
	}()
	if n, want := <-got, min(before+backgroundNice, 19); n != want {
		t.Fatalf("background thread niceness %d, want %d", n, want)
	}
	if n := nice(); n != before {
		t.Fatalf("the test's own thread went from niceness %d to %d", before, n)
	}
}
