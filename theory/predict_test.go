package theory

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/initscope/initscope/num"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/weightinit"
)

// predict parses spec and init and predicts, failing the test on any error.
func predict(t *testing.T, spec, init string, opt Options) *Prediction {
	t.Helper()
	net, err := arch.Parse(spec)
	if err != nil {
		t.Fatalf("%s: %v", spec, err)
	}
	in, err := weightinit.ParseInit(init)
	if err != nil {
		t.Fatalf("%s: %v", init, err)
	}
	opt.Init = in
	p, err := Predict(net, opt)
	if err != nil {
		t.Fatalf("%s under %s: %v", spec, init, err)
	}
	return p
}

func near(a, b float64, rel float64) bool { return scalar.EqualWithinAbsOrRel(a, b, 1e-300, rel) }

// TestInitTable checks the per-layer FM1 factors of THEORY 2 for every
// preset, on a square layer (100 -> 100) and a non-square one (784 -> 100).
func TestInitTable(t *testing.T) {
	trunc := 0.7737413
	for _, c := range []struct {
		init            string
		square, first   float64
		tol             float64
		fanAvgNonSquare bool
	}{
		{"he-normal", 1, 1, 1e-15, false},
		{"he-uniform", 1, 1, 1e-15, false},
		{"he-rademacher", 1, 1, 1e-15, false},
		{"he-truncated-corrected", 1, 1, 1e-15, false},
		{"he-truncated", trunc, trunc, 1e-7, false},
		{"lecun-normal", 0.5, 0.5, 1e-15, false},
		{"lecun-uniform", 0.5, 0.5, 1e-15, false},
		{"glorot-normal", 0.5, 784.0 / 884, 1e-15, true},
		{"glorot-uniform", 0.5, 784.0 / 884, 1e-15, true},
		{"keras-default", 0.5, 784.0 / 884, 1e-15, true},
		{"xavier2", 1, 2 * 784.0 / 884, 1e-15, true},
		{"pytorch-default", 1.0 / 6, 1.0 / 6, 1e-15, false},
	} {
		p := predict(t, "fc:784-100-100-10", c.init, Options{M0: 1})
		if g := float64(p.Layers[0].Gain); !near(g, c.first, c.tol) {
			t.Errorf("%s: first layer (784 -> 100) factor %.10g, want %.10g", c.init, g, c.first)
		}
		if g := float64(p.Layers[1].Gain); !near(g, c.square, c.tol) {
			t.Errorf("%s: square layer factor %.10g, want %.10g", c.init, g, c.square)
		}
		// The linear output layer multiplies by c, twice the ReLU factor of
		// the same c.
		l := p.Layers[2]
		if !near(float64(l.Gain), float64(l.C), 1e-15) {
			t.Errorf("%s: linear layer gain %v, want c = %v", c.init, l.Gain, l.C)
		}
	}
}

func TestTruncatedNormalFactor(t *testing.T) {
	want := 1 - 4*math.Exp(-2)/math.Sqrt(2*math.Pi)/math.Erf(math.Sqrt2)
	p := predict(t, "fc:50-50-10", "he-truncated", Options{})
	if g := float64(p.Layers[0].Gain); !near(g, want, 1e-15) || math.Abs(g-0.7737413) > 5e-8 {
		t.Errorf("he-truncated factor %.10g, want %.10g = 0.7737413", g, want)
	}
}

