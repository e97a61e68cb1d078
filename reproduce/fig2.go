package reproduce

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/initscope/initscope/experiment"
	"github.com/initscope/initscope/probe"
	"github.com/initscope/initscope/report"
	"github.com/initscope/initscope/stats"
	"github.com/initscope/initscope/task"
	"github.com/initscope/initscope/train"
)

// Figure 2 (FM2): fully connected nets on MNIST under he-normal, with the
// architecture varied: the fluctuations and the epochs to 20% track
// beta = sum 1/n_j.
var fig2 = figure{
	name:   "fig2",
	sweeps: fig2Sweeps,
	render: renderFig2,
}

// Thresholds of Figure 2's criteria.
const (
	// betaRankEpochs is the least Spearman rank correlation between beta
	// and the epochs to the target ("did not reach" ranking slowest).
	betaRankEpochs = 0.5
	// betaRankVar is the least rank correlation between beta and the
	// measured Var[ln M_d], and between beta and the measured E[Var_hat].
	betaRankVar = 0.9
	// profileFactor is the largest ratio between the mean epochs of two
	// width profiles of equal depth and beta.
	profileFactor = 2.0
	// reliableFactor is how many times the relative second moment
	// E[M_d^2]/E[M_d]^2 the number of samples must be for the sample mean
	// of Var_hat to be compared with the theory.
	reliableFactor = 1000.0
	// profileSlowLR is the second learning rate of Figure 2(b), a third of
	// the figures' 0.003.
	profileSlowLR = 0.001
)

// The sweeps of Figure 2.
const (
	fig2Probe         = "fig2-probe"
	fig2Train         = "fig2-train"
	fig2ProfilesProbe = "fig2-profiles-probe"
	fig2ProfilesTrain = "fig2-profiles-train"
)

// fig2Init is the initialization of Figure 2.
const fig2Init = "he-normal"

func fig2Sweeps(c Config) ([]*experiment.Sweep, error) {
	depths := pick(c.Scale, []int{5, 10, 20, 40, 80}, []int{10, 20, 40}, []int{2, 3})
	widths := pick(c.Scale, []int{10, 20, 40, 80, 160}, []int{10, 20, 40}, []int{4, 8})
	// E[Var_hat] is a heavy-tailed mean: a million samples (of the exact
	// sampler, O(depth) each) estimate it up to beta about 1.
	samples := pick(c.Scale, 1000000, 1000000, 100)
	profSamples := pick(c.Scale, 10000, 10000, 100)
	profDepth := pick(c.Scale, 40, 40, 12)
	betas := pick(c.Scale, []float64{0.5, 1, 2, 4}, []float64{1, 2}, []float64{1})

	fixed := map[string]any{"init": fig2Init}
	derived := map[string]string{"arch": "fc:784-{width}x{depth}-10"}
	grid := []experiment.Axis{values("depth", depths...), values("width", widths...)}
	labels := []string{"depth", "width"}
	pr, err := newSweep(fig2Probe, c.describe("Figure 2(a, c): Var[ln M_d] and E[Var_hat] of constant-width fc nets, measured with the theory"),
		[]string{task.KindProbe}, merge(fixed, probeParams("mnist", samples)), derived, labels, grid...)
	if err != nil {
		return nil, err
	}
	tr, err := newSweep(fig2Train, c.describe("Figure 2(a): epochs to 20% test accuracy of constant-width fc nets on MNIST"),
		[]string{task.KindTrain}, merge(fixed, c.training("").params()), derived, labels, append(grid, seeds(c.runs()))...)
	if err != nil {
		return nil, err
	}

	zip := map[string][]any{}
	for _, beta := range betas {
		for _, kind := range profiles {
			ws, err := profileWidths(kind, profDepth, beta)
			if err != nil {
				return nil, err
			}
			zip["profile"] = append(zip["profile"], kind)
			zip["beta"] = append(zip["beta"], beta)
			zip["arch"] = append(zip["arch"], fcSpec(784, ws))
		}
	}
	points := experiment.Axis{Zip: zip}
	profFixed := merge(fixed, map[string]any{"depth": profDepth})
	profLabels := []string{"depth", "profile", "beta"}
	pp, err := newSweep(fig2ProfilesProbe, c.describe("Figure 2(b): Var[ln M_d] of fc nets of equal depth and beta, different width profiles"),
		[]string{task.KindProbe}, merge(profFixed, probeParams("mnist", profSamples)), nil, profLabels, points)
	if err != nil {
		return nil, err
	}
	// The profiles train at the figures' learning rate and at profileSlowLR,
	// so that a gap between profiles is not one learning rate's accident.
	profTrain := c.training("").params()
	lrs := values("lr", c.training("").LR, profileSlowLR)
	delete(profTrain, "lr")
	pt, err := newSweep(fig2ProfilesTrain, c.describe("Figure 2(b): epochs to 20% of fc nets of equal depth and beta, different width profiles, two learning rates"),
		[]string{task.KindTrain}, merge(profFixed, profTrain), nil, profLabels, points, lrs, seeds(c.runs()))
	if err != nil {
		return nil, err
	}
	return []*experiment.Sweep{pr, tr, pp, pt}, nil
}

