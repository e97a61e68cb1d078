package probe

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/weightinit"
)

// mixedNet has every layer kind but gap (gapNet has it): strided and padded
// conv, overlapping max pooling, average pooling, conv and dense residual
// blocks of both endings, flatten and dense layers.
const mixedNet = "net:2x10x10,conv4k3s2p1,maxpool2s1,resconv4k3:end=linear,avgpool2,conv6k3,resconv6k1:eta=0.5,flatten,dense12,resdense12:eta=0.7,dense5"

// gapNet has a conv without padding and a same-padded one, then global
// average pooling.
const gapNet = "net:3x8x8,conv5k3p0,conv4k3,gap,dense4"

// resNet has ResNet v1 blocks: a strided conv block with a projection
// shortcut and a ReLU after the join, identity blocks with one, and a dense
// block with a projection, ending linear.
const resNet = "net:3x9x9,conv8k3,resconv12k3s2:shortcut=proj:post=relu,resconv12k3x2:post=relu:eta=0.5,gap,resdense10:shortcut=proj:end=linear,dense4"

func mustNet(t testing.TB, spec string) *arch.Graph {
	t.Helper()
	n, err := arch.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mustInit(t testing.TB, s string) weightinit.Init {
	t.Helper()
	in, err := weightinit.ParseInit(s)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// dagNet builds a graph that is no spec: a scale read beside its own input
// by an add and by a dense node, a ReLU that follows no weighted node, a
// ReLU whose input is still to be read by an add, a branch scaled by
// eta = 0 and a flatten at the end, so that slots are shared, written in
// place, copied and kept alive in every way.
func dagNet(t testing.TB) *arch.Graph {
	t.Helper()
	b, err := arch.NewBuilder(arch.Flat(6))
	if err != nil {
		t.Fatal(err)
	}
	var e error
	must := func(id int, err error) int {
		e = errors.Join(e, err)
		return id
	}
	d1 := must(b.Dense("d1", 0, 8))
	r1 := must(b.ReLU("r1", d1))
	s1 := must(b.Scale("s1", r1, 0.5, 0, 0))
	a1 := must(b.Add("a1", r1, s1))
	r2 := must(b.ReLU("r2", a1))
	d2 := must(b.Dense("d2", s1, 8))
	r3 := must(b.ReLU("r3", d2))
	a2 := must(b.Add("a2", r2, d2))
	a4 := must(b.Add("a4", a2, r3))
	s2 := must(b.Scale("s2", a4, 0, 0, 0))
	a3 := must(b.Add("a3", s2, a4))
	f := must(b.Flatten("f", a3))
	must(b.Dense("d3", f, 3))
	g, err := b.Graph()
	if err = errors.Join(e, err); err != nil {
		t.Fatal(err)
	}
	return g
}

// testInput is a fixed input with positive and negative entries.
func testInput(n int) []float64 {
	r := rand.New(rand.NewPCG(99, 99))
	x := make([]float64, n)
	for i := range x {
		x[i] = r.NormFloat64() + 0.3
	}
	return x
}

// refForward computes the output of every node of g in float64 with naive
// loops, drawing the tangent and then the weights and biases from the
// stream (seed, index) in the order the network sampler documents, through
// weightinit's own samplers. It returns the nodes' outputs and the drawn
// tangent.
func refForward(g *arch.Graph, init weightinit.Init, x []float64, seed, index uint64) (vals [][]float64, u []float64) {
	r := weightinit.NewStream(seed, index)
	u = make([]float64, len(x))
	for i := range u {
		u[i] = r.Normal()
	}
	vals = [][]float64{x}
	for i := 1; i < len(g.Nodes); i++ {
		n := &g.Nodes[i]
		vals = append(vals, refNode(n, init, vals[n.Inputs[0]], vals[n.Inputs[len(n.Inputs)-1]], r))
	}
	return vals, u
}

// refDraw draws n values of a law from r, as float32 values in float64.
func refDraw(law weightinit.Law, fanIn, fanOut, n int, r *weightinit.Stream) []float64 {
	f := make([]float32, n)
	law.Sampler(fanIn, fanOut).Fill(r, f)
	out := make([]float64, n)
	for i, v := range f {
		out[i] = float64(v)
	}
	return out
}

// refNode computes node n from its input x (and y, an add's second input).
func refNode(n *arch.Node, init weightinit.Init, x, y []float64, r *weightinit.Stream) []float64 {
	in, o, win := n.In, n.Out, n.Window
	out := make([]float64, o.Size())
	switch n.Op {
	case arch.OpDense, arch.OpConv:
		w := refDraw(init.Weight, n.FanIn(), n.FanOut(), n.Width()*n.FanIn(), r)
		b := make([]float64, n.Width())
		if !init.Bias.IsZero() {
			b = refDraw(init.Bias, n.FanIn(), n.FanOut(), n.Width(), r)
		}
		if n.Op == arch.OpDense {
			for i := range out {
				out[i] = b[i]
				for j, v := range x {
					out[i] += w[i*len(x)+j] * v
				}
			}
			break
		}
		k := win.KH
		for co := range o.C {
			for oh := range o.H {
				for ow := range o.W {
					s := b[co]
					for ci := range in.C {
						for ki := range k {
							for kj := range k {
								ih, iw := win.InputRow(oh, ki), win.InputCol(ow, kj)
								if ih >= 0 && ih < in.H && iw >= 0 && iw < in.W {
									s += w[((co*in.C+ci)*k+ki)*k+kj] * x[(ci*in.H+ih)*in.W+iw]
								}
							}
						}
					}
					out[(co*o.H+oh)*o.W+ow] = s
				}
			}
		}
	case arch.OpReLU:
		for i, v := range x {
			out[i] = math.Max(v, 0)
		}
	case arch.OpScale:
		for i, v := range x {
			out[i] = n.Eta * v
		}
	case arch.OpAdd:
		for i, v := range x {
			out[i] = v + y[i]
		}
	case arch.OpMaxPool, arch.OpAvgPool:
		k := win.KH
		for c := range o.C {
			for oh := range o.H {
				for ow := range o.W {
					best, sum := math.Inf(-1), 0.0
					for ki := range k {
						for kj := range k {
							v := x[(c*in.H+oh*win.SH+ki)*in.W+ow*win.SW+kj]
							best = math.Max(best, v)
							sum += v
						}
					}
					if n.Op == arch.OpMaxPool {
						out[(c*o.H+oh)*o.W+ow] = best
					} else {
						out[(c*o.H+oh)*o.W+ow] = sum / float64(k*k)
					}
				}
			}
		}
	case arch.OpGAP:
		p := in.H * in.W
		for c := range in.C {
			for _, v := range x[c*p : (c+1)*p] {
				out[c] += v / float64(p)
			}
		}
	case arch.OpFlatten:
		copy(out, x)
	}
	return out
}

// traced is one sample of the network sampler with every node's output.
type traced struct {
	x, ju [][]float64 // each node's x and J u, true values in float64
	row   []float64
}

// runOnce runs the network sampler for one sample, recording every node.
func runOnce(t testing.TB, g *arch.Graph, init weightinit.Init, x []float64, seed, index uint64) traced {
	t.Helper()
	layers := g.Layers()
	plan, err := newNetPlan(g, layers, init, x)
	if err != nil {
		t.Fatal(err)
	}
	w := newNetWorker(plan)
	tr := traced{x: make([][]float64, len(g.Nodes)), ju: make([][]float64, len(g.Nodes)), row: make([]float64, len(layers)+1)}
	w.trace = func(id int, v []float32, s scales) {
		n := len(v) / 2
		for i := range n {
			tr.x[id] = append(tr.x[id], math.Exp(s.x)*float64(v[i]))
			tr.ju[id] = append(tr.ju[id], math.Exp(s.u)*float64(v[n+i]))
		}
	}
	w.sample(seed, index, tr.row)
	return tr
}

// relDiff is ||a - b|| / ||b||, or ||a|| when b is zero.
func relDiff(a, b []float64) float64 {
	var d, n float64
	for i := range a {
		d += (a[i] - b[i]) * (a[i] - b[i])
		n += b[i] * b[i]
	}
	if n == 0 {
		return math.Sqrt(d)
	}
	return math.Sqrt(d / n)
}

// TestNetworkMatchesReference runs the network sampler against a naive
// float64 forward pass with the same weights, node by node: every node's x
// must agree, its J u must agree with central differences of the reference
// along the same unit u, and the row must hold ln(M_j/M_0) at each layer's
// last node and ln ||J u||^2 at the output.
func TestNetworkMatchesReference(t *testing.T) {
	nets := map[string]*arch.Graph{"dag": dagNet(t)}
	for _, spec := range []string{mixedNet, gapNet, resNet, "fc:20-9x3-4"} {
		nets[spec] = mustNet(t, spec)
	}
	for name, g := range nets {
		for _, initName := range []string{"he-normal", "pytorch-default", "he-rademacher", "he-truncated"} {
			init := mustInit(t, initName)
			x := testInput(g.Input().Size())
			got := runOnce(t, g, init, x, 11, 12)
			want, u := refForward(g, init, x, 11, 12)
			// J u by central differences along the unit u, in float64.
			h := 1e-7 * math.Sqrt(meanSquare(x)*float64(len(x)))
			norm := math.Sqrt(meanSquare(u) * float64(len(u)))
			xp, xm := make([]float64, len(x)), make([]float64, len(x))
			for i := range x {
				xp[i], xm[i] = x[i]+h*u[i]/norm, x[i]-h*u[i]/norm
			}
			fp, _ := refForward(g, init, xp, 11, 12)
			fm, _ := refForward(g, init, xm, 11, 12)
			for id := range g.Nodes {
				node := g.Nodes[id].String()
				if d := relDiff(got.x[id], want[id]); d > 1e-5 {
					t.Errorf("%s %s: node %s: x differs from the reference by %.3g (relative)", name, initName, node, d)
				}
				fd := make([]float64, len(fp[id]))
				for i := range fd {
					fd[i] = (fp[id][i] - fm[id][i]) / (2 * h)
				}
				if d := relDiff(got.ju[id], fd); d > 1e-4 {
					t.Errorf("%s %s: node %s: J u differs from finite differences by %.3g (relative)", name, initName, node, d)
				}
			}
			m0 := meanSquare(x)
			for j, l := range g.Layers() {
				end := l.Nodes[len(l.Nodes)-1]
				if w := math.Log(meanSquare(want[end]) / m0); math.Abs(got.row[j]-w) > 1e-5 && !(math.IsInf(w, -1) && math.IsInf(got.row[j], -1)) {
					t.Errorf("%s %s: layer %d: ln(M/M0) %v, reference %v", name, initName, j+1, got.row[j], w)
				}
			}
			last := got.ju[len(g.Nodes)-1]
			if w := math.Log(meanSquare(last) * float64(len(last))); math.Abs(got.row[len(got.row)-1]-w) > 1e-6 {
				t.Errorf("%s %s: row's ln ||J u||^2 %v, from the output %v", name, initName, got.row[len(got.row)-1], w)
			}
		}
	}
}

// TestSlotsReused checks that the plan keeps few buffers alive: two for a
// chain, three for a chain of identity residual blocks.
func TestSlotsReused(t *testing.T) {
	for spec, want := range map[string]int{"fc:20-9x30-4": 2, "net:16,resdense16x10,dense3": 3, resNet: 4} {
		g := mustNet(t, spec)
		plan, err := newNetPlan(g, g.Layers(), mustInit(t, "he-normal"), testInput(g.Input().Size()))
		if err != nil {
			t.Fatal(err)
		}
		if got := len(plan.slotFloats); got > want {
			t.Errorf("%s: %d slots, want at most %d", spec, got, want)
		}
	}
}

// TestUnsupportedNode checks that a normalization placeholder is refused
// with an error naming the node, not run.
func TestUnsupportedNode(t *testing.T) {
	b, err := arch.NewBuilder(arch.Flat(4))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := b.Dense("1", 0, 4)
	nm, _ := b.Norm("2", d, "layernorm", 1e-5)
	b.Dense("3", nm, 2)
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), Options{Net: g, Init: mustInit(t, "he-normal"), Input: testInput(4), Samples: 4})
	var oe *OptionError
	want := `node "2" (norm layernorm): normalization is not supported by the Monte Carlo yet`
	if !errors.As(err, &oe) || oe.Option != "net" || !strings.Contains(oe.Msg, want) {
		t.Errorf("got %v, want an error about the net saying %s", err, want)
	}
}

