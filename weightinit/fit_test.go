package weightinit

import (
	"math"
	"slices"
	"sort"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
	"gonum.org/v1/gonum/stat/distuv"
)

// drawTensor draws n values of family fam at nominal variance v, rounded to
// float32 as a framework's tensor would be.
func drawTensor(fam Family, v float64, n int, seed uint64) []float64 {
	buf := make([]float32, n)
	fam.NewSampler(v).Fill(NewStream(seed, 7), buf)
	out := make([]float64, n)
	for i, x := range buf {
		out[i] = float64(x)
	}
	return out
}

// TestFitRecoversFamily draws 65536 values from every family at several
// variances and checks the family, the KS test against the right and the
// wrong families, c against its interval, the kurtosis against the
// family's, and that the fitted law has the measured variance.
func TestFitRecoversFamily(t *testing.T) {
	const n = 1 << 16
	const fanIn, fanOut = 300, 120
	for fi, fam := range []Family{Normal, Uniform, TruncNormal, TruncNormalCorrected, Rademacher} {
		for vi, v := range []float64{2.0 / fanIn, 1.0 / (3 * fanIn), 1e-4} {
			f := FitTensor(drawTensor(fam, v, n, uint64(10*fi+vi)), fanIn, fanOut)
			want := shape(fam)
			if f.Family != want || f.N != n || f.NonFinite != 0 || f.Constant {
				t.Errorf("%s v=%g: family %q (n %d, non-finite %d, constant %v), want %q", fam, v, f.Family, f.N, f.NonFinite, f.Constant, want)
			}
			if crit := 1.358 / 256; f.KSCritical != crit {
				t.Errorf("%s v=%g: KS critical value %v, want %v", fam, v, f.KSCritical, crit)
			}
			if len(f.Alternatives) != len(fitFamilies) || f.Alternatives[0] != (Alternative{f.Family, f.KS}) {
				t.Errorf("%s v=%g: alternatives %v do not start with the fit %s %v", fam, v, f.Alternatives, f.Family, f.KS)
			}
			for i, a := range f.Alternatives {
				switch {
				case a.Family == want && a.KS > f.KSCritical:
					t.Errorf("%s v=%g: KS %v to the right family exceeds %v", fam, v, a.KS, f.KSCritical)
				case a.Family != want && a.KS <= f.KSCritical:
					t.Errorf("%s v=%g: KS %v to the wrong family %s is within %v", fam, v, a.KS, a.Family, f.KSCritical)
				case i > 0 && a.KS < f.Alternatives[i-1].KS:
					t.Errorf("%s v=%g: alternatives %v not sorted", fam, v, f.Alternatives)
				}
			}
			if c := fanIn * v * fam.VarianceFactor(); c < f.CLow || c > f.CHigh || !relClose(f.C, fanIn*f.Var, 1e-14) {
				t.Errorf("%s v=%g: true c %v outside [%v, %v] (C %v)", fam, v, c, f.CLow, f.CHigh, f.C)
			}
			// Rademacher's kurtosis SE is 0 to first order; its sample
			// kurtosis is 1 + 4 mean^2/Var + ..., off by O(1/n).
			if tol := 4*f.KurtosisSE + 50.0/n; math.Abs(f.Kurtosis-fam.Kurtosis()) > tol {
				t.Errorf("%s v=%g: kurtosis %v +- %v, want %v", fam, v, f.Kurtosis, f.KurtosisSE, fam.Kurtosis())
			}
			l := f.Law()
			if got := l.Variance(fanIn, fanOut); l.Family != want || !relClose(got, f.Var, 1e-12) {
				t.Errorf("%s v=%g: fitted law %v has variance %v, want %s with %v", fam, v, l, got, want, f.Var)
			}
		}
	}
}

// TestNormalUniformSeparated checks that the KS distance tells a normal from
// a uniform tensor by far more than the critical value at n = 65536.
func TestNormalUniformSeparated(t *testing.T) {
	for _, fam := range []Family{Normal, Uniform} {
		f := FitTensor(drawTensor(fam, 1, 1<<16, 3), 10, 10)
		for _, a := range f.Alternatives {
			if (a.Family == Normal || a.Family == Uniform) && a.Family != fam && a.KS < 5*f.KSCritical {
				t.Errorf("%s tensor: KS to %s is %v, not clearly above %v", fam, a.Family, a.KS, f.KSCritical)
			}
		}
	}
}

