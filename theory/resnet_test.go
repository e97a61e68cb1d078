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

// mcLayer is one weighted layer of a sampled block: its width, its
// c = fan_in Var(W) (Gaussian weights, zero biases) and whether a ReLU
// follows it.
type mcLayer struct {
	width int
	c     float64
	relu  bool
}

// sampleChain draws the layers' weights and applies them to every pixel of
// x (a dense input is one pixel; a 1x1 conv applies one matrix at each
// pixel).
func sampleChain(r *rand.Rand, x [][]float64, ls []mcLayer) [][]float64 {
	for _, l := range ls {
		sd := math.Sqrt(l.c / float64(len(x[0])))
		w := make([][]float64, l.width)
		for i := range w {
			w[i] = make([]float64, len(x[0]))
			for k := range w[i] {
				w[i][k] = sd * r.NormFloat64()
			}
		}
		next := make([][]float64, len(x))
		for p, v := range x {
			next[p] = make([]float64, l.width)
			for i, row := range w {
				y := 0.0
				for k, a := range v {
					y += row[k] * a
				}
				if l.relu && y < 0 {
					y = 0
				}
				next[p][i] = y
			}
		}
		x = next
	}
	return x
}

// sampleBlock draws one block S(x) + eta N(x), then a ReLU if post, with
// skip nil for the identity, and returns its ratio M_out/M_in.
func sampleBlock(r *rand.Rand, x [][]float64, module, skip []mcLayer, eta float64, post bool) float64 {
	n := sampleChain(r, x, module)
	s := x
	if skip != nil {
		s = sampleChain(r, x, skip)
	}
	var in, out, sizeIn, sizeOut float64
	for p := range x {
		in += sqNorm(x[p])
		sizeIn += float64(len(x[p]))
		for i := range n[p] {
			y := s[p][i] + eta*n[p][i]
			if post && y < 0 {
				y = 0
			}
			out += y * y
			sizeOut++
		}
	}
	return (out / sizeOut) / (in / sizeIn)
}

// TestProjectionBlockMonteCarlo checks the exact laws of a projection block
// with a width change (20 -> 12), He Gaussian weights: the mean factor
// c_P + g eta^2 for either module end, half of it with a ReLU after the
// join when the module ends linear, and E[R^2] in each case.
func TestProjectionBlockMonteCarlo(t *testing.T) {
	const samples, eta = 60000, 0.8
	r0 := rand.New(rand.NewPCG(5, 9))
	x := make([]float64, 20)
	for i := range x {
		x[i] = r0.NormFloat64() + 0.3
	}
	for _, c := range []struct {
		spec      string
		endReLU   bool
		post      bool
		wantMeanR float64 // c_P + g eta^2, halved by the ReLU after the join
	}{
		{"net:20,resdense12:eta=0.8:shortcut=proj:end=linear", false, false, 2 + 2*eta*eta},
		{"net:20,resdense12:eta=0.8:shortcut=proj:end=relu", true, false, 2 + 1*eta*eta},
		{"net:20,resdense12:eta=0.8:shortcut=proj:end=linear:post=relu", false, true, (2 + 2*eta*eta) / 2},
	} {
		p := predict(t, c.spec, "he-normal", Options{})
		l := p.Layers[0]
		if !near(float64(l.MeanFactor), c.wantMeanR, 1e-14) || !near(float64(l.Gain), c.wantMeanR, 1e-14) || !l.MeanExact || !l.SecondMomentExact {
			t.Errorf("%s: factor %v, gain %v (mean exact %v, second exact %v), want %v", c.spec, l.MeanFactor, l.Gain, l.MeanExact, l.SecondMomentExact, c.wantMeanR)
		}
		if math.Signbit(float64(p.DeadProbability)) {
			t.Errorf("%s: no plain ReLU layer, dead probability %v, want 0", c.spec, p.DeadProbability)
		}
		module := []mcLayer{{12, 2, true}, {12, 2, c.endReLU}}
		skip := []mcLayer{{12, 2, false}}
		r := rand.New(rand.NewPCG(17, 23))
		var m1, m2 moments
		for s := 0; s < samples; s++ {
			ratio := sampleBlock(r, [][]float64{x}, module, skip, eta, c.post)
			m1.add(ratio)
			m2.add(ratio * ratio)
		}
		within5SE(t, c.spec+" E[R]", &m1, float64(l.MeanFactor))
		within5SE(t, c.spec+" E[R^2]", &m2, float64(l.SecondMomentRatio))
	}
}

