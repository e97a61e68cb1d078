package theory

import (
	"fmt"
	"math"
	"slices"

	"github.com/initscope/initscope/num"

	"github.com/initscope/initscope/arch"
)

// block describes one residual block y = S(x) + eta N(x), followed by
// ReLU(y) when post (ResNet v1), for the laws of THEORY 5 and their
// extension below. N, the module, is a chain of weighted layers; S, the skip
// path, is the identity or a chain of weighted layers (a projection: one
// linear dense or 1x1 conv layer).
//
// # The mean, for any symmetric weight and bias laws
//
// Write E[M_S] = S(m) and E[M_N] = N(m) for the means of the two paths'
// outputs given E[M_in] = m: products of the layers' factors c/2 (ReLU) or c
// (linear) plus their bias terms (THEORY 2), exact for any module or
// shortcut. Both outputs have the block's output shape, so
//
//	E[M_y] = S(m) + eta^2 N(m) + (2 eta / n_out) E<S(x), N(x)>.
//
// The weights of S and N are independent. If either path ends in a linear
// layer with weights W and biases b other than the identity, flipping (W, b)
// leaves the law unchanged and negates that path's output: it has mean zero
// given the other path, and the cross term vanishes. Hence for a projection
// shortcut (with any module end) and for a module ending linear (with any
// skip), exactly
//
//	E[M_y] = S(m) + eta^2 N(m),   zero biases: (c_P cover_P + g eta^2) M_in,
//
// with c_P = fan_in Var(P): for a dense P from n_in to n_out,
// E||Px||^2 = n_out Var(P) ||x||^2 = n_out c_P M_in, so E[M] = c_P M_in whatever
// the widths. For an identity skip and a module ending in a ReLU, THEORY 5's
// rho formula holds for the two-layer module N = W_b ReLU(W_a x); for other
// modules, and for a skip ending in a ReLU, Cauchy-Schwarz bounds the cross
// term: 0 <= E<S, N> <= ||S|| ||N|| when both outputs are nonnegative,
// |E<x, N>| <= ||x|| sqrt(E||N||^2) otherwise, so E[M_y] lies between
// (sqrt S(m) - eta sqrt N(m))^2 (or S(m) + eta^2 N(m)) and
// (sqrt S(m) + eta sqrt N(m))^2.
//
// # The ReLU after the join
//
// Let the block's output before the ReLU be y = u + v, u and v its two paths.
//
//   - Both paths nonnegative (an identity skip on a nonnegative stream, or a
//     skip ending in a ReLU, with a module ending in a ReLU): y >= 0 and the
//     ReLU is the identity: the law without it holds.
//   - Both paths symmetric (a linear projection and a linear module end):
//     flipping the last layers of both negates y given x, so
//     E[ReLU(y)_i^2] = E[y_i^2]/2 exactly: half the mean without the ReLU.
//   - One path symmetric given the other, the other nonnegative (u >= 0, v
//     symmetric given u): E[ReLU(u+v)^2 | u] = E[ReLU(u+v)^2 + ReLU(u-v)^2]/2,
//     and for u >= 0, t = |v|, (u+t)^2 <= ReLU(u+t)^2 + ReLU(u-t)^2 <=
//     (u+t)^2 + (u-t)^2, while E[(u+t)^2] >= u^2 + t^2: the mean lies in
//     [1/2, 1] times the mean without the ReLU.
//   - Otherwise (an identity skip on a stream of unknown sign): only
//     ReLU(y)^2 <= y^2 holds; the lower bound is 0.
//
// # The fluctuations, Gaussian weights and zero biases
//
// For the two-layer module, s^2 = (c_a c_b / m) M_in X is the variance of one
// output of W_b given its input, X = chi^2_K, K ~ Binomial(m, 1/2), m the
// module's hidden width. The identity skip gives ratioPoly. For a projection
// P, Px is Gaussian with variance p = c_P per output (in units of M_in),
// independent of N, so given X the n_out outputs y_i are independent with
// q = eta^2 c_a c_b X / m and
//
//	module ends linear: E y^2 = p + q,     E y^4 = 3 (p + q)^2
//	module ends in ReLU: E y^2 = p + q/2,  E y^4 = 3p^2 + 3pq + (3/2) q^2
//
// (E ReLU(g)^2 = 1/2, E ReLU(g)^4 = 3/2), and R = M_out/M_in has
// E[R^2] = E_X[E y^4 / n_out + (1 - 1/n_out) (E y^2)^2], with E X = m/2 and
// E X^2 = m^2/4 + 5m/4. With the ReLU after a symmetric y (linear module end),
// E ReLU(y)^k = E y^k / 2 for k = 2, 4. These do not depend on x. Conv blocks
// use channels as widths, as plain conv layers do (THEORY 4). The other
// variants have no closed form here: their fluctuations are left out and
// said to be.
type block struct {
	// module and skip are the laws of the layers of N and S (skip empty:
	// the identity).
	module, skip []law
	eta          float64
	// post says a ReLU follows the join.
	post bool
	// n is the block's output width and m the module's first layer's width
	// (channels for conv); tau is E[sqrt(chi^2_K)]/sqrt(m/2) for K ~
	// Binomial(m, 1/2), and u[k-1] E[(s/a)^k]/(c_a c_b)^(k/2), the c-free part
	// of the moments of the module's output scale that ratioPoly needs.
	n, m int
	tau  float64
	u    [4]float64
	// rhoLo is the lower end of the stream's rho (the upper end is 1); -1
	// when the stream's sign is unknown.
	rhoLo float64
	// exact says the paths' means are exact (dense, or conv with exact
	// coverage).
	exact bool
	// index and count are l and L of the eta schedule (arch.Layer.Block, Blocks).
	index, count int
}

