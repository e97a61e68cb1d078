package theory

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/initscope/initscope/num"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/weightinit"
)

// rhoReLU is rho(x) = ||x||_1 / (sqrt(n) ||x||_2) of a ReLU-of-Gaussian
// vector at large width, 1/sqrt(pi) (THEORY 5).
var rhoReLU = 1 / math.Sqrt(math.Pi)

// interval is a natural log known exactly (lo == hi), within bounds, or not at
// all (NaN).
type interval struct{ lo, hi float64 }

func point(x float64) interval { return interval{x, x} }

var unknownInterval = interval{math.NaN(), math.NaN()}

func (v interval) known() bool { return !math.IsNaN(v.lo) && !math.IsNaN(v.hi) }

func (v interval) isPoint() bool { return v.lo == v.hi }

// meanMap is a layer's effect on E[M] in natural logs of units of M_0: given
// m = ln E[M_{j-1}]/M_0, lo(m) and hi(m) bound ln E[M_j]/M_0 (they are the same
// function where the mean is a point). Both increase with m.
type meanMap struct {
	lo, hi func(m float64) float64
	// exact says the map is exact, not an estimate or a bound.
	exact bool
	// homogeneous says the map is m -> m + const (no bias terms), so its
	// factor does not depend on m.
	homogeneous bool
	// constant says the map does not depend on m at all (a batch norm):
	// it applies even where E[M_{j-1}] is unknown.
	constant bool
}

// apply maps an interval of ln E[M_{j-1}]/M_0.
func (f meanMap) apply(m interval) interval {
	return interval{f.lo(m.lo), f.hi(m.hi)}
}

// factor returns the bounds of ln E[M_j]/E[M_{j-1}] over the interval m: the
// extremes of the map's two ends at the interval's two ends.
func (f meanMap) factor(m interval) interval {
	a, b := f.lo(m.lo)-m.lo, f.lo(m.hi)-m.hi
	c, d := f.hi(m.lo)-m.lo, f.hi(m.hi)-m.hi
	return interval{math.Min(math.Min(a, b), math.Min(c, d)), math.Max(math.Max(a, b), math.Max(c, d))}
}

// affine returns ln(a e^m + b) from the logs of a and b (-Inf for 0).
func affine(m, lnA, lnB float64) float64 { return num.LogAdd(lnA+m, lnB) }

// lnOf returns ln p for a product p >= 0 computed directly, as exact as
// float64 allows, where p is a normal float64, and otherwise lnP, the same
// logarithm summed from the logs of the factors (p has overflowed, or
// underflowed, or is Inf * 0 for a zero factor).
func lnOf(p, lnP float64) float64 {
	if p >= 0x1p-1022 && p <= math.MaxFloat64 {
		return math.Log(p)
	}
	return lnP
}

// reluRecord is what the empirical variance needs about one plain ReLU layer:
// ln E[M_j]/M_0, ln E[M_j^2]/M_0^2, and the affine map m -> A m + B (logs of
// A and B) of the conditional mean from this ReLU layer to the next one.
type reluRecord struct {
	mean, second float64
	lnA, lnB     float64
	// exact says the moments so far are exact.
	exact bool
}