// TestFitCoverage checks over 200 seeds that the 95% interval of c covers
// the true c between 90% and 99% of the time (at least 90% for a Rademacher
// law, whose interval needs the two-point floor of the SE), and that
// KurtosisSE matches both the spread of the kurtosis over the seeds and its
// closed form for the normal and uniform laws.
func TestFitCoverage(t *testing.T) {
	const seeds, n, fanIn = 200, 5000, 50
	// Closed-form SE of the kurtosis: sqrt(24/n) for a normal; for a
	// uniform, the delta method with the standardized moments mu_k =
	// 3^(k/2)/(k+1) (mu_4 = 1.8, mu_6 = 27/7, mu_8 = 9, odd ones 0) and the
	// gradient (-2 mu_4, 1) of m4/m2^2 gives (2*1.8)^2 Var(m2) - 2*(2*1.8)
	// Cov(m2, m4) + Var(m4), over n, with Var(m2) = 1.8-1, Cov = 27/7-1.8
	// and Var(m4) = 9-1.8^2.
	uniformVar := 3.6*3.6*0.8 - 2*3.6*(27.0/7-1.8) + 9 - 1.8*1.8
	wantSE := map[Family]float64{Normal: math.Sqrt(24.0 / n), Uniform: math.Sqrt(uniformVar / n)}
	for _, fam := range []Family{Normal, Uniform, TruncNormalCorrected, Rademacher} {
		covered := 0
		var ks, ks2, se float64
		for s := 0; s < seeds; s++ {
			f := FitTensor(drawTensor(fam, 2.0/fanIn, n, uint64(1000+s)), fanIn, fanIn)
			if f.CLow <= 2 && 2 <= f.CHigh {
				covered++
			}
			ks += f.Kurtosis
			ks2 += f.Kurtosis * f.Kurtosis
			se += f.KurtosisSE
		}
		// A Rademacher tensor's plug-in m4 grows with its mean^2, exactly
		// when its Var strays from the law's: its interval is conservative.
		if rate := float64(covered) / seeds; rate < 0.90 || (rate > 0.99 && fam != Rademacher) {
			t.Errorf("%s: c's 95%% interval covered 2 in %v of %d tensors", fam, rate, seeds)
		}
		if _, ok := wantSE[fam]; !ok {
			continue
		}
		mean := ks / seeds
		spread := math.Sqrt((ks2 - seeds*mean*mean) / (seeds - 1))
		se /= seeds
		// The spread of 200 draws is within 5% of the true SE, 1 SD.
		if !scalar.EqualWithinRel(spread, wantSE[fam], 0.2) || !scalar.EqualWithinRel(se, wantSE[fam], 0.1) {
			t.Errorf("%s: kurtosis spread %v and mean SE %v, want %v", fam, spread, se, wantSE[fam])
		}
	}
}

// bruteKS is sup |F_n - F| found the slow way: F_n counted at every value
// and just left of it, and at F's jumps and just left of them.
func bruteKS(x []float64, cdf func(float64) float64, jumps []float64) float64 {
	n := float64(len(x))
	fn := func(t float64, strict bool) float64 {
		c := 0
		for _, y := range x {
			if y < t || (!strict && y == t) {
				c++
			}
		}
		return float64(c) / n
	}
	d := 0.0
	for _, t := range append(slices.Clone(x), jumps...) {
		left := math.Nextafter(t, math.Inf(-1))
		d = max(d, math.Abs(fn(t, false)-cdf(t)), math.Abs(fn(t, true)-cdf(left)))
	}
	return d
}

