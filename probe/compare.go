package probe

import (
	"fmt"
	"math"

	"github.com/initscope/initscope/num"

	"github.com/initscope/initscope/theory"
)

// FlagZ is the |z| beyond which a measurement is flagged as disagreeing with
// an exact prediction: 4 standard errors, which a correct prediction exceeds
// with probability about 6e-5 per comparison.
const FlagZ = 4.0

// minDeadVariance is the least N p (1-p) for which the dead fraction gets a
// z-score: below it the binomial count is too far from normal for one.
const minDeadVariance = 10

// Report is a Result beside the theory's Prediction for the same net, init
// and input: the JSON of `initscope probe`. It holds nothing that depends
// on the number of workers or on timing, so that the same seed gives the
// same bytes.
type Report struct {
	// Input names the fixed input; the caller sets it, since Compare sees
	// only the input's values.
	Input string `json:"input"`
	// Net, Init, WeightLaw and BiasLaw are as in the prediction.
	Net       string `json:"net"`
	Init      string `json:"init"`
	WeightLaw string `json:"weight_law"`
	BiasLaw   string `json:"bias_law"`
	// Samples is the number of initializations, Seed their seed.
	Samples int    `json:"samples"`
	Seed    uint64 `json:"seed"`
	// Method is exact or network; Backend the BLAS backend that ran.
	Method  Method `json:"method"`
	Backend string `json:"backend"`
	// M0 is ||x||^2/n0 of the input.
	M0 num.Number `json:"m0"`
	// Layers has one entry per layer of the net, in the prediction's order.
	Layers []LayerReport `json:"layers"`
	// EmpiricalVariance is Var_hat[M]/M_0^2 across the plain ReLU layers.
	EmpiricalVariance MomentReport `json:"empirical_variance"`
	// Jacobian is ||J u||^2/||u||^2 for a random unit u; its theory value is
	// n_d E[Z^2], n_d the output width.
	Jacobian MomentReport `json:"jacobian"`
	// Flags lists every comparison with an exact prediction beyond FlagZ
	// standard errors, as sentences.
	Flags []string `json:"flags"`
	// Theory is the whole prediction (its layers also appear in Layers).
	Theory *theory.Prediction `json:"-"`
}

// Quantiles are the 5%, 50% and 95% quantiles of a quantity.
type Quantiles struct {
	P05 num.Number `json:"p05"`
	P50 num.Number `json:"p50"`
	P95 num.Number `json:"p95"`
}

// LayerZ holds the z-scores (measured - theory) / SE of one layer's
// measurements against the exact predictions; null where the prediction is
// not exact or not known.
type LayerZ struct {
	MeanRatio         num.Number `json:"mean_ratio"`
	SecondMomentRatio num.Number `json:"second_moment_ratio"`
	LogMean           num.Number `json:"log_mean"`
	LogVar            num.Number `json:"log_var"`
	DeadFraction      num.Number `json:"dead_fraction"`
}

// LayerReport is one layer's measurements with its prediction. Ratios are
// M_j/M_0; log moments are those of ln(M_j/M_0) over the live samples.
type LayerReport struct {
	// Index is the layer's 1-based position, Kind its kind, both as predict
	// writes them.
	Index int    `json:"index"`
	Kind  string `json:"kind"`
	// MeanRatio is the sample mean of M_j/M_0, MeanRatioSE its SE,
	// Log10MeanRatio its log10 (finite where MeanRatio overflows).
	MeanRatio      num.Number `json:"mean_ratio"`
	MeanRatioSE    num.Number `json:"mean_ratio_se"`
	Log10MeanRatio num.Number `json:"log10_mean_ratio"`
	// SecondMomentRatio is the sample mean of (M_j/M_0)^2, with SE and log10.
	SecondMomentRatio      num.Number `json:"second_moment_ratio"`
	SecondMomentRatioSE    num.Number `json:"second_moment_ratio_se"`
	Log10SecondMomentRatio num.Number `json:"log10_second_moment_ratio"`
	// LogMean and LogVar are the mean and variance of ln(M_j/M_0) over the
	// live samples, with their standard errors.
	LogMean   num.Number `json:"log_mean"`
	LogMeanSE num.Number `json:"log_mean_se"`
	LogVar    num.Number `json:"log_var"`
	LogVarSE  num.Number `json:"log_var_se"`
	// DeadFraction is the fraction of samples with M_j = 0.
	DeadFraction num.Number `json:"dead_fraction"`
	// Quantiles are those of M_j/M_0, LogQuantiles those of ln(M_j/M_0).
	Quantiles    Quantiles `json:"quantiles"`
	LogQuantiles Quantiles `json:"log_quantiles"`
	// HeavyTail says Var[ln M_j/M_0] > HeavyTailLogVar: the sample mean of
	// M_j/M_0 is dominated by rare samples, and its z-score is not flagged.
	HeavyTail bool `json:"heavy_tail"`
	// WithinBounds says, where the theory gives only bounds on the mean
	// (residual modules ending in a ReLU), whether the mean lies within
	// them, allowing FlagZ standard errors.
	WithinBounds *bool `json:"within_bounds,omitempty"`
	// Z are the z-scores against the exact predictions.
	Z LayerZ `json:"z"`
	// Theory is the layer's prediction, as `initscope predict` writes it.
	Theory theory.Layer `json:"theory"`
}

