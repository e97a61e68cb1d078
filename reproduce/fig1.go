package reproduce

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/initscope/initscope/experiment"
	"github.com/initscope/initscope/num"
	"github.com/initscope/initscope/probe"
	"github.com/initscope/initscope/report"
	"github.com/initscope/initscope/stats"
	"github.com/initscope/initscope/task"
	"github.com/initscope/initscope/theory"
	"github.com/initscope/initscope/train"
	"github.com/initscope/initscope/weightinit"
)

// Figure 1 (FM1): fully connected nets on MNIST with width = depth, which
// holds beta = sum 1/n_j at about 1 and so FM2 fixed, under several
// initializations.
var fig1 = figure{
	name:   "fig1",
	sweeps: fig1Sweeps,
	render: renderFig1,
}

// fig1Inits are the initializations compared, in the order plotted.
var fig1Inits = []string{
	"he-normal", "he-uniform", "xavier2", "he-truncated",
	"glorot-normal", "glorot-uniform", "lecun-normal", "pytorch-default",
}

// Thresholds of Figure 1's criteria.
const (
	// fm1Band is the band, in decades, within which the mean length of a
	// 2/fan-in initialization must stay, and beyond which the others must
	// have gone at the largest depth.
	fm1Band = 1.0
	// squareWidth is the width of the square layer on which an
	// initialization's FM1 factor c/2 is evaluated.
	squareWidth = 100
)

// The sweeps of Figure 1.
const (
	fig1Probe = "fig1-probe"
	fig1Train = "fig1-train"
)

func fig1Sweeps(c Config) ([]*experiment.Sweep, error) {
	depths := pick(c.Scale, []int{5, 10, 20, 30, 40, 60, 80, 100}, []int{5, 10, 20, 40, 60}, []int{2, 3})
	samples := pick(c.Scale, 2000, 2000, 50)
	derived := map[string]string{"width": "{depth}", "arch": "fc:784-{depth}x{depth}-10"}
	grid := []experiment.Axis{values("init", fig1Inits...), values("depth", depths...)}
	labels := []string{"depth", "width"}
	pr, err := newSweep(fig1Probe, c.describe("Figure 1(a): M_d/M_0 measured over independent initializations, with the theory"),
		[]string{task.KindProbe}, probeParams("mnist", samples), derived, labels, grid...)
	if err != nil {
		return nil, err
	}
	initSeeds, err := fig1InitSeeds(c.runs())
	if err != nil {
		return nil, err
	}
	tr, err := newSweep(fig1Train, c.describe("Figure 1(b): epochs to 20% test accuracy on MNIST, width = depth"),
		[]string{task.KindTrain}, c.training("").params(), derived, labels, initSeeds, values("depth", depths...))
	if err != nil {
		return nil, err
	}
	return []*experiment.Sweep{pr, tr}, nil
}

// paperRuns is the number of training runs per point of the paper's
// Figure 1(b), and the fewest that can show that an initialization fails
// to start: 0 of 5 runs reaching 20% bounds the fraction below 0.5 (Wilson
// 95% upper bound 0.43; 0 of 3 gives 0.56).
const paperRuns = 5

// offCriticalRuns is the number of seeds Figure 1(b) trains an
// initialization off variance 2/fan-in with, given the runs per point of
// the others: half of them, but at least paperRuns (and at most all).
// Those initializations are decided by the fraction of runs that reach 20%
// at the largest depth, which paperRuns already decides, not by a slope
// that needs every run; and their runs are the reproduction's costliest,
// since most train to the cap without reaching 20% (3,900 of the 6,700
// task-seconds of a full run with 10 seeds each).
func offCriticalRuns(runs int) int {
	return min(runs, max(paperRuns, (runs+1)/2))
}

// fig1InitSeeds is the axis of Figure 1(b)'s initializations, each with its
// training seeds: 1..runs for those with variance 2/fan-in (c/2 = 1), whose
// flat slope needs them all, 1..offCriticalRuns(runs) for the others. The
// seeds are paired across depths either way.
func fig1InitSeeds(runs int) (experiment.Axis, error) {
	var inits, seeds []any
	for _, in := range fig1Inits {
		init, err := weightinit.ParseInit(in)
		if err != nil {
			return experiment.Axis{}, err
		}
		n := runs
		if fm1Group(init.FM1Factor(squareWidth, squareWidth)) != 0 {
			n = offCriticalRuns(runs)
		}
		for s := 1; s <= n; s++ {
			inits, seeds = append(inits, in), append(seeds, s)
		}
	}
	return experiment.Axis{Zip: map[string][]any{"init": inits, "seed": seeds}}, nil
}

// initDepth is a point of Figure 1.
type initDepth struct {
	init  string
	depth int
}