// TestMeanWithBiases checks E[M_d]/M_0 against the closed form of THEORY 2,
// M_0 prod c_j/2 + sum_j (sigma_b^2/2) prod_{i>j} c_i/2, summed independently.
func TestMeanWithBiases(t *testing.T) {
	const m0 = 0.3
	p := predict(t, "fc:20-30-30-30-5", "pytorch-default", Options{M0: m0})
	widths := []int{20, 30, 30, 30, 5}
	var mean float64 = m0
	for j := 1; j < len(widths); j++ {
		fanIn := float64(widths[j-1])
		c := fanIn / (3 * fanIn)
		vb := 1 / (3 * fanIn)
		if j == len(widths)-1 {
			mean = c*mean + vb
		} else {
			mean = c/2*mean + vb/2
		}
		if got := float64(p.Layers[j-1].MeanRatio) * m0; !near(got, mean, 1e-14) {
			t.Errorf("layer %d: E[M] = %.15g, closed form %.15g", j, got, mean)
		}
	}
	if !p.Layers[3].MeanExact {
		t.Errorf("the mean with biases should be exact")
	}
	// The signal gain ignores the biases: (1/6)^3 * (1/3).
	if got, want := float64(p.FM1.Product), math.Pow(1.0/6, 3)/3; !near(got, want, 1e-14) {
		t.Errorf("FM1 product %g, want %g", got, want)
	}
}

// TestSecondMomentGaussian checks E[M_j^2]/M_0^2 = prod (c/2)^2 (1 + 5/n_j),
// times c^2 (1 + 2/n) for the linear output.
func TestSecondMomentGaussian(t *testing.T) {
	p := predict(t, "fc:10-8-16-4-3", "normal:3/fan_in", Options{})
	want := 1.0
	for j, n := range []float64{8, 16, 4} {
		want *= 1.5 * 1.5 * (1 + 5/n)
		l := p.Layers[j]
		if !near(float64(l.SecondMomentRatio), want, 1e-14) || !l.Exact {
			t.Errorf("layer %d: E[M^2]/M0^2 = %v (exact %v), want %v", j+1, l.SecondMomentRatio, l.Exact, want)
		}
	}
	want *= 9 * (1 + 2.0/3)
	if got := float64(p.Layers[3].SecondMomentRatio); !near(got, want, 1e-14) {
		t.Errorf("output: E[M^2]/M0^2 = %v, want %v", got, want)
	}
	if p.Layers[3].Kind != "linear" || p.Layers[0].Kind != "relu" {
		t.Errorf("kinds %q, %q", p.Layers[0].Kind, p.Layers[3].Kind)
	}
}

// TestLogMomentsCumulate checks that the per-layer log moments add up and
// that c enters as ln(c/2).
func TestLogMomentsCumulate(t *testing.T) {
	p := predict(t, "fc:10-8-16-10", "normal:3/fan_in", Options{})
	s8, s16 := reluStatsFor(8), reluStatsFor(16)
	lm, lv := linearLogStats(10)
	wantMean := 2*math.Log(1.5) + s8.LogMean + s16.LogMean + math.Log(3) + lm
	wantVar := s8.LogVar + s16.LogVar + lv
	last := p.Layers[2]
	if !near(float64(last.LogMean), wantMean, 1e-14) || !near(float64(last.LogVar), wantVar, 1e-14) || !last.LogExact {
		t.Errorf("log moments (%v, %v), want (%v, %v)", last.LogMean, last.LogVar, wantMean, wantVar)
	}
	if got := float64(p.FM2.LogVar); !near(got, s8.LogVar+s16.LogVar, 1e-14) {
		t.Errorf("FM2 statistic %v, want the ReLU layers' sum %v", got, s8.LogVar+s16.LogVar)
	}
}

func TestDeadProbability(t *testing.T) {
	p := predict(t, "fc:10-3-4-10", "he-normal", Options{})
	want := 1 - (1-1.0/8)*(1-1.0/16)
	if got := float64(p.DeadProbability); !near(got, want, 1e-15) || !p.DeadExact {
		t.Errorf("P(dead) = %v (exact %v), want %v", got, p.DeadExact, want)
	}
}

