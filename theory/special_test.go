package theory

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
	"gonum.org/v1/gonum/mathext"
)

const eulerGamma = 0.57721566490153286061

// digamma is psi(x) = d/dx ln Gamma(x), through digammaMinusLog.
func digamma(x float64) float64 { return digammaMinusLog(x) + math.Log(x) }

func TestDigammaTrigammaKnownValues(t *testing.T) {
	pi2 := math.Pi * math.Pi
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"psi(1)", digamma(1), -eulerGamma},
		{"psi(1/2)", digamma(0.5), -eulerGamma - 2*math.Ln2},
		{"psi(2)", digamma(2), 1 - eulerGamma},
		{"psi(3/2)", digamma(1.5), 2 - eulerGamma - 2*math.Ln2},
		{"psi(10)", digamma(10), 1 + 1.0/2 + 1.0/3 + 1.0/4 + 1.0/5 + 1.0/6 + 1.0/7 + 1.0/8 + 1.0/9 - eulerGamma},
		{"psi'(1)", trigamma(1), pi2 / 6},
		{"psi'(1/2)", trigamma(0.5), pi2 / 2},
		{"psi'(2)", trigamma(2), pi2/6 - 1},
		{"psi'(3/2)", trigamma(1.5), pi2/2 - 4},
	} {
		if !scalar.EqualWithinAbsOrRel(c.got, c.want, 1e-15, 1e-14) {
			t.Errorf("%s = %.17g, want %.17g", c.name, c.got, c.want)
		}
	}
}

// TestDigammaTrigammaAgainstGonum compares with independent implementations:
// gonum's Digamma and the Hurwitz zeta, psi'(x) = zeta(2, x).
func TestDigammaTrigammaAgainstGonum(t *testing.T) {
	for _, x := range []float64{0.05, 0.5, 0.7, 1.3, 3.3, 6.99, 9.99, 10, 10.01, 25.5, 512, 1e4, 1e7} {
		if got, want := digamma(x), mathext.Digamma(x); !scalar.EqualWithinAbsOrRel(got, want, 1e-10, 1e-10) {
			t.Errorf("digamma(%g) = %.17g, gonum %.17g", x, got, want)
		}
		if got, want := trigamma(x), mathext.Zeta(2, x); !scalar.EqualWithinAbsOrRel(got, want, 1e-14, 1e-13) {
			t.Errorf("trigamma(%g) = %.17g, zeta(2,x) %.17g", x, got, want)
		}
	}
}

func TestDigammaMinusLogLarge(t *testing.T) {
	for _, x := range []float64{1e4, 1e8, 1e12} {
		want := -1/(2*x) - 1/(12*x*x) + 1/(120*x*x*x*x)
		if got := digammaMinusLog(x); !scalar.EqualWithinRel(got, want, 1e-14) {
			t.Errorf("psi(%g) - ln(%g) = %.17g, want %.17g", x, x, got, want)
		}
	}
}

// TestReLULogMomentsTable reproduces the table of THEORY 3.1.
func TestReLULogMomentsTable(t *testing.T) {
	for _, c := range []struct {
		n          int
		mean, vari float64
		tol        float64
	}{
		{8, -0.39878, 1.24699, 5e-6},
		{16, -0.176397, 0.419593, 5e-7},
		{32, -0.082540, 0.177498, 5e-7},
		{64, -0.040109, 0.082997, 5e-7},
		{128, -0.019786, 0.040234, 5e-7},
		{1024, -0.002445, 0.004901, 5e-7},
	} {
		s := reluStatsFor(c.n)
		if math.Abs(s.LogMean-c.mean) > c.tol || math.Abs(s.LogVar-c.vari) > c.tol {
			t.Errorf("n=%d: E[log R] = %.7g, Var[log R] = %.7g; THEORY: %g, %g", c.n, s.LogMean, s.LogVar, c.mean, c.vari)
		}
	}
}

// directLogMoments sums the log moments over the binomial with lgamma
// weights and gonum's special functions: an independent route.
func directLogMoments(n int) (mean, variance, tau float64) {
	fn := float64(n)
	lgn, _ := math.Lgamma(fn + 1)
	alive := 1 - math.Exp2(-fn)
	var e1, e2, tri, sq float64
	for k := 1; k <= n; k++ {
		fk := float64(k)
		lk, _ := math.Lgamma(fk + 1)
		lnk, _ := math.Lgamma(fn - fk + 1)
		p := math.Exp(lgn-lk-lnk-fn*math.Ln2) / alive
		psi := mathext.Digamma(fk / 2)
		e1 += p * psi
		e2 += p * psi * psi
		tri += p * mathext.Zeta(2, fk/2)
		a, _ := math.Lgamma((fk + 1) / 2)
		b, _ := math.Lgamma(fk / 2)
		sq += p * alive * math.Sqrt2 * math.Exp(a-b)
	}
	return math.Log(2/fn) + e1 + math.Ln2, tri + e2 - e1*e1, sq / math.Sqrt(fn/2)
}