// TestExtremeLengthsStayFinite pushes nets whose lengths leave the float32
// range (and float64's, for c = 40) through the network sampler: log M_d
// must be finite and near its exact mean, 400 (ln(c/2) - 0.040109) at
// width 64 (THEORY.md 3.1), within 5 of its standard deviations
// sqrt(400 * 0.082997). A deep residual net with eta = 1, whose length grows
// by a factor of at least 2 a block (THEORY.md 5), must stay finite past
// float64's range too.
func TestExtremeLengthsStayFinite(t *testing.T) {
	finite := func(name string, row []float64) {
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("%s: column %d: %v", name, j+1, v)
			}
		}
	}
	for _, c := range []float64{40, 0.05} {
		net := mustNet(t, "fc:64-64x400-64")
		init := weightinit.Init{Weight: weightinit.Law{Family: weightinit.Normal, Rule: weightinit.Rule{C: c, Fan: weightinit.FanIn}}, Bias: weightinit.Law{Family: weightinit.Zero}}
		row := runOnce(t, net, init, testInput(64), 1, 2).row
		finite("fc", row)
		want := 400 * (math.Log(c/2) - 0.040109)
		if got, tol := row[399], 5*math.Sqrt(400*0.082997); math.Abs(got-want) > tol {
			t.Errorf("c=%g: log(M_400/M0) = %v, want %v +- %v", c, got, want, tol)
		}
	}
	row := runOnce(t, mustNet(t, "net:16,resdense16x1100"), mustInit(t, "he-normal"), testInput(16), 1, 2).row
	finite("residual", row)
	if got := row[1099]; got < 1100*math.Ln2 {
		t.Errorf("residual: log(M_1100/M0) = %v, want at least 1100 ln 2 = %v", got, 1100*math.Ln2)
	}
}

