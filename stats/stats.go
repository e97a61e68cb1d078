// Package stats holds the small statistics the reports decide claims with:
// means with standard errors, ranks and rank correlations, least-squares
// slopes, and percentile bootstrap intervals over independent units (seeds,
// networks) with a fixed random stream, so a report is the same every time
// it is rendered from the same records.
package stats

import (
	"math"
	"math/rand/v2"
	"sort"
)

// MeanSE returns the mean of xs and its standard error (NaN for fewer than
// two values; both NaN for none).
func MeanSE(xs []float64) (mean, se float64) {
	n := float64(len(xs))
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range xs {
		mean += x
	}
	mean /= n
	if n < 2 {
		return mean, math.NaN()
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / (n - 1) / n)
}

// Ranks returns the ranks of xs (1-based, ties sharing their mean rank;
// +Inf ranks last).
func Ranks(xs []float64) []float64 {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return xs[idx[a]] < xs[idx[b]] })
	r := make([]float64, len(xs))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && xs[idx[j+1]] == xs[idx[i]] {
			j++
		}
		for k := i; k <= j; k++ {
			r[idx[k]] = float64(i+j)/2 + 1
		}
		i = j + 1
	}
	return r
}

// Spearman is the rank correlation of x and y (NaN with fewer than 3
// points, unequal lengths or a constant variable). +Inf values rank last,
// tied.
func Spearman(x, y []float64) float64 {
	if len(x) != len(y) || len(x) < 3 {
		return math.NaN()
	}
	return Pearson(Ranks(x), Ranks(y))
}

// Pearson is the correlation of x and y (NaN for a constant variable).
func Pearson(x, y []float64) float64 {
	mx, _ := MeanSE(x)
	my, _ := MeanSE(y)
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

// Slope is the least-squares slope of y against x (NaN with fewer than two
// distinct x).
func Slope(x, y []float64) float64 {
	mx, _ := MeanSE(x)
	my, _ := MeanSE(y)
	var sxy, sxx float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
	}
	if len(x) < 2 || sxx == 0 {
		return math.NaN()
	}
	return sxy / sxx
}

// Reps is the number of bootstrap resamples Bootstrap draws.
const Reps = 2000

// Level is the confidence level of every interval this package returns.
const Level = 0.95

// Bootstrap returns the percentile interval at Level of a statistic over n
// independent units (seeds, networks): stat receives the indices of a
// resample, drawn with replacement, and returns the statistic on it (NaN
// resamples are left out). Units that are paired across the compared
// settings (the same seed at every depth) are resampled together by
// construction, since stat sees unit indices, not values. The stream is
// fixed, so the interval is reproducible. With fewer than two units, or
// when more than half of the resamples give NaN, both ends are NaN.
func Bootstrap(n int, stat func(idx []int) float64) (lo, hi float64) {
	if n < 2 {
		return math.NaN(), math.NaN()
	}
	r := rand.New(rand.NewPCG(0x1d, 0xb007))
	idx := make([]int, n)
	vals := make([]float64, 0, Reps)
	for range Reps {
		for i := range idx {
			idx[i] = r.IntN(n)
		}
		if v := stat(idx); !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	if 2*len(vals) < Reps {
		return math.NaN(), math.NaN()
	}
	sort.Float64s(vals)
	return Quantile(vals, (1-Level)/2), Quantile(vals, (1+Level)/2)
}

// Quantile returns the p-quantile of sorted values by linear interpolation
// between order statistics (NaN for none).
func Quantile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := p * float64(len(sorted)-1)
	i := int(math.Floor(pos))
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i] + f*(sorted[i+1]-sorted[i])
}

// Z95 is the two-sided 95% quantile of the standard normal law.
const Z95 = 1.959963984540054

// NormalZ returns the two-sided standard normal quantile for a family of k
// comparisons at Level (Bonferroni): the z beyond which a single one of k
// estimates counts as off at family-wise level 1-Level.
func NormalZ(k int) float64 {
	if k < 1 {
		k = 1
	}
	// Two-sided tail probability per comparison.
	p := (1 - Level) / float64(k)
	return -normalQuantile(p / 2)
}

// normalQuantile is the inverse of the standard normal CDF, from
// math.Erfcinv with one Newton step.
func normalQuantile(p float64) float64 {
	if p <= 0 {
		return math.Inf(-1)
	}
	if p >= 1 {
		return math.Inf(1)
	}
	x := -math.Sqrt2 * math.Erfcinv(2*p)
	// One Newton step on Phi(x) = p for the last bits.
	e := 0.5*math.Erfc(-x/math.Sqrt2) - p
	d := math.Exp(-x*x/2) / math.Sqrt(2*math.Pi)
	return x - e/d
}

// Wilson returns the Wilson score interval at Level for a proportion of k
// successes in n trials (NaN for n < 1).
func Wilson(k, n int) (lo, hi float64) {
	if n < 1 || k < 0 || k > n {
		return math.NaN(), math.NaN()
	}
	z := Z95
	p, nf := float64(k)/float64(n), float64(n)
	den := 1 + z*z/nf
	mid := (p + z*z/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / den
	return math.Max(0, mid-half), math.Min(1, mid+half)
}

// Parametric returns the percentile interval at Level of a statistic of
// estimates known only by their values and standard errors: stat receives
// the estimates redrawn from independent normal laws N(value, se^2), Reps
// times, from a fixed stream (NaN draws are left out; both ends are NaN
// when more than half are).
func Parametric(values, ses []float64, stat func([]float64) float64) (lo, hi float64) {
	r := rand.New(rand.NewPCG(0x9a, 0xb007))
	draw := make([]float64, len(values))
	vals := make([]float64, 0, Reps)
	for range Reps {
		for i, v := range values {
			draw[i] = v + ses[i]*r.NormFloat64()
		}
		if v := stat(draw); !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	if 2*len(vals) < Reps {
		return math.NaN(), math.NaN()
	}
	sort.Float64s(vals)
	return Quantile(vals, (1-Level)/2), Quantile(vals, (1+Level)/2)
}