func (w *walker) blockOf(l arch.Layer) block {
	laws := func(ls []arch.Layer) []law {
		var r []law
		for _, x := range ls {
			r = append(r, w.lawOf(x))
		}
		return r
	}
	bl := newBlock(laws(l.Module), laws(l.Shortcut), l.Width(), l.Eta, l.PostReLU, w.rhoLo)
	bl.index, bl.count = l.Block, l.Blocks
	return bl
}

// newBlock returns the block with the given module and skip laws (skip
// empty: identity), output width n, scale eta, a ReLU after the join if
// post, and the stream's rho at least rhoLo.
func newBlock(module, skip []law, n int, eta float64, post bool, rhoLo float64) block {
	m := module[0].width
	st := reluStatsFor(m)
	fn, fm := float64(n), float64(m)
	bl := block{
		module: module, skip: skip, eta: eta, post: post, n: n, m: m, rhoLo: rhoLo,
		tau: st.Tau,
		u: [4]float64{
			st.Tau * math.Sqrt(fm/2) / math.Sqrt(fn*fm), // E[sqrt(chi^2_K)] / sqrt(n m)
			1 / (2 * fn),                             // E[chi^2_K] / (n m)
			st.Q32 / (fn * fm * math.Sqrt(fn*fm)),    // E[(chi^2_K)^(3/2)] / (n m)^(3/2)
			(fm*fm/4 + 5*fm/4) / (fn * fm * fn * fm), // E[(chi^2_K)^2] / (n m)^2
		},
		exact: true,
	}
	for _, lw := range slices.Concat(module, skip) {
		bl.exact = bl.exact && lw.coverExact
	}
	return bl
}

// identity says the skip is the identity.
func (bl block) identity() bool { return len(bl.skip) == 0 }

// endReLU says the module ends in a ReLU (its output is nonnegative).
func (bl block) endReLU() bool { return bl.module[len(bl.module)-1].relu }

// twoLayer says the module is N = W_b ReLU(W_a x), the shape the exact
// second moments are for.
func (bl block) twoLayer() bool { return len(bl.module) == 2 && bl.module[0].relu }

// skipNonneg says the skip's output is surely >= 0.
func (bl block) skipNonneg() bool {
	if bl.identity() {
		return bl.rhoLo >= 0
	}
	return bl.skip[len(bl.skip)-1].relu
}

// skipSymmetric says the skip's output is symmetric given the module's: it
// ends in a linear weighted layer.
func (bl block) skipSymmetric() bool { return !bl.identity() && !bl.skip[len(bl.skip)-1].relu }

// crossZero says E<S(x), N(x)> = 0: one path is symmetric given the other.
func (bl block) crossZero() bool { return !bl.endReLU() || bl.skipSymmetric() }

// chainLog returns ln E[M]/M_0 after the layers with the given laws from
// m = ln E[M_in]/M_0 (THEORY 2), their bias terms included if bias.
func chainLog(laws []law, m float64, bias bool) float64 {
	for _, lw := range laws {
		lnA, lnB := lw.gain()
		if !bias {
			lnB = math.Inf(-1)
		}
		m = affine(m, lnA, lnB)
	}
	return m
}

