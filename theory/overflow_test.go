package theory

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/weightinit"
)

// predictLaws predicts spec under the given weight and bias laws
// (ParseLaw's syntax), failing the test on any error.
func predictLaws(t *testing.T, spec, weight, bias string, opt Options) *Prediction {
	t.Helper()
	g, err := arch.Parse(spec)
	if err != nil {
		t.Fatalf("%s: %v", spec, err)
	}
	w, err := weightinit.ParseLaw(weight)
	if err != nil {
		t.Fatal(err)
	}
	b, err := weightinit.ParseLaw(bias)
	if err != nil {
		t.Fatal(err)
	}
	opt.Init = weightinit.Init{Name: weight, Weight: w, Bias: b}
	p, err := Predict(g, opt)
	if err != nil {
		t.Fatalf("%s under %s, %s: %v", spec, weight, bias, err)
	}
	return p
}

// linearBlockStep is ln(E[R^2]/E[R]^2) of an identity block whose module
// W_b ReLU(W_a x) (hidden width m) ends linear, on a stream of width n, for
// Gaussian weights and zero biases: with G = g eta^2 = (c_a/2) c_b eta^2,
// E[R] = 1 + G and E[R^2] = 1 + 2G(1 + 2/n) + G^2 (1 + 5/m)(1 + 2/n)
// (THEORY 3.1 and 5: the module's output is (c_b/m') chi^2 times the
// thinned hidden length). It is written with 1/G so that it stays finite
// for any lnG = ln G.
func linearBlockStep(lnG float64, n, m int) float64 {
	fn, fm := float64(n), float64(m)
	if lnG <= 0 {
		g := math.Exp(lnG)
		return math.Log(1+2*g*(1+2/fn)+g*g*(1+5/fm)*(1+2/fn)) - 2*math.Log1p(g)
	}
	r := math.Exp(-lnG) // 1/G
	return math.Log(r*r+2*r*(1+2/fn)+(1+5/fm)*(1+2/fn)) - 2*math.Log1p(r)
}

// TestHugeEtaStaysFinite checks residual blocks whose eta^2 or eta^4
// overflow float64 (eta up to arch.MaxEta), which gave a NaN FM2 statistic
// that was then left out or judged failing: the statistic, the gains and
// every log10 field are finite and match the closed form.
func TestHugeEtaStaysFinite(t *testing.T) {
	for _, c := range []struct {
		spec   string
		blocks int
		eta    func(l int) float64
	}{
		{"net:784,resdense784x3:eta=1e80:end=linear,dense10", 3, func(int) float64 { return 1e80 }},
		{"net:784,resdense784:eta=1e100:end=linear,dense10", 1, func(int) float64 { return 1e100 }},
		{"net:64,resdense64x500:eta=1.5^l:end=linear,dense10", 500, func(l int) float64 { return math.Pow(1.5, float64(l)) }},
		{"net:64,resdense64x3:eta=1:end=linear,dense10", 3, func(int) float64 { return 1 }},
	} {
		p := predict(t, c.spec, "he-normal", Options{})
		if p.FM2.UnknownLayers != 0 || p.FM2.Terms != c.blocks || !p.FM2.Exact {
			t.Errorf("%s: FM2 over %d terms with %d left out (exact %v), want all %d blocks, exact", c.spec, p.FM2.Terms, p.FM2.UnknownLayers, p.FM2.Exact, c.blocks)
		}
		n := p.Layers[0].Width
		want, lnGain := 0.0, 0.0
		for l := 1; l <= c.blocks; l++ {
			lnG := math.Log(2) + 2*math.Log(c.eta(l)) // g = (2/2) * 2 for He
			want += linearBlockStep(lnG, n, n)
			lnGain += softplus(lnG)
			step := float64(p.Layers[l-1].LogVarStep)
			if !near(step, linearBlockStep(lnG, n, n), 1e-9) {
				t.Errorf("%s: block %d: ln(E[R^2]/E[R]^2) = %v, want %v", c.spec, l, step, linearBlockStep(lnG, n, n))
			}
		}
		if !near(float64(p.FM2.LogVar), want, 1e-9) || p.FM2.Verdict != fm2Verdict(want) {
			t.Errorf("%s: FM2 statistic %v (%s), want %v", c.spec, p.FM2.LogVar, p.FM2.Verdict, want)
		}
		// The last layer is He linear: it doubles E[M].
		if got, want := float64(p.FM1.Log10Product), (lnGain+math.Ln2)/math.Ln10; !near(got, want, 1e-12) {
			t.Errorf("%s: log10 P = %v, want %v", c.spec, got, want)
		}
		checkFinite(t, c.spec, p)
		if strings.Contains(p.FM1.Summary, "Inf") || strings.Contains(p.FM1.Summary, "NaN") {
			t.Errorf("%s: FM1 summary %q", c.spec, p.FM1.Summary)
		}
	}
}

