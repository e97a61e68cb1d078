package reproduce

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/initscope/initscope/experiment"
	"github.com/initscope/initscope/num"
	"github.com/initscope/initscope/report"
	"github.com/initscope/initscope/stats"
	"github.com/initscope/initscope/task"
	"github.com/initscope/initscope/train"
	"github.com/initscope/initscope/zoo"
)

// The predictive experiment: does what initscope predicts at
// initialization tell which nets start training? The paper answers its
// question by example; this asks it of a zoo of nets drawn at random.
//
// What is drawn (package zoo, seed zoo.Seed): 600 nets at full scale, the
// first 60 of them at quick scale and the first 6 at tiny scale, so a full
// run in the same directory reuses the quick run's tasks. Half are fully
// connected (depth 3-60, base width 8-96, width profiles constant,
// increasing, decreasing, alternating or random), a fifth small conv nets
// on 1x28x28 (a stride-2 3x3 stem, 1-8 more 3x3 layers of 4-16 channels,
// global average pooling or flattening, dense10) and the rest dense
// residual nets (net:784,denseW,resdenseWxL:eta=E[:end=linear],dense10,
// width 16-96, 2-60 blocks, eta constant, b^l, c/l or c/L). One in three
// takes a weightinit preset, the others a random law FAMILY:C/fan_in (or
// C/fan_avg) with C/2 log-uniform within 10^±0.6 of He's. Each net has its
// own seed (its id + 1); the zoo is split into a fit half and a held-out
// half by a fixed coin within each consecutive pair. Config.Runs does not
// apply: each net is trained once, with its own seed.
//
// Per net, three tasks: predict (the FM1 and FM2 verdicts, FM1's signal
// gain P with its bounds, FM2's statistic V, the output layer's log10
// E[M_L]/M_0, Var[ln M_L/M_0] and log10 E[M_L^2]/M_0^2), probe with 2
// samples (the probe's minimum: the measured output length is the mean of
// ln(M_L/M_0) over two forward passes of independent draws of the same
// law, on MNIST test image 0; not the weights that are trained) and train
// with one fixed recipe, that of the figures (SGD, momentum 0.9, learning
// rate 0.003, batch 128, target 20% test accuracy, evaluation every 10
// steps, stopped at the target) with a cap of predictiveCap = 0.5 epoch
// (235 steps) and evaluations on the first predictiveEval = 500 test
// images. The outcome is whether the run reached 20% within the cap
// ("trainer"), and the epochs it took. The cap was chosen short so that both
// outcomes are common: at 1 epoch 52 of the quick zoo's 60 nets (of an
// earlier, milder draw) reached 20%; at 0.5 epoch and the draw above, 37.
//
// Scoring (zoo.Evaluate): every score is a ridge logistic regression of
// "reached 20%" on its features, fitted on the fit half only, and judged on
// the held-out half: the theory's score (the decades by which FM1's gain P
// vanishes and explodes, and V) against three baselines a user would
// otherwise look at: the paper's beta alone, the initialization's FM1 factor
// c/2 per layer alone (blind to depth), and the measured output length.
// For each: the ROC AUC with its percentile bootstrap interval over held-out
// nets, the rank correlation with the training speed (a net that did not
// reach 20% ranks slowest), and the paired bootstrap interval of
// AUC(theory) - AUC(baseline); beside them the confusion matrix of the
// verdicts (FM1 and FM2 both ok: predicted to train) and of the theory's
// score cut at probability 1/2. The claim holds when the theory's AUC
// interval lies above 0.5 and, for each baseline, the interval of the
// difference lies above -aucMargin (non-inferiority).
//
// Cost, measured on this 2-core machine (2 workers, one thread per
// training run, other work keeping the load average at 5.6-6.9): the quick
// zoo (60 nets, 180 tasks) took 34 s of wall time, 64 s of task time, of
// which training 61 s; the slowest tasks are conv nets that never reach the
// target and run to the cap (up to 15 s). The full zoo, five times as many
// nets drawn alike, should take about 3 minutes; it was not run here.
var predictive = figure{
	name:   "predictive",
	sweeps: predictiveSweeps,
	render: renderPredictive,
}

// The sweeps of the predictive experiment.
const (
	predictiveTheory = "predictive-theory"
	predictiveTrain  = "predictive-train"
)