// TestEmpiricalVarianceHe checks the O(d) recursion against THEORY 3.1's
// (1/d^2) sum_j (2j - d - 1) A_j for He Gaussian nets with varying widths.
func TestEmpiricalVarianceHe(t *testing.T) {
	widths := []int{7, 12, 5, 30, 9, 9, 16}
	spec := "fc:20"
	for _, n := range widths {
		spec += fmt.Sprintf("-%d", n)
	}
	spec += "-10"
	p := predict(t, spec, "he-normal", Options{})
	d := len(widths)
	a, want := 1.0, 0.0
	for j, n := range widths {
		a *= 1 + 5/float64(n)
		want += float64(2*(j+1)-d-1) * a
	}
	want /= float64(d * d)
	ev := p.EmpiricalVariance
	if !near(float64(ev.Relative), want, 1e-12) || !ev.Exact || ev.Layers != d {
		t.Errorf("E[Var_hat]/M0^2 = %v (exact %v, %d layers), THEORY %v", ev.Relative, ev.Exact, ev.Layers, want)
	}
}

// TestEmpiricalVarianceBruteForce checks the recursion against the direct
// double sum of E[M_j M_k] = A_jk E[M_j^2] + B_jk E[M_j] for a net with
// c != 2 and Gaussian biases, where the affine maps carry constants.
func TestEmpiricalVarianceBruteForce(t *testing.T) {
	const m0 = 0.7
	net, _ := arch.Parse("fc:6-5-9-4-7-10")
	in := weightinit.Init{Weight: weightinit.Law{Family: weightinit.Normal, Rule: weightinit.Rule{C: 2.6, Fan: weightinit.FanIn}},
		Bias: weightinit.Law{Family: weightinit.Normal, Rule: weightinit.Rule{C: 0.05}}}
	p, err := Predict(net, Options{Init: in, M0: m0})
	if err != nil {
		t.Fatal(err)
	}
	d := 4
	mean, second := make([]float64, d), make([]float64, d)
	for j := 0; j < d; j++ {
		mean[j], second[j] = float64(p.Layers[j].MeanRatio), float64(p.Layers[j].SecondMomentRatio)
	}
	a, b := 2.6/2, 0.05/m0/2 // every ReLU layer: m -> a m + b
	var s1, s2 float64
	for j := 0; j < d; j++ {
		s1 += second[j]
		for k := 0; k < d; k++ {
			switch {
			case k == j:
				s2 += second[j]
			case k > j:
				// Compose the map k - j times.
				A, B := 1.0, 0.0
				for i := j; i < k; i++ {
					A, B = a*A, a*B+b
				}
				s2 += 2 * (A*second[j] + B*mean[j])
			}
		}
	}
	want := s1/float64(d) - s2/float64(d*d)
	ev := p.EmpiricalVariance
	if !near(float64(ev.Relative), want, 1e-12) || !ev.Exact {
		t.Errorf("E[Var_hat]/M0^2 = %v (exact %v), brute force %v", ev.Relative, ev.Exact, want)
	}
	if !near(float64(ev.Value), want*m0*m0, 1e-12) {
		t.Errorf("E[Var_hat] = %v, want %v", ev.Value, want*m0*m0)
	}
}

// TestEmpiricalVarianceShallow checks the constant-width approximation
// (5/6)(d/n) for d << n. Expanding A_j = (1 + 5/n)^j to second order gives
// (5/6)(d^2 - 1)/(d n) + 25 (d+1)^2 (d-1) / (12 n^2 d), with a remainder of
// relative order (5d/n)^2 (within twice that here); the leading term alone is off by about 1/d^2 + 2.5 d/n.
func TestEmpiricalVarianceShallow(t *testing.T) {
	const d, n = 40, 20000
	p := predict(t, fmt.Sprintf("fc:%d-%dx%d-10", n, n, d), "he-normal", Options{})
	got := float64(p.EmpiricalVariance.Relative)
	fd, fn := float64(d), float64(n)
	second := 5.0/6*(fd*fd-1)/(fd*fn) + 25*(fd+1)*(fd+1)*(fd-1)/(12*fn*fn*fd)
	if rel := math.Abs(got-second) / second; rel > 2*math.Pow(5*fd/fn, 2) {
		t.Errorf("E[Var_hat]/M0^2 = %v, second-order expansion %v (relative error %.2g)", got, second, rel)
	}
	if approx := 5.0 / 6 * fd / fn; math.Abs(got-approx) > (1/(fd*fd)+2.5*fd/fn)*approx {
		t.Errorf("E[Var_hat]/M0^2 = %v, (5/6) d/n = %v", got, approx)
	}
}

