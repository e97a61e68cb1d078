package theory

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/weightinit"
)

// mustParse parses a spec, failing the test on an error.
func mustParse(t *testing.T, spec string) *arch.Graph {
	t.Helper()
	g, err := arch.Parse(spec)
	if err != nil {
		t.Fatalf("%s: %v", spec, err)
	}
	return g
}

// mustInit parses an init, failing the test on an error.
func mustInit(t *testing.T, s string) weightinit.Init {
	t.Helper()
	in, err := weightinit.ParseInit(s)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return in
}

// gaussianC is the Gaussian law with c = fan_in Var(W) = c, zero biases.
func gaussianC(c float64) *weightinit.Init {
	return &weightinit.Init{Name: "c", Weight: weightinit.Law{Family: weightinit.Normal, Rule: weightinit.Rule{C: c, Fan: weightinit.FanIn}},
		Bias: weightinit.Law{Family: weightinit.Zero}}
}

// weightedIDs lists the node IDs of g's dense and conv nodes, those of
// residual modules and shortcuts included.
func weightedIDs(g *arch.Graph) []int {
	var ids []int
	for i := range g.Nodes {
		if g.Nodes[i].HasWeights() {
			ids = append(ids, i)
		}
	}
	return ids
}

func predictJSON(t *testing.T, g *arch.Graph, opt Options) string {
	t.Helper()
	p, err := Predict(g, opt)
	if err != nil {
		t.Fatal(err)
	}
	p.Init, p.WeightLaw, p.BiasLaw = "", "", ""
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestNodeInitsSameAsUniform checks that giving every weighted node the
// same law in Options.Nodes predicts what Options.Init does, whatever
// Options.Init is then: dense, conv, residual (modules and projections)
// nets, with and without biases, discrete weights included.
func TestNodeInitsSameAsUniform(t *testing.T) {
	for _, c := range []struct {
		spec, init, other string
		m0                float64
	}{
		{"fc:784-100-100-10", "he-normal", "lecun-normal", 0},
		{"fc:20-30-30-10", "pytorch-default", "he-uniform", 1.3},
		{"fc:10-10-10-10", "he-rademacher", "he-normal", 0},
		{"net:3x8x8,conv4k3s1p1,conv6k3s2p1,maxpool2s2,flatten,dense5", "he-truncated", "he-normal", 0},
		{"net:20,resdense12:eta=0.8:shortcut=proj:end=linear,resdense12x3:eta=0.5:end=relu,dense4", "he-normal", "lecun-uniform", 0},
		{"net:2x5x5,resconv4k3:eta=0.3:shortcut=proj:end=relu:post=relu,gap,dense2", "glorot-uniform", "he-normal", 0},
	} {
		g := mustParse(t, c.spec)
		in := mustInit(t, c.init)
		nodes := map[int]NodeParams{}
		for _, id := range weightedIDs(g) {
			nodes[id] = NodeParams{Init: &in}
		}
		want := predictJSON(t, g, Options{Init: in, M0: c.m0})
		got := predictJSON(t, g, Options{Init: mustInit(t, c.other), M0: c.m0, Nodes: nodes})
		if got != want {
			t.Errorf("%s under %s per node:\n%s\nwant\n%s", c.spec, c.init, got, want)
		}
		// Options.Init is not needed when every weighted node has a law.
		if _, err := Predict(g, Options{M0: c.m0, Nodes: nodes}); err != nil {
			t.Errorf("%s: every node has a law, no Options.Init: %v", c.spec, err)
		}
	}
}

// TestNodeInitsProduct checks a dense net whose layers have different c_j
// (Gaussian, zero biases) against THEORY 2 and 3.1: E[M_L]/M_0 =
// prod c_j/2 (c_L for the linear output layer), E[M_L^2]/M_0^2 = prod
// (c_j/2)^2 (1 + 5/n_j) (c_L^2 (1 + 2/n_L)), and the log moments of He's
// net shifted by sum ln(c_j/2) (ln(c_L/2)), with the same variance.
func TestNodeInitsProduct(t *testing.T) {
	g := mustParse(t, "fc:50-40-30-20")
	cs := []float64{1.5, 3, 0.7}
	widths := []float64{40, 30, 20}
	nodes := map[int]NodeParams{}
	for i, l := range g.Layers() {
		nodes[l.Node.ID] = NodeParams{Init: gaussianC(cs[i])}
	}
	p, err := Predict(g, Options{Init: mustInit(t, "lecun-normal"), Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	he := predict(t, "fc:50-40-30-20", "he-normal", Options{})
	mean, second, shift := 1.0, 1.0, 0.0
	for i, l := range p.Layers {
		gain, p2, heGain := cs[i]/2, 1+5/widths[i], 1.0
		if i == 2 {
			gain, p2, heGain = cs[i], 1+2/widths[i], 2
		}
		mean *= gain
		second *= gain * gain * p2
		shift += math.Log(gain / heGain)
		if !near(float64(l.C), cs[i], 1e-14) || !near(float64(l.Gain), gain, 1e-14) || !near(float64(l.MeanRatio), mean, 1e-14) || !l.MeanExact ||
			!near(float64(l.SecondMomentRatio), second, 1e-13) || !l.SecondMomentExact {
			t.Errorf("layer %d: c %v gain %v mean %v (exact %v) second %v (exact %v), want %v %v %v %v",
				i+1, l.C, l.Gain, l.MeanRatio, l.MeanExact, l.SecondMomentRatio, l.SecondMomentExact, cs[i], gain, mean, second)
		}
		h := he.Layers[i]
		if !near(float64(l.LogMean), float64(h.LogMean)+shift, 1e-13) || !near(float64(l.LogVar), float64(h.LogVar), 1e-14) || !l.LogExact {
			t.Errorf("layer %d: log mean %v var %v (exact %v), want %v %v", i+1, l.LogMean, l.LogVar, l.LogExact, float64(h.LogMean)+shift, h.LogVar)
		}
	}
	if !near(float64(p.FM1.Product), 0.75*1.5*0.7, 1e-14) || !p.FM1.Exact {
		t.Errorf("FM1 product %v (exact %v), want %v", p.FM1.Product, p.FM1.Exact, 0.75*1.5*0.7)
	}
}

// TestNodeInitConv checks a conv node with its own law: 1x1 kernels at
// stride 1 cover every pixel once, so the first conv ReLU layer (c = 3)
// multiplies E[M] by exactly 3/2 and the second (He) keeps it.
func TestNodeInitConv(t *testing.T) {
	g := mustParse(t, "net:3x8x8,conv4k1,conv5k1,gap,dense2")
	first := g.Layers()[0].Node.ID
	p, err := Predict(g, Options{Init: mustInit(t, "he-normal"), Nodes: map[int]NodeParams{first: {Init: gaussianC(3)}}})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{1.5, 1.5} {
		l := p.Layers[i]
		if !near(float64(l.MeanRatio), want, 1e-14) || !l.MeanExact {
			t.Errorf("layer %d: mean ratio %v (exact %v), want %v", i+1, l.MeanRatio, l.MeanExact, want)
		}
	}
	if l := p.Layers[0]; !near(float64(l.C), 3, 1e-14) || !near(float64(l.WeightVar), 1, 1e-14) {
		t.Errorf("first conv: c %v, weight variance %v, want 3 and 3/fan_in = 1", l.C, l.WeightVar)
	}
}

// TestNodeInitsResidual checks residual blocks whose module and projection
// layers have their own laws: the exact means 1 + eta^2 (c_a/2) c_b
// (identity, linear module end) and c_P + eta^2 (c_a/2) c_b (projection),
// and both blocks' E[R] and E[R^2] against sampled blocks.
func TestNodeInitsResidual(t *testing.T) {
	const samples, eta, ca, cb, cp = 15000, 0.8, 1.5, 2.5, 0.6
	r0 := rand.New(rand.NewPCG(21, 4))
	for _, c := range []struct {
		spec string
		n    int
		proj bool
		want float64
	}{
		{"net:12,resdense12:eta=0.8:end=linear", 12, false, 1 + eta*eta*ca/2*cb},
		{"net:20,resdense12:eta=0.8:shortcut=proj:end=linear", 20, true, cp + eta*eta*ca/2*cb},
	} {
		g := mustParse(t, c.spec)
		bl := g.Layers()[0]
		nodes := map[int]NodeParams{bl.Module[0].Node.ID: {Init: gaussianC(ca)}, bl.Module[1].Node.ID: {Init: gaussianC(cb)}}
		var skip []mcLayer
		if c.proj {
			nodes[bl.Shortcut[0].Node.ID] = NodeParams{Init: gaussianC(cp)}
			skip = []mcLayer{{12, cp, false}}
		}
		p, err := Predict(g, Options{Init: mustInit(t, "he-normal"), Nodes: nodes})
		if err != nil {
			t.Fatal(err)
		}
		l := p.Layers[0]
		if !near(float64(l.MeanFactor), c.want, 1e-14) || !l.MeanExact || !l.SecondMomentExact {
			t.Errorf("%s: mean factor %v (exact %v, second exact %v), want %v", c.spec, l.MeanFactor, l.MeanExact, l.SecondMomentExact, c.want)
		}
		x := make([]float64, c.n)
		for i := range x {
			x[i] = r0.NormFloat64() + 0.2
		}
		module := []mcLayer{{12, ca, true}, {12, cb, false}}
		r := rand.New(rand.NewPCG(8, uint64(c.n)))
		var m1, m2 moments
		for range samples {
			ratio := sampleBlock(r, [][]float64{x}, module, skip, eta, false)
			m1.add(ratio)
			m2.add(ratio * ratio)
		}
		within5SE(t, c.spec+" E[R]", &m1, float64(l.MeanFactor))
		within5SE(t, c.spec+" E[R^2]", &m2, float64(l.SecondMomentRatio))
	}
}

// TestNodeInitDeadBound checks that the kind of the dead probability
// follows each node's law: one Rademacher layer among Gaussian ones makes
// it a lower bound.
func TestNodeInitDeadBound(t *testing.T) {
	g := mustParse(t, "fc:10-10-10-10")
	rad := mustInit(t, "he-rademacher")
	p, err := Predict(g, Options{Init: mustInit(t, "he-normal"), Nodes: map[int]NodeParams{g.Layers()[1].Node.ID: {Init: &rad}}})
	if err != nil {
		t.Fatal(err)
	}
	if p.DeadBound != BoundLower || p.Layers[0].Kurtosis != 3 || p.Layers[1].Kurtosis != 1 {
		t.Errorf("dead bound %q, kurtosis %v %v, want lower, 3, 1", p.DeadBound, p.Layers[0].Kurtosis, p.Layers[1].Kurtosis)
	}
}

// TestNodeParamsErrors checks that bad node parameters are refused with
// the node named.
func TestNodeParamsErrors(t *testing.T) {
	g := mustParse(t, "fc:10-10-10") // 0 input, 1 dense, 2 relu, 3 dense
	he := mustInit(t, "he-normal")
	pt := mustInit(t, "pytorch-default")
	zero := he
	zero.Weight = weightinit.Law{Family: weightinit.Zero}
	tiny := he
	tiny.Weight.Rule = weightinit.Rule{C: 5e-324, Fan: weightinit.FanIn} // 0 once divided by the fan-in
	for _, c := range []struct {
		name  string
		nodes map[int]NodeParams
		want  string
	}{
		{"no such node", map[int]NodeParams{7: {Init: &he}}, "node 7: the net has nodes 0 to 3"},
		{"law on a relu", map[int]NodeParams{2: {Init: &he}}, `node "1.relu" (relu): a weight law is given, but the node has no weights`},
		{"zero weights", map[int]NodeParams{3: {Init: &zero}}, `node "2": weight law "zero": want a nonzero symmetric law`},
		{"biases without M0", map[int]NodeParams{1: {Init: &pt}}, `node "1": M0: the biases are nonzero`},
		{"moments on a dense node", map[int]NodeParams{1: {Known: true, ScaleSquare: 1}}, `node "1" (dense): scale and shift moments are given, but the node is not affine`},
		{"moments not known", map[int]NodeParams{1: {ScaleSquare: 1}}, `node "1": scale and shift moments 1, 0 are set but Known is false`},
		{"variance underflow", map[int]NodeParams{3: {Init: &tiny}}, `the variance of node "2"`},
	} {
		_, err := Predict(g, Options{Init: he, Nodes: c.nodes})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	// Bad moments of an affine node.
	a := build(t, arch.Flat(4), func(b *arch.Builder) error {
		id, err := b.Dense("fc", 0, 4)
		if err == nil {
			_, err = b.Affine("bn", id)
		}
		return err
	})
	for _, p := range []NodeParams{{Known: true, ScaleSquare: -1}, {Known: true, ShiftSquare: math.NaN()}, {Known: true, ScaleSquare: math.Inf(1)}} {
		if _, err := Predict(a, Options{Init: he, Nodes: map[int]NodeParams{2: p}}); err == nil || !strings.Contains(err.Error(), `node "bn": mean square of the`) {
			t.Errorf("%+v: error %v", p, err)
		}
	}
	// A bad Options.Init is refused only when some node uses it.
	if _, err := Predict(g, Options{Init: zero, Nodes: map[int]NodeParams{1: {Init: &he}}}); err == nil {
		t.Errorf("zero Options.Init used by node 3: no error")
	}
	if _, err := Predict(g, Options{Init: zero, Nodes: map[int]NodeParams{1: {Init: &he}, 3: {Init: &he}}}); err != nil {
		t.Errorf("zero Options.Init used by no node: %v", err)
	}
}

// affineNet builds input (n0 units) -> dense "fc" (n units, a ReLU if
// relu) -> affine "bn" (a ReLU if affineReLU) -> dense "out" (4 units,
// linear), and returns it with the affine node's ID.
func affineNet(t *testing.T, n0, n int, relu, affineReLU bool) (*arch.Graph, int) {
	t.Helper()
	var bn int
	g := build(t, arch.Flat(n0), func(b *arch.Builder) error {
		id, err := b.Dense("fc", 0, n)
		if err == nil && relu {
			id, err = b.ReLU("fc.relu", id)
		}
		if err == nil {
			bn, err = b.Affine("bn", id)
			id = bn
		}
		if err == nil && affineReLU {
			id, err = b.ReLU("bn.relu", id)
		}
		if err == nil {
			_, err = b.Dense("out", id, 4)
		}
		return err
	})
	return g, bn
}

// hasNote reports whether some note of l contains s.
func hasNote(l Layer, s string) bool {
	for _, n := range l.Notes {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// TestAffineConstantScale checks an affine node with a constant scale s
// and no shift after a linear dense layer (He, c = 2): it multiplies E[M]
// by exactly s^2, and the second and log moments become unknown, saying
// so. On the input itself, whose channels need not carry equal energy,
// the same factor is an estimate.
func TestAffineConstantScale(t *testing.T) {
	const s2 = 0.3
	he := mustInit(t, "he-normal")
	g, bn := affineNet(t, 10, 8, false, false)
	p, err := Predict(g, Options{Init: he, Nodes: map[int]NodeParams{bn: {ScaleSquare: s2, Known: true}}})
	if err != nil {
		t.Fatal(err)
	}
	checkPrediction(t, "affine", p)
	a, out := p.Layers[1], p.Layers[2]
	if a.Kind != "affine" || a.Spec != "affine" || !near(float64(a.Gain), s2, 1e-15) || !near(float64(a.MeanFactor), s2, 1e-15) ||
		!near(float64(a.MeanRatio), 2*s2, 1e-15) || !a.MeanExact || a.SecondMomentRatio.Known() || a.LogMean.Known() ||
		!hasNote(a, "second and log moments need every channel's scale") {
		t.Errorf("affine row %+v", a)
	}
	if !near(float64(out.MeanRatio), 4*s2, 1e-15) || !out.MeanExact || !near(float64(p.FM1.Product), 4*s2, 1e-15) || !p.FM1.Exact || p.FM1.UnknownLayers != 0 {
		t.Errorf("after the affine: %+v\nFM1 %+v", out, p.FM1)
	}

	in := build(t, arch.Flat(10), func(b *arch.Builder) error {
		id, err := b.Affine("bn", 0)
		if err == nil {
			_, err = b.Dense("out", id, 4)
		}
		return err
	})
	p, err = Predict(in, Options{Init: he, Nodes: map[int]NodeParams{1: {ScaleSquare: s2, Known: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if a := p.Layers[0]; !near(float64(a.MeanRatio), s2, 1e-15) || a.MeanExact || !hasNote(a, "spread evenly over the channels") || p.FM1.Exact {
		t.Errorf("affine on the input: %+v", a)
	}
}

// TestAffineMonteCarlo checks the exact laws of an affine node with
// unequal scales after a He dense layer against sampled nets: with shifts
// after a linear layer, E[M]/M_0 = (2 mean(s^2) M_0 + mean(t^2))/M_0, and
// with a ReLU after the node and no shifts, mean(s^2) (half of 2 mean(s^2)).
func TestAffineMonteCarlo(t *testing.T) {
	const n0, n, samples = 10, 8, 60000
	r := rand.New(rand.NewPCG(31, 5))
	x := make([]float64, n0)
	for i := range x {
		x[i] = r.NormFloat64() + 0.5
	}
	m0 := sqNorm(x) / n0
	s, sh := make([]float64, n), make([]float64, n)
	var s2, t2 float64
	for c := range s {
		s[c], sh[c] = 0.5+r.Float64(), r.NormFloat64()
		s2 += s[c] * s[c] / n
		t2 += sh[c] * sh[c] / n
	}
	he := mustInit(t, "he-normal")
	sd := math.Sqrt(2.0 / n0)
	for _, c := range []struct {
		name  string
		relu  bool
		shift bool
		want  float64
	}{
		{"shifts", false, true, 2*s2 + t2/m0},
		{"relu", true, false, s2},
	} {
		g, bn := affineNet(t, n0, n, false, c.relu)
		np := NodeParams{ScaleSquare: s2, Known: true}
		if c.shift {
			np.ShiftSquare = t2
		}
		p, err := Predict(g, Options{Init: he, M0: m0, Nodes: map[int]NodeParams{bn: np}})
		if err != nil {
			t.Fatal(err)
		}
		checkPrediction(t, c.name, p)
		a := p.Layers[1]
		if !near(float64(a.MeanRatio), c.want, 1e-14) || !a.MeanExact {
			t.Errorf("%s: mean ratio %v (exact %v), want %v", c.name, a.MeanRatio, a.MeanExact, c.want)
		}
		var m moments
		for range samples {
			y := randomLayer(x, n, func() float64 { return sd * r.NormFloat64() }, false)
			sum := 0.0
			for k, v := range y {
				v = s[k] * v
				if c.shift {
					v += sh[k]
				}
				if c.relu {
					v = math.Max(v, 0)
				}
				sum += v * v
			}
			m.add(sum / n / m0)
		}
		within5SE(t, c.name, &m, float64(a.MeanRatio))
	}
}

// TestAffineApproximateAndUnknown checks the affine nodes the theory has
// no exact law for: shifts after a ReLU (an estimate without the cross
// term, noted), no parameters, shifts without M0, and a ReLU after shifts
// or after a nonnegative stream (unknown, noted, and counted as left out).
func TestAffineApproximateAndUnknown(t *testing.T) {
	he := mustInit(t, "he-normal")
	g, bn := affineNet(t, 10, 8, true, false)
	p, err := Predict(g, Options{Init: he, M0: 2, Nodes: map[int]NodeParams{bn: {ScaleSquare: 0.5, ShiftSquare: 0.4, Known: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if a := p.Layers[1]; !near(float64(a.MeanRatio), 0.5+0.4/2, 1e-15) || a.MeanExact || !hasNote(a, "the cross term") || !near(float64(a.Gain), 0.5, 1e-15) {
		t.Errorf("shifts after a ReLU: %+v", a)
	}
	for _, c := range []struct {
		name             string
		relu, affineReLU bool
		params           NodeParams
		m0               float64
		note             string
	}{
		{"no parameters", false, false, NodeParams{}, 0, `no parameters given for affine node "bn"`},
		{"shifts without M0", false, false, NodeParams{ScaleSquare: 1, ShiftSquare: 0.1, Known: true}, 0, "give M0"},
		{"relu after shifts", false, true, NodeParams{ScaleSquare: 1, ShiftSquare: 0.1, Known: true}, 1, "no closed form for a ReLU after the affine node"},
		{"relu on a nonnegative stream", true, true, NodeParams{ScaleSquare: 1, Known: true}, 0, "no closed form for a ReLU after the affine node"},
	} {
		g, bn := affineNet(t, 10, 8, c.relu, c.affineReLU)
		nodes := map[int]NodeParams{}
		if c.params.Known {
			nodes[bn] = c.params
		}
		p, err := Predict(g, Options{Init: he, M0: c.m0, Nodes: nodes})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		checkPrediction(t, c.name, p)
		a, last := p.Layers[1], p.Layers[2]
		if a.MeanRatio.Known() || a.Gain.Known() || a.MeanFactor.Known() || len(a.Notes) != 1 || !hasNote(a, c.note) || last.MeanRatio.Known() {
			t.Errorf("%s: affine row %+v\nnext row %+v", c.name, a, last)
		}
		if p.FM1.Certain || p.FM1.UnknownLayers != 1 || !strings.Contains(p.FM1.Summary, "1 affine layer left out") || p.FM2.UnknownLayers != 1 {
			t.Errorf("%s: FM1 %+v\nFM2 %+v", c.name, p.FM1, p.FM2)
		}
		if c.affineReLU != strings.Contains(p.FM2.Summary, "fluctuations of 1 affine layer") {
			t.Errorf("%s: FM2 summary %q", c.name, p.FM2.Summary)
		}
	}
}

// TestAffineReLUBookkeeping checks what a known ReLU after an affine node
// leaves out: it is no plain ReLU layer (beta, the dead probability and
// the FM2 terms stay those of the dense layers), and FM2 counts it as
// left out.
func TestAffineReLUBookkeeping(t *testing.T) {
	g, bn := affineNet(t, 10, 8, false, true)
	p, err := Predict(g, Options{Init: mustInit(t, "he-normal"), Nodes: map[int]NodeParams{bn: {ScaleSquare: 1, Known: true}}})
	if err != nil {
		t.Fatal(err)
	}
	a := p.Layers[1]
	if a.Kind != "affine-relu" || a.Spec != "affine:relu" || !near(float64(a.Gain), 0.5, 1e-15) || !a.MeanExact || !hasNote(a, "left out of FM2") {
		t.Errorf("affine-relu row %+v", a)
	}
	if p.Beta != 0 || p.DeadProbability != 0 || p.FM2.Terms != 0 || p.FM2.UnknownLayers != 1 || !strings.Contains(p.FM2.Summary, "fluctuations of 1 affine layer") {
		t.Errorf("beta %v, P(dead) %v, FM2 %+v", p.Beta, p.DeadProbability, p.FM2)
	}
}

// TestTrainingBatchNorm checks a batch norm in training mode: E[M] after
// it is 1, so its ratio is 1/M_0 whatever came before (an unknown layer
// included), marked approximate (eps); the layers after it carry on from
// there; without M_0 it is unknown with the reason; other kinds of
// normalization stay unknown.
func TestTrainingBatchNorm(t *testing.T) {
	he := mustInit(t, "he-normal")
	net := func(kinds ...string) *arch.Graph {
		return build(t, arch.Flat(8), func(b *arch.Builder) error {
			id, err := b.Dense("fc", 0, 8)
			if err == nil {
				id, err = b.ReLU("fc.relu", id)
			}
			for i, k := range kinds {
				if err == nil {
					id, err = b.Norm("norm"+string(rune('a'+i)), id, k, 1e-5)
				}
			}
			if err == nil {
				_, err = b.Dense("out", id, 4)
			}
			return err
		})
	}
	for _, c := range []struct {
		name  string
		g     *arch.Graph
		m0    float64
		known bool
		note  string
	}{
		{"batch norm", net(arch.NormBatch), 4, true, "E[M] is about 1 (eps 1e-05 ignored)"},
		{"after a layer norm", net("layernorm", arch.NormBatch), 4, true, "E[M] is about 1"},
		{"without M0", net(arch.NormBatch), 0, false, "give M0"},
	} {
		p, err := Predict(c.g, Options{Init: he, M0: c.m0})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		checkPrediction(t, c.name, p)
		ls := p.Layers
		bn, out := ls[len(ls)-2], ls[len(ls)-1]
		if bn.Kind != "norm" || bn.MeanExact || bn.SecondMomentRatio.Known() || !hasNote(bn, c.note) {
			t.Errorf("%s: batch norm row %+v", c.name, bn)
		}
		if !c.known {
			if bn.MeanRatio.Known() || out.MeanRatio.Known() {
				t.Errorf("%s: mean ratios %v, %v, want unknown", c.name, bn.MeanRatio, out.MeanRatio)
			}
			continue
		}
		if !near(float64(bn.MeanRatio), 1/c.m0, 1e-15) || !near(float64(out.MeanRatio), 2/c.m0, 1e-15) || out.MeanExact {
			t.Errorf("%s: mean ratios %v (exact %v), %v (exact %v), want %v, %v, approximate", c.name, bn.MeanRatio, bn.MeanExact, out.MeanRatio, out.MeanExact, 1/c.m0, 2/c.m0)
		}
		// The factor is E[M] after over before: 1/M_0 over He's 1.
		if want := 1 / c.m0; len(ls) == 3 && !near(float64(bn.MeanFactor), want, 1e-15) {
			t.Errorf("%s: mean factor %v, want %v", c.name, bn.MeanFactor, want)
		}
	}
	// A layer norm is unknown as before.
	p, err := Predict(net("layernorm"), Options{Init: he, M0: 4})
	if err != nil {
		t.Fatal(err)
	}
	if l := p.Layers[1]; l.MeanRatio.Known() || !hasNote(l, "no closed form for a normalization layer (layernorm)") {
		t.Errorf("layer norm row %+v", l)
	}
}

// TestBatchNormAffineReLU checks the training-mode pattern conv -> batch
// norm -> affine (its initial scale 1, shift 0) -> ReLU: the batch norm
// sets E[M] to 1, and the ReLU after the unshifted affine node of the
// symmetric stream halves it.
func TestBatchNormAffineReLU(t *testing.T) {
	var bn int
	g := build(t, arch.Image(3, 6, 6), func(b *arch.Builder) error {
		id, err := b.Conv("conv", 0, 4, arch.Square(3, 1, 1))
		if err == nil {
			id, err = b.Norm("bn.norm", id, arch.NormBatch, 1e-5)
		}
		if err == nil {
			bn, err = b.Affine("bn", id)
			id = bn
		}
		if err == nil {
			id, err = b.ReLU("relu", id)
		}
		if err == nil {
			id, err = b.GlobalAvgPool("gap", id)
		}
		if err == nil {
			_, err = b.Dense("fc", id, 2)
		}
		return err
	})
	p, err := Predict(g, Options{Init: mustInit(t, "he-normal"), M0: 0.5, Nodes: map[int]NodeParams{bn: {ScaleSquare: 1, Known: true}}})
	if err != nil {
		t.Fatal(err)
	}
	checkPrediction(t, "conv-bn-affine-relu", p)
	norm, a := p.Layers[1], p.Layers[2]
	if !near(float64(norm.MeanRatio), 2, 1e-15) || a.Kind != "affine-relu" || !near(float64(a.MeanRatio), 1, 1e-15) || !near(float64(a.MeanFactor), 0.5, 1e-15) {
		t.Errorf("batch norm %+v\naffine %+v", norm, a)
	}
}
