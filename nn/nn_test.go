package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/tensor"
)

func TestMain(m *testing.M) {
	if err := tensor.Init(); err != nil {
		panic(err)
	}
	m.Run()
}

// must returns v, panicking on err: for graphs and models the test
// itself gets right.
func must[V any](v V, err error) V {
	if err != nil {
		panic(err)
	}
	return v
}

// model returns the model of a net in arch's grammar, on 2 threads.
func model[T tensor.Float](spec string) *Model[T] {
	return must(NewModel[T](must(arch.Parse(spec)), 2))
}

// param returns the model's parameter of the given name.
func param[T tensor.Float](m *Model[T], name string) *Param[T] {
	for _, p := range m.Params() {
		if p.Name == name {
			return p
		}
	}
	panic("no parameter " + name)
}

// TestParamsDescribeTheNetwork checks the parameters' order (node order,
// weight before bias), names, owning nodes, shapes and fans, for a ResNet
// v1 stage with a projection shortcut.
func TestParamsDescribeTheNetwork(t *testing.T) {
	m := model[float32]("net:3x8x8,conv4k3,resconv4k3:eta=0.5:end=linear,resconv8k3s2:shortcut=proj:post=relu,gap,dense10")
	type meta struct {
		name          string
		role          Role
		shape         []int
		fanIn, fanOut int
	}
	want := []meta{
		{"1.weight", Weight, []int{4, 3, 3, 3}, 27, 36},
		{"1.bias", Bias, []int{4}, 27, 36},
		{"2.branch.1.weight", Weight, []int{4, 4, 3, 3}, 36, 36},
		{"2.branch.1.bias", Bias, []int{4}, 36, 36},
		{"2.branch.2.weight", Weight, []int{4, 4, 3, 3}, 36, 36},
		{"2.branch.2.bias", Bias, []int{4}, 36, 36},
		{"3.branch.1.weight", Weight, []int{8, 4, 3, 3}, 36, 72},
		{"3.branch.1.bias", Bias, []int{8}, 36, 72},
		{"3.branch.2.weight", Weight, []int{8, 8, 3, 3}, 72, 72},
		{"3.branch.2.bias", Bias, []int{8}, 72, 72},
		{"3.shortcut.weight", Weight, []int{8, 4, 1, 1}, 4, 8},
		{"3.shortcut.bias", Bias, []int{8}, 4, 8},
		{"5.weight", Weight, []int{10, 8}, 8, 10},
		{"5.bias", Bias, []int{10}, 8, 10},
	}
	params := m.Params()
	if len(params) != len(want) {
		t.Fatalf("%d parameters, want %d", len(params), len(want))
	}
	g := m.Graph()
	total := 0
	for i, p := range params {
		got := meta{p.Name, p.Role, p.Shape, p.FanIn, p.FanOut}
		w := want[i]
		size := 1
		for _, d := range w.shape {
			size *= d
		}
		if got.name != w.name || got.role != w.role || !slices.Equal(got.shape, w.shape) ||
			got.fanIn != w.fanIn || got.fanOut != w.fanOut || len(p.Data) != size || len(p.Grad) != size {
			t.Errorf("param %d = %+v (%d values), want %+v", i, got, len(p.Data), w)
		}
		if n := g.Nodes[p.Node]; !strings.HasPrefix(p.Name, n.Name+".") || !n.HasWeights() {
			t.Errorf("%s: owned by node %d, %s", p.Name, p.Node, &n)
		}
		total += len(p.Data)
	}
	if total != g.Params() {
		t.Errorf("%d parameter values, the graph counts %d", total, g.Params())
	}
	if m.Threads() != 2 {
		t.Errorf("Threads() = %d, want 2", m.Threads())
	}
}

// TestFusion checks which ReLU nodes run fused with the weighted node
// before them: those that are its only reader.
func TestFusion(t *testing.T) {
	for spec, steps := range map[string]int{
		// dense+relu, dense+relu, dense.
		"fc:4-3x2-2": 3,
		// conv+relu, then a block: conv+relu, conv, shortcut conv,
		// scale+add, relu; then gap, dense.
		"net:1x6x6,conv2k3,resconv4k3:shortcut=proj:post=relu:end=linear,gap,dense2": 8,
	} {
		if got := len(model[float32](spec).steps); got != steps {
			t.Errorf("%s: %d steps, want %d", spec, got, steps)
		}
	}
}

