package weightinit

import (
	"math"
	"slices"
	"sort"
)

// Fit is what the values of one tensor say about the law they were drawn from.
//
// All moments are computed in units of the tensor's largest magnitude, so no
// power over- or underflows: Kurtosis, KS and Family are right at any scale.
// Var, C and the interval are in the tensor's own units and so overflow to
// +Inf when the standard deviation exceeds about 1e154, and underflow to 0
// below about 1e-162.
type Fit struct {
	// N is the number of finite values used; NonFinite counts the NaN and
	// infinite values left out.
	N, NonFinite int
	// Mean is the empirical mean and MeanSE its standard error sqrt(Var/N).
	Mean, MeanSE float64
	// Var is the empirical variance, divided by N-1 (0 when N < 2).
	Var float64
	// C is fanIn*Var, and [CLow, CHigh] its 95% confidence interval
	// fanIn*(Var -+ 1.96 SE), with the delta-method standard error of the
	// sample variance SE = sqrt((m4 - Var^2 (N-3)/(N-1))/N), valid for any
	// law with a fourth moment (m4 is the 4th central moment), floored at
	// Var sqrt(2/(N(N-1))), the least it is for any law (that of a
	// Rademacher law, kurtosis 1). CLow is clamped at 0. All three are NaN
	// when fanIn <= 0.
	C, CLow, CHigh float64
	// Kurtosis is m4/m2^2, with m2 and m4 the central moments divided by N
	// (the plug-in estimate: m2 = Var (N-1)/N). KurtosisSE is its
	// delta-method standard error, from the sample moments up to the 8th.
	// Both are NaN for a constant tensor.
	Kurtosis, KurtosisSE float64
	// Family is the best-fitting family among Normal, Uniform, TruncNormal
	// and Rademacher, each taken with mean 0 and variance Var: the smallest
	// KS. A normal cut at +-2 sd is reported as TruncNormal whatever its
	// variance rule, so that TruncNormal's realised variance is Var. Family
	// is Zero for a constant tensor (zero or not: a nonzero constant is no
	// symmetric law, and its KS of 1 says so), and "" when N is 0.
	Family Family
	// KS is the Kolmogorov-Smirnov distance sup |F_n - F| between the
	// empirical CDF of the values and the CDF of Family with mean 0 and
	// variance Var, and KSCritical its 5% critical value 1.358/sqrt(n), n
	// the number of values KS used: all finite values up to 65536, else one
	// value picked at random (a fixed-seed Stream) from each of 65536 equal
	// consecutive blocks of them, so that the pick follows no period of the
	// tensor's layout. The variance being estimated makes the test
	// conservative (Lilliefors). The exception is Rademacher: its atoms are
	// put at +-median|x|, not +-sqrt(Var), since data of two values +-r has
	// Var = r^2 only up to O(1/N) and a KS distance to atoms displaced that
	// much is 1/2. For a constant tensor the law is the point mass at 0: KS
	// is 0 for all zeros, 1 otherwise.
	KS, KSCritical float64
	// Alternatives lists every candidate family with its KS distance, best
	// first (ties in the order Normal, Uniform, TruncNormal, Rademacher).
	Alternatives []Alternative
	// Constant reports that all finite values are equal (then Var is 0).
	Constant bool

	fanIn int // the fan-in C was computed with, for Law
}

// Alternative is one candidate family of a Fit and its KS distance.
type Alternative struct {
	Family Family
	KS     float64
}

// ksMaxValues is the most values the KS distance uses.
const ksMaxValues = 1 << 16

// ksSeed seeds the Stream that picks the KS values of a large tensor.
const ksSeed = 0x5eed

// z95 is the two-sided 95% quantile of the standard normal.
const z95 = 1.96

// fitFamilies are the candidate families, in the order that breaks ties.
var fitFamilies = []Family{Normal, Uniform, TruncNormal, Rademacher}