// softplus returns ln(1 + e^x).
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// checkFinite checks that the log10 moments of every layer of p, known in
// the nets of these tests, are finite, and that the JSON encodes.
func checkFinite(t *testing.T, what string, p *Prediction) {
	t.Helper()
	for _, l := range p.Layers {
		for _, v := range []float64{float64(l.Log10MeanRatio), float64(l.Log10SecondMomentRatio)} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("%s: layer %d: a log value is %v", what, l.Index, v)
			}
		}
	}
	if _, err := json.Marshal(p); err != nil {
		t.Errorf("%s: JSON: %v", what, err)
	}
}

// TestHugeVariancesStayFinite checks bias and weight variances whose
// squares (or products with the fan-in) overflow float64, which gave null
// log10 fields: the logs are finite and match the closed forms.
func TestHugeVariancesStayFinite(t *testing.T) {
	const n = 100
	// Gaussian biases of variance vb with He weights: E[M_1] = M_0 + vb/2
	// and E[M_1^2] = (1 + 5/n) (M_0 + vb/2)^2 (THEORY 2 and 3.1).
	for _, vb := range []float64{1e300, 1e10} {
		p := predictLaws(t, "fc:784-100x3-10", "normal:2/fan_in", "normal:"+formatG(vb), Options{M0: 1})
		checkFinite(t, "bias "+formatG(vb), p)
		l1 := p.Layers[0]
		lnMean := math.Log(vb/2) + math.Log1p(2/vb)
		if got := float64(l1.Log10MeanRatio); !near(got, lnMean/math.Ln10, 1e-12) {
			t.Errorf("bias %g: log10 E[M_1]/M0 = %v, want %v", vb, got, lnMean/math.Ln10)
		}
		if got, want := float64(l1.Log10SecondMomentRatio), (math.Log1p(5.0/n)+2*lnMean)/math.Ln10; !near(got, want, 1e-12) {
			t.Errorf("bias %g: log10 E[M_1^2]/M0^2 = %v, want %v", vb, got, want)
		}
		if !p.EmpiricalVariance.Log10Relative.Known() || !p.FM1.Log10MeanRatio.Known() {
			t.Errorf("bias %g: empirical variance %v, FM1 mean %v", vb, p.EmpiricalVariance.Log10Relative, p.FM1.Log10MeanRatio)
		}
	}
	// A fixed weight variance of 1e307: c = 784e307 overflows float64.
	p := predictLaws(t, "fc:784-100x3-10", "normal:1e307", "zero", Options{})
	checkFinite(t, "weights 1e307", p)
	lnC1 := math.Log(784) + 307*math.Ln10
	if got, want := float64(p.Layers[0].Log10MeanRatio), (lnC1-math.Ln2)/math.Ln10; !near(got, want, 1e-12) {
		t.Errorf("weights 1e307: log10 E[M_1]/M0 = %v, want %v", got, want)
	}
	if got, want := float64(p.Layers[0].Log10SecondMomentRatio), (2*(lnC1-math.Ln2)+math.Log1p(5.0/n))/math.Ln10; !near(got, want, 1e-12) {
		t.Errorf("weights 1e307: log10 E[M_1^2]/M0^2 = %v, want %v", got, want)
	}
	if !p.Jacobian.Log10MeanSquare.Known() || p.FM1.Verdict != Exploding {
		t.Errorf("weights 1e307: Jacobian %v, verdict %s", p.Jacobian.Log10MeanSquare, p.FM1.Verdict)
	}
	for _, text := range slicesOf(p.FM1.Advice.Text, p.FM2.Advice.Text) {
		if strings.Contains(text, "Inf") || strings.Contains(text, "NaN") {
			t.Errorf("weights 1e307: advice %q", text)
		}
	}
	// Variances float64 cannot hold are refused with the node named.
	for _, c := range []struct{ weight, bias, want string }{
		{"normal:1e-322/fan_in", "zero", `weight law normal:1e-322/fan_in: the variance of node "1" (fan_in 784, fan_out 100) is 0`},
		{"normal:2/fan_in", "normal:1.7e308/fan_avg", `bias law normal:1.7e+308/fan_avg: the variance of node "1" (fan_in 784, fan_out 100) is +Inf`},
	} {
		g, _ := arch.Parse("fc:784-100-10")
		w, _ := weightinit.ParseLaw(c.weight)
		b, _ := weightinit.ParseLaw(c.bias)
		_, err := Predict(g, Options{Init: weightinit.Init{Weight: w, Bias: b}, M0: 1})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s, %s: error %v, want one mentioning %q", c.weight, c.bias, err, c.want)
		}
	}
}

