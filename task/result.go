package task

import (
	"fmt"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/experiment"
	"github.com/initscope/initscope/num"
	"github.com/initscope/initscope/probe"
	"github.com/initscope/initscope/theory"
	"github.com/initscope/initscope/train"
)

// PredictResult is the result of a predict task: theory.Predict for the
// task's net, initialization and input, without the advice texts.
type PredictResult struct {
	// Net, Init, WeightLaw and BiasLaw are as in theory.Prediction; Input
	// names the fixed input and M0 is its ||x||^2/n0.
	Net       string     `json:"net"`
	Init      string     `json:"init"`
	WeightLaw string     `json:"weight_law"`
	BiasLaw   string     `json:"bias_law"`
	Input     string     `json:"input"`
	M0        num.Number `json:"m0"`
	// Depth is the number of ReLU layers and Beta the sum of their 1/width.
	Depth int     `json:"depth"`
	Beta  float64 `json:"beta"`
	// OutputLayer is the layer whose length is the output length M_d (see
	// OutputLayer).
	OutputLayer int `json:"output_layer"`
	// FM1 and FM2 are the verdicts (ok, vanishing, exploding; ok, warning,
	// failing) and FM2LogVar the fluctuation statistic they rest on.
	FM1       string     `json:"fm1"`
	FM2       string     `json:"fm2"`
	FM2LogVar num.Number `json:"fm2_log_var"`
	// EmpiricalVariance is E[Var_hat[M]] across the ReLU layers.
	EmpiricalVariance theory.EmpiricalVariance `json:"empirical_variance"`
	// Layers has one entry per layer of the net.
	Layers []theory.Layer `json:"layers"`
}

func newPredictResult(p *theory.Prediction, s *Setup) *PredictResult {
	return &PredictResult{
		Net: p.Net, Init: p.Init, WeightLaw: p.WeightLaw, BiasLaw: p.BiasLaw, Input: s.Input.Name, M0: p.M0,
		Depth: p.Depth, Beta: p.Beta, OutputLayer: OutputLayer(s.Net),
		FM1: p.FM1.Verdict, FM2: p.FM2.Verdict, FM2LogVar: p.FM2.LogVar,
		EmpiricalVariance: p.EmpiricalVariance, Layers: p.Layers,
	}
}

// Output returns the theory for the output layer.
func (r *PredictResult) Output() (theory.Layer, error) {
	return output(r.Layers, r.OutputLayer, "prediction for "+r.Net)
}

// ProbeResult is the result of a probe task: the measurements beside the
// theory, as `initscope probe --format json` writes them, with the output
// layer, depth and beta of the net.
type ProbeResult struct {
	probe.Report
	// OutputLayer is the layer whose length is the output length M_d (see
	// OutputLayer).
	OutputLayer int `json:"output_layer"`
	// Depth is the number of ReLU layers and Beta the sum of their 1/width.
	Depth int     `json:"depth"`
	Beta  float64 `json:"beta"`
}

func newProbeResult(rep *probe.Report, s *Setup) *ProbeResult {
	return &ProbeResult{Report: *rep, OutputLayer: OutputLayer(s.Net), Depth: rep.Theory.Depth, Beta: rep.Theory.Beta}
}

// Output returns the measurement at the output layer.
func (r *ProbeResult) Output() (probe.LayerReport, error) {
	return output(r.Layers, r.OutputLayer, "probe of "+r.Net)
}

// output returns layers[index-1], or an error about what.
func output[L any](layers []L, index int, what string) (L, error) {
	if index < 1 || index > len(layers) {
		var zero L
		return zero, fmt.Errorf("%s: output layer %d of %d", what, index, len(layers))
	}
	return layers[index-1], nil
}

// OutputLayer is the 1-based index of the layer whose length is "the output
// length M_d" of the paper's figures: the last layer before the net's final
// linear layer (the logits), or the last layer if it has a ReLU.
func OutputLayer(net *arch.Graph) int {
	layers := net.Layers()
	n := len(layers)
	if last := layers[n-1]; last.HasWeights() && !last.ReLU && n > 1 {
		return n - 1
	}
	return n
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
		if rec.Decode(&r) != nil {
			return "done"
		}
		out, err := r.Output()
		if err != nil {
			return "done"
		}
		return fmt.Sprintf("theory: log10 E[M_out]/M0 = %s (FM1 %s, FM2 %s)", log10Text(out), r.FM1, r.FM2)
	case KindProbe:
		var r ProbeResult
		if rec.Decode(&r) != nil {
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
		if rec.Decode(&r) != nil {
			return "done"
		}
		return trainOutcome(&r)
	}
	return "done"
}

// log10Text writes a layer's log10 E[M]/M0, or its bounds.
func log10Text(l theory.Layer) string {
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