// walker carries the state of the prediction from layer to layer.
type walker struct {
	g   *arch.Graph
	opt Options
	// m0 is the M_0 the bias terms are measured against (1 when biases are
	// zero and M_0 was not given: then nothing depends on it).
	m0 float64

	mean      interval // ln E[M_j]/M_0
	meanExact bool

	// plainGain is ln of the product of the zero-bias gains of the plain
	// (non-residual) layers; blocks holds the residual blocks, whose gains
	// and fluctuations the advice recomputes for other eta schedules.
	plainGain   float64
	plainGainHe float64 // plainGain with c = 2 in every layer
	plainFM2    float64
	// cMaxDev is the largest |ln(c/2)| of any weighted layer (coverage aside).
	cMaxDev    float64
	blocks     []block
	gainExact  bool
	cLogSum    float64 // sum of ln c over weighted ReLU layers, for the advice
	cCount     int
	plainReLUs int
	minWidth   int
	// noGain counts the layers whose gain has no closed form (pooling,
	// normalization, unrecognized parts), noFM2 the parts whose
	// fluctuations are left out of FM2 (pooling has none), and noMean
	// names the kind of the first layer without a mean map.
	noGain, noFM2 tally
	noMean        string

	second      float64 // ln E[M_j^2]/M_0^2, NaN unknown
	secondExact bool

	logMean, logVar float64 // moments of ln(M_j/M_0), NaN unknown
	logExact        bool
	logVarUpper     bool

	// The FM2 statistic: exactness and kind of the per-layer terms;
	// fm2Unknown counts the residual blocks without a term, fm2Missing the
	// other layers with a known mean whose fluctuations are left out (a
	// ReLU after an affine node).
	fm2Exact   bool
	fm2Upper   bool
	fm2Unknown int
	fm2Missing int

	beta      float64
	deadLog   float64 // ln P(no plain ReLU layer dead)
	deadBound string  // the kind of deadLog: BoundExact, BoundLower, ...

	// rhoLo is a lower bound on rho of the stream (THEORY 5): 1/sqrt(pi)
	// after a ReLU layer, 0 for other nonnegative streams, -1 when the sign
	// is unknown.
	rhoLo float64
	// l4 estimates ||x||_4^4/||x||_2^4 of the current activation.
	l4 float64
	// exchangeable says the law of the current activation does not change
	// when its channels are permuted (so every channel has the same
	// E[mean square]): true after a dense or conv layer, whose weights are
	// i.i.d. across output channels, and kept by layers that treat every
	// channel alike. symmetric says its law does not change when it is
	// negated (so every channel has mean 0): true after a linear dense or
	// conv layer, whose weights are symmetric. The input is neither.
	exchangeable, symmetric bool

	// relus records the plain ReLU layers for the empirical variance;
	// pendA and pendB are the conditional-mean map since the last of them.
	relus        []reluRecord
	pendA, pendB float64
	affineKnown  bool
	affineExact  bool
	// onlyDense says every layer so far is dense (or a flatten of a
	// vector), which the Jacobian moments need; jac lists those layers.
	onlyDense bool
	jac       []jacobianLayer

	// scheduleCache holds the residual schedules found for the advice, by
	// whether c = 2 was assumed: FM1 and FM2 share them.
	scheduleCache map[bool]schedules
}

func newWalker(g *arch.Graph, opt Options) *walker {
	w := &walker{
		g: g, opt: opt, m0: opt.M0,
		mean: point(0), meanExact: true, gainExact: true,
		second: 0, secondExact: true,
		logMean: 0, logVar: 0, logExact: true,
		fm2Exact: true, deadBound: BoundExact,
		rhoLo: -1, l4: opt.InputL4,
		pendA: 0, pendB: math.Inf(-1), affineKnown: true, affineExact: true,
		onlyDense: true,
	}
	if w.m0 == 0 {
		w.m0 = 1
	}
	if w.l4 == 0 {
		w.l4 = math.Min(1, 6/float64(g.Input().Size()))
	}
	return w
}

