package theory

import (
	"math"
	"sync"
)

// asymptoticFrom is where the asymptotic series of digamma and trigamma take
// over from the recurrence: at x >= 10 the truncated series below are accurate
// to a few units in the last place.
const asymptoticFrom = 10

// digammaMinusLog returns psi(x) - ln(x) for x > 0, without the cancellation
// that computing psi(x) and ln(x) separately suffers for large x. For x >= 10
// it sums the asymptotic series
//
//	psi(x) - ln x = -1/(2x) - sum_k B_2k / (2k x^2k)
//
// through B_14; below 10 it moves up with psi(x) = psi(x+1) - 1/x.
func digammaMinusLog(x float64) float64 {
	shift := 0.0
	y := x
	for y < asymptoticFrom {
		shift -= 1 / y
		y++
	}
	if y != x {
		shift += math.Log(y / x)
	}
	z := 1 / (y * y)
	series := z * (-1.0/12 + z*(1.0/120+z*(-1.0/252+z*(1.0/240+z*(-1.0/132+z*(691.0/32760+z*(-1.0/12)))))))
	return shift - 1/(2*y) + series
}

// trigamma returns psi'(x) for x > 0: the recurrence psi'(x) = psi'(x+1) + 1/x^2
// up to x >= 10, then the asymptotic series
//
//	psi'(x) = 1/x + 1/(2x^2) + sum_k B_2k / x^(2k+1)
//
// through B_14.
func trigamma(x float64) float64 {
	acc := 0.0
	for x < asymptoticFrom {
		acc += 1 / (x * x)
		x++
	}
	z := 1 / (x * x)
	series := z * (1.0/6 + z*(-1.0/30+z*(1.0/42+z*(-1.0/30+z*(5.0/66+z*(-691.0/2730+z*(7.0/6)))))))
	return acc + 1/x + z/2 + series/x
}

// tailCut is the weight, relative to the mode, below which binomial terms are
// dropped. Terms this small change no sum in the 16th digit: the summands are
// at most O(log n), and the cut lies about 11.7 standard deviations out.
const tailCut = 1e-30

// binomialHalf returns the weights of K ~ Binomial(n, 1/2) conditioned on
// K >= 1, for the k in [lo, lo+len(w)) that matter. The weights come from the
// exact ratio recurrence outwards from the mode (no lgamma of large numbers,
// so no loss of relative precision for huge n) and are normalized by their
// sum, which is exactly the conditioning on K >= 1 when the window reaches 1.
func binomialHalf(n int) (lo int, w []float64) {
	mode := n / 2
	if mode < 1 {
		mode = 1
	}
	// Upwards from the mode.
	var up []float64
	for k, v := mode, 1.0; k <= n && v >= tailCut; k++ {
		up = append(up, v)
		v *= float64(n-k) / float64(k+1)
	}
	// Downwards from the mode, stopping at 1 (K = 0 is conditioned away).
	var down []float64
	for k, v := mode-1, float64(mode)/float64(n-mode+1); k >= 1 && v >= tailCut; k-- {
		down = append(down, v)
		v *= float64(k) / float64(n-k+1)
	}
	w = make([]float64, 0, len(down)+len(up))
	for i := len(down) - 1; i >= 0; i-- {
		w = append(w, down[i])
	}
	w = append(w, up...)
	sum := 0.0
	for _, v := range w {
		sum += v
	}
	for i := range w {
		w[i] /= sum
	}
	return mode - len(down), w
}

// reluStats holds the exact moments of one Gaussian ReLU layer of width n
// that do not depend on c: with K ~ Binomial(n, 1/2) given K >= 1 and
// Q = chi^2_K,
//
//	LogMean = E[psi(K/2)] - ln(n/4)   (so E[log R] = ln(c/2) + LogMean)
//	LogVar  = E[psi'(K/2)] + Var[psi(K/2)]
//
// and, unconditionally (K = 0 gives Q = 0), Tau = E[sqrt Q] / sqrt(E Q) and
// Q32 = E[Q^(3/2)], which the residual module formulas need.
type reluStats struct {
	LogMean, LogVar float64
	Tau, Q32        float64
}

// statsCache memoizes reluStats by width: deep nets repeat a few widths, and
// the sum for a huge width costs O(sqrt n).
var statsCache sync.Map

// reluStatsFor returns the exact reluStats for width n >= 1.
func reluStatsFor(n int) reluStats {
	if s, ok := statsCache.Load(n); ok {
		return s.(reluStats)
	}
	lo, w := binomialHalf(n)
	fn := float64(n)
	// h(K) = psi(K/2) - ln(n/4) = ln(2K/n) + (psi(K/2) - ln(K/2)): each part
	// is small, so the sum keeps its relative precision even when the mean is
	// of order 1/n.
	h := make([]float64, len(w))
	var mean, tri, sqrtQ, q32 float64
	for i, p := range w {
		k := float64(lo + i)
		h[i] = math.Log1p((2*k-fn)/fn) + digammaMinusLog(k/2)
		mean += p * h[i]
		tri += p * trigamma(k/2)
		// E[sqrt(chi^2_k)] = sqrt 2 Gamma((k+1)/2) / Gamma(k/2), and
		// E[(chi^2_k)^(3/2)] = (k+1) times that.
		lg1, _ := math.Lgamma((k + 1) / 2)
		lg0, _ := math.Lgamma(k / 2)
		r := math.Sqrt2 * math.Exp(lg1-lg0)
		sqrtQ += p * r
		q32 += p * (k + 1) * r
	}
	var v float64
	for i, p := range w {
		d := h[i] - mean
		v += p * d * d
	}
	// The conditioned weights sum to 1 over K >= 1; the unconditional moments
	// of Q carry the factor P(K >= 1) = 1 - 2^-n.
	alive := -math.Expm1(-fn * math.Ln2)
	s := reluStats{
		LogMean: mean,
		LogVar:  tri + v,
		Tau:     alive * sqrtQ / math.Sqrt(fn/2),
		Q32:     alive * q32,
	}
	statsCache.Store(n, s)
	return s
}

// linearLogStats returns E[log R] - ln c and Var[log R] for a Gaussian linear
// layer of width n: R = (c/n) chi^2_n, so E[log R] = ln c + psi(n/2) - ln(n/2)
// and Var[log R] = psi'(n/2).
func linearLogStats(n int) (mean, variance float64) {
	x := float64(n) / 2
	return digammaMinusLog(x), trigamma(x)
}
