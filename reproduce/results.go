package reproduce

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/initscope/initscope/num"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/experiment"
	"github.com/initscope/initscope/probe"
	"github.com/initscope/initscope/theory"
	"github.com/initscope/initscope/train"
)

// LayerTheory is the part of a layer's prediction (theory.Layer) that the
// results keep: the mean length and the log moments, relative to the input.
type LayerTheory struct {
	// Index is the layer's 1-based position, Kind its kind, Width its width
	// for the fluctuation theory (as in theory.Layer).
	Index int    `json:"index"`
	Kind  string `json:"kind"`
	Width int    `json:"width"`
	// MeanRatio is E[M_j]/M_0 and Log10MeanRatio its log10; where only
	// bounds are known (residual modules ending in a ReLU) both are null and
	// the bounds are Log10MeanRatioLower and Log10MeanRatioUpper.
	MeanRatio           num.Number `json:"mean_ratio"`
	Log10MeanRatio      num.Number `json:"log10_mean_ratio"`
	Log10MeanRatioLower num.Number `json:"log10_mean_ratio_lower"`
	Log10MeanRatioUpper num.Number `json:"log10_mean_ratio_upper"`
	// MeanExact says whether the mean is exact.
	MeanExact bool `json:"mean_exact"`
	// Log10SecondMomentRatio is log10 E[M_j^2]/M_0^2.
	Log10SecondMomentRatio num.Number `json:"log10_second_moment_ratio"`
	// LogMean and LogVar are E and Var of ln(M_j/M_0); LogExact says
	// whether they are exact.
	LogMean  num.Number `json:"log_mean"`
	LogVar   num.Number `json:"log_var"`
	LogExact bool       `json:"log_exact"`
}

func newLayerTheory(l theory.Layer) LayerTheory {
	return LayerTheory{
		Index: l.Index, Kind: l.Kind, Width: l.Width,
		MeanRatio: l.MeanRatio, Log10MeanRatio: l.Log10MeanRatio,
		Log10MeanRatioLower: l.Log10MeanRatioLower, Log10MeanRatioUpper: l.Log10MeanRatioUpper,
		MeanExact: l.MeanExact, Log10SecondMomentRatio: l.Log10SecondMomentRatio, LogMean: l.LogMean, LogVar: l.LogVar, LogExact: l.LogExact,
	}
}

// PredictResult is the result of a predict task: theory.Predict for the
// task's net, initialization and input, without the advice texts.
type PredictResult struct {
	// Net, Init, WeightLaw and BiasLaw are as in theory.Prediction; Input
	// names the fixed input (DATASET:K) and M0 is its ||x||^2/n0.
	Net       string     `json:"net"`
	Init      string     `json:"init"`
	WeightLaw string     `json:"weight_law"`
	BiasLaw   string     `json:"bias_law"`
	Input     string     `json:"input"`
	M0        num.Number `json:"m0"`
	// Depth is the number of ReLU layers and Beta the sum of their 1/width.
	Depth int     `json:"depth"`
	Beta  float64 `json:"beta"`
	// OutputLayer is the index of the layer whose length is "the output
	// length M_d" of the paper's figures: the last layer before the final
	// linear layer (the logits), or the last layer if it has a ReLU.
	OutputLayer int `json:"output_layer"`
	// FM1 and FM2 are the verdicts (ok, vanishing, exploding; ok, warning,
	// failing) and FM2LogVar the fluctuation statistic they rest on.
	FM1       string     `json:"fm1"`
	FM2       string     `json:"fm2"`
	FM2LogVar num.Number `json:"fm2_log_var"`
	// EmpiricalVariance is E[Var_hat[M]] across the ReLU layers.
	EmpiricalVariance theory.EmpiricalVariance `json:"empirical_variance"`
	// Layers has one entry per layer of the net.
	Layers []LayerTheory `json:"layers"`
}

func newPredictResult(p *theory.Prediction, net *arch.Net, input string) *PredictResult {
	r := &PredictResult{
		Net: p.Net, Init: p.Init, WeightLaw: p.WeightLaw, BiasLaw: p.BiasLaw, Input: input, M0: p.M0,
		Depth: p.Depth, Beta: p.Beta, OutputLayer: outputLayer(net),
		FM1: p.FM1.Verdict, FM2: p.FM2.Verdict, FM2LogVar: p.FM2.LogVar,
		EmpiricalVariance: p.EmpiricalVariance,
	}
	for _, l := range p.Layers {
		r.Layers = append(r.Layers, newLayerTheory(l))
	}
	return r
}