// step computes the prediction after layer i and advances the state.
func (w *walker) step(i int, l arch.Layer) Layer {
	out := Layer{
		Index: i + 1, Spec: l.String(), Out: l.Out.String(), Width: l.Width(), FanIn: l.FanIn(),
		Eta: num.Unknown, WeightVar: num.Unknown, BiasVar: num.Unknown, C: num.Unknown, Kurtosis: num.Unknown,
		Gain: num.Unknown, GainLower: num.Unknown, GainUpper: num.Unknown,
		MeanFactor: num.Unknown, MeanFactorLower: num.Unknown, MeanFactorUpper: num.Unknown,
		Log10MeanRatioLower: num.Unknown, Log10MeanRatioUpper: num.Unknown,
	}
	prev := w.mean
	var mm meanMap
	var known bool
	switch l.Kind {
	case arch.Dense, arch.Conv:
		mm, known = w.weighted(&out, l), true
	case arch.Residual:
		mm, known = w.residual(&out, l), true
	case arch.Affine:
		mm, known = w.affineLayer(&out, l)
	case arch.Flatten:
		out.Kind = "flatten"
		id := func(m float64) float64 { return m }
		mm, known = meanMap{lo: id, hi: id, exact: true, homogeneous: true}, true
		w.composeAffine(0, math.Inf(-1), true)
		w.onlyDense = w.onlyDense && !l.In.Spatial
		// The units of a flattened feature map are positions too, which
		// borders make unequal.
		w.exchangeable = w.exchangeable && l.In.H*l.In.W == 1
	case arch.MaxPool, arch.AvgPool, arch.GlobalAvgPool:
		out.Kind = string(l.Kind)
		w.unknown(&out, l, "pooling", "pooling layer", "no closed form for the mean factor of pooling: measure it with probe")
		if w.rhoLo >= 0 { // pooling keeps a stream nonnegative
			w.rhoLo = 0
		}
		// Every channel is pooled alike; an average of a symmetric
		// stream is symmetric, a maximum is not.
		w.symmetric = w.symmetric && l.Kind != arch.MaxPool
	case arch.Norm:
		out.Kind = string(l.Kind)
		mm, known = w.norm(&out, l)
	default: // arch.Other: a part of the graph that is no layer the theory knows
		out.Kind = string(arch.Other)
		out.Width, out.FanIn = 0, 0
		w.unknown(&out, l, "unrecognized part", "unrecognized part",
			fmt.Sprintf("no closed form for nodes %d-%d (%s), which form no layer the theory knows: measure them with probe", l.Nodes[0], l.Nodes[len(l.Nodes)-1], opsOf(w.g, l.Nodes)))
		w.noFM2.add("unrecognized part")
		w.rhoLo = -1
		w.exchangeable, w.symmetric = false, false
	}
	if known && (prev.known() || mm.constant) {
		w.mean = mm.apply(prev)
		w.meanExact = w.meanExact && mm.exact && prev.isPoint()
	} else {
		w.mean = unknownInterval
	}
	if known && (prev.known() || mm.homogeneous) {
		at := prev
		if mm.homogeneous {
			at = point(0)
		}
		f := mm.factor(at)
		if f.isPoint() {
			out.MeanFactor = num.Number(math.Exp(f.lo))
		} else {
			out.MeanFactorLower, out.MeanFactorUpper = num.Number(math.Exp(f.lo)), num.Number(math.Exp(f.hi))
		}
	}
	out.MeanExact = w.meanExact && w.mean.known()
	if w.mean.known() && w.mean.isPoint() {
		out.MeanRatio, out.Log10MeanRatio = num.FromLn(w.mean.lo)
	} else {
		out.MeanRatio, out.Log10MeanRatio = num.Unknown, num.Unknown
		if w.mean.known() {
			_, out.Log10MeanRatioLower = num.FromLn(w.mean.lo)
			_, out.Log10MeanRatioUpper = num.FromLn(w.mean.hi)
		}
	}
	out.SecondMomentRatio, out.Log10SecondMomentRatio = num.FromLn(w.second)
	out.SecondMomentExact = w.secondExact && !math.IsNaN(w.second)
	out.LogMean, out.LogVar = num.Number(w.logMean), num.Number(w.logVar)
	out.LogVarUpperBound = w.logVarUpper && !math.IsNaN(w.logVar)
	out.LogExact = w.logExact && !math.IsNaN(w.logMean)
	out.Exact = out.SecondMomentExact && out.LogExact
	out.DeadProbability = w.deadProbability()
	if l.HasWeights() && l.ReLU {
		w.recordReLU()
	}
	return out
}

// unknown records a layer that has no law: its row and everything
// downstream of it that depends on the mean or the moments are Unknown.
// what names its kind in the empirical variance's note, noun counts it in
// the verdicts' summaries.
func (w *walker) unknown(out *Layer, l arch.Layer, what, noun, note string) {
	out.Notes = append(out.Notes, note)
	w.noGain.add(noun)
	if w.noMean == "" {
		w.noMean = what
	}
	w.meanExact, w.gainExact = false, false
	w.second, w.logMean, w.logVar = math.NaN(), math.NaN(), math.NaN()
	w.secondExact, w.logExact = false, false
	w.affineKnown = false
	w.onlyDense = false
	w.l4 = math.Min(1, 6/float64(l.Out.Size()))
}