// TestModelErrors checks that graphs the executor cannot run, built by
// arch or by hand, give errors that name the node, never a panic.
func TestModelErrors(t *testing.T) {
	b := must(arch.NewBuilder(arch.Flat(4)))
	d := must(b.Dense("fc", 0, 3))
	must(b.Norm("fc.norm", d, "layernorm", 1e-5))
	norm := must(b.Graph())

	// Taps at rows -1 and 2 of a 1-row image: a window of padding only.
	pb := must(arch.NewBuilder(arch.Image(1, 1, 2)))
	must(pb.Pool("pool", arch.OpMaxPool, 0, arch.Geometry{KH: 2, KW: 2, SH: 1, SW: 1, DH: 3, DW: 1, Top: 1, Bottom: 2, Groups: 1}))
	padOnly := must(pb.Graph())
	valid := must(arch.Parse("net:1x6x6,conv2k3,maxpool2,flatten,dense3"))
	edit := func(f func(g *arch.Graph)) *arch.Graph {
		g := *valid
		g.Nodes = slices.Clone(valid.Nodes)
		for i := range g.Nodes {
			g.Nodes[i].Inputs = slices.Clone(g.Nodes[i].Inputs)
		}
		f(&g)
		return &g
	}
	for _, c := range []struct {
		name string
		g    *arch.Graph
		want string
	}{
		{"nil", nil, "no node after the input"},
		{"input only", &arch.Graph{Nodes: valid.Nodes[:1]}, "no node after the input"},
		{"norm", norm, `node "fc.norm" (norm): layernorm normalization is not supported`},
		{"no input", edit(func(g *arch.Graph) { g.Nodes[0].Op = arch.OpReLU }), "node 0 must be the input"},
		{"later input", edit(func(g *arch.Graph) { g.Nodes[1].Inputs[0] = 3 }), `node "1" (conv): input 3 is not an earlier node`},
		{"two inputs", edit(func(g *arch.Graph) { g.Nodes[3].Inputs = []int{1, 2} }), `node "2" (maxpool): 2 inputs, want 1`},
		{"wrong width", edit(func(g *arch.Graph) { g.Nodes[5].In = arch.Flat(4) }), `node "4" (dense): input 4 has shape 18, the node expects 4`},
		{"window", edit(func(g *arch.Graph) { g.Nodes[1].Window.Rows = nil }), `node "1" (conv): its window is not the geometry`},
		{"pool window", edit(func(g *arch.Graph) { g.Nodes[3].Window.Top = 1 }), `node "2" (maxpool): its window is not the geometry`},
		{"pool groups", edit(func(g *arch.Graph) { g.Nodes[3].Window.Groups = 2 }), `node "2" (maxpool): window 2x2 s2 p0 g2: pooling has one group`},
		{"pool padding only", padOnly, `node "pool" (maxpool): window 2x2 s1 p1,0,2,0 d3x1 over 1x1x2: the windows of output row 0 lie in the padding only`},
		{"op", edit(func(g *arch.Graph) { g.Nodes[4].Op = "softmax" }), `node "3" (softmax): operation "softmax" is not supported`},
		{"unread", edit(func(g *arch.Graph) { g.Nodes[2].Inputs[0] = 0; g.Nodes[2].In = g.Nodes[0].Out }), `node "1" (conv): its output is never used`},
	} {
		_, err := NewModel[float32](c.g, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
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

func TestPanicsOnWrongSize(t *testing.T) {
	m := model[float32]("fc:3-2")
	for _, c := range []struct {
		call func()
		want string
	}{
		{func() { m.Backward(make([]float32, 4), false) }, "Backward of 4 values after a Forward of 0 samples"},
		{func() { m.Forward(make([]float32, 7), 2) }, "Forward of 7 values as 2 samples of shape 3"},
		{func() { m.Forward(make([]float32, 6), 2); m.Backward(make([]float32, 6), false) }, "Backward of 6 values after a Forward of 2 samples of shape 2"},
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), c.want) {
					t.Errorf("panic %v, want one containing %q", r, c.want)
				}
			}()
			c.call()
		}()
	}
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
func train(m *Model[float32], opt Optimizer, x []float32, labels []int, steps int) float64 {
	var ce SoftmaxCrossEntropy[float32]
	var loss float64
	for range steps {
		m.ZeroGrad()
		var g []float32
		loss, g = ce.Loss(m.Forward(x, len(labels)), labels, m.Graph().Output().Size())
		m.Backward(g, false)
		opt.Step()
	}
	return loss
}

func TestTrainXOR(t *testing.T) {
	m := model[float32]("fc:2-16-16-2")
	heInit(m.Params(), 1)
	x := []float32{0, 0, 0, 1, 1, 0, 1, 1}
	labels := []int{0, 1, 1, 0}
	if loss := train(m, NewAdam(m.Params(), 0.05), x, labels, 300); loss > 0.01 {
		t.Errorf("XOR: loss %v after 300 Adam steps, want < 0.01", loss)
	}
}

// TestTrainConvToy trains a small ResNet v1 to tell whether the bright
// pixel of an image is in its left or right half.
func TestTrainConvToy(t *testing.T) {
	const n = 32
	x := make([]float32, n*36)
	labels := make([]int, n)
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range labels {
		row, col := rng.IntN(6), rng.IntN(6)
		x[i*36+row*6+col] = 1
		labels[i] = col / 3
	}
	m := model[float32]("net:1x6x6,conv4k3,resconv4k3:eta=0.5:end=linear,resconv8k3s2:shortcut=proj:post=relu,flatten,dense2")
	heInit(m.Params(), 2)
	if loss := train(m, NewSGD(m.Params(), 0.1, 0.9, 0), x, labels, 200); loss > 0.05 {
		t.Errorf("conv toy: loss %v after 200 SGD steps, want < 0.05", loss)
	}
}

// TestNodeOutput checks that NodeOutput gives each unfused node's values
// of the last Forward: the input for node 0, a ReLU's output equal to the
// rectified dense output computed by hand, nil for a dense node fused with
// its ReLU.
func TestNodeOutput(t *testing.T) {
	m := model[float64]("fc:2-3-1")
	g := m.Graph()
	w := param(m, g.Nodes[1].Name+".weight")
	b := param(m, g.Nodes[1].Name+".bias")
	copy(w.Data, []float64{1, -1, 2, 0.5, -3, 1})
	copy(b.Data, []float64{0.25, 0, -1})
	x := []float64{1, 2}
	m.Forward(x, 1)
	if got := m.NodeOutput(0); !slices.Equal(got, x) {
		t.Errorf("node 0: %v, want the input %v", got, x)
	}
	if got := m.NodeOutput(1); got != nil {
		t.Errorf("dense node fused with its ReLU: %v, want nil", got)
	}
	// w is [out, in]: z = (1-2+0.25, 2+1+0, -3+2-1) = (-0.75, 3, -2).
	want := []float64{0, 3, 0}
	if got := m.NodeOutput(2); !slices.Equal(got, want) {
		t.Errorf("ReLU node: %v, want %v", got, want)
	}
}
