package reproduce

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/initscope/initscope/experiment"
	"github.com/initscope/initscope/num"
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
	// reliableFactor is how many times E[M_d^4]/E[M_d^2]^2 the number of
	// samples must be for the sample mean of Var_hat, a quadratic in the
	// lengths, to be compared with the theory.
	reliableFactor = 10.0
	// equivalence is how narrow the interval of measured/exact E[Var_hat]
	// must be to confirm the formula: within [1/equivalence, equivalence]
	// (it must contain 1 in any case).
	equivalence = 1.25
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
		[]string{task.KindTrain}, merge(profFixed, profTrain), nil, profLabels, points, lrs, seeds(c.profileRuns()))
	if err != nil {
		return nil, err
	}
	return []*experiment.Sweep{pr, tr, pp, pt}, nil
}

// profileRuns is the number of paired seeds of Figure 2(b): three times the
// runs at full scale. Its claim is an equivalence (the profiles train
// alike), decided from the ratio of the slowest to the fastest of four
// means, whose interval 10 seeds leave about twice as wide as it may be
// (measured: 10 seeds left 6 of the 8 beta x learning-rate points
// inconclusive, most needing 15-40 seeds).
func (c Config) profileRuns() int {
	if c.Scale == "" || c.Scale == Full {
		return 3 * c.runs()
	}
	return c.runs()
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
	profTrain map[profileRun]*epochCell
	profArch  map[profileBeta]string
	// lrs are the learning rates the profiles trained at, sorted.
	lrs []float64
}

// profileRun is a training point of Figure 2(b): a profile at a beta,
// trained at a learning rate.
type profileRun struct {
	profileBeta
	lr float64
}

func newFig2Data(fd *figureData) (*fig2Data, error) {
	d := &fig2Data{probe: map[depthWidth]*task.ProbeResult{}, epochs: map[depthWidth]*epochCell{},
		profProbe: map[profileBeta]*task.ProbeResult{}, profTrain: map[profileRun]*epochCell{}, profArch: map[profileBeta]string{}}
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
			if !slices.Contains(d.lrs, t.Setup.LR) {
				d.lrs = append(d.lrs, t.Setup.LR)
				sort.Float64s(d.lrs)
			}
			addRun(d.profTrain, profileRun{k, t.Setup.LR}, t)
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
		fmt.Sprintf("Over the depth x width grid of constant-width nets, with each point's mean ln(epochs to 20%%) over the paired seeds "+
			"(a run that does not reach 20%% counts at the cap) and 95%% intervals from a bootstrap over the seeds: the Spearman rank "+
			"correlation between beta and the epochs is at least %g; it exceeds the rank correlation between depth alone and the epochs "+
			"(their difference is above 0); and the rank correlation between beta and the measured Var[ln M_d] is at least %g (interval "+
			"from redrawing each point's measurement within its standard error).", betaRankEpochs, betaRankVar))
	keys, betas := d.cells()
	var cells []*epochCell
	var eb, db, vb, vv, vse []float64
	worstZ := 0.0
	for i, k := range keys {
		if cell := d.epochs[k]; cell != nil {
			cells = append(cells, cell)
			eb, db = append(eb, betas[i]), append(db, float64(k.depth))
		}
		if m, se, _, z := logVar(d.probe[k]); finite(m) && finite(se) {
			vb, vv, vse = append(vb, betas[i]), append(vv, m), append(vse, se)
			if finite(z) {
				worstZ = math.Max(worstZ, math.Abs(z))
			}
		}
	}
	if len(cells) < 3 {
		c.cannot("too few training points for a rank correlation (%d)", len(cells))
	} else {
		p := newPaired(cells)
		c.decide(p.interval("rho(beta, epochs)", func(m []float64) float64 { return stats.Spearman(eb, m) }), atLeast(betaRankEpochs),
			"epochs to 20%% grow with beta over %d points", len(cells))
		c.decide(p.interval("rho(beta, epochs) - rho(depth, epochs)", func(m []float64) float64 { return stats.Spearman(eb, m) - stats.Spearman(db, m) }),
			atLeast(0), "with beta, not with depth alone (rho(depth, epochs) = %.2f on all seeds)", stats.Spearman(db, p.means(allIndices(len(p.seeds)))))
	}
	if len(vv) < 3 {
		c.cannot("too few probes for a rank correlation (%d)", len(vv))
	} else {
		rho := func(x []float64) float64 { return stats.Spearman(vb, x) }
		lo, hi := stats.Parametric(vv, vse, rho)
		c.decide(report.Interval{Statistic: "rho(beta, Var[ln M_d])", Estimate: num.Number(rho(vv)), Lo: num.Number(lo), Hi: num.Number(hi),
			Runs: len(vv), Method: "grid points (parametric bootstrap from each point's SE)"}, atLeast(betaRankVar),
			"Var[ln M_d] grows with beta; the measurement is within %.1f SE of the exact theory at every point", worstZ)
	}
	return c.done(missing)
}