func TestReLULogMomentsDirect(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 8, 16, 33, 100, 257} {
		m, v, tau := directLogMoments(n)
		s := reluStatsFor(n)
		if !scalar.EqualWithinAbsOrRel(s.LogMean, m, 1e-11, 1e-9) || !scalar.EqualWithinAbsOrRel(s.LogVar, v, 1e-11, 1e-9) || !scalar.EqualWithinRel(s.Tau, tau, 1e-11) {
			t.Errorf("n=%d: got (%.15g, %.15g, tau %.15g), direct (%.15g, %.15g, tau %.15g)", n, s.LogMean, s.LogVar, s.Tau, m, v, tau)
		}
	}
}

// TestReLULogMomentsAsymptotic checks the wide limit of THEORY 3.1,
// E[log R] = -5/(2n) - 49/(12 n^2) + O(n^-3), Var[log R] = 5/n + 37/(2 n^2) + O(n^-3),
// whose O(n^-3) remainders (coefficients about -12 and 85) at these widths
// pin the sums to a few 1e-12 relative: the window sum and the cancellation-free
// evaluation must both work.
func TestReLULogMomentsAsymptotic(t *testing.T) {
	for _, n := range []int{100000, 1000000, 1 << 26} {
		fn := float64(n)
		s := reluStatsFor(n)
		wantM, wantV := -2.5/fn-49.0/12/(fn*fn), 5/fn+18.5/(fn*fn)
		near := func(got, want float64) bool {
			return math.Abs(got-want) <= math.Max(100/(fn*fn*fn), 5e-12*math.Abs(want))
		}
		if !near(s.LogMean, wantM) || !near(s.LogVar, wantV) {
			t.Errorf("n=%d: got (%.15g, %.15g), asymptotic (%.15g, %.15g)", n, s.LogMean, s.LogVar, wantM, wantV)
		}
	}
}

func TestLinearLogMoments(t *testing.T) {
	// chi^2_2 / 2 is Exp(1): E log = -gamma, Var log = pi^2/6.
	m, v := linearLogStats(2)
	if !scalar.EqualWithinAbsOrRel(m, -eulerGamma, 1e-15, 1e-14) || !scalar.EqualWithinRel(v, math.Pi*math.Pi/6, 1e-14) {
		t.Errorf("n=2: (%.17g, %.17g), want (-gamma, pi^2/6)", m, v)
	}
}

// TestBinomialSums checks the closed forms of the first two moments of a
// He ReLU layer, E[R] = 1 and E[R^2] = 1 + 5/n, against direct sums of
// E[chi^2_K] = K and E[(chi^2_K)^2] = K^2 + 2K over K ~ Binomial(n, 1/2)
// (K = 0 included: a dead layer has R = 0), and the window of binomialHalf
// against the total mass.
func TestBinomialSums(t *testing.T) {
	for n := 1; n <= 60; n++ {
		fn := float64(n)
		var e1, e2 float64
		for k := 0; k <= n; k++ {
			lc, _ := math.Lgamma(fn + 1)
			la, _ := math.Lgamma(float64(k) + 1)
			lb, _ := math.Lgamma(fn - float64(k) + 1)
			p := math.Exp(lc - la - lb - fn*math.Ln2)
			r := 2 / fn
			e1 += p * r * float64(k)
			e2 += p * r * r * float64(k*k+2*k)
		}
		if !scalar.EqualWithinRel(e1, 1, 1e-13) || !scalar.EqualWithinRel(e2, 1+5/fn, 1e-13) {
			t.Errorf("n=%d: E[R] = %.15g, E[R^2] = %.15g, want 1 and %.15g", n, e1, e2, 1+5/fn)
		}
		lo, w := binomialHalf(n)
		sum := 0.0
		for _, v := range w {
			sum += v
		}
		if lo != 1 || lo+len(w)-1 != n || !scalar.EqualWithinRel(sum, 1, 1e-15) {
			t.Errorf("n=%d: window [%d, %d], mass %v, want [1, %d] and 1", n, lo, lo+len(w)-1, sum, n)
		}
	}
}