// depthWidth is a point of Figure 2's grid.
type depthWidth struct{ depth, width int }

// profileBeta is a point of Figure 2(b).
type profileBeta struct {
	profile string
	beta    float64
}

// fig2Data is Figure 2 aggregated.
type fig2Data struct {
	// depths and widths of the grid, sorted.
	depths, widths []int
	probe          map[depthWidth]*task.ProbeResult
	epochs         map[depthWidth]*epochCell
	// profiles in grid order, their target betas sorted, their depth.
	profiles  []string
	betas     []float64
	profDepth int
	profProbe map[profileBeta]*task.ProbeResult
	profTrain map[profileBeta]*epochCell
	profArch  map[profileBeta]string
}

func newFig2Data(fd *figureData) (*fig2Data, error) {
	d := &fig2Data{probe: map[depthWidth]*task.ProbeResult{}, epochs: map[depthWidth]*epochCell{},
		profProbe: map[profileBeta]*task.ProbeResult{}, profTrain: map[profileBeta]*epochCell{}, profArch: map[profileBeta]string{}}
	grid := func(r experiment.Record) (depthWidth, error) {
		depth, err := intParam(r, "depth")
		if err != nil {
			return depthWidth{}, err
		}
		width, err := intParam(r, "width")
		d.depths, d.widths = sortedInts(append(d.depths, depth)), sortedInts(append(d.widths, width))
		return depthWidth{depth, width}, err
	}
	prof := func(r experiment.Record) (profileBeta, error) {
		p, err := textParam(r, "profile")
		if err != nil {
			return profileBeta{}, err
		}
		beta, err := r.Task().Float("beta")
		if err != nil {
			return profileBeta{}, err
		}
		if d.profDepth, err = intParam(r, "depth"); err != nil {
			return profileBeta{}, err
		}
		if !slices.Contains(d.profiles, p) {
			d.profiles = append(d.profiles, p)
		}
		if !slices.Contains(d.betas, beta) {
			d.betas = append(d.betas, beta)
			sort.Float64s(d.betas)
		}
		k := profileBeta{p, beta}
		d.profArch[k], err = textParam(r, "arch")
		return k, err
	}
	err := each(fd, fig2Probe, func(r experiment.Record, p *task.ProbeResult) error {
		k, err := grid(r)
		d.probe[k] = p
		return err
	})
	if err == nil {
		err = each(fd, fig2Train, func(r experiment.Record, t *train.Result) error {
			k, err := grid(r)
			addRun(d.epochs, k, t)
			return err
		})
	}
	if err == nil {
		err = each(fd, fig2ProfilesProbe, func(r experiment.Record, p *task.ProbeResult) error {
			k, err := prof(r)
			d.profProbe[k] = p
			return err
		})
	}
	if err == nil {
		err = each(fd, fig2ProfilesTrain, func(r experiment.Record, t *train.Result) error {
			k, err := prof(r)
			addRun(d.profTrain, k, t)
			return err
		})
	}
	return d, err
}

