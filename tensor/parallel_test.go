package tensor

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// counter counts, for every index, how often Range covered it; with inner
// set, each of its indices also runs a nested Parallel over inner.
type counter struct {
	hits  []atomic.Int32
	inner *counter
}

func (c *counter) Range(lo, hi int) {
	for i := lo; i < hi; i++ {
		c.hits[i].Add(1)
		if c.inner != nil {
			Parallel(len(c.inner.hits), 1, c.inner)
		}
	}
}

func TestParallelCoversEachIndexOnce(t *testing.T) {
	for _, threads := range []int{1, 2, 3, 8} {
		for _, c := range []struct{ n, grain, inner int }{{0, 1, 0}, {1, 1, 0}, {7, 1, 0}, {100, 30, 0}, {1000, 1, 0}, {50, 1, 20}} {
			t.Run(fmt.Sprintf("threads=%d/n=%d/grain=%d/inner=%d", threads, c.n, c.grain, c.inner), func(t *testing.T) {
				useThreads(t, threads)
				outer := &counter{hits: make([]atomic.Int32, c.n)}
				if c.inner > 0 {
					outer.inner = &counter{hits: make([]atomic.Int32, c.inner)}
				}
				Parallel(c.n, c.grain, outer)
				for i := range outer.hits {
					if got := outer.hits[i].Load(); got != 1 {
						t.Fatalf("index %d covered %d times", i, got)
					}
				}
				if outer.inner != nil {
					for i := range outer.inner.hits {
						if got := outer.inner.hits[i].Load(); got != int32(c.n) {
							t.Fatalf("nested index %d covered %d times, want %d", i, got, c.n)
						}
					}
				}
			})
		}
	}
}

func TestSetThreads(t *testing.T) {
	useThreads(t, 1)
	SetThreads(0)
	if got := Threads(); got != 1 {
		t.Errorf("after SetThreads(0), Threads() = %d, want 1", got)
	}
	SetThreads(5)
	if got := Threads(); got != 5 {
		t.Errorf("after SetThreads(5), Threads() = %d", got)
	}
}