// law is what the theory needs about the weights of one dense or conv layer.
// The gain c and the bias term beta are carried with their natural logs,
// from which every product of them is computed where it leaves float64's
// range (lnOf), so that no variance float64 holds overflows.
type law struct {
	v, vb  float64 // realised weight and bias variance
	c      float64 // fan_in * v, times the conv coverage (+Inf or 0 beyond float64)
	lnC    float64 // ln c
	beta   float64 // vb / M_0 (+Inf or 0 beyond float64)
	lnBeta float64 // ln beta, -Inf without biases
	kappa  float64 // weight kurtosis
	kappaB float64 // bias kurtosis (3 when there are no biases: no term)
	// gaussian says the second moments are exact: Gaussian weights, zero or
	// Gaussian biases, a dense layer.
	gaussian bool
	// discrete says the pre-activations have a discrete law: Rademacher
	// weights with zero or Rademacher biases.
	discrete bool
	// zeroBias says there are no biases.
	zeroBias bool
	// cover is the conv coverage factor (1 for dense), coverExact whether
	// it is exact; lnFanV is ln(fan_in * v), c before the coverage.
	cover      float64
	coverExact bool
	lnFanV     float64
	// relu says a ReLU follows the layer; width is its width for the
	// fluctuation theory (units or output channels).
	relu  bool
	width int
}

// half is the share of E[M] a ReLU after the layer keeps: 1/2, or 1
// without one.
func (lw law) half() float64 {
	if lw.relu {
		return 0.5
	}
	return 1
}

// gain returns the logs of the factor by which the layer multiplies E[M] and
// of the bias term it adds, in units of M_0: c and beta, halved by a ReLU
// (THEORY 2).
func (lw law) gain() (lnA, lnB float64) {
	h := lw.half()
	return lnOf(lw.c*h, lw.lnC+math.Log(h)), lnOf(lw.beta*h, lw.lnBeta+math.Log(h))
}

// lawOf returns the law of a dense or conv layer's weights: its node's own
// (Options.Nodes) or Options.Init.
func (w *walker) lawOf(l arch.Layer) law {
	in := w.opt.initOf(l.Node.ID)
	fi, fo := l.FanIn(), l.FanOut()
	lw := law{v: in.Weight.Variance(fi, fo), kappa: in.Weight.Family.Kurtosis(), kappaB: 3, cover: 1, coverExact: true, relu: l.ReLU, width: l.Width()}
	lw.zeroBias = in.Bias.IsZero()
	if !lw.zeroBias {
		lw.vb = in.Bias.Variance(fi, fo)
		lw.kappaB = in.Bias.Family.Kurtosis()
		lw.zeroBias = lw.vb == 0
	}
	lw.beta, lw.lnBeta = lw.vb/w.m0, math.Log(lw.vb)-math.Log(w.m0)
	if l.Kind == arch.Conv {
		lw.cover, lw.coverExact = coverage(l)
	}
	lw.lnFanV = lnOf(float64(fi)*lw.v, math.Log(float64(fi))+math.Log(lw.v))
	lw.c = float64(fi) * lw.v * lw.cover
	lw.lnC = lnOf(lw.c, math.Log(float64(fi))+math.Log(lw.v)+math.Log(lw.cover))
	lw.gaussian = l.Kind == arch.Dense && lw.kappa == 3 && (lw.zeroBias || lw.kappaB == 3)
	lw.discrete = in.Weight.Family == weightinit.Rademacher && (lw.zeroBias || in.Bias.Family == weightinit.Rademacher)
	return lw
}