// addRun counts a training run in the cell of key k.
func addRun[K comparable](cells map[K]*epochCell, k K, t *train.Result) {
	if cells[k] == nil {
		cells[k] = &epochCell{}
	}
	cells[k].add(t)
}

// logVar returns the measured Var[ln M_d/M_0] at the output layer with its
// SE, the theory's value and the comparison's z-score (NaN where unknown).
func logVar(p *task.ProbeResult) (measured, se, theory, z float64) {
	if p == nil {
		return nan, nan, nan, nan
	}
	out, err := p.Output()
	if err != nil {
		return nan, nan, nan, nan
	}
	return float64(out.LogVar), float64(out.LogVarSE), float64(out.Theory.LogVar), float64(out.Z.LogVar)
}

// cells lists the grid's points in a fixed order, with their beta.
func (d *fig2Data) cells() (keys []depthWidth, betas []float64) {
	for _, depth := range d.depths {
		for _, width := range d.widths {
			keys = append(keys, depthWidth{depth, width})
			betas = append(betas, float64(depth)/float64(width))
		}
	}
	return keys, betas
}

// checkFig2Beta checks panel (a): epochs and fluctuations grow with beta.
func checkFig2Beta(d *fig2Data, missing int) Claim {
	c := newCheck("fig2", "fig2a", "Figure 2(a): epochs to 20% and Var[ln M_d] over depth x width",
		"Under he-normal (no FM1), the fluctuations of the output length, Var[ln M_d] ~ 5 beta, and the epochs needed to start training "+
			"grow with beta = sum 1/n_j = depth/width, not with depth alone (FM2).",
		fmt.Sprintf("Over the depth x width grid of constant-width nets: the Spearman rank correlation between beta and the mean epochs to 20%% "+
			"(a point where fewer than half of the runs reached 20%% ranks slowest) is at least %g, and that between beta and the measured "+
			"Var[ln M_d] is at least %g.", betaRankEpochs, betaRankVar))
	keys, betas := d.cells()
	var eb, ev, vb, vv, db []float64
	worstZ := 0.0
	for i, k := range keys {
		if cell := d.epochs[k]; cell != nil {
			eb, ev = append(eb, betas[i]), append(ev, cell.rankValue())
			db = append(db, float64(k.depth))
		}
		if m, _, _, z := logVar(d.probe[k]); finite(m) {
			vb, vv = append(vb, betas[i]), append(vv, m)
			if finite(z) {
				worstZ = math.Max(worstZ, math.Abs(z))
			}
		}
	}
	if rho := stats.Spearman(eb, ev); finite(rho) {
		c.cond(rho >= betaRankEpochs, "rank correlation of beta and epochs to 20%%: %.2f over %d points (of depth alone: %.2f)", rho, len(eb), stats.Spearman(db, ev))
	} else {
		c.cannot("too few training points for a rank correlation (%d)", len(eb))
	}
	if rho := stats.Spearman(vb, vv); finite(rho) {
		c.cond(rho >= betaRankVar, "rank correlation of beta and measured Var[ln M_d]: %.2f over %d points; the measurement is within %.1f SE of the exact theory at every point", rho, len(vb), worstZ)
	} else {
		c.cannot("too few probes for a rank correlation (%d)", len(vb))
	}
	return c.done(missing)
}

// checkFig2Profiles checks panel (b): at equal depth and beta the width
// profile does not matter.
func checkFig2Profiles(d *fig2Data, missing int) Claim {
	c := newCheck("fig2", "fig2b", "Figure 2(b): equal depth and beta, different width profiles",
		"Nets of equal depth and equal beta start training alike, whatever their width profile (constant, increasing, decreasing, alternating).",
		fmt.Sprintf("For each beta: at least half of the runs of every profile reach 20%% within the cap, and the largest mean epochs to 20%% "+
			"is at most %g times the smallest.", profileFactor))
	if len(d.betas) == 0 {
		c.cannot("no profiles")
	}
	for _, beta := range d.betas {
		lo, hi := math.Inf(1), math.Inf(-1)
		all := true
		var parts []string
		for _, p := range d.profiles {
			cell := d.profTrain[profileBeta{p, beta}]
			m, _ := cell.mean()
			all = all && cell.shown()
			if finite(m) {
				lo, hi = math.Min(lo, m), math.Max(hi, m)
			}
			parts = append(parts, fmt.Sprintf("%s %s", p, cell.text()))
		}
		c.cond(all && hi <= profileFactor*lo, "beta = %g: epochs to 20%%: %s; ratio %.2f", beta, strings.Join(parts, "; "), hi/lo)
	}
	return c.done(missing)
}