// preMap is the block's effect on ln E[M]/M_0 before the ReLU after the join
// (see block), bias terms included if bias. With A(m) = S(m) + eta^2 N(m):
//
//	cross term zero:              E[M_y] = A(m)                                      (exact)
//	identity, two-layer, ReLU end: E[M_y] = A(m) + 2 eta rho tau sqrt(m N(m) / pi), rho in [rhoLo, 1]
//	otherwise:                    Cauchy-Schwarz bounds
//
// The second is exact for Gaussian weights and zero biases given rho(x),
// including the factor tau <= 1 that THEORY's large-width statement drops;
// with zero biases it is the gain b[0] + b[1] rho of ratioPoly.
func (bl block) preMap(bias bool) meanMap {
	lnEta := math.Log(bl.eta)
	lnS := func(m float64) float64 { return chainLog(bl.skip, m, bias) }
	lnN := func(m float64) float64 { return chainLog(bl.module, m, bias) }
	lnA := func(m float64) float64 { return num.LogAdd(lnS(m), 2*lnEta+lnN(m)) }
	homogeneous := true
	for _, lw := range slices.Concat(bl.module, bl.skip) {
		homogeneous = homogeneous && (!bias || lw.zeroBias)
	}
	switch {
	case bl.crossZero():
		return meanMap{lo: lnA, hi: lnA, exact: bl.exact, homogeneous: homogeneous}
	case bl.identity() && bl.twoLayer():
		cross := func(rho, m float64) float64 {
			return lnOf(2*bl.eta*rho*bl.tau, math.Ln2+lnEta+math.Log(rho*bl.tau)) + 0.5*(m+lnN(m)-math.Log(math.Pi))
		}
		hi := func(m float64) float64 { return num.LogAdd(lnA(m), cross(1, m)) }
		lo := func(m float64) float64 {
			if bl.rhoLo >= 0 {
				return num.LogAdd(lnA(m), cross(bl.rhoLo, m))
			}
			a, c := lnA(m), cross(-bl.rhoLo, m)
			if c >= a {
				return math.Inf(-1)
			}
			return num.LogSub(a, c)
		}
		return meanMap{lo: lo, hi: hi, homogeneous: homogeneous}
	}
	// Cauchy-Schwarz, with s = sqrt(S(m)) and t = eta sqrt(N(m)) in logs.
	hi := func(m float64) float64 { return 2 * num.LogAdd(lnS(m)/2, lnEta+lnN(m)/2) }
	lo := lnA
	if !bl.skipNonneg() {
		lo = func(m float64) float64 {
			s, t := lnS(m)/2, lnEta+lnN(m)/2
			if s < t {
				s, t = t, s
			}
			if s == t {
				return math.Inf(-1)
			}
			return 2 * num.LogSub(s, t)
		}
	}
	return meanMap{lo: lo, hi: hi, homogeneous: homogeneous}
}

// postFactor returns the bounds, in natural logs, of the factor by which the
// ReLU after the join multiplies E[M] (0, 0 without one), whether they are
// exact, and a note saying what is known.
func (bl block) postFactor() (lo, hi float64, exact bool, note string) {
	switch {
	case !bl.post:
		return 0, 0, true, ""
	case bl.skipNonneg() && bl.endReLU():
		return 0, 0, true, "ReLU after the join: both paths are nonnegative, so it changes nothing"
	case bl.skipSymmetric() && !bl.endReLU():
		return -math.Ln2, -math.Ln2, true, ""
	case bl.skipNonneg() || bl.skipSymmetric():
		return -math.Ln2, 0, false, "ReLU after the join: one path is symmetric, the other nonnegative, so it keeps between 1/2 and all of E[M]; measure it with probe"
	}
	return math.Inf(-1), 0, false, "ReLU after the join on a stream of unknown sign: E[M] has no lower bound but 0; measure it with probe"
}

// meanMap is the block's effect on ln E[M]/M_0, the ReLU after the join
// included, bias terms included if bias.
func (bl block) meanMap(bias bool) meanMap {
	mm := bl.preMap(bias)
	lo, hi, exact, _ := bl.postFactor()
	if lo == 0 && hi == 0 {
		return mm
	}
	pre := mm
	mm.lo = func(m float64) float64 { return pre.lo(m) + lo }
	mm.hi = func(m float64) float64 { return pre.hi(m) + hi }
	mm.exact = pre.exact && exact
	return mm
}