// Output returns the theory for the output layer.
func (r *PredictResult) Output() (LayerTheory, error) {
	if r.OutputLayer < 1 || r.OutputLayer > len(r.Layers) {
		return LayerTheory{}, fmt.Errorf("prediction for %s: output layer %d of %d", r.Net, r.OutputLayer, len(r.Layers))
	}
	return r.Layers[r.OutputLayer-1], nil
}

// outputLayer is the 1-based index of the last layer before the net's final
// linear layer, or of the last layer if it has a ReLU.
func outputLayer(net *arch.Net) int {
	n := len(net.Layers)
	if last := net.Layers[n-1]; last.HasWeights() && !last.ReLU && n > 1 {
		return n - 1
	}
	return n
}

// ProbeLayer is one layer of a ProbeResult: M_j/M_0 measured over the
// samples, with the theory beside it.
type ProbeLayer struct {
	// Index and Kind are as in LayerTheory.
	Index int    `json:"index"`
	Kind  string `json:"kind"`
	// MeanRatio is the sample mean of M_j/M_0, MeanRatioSE its standard
	// error and Log10MeanRatio its log10 (finite where the mean overflows).
	MeanRatio      num.Number `json:"mean_ratio"`
	MeanRatioSE    num.Number `json:"mean_ratio_se"`
	Log10MeanRatio num.Number `json:"log10_mean_ratio"`
	// LogMean and LogVar are the mean and variance of ln(M_j/M_0) over the
	// live samples, with standard errors.
	LogMean   num.Number `json:"log_mean"`
	LogMeanSE num.Number `json:"log_mean_se"`
	LogVar    num.Number `json:"log_var"`
	LogVarSE  num.Number `json:"log_var_se"`
	// DeadFraction is the fraction of samples with M_j = 0.
	DeadFraction num.Number `json:"dead_fraction"`
	// HeavyTail says the mean is carried by rare samples (probe.Summary).
	HeavyTail bool `json:"heavy_tail"`
	// WithinBounds says, where the theory has only bounds, whether the mean
	// lies within them (allowing probe.FlagZ standard errors).
	WithinBounds *bool `json:"within_bounds,omitempty"`
	// Z are the z-scores against the exact predictions.
	Z probe.LayerZ `json:"z"`
	// Theory is the layer's prediction.
	Theory LayerTheory `json:"theory"`
}

// ProbeResult is the result of a probe task: probe.Run and probe.Compare
// for the task's net, initialization and input, per layer compacted.
type ProbeResult struct {
	// Net, Init, WeightLaw, BiasLaw, Input, M0 and OutputLayer are as in
	// PredictResult.
	Net         string     `json:"net"`
	Init        string     `json:"init"`
	WeightLaw   string     `json:"weight_law"`
	BiasLaw     string     `json:"bias_law"`
	Input       string     `json:"input"`
	M0          num.Number `json:"m0"`
	OutputLayer int        `json:"output_layer"`
	// Depth is the number of ReLU layers and Beta the sum of their 1/width.
	Depth int     `json:"depth"`
	Beta  float64 `json:"beta"`
	// Samples, Seed, Method and Backend say how it was measured.
	Samples int          `json:"samples"`
	Seed    uint64       `json:"seed"`
	Method  probe.Method `json:"method"`
	Backend string       `json:"backend"`
	// Layers has one entry per layer of the net.
	Layers []ProbeLayer `json:"layers"`
	// EmpiricalVariance is Var_hat[M]/M_0^2 across the plain ReLU layers,
	// Jacobian ||J u||^2/||u||^2, each with the theory's mean beside it.
	EmpiricalVariance probe.MomentReport `json:"empirical_variance"`
	Jacobian          probe.MomentReport `json:"jacobian"`
	// Flags lists the exact predictions the measurement missed by more
	// than probe.FlagZ standard errors.
	Flags []string `json:"flags"`
}

