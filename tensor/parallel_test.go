package tensor

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// counter counts, for every index, how often Range covered it; with inner
// set, each of its indices also runs a nested Parallel over inner.
type counter struct {
	hits    []atomic.Int32
	inner   *counter
	threads int // of the nested calls
}

func (c *counter) Range(lo, hi int) {
	for i := lo; i < hi; i++ {
		c.hits[i].Add(1)
		if c.inner != nil {
			Parallel(c.threads, len(c.inner.hits), 1, c.inner)
		}
	}
}

func TestParallelCoversEachIndexOnce(t *testing.T) {
	for _, threads := range []int{1, 2, 3, 8} {
		for _, c := range []struct{ n, grain, inner int }{{0, 1, 0}, {1, 1, 0}, {7, 1, 0}, {100, 30, 0}, {1000, 1, 0}, {50, 1, 20}} {
			t.Run(fmt.Sprintf("threads=%d/n=%d/grain=%d/inner=%d", threads, c.n, c.grain, c.inner), func(t *testing.T) {
				outer := &counter{hits: make([]atomic.Int32, c.n), threads: threads}
				if c.inner > 0 {
					outer.inner = &counter{hits: make([]atomic.Int32, c.inner)}
				}
				Parallel(threads, c.n, c.grain, outer)
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

// parts counts the Range calls of a Parallel call.
type parts struct{ n atomic.Int32 }

func (p *parts) Range(lo, hi int) { p.n.Add(1) }

// TestParallelThreadsPerCall checks that each call splits into as many parts
// as its own thread count allows, whatever other calls asked for.
func TestParallelThreadsPerCall(t *testing.T) {
	for _, threads := range []int{-1, 0, 1, 3, 2, 1} {
		var p parts
		Parallel(threads, 300, 1, &p)
		if got, want := int(p.n.Load()), max(threads, 1); got != want {
			t.Errorf("Parallel(%d, 300, 1, task): %d parts, want %d", threads, got, want)
		}
	}
}