// MomentReport is a per-sample quantity Q summarized, with the theory's
// E[Q] beside it where there is one.
type MomentReport struct {
	// Mean is the sample mean of Q, SE its standard error and Log10Mean its
	// log10 (finite where Mean overflows).
	Mean      num.Number `json:"mean"`
	SE        num.Number `json:"se"`
	Log10Mean num.Number `json:"log10_mean"`
	// LogMean and LogVar are the mean and variance of ln Q over the samples
	// with Q > 0, with their standard errors.
	LogMean   num.Number `json:"log_mean"`
	LogMeanSE num.Number `json:"log_mean_se"`
	LogVar    num.Number `json:"log_var"`
	LogVarSE  num.Number `json:"log_var_se"`
	// ZeroFraction is the fraction of samples with Q = 0.
	ZeroFraction num.Number `json:"zero_fraction"`
	// Quantiles are the 5%, 50% and 95% quantiles of Q.
	Quantiles Quantiles `json:"quantiles"`
	// HeavyTail says Var[ln Q] > HeavyTailLogVar: Mean is carried by rare
	// samples, and its z-score is not flagged.
	HeavyTail bool `json:"heavy_tail"`
	// TheoryMean is the theory's E[Q], Unknown where it has none.
	TheoryMean num.Number `json:"theory_mean"`
	// Exact says whether TheoryMean is exact; Z is (Mean - TheoryMean)/SE
	// when it is.
	Exact bool       `json:"exact"`
	Z     num.Number `json:"z"`
	// Layers is the number of layers Var_hat runs over (empirical variance only).
	Layers int `json:"layers,omitempty"`
}

