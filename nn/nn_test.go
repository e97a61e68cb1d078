package nn

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/initscope/initscope/tensor"
)

func TestMain(m *testing.M) {
	if err := tensor.Init(); err != nil {
		panic(err)
	}
	m.Run()
}

func TestParamsDescribeTheNetwork(t *testing.T) {
	in := Shape{3, 8, 8}
	stem := mustLayer(NewConv2d[float32](in, 4, 3, 1, 1))
	module := mustLayer(NewSequential[float32](
		mustLayer(NewConv2d[float32](stem.OutShape(), 4, 3, 1, 1)), NewReLU[float32](stem.OutShape()),
		mustLayer(NewConv2d[float32](stem.OutShape(), 4, 3, 1, 1)),
	))
	net := mustLayer(NewSequential[float32](
		stem, NewReLU[float32](stem.OutShape()),
		mustLayer(NewResidual[float32](module, 0.5)),
		mustLayer(NewGlobalAvgPool[float32](stem.OutShape())),
		mustLayer(NewDense[float32](4, 10)),
	))
	type meta struct {
		name          string
		role          Role
		layer         int
		shape         []int
		fanIn, fanOut int
	}
	want := []meta{
		{"0.weight", Weight, 0, []int{4, 3, 3, 3}, 27, 36},
		{"0.bias", Bias, 0, []int{4}, 27, 36},
		{"2.module.0.weight", Weight, 2, []int{4, 4, 3, 3}, 36, 36},
		{"2.module.0.bias", Bias, 2, []int{4}, 36, 36},
		{"2.module.2.weight", Weight, 2, []int{4, 4, 3, 3}, 36, 36},
		{"2.module.2.bias", Bias, 2, []int{4}, 36, 36},
		{"4.weight", Weight, 4, []int{10, 4}, 4, 10},
		{"4.bias", Bias, 4, []int{10}, 4, 10},
	}
	params := net.Params()
	if len(params) != len(want) {
		t.Fatalf("%d parameters, want %d", len(params), len(want))
	}
	for i, p := range params {
		got := meta{p.Name, p.Role, p.Layer, p.Shape, p.FanIn, p.FanOut}
		w := want[i]
		size := 1
		for _, d := range w.shape {
			size *= d
		}
		if got.name != w.name || got.role != w.role || got.layer != w.layer || !equalInts(got.shape, w.shape) ||
			got.fanIn != w.fanIn || got.fanOut != w.fanOut || len(p.Data) != size || len(p.Grad) != size {
			t.Errorf("param %d = %+v (%d values), want %+v", i, got, len(p.Data), w)
		}
	}
	if got := net.OutShape(); got != Vec(10) {
		t.Errorf("OutShape = %v", got)
	}
	if len(net.Layers()) != 5 {
		t.Errorf("Layers() has %d layers, want 5", len(net.Layers()))
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestConstructorErrors(t *testing.T) {
	img := Shape{1, 4, 4}
	for _, c := range []struct {
		err  error
		want string
	}{
		{second(NewDense[float32](0, 3)), "widths must be >= 1"},
		{second(NewConv2d[float32](img, 2, 7, 1, 1)), "kernel 7 larger than the padded 6×6 input"},
		{second(NewConv2d[float32](img, 2, 3, 0, 0)), "stride 0"},
		{second(NewConv2d[float32](Shape{0, 4, 4}, 2, 3, 1, 0)), "input shape 0×4×4"},
		{second(NewMaxPool2d[float32](img, 5, 1)), "kernel 5 larger than the 4×4 input"},
		{second(NewAvgPool2d[float32](img, 2, 0)), "stride 0"},
		{second(NewGlobalAvgPool[float32](Shape{2, 0, 1})), "dimensions must be >= 1"},
		{second(NewResidual[float32](mustLayer(NewDense[float32](3, 4)), 1)), "module maps 3 to 4"},
		{second(NewSequential[float32]()), "no layers"},
		{second(NewSequential[float32](mustLayer(NewDense[float32](3, 4)), mustLayer(NewDense[float32](5, 2)))), "layer 0 outputs shape 4 but layer 1 takes 5"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", c.err, c.want)
		}
	}
}

func second[A any](_ A, err error) error { return err }

// TestFusedMatchesLayers checks that a Sequential's fused Dense+ReLU gives
// the same output as running the layers one by one.
func TestFusedMatchesLayers(t *testing.T) {
	d := mustLayer(NewDense[float32](7, 9))
	relu := NewReLU[float32](Vec(9))
	net := mustLayer(NewSequential[float32](d, relu))
	rng := rand.New(rand.NewPCG(3, 3))
	for _, p := range net.Params() {
		for i := range p.Data {
			p.Data[i] = float32(rng.NormFloat64())
		}
	}
	x := make([]float32, 5*7)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	fused := append([]float32(nil), net.Forward(x, 5)...)
	separate := relu.Forward(d.Forward(x, 5), 5)
	for i := range fused {
		if fused[i] != separate[i] {
			t.Fatalf("y[%d]: fused %v, separate %v", i, fused[i], separate[i])
		}
	}
}

func TestSoftmaxCrossEntropyValues(t *testing.T) {
	var ce SoftmaxCrossEntropy[float32]
	// Equal logits: the loss is log(classes), whatever their size.
	for _, z := range []float32{0, 1000, -1000} {
		loss, g := ce.Loss([]float32{z, z, z, z}, []int{2}, 4)
		if math.Abs(loss-math.Log(4)) > 1e-6 {
			t.Errorf("logits all %v: loss %v, want log 4", z, loss)
		}
		if want := []float32{0.25, 0.25, -0.75, 0.25}; !closeFloats(g, want, 1e-6) {
			t.Errorf("logits all %v: gradient %v, want %v", z, g, want)
		}
	}
	// A confident right answer and a confident wrong one, without overflow:
	// losses ≈ 0 and 2000, mean 1000, gradient halved by the batch mean.
	loss, g := ce.Loss([]float32{1000, -1000, 1000, -1000}, []int{0, 1}, 2)
	if math.Abs(loss-1000) > 1e-3 {
		t.Errorf("loss %v, want 1000", loss)
	}
	if want := []float32{0, 0, 0.5, -0.5}; !closeFloats(g, want, 1e-6) {
		t.Errorf("gradient %v, want %v", g, want)
	}
}

func closeFloats(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol {
			return false
		}
	}
	return true
}

func TestForwardPanicsOnWrongSize(t *testing.T) {
	net := mustLayer(NewSequential[float32](mustLayer(NewDense[float32](3, 2))))
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "7 values as 2 samples of shape 3") {
			t.Errorf("panic %v", r)
		}
	}()
	net.Forward(make([]float32, 7), 2)
}

