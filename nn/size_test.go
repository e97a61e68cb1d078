package nn

import (
	"runtime"
	"testing"

	"github.com/initscope/initscope/arch"
)

// TestEstimate checks Estimate against what a model of float32 really
// holds after NewModel and one Forward and Backward (on the convolution
// backend that INITSCOPE_CONV selects): an upper bound but for
// the small structs around the buffers, and not more than twice the truth.
func TestEstimate(t *testing.T) {
	for _, c := range []struct {
		spec  string
		batch int
	}{
		{"fc:784-300x3-10", 64},
		{"fc:784-10", 1000},
		{"net:3x32x32,conv16k3,maxpool2,conv32k3s2,gap,dense10", 32},
		{"net:1x28x28,conv8k5,flatten,dense10", 100},
		{"net:64,resdense64x4:eta=0.5,dense10", 128},
		{"net:4x16x16,resconv4k3x2:eta=0.3,gap,dense10", 16},
	} {
		g := must(arch.Parse(c.spec))
		// HeapAlloc differences are noisy under load (garbage of other
		// goroutines freed in between): a case is measured up to 3 times and
		// fails only if every measurement misses the bounds.
		measure := func(try int) bool {
			const threads = 2
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			m := must(NewModel[float32](g, threads))
			x := make([]float32, c.batch*g.Input().Size())
			for i := range x {
				x[i] = float32(i%7) - 3
			}
			for _, p := range m.Params() {
				for i := range p.Data {
					p.Data[i] = float32(i%5-2) / 10
				}
			}
			y := m.Forward(x, c.batch)
			dy := make([]float32, len(y))
			for i := range dy {
				dy[i] = 1
			}
			m.Backward(dy, false)
			runtime.GC()
			runtime.ReadMemStats(&after)
			// Convolutions on oneDNN hold memory outside Go's heap too.
			got := float64(after.HeapAlloc) - float64(before.HeapAlloc) - float64(4*(len(x)+len(dy))) + float64(workspaceBytes(m))
			s := Estimate(g, c.batch, threads)
			want := 4 * (2*s.Params + s.Buffers)
			ok := !(got > 1.01*want+1<<16 || want > 2*got)
			if !ok && try == 3 {
				t.Errorf("%s, batch %d: allocated %.0f bytes, estimated %.0f (%.0f parameters, %.0f buffer values)", c.spec, c.batch, got, want, s.Params, s.Buffers)
			}
			runtime.KeepAlive(m)
			runtime.KeepAlive(x)
			runtime.KeepAlive(dy)
			return ok
		}
		for try := 1; try <= 3 && !measure(try); try++ {
		}
	}
}
