package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// pytorchInit fills weights and biases with PyTorch's default law for
// linear layers, uniform on ±1/√fan-in, from a fixed seed.
func pytorchInit(params []*Param[float32], seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0))
	for _, p := range params {
		bound := 1 / math.Sqrt(float64(p.FanIn))
		for i := range p.Data {
			p.Data[i] = float32(bound * (2*rng.Float64() - 1))
		}
	}
}

// TestFlushKeepsTraining checks that flushing tiny gradients and
// velocities changes no weight: 30 SGD steps of a PyTorch-default net of
// 100 layers, whose gradients underflow into the subnormals within its
// first layers, give bit-identical weights with and without flushing.
func TestFlushKeepsTraining(t *testing.T) {
	run := func(flush float64) ([][]float32, int) {
		old := flushBelow
		flushBelow = flush
		defer func() { flushBelow = old }()
		m := model[float32]("fc:32-16x100-4")
		pytorchInit(m.Params(), 7)
		opt := NewSGD(m.Params(), 0.05, 0.9, 0)
		opt.Threads = 2
		rng := rand.New(rand.NewPCG(5, 6))
		x, labels := make([]float32, 64*32), make([]int, 64)
		tiny := 0
		for range 30 {
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			for i := range labels {
				labels[i] = rng.IntN(4)
			}
			train(m, opt, x, labels, 1)
			for _, p := range m.Params() {
				for _, g := range p.Grad {
					if g != 0 && math.Abs(float64(g)) < 0x1p-100 {
						tiny++
					}
				}
			}
		}
		var ws [][]float32
		for _, p := range m.Params() {
			ws = append(ws, slices.Clone(p.Data))
		}
		return ws, tiny
	}
	flushed, tinyFlushed := run(flushBelow)
	plain, tinyPlain := run(0)
	if tinyPlain == 0 {
		t.Fatal("no gradient fell below 2^-100 without flushing: the test shows nothing")
	}
	t.Logf("gradients below 2^-100: %d without flushing, %d with", tinyPlain, tinyFlushed)
	for i := range plain {
		if !slices.Equal(flushed[i], plain[i]) {
			t.Errorf("parameter %d differs with flushing", i)
		}
	}
}