// TestKSAgainstBruteForce compares every candidate's KS distance with a
// brute-force O(n^2) computation against gonum's CDFs, on tensors with
// ties (repeated values) and on two-valued data.
func TestKSAgainstBruteForce(t *testing.T) {
	base := drawTensor(Normal, 0.5, 1500, 11)
	base = append(base, base[:300]...) // ties
	for _, x := range [][]float64{base, drawTensor(Uniform, 3, 1000, 12), drawTensor(Rademacher, 2, 999, 13)} {
		f := FitTensor(x, 7, 7)
		sd := math.Sqrt(f.Var)
		norm := distuv.Normal{Mu: 0, Sigma: sd}
		a := math.Sqrt(3) * sd
		unif := distuv.Uniform{Min: -a, Max: a}
		s := sd / math.Sqrt(TruncatedVariance())
		trunc := func(t float64) float64 {
			if math.Abs(t) >= 2*s {
				return max(math.Copysign(1, t), 0)
			}
			return (norm.CDF(t*sd/s) - norm.CDF(-2*sd)) / (norm.CDF(2*sd) - norm.CDF(-2*sd))
		}
		abs := make([]float64, len(x))
		for i, y := range x {
			abs[i] = math.Abs(y)
		}
		sort.Float64s(abs)
		r := abs[(len(abs)-1)/2]
		rad := func(t float64) float64 {
			switch {
			case t < -r:
				return 0
			case t < r:
				return 0.5
			}
			return 1
		}
		want := map[Family]float64{
			Normal:      bruteKS(x, norm.CDF, nil),
			Uniform:     bruteKS(x, func(t float64) float64 { return min(max(unif.CDF(t), 0), 1) }, nil),
			TruncNormal: bruteKS(x, trunc, nil),
			Rademacher:  bruteKS(x, rad, []float64{-r, r}),
		}
		for _, alt := range f.Alternatives {
			if !scalar.EqualWithinAbs(alt.KS, want[alt.Family], 1e-12) {
				t.Errorf("n=%d %s: KS %v, brute force %v", len(x), alt.Family, alt.KS, want[alt.Family])
			}
		}
	}
}

// TestKSTwoPointCases checks the two-point KS distance on small cases
// worked by hand.
func TestKSTwoPointCases(t *testing.T) {
	cases := []struct {
		z    []float64
		r, d float64
	}{
		{[]float64{-1, 1}, 1, 0},
		{[]float64{-1, -1, -1, 1}, 1, 0.25},
		{[]float64{-1, 1}, 2, 0.5},               // atoms outside the data
		{[]float64{-2, -1, 1, 2}, 1, 0.25},       // F_n(-1-) = 1/4
		{[]float64{-1, 0, 0, 1}, 0, 0.25},        // point mass at 0
		{[]float64{-3, -2, 2, 3}, 2.5, 0.25},     // F_n(-2.5) = 1/4 vs 0
		{[]float64{-1, -0.5, 0.5, 1}, 0.5, 0.25}, // F_n(-0.5-) = 1/4
	}
	for _, c := range cases {
		if got := ksTwoPoint(c.z, c.r); got != c.d {
			t.Errorf("ksTwoPoint(%v, %v) = %v, want %v", c.z, c.r, got, c.d)
		}
	}
	if got := medianAbs([]float64{-5, -3, -1, 2, 4}); got != 3 {
		t.Errorf("median |z| of -5 -3 -1 2 4 is %v, want 3", got)
	}
	if got := medianAbs([]float64{-4, -1, 2, 3}); got != 2 {
		t.Errorf("lower median |z| of -4 -1 2 3 is %v, want 2", got)
	}
}

// TestFitMomentsByHand checks the moments and the interval on five values
// worked by hand: 1 2 3 4 10 have mean 4, squared deviations summing to 50
// (Var 12.5, m2 10) and fourth powers summing to 1394 (m4 278.8).
func TestFitMomentsByHand(t *testing.T) {
	f := FitTensor([]float64{1, 2, 10, 3, 4}, 2, 9)
	se := math.Sqrt((278.8 - 12.5*12.5*2.0/4) / 5)
	want := []float64{4, math.Sqrt(12.5 / 5), 12.5, 25, 2 * (12.5 - 1.96*se), 2 * (12.5 + 1.96*se), 278.8 / 100}
	got := []float64{f.Mean, f.MeanSE, f.Var, f.C, f.CLow, f.CHigh, f.Kurtosis}
	for i := range want {
		if !scalar.EqualWithinRel(got[i], want[i], 1e-13) {
			t.Errorf("mean, SE, var, c, c_low, c_high, kurtosis = %v, want %v", got, want)
			break
		}
	}
	if f.N != 5 || f.Constant {
		t.Errorf("N %d constant %v", f.N, f.Constant)
	}
	// A wide spread clamps CLow at 0.
	if g := FitTensor([]float64{0, 0, 0, 0, 0, 0, 0, 100}, 3, 3); g.CLow != 0 || !(g.CHigh > g.C) {
		t.Errorf("one outlier: interval [%v, %v], want CLow clamped to 0", g.CLow, g.CHigh)
	}
}