// checkFig2Variance checks panel (c): E[Var_hat] as the theory says.
func checkFig2Variance(d *fig2Data, missing int) Claim {
	c := newCheck("fig2", "fig2c", "Figure 2(c): empirical variance of the layer lengths versus beta",
		"The expected empirical variance of the lengths across layers, E[Var_hat[M]], follows the exact finite-width formula "+
			"(M_0^2/d^2) sum_j (2j - d - 1) prod_{i<=j} (1 + 5/n_i), and grows with beta.",
		fmt.Sprintf("Over the depth x width grid: wherever the sample is large enough for this heavy-tailed mean (N samples >= %g E[M_d^2]/E[M_d]^2, "+
			"the exact relative second moment of the output length, which grows like exp(5 beta) and sets how rare the samples carrying "+
			"E[Var_hat] are), the measured mean is within %g standard errors of the exact theory; and the Spearman rank correlation between beta "+
			"and the measured E[Var_hat] is at least %g. Points with too few samples are shown, not compared: their sample mean falls short of "+
			"E[Var_hat], as the mean of a heavy-tailed quantity does.", reliableFactor, probe.FlagZ, betaRankVar))
	keys, betas := d.cells()
	var xb, xv []float64
	compared, short, off := 0, 0, 0
	worst := 0.0
	for i, k := range keys {
		p := d.probe[k]
		if p == nil {
			continue
		}
		ev := p.EmpiricalVariance
		if ev.Mean.Known() {
			xb, xv = append(xb, betas[i]), append(xv, float64(ev.Mean))
		}
		out, err := p.Output()
		if err != nil || !ev.Exact || !ev.Z.Known() {
			continue
		}
		if rel := float64(out.Theory.Log10SecondMomentRatio) - 2*float64(out.Theory.Log10MeanRatio); !(float64(p.Samples) >= reliableFactor*math.Pow(10, rel)) {
			short++
			continue
		}
		compared++
		z := math.Abs(float64(ev.Z))
		worst = math.Max(worst, z)
		if z > probe.FlagZ {
			off++
		}
	}
	if compared > 0 {
		c.cond(off == 0, "measured E[Var_hat]/M_0^2 within %g SE of the exact theory at %d of the %d points with enough samples (largest |z| = %.1f); %d points with too few samples not compared",
			probe.FlagZ, compared-off, compared, worst, short)
	} else {
		c.cannot("no point with enough samples for the comparison (%d with too few)", short)
	}
	if rho := stats.Spearman(xb, xv); finite(rho) {
		c.cond(rho >= betaRankVar, "rank correlation of beta and measured E[Var_hat]: %.2f over %d points", rho, len(xb))
	} else {
		c.cannot("too few probes for a rank correlation (%d)", len(xb))
	}
	return c.done(missing)
}

