package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/initscope/initscope/tensor"
)

// The gradient checks run every layer in float64 against central finite
// differences of the scalar L = Σᵢ rᵢ·yᵢ, for a fixed random r: the
// gradient of L with respect to y is r, and Backward must turn it into the
// exact gradients with respect to the input and every parameter.

const (
	fdStep = 1e-6 // finite-difference step
	fdTol  = 1e-6 // allowed error, relative to max(1, |gradient|)
)

func randFill(rng *rand.Rand, s []float64, scale float64) {
	for i := range s {
		s[i] = scale * rng.NormFloat64()
	}
}

// dot returns Σ r·y, the scalar whose gradients are checked.
func dot(r, y []float64) float64 {
	var s float64
	for i := range r {
		s += r[i] * y[i]
	}
	return s
}

// checkGradients draws random inputs and parameters for l and compares its
// Backward with finite differences, for every input value and parameter.
func checkGradients(t *testing.T, l Layer[float64], batch int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	x := make([]float64, batch*l.InShape().Size())
	randFill(rng, x, 1)
	for _, p := range l.Params() {
		randFill(rng, p.Data, 1/math.Sqrt(float64(p.FanIn)))
	}
	r := make([]float64, batch*l.OutShape().Size())
	randFill(rng, r, 1)

	loss := func() float64 { return dot(r, l.Forward(x, batch)) }
	loss()
	for _, p := range l.Params() {
		p.ZeroGrad()
	}
	dx := append([]float64(nil), l.Backward(append([]float64(nil), r...), true)...)

	compare := func(what string, values, analytic []float64) {
		t.Helper()
		for i := range values {
			old := values[i]
			values[i] = old + fdStep
			up := loss()
			values[i] = old - fdStep
			down := loss()
			values[i] = old
			numeric := (up - down) / (2 * fdStep)
			if err := math.Abs(numeric - analytic[i]); err > fdTol*max(1, math.Abs(numeric)) {
				t.Errorf("%s[%d]: backward %.10g, finite difference %.10g", what, i, analytic[i], numeric)
			}
		}
	}
	compare("input", x, dx)
	for _, p := range l.Params() {
		compare(p.Name, p.Data, append([]float64(nil), p.Grad...))
	}
}

func mustLayer[L any](l L, err error) L {
	if err != nil {
		panic(err)
	}
	return l
}

func seq(layers ...Layer[float64]) *Sequential[float64] {
	return mustLayer(NewSequential(layers...))
}

func TestGradientsDense(t *testing.T) {
	checkGradients(t, mustLayer(NewDense[float64](5, 4)), 3, 1)
}

// convCases cover both unfolding paths (whole-plane runs when stride 1
// keeps the width, row by row otherwise) and both input-gradient paths
// (transposed convolution at stride 1, col2im otherwise).
var convCases = []struct {
	in                  Shape
	out, k, stride, pad int
}{
	{Shape{2, 6, 5}, 3, 3, 1, 0},
	{Shape{2, 6, 5}, 3, 3, 1, 1},
	{Shape{2, 7, 6}, 3, 3, 2, 0},
	{Shape{2, 7, 6}, 3, 3, 2, 1},
	{Shape{1, 5, 5}, 2, 1, 1, 0},
	{Shape{3, 4, 4}, 2, 2, 2, 1},
	{Shape{2, 6, 7}, 2, 5, 1, 2},
	{Shape{1, 3, 3}, 2, 5, 1, 1}, // kernel larger than the image
	{Shape{2, 3, 4}, 2, 1, 1, 1}, // padding beyond the kernel: col2im at stride 1
}

// convLayers returns the convolution of each case twice: as constructed,
// and cut into one-sample chunks, so that several goroutines share the
// batch (see useThreads).
func convLayers() (layers []*Conv2d[float64], names []string) {
	for _, c := range convCases {
		for _, chunk := range []int{0, 1} {
			conv := mustLayer(NewConv2d[float64](c.in, c.out, c.k, c.stride, c.pad))
			if chunk > 0 {
				conv.chunk = chunk
			}
			layers = append(layers, conv)
			names = append(names, fmt.Sprintf("%v/k%d/s%d/p%d/chunk%d", c.in, c.k, c.stride, c.pad, conv.chunk))
		}
	}
	return layers, names
}

// useThreads sets tensor's thread count until the test ends.
func useThreads(t *testing.T, n int) {
	old := tensor.Threads()
	tensor.SetThreads(n)
	t.Cleanup(func() { tensor.SetThreads(old) })
}