// FitTensor fits a symmetric law to the values of one tensor of a layer with
// these fans. NaN and infinite values are counted and left out. fanOut does
// not enter the fit (c is defined by fan_in); Fit.Preset takes both fans.
func FitTensor(values []float64, fanIn, fanOut int) Fit {
	nan := math.NaN()
	f := Fit{Mean: nan, MeanSE: nan, Var: nan, C: nan, CLow: nan, CHigh: nan,
		Kurtosis: nan, KurtosisSE: nan, KS: nan, KSCritical: nan, fanIn: fanIn}
	vals, lo, hi := finiteValues(values)
	f.N, f.NonFinite = len(vals), len(values)-len(vals)
	if f.N == 0 {
		return f
	}
	f.KSCritical = 1.358 / math.Sqrt(float64(min(f.N, ksMaxValues)))
	if lo == hi {
		return constantFit(f, lo+0) // +0 turns -0 into 0
	}
	m := centralMoments(vals, max(-lo, hi))
	f.Mean = m.scale * m.mean
	sdUnits := math.Sqrt(m.m2 * float64(f.N) / float64(f.N-1)) // sd / scale
	sd := m.scale * sdUnits
	f.Var = sd * sd
	f.MeanSE = sd / math.Sqrt(float64(f.N))
	f.Kurtosis, f.KurtosisSE = m.kurtosis()
	f.C, f.CLow, f.CHigh = cInterval(m, fanIn)
	f.Alternatives = fitShapes(ksSample(vals, m.scale, sdUnits))
	f.Family, f.KS = f.Alternatives[0].Family, f.Alternatives[0].KS
	return f
}

// constantFit completes the fit of a tensor whose finite values all equal v.
func constantFit(f Fit, v float64) Fit {
	f.Constant, f.Family = true, Zero
	f.Mean, f.MeanSE, f.Var = v, 0, 0
	f.KS = 0
	if v != 0 {
		f.KS = 1
	}
	f.Alternatives = []Alternative{{Zero, f.KS}}
	if f.fanIn > 0 {
		f.C, f.CLow, f.CHigh = 0, 0, 0
	}
	return f
}

// isFinite reports whether x is neither NaN nor infinite.
func isFinite(x float64) bool { return x-x == 0 }

// finiteValues returns the finite values (values itself when all are) and
// their smallest and largest.
func finiteValues(values []float64) (vals []float64, lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	n := 0
	for _, x := range values {
		if isFinite(x) {
			n++
			lo, hi = min(lo, x), max(hi, x)
		}
	}
	if n == len(values) {
		return values, lo, hi
	}
	vals = make([]float64, 0, n)
	for _, x := range values {
		if isFinite(x) {
			vals = append(vals, x)
		}
	}
	return vals, lo, hi
}

// moments are the mean and the central moments (divided by N) of a
// tensor's values in units of scale, their largest magnitude.
type moments struct {
	n                      float64
	scale, mean            float64
	m2, m3, m4, m5, m6, m8 float64
}

// centralMoments computes the moments of vals in units of scale > 0, in two
// passes: the mean, then the powers of the deviations from it (|d| <= 2,
// so no power overflows). m2 gets the corrected two-pass formula.
func centralMoments(vals []float64, scale float64) moments {
	m := moments{n: float64(len(vals)), scale: scale}
	var s float64
	for _, x := range vals {
		s += x / scale
	}
	m.mean = s / m.n
	var s1, s2, s3, s4, s5, s6, s8 float64
	for _, x := range vals {
		d := x/scale - m.mean
		d2 := d * d
		d4 := d2 * d2
		s1 += d
		s2 += d2
		s3 += d2 * d
		s4 += d4
		s5 += d4 * d
		s6 += d4 * d2
		s8 += d4 * d4
	}
	m.m2 = max((s2-s1*s1/m.n)/m.n, 0)
	m.m3, m.m4, m.m5, m.m6, m.m8 = s3/m.n, s4/m.n, s5/m.n, s6/m.n, s8/m.n
	return m
}