func newProbeResult(rep *probe.Report, net *arch.Net, input string) *ProbeResult {
	r := &ProbeResult{
		Net: rep.Net, Init: rep.Init, WeightLaw: rep.WeightLaw, BiasLaw: rep.BiasLaw, Input: input,
		M0: rep.M0, OutputLayer: outputLayer(net), Depth: rep.Theory.Depth, Beta: rep.Theory.Beta,
		Samples: rep.Samples, Seed: rep.Seed, Method: rep.Method, Backend: rep.Backend,
		EmpiricalVariance: rep.EmpiricalVariance, Jacobian: rep.Jacobian, Flags: rep.Flags,
	}
	for _, l := range rep.Layers {
		r.Layers = append(r.Layers, ProbeLayer{
			Index: l.Index, Kind: l.Kind,
			MeanRatio: l.MeanRatio, MeanRatioSE: l.MeanRatioSE, Log10MeanRatio: l.Log10MeanRatio,
			LogMean: l.LogMean, LogMeanSE: l.LogMeanSE, LogVar: l.LogVar, LogVarSE: l.LogVarSE,
			DeadFraction: l.DeadFraction, HeavyTail: l.HeavyTail, WithinBounds: l.WithinBounds,
			Z: l.Z, Theory: newLayerTheory(l.Theory),
		})
	}
	return r
}

// Output returns the measurement at the output layer.
func (r *ProbeResult) Output() (ProbeLayer, error) {
	if r.OutputLayer < 1 || r.OutputLayer > len(r.Layers) {
		return ProbeLayer{}, fmt.Errorf("probe of %s: output layer %d of %d", r.Net, r.OutputLayer, len(r.Layers))
	}
	return r.Layers[r.OutputLayer-1], nil
}

// decode unmarshals a done record's result into v.
func decode(rec experiment.Record, v any) error {
	if err := json.Unmarshal(rec.Result, v); err != nil {
		return fmt.Errorf("task %s (%s): reading its result: %v", rec.ID, rec.Kind, err)
	}
	return nil
}

// Describe says in a few words what a record found, for progress lines:
// the output length for predict and probe tasks, the epochs to the target
// for train tasks, the error for failed ones.
func Describe(rec experiment.Record) string {
	if rec.Status != experiment.StatusDone {
		return "failed: " + rec.Error
	}
	switch rec.Kind {
	case KindPredict:
		var r PredictResult
		if decode(rec, &r) != nil {
			return "done"
		}
		out, err := r.Output()
		if err != nil {
			return "done"
		}
		return fmt.Sprintf("theory: log10 E[M_out]/M0 = %s (FM1 %s, FM2 %s)", log10Text(out), r.FM1, r.FM2)
	case KindProbe:
		var r ProbeResult
		if decode(rec, &r) != nil {
			return "done"
		}
		out, err := r.Output()
		if err != nil {
			return "done"
		}
		return fmt.Sprintf("measured: log10 mean M_out/M0 = %+.2f, Var[ln M_out] = %.3g (%s sampler, %d samples)",
			float64(out.Log10MeanRatio), float64(out.LogVar), r.Method, r.Samples)
	case KindTrain:
		var r train.Result
		if decode(rec, &r) != nil {
			return "done"
		}
		return trainOutcome(&r)
	}
	return "done"
}

// log10Text writes a layer's log10 E[M]/M0, or its bounds.
func log10Text(l LayerTheory) string {
	if l.Log10MeanRatio.Known() {
		return fmt.Sprintf("%+.2f", float64(l.Log10MeanRatio))
	}
	return fmt.Sprintf("[%+.2f, %+.2f]", float64(l.Log10MeanRatioLower), float64(l.Log10MeanRatioUpper))
}

// trainOutcome says whether and when a run reached its target.
func trainOutcome(r *train.Result) string {
	target := fmt.Sprintf("%g%%", 100*r.Setup.TargetAcc)
	final := "no evaluation"
	if r.FinalTestAccuracy != nil {
		final = fmt.Sprintf("final test accuracy %.1f%%", 100**r.FinalTestAccuracy)
	}
	switch {
	case r.ReachedTarget && r.EpochsToTarget != nil:
		return fmt.Sprintf("reached %s at epoch %.3g (%.1f s)", target, *r.EpochsToTarget, r.Seconds)
	case r.Diverged:
		return fmt.Sprintf("diverged at epoch %.3g before reaching %s (%s)", r.Epochs, target, final)
	}
	return fmt.Sprintf("did not reach %s within %g epochs (%s, %.1f s)", target, r.Setup.Epochs, final, r.Seconds)
}

// nan is the float64 NaN, for cells without a value.
var nan = math.NaN()
