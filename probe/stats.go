package probe

import (
	"math"
	"slices"

	"github.com/initscope/initscope/arch"
)

// HeavyTailLogVar is the variance of ln Q above which the sample mean of Q
// is called unreliable. For a log-normal Q with Var[ln Q] = s2 the relative
// variance of Q is e^s2 - 1: beyond s2 = 1 the mean is carried by rare large
// samples, a modest sample usually underestimates it, and its standard error
// understates the uncertainty. The log moments stay reliable.
const HeavyTailLogVar = 1.0

// QuantileLevels are the levels of Summary.LogQuantiles.
var QuantileLevels = [3]float64{0.05, 0.5, 0.95}

// Summary describes the distribution over the samples of a quantity Q >= 0
// (M_j/M_0, Var_hat/M_0^2 or ||J u||^2/||u||^2). A sample with Q = 0 (a dead
// layer, every unit off) is dead: it counts in the mean of Q and in the
// quantiles, not in the log moments. Undefined values are NaN.
type Summary struct {
	// Mean is the sample mean of Q and MeanSE its standard error. Mean is
	// +Inf where it exceeds float64; Log10Mean stays finite.
	Mean, MeanSE, Log10Mean float64
	// SecondMoment is the sample mean of Q^2, with its standard error and log10.
	SecondMoment, SecondMomentSE, Log10SecondMoment float64
	// LogMean and LogVar are the mean and variance of ln Q over the live
	// samples, with standard errors (that of LogVar from the fourth central
	// moment).
	LogMean, LogMeanSE, LogVar, LogVarSE float64
	// Live is the number of samples with Q > 0; DeadFraction the fraction
	// with Q = 0.
	Live         int
	DeadFraction float64
	// LogQuantiles are the QuantileLevels quantiles of ln Q (-Inf: Q = 0),
	// each the smallest sample value whose empirical CDF reaches the level.
	LogQuantiles [3]float64
	// HeavyTail says LogVar > HeavyTailLogVar: Mean is dominated by rare
	// samples; trust the log moments instead.
	HeavyTail bool
}

// Quantile returns the i-th quantile of Q itself (exp of LogQuantiles[i]).
func (s Summary) Quantile(i int) float64 { return math.Exp(s.LogQuantiles[i]) }

// summarize fills the result's summaries from the table of rows.
func (r *Result) summarize(layers []arch.Layer, rows []float64, width int) {
	n := r.Samples
	col := make([]float64, n)
	column := func(j int) []float64 {
		for i := range col {
			col[i] = rows[i*width+j]
		}
		return col
	}
	r.Layers = make([]Summary, len(layers))
	for j := range layers {
		r.Layers[j] = summarizeLogs(column(j))
	}
	r.Jacobian = summarizeLogs(column(width - 1))
	var relus []int
	for j, l := range layers {
		if l.HasWeights() && l.ReLU {
			relus = append(relus, j)
		}
	}
	r.VarianceLayers = len(relus)
	if len(relus) == 0 {
		r.EmpiricalVariance = undefinedSummary()
		return
	}
	vals := make([]float64, len(relus))
	for i := range col {
		row := rows[i*width : (i+1)*width]
		for k, j := range relus {
			vals[k] = row[j]
		}
		col[i] = logVariance(vals)
	}
	r.EmpiricalVariance = summarizeLogs(col)
}

// logVariance returns ln of the population variance of e^v over the values
// v (logs, -Inf for 0), computed relative to the largest so that nothing
// overflows; -Inf when the variance is 0.
func logVariance(v []float64) float64 {
	c := slices.Max(v)
	if math.IsInf(c, -1) {
		return c
	}
	var mean float64
	for _, x := range v {
		mean += math.Exp(x - c)
	}
	mean /= float64(len(v))
	var ss float64
	for _, x := range v {
		d := math.Exp(x-c) - mean
		ss += d * d
	}
	return 2*c + math.Log(ss/float64(len(v)))
}

// undefinedSummary is the summary of a quantity with no value.
func undefinedSummary() Summary {
	nan := math.NaN()
	return Summary{
		Mean: nan, MeanSE: nan, Log10Mean: nan,
		SecondMoment: nan, SecondMomentSE: nan, Log10SecondMoment: nan,
		LogMean: nan, LogMeanSE: nan, LogVar: nan, LogVarSE: nan,
		DeadFraction: nan, LogQuantiles: [3]float64{nan, nan, nan},
	}
}

// summarizeLogs summarizes Q from the natural logs of its samples, in order.
func summarizeLogs(logs []float64) Summary {
	n := len(logs)
	var s Summary
	s.Mean, s.MeanSE, s.Log10Mean = meanOfExp(logs, 1)
	s.SecondMoment, s.SecondMomentSE, s.Log10SecondMoment = meanOfExp(logs, 2)

	var sum float64
	for _, v := range logs {
		if !math.IsInf(v, -1) {
			sum += v
			s.Live++
		}
	}
	s.DeadFraction = float64(n-s.Live) / float64(n)
	s.LogMean, s.LogMeanSE, s.LogVar, s.LogVarSE = math.NaN(), math.NaN(), math.NaN(), math.NaN()
	if s.Live > 0 {
		s.LogMean = sum / float64(s.Live)
	}
	if s.Live > 1 {
		var m2, m4 float64
		for _, v := range logs {
			if !math.IsInf(v, -1) {
				d := v - s.LogMean
				m2 += d * d
				m4 += d * d * d * d
			}
		}
		k := float64(s.Live)
		s.LogVar = m2 / (k - 1)
		s.LogMeanSE = math.Sqrt(s.LogVar / k)
		// Var(s^2) = (mu4 - sigma^4 (k-3)/(k-1)) / k.
		mu4, sig2 := m4/k, m2/k
		s.LogVarSE = math.Sqrt(math.Max(0, mu4-sig2*sig2*(k-3)/(k-1)) / k)
	}
	s.HeavyTail = s.LogVar > HeavyTailLogVar

	buf := slices.Clone(logs)
	for i, p := range QuantileLevels {
		s.LogQuantiles[i] = selectKth(buf, max(0, int(math.Ceil(p*float64(n)))-1))
	}
	return s
}

// selectKth returns the k-th smallest value of a (0-based), reordering a:
// Hoare's quickselect, O(len(a)) expected, which unlike a sort keeps the
// quantiles of millions of exact-sampler draws cheap. Runs of equal values
// (dead samples) split evenly, so they cost no more than distinct ones.
func selectKth(a []float64, k int) float64 {
	lo, hi := 0, len(a)-1
	for lo < hi {
		pivot := a[lo+(hi-lo)/2]
		i, j := lo, hi
		for i <= j {
			for a[i] < pivot {
				i++
			}
			for a[j] > pivot {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return a[k]
		}
	}
	return a[k]
}

// meanOfExp returns the sample mean of e^(k v) over the logs v, its
// standard error, and log10 of the mean, scaling by the largest term first
// so that neither the sum nor the log overflows.
func meanOfExp(logs []float64, k float64) (mean, se, log10 float64) {
	c := k * slices.Max(logs)
	if math.IsInf(c, -1) {
		return 0, 0, math.Inf(-1)
	}
	n := float64(len(logs))
	var m float64
	for _, v := range logs {
		m += math.Exp(k*v - c)
	}
	m /= n
	var ss float64
	for _, v := range logs {
		d := math.Exp(k*v-c) - m
		ss += d * d
	}
	sd := math.Sqrt(ss / (n - 1))
	scale := math.Exp(c)
	return scale * m, scale * sd / math.Sqrt(n), (c + math.Log(m)) / math.Ln10
}
