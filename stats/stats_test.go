package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSpearman(t *testing.T) {
	inf := math.Inf(1)
	for _, c := range []struct {
		x, y []float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, []float64{10, 20, 30, 1000}, 1},
		{[]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}, -1},
		// "Not reached" (+Inf) ranks slowest, ties share their rank.
		{[]float64{1, 2, 3, 4}, []float64{0.1, 0.2, inf, inf}, 0.9486832980505138},
		{[]float64{1, 1, 2, 2}, []float64{1, 2, 3, 4}, 0.8944271909999159},
	} {
		if got := Spearman(c.x, c.y); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Spearman(%v, %v) = %v, want %v", c.x, c.y, got, c.want)
		}
	}
	if got := Spearman([]float64{1, 2}, []float64{1, 2}); !math.IsNaN(got) {
		t.Errorf("spearman of 2 points = %v, want NaN", got)
	}
	if got := Spearman([]float64{1, 2, 3}, []float64{5, 5, 5}); !math.IsNaN(got) {
		t.Errorf("spearman with a constant = %v, want NaN", got)
	}
}

func TestSlopeAndMean(t *testing.T) {
	if s := Slope([]float64{1, 2, 3, 4}, []float64{3, 5, 7, 9}); math.Abs(s-2) > 1e-12 {
		t.Errorf("slope = %v, want 2", s)
	}
	if s := Slope([]float64{2, 2}, []float64{1, 3}); !math.IsNaN(s) {
		t.Errorf("slope over one x = %v, want NaN", s)
	}
	m, se := MeanSE([]float64{1, 2, 3, 4})
	if m != 2.5 || math.Abs(se-math.Sqrt(5.0/3/4)) > 1e-12 {
		t.Errorf("meanSE = %v, %v", m, se)
	}
	if m, se := MeanSE([]float64{7}); m != 7 || !math.IsNaN(se) {
		t.Errorf("meanSE of one value = %v, %v: want 7, NaN", m, se)
	}
}

// TestBootstrapCoverage checks the percentile interval of a mean against
// its definition: over 200 independent samples of 30 normal values, the 95%
// interval covers the true mean in 88-99% of them (the percentile bootstrap
// under-covers slightly at n = 30), and it is reproducible.
func TestBootstrapCoverage(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	covered := 0
	const trials = 200
	for range trials {
		xs := make([]float64, 30)
		for i := range xs {
			xs[i] = 3 + 2*r.NormFloat64()
		}
		mean := func(idx []int) float64 {
			s := 0.0
			for _, i := range idx {
				s += xs[i]
			}
			return s / float64(len(idx))
		}
		lo, hi := Bootstrap(len(xs), mean)
		lo2, hi2 := Bootstrap(len(xs), mean)
		if lo != lo2 || hi != hi2 {
			t.Fatalf("not reproducible: [%v, %v] then [%v, %v]", lo, hi, lo2, hi2)
		}
		m, se := MeanSE(xs)
		if w := hi - lo; math.Abs(w-2*Z95*se) > 0.35*2*Z95*se {
			t.Errorf("interval width %v far from the normal one %v (mean %v)", w, 2*Z95*se, m)
		}
		if lo <= 3 && 3 <= hi {
			covered++
		}
	}
	if covered < 176 || covered > 198 {
		t.Errorf("covered the true mean in %d of %d samples, want 88-99%%", covered, trials)
	}
	if lo, hi := Bootstrap(1, func([]int) float64 { return 1 }); !math.IsNaN(lo) || !math.IsNaN(hi) {
		t.Errorf("one unit: [%v, %v], want NaN", lo, hi)
	}
	if lo, _ := Bootstrap(10, func([]int) float64 { return math.NaN() }); !math.IsNaN(lo) {
		t.Errorf("all resamples NaN: lo %v, want NaN", lo)
	}
}

func TestQuantileAndNormalZ(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5}
	for _, c := range []struct{ p, want float64 }{{0, 1}, {0.5, 3}, {1, 5}, {0.1, 1.4}} {
		if got := Quantile(v, c.p); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Quantile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	// Standard normal quantiles, from tables: 97.5% 1.959964, 99.75%
	// 2.807034 (k = 10), 99.975% 3.480756 (k = 100).
	for _, c := range []struct {
		k    int
		want float64
	}{{1, 1.959963984540054}, {10, 2.807033768343811}, {100, 3.480756404291350}} {
		if got := NormalZ(c.k); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("NormalZ(%d) = %.15g, want %.15g", c.k, got, c.want)
		}
	}
}

// TestWilson checks the interval against values computed by hand from the
// closed form (and R's prop.test without continuity correction).
func TestWilson(t *testing.T) {
	for _, c := range []struct {
		k, n   int
		lo, hi float64
	}{
		{0, 10, 0, 0.2775327998628899},
		{5, 10, 0.2365930905452024, 0.7634069094547976},
		{10, 10, 0.7224672001371101, 1},
	} {
		lo, hi := Wilson(c.k, c.n)
		if math.Abs(lo-c.lo) > 1e-9 || math.Abs(hi-c.hi) > 1e-9 {
			t.Errorf("Wilson(%d, %d) = [%v, %v], want [%v, %v]", c.k, c.n, lo, hi, c.lo, c.hi)
		}
	}
	if lo, _ := Wilson(1, 0); !math.IsNaN(lo) {
		t.Errorf("n = 0: %v, want NaN", lo)
	}
}

// TestParametric checks that the interval of a single redrawn estimate is
// its normal interval (value ± 1.96 se) to Monte Carlo accuracy.
func TestParametric(t *testing.T) {
	lo, hi := Parametric([]float64{5}, []float64{2}, func(x []float64) float64 { return x[0] })
	if math.Abs(lo-(5-Z95*2)) > 0.25 || math.Abs(hi-(5+Z95*2)) > 0.25 {
		t.Errorf("interval [%v, %v], want about [%v, %v]", lo, hi, 5-Z95*2, 5+Z95*2)
	}
}
