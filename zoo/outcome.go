package zoo

import (
	"fmt"
	"math"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/task"
	"github.com/initscope/initscope/theory"
	"github.com/initscope/initscope/train"
	"github.com/initscope/initscope/weightinit"
)

// Outcome is a net of the zoo with what the theory predicts of it, what one
// measurement at initialization found and how its training went. Numbers
// that are not known are NaN.
type Outcome struct {
	Net
	// Predicted says SetPrediction has filled the theory's fields.
	Predicted bool
	// FM1 and FM2 are the theory's verdicts (theory.OK, Vanishing, ...).
	FM1, FM2 string
	// Depth is the number of ReLU layers and Beta the sum of their 1/width.
	Depth int
	Beta  float64
	// Log10Gain is log10 of FM1's signal gain P, the product of the
	// layers' zero-bias mean factors (pooling layers, which have none, left
	// out, as the FM1 verdict does); where only bounds are known (residual
	// modules ending in a ReLU) they are Log10GainLower and Log10GainUpper
	// and Log10Gain is their midpoint (or the finite one). Exact gains have
	// all three equal.
	Log10Gain, Log10GainLower, Log10GainUpper float64
	// FM2Stat is the FM2 verdict's statistic V, the implied Var[ln M_d].
	FM2Stat float64
	// Log10MeanRatio (or its bounds), LogVar and Log10SecondMoment are the
	// theory's log10 E[M_L]/M_0, Var[ln M_L/M_0] and log10 E[M_L^2]/M_0^2 at
	// the output layer (task.OutputLayer: the input of the logits);
	// NaN where no closed form exists (after pooling).
	Log10MeanRatio, Log10MeanRatioLower, Log10MeanRatioUpper float64
	LogVar, Log10SecondMoment                                float64
	// Log10Factor is the mean over the net's dense and conv layers of
	// log10(c_j/2), c_j = fan_in Var(W_j): the initialization's FM1 factor
	// per layer, blind to depth (0 for He).
	Log10Factor float64
	// Measured says SetMeasurement has filled MeasuredLog10: log10 of the
	// output length M_L/M_0 measured at initialization (the mean of
	// ln(M_L/M_0) over the probe's samples, divided by ln 10), -Inf when
	// every sample's output was dead.
	Measured      bool
	MeasuredLog10 float64
	// Trained says SetTraining has filled the training outcome: Reached the
	// target within the cap, at Epochs (NaN when not reached); Diverged;
	// FinalAccuracy the last evaluation's test accuracy.
	Trained           bool
	Reached, Diverged bool
	Epochs            float64
	FinalAccuracy     float64
}

// NewOutcome returns the outcome of a net with nothing known yet.
func NewOutcome(n Net) *Outcome {
	nan := math.NaN()
	return &Outcome{
		Net: n, Beta: nan, Log10Gain: nan, Log10GainLower: nan, Log10GainUpper: nan, FM2Stat: nan,
		Log10MeanRatio: nan, Log10MeanRatioLower: nan, Log10MeanRatioUpper: nan, LogVar: nan, Log10SecondMoment: nan,
		Log10Factor: nan, MeasuredLog10: nan, Epochs: nan, FinalAccuracy: nan,
	}
}

// SetPrediction fills the theory's fields from a predict task's result for
// the net.
func (o *Outcome) SetPrediction(p *task.PredictResult) error {
	out, err := p.Output()
	if err != nil {
		return err
	}
	f, err := Log10Factor(o.Arch, o.Init)
	if err != nil {
		return err
	}
	o.Predicted = true
	o.FM1, o.FM2, o.Depth, o.Beta = p.FM1, p.FM2, p.Depth, p.Beta
	o.Log10GainLower, o.Log10GainUpper = Log10Gain(p.Layers)
	o.Log10Gain = midpoint(o.Log10GainLower, o.Log10GainUpper)
	o.FM2Stat = float64(p.FM2LogVar)
	o.Log10MeanRatio = float64(out.Log10MeanRatio)
	o.Log10MeanRatioLower, o.Log10MeanRatioUpper = float64(out.Log10MeanRatioLower), float64(out.Log10MeanRatioUpper)
	if out.Log10MeanRatio.Known() {
		o.Log10MeanRatioLower, o.Log10MeanRatioUpper = o.Log10MeanRatio, o.Log10MeanRatio
	}
	o.LogVar, o.Log10SecondMoment = float64(out.LogVar), float64(out.Log10SecondMomentRatio)
	o.Log10Factor = f
	return nil
}