// fig1Data is Figure 1 aggregated.
type fig1Data struct {
	// inits are the initializations in grid order; depths sorted.
	inits  []string
	depths []int
	// factor is each initialization's FM1 factor c/2 on a square layer.
	factor map[string]float64
	// theory, probe and epochs are the points' prediction, measurement and
	// training runs.
	theory map[initDepth]theory.Layer
	probe  map[initDepth]*probe.LayerReport
	epochs map[initDepth]*epochCell
	// samples is the number of initializations each probe drew; samplers
	// lists the initializations by the sampler that probed them.
	samples  int
	samplers map[string][]string
}

// load reads a record's init and depth, noting them.
func (d *fig1Data) load(r experiment.Record) (initDepth, error) {
	in, err := textParam(r, "init")
	if err != nil {
		return initDepth{}, err
	}
	depth, err := intParam(r, "depth")
	if err != nil {
		return initDepth{}, err
	}
	if _, ok := d.factor[in]; !ok {
		init, err := weightinit.ParseInit(in)
		if err != nil {
			return initDepth{}, err
		}
		d.inits = append(d.inits, in)
		d.factor[in] = init.FM1Factor(squareWidth, squareWidth)
	}
	if !slices.Contains(d.depths, depth) {
		d.depths = sortedInts(append(d.depths, depth))
	}
	return initDepth{in, depth}, nil
}