func TestGradientsConv(t *testing.T) {
	useThreads(t, 2)
	layers, names := convLayers()
	for i, conv := range layers {
		t.Run(names[i], func(t *testing.T) { checkGradients(t, conv, 3, 2) })
	}
}

// directConv is the textbook convolution, the reference for Conv2d's
// forward pass (the gradient checks only prove Backward consistent with
// Forward).
func directConv(c *Conv2d[float64], x []float64, batch int) []float64 {
	g := c.geom
	y := make([]float64, batch*g.out.Size())
	for b := range batch {
		for co := range g.out.C {
			for oh := range g.out.H {
				for ow := range g.out.W {
					sum := c.B.Data[co]
					for ci := range g.in.C {
						for ki := range g.k {
							for kj := range g.k {
								ih, iw := oh*g.stride-g.pad+ki, ow*g.stride-g.pad+kj
								if ih < 0 || ih >= g.in.H || iw < 0 || iw >= g.in.W {
									continue
								}
								sum += c.W.Data[((co*g.in.C+ci)*g.k+ki)*g.k+kj] * x[((b*g.in.C+ci)*g.in.H+ih)*g.in.W+iw]
							}
						}
					}
					y[((b*g.out.C+co)*g.out.H+oh)*g.out.W+ow] = sum
				}
			}
		}
	}
	return y
}

func TestConvForwardMatchesDirect(t *testing.T) {
	useThreads(t, 2)
	rng := rand.New(rand.NewPCG(4, 4))
	layers, names := convLayers()
	for l, conv := range layers {
		const batch = 3
		x := make([]float64, batch*conv.geom.in.Size())
		randFill(rng, x, 1)
		randFill(rng, conv.W.Data, 1)
		randFill(rng, conv.B.Data, 1)
		got, want := conv.Forward(x, batch), directConv(conv, x, batch)
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-12 {
				t.Fatalf("%s: y[%d] = %v, direct convolution %v", names[l], i, got[i], want[i])
			}
		}
	}
}

func TestGradientsReLU(t *testing.T) {
	checkGradients(t, NewReLU[float64](Shape{2, 3, 3}), 2, 3)
}

func TestGradientsPooling(t *testing.T) {
	in := Shape{2, 6, 5}
	for name, l := range map[string]Layer[float64]{
		"max 2/2":     mustLayer(NewMaxPool2d[float64](in, 2, 2)),
		"max 3/1":     mustLayer(NewMaxPool2d[float64](in, 3, 1)),
		"average 2/2": mustLayer(NewAvgPool2d[float64](in, 2, 2)),
		"average 3/2": mustLayer(NewAvgPool2d[float64](in, 3, 2)),
		"global":      mustLayer(NewGlobalAvgPool[float64](in)),
		"flatten":     NewFlatten[float64](in),
	} {
		t.Run(name, func(t *testing.T) { checkGradients(t, l, 3, 4) })
	}
}

func TestGradientsSequentialFused(t *testing.T) {
	// Dense+ReLU and Conv2d+ReLU pairs run fused inside a Sequential.
	checkGradients(t, seq(
		mustLayer(NewDense[float64](6, 8)), NewReLU[float64](Vec(8)),
		mustLayer(NewDense[float64](8, 3)),
	), 4, 5)
	in := Shape{2, 5, 5}
	conv := mustLayer(NewConv2d[float64](in, 3, 3, 1, 1))
	checkGradients(t, seq(
		conv, NewReLU[float64](conv.OutShape()),
		mustLayer(NewMaxPool2d[float64](conv.OutShape(), 2, 1)),
		NewFlatten[float64](Shape{3, 4, 4}),
		mustLayer(NewDense[float64](48, 2)),
	), 2, 6)
}

func TestGradientsResidual(t *testing.T) {
	for _, eta := range []float64{1, 0.3} {
		t.Run(fmt.Sprintf("dense/eta=%g", eta), func(t *testing.T) {
			module := seq(mustLayer(NewDense[float64](5, 5)), NewReLU[float64](Vec(5)), mustLayer(NewDense[float64](5, 5)))
			checkGradients(t, mustLayer(NewResidual[float64](module, eta)), 3, 7)
		})
		t.Run(fmt.Sprintf("conv/eta=%g", eta), func(t *testing.T) {
			in := Shape{2, 4, 4}
			module := seq(
				mustLayer(NewConv2d[float64](in, 2, 3, 1, 1)), NewReLU[float64](in),
				mustLayer(NewConv2d[float64](in, 2, 3, 1, 1)), NewReLU[float64](in),
			)
			checkGradients(t, mustLayer(NewResidual[float64](module, eta)), 2, 8)
		})
	}
}

