package theory

import (
	"fmt"
	"math"

	"github.com/initscope/initscope/num"

	"github.com/initscope/initscope/arch"
)

// block describes one residual block x + eta N(x), N = last(ReLU(first x)),
// for the formulas of THEORY 5.
type block struct {
	first, last law
	eta         float64
	endReLU     bool
	// n is the module width (channels for a conv module); tau is
	// E[sqrt(chi^2_K)]/sqrt(n/2) for K ~ Binomial(n, 1/2), and u[k-1]
	// E[(s/a)^k]/(c_a c_b)^(k/2), the c-free part of the moments of the
	// module's output scale that ratioPoly needs.
	n   int
	tau float64
	u   [4]float64
	// rhoLo is the lower end of the stream's rho (the upper end is 1).
	rhoLo float64
	// exact says the module's mean is exact (dense, or conv with exact coverage).
	exact bool
	// index and count are l and L of the eta schedule (arch.Layer.Block, Blocks).
	index, count int
}

func (w *walker) blockOf(l arch.Layer) block {
	bl := newBlock(w.lawOf(l.Module[0]), w.lawOf(l.Module[1]), l.Width(), l.Eta, l.Module[1].ReLU, w.rhoLo)
	bl.index, bl.count = l.Block, l.Blocks
	return bl
}

// newBlock returns the block with module laws first and last, width n, scale
// eta, and the stream's rho at least rhoLo.
func newBlock(first, last law, n int, eta float64, endReLU bool, rhoLo float64) block {
	st := reluStatsFor(n)
	fn := float64(n)
	return block{
		first: first, last: last, eta: eta, endReLU: endReLU, n: n, rhoLo: rhoLo,
		tau: st.Tau,
		u: [4]float64{
			st.Tau * math.Sqrt(fn/2) / fn,            // E[sqrt(chi^2_K)] / n
			1 / (2 * fn),                             // E[chi^2_K] / n^2
			st.Q32 / (fn * fn * fn),                  // E[(chi^2_K)^(3/2)] / n^3
			(fn*fn/4 + 5*fn/4) / (fn * fn * fn * fn), // E[(chi^2_K)^2] / n^4
		},
		exact: first.coverExact && last.coverExact,
	}
}

// moduleGains returns the factors by which the module's first and last layer
// multiply E[M] with zero biases, and the bias terms (in units of M_0) they add.
func (bl block) moduleGains() (ga, gb, ba, bb float64) {
	ga, ba = bl.first.c/2, bl.first.beta/2
	gb, bb = bl.last.c, bl.last.beta
	if bl.endReLU {
		gb, bb = gb/2, bb/2
	}
	return ga, gb, ba, bb
}