// gain returns ln of the block's zero-bias factor E[R], as an interval (a
// point where it is exact).
func (bl block) gain() interval {
	var g interval
	if bl.identity() && bl.twoLayer() {
		_, b, lnS := bl.ratioPoly()
		g = interval{math.Log(b[0]+b[1]*bl.rhoLo) + 2*lnS, math.Log(b[0]+b[1]) + 2*lnS}
	} else {
		g = bl.preMap(false).factor(point(0))
	}
	lo, hi, _, _ := bl.postFactor()
	return interval{g.lo + lo, g.hi + hi}
}

// withHe returns the block with c = 2 in every layer (coverage kept).
func (bl block) withHe() block {
	bl.module, bl.skip = slices.Clone(bl.module), slices.Clone(bl.skip)
	for _, ls := range [][]law{bl.module, bl.skip} {
		for i := range ls {
			ls[i].c = 2 * ls[i].cover
			ls[i].lnC = math.Log(ls[i].c)
		}
	}
	return bl
}

// Moments of ReLU(z), z ~ N(0,1): E relu^k for k = 1, 2, 3.
var (
	relu1 = 1 / math.Sqrt(2*math.Pi)
	relu2 = 0.5
	relu3 = math.Sqrt(2 / math.Pi)
)

// ratioPoly returns the moments of the ratio R = M_l/M_{l-1} of an identity
// block with a two-layer module given the stream's rho, for Gaussian weights
// and zero biases, where they are exact, as polynomials in rho:
// E[R] = S^2 (b[0] + b[1] rho) and E[R^2] = S^4 (a[0] + a[1] rho + a[2] rho^2),
// with lnS = ln S. Write nM_l = a^2 + 2 eta s U + eta^2 s^2 V with a = ||x||,
// s^2 = (c_a c_b / (n m)) a^2 chi^2_K the variance of one output of the last
// layer's pre-activation, and, given s, U = sum_i x_i r_i, V = sum_i r_i^2
// with r_i = ReLU(g_i) (module ends in ReLU) or g_i (ends linear),
// g_i ~ N(0,1): expanding the square and taking the moments of r and of
// chi^2_K gives coefficients that are polynomials in k = eta sqrt(c_a c_b),
// E[(eta s/a)^j] = k^j u[j-1], and depend on x only through
// rho = sum_i x_i / (sqrt(n) ||x||). The scale S = max(1, k) keeps them
// finite for any eta and c: a term of degree j in k is written
// (k/S)^j (1/S)^(d-j) for the degree d = 2 of E[R] and 4 of E[R^2].
func (bl block) ratioPoly() (a [3]float64, b [2]float64, lnS float64) {
	n := float64(bl.n)
	lnK := math.Log(bl.eta) + (bl.module[0].lnC+bl.module[1].lnC)/2
	lnS = math.Max(0, lnK)
	k, o := math.Exp(lnK-lnS), math.Exp(-lnS) // k/S and 1/S, both <= 1
	k2, o2 := k*k, o*o
	u := bl.u
	if !bl.endReLU() {
		// r = g: E r = 0, E r^2 = 1, E r^3 = 0, E r^4 = 3.
		b[0] = o2 + k2*u[1]*n
		a[0] = o2*o2 + o2*k2*u[1]*(4+2*n) + k2*k2*u[3]*(n*n+2*n)
		return a, b, lnS
	}
	sn := math.Sqrt(n)
	b[0], b[1] = o2+k2*u[1]*n*relu2, 2*o*k*u[0]*relu1*sn
	// E U = relu1 rho sqrt(n) a, E U^2 = ((relu2 - relu1^2) + relu1^2 rho^2 n) a^2,
	// E V^2 = n E r^4 + n(n-1) relu2^2, E UV = rho sqrt(n) a (relu3 + (n-1) relu1 relu2).
	eV2 := 1.25*n + n*n/4
	a[0] = o2*o2 + o2*k2*u[1]*(4*(relu2-relu1*relu1)+2*n*relu2) + k2*k2*u[3]*eV2
	a[1] = 4*o2*o*k*u[0]*relu1*sn + 4*o*k2*k*u[2]*sn*(relu3+(n-1)*relu1*relu2)
	a[2] = 4 * o2 * k2 * u[1] * relu1 * relu1 * n
	return a, b, lnS
}