// TestProjectionConvMean checks the exact mean of a 1x1 conv projection
// block, which changes the channels (2 -> 4) with every tap inside the
// input: (c_P + g eta^2) per block, the same as dense.
func TestProjectionConvMean(t *testing.T) {
	const samples, eta = 100000, 0.8
	p := predict(t, "net:2x3x3,resconv4k1:eta=0.8:shortcut=proj:end=linear,gap,dense2", "he-normal", Options{})
	l := p.Layers[0]
	want := 2 + 2*eta*eta
	if !near(float64(l.MeanFactor), want, 1e-14) || !l.MeanExact {
		t.Fatalf("factor %v (exact %v), want %v", l.MeanFactor, l.MeanExact, want)
	}
	r := rand.New(rand.NewPCG(29, 31))
	x := make([][]float64, 9)
	for i := range x {
		x[i] = []float64{r.NormFloat64(), float64(i) / 4}
	}
	var m moments
	for s := 0; s < samples; s++ {
		m.add(sampleBlock(r, x, []mcLayer{{4, 2, true}, {4, 2, false}}, []mcLayer{{4, 2, false}}, eta, false))
	}
	within5SE(t, "1x1 conv projection E[R]", &m, want)
}

// heLaw is a He law of a dense layer of the given width for direct block
// tests.
func heLaw(width int, relu bool) law {
	return law{c: 2, lnC: math.Ln2, lnBeta: math.Inf(-1), cover: 1, coverExact: true, zeroBias: true, gaussian: true, relu: relu, width: width}
}

// TestBlockBoundsMonteCarlo samples blocks whose mean has bounds only and
// checks that E[R | x] lies within them (5 standard errors of slack), at a
// small and a large eta, where the value moves towards each end.
func TestBlockBoundsMonteCarlo(t *testing.T) {
	const n, samples = 10, 25000
	r0 := rand.New(rand.NewPCG(3, 4))
	pos, mixed := make([]float64, n), make([]float64, n)
	for i := range pos {
		mixed[i] = r0.NormFloat64()
		pos[i] = math.Abs(mixed[i]) + 0.05*float64(i%2)
	}
	two := func(endReLU bool) []mcLayer { return []mcLayer{{n, 2, true}, {n, 2, endReLU}} }
	three := []mcLayer{{n, 2, true}, {n, 2, true}, {n, 2, true}}
	proj := []mcLayer{{n, 2, false}}
	reluSkip := []mcLayer{{n, 2, true}}
	for _, c := range []struct {
		name         string
		x            []float64
		rhoLo        float64
		module, skip []mcLayer
		post         bool
	}{
		{"identity, end=linear, post=relu, x >= 0: [1/2, 1] x (1 + g eta^2)", pos, 0, two(false), nil, true},
		{"projection, end=relu, post=relu: [1/2, 1] x (c_P + g eta^2)", mixed, -1, two(true), proj, true},
		{"identity, end=relu, post=relu, x of either sign: [0, upper]", mixed, -1, two(true), nil, true},
		{"identity, end=linear, post=relu, x of either sign: [0, 1 + g eta^2]", mixed, -1, two(false), nil, true},
		{"identity, three-layer module ending in ReLU, x >= 0: Cauchy-Schwarz", pos, 0, three, nil, false},
		{"identity, three-layer module ending in ReLU, x of either sign: Cauchy-Schwarz", mixed, -1, three, nil, false},
		{"ReLU skip and ReLU module end: Cauchy-Schwarz", mixed, -1, two(true), reluSkip, false},
		{"ReLU skip and ReLU module end, post=relu (the identity): Cauchy-Schwarz", mixed, -1, two(true), reluSkip, true},
	} {
		for _, eta := range []float64{0.2, 3} {
			laws := func(ls []mcLayer) []law {
				var r []law
				for _, l := range ls {
					r = append(r, heLaw(l.width, l.relu))
				}
				return r
			}
			bl := newBlock(laws(c.module), laws(c.skip), n, eta, c.post, c.rhoLo)
			g := bl.gain()
			lo, hi := math.Exp(g.lo), math.Exp(g.hi)
			if g.isPoint() || !(lo < hi) {
				t.Errorf("%s: bounds [%v, %v]", c.name, lo, hi)
			}
			r := rand.New(rand.NewPCG(41, uint64(eta*10)))
			var m moments
			for s := 0; s < samples; s++ {
				m.add(sampleBlock(r, [][]float64{c.x}, c.module, c.skip, eta, c.post))
			}
			if m.mean() < lo-5*m.se() || m.mean() > hi+5*m.se() {
				t.Errorf("%s, eta %g: sampled %.5g +- %.2g outside [%.5g, %.5g]", c.name, eta, m.mean(), m.se(), lo, hi)
			} else {
				t.Logf("%s, eta %g: sampled %.5g +- %.2g in [%.5g, %.5g]", c.name, eta, m.mean(), m.se(), lo, hi)
			}
		}
	}
}

