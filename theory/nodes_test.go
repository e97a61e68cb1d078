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
	const samples, eta, ca, cb, cp = 25000, 0.8, 1.5, 2.5, 0.6
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