// The predictive experiment's settings.
const (
	// predictiveCap is the training cap, in epochs.
	predictiveCap = 0.5
	// predictiveEval is the number of test images of each evaluation.
	predictiveEval = 500
	// predictiveSamples is the number of initializations the probe draws
	// per net (its minimum).
	predictiveSamples = 2
	// aucChance is the AUC of a score that knows nothing.
	aucChance = 0.5
	// aucMargin is how far the theory's AUC may lie below a baseline's
	// and still count as "not below it" (non-inferiority).
	aucMargin = 0.05
)

// predictiveNets returns the zoo of the scale.
func predictiveNets(c Config) ([]zoo.Net, error) {
	return zoo.Draw(pick(c.Scale, 600, 60, 6), zoo.Seed)
}

// predictiveTraining is the recipe: the figures' hyperparameters with the
// zoo's cap and evaluation size (Tiny: a few steps).
func predictiveTraining(c Config) hyperparams {
	h := c.training("")
	if c.Scale != Tiny {
		h.Epochs, h.EvalSamples = predictiveCap, predictiveEval
	}
	return h
}

func predictiveSweeps(c Config) ([]*experiment.Sweep, error) {
	nets, err := predictiveNets(c)
	if err != nil {
		return nil, err
	}
	zip := map[string][]any{}
	for _, n := range nets {
		for k, v := range map[string]any{"net": n.ID, "family": n.Family, "variant": n.Variant, "half": n.Half,
			"arch": n.Arch, "init": n.Init, "seed": n.Seed} {
			zip[k] = append(zip[k], v)
		}
	}
	points := experiment.Axis{Zip: zip}
	labels := []string{"net", "family", "variant", "half"}
	th, err := newSweep(predictiveTheory, c.describe(fmt.Sprintf("Predictive: the theory's prediction and a %d-sample measurement of the output length of %d random nets", predictiveSamples, len(nets))),
		[]string{task.KindPredict, task.KindProbe}, map[string]any{"input": "mnist:0", "samples": predictiveSamples, "method": "auto"}, nil, labels, points)
	if err != nil {
		return nil, err
	}
	tr, err := newSweep(predictiveTrain, c.describe(fmt.Sprintf("Predictive: does each of %d random nets reach 20%% test accuracy on MNIST within the cap", len(nets))),
		[]string{task.KindTrain}, predictiveTraining(c).params(), nil, labels, points)
	if err != nil {
		return nil, err
	}
	return []*experiment.Sweep{th, tr}, nil
}

// recordNet reads the net of a record from its params.
func recordNet(r experiment.Record) (zoo.Net, error) {
	t := r.Task()
	var n zoo.Net
	var err error
	for _, f := range []func() error{
		func() error { n.ID, err = t.Int("net"); return err },
		func() error { n.Family, err = t.Text("family"); return err },
		func() error { n.Variant, err = t.Text("variant"); return err },
		func() error { n.Half, err = t.Int("half"); return err },
		func() error { n.Arch, err = t.Text("arch"); return err },
		func() error { n.Init, err = t.Text("init"); return err },
		func() error { n.Seed, err = t.Int("seed"); return err },
	} {
		if err := f(); err != nil {
			return zoo.Net{}, err
		}
	}
	return n, nil
}