// build assembles a graph, failing the test on any error.
func build(t *testing.T, in arch.Shape, f func(b *arch.Builder) error) *arch.Graph {
	t.Helper()
	b, err := arch.NewBuilder(in)
	if err == nil {
		err = f(b)
	}
	var g *arch.Graph
	if err == nil {
		g, err = b.Graph()
	}
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestUnknownParts checks that a normalization placeholder and a part of
// the graph that is no known layer get a row of nulls with the reason, that
// everything downstream of them that depends on the mean is null too, and
// that the verdicts say what they left out.
func TestUnknownParts(t *testing.T) {
	he, _ := weightinit.ParseInit("he-normal")
	dense := func(b *arch.Builder, name string, from, units int, relu bool) (int, error) {
		id, err := b.Dense(name, from, units)
		if err == nil && relu {
			id, err = b.ReLU(name+".relu", id)
		}
		return id, err
	}
	for _, c := range []struct {
		name, kind, note, summary string
		g                         *arch.Graph
	}{
		{"layernorm", "norm", "normalization layer (layernorm)", "1 normalization layer", build(t, arch.Flat(8), func(b *arch.Builder) error {
			id, err := dense(b, "1", 0, 8, true)
			if err == nil {
				id, err = b.Norm("2", id, "layernorm", 1e-5)
			}
			if err == nil {
				_, err = dense(b, "3", id, 4, false)
			}
			return err
		})},
		{"relu of a relu", "other", "(relu)", "1 unrecognized part", build(t, arch.Flat(8), func(b *arch.Builder) error {
			id, err := dense(b, "1", 0, 8, true)
			if err == nil {
				id, err = b.ReLU("2", id)
			}
			if err == nil {
				_, err = dense(b, "3", id, 4, false)
			}
			return err
		})},
		{"x + relu(x)", "other", "(relu, add)", "1 unrecognized part", build(t, arch.Flat(8), func(b *arch.Builder) error {
			id, err := dense(b, "1", 0, 8, true)
			var r int
			if err == nil {
				r, err = b.ReLU("2", id)
			}
			if err == nil {
				id, err = b.Add("2.add", id, r)
			}
			if err == nil {
				_, err = dense(b, "3", id, 4, false)
			}
			return err
		})},
	} {
		p, err := Predict(c.g, Options{Init: he})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(p.Layers) != 3 {
			t.Fatalf("%s: %d rows, want 3", c.name, len(p.Layers))
		}
		u, last := p.Layers[1], p.Layers[2]
		if u.Kind != c.kind || u.Gain.Known() || u.MeanFactor.Known() || u.MeanFactorLower.Known() || u.MeanRatio.Known() ||
			u.SecondMomentRatio.Known() || u.LogMean.Known() || len(u.Notes) != 1 || !strings.Contains(u.Notes[0], c.note) || !strings.Contains(u.Notes[0], "measure") {
			t.Errorf("%s: row %+v", c.name, u)
		}
		if !last.Gain.Known() || last.MeanRatio.Known() || last.SecondMomentRatio.Known() || last.MeanExact {
			t.Errorf("%s: downstream row has gain %v, E[M] %v, second moment %v, exact %v", c.name, last.Gain, last.MeanRatio, last.SecondMomentRatio, last.MeanExact)
		}
		if p.FM1.Certain || p.FM1.UnknownLayers != 1 || !strings.Contains(p.FM1.Summary, c.summary+" left out") ||
			p.FM2.UnknownLayers != 1 || !strings.Contains(p.FM2.Summary, "fluctuations of "+c.summary) {
			t.Errorf("%s: FM1 %+v\nFM2 %+v", c.name, p.FM1, p.FM2)
		}
		b, err := json.Marshal(p)
		if err != nil || strings.Contains(string(b), "NaN") {
			t.Errorf("%s: JSON %v", c.name, err)
		}
	}
}

// TestGeneralModule predicts a graph-built block whose module has three
// ReLU layers (no spec writes one): Cauchy-Schwarz bounds on the mean,
// [1 + g eta^2, (1 + eta sqrt g)^2] on a nonnegative stream, and no
// fluctuation term, with the reason.
func TestGeneralModule(t *testing.T) {
	const eta = 0.5
	g := build(t, arch.Flat(6), func(b *arch.Builder) error {
		x, err := b.Dense("1", 0, 6)
		if err == nil {
			x, err = b.ReLU("1.relu", x)
		}
		id := x
		for i, name := range []string{"2.branch.1", "2.branch.2", "2.branch.3"} {
			if err == nil {
				id, err = b.Dense(name, id, 6)
			}
			if err == nil && i < 3 {
				id, err = b.ReLU(name+".relu", id)
			}
		}
		if err == nil {
			id, err = b.Scale("2.scale", id, eta, 1, 1)
		}
		if err == nil {
			_, err = b.Add("2.add", x, id)
		}
		return err
	})
	he, _ := weightinit.ParseInit("he-normal")
	p, err := Predict(g, Options{Init: he})
	if err != nil {
		t.Fatal(err)
	}
	l := p.Layers[1]
	if l.Kind != "residual" || !near(float64(l.GainLower), 1+eta*eta, 1e-14) || !near(float64(l.GainUpper), (1+eta)*(1+eta), 1e-14) || l.LogVarStep.Known() {
		t.Errorf("block: %+v", l)
	}
	if p.FM2.UnknownLayers != 1 || !strings.Contains(p.FM2.Summary, "fluctuations of 1 residual block") {
		t.Errorf("FM2: %+v", p.FM2)
	}
}

// TestPostReLUUnknownSign predicts an identity block with a ReLU after the
// join right after the input, whose sign the theory does not know: the lower
// bound is 0 (its log10 null), the upper bound the block's own, the FM1
// verdict uncertain, the JSON free of NaN.
func TestPostReLUUnknownSign(t *testing.T) {
	p := predict(t, "net:16,resdense16:end=linear:post=relu,dense4", "he-normal", Options{})
	l := p.Layers[0]
	if l.MeanFactorLower != 0 || l.GainLower != 0 || !near(float64(l.MeanFactorUpper), 3, 1e-14) || l.Log10MeanRatioLower.Known() || !l.Log10MeanRatioUpper.Known() {
		t.Errorf("block: %+v", l)
	}
	if p.FM1.Certain || !strings.Contains(p.FM1.Summary, "between 0 and") {
		t.Errorf("FM1: %+v", p.FM1)
	}
	if b, err := json.Marshal(p); err != nil || strings.Contains(string(b), "NaN") {
		t.Errorf("JSON: %v", err)
	}
}
