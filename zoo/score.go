package zoo

import (
	"fmt"
	"math"

	"github.com/initscope/initscope/stats"
)

// Score is a continuous prediction of "starts training" from what is
// known of a net at initialization: a logistic regression of "reached the
// target" on the score's features, fitted on the fit half; its linear
// predictor (the log-odds) is the score, higher meaning more likely to
// train. Two-sided quantities (a length that may vanish or explode) enter
// as two features, the decades below and above 0, so that the fit may weigh
// the two failures differently; every such feature is compressed to
// log10(1 + decades) (decades capped at MaxDecades), so that a net a
// hundred decades off does not outweigh the rest of the fit.
type Score struct {
	// Name names the score in tables and plots; About says what it reads.
	Name, About string
	// Inputs name its features, in order.
	Inputs []string
	// features returns a net's features (NaN when unknown).
	features func(o *Outcome) []float64
}

// Features returns a net's features for the score (NaN when unknown).
func (s Score) Features(o *Outcome) []float64 { return s.features(o) }

// MaxDecades caps the decades a two-sided feature counts (a dead output is
// infinitely many).
const MaxDecades = 1000

// Ridge is the ridge penalty of every score's logistic fit, on
// standardized features: a standard normal prior on each slope, which keeps
// the fit finite when the fit half is separable.
const Ridge = 1.0

// decades returns the compressed decades below and above 0 of a log10
// value: log10(1 + min(decades, MaxDecades)) each.
func decades(v float64) (below, above float64) {
	c := func(x float64) float64 { return math.Log10(1 + math.Min(math.Max(x, 0), MaxDecades)) }
	return c(-v), c(v)
}

// The scores, the theory's first.
var (
	// TheoryScore reads what initscope predicts: FM1's signal gain (the
	// decades it vanishes and explodes) and FM2's statistic V.
	TheoryScore = Score{Name: "theory", About: "initscope's prediction: log10 of FM1's signal gain P (decades below and above 0) and FM2's V = Var[ln M_d], each as log10(1 + x)",
		Inputs: []string{"P vanishing", "P exploding", "V"},
		features: func(o *Outcome) []float64 {
			b, a := decades(o.Log10Gain)
			return []float64{b, a, math.Log10(1 + o.FM2Stat)}
		}}
	// BetaScore is the paper's beta alone.
	BetaScore = Score{Name: "beta", About: "the paper's beta = sum of 1/width over the ReLU layers alone", Inputs: []string{"beta"},
		features: func(o *Outcome) []float64 { return []float64{o.Beta} }}
	// FactorScore is the initialization's FM1 factor per layer alone.
	FactorScore = Score{Name: "FM1 factor", About: "the initialization's FM1 factor c/2 per layer alone (mean of log10 c_j/2, decades below and above 0), blind to depth",
		Inputs: []string{"c/2 below 1", "c/2 above 1"},
		features: func(o *Outcome) []float64 {
			b, a := decades(o.Log10Factor)
			return []float64{b, a}
		}}
	// MeasuredScore is the output length measured at initialization.
	MeasuredScore = Score{Name: "measured length", About: "the output length M_L/M_0 measured at initialization (decades below and above 0)",
		Inputs: []string{"M_L/M_0 below 1", "M_L/M_0 above 1"},
		features: func(o *Outcome) []float64 {
			b, a := decades(o.MeasuredLog10)
			return []float64{b, a}
		}}
)

// Scores are the theory's score and the baselines, in that order.
var Scores = []Score{TheoryScore, BetaScore, FactorScore, MeasuredScore}

// ScoreResult is one score judged on the held-out half.
type ScoreResult struct {
	Score
	// Model is the logistic fit on the fit half; nil when it failed, with
	// FitError saying why.
	Model    *stats.Logistic
	FitError string
	// Values are the scores of the held-out nets, in Evaluation.Held's
	// order (NaN without a model).
	Values []float64
	// AUC is the area under the ROC curve of Values against "reached the
	// target", with its bootstrap interval over held-out nets; ROC is the
	// curve.
	AUC, AUCLo, AUCHi float64
	ROC               []stats.ROCPoint
	// Rho is the Spearman rank correlation between the score and the
	// training speed (minus the epochs to the target; a net that did not
	// reach it ranks slowest, tied), with its bootstrap interval.
	Rho, RhoLo, RhoHi float64
	// Diff is AUC(theory) - AUC(this score) with its paired bootstrap
	// interval (the same resampled nets for both); NaN for the theory.
	Diff, DiffLo, DiffHi float64
}

// Evaluation is the scoring of a zoo: every score fitted on the fit half
// and judged on the held-out half, beside the verdicts.
type Evaluation struct {
	// Fit and Held are the complete outcomes of each half with finite
	// features for every score; Excluded counts complete outcomes left out
	// for an unknown feature.
	Fit, Held []*Outcome
	Excluded  int
	// Results has one entry per score of Scores, in order.
	Results []ScoreResult
	// Verdicts is the confusion matrix on the held-out half of the
	// verdicts' prediction (FM1 and FM2 ok: trains) against "reached the
	// target"; VerdictBalanced is its balanced accuracy with its bootstrap
	// interval.
	Verdicts                                              stats.Confusion
	VerdictBalanced, VerdictBalancedLo, VerdictBalancedHi float64
	// Threshold is the confusion matrix on the held-out half of the
	// theory's score cut where its fitted probability is 1/2 (a threshold
	// chosen on the fit half); empty without a model.
	Threshold stats.Confusion
}