// TestResidualLinearEnd checks the exact factor 1 + g eta^2 of THEORY 5:
// He modules have g = 2 (3 per block at eta = 1, 3^L over L blocks); LeCun
// modules g = (1/2)(1) = 1/2.
func TestResidualLinearEnd(t *testing.T) {
	p := predict(t, "net:50,dense50,resdense50x7:eta=1:end=linear", "he-normal", Options{})
	for _, l := range p.Layers[1:] {
		if !near(float64(l.Gain), 3, 1e-14) || !near(float64(l.MeanFactor), 3, 1e-14) || !l.MeanExact {
			t.Fatalf("block %d: gain %v, factor %v (exact %v), want 3", l.Index, l.Gain, l.MeanFactor, l.MeanExact)
		}
	}
	if got := float64(p.Layers[7].MeanRatio); !near(got, math.Pow(3, 7), 1e-13) {
		t.Errorf("E[M_L]/M0 = %v, want 3^7", got)
	}
	q := predict(t, "net:50,dense50,resdense50:eta=0.5:end=linear", "lecun-normal", Options{})
	if got := float64(q.Layers[1].Gain); !near(got, 1+0.5*0.25, 1e-14) {
		t.Errorf("LeCun block gain %v, want 1.125", got)
	}
}

// TestResidualReLUEndBounds checks the bounds of THEORY 5 for He modules:
// 1 + eta^2 + 2 eta rho tau / sqrt(pi) for rho in [1/sqrt(pi), 1], which is
// [1 + eta^2 + (2/pi) eta, 1 + eta^2 + (2/sqrt pi) eta] as tau -> 1.
func TestResidualReLUEndBounds(t *testing.T) {
	for _, n := range []int{16, 30000} {
		p := predict(t, fmt.Sprintf("net:%d,dense%d,resdense%d:eta=0.7", n, n, n), "he-normal", Options{})
		l := p.Layers[1]
		tau := reluStatsFor(n).Tau
		lo := 1 + 0.49 + 2*0.7*tau/math.Pi
		hi := 1 + 0.49 + 2*0.7*tau/math.Sqrt(math.Pi)
		if !near(float64(l.MeanFactorLower), lo, 1e-14) || !near(float64(l.MeanFactorUpper), hi, 1e-14) || l.MeanFactor.Known() || l.MeanExact {
			t.Errorf("n=%d: factor [%v, %v] (point %v, exact %v), want [%v, %v]", n, l.MeanFactorLower, l.MeanFactorUpper, l.MeanFactor, l.MeanExact, lo, hi)
		}
		// 1 - tau is O(1/n).
		if fn := float64(n); math.Abs(hi-(1.49+1.4/math.Sqrt(math.Pi))) > 1/fn || math.Abs(lo-(1.49+1.4/math.Pi)) > 1/fn {
			t.Errorf("wide limit [%v, %v] is not THEORY's", lo, hi)
		}
		if p.FM1.Product.Known() || !p.FM1.Log10ProductLower.Known() {
			t.Errorf("FM1 product should have bounds only")
		}
	}
}