// kurtosis returns g = m4/m2^2 and its delta-method standard error, from
// the asymptotic variances and covariance of the sample central moments
// (Kendall & Stuart): Var(m2) = (m4 - m2^2)/n, Var(m4) = (m8 - m4^2 -
// 8 m3 m5 + 16 m2 m3^2)/n, Cov(m2, m4) = (m6 - m2 m4 - 4 m3^2)/n. For a
// normal law this is sqrt(24/n).
func (m moments) kurtosis() (g, se float64) {
	g = m.m4 / (m.m2 * m.m2)
	var2 := m.m4 - m.m2*m.m2
	var4 := m.m8 - m.m4*m.m4 - 8*m.m3*m.m5 + 16*m.m2*m.m3*m.m3
	cov := m.m6 - m.m2*m.m4 - 4*m.m3*m.m3
	d2 := -2 * m.m4 / (m.m2 * m.m2 * m.m2) // dg/dm2
	d4 := 1 / (m.m2 * m.m2)                // dg/dm4
	v := d2*d2*var2 + 2*d2*d4*cov + d4*d4*var4
	return g, math.Sqrt(max(v, 0) / m.n)
}

// cInterval returns c = fanIn*Var and its 95% interval, from the standard
// error of the sample variance; NaN when fanIn <= 0. The standard error is
// sqrt((m4 - Var^2 (N-3)/(N-1))/N), but no less than Var sqrt(2/(N(N-1))),
// its exact value for a two-point law: every law has kurtosis >= 1, so none
// has a smaller one, and the plug-in formula, a difference of two nearly
// equal terms there, would give a Rademacher tensor an interval too narrow
// to hold its own c.
func cInterval(m moments, fanIn int) (c, lo, hi float64) {
	if fanIn <= 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	n := m.n
	v := m.m2 * n / (n - 1) // Var / scale^2
	se := math.Sqrt(max(m.m4-v*v*(n-3)/(n-1), 0) / n)
	se = max(se, v*math.Sqrt(2/(n*(n-1))))
	inUnits := func(x float64) float64 { return float64(fanIn) * m.scale * (m.scale * x) }
	return inUnits(v), inUnits(max(v-z95*se, 0)), inUnits(v + z95*se)
}

// ksSample returns the values the KS distance uses, divided by the standard
// deviation (scale*sdUnits) and sorted: all of vals up to ksMaxValues, else
// one drawn from each of ksMaxValues equal consecutive blocks.
func ksSample(vals []float64, scale, sdUnits float64) []float64 {
	n := len(vals)
	z := make([]float64, min(n, ksMaxValues))
	if n <= ksMaxValues {
		for i, x := range vals {
			z[i] = x / scale / sdUnits
		}
	} else {
		r := NewStream(ksSeed, uint64(n))
		for i := range z {
			lo, hi := i*n/ksMaxValues, (i+1)*n/ksMaxValues
			z[i] = vals[lo+int(r.Uint64()%uint64(hi-lo))] / scale / sdUnits
		}
	}
	slices.Sort(z)
	return z
}

// fitShapes returns every candidate family's KS distance to the sorted
// standardized values z, best first.
func fitShapes(z []float64) []Alternative {
	alts := make([]Alternative, len(fitFamilies))
	for i, fam := range fitFamilies {
		alts[i] = Alternative{Family: fam}
		if fam == Rademacher {
			alts[i].KS = ksTwoPoint(z, medianAbs(z))
		} else {
			alts[i].KS = ksContinuous(z, standardCDF(fam))
		}
	}
	sort.SliceStable(alts, func(i, j int) bool { return alts[i].KS < alts[j].KS })
	return alts
}