// lnCUncovered is ln(fan_in * v), c without the conv coverage (taken from
// c where it can be, to the last bit as it always was; a conv whose taps
// all land in the padding has c = 0, which says nothing of the weights).
func (lw law) lnCUncovered() float64 {
	if lw.cover == 0 {
		return lw.lnFanV
	}
	return lnOf(lw.c/lw.cover, lw.lnC-math.Log(lw.cover))
}

// describe fills the law fields of a layer's prediction.
func (lw law) describe(out *Layer, fanIn int) {
	out.WeightVar, out.BiasVar = num.Number(lw.v), num.Number(lw.vb)
	out.C = num.Number(float64(fanIn) * lw.v)
	out.Kurtosis = num.Number(lw.kappa)
}

// coverage returns the factor by which zero padding, strides and dilations
// scale the mean of a conv layer: the fraction of kernel taps that land
// inside the input, averaged over output positions, which is the product of
// the fractions along the two axes. It is exact when every input pixel is
// under equally many taps (see below) and otherwise assumes that the
// input's energy is spread evenly over positions. Channel groups do not
// change it: an output reads C_in/groups channels at each tap, which its
// fan-in counts.
func coverage(l arch.Layer) (f float64, exact bool) {
	win := l.Window()
	h := newAxis(l.In.H, l.Out.H, win.KH, win.SH, win.DH, win.Top)
	w := newAxis(l.In.W, l.Out.W, win.KW, win.SW, win.DW, win.Left)
	f = h.fraction() * w.fraction()
	// A pixel is under count_h(row) count_w(col) taps: equal counts for
	// all pixels need equal counts along each axis, unless some axis has
	// none at all (every tap in the padding: the output is the bias alone).
	return f, f == 0 || h.even() && w.even()
}

// axis is one axis of a window: n inputs, out outputs, k taps with stride
// s and dilation d, and p padding before the first input (the padding after
// the last one only sets out). Tap t of output i reads input
// i s - p + t d, a zero in the padding when that is outside [0, n).
type axis struct {
	n, out, k, s, d, p int
	// g is gcd(d, s) and inv the inverse of d/g modulo s/g, for count.
	g, inv int
}

// newAxis returns the axis of n inputs and out outputs of a window of k
// taps with stride s, dilation d and p padding before the first input.
func newAxis(n, out, k, s, d, p int) axis {
	a := axis{n: n, out: out, k: k, s: s, d: d, p: p, g: gcd(d, s)}
	a.inv = inverse(d/a.g, s/a.g)
	return a
}

// fraction is the share of the out * k taps that read an input, in O(k):
// tap t reads one for the outputs i with 0 <= i s - p + t d < n.
func (a axis) fraction() float64 {
	inside := 0
	for t := range a.k {
		off := t*a.d - a.p
		lo, hi := max(0, ceilDiv(-off, a.s)), min(a.out-1, floorDiv(a.n-1-off, a.s))
		inside += max(0, hi-lo+1)
	}
	return float64(inside) / (float64(a.k) * float64(a.out))
}

// count is the number of taps that read input r, in O(1): the t in [0, k)
// with i = (r + p - t d)/s an integer in [0, out). The integrality says
// t d = r + p modulo s, which has solutions iff g = gcd(d, s) divides r + p,
// and then they are one residue class t0 modulo s/g; the range of i bounds
// t to [lo, hi].
func (a axis) count(r int) int {
	c := r + a.p
	if c%a.g != 0 {
		return 0
	}
	m := a.s / a.g
	t0 := (c / a.g % m) * a.inv % m
	lo, hi := max(0, ceilDiv(c-(a.out-1)*a.s, a.d)), min(a.k-1, floorDiv(c, a.d))
	if lo > hi {
		return 0
	}
	return floorDiv(hi-t0, m) - floorDiv(lo-1-t0, m)
}

// even reports whether every input is read by equally many taps, in time
// that does not grow with n beyond the window's extent and stride. On the
// interior [lo, hi], where every tap's output index lies in [0, out), the
// count depends only on r modulo s, so one period of it is checked there,
// and every input outside it.
func (a axis) even() bool {
	lo, hi := max(0, (a.k-1)*a.d-a.p), (a.out-1)*a.s-a.p
	first := a.count(0)
	for r := 0; r < a.n; r++ {
		if r == lo+a.s && r <= hi {
			r = hi + 1
			if r >= a.n {
				break
			}
		}
		if a.count(r) != first {
			return false
		}
	}
	return true
}