// ratioLogMoments returns ln E[R] and ln E[R^2] of an identity block's
// ratio given rho.
func (bl block) ratioLogMoments(rho float64) (lnM1, lnM2 float64) {
	a, b, lnS := bl.ratioPoly()
	return math.Log(b[0]+b[1]*rho) + 2*lnS, math.Log(a[0]+rho*(a[1]+rho*a[2])) + 4*lnS
}

// relativeSecondMoment returns ln(E[R^2]/E[R]^2) of an identity block's
// ratio: exact for a linear-ending module, and the largest over rho in
// [rhoLo, 1] for one ending in a ReLU. The ratio of a quadratic to the
// square of a linear function has at most one stationary point,
// (2 a0 b1 - a1 b0)/(2 a2 b0 - a1 b1), so the largest value is at it or at
// an end. The scale S of ratioPoly cancels.
func (bl block) relativeSecondMoment() float64 {
	a, b, _ := bl.ratioPoly()
	g := func(rho float64) float64 {
		m1, m2 := b[0]+b[1]*rho, a[0]+rho*(a[1]+rho*a[2])
		return math.Log(m2 / (m1 * m1))
	}
	if !bl.endReLU() {
		return g(0)
	}
	best := math.Max(g(bl.rhoLo), g(1))
	if den := 2*a[2]*b[0] - a[1]*b[1]; den != 0 {
		if r := (2*a[0]*b[1] - a[1]*b[0]) / den; r > bl.rhoLo && r < 1 {
			best = math.Max(best, g(r))
		}
	}
	return best
}

// projectionLogMoments returns ln E[R] and ln E[R^2] of the ratio
// R = M_out/M_in of a block with a linear projection and a two-layer
// module, for Gaussian weights and zero biases (see block): exact, and
// independent of the stream. E[R] is homogeneous of degree 1 in (p, k) and
// E[R^2] of degree 2, so both are computed with p and k divided by the
// larger of them, S, which keeps them finite for any eta and c.
func (bl block) projectionLogMoments() (lnM1, lnM2 float64) {
	fn, fm := float64(bl.n), float64(bl.m)
	lnP := bl.skip[0].lnC
	lnK := 2*math.Log(bl.eta) + bl.module[0].lnC + bl.module[1].lnC - math.Log(fm) // q = k X
	lnS := math.Max(lnP, lnK)
	p, k := math.Exp(lnP-lnS), math.Exp(lnK-lnS)
	eq, eq2 := k*fm/2, k*k*(fm*fm/4+5*fm/4)
	// E y^2 = a0 + a1 q, E y^4 = b0 + b1 q + b2 q^2.
	a0, a1, b0, b1, b2 := p, 1.0, 3*p*p, 6*p, 3.0
	if bl.endReLU() {
		a1, b1, b2 = 0.5, 3*p, 1.5
	}
	ey2 := a0 + a1*eq
	ey22 := a0*a0 + 2*a0*a1*eq + a1*a1*eq2
	ey4 := b0 + b1*eq + b2*eq2
	if bl.post { // y is symmetric: E ReLU(y)^k = E y^k / 2
		ey2, ey22, ey4 = ey2/2, ey22/4, ey4/2
	}
	return math.Log(ey2) + lnS, math.Log(ey4/fn+(1-1/fn)*ey22) + 2*lnS
}

// fluctuation returns the block's FM2 term ln(E[R^2]/E[R]^2) and, where
// E[R^2 | x] does not depend on the stream, ln E[R^2]; each NaN where no law
// applies, with the reason why.
func (bl block) fluctuation() (step, lnSecond float64, why string) {
	nan := math.NaN()
	reluIsIdentity := bl.skipNonneg() && bl.endReLU()
	switch {
	case !bl.twoLayer():
		return nan, nan, fmt.Sprintf("a module of %d layers, not a ReLU layer and a weighted layer", len(bl.module))
	case bl.identity() && (!bl.post || reluIsIdentity):
		step = bl.relativeSecondMoment()
		if bl.endReLU() {
			return step, nan, ""
		}
		_, lnM2 := bl.ratioLogMoments(0)
		return step, lnM2, ""
	case bl.identity():
		return nan, nan, "a ReLU after the join of an identity skip, with a linear module end or a stream of unknown sign"
	case len(bl.skip) != 1 || bl.skip[0].relu:
		return nan, nan, "a shortcut that is not one linear layer"
	case bl.post && bl.endReLU():
		return nan, nan, "a ReLU after the sum of a projection and a nonnegative module output"
	}
	lnM1, lnM2 := bl.projectionLogMoments()
	return lnM2 - 2*lnM1, lnM2, ""
}

