package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/initscope/initscope/arch"
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

// checkGradients draws random inputs and parameters for m and compares its
// Backward with finite differences, for every input value and parameter.
func checkGradients(t *testing.T, m *Model[float64], batch int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	x := make([]float64, batch*m.Graph().Input().Size())
	randFill(rng, x, 1)
	for _, p := range m.Params() {
		randFill(rng, p.Data, 1/math.Sqrt(float64(max(p.FanIn, 1))))
	}
	r := make([]float64, batch*m.Graph().Output().Size())
	randFill(rng, r, 1)

	loss := func() float64 { return dot(r, m.Forward(x, batch)) }
	loss()
	m.ZeroGrad()
	dx := append([]float64(nil), m.Backward(append([]float64(nil), r...), true)...)

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
	for _, p := range m.Params() {
		compare(p.Name, p.Data, append([]float64(nil), p.Grad...))
	}
}

// build returns the float64 model, on 2 threads, of the graph that add
// builds after an input of shape in.
func build(in arch.Shape, add func(b *arch.Builder) (int, error)) *Model[float64] {
	b := must(arch.NewBuilder(in))
	must(add(b))
	return must(NewModel[float64](must(b.Graph()), 2))
}

func TestGradientsDense(t *testing.T) {
	checkGradients(t, model[float64]("fc:5-4"), 3, 1)
}

// convCases cover both unfolding paths (whole-plane runs when stride 1
// keeps the width, row by row otherwise) and both input-gradient paths
// (transposed convolution at stride 1, arch.Fold otherwise), for square
// windows and for every other geometry: groups (depthwise, with a channel
// multiplier, with rectangular kernels), dilations, asymmetric padding,
// per-axis strides, and 1-D convolutions as 1×L images.
var convCases = []struct {
	in  arch.Shape
	out int
	geo arch.Geometry
}{
	{arch.Image(2, 6, 5), 3, arch.Square(3, 1, 0)},
	{arch.Image(2, 6, 5), 3, arch.Square(3, 1, 1)},
	{arch.Image(2, 7, 6), 3, arch.Square(3, 2, 0)},
	{arch.Image(2, 7, 6), 3, arch.Square(3, 2, 1)},
	{arch.Image(1, 5, 5), 2, arch.Square(1, 1, 0)},
	{arch.Image(3, 4, 4), 2, arch.Square(2, 2, 1)},
	{arch.Image(2, 6, 7), 2, arch.Square(5, 1, 2)},
	{arch.Image(1, 3, 3), 2, arch.Square(5, 1, 1)}, // kernel larger than the image
	{arch.Image(4, 5, 5), 3, arch.Square(1, 2, 0)}, // a projection shortcut's 1x1 stride-2 conv
	// Depthwise 3x3, stride 2 and 1, padding 1.
	{arch.Image(4, 7, 6), 4, geometry(3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 4)},
	{arch.Image(4, 5, 6), 4, geometry(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4)},
	// Depthwise with a channel multiplier of 2.
	{arch.Image(2, 5, 5), 4, geometry(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2)},
	// Groups 2, a rectangular 3x2 kernel, asymmetric padding; stride 1,
	// then strides 2x1.
	{arch.Image(4, 6, 5), 6, geometry(3, 2, 1, 1, 1, 1, 1, 0, 1, 1, 2)},
	{arch.Image(4, 7, 5), 6, geometry(3, 2, 2, 1, 1, 1, 1, 0, 1, 1, 2)},
	// Dilation 2 with asymmetric padding: stride 1, then 2; dilations 1x3.
	{arch.Image(2, 7, 7), 3, geometry(3, 3, 1, 1, 2, 2, 2, 1, 0, 3, 1)},
	{arch.Image(2, 8, 7), 3, geometry(3, 3, 2, 2, 2, 2, 2, 1, 0, 3, 1)},
	{arch.Image(2, 6, 8), 2, geometry(2, 3, 1, 2, 1, 3, 0, 2, 1, 0, 1)},
	// 1-D convolutions: 1×L images, 1×k kernels (stride 2, padding 1 and
	// 2; stride 1, dilation 2, padding 4 on the left, groups 3).
	{arch.Image(3, 1, 10), 2, geometry(1, 3, 1, 2, 1, 1, 0, 1, 0, 2, 1)},
	{arch.Image(3, 1, 9), 6, geometry(1, 5, 1, 1, 1, 2, 0, 4, 0, 0, 3)},
}

// geometry returns the arch.Geometry of the given kernel, strides,
// dilations, paddings (top, left, bottom, right) and groups.
func geometry(kh, kw, sh, sw, dh, dw, top, left, bottom, right, groups int) arch.Geometry {
	return arch.Geometry{KH: kh, KW: kw, SH: sh, SW: sw, DH: dh, DW: dw,
		Top: top, Left: left, Bottom: bottom, Right: right, Groups: groups}
}