// gcd is the greatest common divisor of a, b >= 1.
func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// inverse returns the inverse of x modulo m >= 1, for x coprime to m
// (0 when m is 1), by the extended Euclidean algorithm.
func inverse(x, m int) int {
	a, b, u, v := x%m, m, 1, 0
	for b != 0 {
		q := a / b
		a, b = b, a-q*b
		u, v = v, u-q*v
	}
	return (u%m + m) % m
}

// floorDiv and ceilDiv divide rounding down and up, for b > 0.
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func ceilDiv(a, b int) int { return -floorDiv(-a, b) }

// weighted handles a dense or conv layer.
func (w *walker) weighted(out *Layer, l arch.Layer) meanMap {
	lw := w.lawOf(l)
	lw.describe(out, l.FanIn())
	n := l.Width()
	relu := l.ReLU
	dense := l.Kind == arch.Dense
	out.Kind = map[bool]string{true: "relu", false: "linear"}[relu]
	if !dense {
		out.Kind = "conv-" + out.Kind
		w.onlyDense = false
		if !lw.coverExact {
			out.Notes = append(out.Notes, fmt.Sprintf("zero padding/stride: mean factor assumes spatially even energy (coverage %.4g of the taps)", lw.cover))
		}
		out.Notes = append(out.Notes, "conv: fluctuations use the channels as width, an upper estimate (THEORY 4)")
	}
	lnA, lnB := lw.gain()
	mm := meanMap{lo: func(m float64) float64 { return affine(m, lnA, lnB) }, exact: lw.coverExact, homogeneous: lw.zeroBias}
	mm.hi = mm.lo
	w.plainGain += lnA
	heA := lw.cover // the gain with c = 2: cover (ReLU) or 2 cover (linear)
	if !relu {
		heA *= 2
	}
	w.plainGainHe += math.Log(heA)
	w.noteC(lw)
	w.gainExact = w.gainExact && lw.coverExact
	out.Gain = num.Number(lw.c * lw.half())
	w.composeAffine(lnA, lnB, lw.coverExact)

	// Second moment (THEORY 3.1, 3.2): E[M_j^2] = P (c^2 S + 2 c beta m +
	// beta^2) + Kw c^2 S L + Kb beta^2, exact given L.
	fn := float64(n)
	P, Kw, Kb := 1+2/fn, (lw.kappa-3)/fn, (lw.kappaB-3)/fn
	if relu {
		P, Kw, Kb = (1+5/fn)/4, Kw/2, Kb/2
	}
	L := w.l4
	lnWeights := lnOf(lw.c*lw.c*(P+Kw*L), 2*lw.lnC+math.Log(P+Kw*L))
	if lw.zeroBias {
		w.second += lnWeights
	} else if w.mean.known() && w.mean.isPoint() {
		w.second = num.LogAdd(num.LogAdd(lnWeights+w.second,
			lnOf(2*lw.c*lw.beta*P, math.Ln2+lw.lnC+lw.lnBeta+math.Log(P))+w.mean.lo),
			lnOf(lw.beta*lw.beta*(P+Kb), 2*lw.lnBeta+math.Log(P+Kb)))
	} else {
		w.second = math.NaN()
	}
	w.secondExact = w.secondExact && lw.gaussian

	// Log moments.
	var stepMean, stepVar float64
	if relu {
		st := reluStatsFor(n)
		stepMean, stepVar = lnA+st.LogMean, st.LogVar
	} else {
		mlin, vlin := linearLogStats(n)
		stepMean, stepVar = lnA+mlin, vlin
	}
	if lw.kappa != 3 {
		// Kurtosis: E[R^2]/E[R]^2 grows by the factor 1 + Kw L / P; a
		// log-normal reading turns that into the variance and mean shift.
		d := math.Log1p(Kw * L / P)
		stepVar += d
		stepMean -= d / 2
		out.Notes = append(out.Notes, fmt.Sprintf("kurtosis %.4g != 3: second and log moments use ||x||_4^4/||x||_2^4 ~ %.3g (approximate)", lw.kappa, L))
	}
	w.logVar += stepVar
	if lw.zeroBias {
		w.logMean += stepMean
	} else {
		// With Gaussian weights and biases, ln M_j = f(ln M_{j-1}) + xi_j
		// with f 1-Lipschitz and xi_j independent of the past, so the sum
		// of Var[xi_j] bounds Var[ln M_j] from above.
		w.logMean = math.NaN()
		w.logVarUpper = true
		out.Notes = append(out.Notes, "biases: E[log M] has no closed form; log_var is an upper bound")
	}
	w.logExact = w.logExact && lw.gaussian
	out.LogVarStep = num.Number(stepVar)
	if relu {
		w.plainFM2 += stepVar
		w.plainReLUs++
		w.cLogSum += lw.lnCUncovered()
		w.cCount++
		if w.minWidth == 0 || n < w.minWidth {
			w.minWidth = n
		}
		w.fm2Exact = w.fm2Exact && lw.gaussian
		w.fm2Upper = w.fm2Upper || !lw.zeroBias || !dense
		w.beta += 1 / fn
		p := math.Exp2(-fn)
		w.deadLog += math.Log1p(-p)
		w.deadBound = combineBounds(w.deadBound, lw.deadKind(dense))
		w.rhoLo, w.l4 = rhoReLU, math.Min(1, 6/float64(l.Out.Size()))
	} else {
		w.rhoLo, w.l4 = -1, math.Min(1, 3/float64(l.Out.Size()))
	}
	w.jac = append(w.jac, jacobianLayer{lnGain: lnA, relu: relu, width: n, exact: lw.gaussian && lw.zeroBias})
	w.exchangeable, w.symmetric = true, !relu
	return mm
}