// residual handles a residual block.
func (w *walker) residual(out *Layer, l arch.Layer) meanMap {
	bl := w.blockOf(l)
	bl.module[0].describe(out, l.Module[0].FanIn())
	out.Kind = "residual"
	out.Eta = num.Number(bl.eta)
	dense := l.Module[0].Kind == arch.Dense
	gaussian, zeroBias := true, true
	for _, lw := range slices.Concat(bl.module, bl.skip) {
		w.noteC(lw)
		gaussian = gaussian && lw.gaussian
		zeroBias = zeroBias && lw.zeroBias
	}
	w.onlyDense = false

	g := bl.gain()
	if g.isPoint() {
		out.Gain = num.Number(math.Exp(g.lo))
	} else {
		out.GainLower, out.GainUpper = num.Number(math.Exp(g.lo)), num.Number(math.Exp(g.hi))
	}
	mm := bl.meanMap(true)
	w.gainExact = w.gainExact && mm.exact
	if !dense && !bl.exact {
		out.Notes = append(out.Notes, "conv block with zero padding or strides: the mean assumes spatially even energy")
	}
	switch {
	case bl.crossZero():
	case bl.identity() && bl.twoLayer():
		out.Notes = append(out.Notes, fmt.Sprintf("module ends in a ReLU: E[M] lies between the bounds for rho in [%.3g, 1] (THEORY 5); measure it with probe", bl.rhoLo))
	default:
		out.Notes = append(out.Notes, "both paths end in a ReLU or the module has no exact cross term: E[M] lies between Cauchy-Schwarz bounds; measure it with probe")
	}
	if _, _, _, note := bl.postFactor(); note != "" {
		out.Notes = append(out.Notes, note)
	}

	// Fluctuations: the block's relative second moment.
	step, lnSecond, why := bl.fluctuation()
	if math.IsNaN(step) || math.IsInf(step, 0) {
		step = math.NaN()
		w.fm2Unknown++
		w.noFM2.add("residual block")
		if why != "" {
			out.Notes = append(out.Notes, fmt.Sprintf("no closed form for the fluctuations of %s: measure them with probe", why))
		}
	}
	w.blocks = append(w.blocks, bl)
	stepExact := !math.IsNaN(lnSecond) && gaussian && zeroBias
	w.fm2Exact = w.fm2Exact && stepExact
	out.LogVarStep = num.Number(step)
	if !math.IsNaN(lnSecond) && zeroBias {
		w.second += lnSecond
	} else {
		w.second = math.NaN()
	}
	w.secondExact = w.secondExact && stepExact
	w.logMean, w.logVar, w.logExact = math.NaN(), math.NaN(), false
	if !zeroBias && !math.IsNaN(step) {
		out.Notes = append(out.Notes, "biases in the block: second moments use the zero-bias formula")
	}

	// The empirical variance is defined for plain nets only.
	w.affineKnown = false
	beta, cLog := 0.0, 0.0
	for _, lw := range bl.module {
		if lw.relu {
			beta += 1 / float64(lw.width)
			cLog += lw.lnCUncovered()
			w.cCount++
		}
	}
	w.beta += beta
	w.cLogSum += cLog
	if bl.post {
		w.beta += 1 / float64(bl.n)
	}
	switch {
	case bl.identity() && bl.endReLU() && (!bl.post || bl.rhoLo >= 0):
		// The ReLU after the join, if any, is the identity.
		if w.rhoLo >= 0 {
			w.rhoLo = math.Min(w.rhoLo, rhoReLU)
		}
	case bl.post || bl.skipNonneg() && bl.endReLU():
		w.rhoLo = 0
	default:
		w.rhoLo = -1
	}
	w.l4 = math.Min(1, 6/float64(l.Out.Size()))
	// The module's weights, and a projection's, are i.i.d. across output
	// channels; an identity skip keeps the stream's law. Flipping the last
	// layers of both paths negates y when they end linear, and an identity
	// skip with a linear module end keeps a symmetric stream symmetric
	// (the module's first layer absorbs the input's sign).
	w.exchangeable = w.exchangeable || !bl.identity()
	w.symmetric = !bl.post && !bl.endReLU() && (bl.skipSymmetric() || bl.identity() && w.symmetric)
	return mm
}