// meanMap is the block's effect on ln E[M]/M_0 (THEORY 5), biases included. With
// nb(m) = E[M_N]/M_0 the module output's mean and A(m) = m + eta^2 nb(m):
//
//	module ends linear:  E[M_l] = A(m)                                    (exact)
//	module ends in ReLU: E[M_l] = A(m) + 2 eta rho tau sqrt(m nb(m) / pi), rho in [rhoLo, 1]
//
// The second is exact for Gaussian weights and zero biases given rho(x),
// including the factor tau <= 1 that THEORY's large-width statement drops;
// with zero biases it is the gain b[0] + b[1] rho of ratioPoly.
func (bl block) meanMap() meanMap {
	ga, gb, ba, bb := bl.moduleGains()
	lnEta2 := 2 * math.Log(bl.eta)
	lnNb := func(m float64) float64 { return affineLog(affineLog(m, ga, ba), gb, bb) }
	lnA := func(m float64) float64 { return num.LogAdd(m, lnEta2+lnNb(m)) }
	homogeneous := ba == 0 && bb == 0
	if !bl.endReLU {
		return meanMap{lo: lnA, hi: lnA, exact: bl.exact, homogeneous: homogeneous}
	}
	cross := func(rho, m float64) float64 {
		return math.Log(2*bl.eta*rho*bl.tau) + 0.5*(m+lnNb(m)-math.Log(math.Pi))
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

// gain returns ln of the block's zero-bias factor E[R], as an interval over
// rho in [rhoLo, 1] (a point for a linear-ending module).
func (bl block) gain() interval {
	_, b := bl.ratioPoly()
	return interval{math.Log(b[0] + b[1]*bl.rhoLo), math.Log(b[0] + b[1])}
}

// Moments of ReLU(z), z ~ N(0,1): E relu^k for k = 1, 2, 3.
var (
	relu1 = 1 / math.Sqrt(2*math.Pi)
	relu2 = 0.5
	relu3 = math.Sqrt(2 / math.Pi)
)

// ratioPoly returns the moments of the block ratio R = M_l/M_{l-1} given
// the stream's rho, for Gaussian weights and zero biases, where they are
// exact, as polynomials in rho: E[R] = b[0] + b[1] rho and
// E[R^2] = a[0] + a[1] rho + a[2] rho^2. Write nM_l = a^2 + 2 eta s U +
// eta^2 s^2 V with a = ||x||, s^2 = (c_a c_b / n^2) a^2 chi^2_K the variance
// of one output of the last layer's pre-activation, and, given s,
// U = sum_i x_i r_i, V = sum_i r_i^2 with r_i = ReLU(g_i) (module ends in
// ReLU) or g_i (ends linear), g_i ~ N(0,1): expanding the square and taking
// the moments of r and of chi^2_K gives the coefficients below, which depend
// on x only through rho = sum_i x_i / (sqrt(n) ||x||).
func (bl block) ratioPoly() (a [3]float64, b [2]float64) {
	n := float64(bl.n)
	cc := bl.first.c * bl.last.c
	// t_k = E[(s/a)^k].
	sc := math.Sqrt(cc)
	t1, t2, t3, t4 := sc*bl.u[0], cc*bl.u[1], cc*sc*bl.u[2], cc*cc*bl.u[3]
	e, e2 := bl.eta, bl.eta*bl.eta
	if !bl.endReLU {
		// r = g: E r = 0, E r^2 = 1, E r^3 = 0, E r^4 = 3.
		b[0] = 1 + e2*t2*n
		a[0] = 1 + 4*e2*t2 + e2*e2*t4*(n*n+2*n) + 2*e2*t2*n
		return a, b
	}
	sn := math.Sqrt(n)
	b[0], b[1] = 1+e2*t2*n*relu2, 2*e*t1*relu1*sn
	// E U = relu1 rho sqrt(n) a, E U^2 = ((relu2 - relu1^2) + relu1^2 rho^2 n) a^2,
	// E V^2 = n E r^4 + n(n-1) relu2^2, E UV = rho sqrt(n) a (relu3 + (n-1) relu1 relu2).
	eV2 := 1.25*n + n*n/4
	a[0] = 1 + 4*e2*t2*(relu2-relu1*relu1) + e2*e2*t4*eV2 + 2*e2*t2*n*relu2
	a[1] = 4*e*t1*relu1*sn + 4*e*e2*t3*sn*(relu3+(n-1)*relu1*relu2)
	a[2] = 4 * e2 * t2 * relu1 * relu1 * n
	return a, b
}

// ratioMoments returns E[R] and E[R^2] of the block ratio given rho.
func (bl block) ratioMoments(rho float64) (m1, m2 float64) {
	a, b := bl.ratioPoly()
	return b[0] + b[1]*rho, a[0] + rho*(a[1]+rho*a[2])
}

// relativeSecondMoment returns ln(E[R^2]/E[R]^2) of the block ratio: exact for
// a linear-ending module, and the largest over rho in [rhoLo, 1] for one
// ending in a ReLU. The ratio of a quadratic to the square of a linear
// function has at most one stationary point, (2 a0 b1 - a1 b0)/(2 a2 b0 - a1 b1),
// so the largest value is at it or at an end.
func (bl block) relativeSecondMoment() float64 {
	a, b := bl.ratioPoly()
	g := func(rho float64) float64 {
		m1, m2 := b[0]+b[1]*rho, a[0]+rho*(a[1]+rho*a[2])
		return math.Log(m2 / (m1 * m1))
	}
	if !bl.endReLU {
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

// residual handles a residual block.
func (w *walker) residual(out *Layer, l arch.Layer) meanMap {
	bl := w.blockOf(l)
	bl.first.describe(out, l.Module[0].FanIn())
	out.FanIn = l.Module[0].FanIn()
	out.Kind = "residual"
	out.Eta = num.Number(bl.eta)
	dense := l.Module[0].Kind == arch.Dense
	gaussian := bl.first.gaussian && bl.last.gaussian
	zeroBias := bl.first.zeroBias && bl.last.zeroBias
	w.onlyDense = false

	w.noteC(bl.first)
	w.noteC(bl.last)
	g := bl.gain()
	if g.isPoint() {
		out.Gain = num.Number(math.Exp(g.lo))
	} else {
		out.GainLower, out.GainUpper = num.Number(math.Exp(g.lo)), num.Number(math.Exp(g.hi))
	}
	mm := bl.meanMap()
	w.gainExact = w.gainExact && mm.exact
	if !dense && !bl.exact {
		out.Notes = append(out.Notes, "conv module with zero padding: the mean assumes spatially even energy")
	}

	// Fluctuations: the block's relative second moment.
	step := bl.relativeSecondMoment()
	if math.IsNaN(step) || math.IsInf(step, 0) {
		step = math.NaN()
		w.fm2Unknown++
	}
	w.blocks = append(w.blocks, bl)
	stepExact := !bl.endReLU && gaussian && zeroBias
	w.fm2Exact = w.fm2Exact && stepExact
	out.LogVarStep = num.Number(step)
	if !bl.endReLU && zeroBias {
		_, m2 := bl.ratioMoments(0)
		w.second += math.Log(m2)
	} else {
		w.second = math.NaN()
	}
	w.secondExact = w.secondExact && stepExact
	w.logMean, w.logVar, w.logExact = math.NaN(), math.NaN(), false
	if !zeroBias {
		out.Notes = append(out.Notes, "biases in the module: second moments use the zero-bias formula")
	}
	if bl.endReLU {
		out.Notes = append(out.Notes, fmt.Sprintf("module ends in a ReLU: E[M] lies between the bounds for rho in [%.3g, 1] (THEORY 5); measure it with probe", bl.rhoLo))
		w.affineKnown = false
		if w.rhoLo >= 0 {
			w.rhoLo = math.Min(w.rhoLo, rhoReLU)
		}
		w.beta += 2 / float64(bl.n)
		w.cLogSum += math.Log(bl.first.c/bl.first.cover) + math.Log(bl.last.c/bl.last.cover)
		w.cCount += 2
	} else {
		ga, gb, ba, bb := bl.moduleGains()
		e2 := bl.eta * bl.eta
		w.composeAffine(math.Log1p(e2*ga*gb), math.Log(e2*(gb*ba+bb)), mm.exact)
		w.rhoLo = -1
		w.beta += 1 / float64(bl.n)
		w.cLogSum += math.Log(bl.first.c / bl.first.cover)
		w.cCount++
	}
	w.l4 = math.Min(1, 6/float64(l.Out.Size()))
	return mm
}