// TestExplodingStaysFinite runs nets whose E[M] overflows float64: every log
// stays finite and the JSON encodes.
func TestExplodingStaysFinite(t *testing.T) {
	for _, c := range []struct {
		spec string
		l10  float64
	}{
		{"fc:100-100x1000-10", 1000*math.Log10(2) + math.Log10(4)},
		{"fc:100-100x5000-10", 5000*math.Log10(2) + math.Log10(4)},
	} {
		p := predict(t, c.spec, "normal:4/fan_in", Options{})
		last := p.Layers[len(p.Layers)-1]
		if !near(float64(last.Log10MeanRatio), c.l10, 1e-12) || !near(float64(p.FM1.Log10Product), c.l10, 1e-12) {
			t.Errorf("%s: log10 E[M]/M0 = %v, FM1 %v, want %v", c.spec, last.Log10MeanRatio, p.FM1.Log10Product, c.l10)
		}
		if p.FM1.Verdict != Exploding {
			t.Errorf("%s: verdict %s", c.spec, p.FM1.Verdict)
		}
		for _, v := range []num.Number{last.Log10SecondMomentRatio, last.LogMean, last.LogVar, p.EmpiricalVariance.Log10Relative, p.Jacobian.Log10MeanSquare, p.Jacobian.Log10Fourth} {
			if !v.Known() {
				t.Errorf("%s: a log value is %v", c.spec, float64(v))
			}
		}
		if _, err := json.Marshal(p); err != nil {
			t.Errorf("%s: JSON: %v", c.spec, err)
		}
	}
}

// TestVerdictThresholds builds nets on either side of each threshold.
func TestVerdictThresholds(t *testing.T) {
	for _, c := range []struct {
		spec, init string
		fm1, fm2   string
	}{
		// LeCun: (1/2)^d times c = 1 at the output; 10^-2 lies between 6 and 7 layers.
		{"fc:100-100x6-10", "lecun-normal", OK, OK},
		{"fc:100-100x7-10", "lecun-normal", Vanishing, OK},
		// 4/fan_in: 2^d * 4; 10^2 lies between 4 and 5 layers.
		{"fc:100-100x4-10", "normal:4/fan_in", OK, OK},
		{"fc:100-100x5-10", "normal:4/fan_in", Exploding, OK},
		// FM2: Var[ln M] = d Var[ln R] ~ d (5/n + 18.5/n^2): at width 500 the
		// ok line lies between 99 and 100 layers, at width 50 the failing
		// line between 36 and 37.
		{"fc:100-500x99-10", "he-normal", OK, OK},
		{"fc:100-500x100-10", "he-normal", OK, Warning},
		{"fc:100-50x36-10", "he-normal", OK, Warning},
		{"fc:100-50x37-10", "he-normal", OK, Failing},
	} {
		p := predict(t, c.spec, c.init, Options{})
		if p.FM1.Verdict != c.fm1 || p.FM2.Verdict != c.fm2 {
			t.Errorf("%s %s: FM1 %s (P = %v), FM2 %s (V = %v); want %s, %s", c.spec, c.init, p.FM1.Verdict, p.FM1.Product, p.FM2.Verdict, p.FM2.LogVar, c.fm1, c.fm2)
		}
	}
	if v, certain := fm1Verdict(interval{0, 10}); v != Exploding || certain {
		t.Errorf("straddling bounds: %s certain %v", v, certain)
	}
}

