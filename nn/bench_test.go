package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/initscope/initscope/tensor"
)

// The step benchmarks time one training step (zero the gradients, forward,
// loss, backward, optimizer step) of the workloads that
// bench/torch_train_step.py times in PyTorch; bench/train_step.sh runs both
// and prints the ratios. Inputs and labels are random and fixed.

// mlp returns dense layers in → widths... → classes with ReLUs between.
func mlp(in int, widths []int, classes int) *Sequential[float32] {
	var layers []Layer[float32]
	for _, w := range append(widths, classes) {
		if len(layers) > 0 {
			layers = append(layers, NewReLU[float32](Vec(in)))
		}
		layers = append(layers, mustLayer(NewDense[float32](in, w)))
		in = w
	}
	return mustLayer(NewSequential(layers...))
}

// convNet is two 3×3 convolutions of 32 channels, 2×2 max pooling and a
// dense head, for 1×28×28 images.
func convNet() *Sequential[float32] {
	in := Shape{1, 28, 28}
	c1 := mustLayer(NewConv2d[float32](in, 32, 3, 1, 1))
	c2 := mustLayer(NewConv2d[float32](c1.OutShape(), 32, 3, 1, 1))
	pool := mustLayer(NewMaxPool2d[float32](c2.OutShape(), 2, 2))
	return mustLayer(NewSequential[float32](
		c1, NewReLU[float32](c1.OutShape()),
		c2, NewReLU[float32](c2.OutShape()),
		pool, NewFlatten[float32](pool.OutShape()),
		mustLayer(NewDense[float32](pool.OutShape().Size(), 10)),
	))
}

// resConvNet is a 3×3 convolution to 16 channels, 2×2 max pooling, four
// residual blocks (conv-ReLU-conv-ReLU, η = 0.5), global average pooling
// and a dense head, for 1×28×28 images.
func resConvNet() *Sequential[float32] {
	in := Shape{1, 28, 28}
	stem := mustLayer(NewConv2d[float32](in, 16, 3, 1, 1))
	pool := mustLayer(NewMaxPool2d[float32](stem.OutShape(), 2, 2))
	s := pool.OutShape()
	layers := []Layer[float32]{stem, NewReLU[float32](stem.OutShape()), pool}
	for range 4 {
		module := mustLayer(NewSequential[float32](
			mustLayer(NewConv2d[float32](s, 16, 3, 1, 1)), NewReLU[float32](s),
			mustLayer(NewConv2d[float32](s, 16, 3, 1, 1)), NewReLU[float32](s),
		))
		layers = append(layers, mustLayer(NewResidual[float32](module, 0.5)))
	}
	layers = append(layers, mustLayer(NewGlobalAvgPool[float32](s)), mustLayer(NewDense[float32](16, 10)))
	return mustLayer(NewSequential(layers...))
}

func benchmarkStep(b *testing.B, net *Sequential[float32], newOpt func([]*Param[float32]) Optimizer, batch int) {
	tensor.SetThreads(2) // as training does (see DESIGN.md)
	b.Logf("BLAS: %s", tensor.Backend())
	heInit(net.Params(), 1)
	opt := newOpt(net.Params())
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, batch*net.InShape().Size())
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	classes := net.OutShape().Size()
	labels := make([]int, batch)
	for i := range labels {
		labels[i] = rng.IntN(classes)
	}
	var ce SoftmaxCrossEntropy[float32]
	step := func() {
		net.ZeroGrad()
		_, g := ce.Loss(net.Forward(x, batch), labels, classes)
		net.Backward(g, false)
		opt.Step()
	}
	step() // size the buffers
	b.ReportAllocs()
	for b.Loop() {
		step()
	}
}

func adam(ps []*Param[float32]) Optimizer { return NewAdam(ps, 1e-3) }

func sgd(ps []*Param[float32]) Optimizer { return NewSGD(ps, 0.01, 0.9, 0) }

// BenchmarkStepMLPAdam: fc 784-1000-1000-10, batch 128, Adam.
func BenchmarkStepMLPAdam(b *testing.B) {
	benchmarkStep(b, mlp(784, []int{1000, 1000}, 10), adam, 128)
}

// BenchmarkStepDeepMLPSGD: fc 784-50×50-10 (50 ReLU layers of 50 units),
// batch 128, SGD with momentum.
func BenchmarkStepDeepMLPSGD(b *testing.B) {
	widths := make([]int, 50)
	for i := range widths {
		widths[i] = 50
	}
	benchmarkStep(b, mlp(784, widths, 10), sgd, 128)
}

// BenchmarkStepConv: two 3×3 convolutions of 32 channels and a dense head,
// batch 64 of 1×28×28, SGD with momentum.
func BenchmarkStepConv(b *testing.B) { benchmarkStep(b, convNet(), sgd, 64) }

// BenchmarkStepResConv: the residual conv net of resConvNet, batch 64 of
// 1×28×28, SGD with momentum.
func BenchmarkStepResConv(b *testing.B) { benchmarkStep(b, resConvNet(), sgd, 64) }
