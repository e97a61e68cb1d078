package probe

import (
	"math"
	"testing"

	"github.com/initscope/initscope/weightinit"
	"gonum.org/v1/gonum/mathext"
)

// TestBinomialHalf checks Binomial(n, 1/2) by popcount: range, mean and
// variance within 5 SE, across the 64-bit word boundaries.
func TestBinomialHalf(t *testing.T) {
	p := weightinit.NewStream(7, 8)
	const draws = 40000
	for _, n := range []int{1, 5, 63, 64, 65, 100, 1000} {
		var s1, s2 float64
		for range draws {
			k := binomialHalf(p, n)
			if k < 0 || k > n {
				t.Fatalf("n=%d: draw %d out of range", n, k)
			}
			s1 += float64(k)
			s2 += float64(k) * float64(k)
		}
		mean, v := s1/draws, s2/draws-(s1/draws)*(s1/draws)
		wantMean, wantVar := float64(n)/2, float64(n)/4
		if se := math.Sqrt(wantVar / draws); math.Abs(mean-wantMean) > 5*se {
			t.Errorf("n=%d: mean %v, want %v (se %v)", n, mean, wantMean, se)
		}
		// The sample variance's SE is s^2 sqrt((kurtosis - 1)/draws); the
		// binomial's kurtosis is at most 3 (n = 1: 1; large n: 3).
		if se := wantVar * math.Sqrt(2.0/draws); math.Abs(v-wantVar) > 5*se {
			t.Errorf("n=%d: variance %v, want %v (se %v)", n, v, wantVar, se)
		}
	}
}

// TestChiSquare checks both draws of chiSquarePair against the exact
// moments E[X] = k, Var[X] = 2k, E[ln X] = psi(k/2) + ln 2,
// Var[ln X] = psi'(k/2), and that the two draws are uncorrelated.
func TestChiSquare(t *testing.T) {
	p := weightinit.NewStream(9, 10)
	const pairs = 50000
	const draws = 2 * pairs
	for _, k := range []int{1, 2, 3, 7, 40, 1000} {
		var s1, s2, l1, l2, sxy float64
		fk := float64(k)
		for range pairs {
			x, y := chiSquarePair(p, k)
			sxy += (x - fk) * (y - fk)
			for _, v := range []float64{x, y} {
				l := math.Log(v)
				s1 += v
				s2 += v * v
				l1 += l
				l2 += l * l
			}
		}
		mean, lmean := s1/draws, l1/draws
		lvar := l2/draws - lmean*lmean
		if se := math.Sqrt(2 * fk / draws); math.Abs(mean-fk) > 5*se {
			t.Errorf("k=%d: mean %v, want %v (se %v)", k, mean, fk, se)
		}
		wantL := mathext.Digamma(fk/2) + math.Ln2
		wantLV := trigamma(fk / 2)
		if se := math.Sqrt(wantLV / draws); math.Abs(lmean-wantL) > 5*se {
			t.Errorf("k=%d: E[ln X] %v, want %v (se %v)", k, lmean, wantL, se)
		}
		// The SE of a variance is about sigma^2 sqrt((kurtosis - 1)/n); ln chi^2_1 has kurtosis 7.
		if se := wantLV * math.Sqrt(6.0/draws); math.Abs(lvar-wantLV) > 5*se {
			t.Errorf("k=%d: Var[ln X] %v, want %v (se %v)", k, lvar, wantLV, se)
		}
		// For independent draws the sample correlation has SE 1/sqrt(pairs).
		if corr := sxy / pairs / (2 * fk); math.Abs(corr) > 5/math.Sqrt(pairs) {
			t.Errorf("k=%d: the pair's draws have correlation %v", k, corr)
		}
	}
}

// trigamma is psi'(x) by recurrence to x >= 20 and the asymptotic series.
func trigamma(x float64) float64 {
	var s float64
	for ; x < 20; x++ {
		s += 1 / (x * x)
	}
	x2 := 1 / (x * x)
	return s + 1/x + x2/2 + x2/x*(1.0/6-x2*(1.0/30-x2*(1.0/42-x2/30)))
}