// deadKind is the kind of the factor P(layer alive | the layers before
// alive) = 1 - 2^-n of a ReLU layer with the law lw (see
// Prediction.DeadBound).
func (lw law) deadKind(dense bool) string {
	switch {
	case dense && lw.discrete:
		return BoundLower
	case dense:
		return BoundExact
	case lw.discrete:
		return BoundApproximate
	}
	return BoundUpper
}

// deadProbability is P(some plain ReLU layer so far is dead), 1 - e^deadLog
// (written 0 - expm1 so that no ReLU layer gives 0, not -0).
func (w *walker) deadProbability() num.Number { return num.Number(0 - math.Expm1(w.deadLog)) }

// noteC records how far a layer's c is from He's 2.
func (w *walker) noteC(lw law) {
	w.cMaxDev = math.Max(w.cMaxDev, math.Abs(lw.lnCUncovered()-math.Ln2))
}

// composeAffine appends the conditional-mean map m -> e^lnA m + e^lnB to the
// map pending since the last plain ReLU layer.
func (w *walker) composeAffine(lnA, lnB float64, exact bool) {
	w.pendA, w.pendB = w.pendA+lnA, num.LogAdd(w.pendB+lnA, lnB)
	w.affineExact = w.affineExact && exact
}

// recordReLU closes the pending map at a plain ReLU layer and records it.
func (w *walker) recordReLU() {
	if n := len(w.relus); n > 0 {
		w.relus[n-1].lnA, w.relus[n-1].lnB = w.pendA, w.pendB
	}
	mean := math.NaN()
	if w.mean.known() && w.mean.isPoint() {
		mean = w.mean.lo
	}
	w.relus = append(w.relus, reluRecord{mean: mean, second: w.second, exact: w.secondExact && w.meanExact})
	w.pendA, w.pendB = 0, math.Inf(-1)
}

// opsOf lists the distinct operations of the nodes ids, in order.
func opsOf(g *arch.Graph, ids []int) string {
	var ops []string
	for _, id := range ids {
		if op := string(g.Nodes[id].Op); !slices.Contains(ops, op) {
			ops = append(ops, op)
		}
	}
	return strings.Join(ops, ", ")
}
