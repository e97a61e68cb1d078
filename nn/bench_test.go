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

// The workloads, in arch's grammar. resConv is a 3×3 convolution to 16
// channels, 2×2 max pooling, four residual blocks (conv-ReLU-conv-ReLU,
// η = 0.5), global average pooling and a dense head.
const (
	mlpAdam = "fc:784-1000x2-10"
	deepMLP = "fc:784-50x50-10"
	convNet = "net:1x28x28,conv32k3x2,maxpool2,flatten,dense10"
	resConv = "net:1x28x28,conv16k3,maxpool2,resconv16k3x4:eta=0.5,gap,dense10"
)

func benchmarkStep(b *testing.B, spec string, newOpt func([]*Param[float32]) Optimizer, batch int) {
	// On 2 threads, as training runs (see DESIGN.md), and the convolution
	// backend that INITSCOPE_CONV selects.
	benchmarkModel(b, model[float32](spec), newOpt, batch)
}

// benchmarkModel times the training steps of net.
func benchmarkModel(b *testing.B, net *Model[float32], newOpt func([]*Param[float32]) Optimizer, batch int) {
	b.Logf("BLAS: %s; convolutions: %s", tensor.Backend(), ConvBackend())
	heInit(net.Params(), 1)
	opt := newOpt(net.Params())
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, batch*net.Graph().Input().Size())
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	classes := net.Graph().Output().Size()
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

func adam(ps []*Param[float32]) Optimizer {
	o := NewAdam(ps, 1e-3)
	o.Threads = 2
	return o
}

func sgd(ps []*Param[float32]) Optimizer {
	o := NewSGD(ps, 0.01, 0.9, 0)
	o.Threads = 2
	return o
}

// BenchmarkStepMLPAdam: fc 784-1000-1000-10, batch 128, Adam.
func BenchmarkStepMLPAdam(b *testing.B) {
	benchmarkStep(b, mlpAdam, adam, 128)
}

// BenchmarkStepDeepMLPSGD: fc 784-50×50-10 (50 ReLU layers of 50 units),
// batch 128, SGD with momentum.
func BenchmarkStepDeepMLPSGD(b *testing.B) {
	benchmarkStep(b, deepMLP, sgd, 128)
}

// BenchmarkStepConv: two 3×3 convolutions of 32 channels and a dense head,
// batch 64 of 1×28×28, SGD with momentum.
func BenchmarkStepConv(b *testing.B) { benchmarkStep(b, convNet, sgd, 64) }

// BenchmarkStepResConv: the residual conv net resConv, batch 64 of
// 1×28×28, SGD with momentum.
func BenchmarkStepResConv(b *testing.B) { benchmarkStep(b, resConv, sgd, 64) }