// predictiveOutcomes gathers each net's prediction, measurement and
// training outcome, in the order of the nets' ids.
func predictiveOutcomes(fd *figureData) ([]*zoo.Outcome, error) {
	byID := map[int]*zoo.Outcome{}
	var order []int
	get := func(r experiment.Record) (*zoo.Outcome, error) {
		n, err := recordNet(r)
		if err != nil {
			return nil, err
		}
		if o := byID[n.ID]; o != nil {
			if o.Net != n {
				return nil, fmt.Errorf("net %d is %+v in one record and %+v in another", n.ID, o.Net, n)
			}
			return o, nil
		}
		byID[n.ID] = zoo.NewOutcome(n)
		order = append(order, n.ID)
		return byID[n.ID], nil
	}
	for _, r := range fd.records[predictiveTheory] {
		o, err := get(r)
		if err == nil {
			switch r.Kind {
			case task.KindPredict:
				var p task.PredictResult
				if err = r.Decode(&p); err == nil {
					err = o.SetPrediction(&p)
				}
			case task.KindProbe:
				var p task.ProbeResult
				if err = r.Decode(&p); err == nil {
					err = o.SetMeasurement(&p)
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("task %s (%s): %v", r.ID, r.Kind, err)
		}
	}
	err := each(fd, predictiveTrain, func(r experiment.Record, t *train.Result) error {
		o, err := get(r)
		if err != nil {
			return err
		}
		o.SetTraining(t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(order)
	outs := make([]*zoo.Outcome, len(order))
	for i, id := range order {
		outs[i] = byID[id]
	}
	return outs, nil
}

func renderPredictive(fd *figureData, out *outputs) ([]section, error) {
	outs, err := predictiveOutcomes(fd)
	if err != nil {
		return nil, err
	}
	ev, err := zoo.Evaluate(outs)
	if err != nil {
		return nil, err
	}
	if err := writeZooCSV(outs, ev, out); err != nil {
		return nil, err
	}
	if err := writeScoresCSV(ev, out); err != nil {
		return nil, err
	}
	var figs []report.Figure
	roc, err := out.plot("predictive_roc", rocChart(ev), fmt.Sprintf(
		"ROC curves on the held-out half (%d nets, %d trainers: reached 20%% within the cap) of each score fitted on the other half (%d nets); "+
			"the legend gives each AUC with its 95%% bootstrap interval", len(ev.Held), countReached(ev.Held), len(ev.Fit)))
	if err != nil {
		return nil, err
	}
	figs = append(figs, roc)
	sc, err := out.plot("predictive_epochs", epochsScatter(ev), fmt.Sprintf(
		"Epochs to 20%% test accuracy against the theory's score (its fitted log-odds of reaching 20%%), held-out nets by family; "+
			"markers in the top band did not reach 20%% within %g epochs", predictiveTraining(Config{}).Epochs))
	if err != nil {
		return nil, err
	}
	figs = append(figs, sc)
	sec := section{
		claim:    checkPredictive(ev, fd.incomplete(predictiveTheory, predictiveTrain)),
		figures:  figs,
		tables:   []report.Table{scoreTable(ev), confusionTable(ev), familyTable(outs)},
		settings: append(fd.settings(predictiveTrain), fd.settings(predictiveTheory)...),
	}
	return []section{sec}, nil
}

// countReached counts the nets that reached the target.
func countReached(os []*zoo.Outcome) int {
	n := 0
	for _, o := range os {
		if o.Reached {
			n++
		}
	}
	return n
}

// ivText writes an estimate with its interval: "0.81 [0.72, 0.9]".
func ivText(est, lo, hi float64) string {
	if !finite(est) {
		return "-"
	}
	if !finite(lo) || !finite(hi) {
		return fmt.Sprintf("%.3g", est)
	}
	return fmt.Sprintf("%.3g [%.3g, %.3g]", est, lo, hi)
}

// checkPredictive decides the claim: the theory's score separates the nets
// that reach the target from those that do not, better than chance and not
// worse than any baseline.
func checkPredictive(ev *zoo.Evaluation, missing int) Claim {
	c := newCheck("predictive", "predictive", "Does initscope's prediction at initialization tell which nets start training?",
		"What initscope predicts at initialization, from the architecture and the initialization alone (the FM1 and FM2 failure modes), "+
			"tells which nets start training: over a zoo of randomly drawn fully connected, convolutional and residual nets under random "+
			"initializations, its score ranks the nets that reach 20% test accuracy within a short cap above those that do not, "+
			"and at least as well as what a user would otherwise look at: beta alone, the initialization's FM1 factor alone, or the output "+
			"length measured in a forward pass.",
		fmt.Sprintf("On the held-out half of the zoo, every score fitted on the other half only: the ROC AUC of the theory's score against "+
			"\"reached 20%% within the cap\" has a 95%% percentile bootstrap interval (over held-out nets) above %g; and for each baseline "+
			"(beta, the FM1 factor, the measured length) the paired bootstrap interval of AUC(theory) - AUC(baseline) lies above -%g "+
			"(non-inferiority with a margin of %g AUC; it fails when the whole interval lies below -%g).", aucChance, aucMargin, aucMargin, aucMargin))
	n := len(ev.Held)
	c.note("%d nets scored: %d in the fit half (%d reached 20%%), %d held out (%d reached 20%%); %d left out for an unknown feature",
		len(ev.Fit)+n, len(ev.Fit), countReached(ev.Fit), n, countReached(ev.Held), ev.Excluded)
	th := ev.Results[0]
	if th.Model == nil {
		c.cannot("the theory's score could not be fitted on the fit half: %s", th.FitError)
		return c.done(missing)
	}
	method := "percentile bootstrap"
	c.decide(report.Interval{Statistic: "AUC of the theory's score", Estimate: numOf(th.AUC), Lo: numOf(th.AUCLo), Hi: numOf(th.AUCHi),
		Runs: n, Method: "held-out nets (" + method + ")"}, atLeast(aucChance), "the theory's score (fitted log-odds: %s) separates the held-out nets that reached 20%% from those that did not",
		coefText(th))
	for _, r := range ev.Results[1:] {
		if r.Model == nil {
			c.cannot("%s: could not be fitted on the fit half: %s", r.Name, r.FitError)
			continue
		}
		c.decide(report.Interval{Statistic: "AUC(theory) - AUC(" + r.Name + ")", Estimate: numOf(r.Diff), Lo: numOf(r.DiffLo), Hi: numOf(r.DiffHi),
			Runs: n, Method: "held-out nets (paired " + method + ")"}, atLeast(-aucMargin), "against %s (AUC %s)", r.Name, ivText(r.AUC, r.AUCLo, r.AUCHi))
		switch {
		case finite(r.DiffLo) && r.DiffLo > 0:
			c.note("the theory's AUC is above that of %s (the interval of the difference excludes 0)", r.Name)
		case finite(r.DiffHi) && r.DiffHi < 0:
			c.note("the theory's AUC is below that of %s (the interval of the difference excludes 0)", r.Name)
		}
	}
	for _, r := range ev.Results {
		c.note("%s: rank correlation with the training speed (not reached ranks slowest) %s", r.Name, ivText(r.Rho, r.RhoLo, r.RhoHi))
	}
	v := ev.Verdicts
	c.note("the verdicts (FM1 and FM2 both ok: predicted to train) on the held-out nets: %d of %d right; of the %d that reached 20%%, %d were "+
		"predicted to train; of the %d that did not, %d were predicted not to; balanced accuracy %s",
		v.TP+v.TN, v.N(), v.TP+v.FN, v.TP, v.TN+v.FP, v.TN, ivText(ev.VerdictBalanced, ev.VerdictBalancedLo, ev.VerdictBalancedHi))
	t := ev.Threshold
	c.note("the theory's score cut at probability 1/2 (fitted on the fit half): %d of %d held-out nets right (balanced accuracy %.3g)",
		t.TP+t.TN, t.N(), t.BalancedAccuracy())
	return c.done(missing)
}

// numOf converts a float to a report number.
func numOf(v float64) num.Number { return num.Number(v) }

// coefText writes a fitted score's intercept and its slope per standard
// deviation of each feature.
func coefText(r zoo.ScoreResult) string {
	parts := []string{fmt.Sprintf("%+.2f", r.Model.Coef[0])}
	for i, v := range r.Model.Coef[1:] {
		parts = append(parts, fmt.Sprintf("%+.2f x %s", v, r.Inputs[i]))
	}
	return strings.Join(parts, " ") + ", slopes per standard deviation of each feature"
}

// writeZooCSV writes predictive_zoo.csv: one row per net.
func writeZooCSV(outs []*zoo.Outcome, ev *zoo.Evaluation, out *outputs) error {
	th := ev.Results[0]
	header := []string{"id", "family", "variant", "arch", "init", "seed", "half", "depth", "beta", "log10_fm1_factor",
		"log10_gain", "log10_gain_lower", "log10_gain_upper", "fm2_stat", "theory_log10_mean_ratio", "theory_log10_mean_ratio_lower",
		"theory_log10_mean_ratio_upper", "theory_log_var", "theory_log10_second_moment_ratio", "fm1", "fm2", "predicted_to_train",
		"measured_log10_length", "theory_score", "reached_target", "epochs_to_target", "diverged", "final_test_accuracy"}
	var rows [][]string
	for _, o := range outs {
		score := nan
		if th.Model != nil && o.Predicted {
			if x := th.Features(o); finiteAll(x) {
				score = th.Model.Linear(x)
			}
		}
		row := []string{fmt.Sprint(o.ID), o.Family, o.Variant, o.Arch, o.Init, fmt.Sprint(o.Seed), fmt.Sprint(o.Half)}
		if o.Predicted {
			row = append(row, fmt.Sprint(o.Depth), csvFloat(o.Beta), csvFloat(o.Log10Factor), csvFloat(o.Log10Gain), csvFloat(o.Log10GainLower),
				csvFloat(o.Log10GainUpper), csvFloat(o.FM2Stat), csvFloat(o.Log10MeanRatio), csvFloat(o.Log10MeanRatioLower),
				csvFloat(o.Log10MeanRatioUpper), csvFloat(o.LogVar), csvFloat(o.Log10SecondMoment), o.FM1, o.FM2, fmt.Sprint(o.PredictedToTrain()))
		} else {
			row = append(row, make([]string, 15)...)
		}
		measured := ""
		switch {
		case !o.Measured:
		case math.IsInf(o.MeasuredLog10, -1):
			measured = "dead"
		default:
			measured = csvFloat(o.MeasuredLog10)
		}
		row = append(row, measured, csvFloat(score))
		if o.Trained {
			row = append(row, fmt.Sprint(o.Reached), csvFloat(o.Epochs), fmt.Sprint(o.Diverged), csvFloat(o.FinalAccuracy))
		} else {
			row = append(row, "", "", "", "")
		}
		rows = append(rows, row)
	}
	return out.csv("predictive_zoo.csv", header, rows)
}

// finiteAll reports whether every value is finite.
func finiteAll(vs []float64) bool {
	for _, v := range vs {
		if !finite(v) {
			return false
		}
	}
	return true
}

// writeScoresCSV writes predictive_scores.csv: each score's AUC, its
// difference from the theory's and its rank correlation with speed, with
// intervals; then the two classifiers' confusion matrices.
func writeScoresCSV(ev *zoo.Evaluation, out *outputs) error {
	header := []string{"predictor", "reads", "nets_fit", "nets_held_out", "auc", "auc_lo", "auc_hi", "auc_theory_minus_this", "diff_lo", "diff_hi",
		"speed_rank_correlation", "rho_lo", "rho_hi", "tp", "fp", "fn", "tn", "accuracy", "balanced_accuracy", "fit_error"}
	nf, nh := fmt.Sprint(len(ev.Fit)), fmt.Sprint(len(ev.Held))
	var rows [][]string
	for _, r := range ev.Results {
		rows = append(rows, []string{r.Name, r.About, nf, nh, csvFloat(r.AUC), csvFloat(r.AUCLo), csvFloat(r.AUCHi),
			csvFloat(r.Diff), csvFloat(r.DiffLo), csvFloat(r.DiffHi), csvFloat(r.Rho), csvFloat(r.RhoLo), csvFloat(r.RhoHi),
			"", "", "", "", "", "", r.FitError})
	}
	conf := func(name, reads string, c stats.Confusion) []string {
		return []string{name, reads, nf, nh, "", "", "", "", "", "", "", "", "",
			fmt.Sprint(c.TP), fmt.Sprint(c.FP), fmt.Sprint(c.FN), fmt.Sprint(c.TN), csvFloat(c.Accuracy()), csvFloat(c.BalancedAccuracy()), ""}
	}
	rows = append(rows, conf("verdicts", "FM1 and FM2 both ok: predicted to train", ev.Verdicts),
		conf("theory score at 1/2", "the theory's score cut where its fitted probability is 1/2", ev.Threshold))
	return out.csv("predictive_scores.csv", header, rows)
}

// scoreTable is the report's table of the scores.
func scoreTable(ev *zoo.Evaluation) report.Table {
	var rows [][]string
	for _, r := range ev.Results {
		rows = append(rows, []string{r.Name, r.About, ivText(r.AUC, r.AUCLo, r.AUCHi), ivText(r.Diff, r.DiffLo, r.DiffHi), ivText(r.Rho, r.RhoLo, r.RhoHi)})
	}
	return report.Table{Caption: fmt.Sprintf("scores on the held-out half (%d nets), fitted on the other half: estimate [95%% bootstrap interval]", len(ev.Held)),
		Header: []string{"score", "reads", "ROC AUC", "AUC(theory) - AUC(score), paired", "rank correlation with speed"}, Rows: rows}
}

// confusionTable is the report's table of the two classifiers.
func confusionTable(ev *zoo.Evaluation) report.Table {
	row := func(name string, c stats.Confusion) []string {
		return []string{name, fmt.Sprint(c.TP), fmt.Sprint(c.FN), fmt.Sprint(c.FP), fmt.Sprint(c.TN),
			fmt.Sprintf("%.3g", c.Accuracy()), fmt.Sprintf("%.3g", c.BalancedAccuracy())}
	}
	return report.Table{Caption: "confusion matrices on the held-out half: predicted to train (or not) against reached 20% (or not)",
		Header: []string{"classifier", "reached, predicted to", "reached, predicted not to", "did not reach, predicted to",
			"did not reach, predicted not to", "accuracy", "balanced accuracy"},
		Rows: [][]string{row("verdicts: FM1 and FM2 both ok", ev.Verdicts), row("theory score, probability >= 1/2", ev.Threshold)}}
}

// familyTable counts the nets of each family: drawn, reached, predicted.
func familyTable(outs []*zoo.Outcome) report.Table {
	type count struct{ nets, trained, reached, ok int }
	counts := map[string]*count{}
	var fams []string
	for _, o := range outs {
		if counts[o.Family] == nil {
			counts[o.Family] = &count{}
			fams = append(fams, o.Family)
		}
		k := counts[o.Family]
		k.nets++
		if o.Trained {
			k.trained++
			if o.Reached {
				k.reached++
			}
		}
		if o.Predicted && o.PredictedToTrain() {
			k.ok++
		}
	}
	var rows [][]string
	for _, f := range fams {
		k := counts[f]
		rows = append(rows, []string{f, fmt.Sprint(k.nets), fmt.Sprintf("%d of %d", k.reached, k.trained), fmt.Sprint(k.ok)})
	}
	return report.Table{Caption: "the zoo by family (both halves)", Header: []string{"family", "nets", "reached 20% (of those trained)", "FM1 and FM2 ok"}, Rows: rows}
}

// rocChart draws each score's ROC curve on the held-out half.
func rocChart(ev *zoo.Evaluation) report.LineChart {
	ch := report.LineChart{
		Title:  fmt.Sprintf("Which nets reach 20%%? ROC on the held-out half (%d nets)", len(ev.Held)),
		XLabel: "false positive rate: share of non-trainers scored above a cut", YLabel: "true positive rate: share of trainers",
		LegendTitle: "score: AUC [95% interval]", LegendBelow: true,
	}
	for _, r := range ev.Results {
		s := report.Series{Name: fmt.Sprintf("%s: %s", r.Name, ivText(r.AUC, r.AUCLo, r.AUCHi))}
		for _, p := range corners(r.ROC) {
			s.X, s.Y = append(s.X, p.FPR), append(s.Y, p.TPR)
		}
		ch.Series = append(ch.Series, s)
	}
	ch.Series = append(ch.Series, report.Series{Name: "chance: 0.5", X: []float64{0, 1}, Y: []float64{0, 1}})
	return ch
}

// corners keeps the points of an ROC curve where its direction changes:
// the same curve, with fewer markers.
func corners(roc []stats.ROCPoint) []stats.ROCPoint {
	var out []stats.ROCPoint
	for i, p := range roc {
		if i > 0 && i < len(roc)-1 {
			a, b := roc[i-1], roc[i+1]
			// Collinear with both neighbours: (p - a) x (b - p) = 0.
			if (p.FPR-a.FPR)*(b.TPR-p.TPR)-(p.TPR-a.TPR)*(b.FPR-p.FPR) == 0 {
				continue
			}
		}
		out = append(out, p)
	}
	return out
}

// epochsScatter draws the held-out nets' epochs to the target against the
// theory's score, one marker per net (a series of one point each, sharing
// its family's name, so that no line joins them), the nets that did not
// reach the target in the "not reached" band.
func epochsScatter(ev *zoo.Evaluation) report.LineChart {
	ch := report.LineChart{
		Title:  "Held-out nets: epochs to 20% test accuracy vs the theory's score",
		XLabel: "theory's score (fitted log-odds of reaching 20%)", YLabel: "epochs to 20% test accuracy", LogY: true,
		LegendTitle: "family",
	}
	th := ev.Results[0]
	for i, o := range ev.Held {
		x := th.Values[i]
		if !finite(x) {
			continue
		}
		s := report.Series{Name: o.Family}
		if o.Reached {
			s.X, s.Y = []float64{x}, []float64{o.Epochs}
		} else {
			s.Missing = []float64{x}
		}
		ch.Series = append(ch.Series, s)
	}
	return ch
}