// TestPreset checks that framework-drawn tensors are recognised.
func TestPreset(t *testing.T) {
	cases := []struct {
		fam           Family
		v             float64
		fanIn, fanOut int
		want          string
	}{
		// torch.nn.Conv2d(64, 128, 3): U(+-1/sqrt(576)).
		{Uniform, 1.0 / (3 * 576), 576, 1152, "pytorch-default"},
		{Normal, 2.0 / 576, 576, 1152, "he-normal"},
		{Uniform, 2.0 / 576, 576, 1152, "he-uniform"},
		{TruncNormal, 2.0 / 576, 576, 1152, "he-truncated"},
		{TruncNormalCorrected, 2.0 / 576, 576, 1152, "he-truncated-corrected"},
		{Rademacher, 2.0 / 576, 576, 1152, "he-rademacher"},
		{Normal, 2.0 / 1728, 576, 1152, "glorot-normal"},
		// Square layer: glorot-uniform, keras-default and lecun-uniform all
		// have c = 1; the first by name wins.
		{Uniform, 1.0 / 400, 400, 400, "glorot-uniform"},
		{Normal, 5.0 / 576, 576, 1152, ""},
	}
	for _, c := range cases {
		f := FitTensor(drawTensor(c.fam, c.v, c.fanIn*64, 5), c.fanIn, c.fanOut)
		got, ok := f.Preset(c.fanIn, c.fanOut)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("%s v=%g fans %d,%d: preset %q %v, want %q (C %v in [%v, %v], %s KS %v)",
				c.fam, c.v, c.fanIn, c.fanOut, got, ok, c.want, f.C, f.CLow, f.CHigh, f.Family, f.KS)
		}
		if c.want == "pytorch-default" && !scalar.EqualWithinAbs(f.C, 1.0/3, 4*(f.CHigh-f.C)/1.96) {
			t.Errorf("pytorch-default: C %v, want 1/3", f.C)
		}
	}
	f := FitTensor(drawTensor(Normal, 2.0/576, 576*64, 5), 0, 10)
	if p, ok := f.Preset(0, 10); ok || p != "" {
		t.Errorf("fan-in 0: preset %q %v", p, ok)
	}
}