// TestExtremeLawScales draws nets whose weight or bias laws have standard
// deviations outside float32's range (1e-45 and 1e45) with the network
// sampler: no layer may be dead, and every layer's measured log10 E[M]/M0
// must match the theory's within 5 standard errors (those of the mean of
// a log-normal M with the measured Var[ln M]).
func TestExtremeLawScales(t *testing.T) {
	law := func(s string) weightinit.Law {
		l, err := weightinit.ParseLaw(s)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	const samples = 400
	net := mustNet(t, "fc:24-16x3-8")
	x := testInput(24)
	for _, c := range []struct{ weight, bias string }{
		{"normal:1e-90", "zero"}, {"normal:1e90", "zero"}, {"uniform:1e-90", "zero"},
		{"normal:2/fan_in", "normal:1e90"}, {"normal:2/fan_in", "normal:1e-90"}, {"normal:2/fan_in", "uniform:1e-300"},
		{"normal:1e-90", "normal:1e-90"}, {"normal:1e90", "normal:1e-90"}, {"normal:1e-90", "normal:1e90"},
	} {
		init := weightinit.Init{Name: c.weight + " " + c.bias, Weight: law(c.weight), Bias: law(c.bias)}
		rep := report(t, net, init, x, samples, Network, 2)
		for _, l := range rep.Layers {
			got, want := float64(l.Log10MeanRatio), float64(l.Theory.Log10MeanRatio)
			tol := 5 * math.Sqrt(math.Expm1(float64(l.LogVar))/samples) / math.Ln10
			if l.DeadFraction != 0 || !l.Theory.Log10MeanRatio.Known() || !(math.Abs(got-want) <= max(tol, 1e-9*math.Abs(want))) {
				t.Errorf("%s: layer %d: dead %v, log10 E[M]/M0 %v, theory %v +- %.3g", init.Name, l.Index, l.DeadFraction, got, want, tol)
			}
		}
	}
}
