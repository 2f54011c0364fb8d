package lazy_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/edugrid/edugrid/shared/lazy"
)

func TestValueBuildsOnceAndRetriesAfterAFailure(t *testing.T) {
	var mu sync.Mutex
	builds := 0
	fail := true
	v := lazy.New(func(context.Context) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		builds++
		if fail {
			return 0, errors.New("not yet")
		}
		return 42, nil
	})
	if _, err := v.Get(context.Background()); err == nil {
		t.Fatal("a failed build answered without its error")
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := v.Get(context.Background()); err != nil || got != 42 {
				t.Errorf("Get = %d, %v; want 42", got, err)
			}
		}()
	}
	wg.Wait()
	if builds != 2 {
		t.Fatalf("built %d times, want 2 (one failure, then once for every caller)", builds)
	}
}