// convModels returns a model of each case's convolution twice: as
// constructed, and cut into one-sample chunks, so that several goroutines
// share the batch.
func convModels() (models []*Model[float64], names []string) {
	for _, c := range convCases {
		for _, chunk := range []int{0, 1} {
			m := build(c.in, func(b *arch.Builder) (int, error) { return b.Conv("conv", 0, c.out, c.geo) })
			conv := m.steps[0].op.(*conv[float64])
			if chunk > 0 {
				conv.chunk = chunk
			}
			path := "fold"
			if conv.back != nil {
				path = "flipped"
			}
			models = append(models, m)
			names = append(names, fmt.Sprintf("%v/%d/%s/%s/chunk%d", c.in, c.out, c.geo, path, conv.chunk))
		}
	}
	return models, names
}

func TestGradientsConv(t *testing.T) {
	models, names := convModels()
	for i, m := range models {
		t.Run(names[i], func(t *testing.T) { checkGradients(t, m, 3, 2) })
	}
}

// directConv is the textbook convolution, the reference for the conv op's
// forward pass (the gradient checks only prove backward consistent with
// forward).
// Output channel co of group g = co/(Cout/groups) reads the input
// channels g·Cin/groups to (g+1)·Cin/groups; the input under tap (ki, kj)
// at output (oh, ow) is at row oh·SH - Top + ki·DH, column
// ow·SW - Left + kj·DW, zero outside the image.
func directConv(c *conv[float64], x []float64, batch int) []float64 {
	w := c.win
	in, out := w.In, w.Out
	cinG, coutG := in.C/w.Groups, out.C/w.Groups
	y := make([]float64, batch*out.Size())
	for b := range batch {
		for co := range out.C {
			for oh := range out.H {
				for ow := range out.W {
					sum := c.b.Data[co]
					for cl := range cinG {
						ci := co/coutG*cinG + cl
						for ki := range w.KH {
							for kj := range w.KW {
								ih, iw := oh*w.SH-w.Top+ki*w.DH, ow*w.SW-w.Left+kj*w.DW
								if ih < 0 || ih >= in.H || iw < 0 || iw >= in.W {
									continue
								}
								sum += c.w.Data[((co*cinG+cl)*w.KH+ki)*w.KW+kj] * x[((b*in.C+ci)*in.H+ih)*in.W+iw]
							}
						}
					}
					y[((b*out.C+co)*out.H+oh)*out.W+ow] = sum
				}
			}
		}
	}
	return y
}

func TestConvForwardMatchesDirect(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	models, names := convModels()
	for i, m := range models {
		const batch = 3
		conv := m.steps[0].op.(*conv[float64])
		x := make([]float64, batch*conv.win.In.Size())
		randFill(rng, x, 1)
		randFill(rng, conv.w.Data, 1)
		randFill(rng, conv.b.Data, 1)
		got, want := m.Forward(x, batch), directConv(conv, x, batch)
		for j := range want {
			if math.Abs(got[j]-want[j]) > 1e-12 {
				t.Fatalf("%s: y[%d] = %v, direct convolution %v", names[i], j, got[j], want[j])
			}
		}
	}
}

func TestGradientsReLU(t *testing.T) {
	checkGradients(t, build(arch.Image(2, 3, 3), func(b *arch.Builder) (int, error) { return b.ReLU("relu", 0) }), 2, 3)
}

func TestGradientsPooling(t *testing.T) {
	for _, spec := range []string{
		"net:2x6x5,maxpool2", "net:2x6x5,maxpool3s1", "net:2x6x5,avgpool2", "net:2x6x5,avgpool3s2",
		"net:2x6x5,gap", "net:2x6x5,flatten",
	} {
		t.Run(spec, func(t *testing.T) { checkGradients(t, model[float64](spec), 3, 4) })
	}
}

// TestGradientsGraphs checks whole graphs: dense and conv nodes fused with
// their ReLUs, residual blocks of every kind (identity and projection
// shortcuts, ReLU after the join or not, linear or rectified module ends,
// any eta), and a ResNet v1 stage.
func TestGradientsGraphs(t *testing.T) {
	for _, spec := range []string{
		"net:6,dense8,dense3",
		"net:2x5x5,conv3k3,maxpool2s1,flatten,dense2",
		"net:5,resdense5:end=linear",
		"net:5,resdense5:eta=0.3",
		"net:5,resdense7:shortcut=proj:post=relu,resdense7x2:eta=0.5:end=linear:post=relu",
		"net:2x4x4,resconv2k3:eta=0.3",
		"net:2x4x4,resconv2k3:end=linear:post=relu",
		"net:2x6x6,resconv3k3s2:shortcut=proj:post=relu,resconv3k3:eta=0.5:post=relu",
		"net:3x8x8,conv4k3,resconv8k3s2:shortcut=proj:post=relu,resconv8k3x2:post=relu,gap,dense3",
	} {
		t.Run(spec, func(t *testing.T) { checkGradients(t, model[float64](spec), 2, 5) })
	}
}