// TestFitEdgeCases checks empty, constant and non-finite input.
func TestFitEdgeCases(t *testing.T) {
	for _, in := range [][]float64{nil, {}, {math.NaN(), math.Inf(1)}} {
		f := FitTensor(in, 4, 4)
		if f.N != 0 || f.NonFinite != len(in) || f.Family != "" || f.Constant || f.Alternatives != nil {
			t.Errorf("%v: %+v", in, f)
		}
		for _, x := range []float64{f.Mean, f.MeanSE, f.Var, f.C, f.CLow, f.CHigh, f.Kurtosis, f.KurtosisSE, f.KS, f.KSCritical} {
			if !math.IsNaN(x) {
				t.Errorf("%v: %+v, want NaN statistics", in, f)
				break
			}
		}
		if f.Law().Family != Zero {
			t.Errorf("%v: law %v, want zero", in, f.Law())
		}
		if _, ok := f.Preset(4, 4); ok {
			t.Errorf("%v: matched a preset", in)
		}
	}
	for _, c := range []struct {
		in     []float64
		mean   float64
		ks     float64
		finite int
	}{
		{make([]float64, 1000), 0, 0, 1000},
		{[]float64{math.Copysign(0, -1), 0}, 0, 0, 2},
		{[]float64{0.5, 0.5, 0.5, math.NaN()}, 0.5, 1, 3},
		{[]float64{-3}, -3, 1, 1},
	} {
		f := FitTensor(c.in, 8, 8)
		if !f.Constant || f.Family != Zero || f.Mean != c.mean || f.Var != 0 || f.MeanSE != 0 || f.C != 0 ||
			f.CLow != 0 || f.CHigh != 0 || f.KS != c.ks || f.N != c.finite || !math.IsNaN(f.Kurtosis) {
			t.Errorf("constant %v: %+v", c.in, f)
		}
		if math.Signbit(f.Mean) && f.Mean == 0 {
			t.Errorf("constant %v: mean -0", c.in)
		}
		if f.KSCritical != 1.358/math.Sqrt(float64(c.finite)) {
			t.Errorf("constant %v: critical value %v", c.in, f.KSCritical)
		}
		if f.Law().Family != Zero || !f.Law().IsZero() {
			t.Errorf("constant %v: law %v, want zero", c.in, f.Law())
		}
		if _, ok := f.Preset(8, 8); ok {
			t.Errorf("constant %v: matched a preset", c.in)
		}
	}
	x := drawTensor(Uniform, 1, 5000, 9)
	mixed := slices.Clone(x)
	mixed = slices.Insert(mixed, 100, math.NaN(), math.Inf(-1))
	mixed = append(mixed, math.Inf(1))
	want, got := FitTensor(x, 5, 5), FitTensor(mixed, 5, 5)
	if got.NonFinite != 3 {
		t.Errorf("non-finite %d, want 3", got.NonFinite)
	}
	got.NonFinite = 0
	if !sameFit(got, want) {
		t.Errorf("with NaN and Inf mixed in: %+v, want %+v", got, want)
	}
}

// relClose reports whether |a-b| <= tol max(|a|, |b|), at any magnitude
// (gonum's EqualWithinRel turns absolute below the smallest normal float).
func relClose(a, b, tol float64) bool { return math.Abs(a-b) <= tol*max(math.Abs(a), math.Abs(b)) }

// sameFit reports whether two fits agree exactly.
func sameFit(a, b Fit) bool {
	return a.N == b.N && a.NonFinite == b.NonFinite && a.Mean == b.Mean && a.Var == b.Var && a.C == b.C &&
		a.CLow == b.CLow && a.CHigh == b.CHigh && a.Kurtosis == b.Kurtosis && a.KurtosisSE == b.KurtosisSE &&
		a.Family == b.Family && a.KS == b.KS && a.KSCritical == b.KSCritical && slices.Equal(a.Alternatives, b.Alternatives)
}

// TestFitScales checks that the fit works at extreme magnitudes: c is right
// wherever it is representable (values near 1e150 and 1e153, whose squares
// summed naively overflow at 1e153, and near 1e-150, whose fourth powers
// underflow), and the shape statistics stay right at 1e+-200 and 1e+-300,
// where Var itself over- or underflows.
func TestFitScales(t *testing.T) {
	x := drawTensor(Normal, 1, 20000, 21)
	base := FitTensor(x, 16, 16)
	for _, s := range []float64{1e150, 1e-150, 1e153, 1e200, 1e-200, 1e300, 1e-300} {
		y := make([]float64, len(x))
		for i, v := range x {
			y[i] = v * s
		}
		f := FitTensor(y, 16, 16)
		if f.Family != base.Family || !relClose(f.Kurtosis, base.Kurtosis, 1e-12) ||
			!scalar.EqualWithinAbs(f.KS, base.KS, 1e-12) || !relClose(f.KurtosisSE, base.KurtosisSE, 1e-12) {
			t.Errorf("scale %g: %s kurtosis %v KS %v, want %s %v %v", s, f.Family, f.Kurtosis, f.KS, base.Family, base.Kurtosis, base.KS)
		}
		if !relClose(f.Mean, base.Mean*s, 1e-12) || !relClose(f.MeanSE, base.MeanSE*s, 1e-12) {
			t.Errorf("scale %g: mean %v +- %v, want %v +- %v", s, f.Mean, f.MeanSE, base.Mean*s, base.MeanSE*s)
		}
		if s > 1e160 || s < 1e-160 {
			continue
		}
		for i, got := range []float64{f.C, f.CLow, f.CHigh, f.Var} {
			want := []float64{base.C, base.CLow, base.CHigh, base.Var}[i] * s * s
			if math.IsInf(got, 0) || !relClose(got, want, 1e-12) {
				t.Errorf("scale %g: C, CLow, CHigh, Var [%d] = %v, want %v", s, i, got, want)
			}
		}
		if got := f.Law().Variance(16, 16); !relClose(got, f.Var, 1e-12) {
			t.Errorf("scale %g: law variance %v, want %v", s, got, f.Var)
		}
	}
}

