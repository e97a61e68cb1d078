package reproduce

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/initscope/initscope/experiment"
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
	// flatSlope is the largest slope of the mean epochs to the target
	// against log2(depth), in epochs per doubling of depth, that counts as
	// "does not slow down with depth".
	flatSlope = 0.1
	// slowFactor is the factor by which the mean epochs at the largest
	// depth must exceed those at the smallest to count as "slows down".
	slowFactor = 2.0
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
	tr, err := newSweep(fig1Train, c.describe("Figure 1(b): epochs to 20% test accuracy on MNIST, width = depth"),
		[]string{task.KindTrain}, c.training("").params(), derived, labels, append(grid, seeds(c.runs()))...)
	if err != nil {
		return nil, err
	}
	return []*experiment.Sweep{pr, tr}, nil
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
		fmt.Sprintf("From the probe's measured E[M_d]/M_0 (M_d: the last hidden layer, the input of the logits): every initialization "+
			"whose FM1 factor c/2 on a square layer is 1 (within 1%%, i.e. variance 2/fan-in) stays within %g decade of M_0 "+
			"(|log10 E[M_d]/M_0| <= %g) at every depth; every initialization with c/2 < 1 is more than %g decade below M_0 at the "+
			"largest depth (and any with c/2 > 1 more than %g decade above).", fm1Band, fm1Band, fm1Band, fm1Band))
	if len(d.depths) == 0 {
		c.cannot("no measurements")
		return c.done(missing)
	}
	deepest := d.depths[len(d.depths)-1]
	for _, in := range d.inits {
		f := d.factor[in]
		var ms []float64
		worst := 0.0
		for _, depth := range d.depths {
			k := initDepth{in, depth}
			m := d.measuredLog10(k)
			if !finite(m) {
				continue
			}
			ms = append(ms, m)
			if t := d.theoryLog10(k); finite(t) {
				worst = math.Max(worst, math.Abs(m-t))
			}
		}
		if len(ms) == 0 {
			c.cannot("%s: no measurement", in)
			continue
		}
		last := initDepth{in, deepest}
		agree := fmt.Sprintf("measurement within %.2f decade of the theory at every depth", worst)
		switch fm1Group(f) {
		case 0:
			lo, hi := slices.Min(ms), slices.Max(ms)
			c.cond(-fm1Band <= lo && hi <= fm1Band, "%s (c/2 = %.3g): measured log10 E[M_d]/M_0 between %+.2f and %+.2f over depths %d-%d (%s)",
				in, f, lo, hi, d.depths[0], deepest, agree)
		case -1:
			m := d.measuredLog10(last)
			c.cond(m < -fm1Band, "%s (c/2 = %.3g): measured log10 E[M_d]/M_0 = %s at depth %d, theory %s (%s)",
				in, f, log10Cell(m), deepest, log10Cell(d.theoryLog10(last)), agree)
		default:
			m := d.measuredLog10(last)
			c.cond(m > fm1Band, "%s (c/2 = %.3g): measured log10 E[M_d]/M_0 = %s at depth %d, theory %s (%s)",
				in, f, log10Cell(m), deepest, log10Cell(d.theoryLog10(last)), agree)
		}
	}
	return c.done(missing)
}

// depthTrend summarizes how the mean epochs of a curve change with depth:
// the least-squares slope against log2(depth) over the points shown.
func depthTrend(depths []int, cells []*epochCell) float64 {
	var x, y []float64
	for i, c := range cells {
		if m, _ := c.mean(); finite(m) {
			x = append(x, math.Log2(float64(depths[i])))
			y = append(y, m)
		}
	}
	return stats.Slope(x, y)
}

// flatCheck is the "trains at a depth-independent speed" condition shared by
// Figures 1 and 3: every run reaches the target at every depth, and the
// mean epochs grow by at most flatSlope per doubling of depth.
func flatCheck(c *check, name string, depths []int, cells []*epochCell) {
	all := true
	for _, cell := range cells {
		all = all && cell.all()
	}
	s := depthTrend(depths, cells)
	c.cond(all && finite(s) && s <= flatSlope, "%s: %s; slope %s epoch per doubling of depth (at most %g)",
		name, reachedAll(all), fmtSlope(s), flatSlope)
}

// reachedAll says whether every run reached the target.
func reachedAll(all bool) string {
	if all {
		return "every run reached the target at every depth"
	}
	return "some runs did not reach the target"
}

// fmtSlope writes a slope, or "n/a".
func fmtSlope(s float64) string {
	if !finite(s) {
		return "n/a"
	}
	return fmt.Sprintf("%+.3f", s)
}

// slowCheck is the "slows down or fails with depth" condition shared by
// Figures 1 and 3.
func slowCheck(c *check, name string, depths []int, cells []*epochCell) {
	first, last := cells[0], cells[len(cells)-1]
	m0, _ := first.mean()
	m1, _ := last.mean()
	switch {
	case last == nil || last.runs == 0:
		c.cannot("%s: no training runs at depth %d", name, depths[len(depths)-1])
	case last.failed():
		c.cond(true, "%s: at depth %d %d of %d runs reached the target (fails to start)", name, depths[len(depths)-1], last.reached, last.runs)
	default:
		c.cond(finite(m0) && m1 >= slowFactor*m0, "%s: mean epochs to the target %s at depth %d vs %s at depth %d (slowdown needs a factor %g)",
			name, first.text(), depths[0], last.text(), depths[len(depths)-1], slowFactor)
	}
}

// checkFig1Training checks panel (b): only 2/fan-in trains at a speed
// that does not depend on depth.
func checkFig1Training(d *fig1Data, missing int) Claim {
	c := newCheck("fig1", "fig1b", "Figure 1(b): epochs to 20% test accuracy versus depth",
		"Only initializations with variance 2/fan-in start training at a speed that does not depend on depth; "+
			"the others slow down, or fail to start, as depth grows.",
		fmt.Sprintf("Epochs to 20%% test accuracy, mean over the runs: for each initialization with c/2 = 1 every run reaches 20%% "+
			"within the cap at every depth, and the least-squares slope of the mean epochs against log2(depth) is at most %g epoch per "+
			"doubling of depth; for each other initialization, at the largest depth fewer than half of the runs reach 20%% within the cap, "+
			"or their mean is at least %g times that at the smallest depth.", flatSlope, slowFactor))
	if len(d.depths) < 2 {
		c.cannot("the criterion needs at least two depths")
		return c.done(missing)
	}
	for _, in := range d.inits {
		cells := d.cells(in)
		name := fmt.Sprintf("%s (c/2 = %.3g)", in, d.factor[in])
		if fm1Group(d.factor[in]) == 0 {
			flatCheck(c, name, d.depths, cells)
		} else {
			slowCheck(c, name, d.depths, cells)
		}
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