// Evaluate scores the complete outcomes: each score is fitted on the fit
// half and judged on the held-out half; intervals are percentile bootstrap
// intervals over held-out nets (stats.Bootstrap).
func Evaluate(outs []*Outcome) (*Evaluation, error) {
	ev := &Evaluation{}
	for _, o := range outs {
		if !o.Complete() {
			continue
		}
		if !finiteFeatures(o) {
			ev.Excluded++
			continue
		}
		switch o.Half {
		case FitHalf:
			ev.Fit = append(ev.Fit, o)
		case HeldOut:
			ev.Held = append(ev.Held, o)
		default:
			return nil, fmt.Errorf("zoo net %d: half %d: want %d (fit) or %d (held out)", o.ID, o.Half, FitHalf, HeldOut)
		}
	}
	reached := labels(ev.Held)
	speed := make([]float64, len(ev.Held))
	for i, o := range ev.Held {
		speed[i] = math.Inf(-1)
		if o.Reached {
			speed[i] = -o.Epochs
		}
	}
	for _, s := range Scores {
		ev.Results = append(ev.Results, judge(s, ev.Fit, ev.Held, reached, speed))
	}
	th := ev.Results[0]
	for i := 1; i < len(ev.Results); i++ {
		r := &ev.Results[i]
		diff := func(idx []int) float64 {
			return stats.AUC(pick(th.Values, idx), pickBool(reached, idx)) - stats.AUC(pick(r.Values, idx), pickBool(reached, idx))
		}
		r.Diff = diff(identity(len(reached)))
		r.DiffLo, r.DiffHi = stats.Bootstrap(len(reached), diff)
	}
	th.Diff, th.DiffLo, th.DiffHi = math.NaN(), math.NaN(), math.NaN()
	ev.Results[0] = th

	verdict := make([]bool, len(ev.Held))
	for i, o := range ev.Held {
		verdict[i] = o.PredictedToTrain()
	}
	var err error
	if ev.Verdicts, err = stats.NewConfusion(verdict, reached); err != nil {
		return nil, err
	}
	balanced := func(idx []int) float64 {
		c, _ := stats.NewConfusion(pickBool(verdict, idx), pickBool(reached, idx))
		return c.BalancedAccuracy()
	}
	ev.VerdictBalanced = ev.Verdicts.BalancedAccuracy()
	ev.VerdictBalancedLo, ev.VerdictBalancedHi = stats.Bootstrap(len(reached), balanced)
	if th.Model != nil {
		cut := make([]bool, len(ev.Held))
		for i, v := range th.Values {
			cut[i] = v >= 0 // probability >= 1/2
		}
		if ev.Threshold, err = stats.NewConfusion(cut, reached); err != nil {
			return nil, err
		}
	}
	return ev, nil
}

// finiteFeatures reports whether every score's features of o are finite.
func finiteFeatures(o *Outcome) bool {
	for _, s := range Scores {
		for _, v := range s.features(o) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return false
			}
		}
	}
	return true
}

// judge fits a score on the fit half and judges it on the held-out half.
func judge(s Score, fit, held []*Outcome, reached []bool, speed []float64) ScoreResult {
	r := ScoreResult{Score: s, Values: make([]float64, len(held))}
	x := make([][]float64, len(fit))
	for i, o := range fit {
		x[i] = s.features(o)
	}
	m, err := stats.FitLogistic(x, labels(fit), Ridge)
	if err != nil {
		r.FitError = err.Error()
	}
	r.Model = m
	for i, o := range held {
		r.Values[i] = math.NaN()
		if m != nil {
			r.Values[i] = m.Linear(s.features(o))
		}
	}
	auc := func(idx []int) float64 { return stats.AUC(pick(r.Values, idx), pickBool(reached, idx)) }
	rho := func(idx []int) float64 { return stats.Spearman(pick(r.Values, idx), pick(speed, idx)) }
	nan := math.NaN()
	r.AUC, r.AUCLo, r.AUCHi, r.Rho, r.RhoLo, r.RhoHi = nan, nan, nan, nan, nan, nan
	if m != nil {
		all := identity(len(held))
		r.AUC, r.Rho = auc(all), rho(all)
		r.AUCLo, r.AUCHi = stats.Bootstrap(len(held), auc)
		r.RhoLo, r.RhoHi = stats.Bootstrap(len(held), rho)
		r.ROC = stats.ROC(r.Values, reached)
	}
	return r
}

// labels returns whether each net reached the target.
func labels(os []*Outcome) []bool {
	out := make([]bool, len(os))
	for i, o := range os {
		out[i] = o.Reached
	}
	return out
}

// identity returns 0..n-1.
func identity(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// pick returns vs at the indices.
func pick(vs []float64, idx []int) []float64 {
	out := make([]float64, len(idx))
	for i, j := range idx {
		out[i] = vs[j]
	}
	return out
}

// pickBool returns bs at the indices.
func pickBool(bs []bool, idx []int) []bool {
	out := make([]bool, len(idx))
	for i, j := range idx {
		out[i] = bs[j]
	}
	return out
}