func renderFig2(fd *figureData, out *outputs) ([]section, error) {
	d, err := newFig2Data(fd)
	if err != nil {
		return nil, err
	}
	// The grid: heat maps and CSV.
	keys, betas := d.cells()
	epochZ := make([][]float64, len(d.depths))
	varZ := make([][]float64, len(d.depths))
	var rows, epochTable [][]string
	for i := range d.depths {
		epochZ[i] = make([]float64, len(d.widths))
		varZ[i] = make([]float64, len(d.widths))
	}
	for i, k := range keys {
		r, col := slices.Index(d.depths, k.depth), slices.Index(d.widths, k.width)
		cell := d.epochs[k]
		epochZ[r][col], _ = cell.mean()
		m, se, th, z := logVar(d.probe[k])
		varZ[r][col] = m
		line := []string{fmt.Sprint(k.depth), fmt.Sprint(k.width), csvFloat(betas[i]), csvFloat(th), csvFloat(m), csvFloat(se), csvFloat(z)}
		if p := d.probe[k]; p != nil {
			ev := p.EmpiricalVariance
			line = append(line, csvFloat(float64(ev.TheoryMean)), csvFloat(float64(ev.Mean)), csvFloat(float64(ev.SE)), fmt.Sprint(ev.HeavyTail))
		} else {
			line = append(line, "", "", "", "")
		}
		rows = append(rows, append(line, cell.csv()...))
		epochTable = append(epochTable, []string{fmt.Sprint(k.depth), fmt.Sprint(k.width), fmt.Sprintf("%.3g", betas[i]),
			fmt.Sprintf("%s (theory %s)", fmtNum(m), fmtNum(th)), cell.text()})
	}
	if err := out.csv("fig2_grid.csv", append([]string{"depth", "width", "beta", "theory_log_var", "measured_log_var", "measured_log_var_se", "z_log_var",
		"theory_empirical_variance", "measured_empirical_variance", "measured_empirical_variance_se", "empirical_variance_heavy_tail"}, epochHeader...), rows); err != nil {
		return nil, err
	}
	xw, yd := floats(d.widths), floats(d.depths)
	gridBetas := slices.Compact(slices.Sorted(slices.Values(betas)))
	figEpochs, err := out.plot("fig2a_epochs_heatmap", report.HeatMap{
		Title: "Fig. 2(a): epochs to 20% test accuracy (he-normal, MNIST)", XLabel: "width n", YLabel: "depth d",
		X: xw, Y: yd, Z: epochZ, ZLabel: "epochs to 20%", NaNLabel: "not reached",
	}, "Mean epochs to 20% over the runs that reached it; grey, \"not reached\": fewer than half of the runs reached 20% within the cap")
	if err != nil {
		return nil, err
	}
	figVar, err := out.plot("fig2a_logvar_heatmap", report.HeatMap{
		Title: "Fig. 2(a): measured Var[ln M_d] (he-normal)", XLabel: "width n", YLabel: "depth d",
		X: xw, Y: yd, Z: varZ, ZLabel: "Var[ln M_d]", NaNLabel: "no data",
	}, "Variance of ln(M_d/M_0) over independent initializations (theory ~ 5 beta)")
	if err != nil {
		return nil, err
	}
	var byDepth []report.Series
	for _, depth := range d.depths {
		var xs []float64
		var cells []*epochCell
		for _, w := range slices.Backward(d.widths) {
			xs = append(xs, float64(depth)/float64(w))
			cells = append(cells, d.epochs[depthWidth{depth, w}])
		}
		byDepth = append(byDepth, epochSeries(fmt.Sprint(depth), xs, cells))
	}
	figBeta, err := out.plot("fig2a_epochs_beta", report.LineChart{
		Title: "Fig. 2(a): epochs to 20% vs β = depth/width", XLabel: "β = Σ 1/n_j", YLabel: "epochs to 20% test accuracy",
		LogX: true, XTicks: gridBetas, LegendTitle: "depth", Dodge: true, Series: byDepth,
	}, "The grid's points against beta, one curve per depth: FM2 predicts they collapse onto one curve; markers in the top band, "+
		"\"not reached\": fewer than half of the runs reached 20%")
	if err != nil {
		return nil, err
	}

	// The profiles.
	var profRows, profTable [][]string
	var profCurves []report.Series
	for _, p := range d.profiles {
		var cells []*epochCell
		var xs []float64
		for _, beta := range d.betas {
			k := profileBeta{p, beta}
			pr := d.profProbe[k]
			actual := nan
			if pr != nil {
				actual = pr.Beta
			}
			m, se, th, _ := logVar(pr)
			cell := d.profTrain[k]
			cells, xs = append(cells, cell), append(xs, beta)
			profRows = append(profRows, append([]string{p, csvFloat(beta), csvFloat(actual), fmt.Sprint(d.profDepth), d.profArch[k],
				csvFloat(th), csvFloat(m), csvFloat(se)}, cell.csv()...))
			profTable = append(profTable, []string{p, fmt.Sprintf("%g (actual %.4g)", beta, actual), d.profArch[k],
				fmt.Sprintf("%s (theory %s)", fmtNum(m), fmtNum(th)), cell.text()})
		}
		profCurves = append(profCurves, epochSeries(p, xs, cells))
	}
	if err := out.csv("fig2_profiles.csv", append([]string{"profile", "beta_target", "beta", "depth", "arch", "theory_log_var", "measured_log_var", "measured_log_var_se"},
		epochHeader...), profRows); err != nil {
		return nil, err
	}
	figProf, err := out.plot("fig2b_profiles", report.LineChart{
		Title:  fmt.Sprintf("Fig. 2(b): equal depth (%d) and beta, different width profiles", d.profDepth),
		XLabel: "β = Σ 1/n_j", YLabel: "epochs to 20% test accuracy", XTicks: d.betas,
		LegendTitle: "width profile", Dodge: true, Series: profCurves,
	}, "One curve per width profile; the claim is that they coincide; markers in the top band, \"not reached\": fewer than half of the runs reached 20%")
	if err != nil {
		return nil, err
	}

	// E[Var_hat] against beta.
	var ev []report.Series
	for _, depth := range d.depths {
		var xs, ys, ses, th []float64
		for _, w := range slices.Backward(d.widths) {
			xs = append(xs, float64(depth)/float64(w))
			y, se, t := nan, nan, nan
			if p := d.probe[depthWidth{depth, w}]; p != nil {
				y, se, t = float64(p.EmpiricalVariance.Mean), float64(p.EmpiricalVariance.SE), float64(p.EmpiricalVariance.TheoryMean)
			}
			ys, ses, th = append(ys, y), append(ses, se), append(th, math.Log10(t))
		}
		name := fmt.Sprint(depth)
		ev = append(ev, valueSeries(name, xs, ys, ses), theorySeries(name, report.Theory, xs, th))
	}
	figEV, err := out.plot("fig2c_empirical_variance", report.LineChart{
		Title: "Fig. 2(c): E[Var_hat[M]]/M_0^2 vs β (he-normal)", XLabel: "β = depth/width", YLabel: "E[Var_hat[M]] / M_0^2",
		LogX: true, LogY: true, XTicks: gridBetas, LegendTitle: "depth", Series: ev,
	}, "Measured (markers, solid, ± SE) and exact theory (dashed), one colour and marker per depth")
	if err != nil {
		return nil, err
	}

	gridMissing := fd.incomplete(fig2Probe, fig2Train)
	a := section{
		claim:    checkFig2Beta(d, gridMissing),
		figures:  []report.Figure{figEpochs, figVar, figBeta},
		tables:   []report.Table{{Caption: "the depth x width grid", Header: []string{"depth", "width", "beta", "Var[ln M_d] measured (theory)", "epochs to 20%"}, Rows: epochTable}},
		settings: fd.settings(fig2Train),
	}
	b := section{
		claim:    checkFig2Profiles(d, fd.incomplete(fig2ProfilesProbe, fig2ProfilesTrain)),
		figures:  []report.Figure{figProf},
		tables:   []report.Table{{Caption: "width profiles", Header: []string{"profile", "beta", "net", "Var[ln M_d] measured (theory)", "epochs to 20%"}, Rows: profTable}},
		settings: fd.settings(fig2ProfilesTrain),
	}
	c := section{
		claim:    checkFig2Variance(d, fd.incomplete(fig2Probe)),
		figures:  []report.Figure{figEV},
		settings: fd.settings(fig2Probe),
	}
	return []section{a, b, c}, nil
}

// fmtNum writes a number with 3 significant digits, "-" when unknown.
func fmtNum(v float64) string {
	if !finite(v) {
		return "-"
	}
	return fmt.Sprintf("%.3g", v)
}