// TestAdvice applies the advice and checks that it works.
func TestAdvice(t *testing.T) {
	p := predict(t, "fc:784-100x50-10", "pytorch-default", Options{M0: 0.1})
	a := p.FM1.Advice
	if p.FM1.Verdict != Vanishing || a.WeightVariance != "2/fan_in" || a.Preset != "he-uniform" || !near(float64(a.C), 1.0/3, 1e-12) {
		t.Errorf("pytorch-default: %s, advice %+v", p.FM1.Verdict, a)
	}
	fixed := predict(t, "fc:784-100x50-10", a.Preset, Options{})
	if fixed.FM1.Verdict != OK {
		t.Errorf("after the advice: %s", fixed.FM1.Verdict)
	}

	w := predict(t, "fc:784-32x100-10", "he-normal", Options{})
	n := w.FM2.Advice.Width
	if w.FM2.Verdict != Failing || n == 0 {
		t.Fatalf("width 32 x 100: %s, advice %+v", w.FM2.Verdict, w.FM2.Advice)
	}
	if v := predict(t, fmt.Sprintf("fc:784-%dx100-10", n), "he-normal", Options{}).FM2.Verdict; v != OK {
		t.Errorf("advised width %d: FM2 %s", n, v)
	}
	if v := predict(t, fmt.Sprintf("fc:784-%dx100-10", n-1), "he-normal", Options{}).FM2.Verdict; v == OK {
		t.Errorf("width %d, below the advice, is ok already", n-1)
	}
	if d := w.FM2.Advice.MaxDepth; predict(t, fmt.Sprintf("fc:784-32x%d-10", d), "he-normal", Options{}).FM2.Verdict != OK ||
		predict(t, fmt.Sprintf("fc:784-32x%d-10", d+1), "he-normal", Options{}).FM2.Verdict == OK {
		t.Errorf("max depth %d at width 32 is not the boundary", d)
	}

	for _, end := range []string{"linear", "relu"} {
		r := predict(t, "net:784,dense100,resdense100x50:eta=1:end="+end+",dense10", "he-normal", Options{})
		adv := r.FM1.Advice
		if r.FM1.Verdict != Exploding || adv.EtaGeometric == "" || adv.EtaOverL == "" {
			t.Fatalf("end=%s: %s, advice %+v", end, r.FM1.Verdict, adv)
		}
		for _, eta := range []string{adv.EtaGeometric, adv.EtaOverL} {
			q := predict(t, "net:784,dense100,resdense100x50:eta="+eta+":end="+end+",dense10", "he-normal", Options{})
			if q.FM1.Verdict != OK || q.FM2.Verdict != OK {
				t.Errorf("end=%s, eta=%s: FM1 %s, FM2 %s", end, eta, q.FM1.Verdict, q.FM2.Verdict)
			}
		}
	}
}

func TestPredictErrors(t *testing.T) {
	net, _ := arch.Parse("fc:10-10-10")
	he, _ := weightinit.ParseInit("he-normal")
	pt, _ := weightinit.ParseInit("pytorch-default")
	zero := he
	zero.Weight = weightinit.Law{Family: weightinit.Zero}
	neg := he
	neg.Weight.Rule.C = -1
	for _, c := range []struct {
		name string
		net  *arch.Graph
		opt  Options
	}{
		{"nil net", nil, Options{Init: he}},
		{"zero weights", net, Options{Init: zero}},
		{"negative variance", net, Options{Init: neg}},
		{"NaN M0", net, Options{Init: he, M0: math.NaN()}},
		{"biases without M0", net, Options{Init: pt}},
		{"InputL4 above 1", net, Options{Init: he, InputL4: 2}},
	} {
		if _, err := Predict(c.net, c.opt); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

func TestConvCoverage(t *testing.T) {
	for _, c := range []struct {
		spec  string
		want  float64
		exact bool
	}{
		{"net:3x8x8,conv4k1,gap,dense2", 1, true},
		{"net:3x1x1,conv4k3,gap,dense2", 1.0 / 9, true},
		{"net:3x28x28,conv4k3,gap,dense2", math.Pow(82.0/84, 2), false},
		{"net:3x8x8,conv4k3s2p1,gap,dense2", math.Pow(11.0/12, 2), false},
	} {
		p := predict(t, c.spec, "he-normal", Options{})
		l := p.Layers[0]
		if !near(float64(l.Gain), c.want, 1e-14) || l.MeanExact != c.exact {
			t.Errorf("%s: gain %v (exact %v), want %v (%v)", c.spec, l.Gain, l.MeanExact, c.want, c.exact)
		}
	}
}