func TestGradientsSoftmaxCrossEntropy(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	const batch, classes = 4, 5
	logits := make([]float64, batch*classes)
	randFill(rng, logits, 3)
	labels := []int{0, 4, 2, 2}
	var ce SoftmaxCrossEntropy[float64]
	_, g := ce.Loss(logits, labels, classes)
	grad := append([]float64(nil), g...)
	for i := range logits {
		old := logits[i]
		logits[i] = old + fdStep
		up, _ := ce.Loss(logits, labels, classes)
		logits[i] = old - fdStep
		down, _ := ce.Loss(logits, labels, classes)
		logits[i] = old
		if numeric := (up - down) / (2 * fdStep); math.Abs(numeric-grad[i]) > fdTol {
			t.Errorf("dlogits[%d] = %.10g, finite difference %.10g", i, grad[i], numeric)
		}
	}
}

// TestGradientsAccumulate checks PyTorch's accumulation semantics: without
// ZeroGrad a second Backward adds to the gradients; after it, it replaces
// them.
func TestGradientsAccumulate(t *testing.T) {
	in := Shape{1, 4, 4}
	net := seq(mustLayer(NewConv2d[float64](in, 2, 3, 1, 1)), NewFlatten[float64](Shape{2, 4, 4}), mustLayer(NewDense[float64](32, 3)))
	rng := rand.New(rand.NewPCG(1, 1))
	for _, p := range net.Params() {
		randFill(rng, p.Data, 0.3)
	}
	x := make([]float64, 2*16)
	randFill(rng, x, 1)
	dy := []float64{1, -2, 0.5, 0.25, 1, -1}
	backward := func() [][]float64 {
		net.Forward(x, 2)
		net.Backward(append([]float64(nil), dy...), false)
		var gs [][]float64
		for _, p := range net.Params() {
			gs = append(gs, append([]float64(nil), p.Grad...))
		}
		return gs
	}
	net.ZeroGrad()
	once := backward()
	twice := backward()
	net.ZeroGrad()
	again := backward()
	for i, p := range net.Params() {
		for j := range once[i] {
			if math.Abs(twice[i][j]-2*once[i][j]) > 1e-12 || again[i][j] != once[i][j] {
				t.Fatalf("%s[%d]: once %g, twice %g, after ZeroGrad %g", p.Name, j, once[i][j], twice[i][j], again[i][j])
			}
		}
	}
}

// TestForwardByHand checks forward passes against values worked out by
// hand, since the gradient checks only prove Backward consistent with
// Forward.
func TestForwardByHand(t *testing.T) {
	img := make([]float64, 16) // one 4×4 image holding 0..15
	for i := range img {
		img[i] = float64(i)
	}
	in := Shape{1, 4, 4}
	dense := mustLayer(NewDense[float64](2, 3))
	copy(dense.W.Data, []float64{1, 2, 3, 4, 5, 6})
	copy(dense.B.Data, []float64{0.5, 0, -1})
	module := seq(mustLayer(NewDense[float64](2, 2)))
	copy(module.Params()[0].Data, []float64{1, 0, 0, -1})
	residual := mustLayer(NewResidual[float64](module, 0.5))
	for _, c := range []struct {
		name string
		l    Layer[float64]
		x    []float64
		want []float64
	}{
		{"max 2/2", mustLayer(NewMaxPool2d[float64](in, 2, 2)), img, []float64{5, 7, 13, 15}},
		{"max 3/1", mustLayer(NewMaxPool2d[float64](in, 3, 1)), img, []float64{10, 11, 14, 15}},
		{"average 2/2", mustLayer(NewAvgPool2d[float64](in, 2, 2)), img, []float64{2.5, 4.5, 10.5, 12.5}},
		{"global average", mustLayer(NewGlobalAvgPool[float64](in)), img, []float64{7.5}},
		// [1 -1]·Wᵀ + b with W = [1 2; 3 4; 5 6].
		{"dense", dense, []float64{1, -1}, []float64{-0.5, -1, -2}},
		// x + 0.5·diag(1, -1)·x.
		{"residual", residual, []float64{2, 4}, []float64{3, 2}},
		{"relu", NewReLU[float64](Vec(3)), []float64{-1, 0, 2}, []float64{0, 0, 2}},
	} {
		got := c.l.Forward(c.x, 1)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}