// TestFitLargeTensor checks a tensor above the KS sample size: the
// critical value uses 65536 values, the result is deterministic, the input
// is left as it was, and the stratified pick does not alias with a layout
// whose every 36th value (2359296/65536) differs from the rest.
func TestFitLargeTensor(t *testing.T) {
	const n = 512 * 512 * 9
	x := drawTensor(Normal, 2.0/4608, n, 31)
	orig := slices.Clone(x)
	f, g := FitTensor(x, 4608, 4608), FitTensor(x, 4608, 4608)
	if !sameFit(f, g) || !slices.Equal(x, orig) {
		t.Fatal("FitTensor is not deterministic or modified its input")
	}
	if f.KSCritical != 1.358/256 || f.Family != Normal || f.KS > f.KSCritical {
		t.Errorf("large tensor: %s KS %v critical %v", f.Family, f.KS, f.KSCritical)
	}
	if p, _ := f.Preset(4608, 4608); p != "he-normal" {
		t.Errorf("large He tensor: preset %q", p)
	}
	// Zero every value but one in 36: a strided pick of stride 36 would
	// see a normal tensor or a zero one; a stratified one sees the mix.
	for i := range x {
		if i%36 != 0 {
			x[i] = 0
		}
	}
	if h := FitTensor(x, 4608, 4608); h.KS <= h.KSCritical {
		t.Errorf("sparse tensor fits %s with KS %v", h.Family, h.KS)
	}
}

// TestLawVariance checks the fitted law's rule for every family, and the
// fixed rule without a fan-in.
func TestLawVariance(t *testing.T) {
	for _, fam := range []Family{Normal, Uniform, TruncNormal, Rademacher} {
		f := FitTensor(drawTensor(fam, 0.02, 3000, 41), 100, 30)
		l := f.Law()
		if l.Family != fam || l.Rule.Fan != FanIn || !scalar.EqualWithinRel(l.Variance(100, 30), f.Var, 1e-12) ||
			!scalar.EqualWithinRel(l.Variance(100, 7), f.Var, 1e-12) {
			t.Errorf("%s: law %v variance %v, want %v", fam, l, l.Variance(100, 30), f.Var)
		}
		g := FitTensor(drawTensor(fam, 0.02, 3000, 41), 0, 30)
		if l := g.Law(); l.Rule.Fan != FanFixed || !scalar.EqualWithinRel(l.Variance(5, 30), g.Var, 1e-12) || !math.IsNaN(g.C) {
			t.Errorf("%s without fan-in: law %v, C %v", fam, l, g.C)
		}
	}
	// The truncated normal's nominal c is c/0.7737: its sampler draws the measured variance.
	f := FitTensor(drawTensor(TruncNormal, 0.02, 3000, 41), 100, 30)
	if c := f.Law().Rule.C; !scalar.EqualWithinRel(c, 100*f.Var/TruncatedVariance(), 1e-12) {
		t.Errorf("truncated normal: rule c %v, want %v", c, 100*f.Var/TruncatedVariance())
	}
}

// BenchmarkFitTensor fits a 512x512x3x3 conv weight (2.4 million values).
func BenchmarkFitTensor(b *testing.B) {
	x := drawTensor(Normal, 2.0/4608, 512*512*9, 1)
	b.ResetTimer()
	for b.Loop() {
		FitTensor(x, 4608, 4608)
	}
}
