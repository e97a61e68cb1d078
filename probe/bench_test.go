package probe

import (
	"fmt"
	"testing"
)

// BenchmarkSamplers times one sample of each sampler on one goroutine, for
// He-normal fully connected nets of width 100 and 1000 (bench/probe_bench.sh
// reads the ratio network/exact from it).
func BenchmarkSamplers(b *testing.B) {
	for _, width := range []int{100, 1000} {
		net := mustNet(b, fmt.Sprintf("fc:784-%dx20-10", width))
		init := mustInit(b, "he-normal")
		x := testInput(784)
		layers := net.Layers()
		row := make([]float64, len(layers)+1)
		plan, err := newNetPlan(net, layers, init, x)
		if err != nil {
			b.Fatal(err)
		}
		samplers := map[string]sampler{
			"exact":   &exactWorker{exactSampler: newExactSampler(layers, init)},
			"network": newNetWorker(plan),
		}
		for _, m := range []string{"exact", "network"} {
			b.Run(fmt.Sprintf("width=%d/%s", width, m), func(b *testing.B) {
				s := samplers[m]
				i := uint64(0)
				for b.Loop() {
					s.sample(1, i, row)
					i++
				}
			})
		}
	}
}

// BenchmarkNetworkNets times one sample of the network sampler on one
// goroutine for a conv net with pooling and a net of conv and dense
// residual blocks (PyTorch's default init, so biases too).
func BenchmarkNetworkNets(b *testing.B) {
	for _, spec := range []string{
		"net:1x28x28,conv16k3x3,maxpool2,conv32k3x3,gap,dense10",
		"net:3x16x16,conv16k3,resconv16k3x4,avgpool2,flatten,resdense1024:end=linear,dense10",
	} {
		net := mustNet(b, spec)
		layers := net.Layers()
		plan, err := newNetPlan(net, layers, mustInit(b, "pytorch-default"), testInput(net.Input().Size()))
		if err != nil {
			b.Fatal(err)
		}
		w, row := newNetWorker(plan), make([]float64, len(layers)+1)
		b.Run(spec, func(b *testing.B) {
			i := uint64(0)
			for b.Loop() {
				w.sample(1, i, row)
				i++
			}
		})
	}
}