// SetMeasurement fills the measured output length from a probe task's
// result for the net.
func (o *Outcome) SetMeasurement(p *task.ProbeResult) error {
	out, err := p.Output()
	if err != nil {
		return err
	}
	o.Measured = true
	switch {
	case out.LogMean.Known():
		o.MeasuredLog10 = float64(out.LogMean) / math.Ln10
	case float64(out.DeadFraction) == 1:
		o.MeasuredLog10 = math.Inf(-1)
	default:
		o.MeasuredLog10 = math.NaN()
	}
	return nil
}

// SetTraining fills the training outcome from a train task's result for
// the net.
func (o *Outcome) SetTraining(r *train.Result) {
	o.Trained = true
	o.Reached = r.ReachedTarget && r.EpochsToTarget != nil
	o.Diverged = r.Diverged
	o.Epochs = math.NaN()
	if o.Reached {
		o.Epochs = *r.EpochsToTarget
	}
	o.FinalAccuracy = math.NaN()
	if r.FinalTestAccuracy != nil {
		o.FinalAccuracy = *r.FinalTestAccuracy
	}
}

// Complete reports whether the prediction, the measurement and the training
// outcome are all there.
func (o *Outcome) Complete() bool { return o.Predicted && o.Measured && o.Trained }

// PredictedToTrain is the verdicts' prediction: FM1 and FM2 both ok.
func (o *Outcome) PredictedToTrain() bool { return o.FM1 == theory.OK && o.FM2 == theory.OK }

// Log10Gain returns the bounds of log10 of FM1's signal gain P over the
// predicted layers: the sum of log10 of each layer's zero-bias gain, or of
// its bounds where only bounds are known (a lower bound of 0, none known,
// makes the lower end -Inf); layers without a gain (pooling) are left out,
// as theory's FM1 verdict leaves them out.
func Log10Gain(layers []theory.Layer) (lo, hi float64) {
	for _, l := range layers {
		switch {
		case l.Gain.Known():
			g := math.Log10(float64(l.Gain))
			lo, hi = lo+g, hi+g
		case l.GainUpper.Known():
			lo += math.Log10(float64(l.GainLower)) // log10(0) = -Inf: no lower bound
			hi += math.Log10(float64(l.GainUpper))
		}
	}
	return lo, hi
}

// midpoint is the middle of [lo, hi], or the finite end when one is
// infinite (NaN when neither is finite).
func midpoint(lo, hi float64) float64 {
	fl, fh := !math.IsInf(lo, 0) && !math.IsNaN(lo), !math.IsInf(hi, 0) && !math.IsNaN(hi)
	switch {
	case fl && fh:
		return (lo + hi) / 2
	case fl:
		return lo
	case fh:
		return hi
	}
	return math.NaN()
}

// Log10Factor returns the mean over a net's dense and conv layers (those
// of residual modules included) of log10(c_j/2), the initialization's FM1
// factor per layer, c_j = fan_in Var(W_j) with the law's realised variance.
func Log10Factor(spec, init string) (float64, error) {
	g, err := arch.Parse(spec)
	if err != nil {
		return 0, err
	}
	in, err := weightinit.ParseInit(init)
	if err != nil {
		return 0, err
	}
	var sum float64
	var n int
	for i := range g.Nodes {
		nd := &g.Nodes[i]
		if !nd.HasWeights() {
			continue
		}
		sum += math.Log10(in.FM1Factor(nd.FanIn(), nd.FanOut()))
		n++
	}
	if n == 0 {
		return 0, fmt.Errorf("net %q has no dense or conv layer", spec)
	}
	return sum / float64(n), nil
}