// heInit fills weights with N(0, 2/fan-in) and zeroes biases, from a fixed
// seed.
func heInit(params []*Param[float32], seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0))
	for _, p := range params {
		std := math.Sqrt(2 / float64(p.FanIn))
		for i := range p.Data {
			if p.Role == Weight {
				p.Data[i] = float32(std * rng.NormFloat64())
			} else {
				p.Data[i] = 0
			}
		}
	}
}

// train runs full-batch steps and returns the final loss.
func train(net *Sequential[float32], opt Optimizer, x []float32, labels []int, classes, steps int) float64 {
	var ce SoftmaxCrossEntropy[float32]
	var loss float64
	for range steps {
		net.ZeroGrad()
		var g []float32
		loss, g = ce.Loss(net.Forward(x, len(labels)), labels, classes)
		net.Backward(g, false)
		opt.Step()
	}
	return loss
}

func TestTrainXOR(t *testing.T) {
	net := mustLayer(NewSequential[float32](
		mustLayer(NewDense[float32](2, 16)), NewReLU[float32](Vec(16)),
		mustLayer(NewDense[float32](16, 16)), NewReLU[float32](Vec(16)),
		mustLayer(NewDense[float32](16, 2)),
	))
	heInit(net.Params(), 1)
	x := []float32{0, 0, 0, 1, 1, 0, 1, 1}
	labels := []int{0, 1, 1, 0}
	if loss := train(net, NewAdam(net.Params(), 0.05), x, labels, 2, 300); loss > 0.01 {
		t.Errorf("XOR: loss %v after 300 Adam steps, want < 0.01", loss)
	}
}

// TestTrainConvToy trains a small residual conv net to tell whether the
// bright pixel of an image is in its left or right half.
func TestTrainConvToy(t *testing.T) {
	in := Shape{1, 6, 6}
	const n = 32
	x := make([]float32, n*in.Size())
	labels := make([]int, n)
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range labels {
		row, col := rng.IntN(6), rng.IntN(6)
		x[i*36+row*6+col] = 1
		labels[i] = col / 3
	}
	stem := mustLayer(NewConv2d[float32](in, 4, 3, 1, 1))
	module := mustLayer(NewSequential[float32](
		mustLayer(NewConv2d[float32](stem.OutShape(), 4, 3, 1, 1)), NewReLU[float32](stem.OutShape()),
		mustLayer(NewConv2d[float32](stem.OutShape(), 4, 3, 1, 1)),
	))
	net := mustLayer(NewSequential[float32](
		stem, NewReLU[float32](stem.OutShape()),
		mustLayer(NewResidual[float32](module, 0.5)),
		mustLayer(NewMaxPool2d[float32](stem.OutShape(), 2, 2)),
		NewFlatten[float32](Shape{4, 3, 3}),
		mustLayer(NewDense[float32](36, 2)),
	))
	heInit(net.Params(), 2)
	if loss := train(net, NewSGD(net.Params(), 0.1, 0.9, 0), x, labels, 2, 200); loss > 0.05 {
		t.Errorf("conv toy: loss %v after 200 SGD steps, want < 0.05", loss)
	}
}