// Compare puts the result beside the prediction, which must be for the same
// net, initialization and input.
func Compare(r *Result, p *theory.Prediction) (*Report, error) {
	if len(p.Layers) != len(r.Layers) {
		return nil, fmt.Errorf("prediction has %d layers, the probe %d: not the same net", len(p.Layers), len(r.Layers))
	}
	rep := &Report{
		Net: p.Net, Init: p.Init, WeightLaw: p.WeightLaw, BiasLaw: p.BiasLaw,
		Samples: r.Samples, Seed: r.Seed, Method: r.Method, Backend: r.Backend,
		M0: num.Number(r.M0), Flags: []string{}, Theory: p,
	}
	zeroBias := true
	for _, t := range p.Layers {
		zeroBias = zeroBias && (!t.BiasVar.Known() || t.BiasVar == 0)
	}
	for j, s := range r.Layers {
		t := p.Layers[j]
		l := LayerReport{
			Index: t.Index, Kind: t.Kind,
			MeanRatio: num.Number(s.Mean), MeanRatioSE: num.Number(s.MeanSE), Log10MeanRatio: num.Number(s.Log10Mean),
			SecondMomentRatio: num.Number(s.SecondMoment), SecondMomentRatioSE: num.Number(s.SecondMomentSE),
			Log10SecondMomentRatio: num.Number(s.Log10SecondMoment),
			LogMean:                num.Number(s.LogMean), LogMeanSE: num.Number(s.LogMeanSE),
			LogVar: num.Number(s.LogVar), LogVarSE: num.Number(s.LogVarSE),
			DeadFraction: num.Number(s.DeadFraction),
			Quantiles:    quantiles(s, math.Exp), LogQuantiles: quantiles(s, func(x float64) float64 { return x }),
			HeavyTail: s.HeavyTail, Theory: t,
		}
		c := comparer{rep: rep, where: fmt.Sprintf("layer %d", t.Index)}
		l.Z = LayerZ{
			MeanRatio:         c.z("E[M/M0]", s.Mean, s.MeanSE, t.MeanRatio, t.MeanExact, !s.HeavyTail),
			SecondMomentRatio: c.z("E[(M/M0)^2]", s.SecondMoment, s.SecondMomentSE, t.SecondMomentRatio, t.SecondMomentExact, !(4*s.LogVar > HeavyTailLogVar)),
			LogMean:           c.z("E[ln M/M0]", s.LogMean, s.LogMeanSE, t.LogMean, t.LogExact, true),
			LogVar:            c.z("Var[ln M/M0]", s.LogVar, s.LogVarSE, t.LogVar, t.LogExact && !t.LogVarUpperBound, true),
			DeadFraction:      num.Unknown,
		}
		if pd := float64(t.DeadProbability); zeroBias && p.DeadExact && t.DeadProbability.Known() && float64(r.Samples)*pd*(1-pd) >= minDeadVariance {
			l.Z.DeadFraction = c.z("dead fraction", s.DeadFraction, math.Sqrt(pd*(1-pd)/float64(r.Samples)), t.DeadProbability, true, true)
		}
		if t.Log10MeanRatioLower.Known() && t.Log10MeanRatioUpper.Known() && s.Mean > 0 {
			tol := FlagZ * s.MeanSE
			lo, hi := math.Pow(10, float64(t.Log10MeanRatioLower)), math.Pow(10, float64(t.Log10MeanRatioUpper))
			in := s.Mean+tol >= lo && s.Mean-tol <= hi
			l.WithinBounds = &in
			if !in && !s.HeavyTail {
				rep.Flags = append(rep.Flags, fmt.Sprintf("layer %d: E[M/M0] measured %.4g ± %.2g lies outside the theory's bounds [%.4g, %.4g]", t.Index, s.Mean, s.MeanSE, lo, hi))
			}
		}
		rep.Layers = append(rep.Layers, l)
	}

	ev := p.EmpiricalVariance
	rep.EmpiricalVariance = moments(r.EmpiricalVariance, ev.Relative, ev.Exact)
	rep.EmpiricalVariance.Layers = r.VarianceLayers
	c := comparer{rep: rep, where: "empirical variance"}
	rep.EmpiricalVariance.Z = c.z("E[Var_hat/M0^2]", r.EmpiricalVariance.Mean, r.EmpiricalVariance.MeanSE, ev.Relative, ev.Exact, !r.EmpiricalVariance.HeavyTail)

	jm := num.Unknown
	if p.Jacobian.MeanSquare.Known() {
		jm = num.Number(float64(p.Jacobian.MeanSquare) * float64(r.Outputs))
	}
	rep.Jacobian = moments(r.Jacobian, jm, p.Jacobian.Exact)
	c.where = "Jacobian"
	rep.Jacobian.Z = c.z("E[||Ju||^2/||u||^2]", r.Jacobian.Mean, r.Jacobian.MeanSE, jm, p.Jacobian.Exact, !r.Jacobian.HeavyTail)
	return rep, nil
}

// comparer computes z-scores and records the flags.
type comparer struct {
	rep   *Report
	where string
}

// z returns (measured - predicted)/se when the prediction is exact and
// known, else Unknown, and flags |z| > FlagZ when the measurement is
// reliable (its mean not dominated by rare samples).
func (c comparer) z(what string, measured, se float64, predicted num.Number, exact, reliable bool) num.Number {
	if !exact || !predicted.Known() || !(se > 0) || math.IsNaN(measured) || math.IsInf(measured, 0) {
		return num.Unknown
	}
	z := (measured - float64(predicted)) / se
	if math.Abs(z) > FlagZ && reliable {
		c.rep.Flags = append(c.rep.Flags, fmt.Sprintf("%s: %s measured %.4g ± %.2g, theory %.4g (z = %+.1f)", c.where, what, measured, se, float64(predicted), z))
	}
	return num.Number(z)
}

// quantiles applies f to the summary's log quantiles.
func quantiles(s Summary, f func(float64) float64) Quantiles {
	q := s.LogQuantiles
	return Quantiles{P05: num.Number(f(q[0])), P50: num.Number(f(q[1])), P95: num.Number(f(q[2]))}
}

// moments builds a MomentReport without its z-score.
func moments(s Summary, predicted num.Number, exact bool) MomentReport {
	return MomentReport{
		Mean: num.Number(s.Mean), SE: num.Number(s.MeanSE), Log10Mean: num.Number(s.Log10Mean),
		LogMean: num.Number(s.LogMean), LogMeanSE: num.Number(s.LogMeanSE),
		LogVar: num.Number(s.LogVar), LogVarSE: num.Number(s.LogVarSE),
		ZeroFraction: num.Number(s.DeadFraction), Quantiles: quantiles(s, math.Exp),
		HeavyTail: s.HeavyTail, TheoryMean: predicted, Exact: exact && predicted.Known(), Z: num.Unknown,
	}
}