// phi is the standard normal CDF.
func phi(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// standardCDF is the CDF of a continuous family with mean 0 and variance 1.
func standardCDF(fam Family) func(float64) float64 {
	switch fam {
	case Uniform:
		a := math.Sqrt(3)
		return func(x float64) float64 { return min(max((x+a)/(2*a), 0), 1) }
	case TruncNormal:
		s := 1 / math.Sqrt(truncVar) // the sd of the normal before the cut
		lo, mass := phi(-2), phi(2)-phi(-2)
		return func(x float64) float64 { return min(max((phi(x/s)-lo)/mass, 0), 1) }
	}
	return phi
}

// ksContinuous is sup |F_n - F| for sorted z and a continuous CDF F: at each
// distinct value v, F_n jumps from (values < v)/n to (values <= v)/n.
func ksContinuous(z []float64, cdf func(float64) float64) float64 {
	n := float64(len(z))
	d := 0.0
	for i := 0; i < len(z); {
		j := i + 1
		for j < len(z) && z[j] == z[i] {
			j++
		}
		f := cdf(z[i])
		d = max(d, f-float64(i)/n, float64(j)/n-f)
		i = j
	}
	return d
}

// medianAbs is the lower median of |z| for sorted z, merging the negative
// values (read backwards) with the others.
func medianAbs(z []float64) float64 {
	neg := sort.SearchFloat64s(z, 0) // z[:neg] < 0
	i, j := neg-1, neg
	var a float64
	for k := 0; k <= (len(z)-1)/2; k++ {
		if j >= len(z) || (i >= 0 && -z[i] < z[j]) {
			a = -z[i]
			i--
		} else {
			a = z[j]
			j++
		}
	}
	return a
}

// ksTwoPoint is sup |F_n - F| for sorted z and F the law of +-r with
// probability 1/2 each (the point mass at 0 when r is 0). F is constant on
// (-inf, -r), [-r, r) and [r, inf), so the sup is at their ends.
func ksTwoPoint(z []float64, r float64) float64 {
	n := float64(len(z))
	// below(x) is F_n(x-), upTo(x) is F_n(x).
	below := func(x float64) float64 { return float64(sort.SearchFloat64s(z, x)) / n }
	upTo := func(x float64) float64 {
		return float64(sort.Search(len(z), func(i int) bool { return z[i] > x })) / n
	}
	if r == 0 {
		return max(below(0), 1-upTo(0))
	}
	return max(below(-r), math.Abs(upTo(-r)-0.5), math.Abs(below(r)-0.5), 1-upTo(r))
}

// shape is the family a preset's weights look like: a corrected truncated
// normal has the shape of TruncNormal.
func shape(fam Family) Family {
	if fam == TruncNormalCorrected {
		return TruncNormal
	}
	return fam
}

// Preset returns the name of the preset (Presets) whose weight law this fit
// matches: a fit that passes the KS test (KS <= KSCritical), whose Family
// is the preset's shape (Normal, Uniform, TruncNormal, Rademacher; a
// TruncNormalCorrected preset has the TruncNormal shape), with the preset's
// realised c = fanIn*Law.Variance(fanIn, fanOut) inside [CLow, CHigh].
// fanIn should be the one given to FitTensor. When several presets match
// (he-normal and glorot-normal's c can coincide), the one whose c is
// closest to C wins, and presets of equal c (glorot-uniform and
// keras-default) go by name order. "", false when none matches, for a
// constant tensor and when fanIn <= 0.
func (f Fit) Preset(fanIn, fanOut int) (string, bool) {
	if f.Constant || fanIn <= 0 || !(f.KS <= f.KSCritical) {
		return "", false
	}
	best, bestDist := "", math.Inf(1)
	for _, p := range Presets() {
		if shape(p.Weight.Family) != f.Family {
			continue
		}
		c := float64(fanIn) * p.Weight.Variance(fanIn, fanOut)
		if d := math.Abs(c - f.C); c >= f.CLow && c <= f.CHigh && d < bestDist {
			best, bestDist = p.Name, d
		}
	}
	return best, best != ""
}

// Law returns the fitted law: Family with the rule C'/fan_in, C' =
// fanIn*Var/Family.VarianceFactor(), so that Law.Variance(fanIn, fanOut)
// is the measured Var for the fanIn given to FitTensor (any fanOut); with
// fanIn <= 0 the rule is the fixed variance Var/VarianceFactor. The law is
// symmetric: the mean is left out. A constant tensor, or one with no finite
// values, gets the Zero law; a nonzero constant is no symmetric law, and
// callers must report it (Constant with Mean != 0).
func (f Fit) Law() Law {
	if f.Constant || f.Family == "" || f.Family == Zero {
		return Law{Family: Zero}
	}
	v := f.Var / f.Family.VarianceFactor()
	if f.fanIn <= 0 {
		return Law{Family: f.Family, Rule: Rule{C: v, Fan: FanFixed}}
	}
	return Law{Family: f.Family, Rule: Rule{C: float64(f.fanIn) * v, Fan: FanIn}}
}