// allIndices returns 0..n-1.
func allIndices(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// checkFig2Profiles checks panel (b): at equal depth and beta the width
// profile does not matter.
func checkFig2Profiles(d *fig2Data, missing int) Claim {
	c := newCheck("fig2", "fig2b", "Figure 2(b): equal depth and beta, different width profiles",
		"Nets of equal depth and equal beta start training alike, whatever their width profile (constant, increasing, decreasing, alternating).",
		fmt.Sprintf("For each beta and learning rate: the ratio of the slowest to the fastest profile, exp(max - min of the profiles' mean "+
			"ln(epochs to 20%%)) over the paired seeds (a run that does not reach 20%% counts at the cap), with a 95%% interval from a "+
			"bootstrap over the seeds, lies at or below %g. The ratio of the noisiest of four estimates to the least is above 1 even for "+
			"identical profiles, so the threshold leaves room for noise; more seeds narrow the interval, not the bias.", profileFactor))
	if len(d.betas) == 0 || len(d.lrs) == 0 {
		c.cannot("no profiles")
	}
	for _, lr := range d.lrs {
		for _, beta := range d.betas {
			var cells []*epochCell
			var parts []string
			for _, p := range d.profiles {
				cell := d.profTrain[profileRun{profileBeta{p, beta}, lr}]
				cells = append(cells, cell)
				parts = append(parts, fmt.Sprintf("%s %s", p, cell.text()))
			}
			pr := newPaired(cells)
			iv := pr.interval("slowest/fastest", func(m []float64) float64 { return math.Exp(slices.Max(m) - slices.Min(m)) })
			c.decide(iv, atMost(profileFactor), "beta = %g, lr = %g: epochs to 20%%: %s", beta, lr, strings.Join(parts, "; "))
		}
	}
	return c.done(missing)
}

// momentRatioLog is ln(E[M_d^(2m)]/E[M_d^m]^2) of the output length of a
// fully connected ReLU net with Gaussian 2/fan-in weights and zero biases:
// M_j/M_{j-1} = (2/n_j) chi^2_K with K ~ Binomial(n_j, 1/2) independently
// per layer (THEORY 3), so the ratio is the product over the layers of
// E[X^(2m)]/E[X^m]^2, with E[chi^2_k^m] = k(k+2)...(k+2m-2) (the (2/n)
// factors cancel).
func momentRatioLog(widths []int, m int) float64 {
	total := 0.0
	for _, n := range widths {
		var lo, hi float64
		lg, _ := math.Lgamma(float64(n + 1))
		for k := 0; k <= n; k++ {
			lk, _ := math.Lgamma(float64(k + 1))
			lnk, _ := math.Lgamma(float64(n - k + 1))
			p := math.Exp(lg - lk - lnk - float64(n)*math.Ln2) // P(K = k)
			a, b := 1.0, 1.0
			for i := range 2 * m {
				if i < m {
					a *= float64(k + 2*i)
				}
				b *= float64(k + 2*i)
			}
			lo += p * a
			hi += p * b
		}
		total += math.Log(hi) - 2*math.Log(lo)
	}
	return total
}

// checkFig2Variance checks panel (c): E[Var_hat] as the theory says.
func checkFig2Variance(d *fig2Data, missing int) Claim {
	c := newCheck("fig2", "fig2c", "Figure 2(c): empirical variance of the layer lengths versus beta",
		"The expected empirical variance of the lengths across layers, E[Var_hat[M]], follows the exact finite-width formula "+
			"(M_0^2/d^2) sum_j (2j - d - 1) prod_{i<=j} (1 + 5/n_i), and grows with beta.",
		fmt.Sprintf("Var_hat is quadratic in the lengths, so its sample mean over N initializations estimates E[Var_hat] only where "+
			"N >= %g E[M_d^4]/E[M_d^2]^2 (fewer samples miss the rare draws that carry the mean, which then falls short, as a heavy-tailed "+
			"mean does), and the standard error that an interval rests on is itself estimated only where N >= %g E[M_d^8]/E[M_d^4]^2 "+
			"(both ratios exact for these nets, from the law of M_d, and growing exponentially in beta). (1) Where the interval can be "+
			"trusted: the interval of measured/theory (mean ± z SE, z for all compared points, Bonferroni) contains 1 (else the formula is "+
			"contradicted) and lies within [%g, %.3g] (else it is too wide to confirm it), at every point. (2) Where the mean is estimable: "+
			"the rank correlation between beta and the measured E[Var_hat] is at least %g (interval from redrawing each point within its "+
			"SE). (3) Where N is out of reach for E[Var_hat], its growth with beta is judged on the quantity the probe does estimate at "+
			"every point, the log-moment Var[ln M_d]: rank correlation with beta at least %g.",
			reliableFactor, reliableFactor, 1/equivalence, equivalence, betaRankVar, betaRankVar))
	keys, betas := d.cells()
	var pts []pointDecision
	var xb, xv, xse, vb, vv, vse []float64
	short, noSE := 0, 0
	// least is the point that needs the fewest samples for a trustworthy
	// interval, and need that number.
	least, need, have := "", math.Inf(1), 0
	for i, k := range keys {
		p := d.probe[k]
		if p == nil {
			continue
		}
		if m, se, _, _ := logVar(p); finite(m) && finite(se) {
			vb, vv, vse = append(vb, betas[i]), append(vv, m), append(vse, se)
		}
		ev := p.EmpiricalVariance
		if !ev.Exact || !ev.Mean.Known() || !ev.SE.Known() {
			continue
		}
		widths := make([]int, k.depth)
		for j := range widths {
			widths[j] = k.width
		}
		n := float64(p.Samples)
		if n8 := reliableFactor * math.Exp(momentRatioLog(widths, 4)); n8 < need {
			least, need, have = fmt.Sprintf("d=%d n=%d", k.depth, k.width), n8, p.Samples
		}
		if !(n >= reliableFactor*math.Exp(momentRatioLog(widths, 2))) {
			short++
			continue
		}
		xb, xv, xse = append(xb, betas[i]), append(xv, float64(ev.Mean)), append(xse, float64(ev.SE))
		if !(n >= reliableFactor*math.Exp(momentRatioLog(widths, 4))) {
			noSE++
			continue
		}
		t := float64(ev.TheoryMean)
		pts = append(pts, pointDecision{name: fmt.Sprintf("d=%d n=%d", k.depth, k.width),
			iv: report.Interval{Statistic: "measured/theory E[Var_hat]", Estimate: num.Number(float64(ev.Mean) / t),
				Lo: num.Number(float64(ev.Mean) / t), Hi: num.Number(float64(ev.SE) / t), Runs: p.Samples}})
	}
	switch {
	case len(pts) == 0 && least == "":
		c.cannot("no probe of the grid to compare with the exact theory")
	case len(pts) == 0:
		// More samples decide it: the interval exists nowhere yet.
		iv := report.Interval{Statistic: "measured/theory E[Var_hat]", Estimate: num.Unknown, Lo: num.Unknown, Hi: num.Unknown,
			Level: stats.Level, Holds: around(1, equivalence, false).String(), Runs: have, Method: "initializations",
			Needed: int(math.Min(math.Ceil(need), maxNeeded))}
		c.measured = append(c.measured, report.Finding{Kind: report.Undecided, Interval: &iv,
			Text: fmt.Sprintf("(1) no point of the grid has N >= %g E[M^8]/E[M^4]^2, where an interval on E[Var_hat] can be trusted: "+
				"the comparison with the exact theory is not made at this scale; %s needs N >= %.3g samples (it has %d)",
				reliableFactor, least, need, have)})
	default:
		z := stats.NormalZ(len(pts))
		for i := range pts {
			m, se := float64(pts[i].iv.Lo), float64(pts[i].iv.Hi)
			pts[i].iv = normalInterval(pts[i].iv.Statistic, m, se, z, pts[i].iv.Runs, fmt.Sprintf("initializations (mean ± %.2f SE)", z))
			pts[i].holds = around(1, equivalence, false)
		}
		c.decideAll(fmt.Sprintf("(1) measured E[Var_hat] against the exact theory at the %d points where N >= %g E[M^8]/E[M^4]^2 (%d more points "+
			"have an estimable mean but an untrustworthy SE, %d too few samples for the mean)", len(pts), reliableFactor, noSE, short), pts)
	}
	if len(xb) >= 3 {
		rho := func(x []float64) float64 { return stats.Spearman(xb, x) }
		lo, hi := stats.Parametric(xv, xse, rho)
		c.decide(report.Interval{Statistic: "rho(beta, E[Var_hat])", Estimate: num.Number(rho(xv)), Lo: num.Number(lo), Hi: num.Number(hi),
			Runs: len(xb), Method: "grid points (parametric bootstrap from each point's SE)"}, atLeast(betaRankVar),
			"(2) E[Var_hat] grows with beta over the %d points where N >= %g E[M^4]/E[M^2]^2", len(xb), reliableFactor)
	} else {
		c.note("(2) only %d points with an estimable E[Var_hat]: its growth with beta is judged on Var[ln M_d] alone", len(xb))
	}
	if len(vv) >= 3 {
		rho := func(x []float64) float64 { return stats.Spearman(vb, x) }
		lo, hi := stats.Parametric(vv, vse, rho)
		c.decide(report.Interval{Statistic: "rho(beta, Var[ln M_d])", Estimate: num.Number(rho(vv)), Lo: num.Number(lo), Hi: num.Number(hi),
			Runs: len(vv), Method: "grid points (parametric bootstrap from each point's SE)"}, atLeast(betaRankVar),
			"(3) the fluctuations grow with beta over all %d points, judged on the estimable log-moment", len(vv))
	} else {
		c.cannot("too few probes for a rank correlation (%d)", len(vv))
	}
	return c.done(missing)
}

// samplesOf returns the number of initializations of the grid's probes.
func (d *fig2Data) samplesOf() int {
	for _, p := range d.probe {
		if p != nil {
			return p.Samples
		}
	}
	return 0
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

	// The profiles: one plot per learning rate.
	var profRows, profTable [][]string
	var figProf []report.Figure
	for _, lr := range d.lrs {
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
				cell := d.profTrain[profileRun{k, lr}]
				cells, xs = append(cells, cell), append(xs, beta)
				profRows = append(profRows, append([]string{p, csvFloat(beta), csvFloat(actual), fmt.Sprint(d.profDepth), d.profArch[k], csvFloat(lr),
					csvFloat(th), csvFloat(m), csvFloat(se)}, cell.csv()...))
				profTable = append(profTable, []string{p, fmt.Sprintf("%g (actual %.4g)", beta, actual), fmt.Sprint(lr), d.profArch[k],
					fmt.Sprintf("%s (theory %s)", fmtNum(m), fmtNum(th)), cell.text()})
			}
			profCurves = append(profCurves, epochSeries(p, xs, cells))
		}
		name := "fig2b_profiles"
		if lr != paperTraining.LR {
			name += fmt.Sprintf("_lr%g", lr)
		}
		f, err := out.plot(name, report.LineChart{
			Title:  fmt.Sprintf("Fig. 2(b): equal depth (%d) and beta, different width profiles (lr %g)", d.profDepth, lr),
			XLabel: "β = Σ 1/n_j", YLabel: "epochs to 20% test accuracy", XTicks: d.betas,
			LegendTitle: "width profile", Dodge: true, Series: profCurves,
		}, fmt.Sprintf("Learning rate %g. One curve per width profile; the claim is that they coincide; markers in the top band, \"not reached\": fewer than half of the runs reached 20%%", lr))
		if err != nil {
			return nil, err
		}
		figProf = append(figProf, f)
	}
	if err := out.csv("fig2_profiles.csv", append([]string{"profile", "beta_target", "beta", "depth", "arch", "lr", "theory_log_var", "measured_log_var", "measured_log_var_se"},
		epochHeader...), profRows); err != nil {
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
		figures:  figProf,
		tables:   []report.Table{{Caption: "width profiles", Header: []string{"profile", "beta", "lr", "net", "Var[ln M_d] measured (theory)", "epochs to 20%"}, Rows: profTable}},
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