// TestGradientsSharedGradient checks joins with no scale node, where an
// add hands one gradient buffer to both of its inputs: a branch that ends
// in a conv fused with its ReLU, which masks its gradient in place, must
// not mask the skip path's; and a node whose gradient is such a shared
// buffer must not add to it while another node still reads it (stem, read
// by both joins and two convolutions).
func TestGradientsSharedGradient(t *testing.T) {
	m := build(arch.Image(2, 5, 5), func(b *arch.Builder) (int, error) {
		stem := must(b.Conv("stem", 0, 2, arch.Square(3, 1, 1)))
		branch := must(b.ReLU("branch.relu", must(b.Conv("branch", stem, 2, arch.Square(3, 1, 1)))))
		side := must(b.Conv("side", stem, 2, arch.Square(1, 1, 0)))
		join := must(b.Add("join", stem, branch))
		flat := must(b.Flatten("flatten", must(b.Add("join2", join, side))))
		return b.Dense("head", flat, 3)
	})
	checkGradients(t, m, 2, 6)
}

// TestGradientsScale checks scale nodes that no add absorbs: one read by
// a dense node, and the first of an add's two scaled inputs (the add
// absorbs the second).
func TestGradientsScale(t *testing.T) {
	m := build(arch.Flat(4), func(b *arch.Builder) (int, error) {
		d := must(b.Dense("d", must(b.Scale("s", 0, 0.7, 0, 0)), 4))
		sum := must(b.Add("add", must(b.Scale("s1", 0, 0.5, 0, 0)), must(b.Scale("s2", d, 0.3, 0, 0))))
		return b.Dense("head", sum, 2)
	})
	if len(m.steps) != 5 {
		t.Errorf("%d steps, want 5: s, d, s1, s2+add, head", len(m.steps))
	}
	checkGradients(t, m, 3, 7)
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
	m := model[float64]("net:1x4x4,conv2k3:linear,flatten,dense3")
	rng := rand.New(rand.NewPCG(1, 1))
	for _, p := range m.Params() {
		randFill(rng, p.Data, 0.3)
	}
	x := make([]float64, 2*16)
	randFill(rng, x, 1)
	dy := []float64{1, -2, 0.5, 0.25, 1, -1}
	backward := func() [][]float64 {
		m.Forward(x, 2)
		m.Backward(append([]float64(nil), dy...), false)
		var gs [][]float64
		for _, p := range m.Params() {
			gs = append(gs, append([]float64(nil), p.Grad...))
		}
		return gs
	}
	m.ZeroGrad()
	once := backward()
	twice := backward()
	m.ZeroGrad()
	again := backward()
	for i, p := range m.Params() {
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
	dense := model[float64]("fc:2-3")
	copy(param(dense, "1.weight").Data, []float64{1, 2, 3, 4, 5, 6})
	copy(param(dense, "1.bias").Data, []float64{0.5, 0, -1})
	// x + 0.5·W2·relu(W1·x) with W1 = I, W2 = diag(1, -1).
	residual := model[float64]("net:2,resdense2:eta=0.5:end=linear")
	copy(param(residual, "1.branch.1.weight").Data, []float64{1, 0, 0, 1})
	copy(param(residual, "1.branch.2.weight").Data, []float64{1, 0, 0, -1})
	// relu(S·x + 0.5·W2·relu(W1·x)) with S = [0 -1; 1 0], W1 = W2 = I.
	v1 := model[float64]("net:2,resdense2:eta=0.5:end=linear:shortcut=proj:post=relu")
	copy(param(v1, "1.branch.1.weight").Data, []float64{1, 0, 0, 1})
	copy(param(v1, "1.branch.2.weight").Data, []float64{1, 0, 0, 1})
	copy(param(v1, "1.shortcut.weight").Data, []float64{0, -1, 1, 0})
	for _, c := range []struct {
		name string
		m    *Model[float64]
		x    []float64
		want []float64
	}{
		{"max 2/2", model[float64]("net:1x4x4,maxpool2"), img, []float64{5, 7, 13, 15}},
		{"max 3/1", model[float64]("net:1x4x4,maxpool3s1"), img, []float64{10, 11, 14, 15}},
		{"average 2/2", model[float64]("net:1x4x4,avgpool2"), img, []float64{2.5, 4.5, 10.5, 12.5}},
		{"global average", model[float64]("net:1x4x4,gap"), img, []float64{7.5}},
		// [1 -1]·Wᵀ + b with W = [1 2; 3 4; 5 6].
		{"dense", dense, []float64{1, -1}, []float64{-0.5, -1, -2}},
		{"residual", residual, []float64{2, 4}, []float64{3, 2}},
		// relu([-4 2] + 0.5·[2 4]) = relu([-3 4]).
		{"resnet v1", v1, []float64{2, 4}, []float64{0, 4}},
		{"relu", build(arch.Flat(3), func(b *arch.Builder) (int, error) { return b.ReLU("relu", 0) }), []float64{-1, 0, 2}, []float64{0, 0, 2}},
	} {
		got := c.m.Forward(c.x, 1)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}