func newFig1Data(fd *figureData) (*fig1Data, error) {
	d := &fig1Data{factor: map[string]float64{}, theory: map[initDepth]theory.Layer{},
		probe: map[initDepth]*probe.LayerReport{}, epochs: map[initDepth]*epochCell{}, samplers: map[string][]string{}}
	err := each(fd, fig1Probe, func(r experiment.Record, p *task.ProbeResult) error {
		k, err := d.load(r)
		if err != nil {
			return err
		}
		out, err := p.Output()
		d.probe[k], d.theory[k], d.samples = &out, out.Theory, p.Samples
		if m := string(p.Method); !slices.Contains(d.samplers[m], k.init) {
			d.samplers[m] = append(d.samplers[m], k.init)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	err = each(fd, fig1Train, func(r experiment.Record, t *train.Result) error {
		k, err := d.load(r)
		if err != nil {
			return err
		}
		if d.epochs[k] == nil {
			d.epochs[k] = &epochCell{}
		}
		d.epochs[k].add(t)
		return nil
	})
	return d, err
}

// samplerText says which sampler probed which initializations.
func (d *fig1Data) samplerText() string {
	var parts []string
	for _, m := range sortedKeys(d.samplers) {
		parts = append(parts, fmt.Sprintf("%s sampler: %s", m, strings.Join(d.samplers[m], ", ")))
	}
	return strings.Join(parts, "; ")
}

// fm1Group classifies an FM1 factor: 0 for 2/fan-in (within 1%), -1 below,
// +1 above.
func fm1Group(f float64) int {
	switch {
	case math.Abs(f-1) <= 0.01:
		return 0
	case f < 1:
		return -1
	}
	return 1
}

// measuredLog10 returns the measured log10 E[M]/M0 of a point, NaN if none.
func (d *fig1Data) measuredLog10(k initDepth) float64 {
	if p := d.probe[k]; p != nil {
		return float64(p.Log10MeanRatio)
	}
	return nan
}

// theoryLog10 returns the theory's log10 E[M]/M0 of a point, NaN if none.
func (d *fig1Data) theoryLog10(k initDepth) float64 {
	if t, ok := d.theory[k]; ok {
		return float64(t.Log10MeanRatio)
	}
	return nan
}

// checkFig1Length checks panel (a): the mean length stays put only at
// variance 2/fan-in.
func checkFig1Length(d *fig1Data, missing int) Claim {
	c := newCheck("fig1", "fig1a", "Figure 1(a): mean output length versus depth",
		"The mean length of the output, E[M_d], stays at M_0 at every depth only when the weights have variance 2/fan-in; "+
			"with a smaller variance it vanishes exponentially in depth, with a larger one it explodes (FM1).",
		fmt.Sprintf("From the probe's measured E[M_d]/M_0 (M_d: the last hidden layer, the input of the logits) and its standard error over "+
			"the independent initializations, as a confidence interval on log10 E[M_d]/M_0 (mean ± z SE, z for the whole claim's family of "+
			"intervals, Bonferroni): for every initialization whose FM1 factor c/2 on a square layer is 1 (within 1%%, i.e. variance 2/fan-in) "+
			"the interval lies within %g decade of M_0 at every depth; for every initialization with c/2 < 1 it lies more than %g decade below "+
			"M_0 at the largest depth (and for any with c/2 > 1, more than %g decade above). An interval that straddles a threshold leaves "+
			"the claim inconclusive.", fm1Band, fm1Band, fm1Band))
	if len(d.depths) == 0 {
		c.cannot("no measurements")
		return c.done(missing)
	}
	deepest := d.depths[len(d.depths)-1]
	k := 0
	for _, in := range d.inits {
		if fm1Group(d.factor[in]) == 0 {
			k += len(d.depths)
		} else {
			k++
		}
	}
	z := stats.NormalZ(k)
	method := fmt.Sprintf("initializations (mean ± %.2f SE)", z)
	for _, in := range d.inits {
		f := d.factor[in]
		worst := 0.0
		for _, depth := range d.depths {
			k := initDepth{in, depth}
			if m, t := d.measuredLog10(k), d.theoryLog10(k); finite(m) && finite(t) {
				worst = math.Max(worst, math.Abs(m-t))
			}
		}
		agree := fmt.Sprintf("measurement within %.2f decade of the theory at every depth", worst)
		name := fmt.Sprintf("%s (c/2 = %.3g)", in, f)
		if fm1Group(f) == 0 {
			var pts []pointDecision
			for _, depth := range d.depths {
				pts = append(pts, pointDecision{fmt.Sprintf("depth %d", depth), log10Interval(d.probe[initDepth{in, depth}], d.samples, z, method), between(-fm1Band, fm1Band)})
			}
			c.decideAll(fmt.Sprintf("%s, log10 E[M_d]/M_0 within %g decade at depths %d-%d (%s)", name, fm1Band, d.depths[0], deepest, agree), pts)
			continue
		}
		iv := log10Interval(d.probe[initDepth{in, deepest}], d.samples, z, method)
		holds, dir := atMost(-fm1Band), "vanishes"
		if fm1Group(f) > 0 {
			holds, dir = atLeast(fm1Band), "explodes"
		}
		c.decide(iv, holds, "%s %s at depth %d: theory %s (%s)", name, dir, deepest, log10Cell(d.theoryLog10(initDepth{in, deepest})), agree)
	}
	return c.done(missing)
}

// log10Interval is the interval of a probe's log10 E[M]/M_0: the sample
// mean ± z SE, in log10 (an end at or below 0 is -Inf). A layer whose mean
// overflows float64 is read from its log10 with the relative SE.
func log10Interval(l *probe.LayerReport, samples int, z float64, method string) report.Interval {
	iv := report.Interval{Statistic: "log10 E[M]/M_0", Estimate: num.Unknown, Lo: num.Unknown, Hi: num.Unknown, Runs: samples, Method: method}
	if l == nil {
		return iv
	}
	m, se, lg := float64(l.MeanRatio), float64(l.MeanRatioSE), float64(l.Log10MeanRatio)
	if !finite(lg) || !finite(se) {
		return iv
	}
	iv.Estimate = num.Number(lg)
	rel := se / m // the SE relative to the mean: the same in any units
	if !finite(rel) {
		return iv
	}
	lo := math.Inf(-1)
	if 1-z*rel > 0 {
		lo = lg + math.Log10(1-z*rel)
	}
	iv.Lo, iv.Hi = num.Number(lo), num.Number(lg+math.Log10(1+z*rel))
	return iv
}

// checkFig1Training checks panel (b): only 2/fan-in trains at a speed
// that does not depend on depth.
func checkFig1Training(d *fig1Data, missing int) Claim {
	c := newCheck("fig1", "fig1b", "Figure 1(b): epochs to 20% test accuracy versus depth",
		"Only initializations with variance 2/fan-in start training at a speed that does not depend on depth; "+
			"the others slow down, or fail to start, as depth grows.",
		fmt.Sprintf("One yardstick for every initialization: b, the least-squares slope of the mean ln(epochs to 20%%) against ln(depth) "+
			"(epochs ~ depth^b; a run that does not reach 20%% within the cap counts at the cap, a lower bound, so a slowdown is understated, "+
			"never invented), with its 95%% interval from a bootstrap over the paired seeds (seed s runs at every depth). For each "+
			"initialization with c/2 = 1 the interval must lie at or below b = %g (over depths 5-100 a factor 20^%g = %.2f: a 2x slowdown, "+
			"b = 0.23, is not flat); for each other initialization at or above it. An interval across %g is inconclusive.",
			flatElasticity, flatElasticity, math.Pow(20, flatElasticity), flatElasticity))
	if len(d.depths) < 2 {
		c.cannot("the criterion needs at least two depths")
		return c.done(missing)
	}
	for _, in := range d.inits {
		elasticity(c, fmt.Sprintf("%s (c/2 = %.3g)", in, d.factor[in]), d.depths, d.cells(in), fm1Group(d.factor[in]) == 0)
	}
	return c.done(missing)
}

// cells returns an initialization's training points over the depths.
func (d *fig1Data) cells(in string) []*epochCell {
	out := make([]*epochCell, len(d.depths))
	for i, depth := range d.depths {
		out[i] = d.epochs[initDepth{in, depth}]
	}
	return out
}

func renderFig1(fd *figureData, out *outputs) ([]section, error) {
	d, err := newFig1Data(fd)
	if err != nil {
		return nil, err
	}
	xs := floats(d.depths)

	// Panel (a): lengths.
	var lengths []report.Series
	var lengthRows, lengthTable [][]string
	for _, in := range d.inits {
		ls := make([]*probe.LayerReport, len(d.depths))
		th := make([]float64, len(d.depths))
		row := []string{in}
		for i, depth := range d.depths {
			k := initDepth{in, depth}
			ls[i], th[i] = d.probe[k], d.theoryLog10(k)
			row = append(row, fmt.Sprintf("%s (theory %s)", log10Cell(d.measuredLog10(k)), log10Cell(th[i])))
			t := d.theory[k]
			line := []string{in, csvFloat(d.factor[in]), fmt.Sprint(depth), csvFloat(th[i]), fmt.Sprint(t.MeanExact)}
			if p := ls[i]; p != nil {
				line = append(line, csvFloat(float64(p.MeanRatio)), csvFloat(float64(p.MeanRatioSE)), csvFloat(float64(p.Log10MeanRatio)),
					csvFloat(float64(p.LogVar)), fmt.Sprint(p.HeavyTail))
			} else {
				line = append(line, "", "", "", "", "")
			}
			lengthRows = append(lengthRows, line)
		}
		lengthTable = append(lengthTable, row)
		lengths = append(lengths, lengthSeries(in, xs, ls), theorySeries(in, report.Theory, xs, th))
	}
	if err := out.csv("fig1_length.csv", []string{"init", "c_half", "depth", "theory_log10_mean_ratio", "theory_exact",
		"measured_mean_ratio", "measured_mean_ratio_se", "measured_log10_mean_ratio", "measured_log_var", "heavy_tail"}, lengthRows); err != nil {
		return nil, err
	}
	figA, err := out.plot("fig1a_length", report.LineChart{
		Title:  "Fig. 1(a): mean output length vs depth (fc, width = depth)",
		XLabel: "depth d (hidden layers, each of width d)", YLabel: "E[M_d] / M_0", LogY: true, XTicks: xs,
		LegendTitle: "initialization", Series: lengths,
	}, fmt.Sprintf("Measured E[M_d]/M_0 (markers, solid, ± SE over %d initializations; %s) and the theory (dashed); "+
		"M_d is the last hidden layer, the input is MNIST test image 0", d.samples, d.samplerText()))
	if err != nil {
		return nil, err
	}

	// Panel (b): training.
	var curves []report.Series
	var epochRows, epochTable [][]string
	for _, in := range d.inits {
		cells := d.cells(in)
		curves = append(curves, epochSeries(in, xs, cells))
		row := []string{in}
		for i, depth := range d.depths {
			row = append(row, cells[i].text())
			epochRows = append(epochRows, append([]string{in, csvFloat(d.factor[in]), fmt.Sprint(depth)}, cells[i].csv()...))
		}
		epochTable = append(epochTable, row)
	}
	if err := out.csv("fig1_epochs.csv", append([]string{"init", "c_half", "depth"}, epochHeader...), epochRows); err != nil {
		return nil, err
	}
	figB, err := out.plot("fig1b_epochs", report.LineChart{
		Title:  "Fig. 1(b): epochs to 20% test accuracy vs depth (MNIST, width = depth)",
		XLabel: "depth d (= width)", YLabel: "epochs to 20% test accuracy", XTicks: xs,
		LegendTitle: "initialization", Dodge: true, Series: curves,
	}, "Mean ± SE over the runs that reached 20% (drawn where at least half did); markers in the top band, \"not reached\": "+
		"fewer than half of the runs reached 20% within the epoch cap")
	if err != nil {
		return nil, err
	}

	header := []string{"init"}
	for _, depth := range d.depths {
		header = append(header, fmt.Sprintf("d = %d", depth))
	}
	a := section{
		claim:    checkFig1Length(d, fd.incomplete(fig1Probe)),
		figures:  []report.Figure{figA},
		tables:   []report.Table{{Caption: "measured log10 E[M_d]/M_0 (theory)", Header: header, Rows: lengthTable}},
		settings: fd.settings(fig1Probe),
	}
	b := section{
		claim:    checkFig1Training(d, fd.incomplete(fig1Train)),
		figures:  []report.Figure{figB},
		tables:   []report.Table{{Caption: "epochs to 20%: mean ± SE (runs reached / runs)", Header: header, Rows: epochTable}},
		settings: fd.settings(fig1Train),
	}
	return []section{a, b}, nil
}