// slicesOf joins string slices.
func slicesOf(s ...[]string) []string {
	var r []string
	for _, x := range s {
		r = append(r, x...)
	}
	return r
}

// TestAdviceWithoutReLULayers checks the FM1 advice of a net with no ReLU
// layer, whose mean c is undefined: it used to print c = NaN.
func TestAdviceWithoutReLULayers(t *testing.T) {
	p := predict(t, "fc:784-10", "normal:1e6/fan_in", Options{})
	if p.FM1.Verdict != Exploding || len(p.FM1.Advice.Text) == 0 {
		t.Fatalf("verdict %s, advice %q", p.FM1.Verdict, p.FM1.Advice.Text)
	}
	if text := p.FM1.Advice.Text[0]; strings.Contains(text, "NaN") || !strings.Contains(text, "with c = 2 the product becomes 2 (10^0.301)") {
		t.Errorf("advice %q", text)
	}
}

// TestDeadBound checks the kind of the dead-layer probability: exact for
// continuous laws in dense layers; a lower bound for discrete pre-activations
// (Rademacher weights, zero or Rademacher biases), which put mass at
// exactly 0; an upper bound for conv layers; approximate where both meet.
func TestDeadBound(t *testing.T) {
	for _, c := range []struct {
		spec, weight, bias, want string
	}{
		{"fc:10-3-4-10", "normal:2/fan_in", "zero", BoundExact},
		{"fc:10-3-4-10", "uniform:2/fan_in", "normal:0.1", BoundExact},
		{"fc:10-3-4-10", "rademacher:2/fan_in", "zero", BoundLower},
		{"fc:10-3-4-10", "rademacher:2/fan_in", "rademacher:0.1", BoundLower},
		{"fc:10-3-4-10", "rademacher:2/fan_in", "normal:0.1", BoundExact},
		{"net:1x6x6,conv2k3x2,gap,dense3", "normal:2/fan_in", "zero", BoundUpper},
		{"net:1x6x6,conv2k3x2,gap,dense3", "rademacher:2/fan_in", "zero", BoundApproximate},
	} {
		p := predictLaws(t, c.spec, c.weight, c.bias, Options{M0: 1})
		if p.DeadBound != c.want || p.DeadExact != (c.want == BoundExact) || (p.DeadNote == "") != (c.want == BoundExact) {
			t.Errorf("%s, %s, %s: dead bound %q (exact %v, note %q), want %q", c.spec, c.weight, c.bias, p.DeadBound, p.DeadExact, p.DeadNote, c.want)
		}
	}
	if got := combineBounds(BoundLower, BoundUpper); got != BoundApproximate {
		t.Errorf("lower with upper = %q", got)
	}
	// The direction, by enumeration: a ReLU unit reading x = (1, 1) through
	// Rademacher weights (+-1) is off in 3 of the 4 draws (w1 + w2 <= 0),
	// while the theory's 2^-1 assumes a continuous law: P(dead) = 3/4 lies
	// above the bound 1/2.
	off := 0
	for _, w1 := range []float64{-1, 1} {
		for _, w2 := range []float64{-1, 1} {
			if w1+w2 <= 0 {
				off++
			}
		}
	}
	p := predictLaws(t, "fc:2-1-1", "rademacher:1/fan_in", "zero", Options{})
	if exact := float64(off) / 4; float64(p.DeadProbability) != 0.5 || !(exact >= float64(p.DeadProbability)) || p.DeadBound != BoundLower {
		t.Errorf("P(dead) = %v (%s), exact %v", p.DeadProbability, p.DeadBound, exact)
	}
}
