package reproduce

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/data"
	"github.com/initscope/initscope/experiment"
	"github.com/initscope/initscope/probe"
	"github.com/initscope/initscope/report"
	"github.com/initscope/initscope/task"
	"github.com/initscope/initscope/theory"
	"github.com/initscope/initscope/train"
	"github.com/initscope/initscope/weightinit"
)

// Figure 3: residual nets x + eta_l N_l(x) under he-normal, with the
// schedules eta_l of the paper.
var fig3 = figure{
	name:   "fig3",
	sweeps: fig3Sweeps,
	render: renderFig3,
}

// Settings and thresholds of Figure 3.
const (
	// fig3Width is the width of the residual stream (and of the modules).
	fig3Width = 32
	// explodeDecades is how far above M_0, in decades, the length of a
	// constant-eta net must be at the largest depth to count as exploded.
	explodeDecades = 2.0
	// boundSlack is the Monte Carlo slack, in decades, allowed above the
	// theory's depth-independent bound.
	boundSlack = 0.3
	// limitBlocks is the depth at which the theory's bound is read as the
	// bound for every depth; it is bounded if it grows by less than
	// limitGrowth decades from limitBlocks to 2 limitBlocks.
	limitBlocks = 1024
	limitGrowth = 0.01
)

// The sweeps of Figure 3.
const (
	fig3Probe = "fig3-probe"
	fig3Train = "fig3-train"
	// fig3TrainScaled trains the same nets with the logits' initial
	// weights scaled by 1/sqrt of the theory's bound on E[M_L]/M_0, so that
	// the logits start at the length of a healthy net whatever the schedule.
	fig3TrainScaled = "fig3-train-scaled"
)

// fig3ScaledSchedules are the schedules trained with scaled logits: all
// but eta = 1, whose bound (10^73 at 160 blocks) no logit scale in float32
// can undo.
var fig3ScaledSchedules = []string{"0.9^l", "0.5^l", "1/l", "1/L"}

// fig3Schedules are the eta schedules: constant 1 (FM1), b^l for b < 1
// (the paper's), 1/l and 1/L (see arch.ParseSchedule).
var fig3Schedules = []string{"1", "0.9^l", "0.5^l", "1/l", "1/L"}

// fig3Arch writes Figure 3's net: a dense layer from the input to the
// stream's width, the residual blocks, and the logits. Called with "{name}"
// placeholders it writes the sweep's template.
func fig3Arch(inputs, width, blocks, schedule, end any) string {
	return fmt.Sprintf("net:%v,dense%v,resdense%vx%v:eta=%v:end=%v,dense10", inputs, width, width, blocks, schedule, end)
}

func fig3Sweeps(c Config) ([]*experiment.Sweep, error) {
	blocks := pick(c.Scale, []int{5, 10, 20, 40, 80, 160}, []int{5, 10, 20, 40, 80}, []int{1, 2})
	samples := pick(c.Scale, 2000, 2000, 50)
	set := c.ImageData
	if set == "" {
		set = "mnist"
	}
	info, err := data.Describe(set)
	if err != nil {
		return nil, err
	}
	fixed := map[string]any{"init": "he-normal", "inputs": info.Size(), "width": fig3Width}
	derived := map[string]string{"arch": fig3Arch("{inputs}", "{width}", "{blocks}", "{schedule}", "{end}")}
	depth := []experiment.Axis{values("schedule", fig3Schedules...), values("blocks", blocks...)}
	labels := []string{"inputs", "width", "end", "schedule", "blocks"}
	pr, err := newSweep(fig3Probe, c.describe(fmt.Sprintf("Figure 3: output length of residual nets (input: %s test image 0), measured with the theory", set)),
		[]string{task.KindProbe}, merge(fixed, probeParams(set, samples)), derived, labels, append([]experiment.Axis{values("end", "relu", "linear")}, depth...)...)
	if err != nil {
		return nil, err
	}
	tr, err := newSweep(fig3Train, c.describe(fmt.Sprintf("Figure 3: epochs to 20%% test accuracy of residual nets on %s", set)),
		[]string{task.KindTrain}, merge(fixed, map[string]any{"end": "relu"}, c.training(set).params()), derived, labels, append(depth, seeds(c.runs()))...)
	if err != nil {
		return nil, err
	}
	scaled, err := logitScales(info.Size(), blocks)
	if err != nil {
		return nil, err
	}
	ts, err := newSweep(fig3TrainScaled, c.describe(fmt.Sprintf("Figure 3: epochs to 20%% test accuracy of residual nets on %s, "+
		"the logits' initial weights scaled by 1/sqrt of the theory's bound on E[M_L]/M_0", set)),
		[]string{task.KindTrain}, merge(fixed, map[string]any{"end": "relu"}, c.training(set).params()), derived, labels, scaled, seeds(c.runs()))
	if err != nil {
		return nil, err
	}
	return []*experiment.Sweep{pr, tr, ts}, nil
}

// logitScales is the zip axis of the scaled training sweep: each schedule
// of fig3ScaledSchedules at each depth, with logit_scale = 10^(-b/2) where
// b is the theory's log10 E[M_L]/M_0 at the logits' input (its upper bound
// for ReLU-ending modules), to 4 significant digits.
func logitScales(inputs int, blocks []int) (experiment.Axis, error) {
	init, err := weightinit.ParseInit("he-normal")
	if err != nil {
		return experiment.Axis{}, err
	}
	zip := map[string][]any{}
	for _, s := range fig3ScaledSchedules {
		for _, L := range blocks {
			net, err := arch.Parse(fig3Arch(inputs, fig3Width, L, s, "relu"))
			if err != nil {
				return experiment.Axis{}, err
			}
			p, err := theory.Predict(net, theory.Options{Init: init})
			if err != nil {
				return experiment.Axis{}, err
			}
			b := upper(p.Layers[task.OutputLayer(net)-1])
			scale, err := strconv.ParseFloat(strconv.FormatFloat(math.Pow(10, -b/2), 'g', 4, 64), 64)
			if err != nil || !(scale > 0) {
				return experiment.Axis{}, fmt.Errorf("schedule %s at %d blocks: logit scale 10^(-%g/2) is not a positive number", s, L, b)
			}
			zip["schedule"] = append(zip["schedule"], s)
			zip["blocks"] = append(zip["blocks"], L)
			zip["logit_scale"] = append(zip["logit_scale"], scale)
		}
	}
	return experiment.Axis{Zip: zip}, nil
}

// endSchedule is a curve of Figure 3: a module ending and an eta schedule.
type endSchedule struct{ end, schedule string }

// fig3Key is a point of Figure 3.
type fig3Key struct {
	endSchedule
	blocks int
}

// fig3Data is Figure 3 aggregated.
type fig3Data struct {
	// ends and schedules in grid order, blocks sorted.
	ends, schedules []string
	blocks          []int
	probe           map[fig3Key]*probe.LayerReport
	epochs          map[fig3Key]*epochCell
	// trainEnd is the module ending of the training runs.
	trainEnd string
	// limit is the theory's log10 bound on E[M_L]/M_0 over every depth, or
	// +Inf where the schedule has none.
	limit map[endSchedule]float64
	// constant marks the schedules with one eta > 0 for every block.
	constant map[string]bool
	// data names the data set; inputs, width and init describe the nets.
	data          string
	inputs, width int
	init          string
}

func newFig3Data(fd *figureData) (*fig3Data, error) {
	d := &fig3Data{probe: map[fig3Key]*probe.LayerReport{}, epochs: map[fig3Key]*epochCell{},
		limit: map[endSchedule]float64{}, constant: map[string]bool{}}
	key := func(r experiment.Record) (fig3Key, error) {
		var k fig3Key
		var err error
		for _, p := range []struct {
			name string
			dst  *string
		}{{"end", &k.end}, {"schedule", &k.schedule}, {"init", &d.init}} {
			if *p.dst, err = textParam(r, p.name); err != nil {
				return k, err
			}
		}
		for _, p := range []struct {
			name string
			dst  *int
		}{{"blocks", &k.blocks}, {"inputs", &d.inputs}, {"width", &d.width}} {
			if *p.dst, err = intParam(r, p.name); err != nil {
				return k, err
			}
		}
		if !slices.Contains(d.ends, k.end) {
			d.ends = append(d.ends, k.end)
		}
		if !slices.Contains(d.schedules, k.schedule) {
			d.schedules = append(d.schedules, k.schedule)
		}
		d.blocks = sortedInts(append(d.blocks, k.blocks))
		return k, nil
	}
	err := each(fd, fig3Probe, func(r experiment.Record, p *task.ProbeResult) error {
		k, err := key(r)
		if err != nil {
			return err
		}
		out, err := p.Output()
		d.probe[k] = &out
		d.data, _, _ = strings.Cut(p.Input, ":")
		return err
	})
	if err == nil {
		err = each(fd, fig3Train, func(r experiment.Record, t *train.Result) error {
			k, err := key(r)
			d.trainEnd, d.data = k.end, t.Setup.Data
			addRun(d.epochs, k, t)
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	for _, s := range d.schedules {
		if d.constant[s], err = constantSchedule(s); err != nil {
			return nil, err
		}
		for _, end := range d.ends {
			if d.limit[endSchedule{end, s}], err = d.bound(s, end); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// constantSchedule reports whether a schedule gives every block one eta > 0,
// whatever the number of blocks (1, not 1/L).
func constantSchedule(s string) (bool, error) {
	a, err := arch.ParseSchedule(s, 2)
	if err != nil {
		return false, err
	}
	b, err := arch.ParseSchedule(s, 3)
	if err != nil {
		return false, err
	}
	return a[0] > 0 && a[0] == a[1] && a[0] == b[0] && b[0] == b[2], nil
}

// bound returns the theory's depth-independent log10 bound on E[M_L]/M_0
// for a schedule and module ending: the upper bound (exact value for
// linear-ending modules) at limitBlocks blocks, or +Inf if it still grows
// by limitGrowth decades or more up to twice that depth.
func (d *fig3Data) bound(schedule, end string) (float64, error) {
	init, err := weightinit.ParseInit(d.init)
	if err != nil {
		return 0, err
	}
	var b [2]float64
	for i, blocks := range []int{limitBlocks, 2 * limitBlocks} {
		net, err := arch.Parse(fig3Arch(d.inputs, d.width, blocks, schedule, end))
		if err != nil {
			return 0, err
		}
		p, err := theory.Predict(net, theory.Options{Init: init})
		if err != nil {
			return 0, err
		}
		b[i] = upper(p.Layers[task.OutputLayer(net)-1])
	}
	if !(b[1]-b[0] < limitGrowth) {
		return math.Inf(1), nil
	}
	return b[0], nil
}

// allDepths returns the theory's bound on log10 E[M_L]/M_0 over every
// depth: the largest of its bound at limitBlocks and its bounds at the
// grid's depths (a schedule such as 1/L puts its largest value at small L),
// or +Inf where the schedule has no depth-independent bound.
func (d *fig3Data) allDepths(es endSchedule) float64 {
	b := d.limit[es]
	if !finite(b) {
		return math.Inf(1)
	}
	for _, L := range d.blocks {
		if p := d.probe[fig3Key{es, L}]; p != nil {
			b = math.Max(b, upper(p.Theory))
		}
	}
	return b
}

// upper is the theory's log10 E[M]/M_0 where it is exact, else its upper
// bound.
func upper(l theory.Layer) float64 {
	if l.MeanExact {
		return float64(l.Log10MeanRatio)
	}
	return float64(l.Log10MeanRatioUpper)
}

// measuredLog10 returns the measured log10 E[M_L]/M0, NaN if none.
func (d *fig3Data) measuredLog10(k fig3Key) float64 {
	if p := d.probe[k]; p != nil {
		return float64(p.Log10MeanRatio)
	}
	return nan
}

// dataName names the data set for titles.
func (d *fig3Data) dataName() string {
	if d.data == "" {
		return "unknown data"
	}
	return d.data
}

// checkFig3Length checks the length panel: eta = 1 explodes, schedules
// with a depth-independent bound stay under it.
func checkFig3Length(d *fig3Data, missing int) Claim {
	c := newCheck("fig3", "fig3a", "Figure 3(a): output length of residual nets versus depth",
		"With eta_l = 1 the output length of a residual net explodes exponentially in depth (FM1); with summable scales such as "+
			"eta_l = b^l (b < 1) or 1/L it stays bounded at every depth.",
		fmt.Sprintf("From the probe's measured E[M_L]/M_0 after the last of L blocks, for modules ending in a ReLU and in a linear layer: "+
			"a constant eta > 0 gives a length that increases with every step in depth and is more than %g decades above M_0 at the largest "+
			"depth; every schedule for which the theory gives a depth-independent bound (its bound on E[M_L]/M_0 grows by less than %g decade "+
			"from %d to %d blocks; sum eta_l < inf for ReLU-ending modules, sum eta_l^2 < inf for linear-ending ones) stays below that bound "+
			"(the largest of the theory's bounds at those and the grid's depths) plus %g decade (Monte Carlo slack) at every depth. "+
			"Other schedules are shown, not checked.",
			explodeDecades, limitGrowth, limitBlocks, 2*limitBlocks, boundSlack))
	if len(d.blocks) < 2 {
		c.cannot("the criterion needs at least two depths")
		return c.done(missing)
	}
	for _, end := range d.ends {
		for _, s := range d.schedules {
			es := endSchedule{end, s}
			var ms []string
			var vals []float64
			for _, L := range d.blocks {
				m := d.measuredLog10(fig3Key{es, L})
				vals = append(vals, m)
				ms = append(ms, fmt.Sprintf("%s (L=%d)", log10Cell(m), L))
			}
			name := fmt.Sprintf("eta = %s, %s-ending modules: measured log10 E[M_L]/M_0 = %s", s, end, strings.Join(ms, ", "))
			switch lim := d.allDepths(es); {
			case d.constant[s]:
				up := true
				for i := 1; i < len(vals); i++ {
					up = up && vals[i] > vals[i-1]
				}
				last := vals[len(vals)-1]
				c.cond(up && last > explodeDecades, "%s: increasing with depth: %v; %s decades at the largest depth", name, up, log10Cell(last))
			case finite(lim):
				worst := math.Inf(-1)
				for _, v := range vals {
					if finite(v) {
						worst = math.Max(worst, v)
					}
				}
				c.cond(worst <= lim+boundSlack, "%s: at most %s, under the theory's depth-independent bound %s", name, log10Cell(worst), log10Cell(lim))
			default:
				c.note("%s (no depth-independent bound: not checked)", name)
			}
		}
	}
	return c.done(missing)
}

// checkFig3Training checks the training panel: eta = 1 fails at depth,
// bounded schedules train at a depth-independent speed.
func checkFig3Training(d *fig3Data, missing int) Claim {
	c := newCheck("fig3", "fig3b", "Figure 3(b): epochs to 20% test accuracy of residual nets versus depth",
		"With eta_l = 1 deep residual nets fail to start training; with summable scales they start at a speed that does not depend on depth.",
		fmt.Sprintf("Epochs to 20%% test accuracy (modules ending in a ReLU, as trained): with a constant eta > 0 fewer than half of the runs "+
			"reach 20%% within the cap at the largest depth; for every schedule with a depth-independent bound (as in panel (a)) every run "+
			"reaches 20%% at every depth and the least-squares slope of the mean epochs against log2(depth) is at most %g epoch per doubling.", flatSlope))
	if len(d.blocks) < 2 {
		c.cannot("the criterion needs at least two depths")
		return c.done(missing)
	}
	for _, s := range d.schedules {
		cells := d.cells(s)
		name := fmt.Sprintf("eta = %s", s)
		switch {
		case d.constant[s]:
			last := cells[len(cells)-1]
			if last == nil {
				c.cannot("%s: no runs at the largest depth", name)
				continue
			}
			c.cond(last.failed(), "%s: %s at L = %d", name, last.text(), d.blocks[len(d.blocks)-1])
		case finite(d.allDepths(endSchedule{d.trainEnd, s})):
			flatCheck(c, name, d.blocks, cells)
		default:
			var parts []string
			for i, L := range d.blocks {
				parts = append(parts, fmt.Sprintf("L=%d %s", L, cells[i].text()))
			}
			c.note("%s (no depth-independent bound: not checked): %s", name, strings.Join(parts, "; "))
		}
	}
	return c.done(missing)
}

// cells returns a schedule's training points over the depths.
func (d *fig3Data) cells(schedule string) []*epochCell {
	out := make([]*epochCell, len(d.blocks))
	for i, L := range d.blocks {
		out[i] = d.epochs[fig3Key{endSchedule{d.trainEnd, schedule}, L}]
	}
	return out
}

// etaTitle heads the legends of Figure 3's plots, whose curves are the
// schedules.
const etaTitle = "residual scale η_l"

func renderFig3(fd *figureData, out *outputs) ([]section, error) {
	d, err := newFig3Data(fd)
	if err != nil {
		return nil, err
	}
	xs := floats(d.blocks)
	var rows, lengthTable [][]string
	var figs []report.Figure
	for _, end := range d.ends {
		var lengths []report.Series
		for _, s := range d.schedules {
			es := endSchedule{end, s}
			ls := make([]*probe.LayerReport, len(d.blocks))
			lo, hi := make([]float64, len(d.blocks)), make([]float64, len(d.blocks))
			row := []string{end, s}
			for i, L := range d.blocks {
				k := fig3Key{es, L}
				ls[i], lo[i], hi[i] = d.probe[k], nan, nan
				line := []string{end, s, fmt.Sprint(L), csvFloat(d.allDepths(es))}
				var th theory.Layer
				if p := ls[i]; p != nil {
					th = p.Theory
					lo[i], hi[i] = float64(th.Log10MeanRatio), float64(th.Log10MeanRatio)
					if !th.MeanExact {
						lo[i], hi[i] = float64(th.Log10MeanRatioLower), float64(th.Log10MeanRatioUpper)
					}
					line = append(line, fmt.Sprint(th.MeanExact), csvFloat(lo[i]), csvFloat(hi[i]),
						csvFloat(float64(p.MeanRatio)), csvFloat(float64(p.MeanRatioSE)), csvFloat(float64(p.Log10MeanRatio)),
						csvFloat(float64(p.LogVar)), fmt.Sprint(p.HeavyTail))
				} else {
					line = append(line, "", "", "", "", "", "", "", "")
				}
				rows = append(rows, line)
				theoryText := log10Cell(lo[i])
				if lo[i] != hi[i] {
					theoryText = fmt.Sprintf("[%s, %s]", log10Cell(lo[i]), log10Cell(hi[i]))
				}
				row = append(row, fmt.Sprintf("%s (theory %s)", log10Cell(d.measuredLog10(k)), theoryText))
			}
			lengthTable = append(lengthTable, row)
			lengths = append(lengths, lengthSeries(s, xs, ls))
			if end == "linear" {
				lengths = append(lengths, theorySeries(s, report.Theory, xs, lo))
			} else {
				lengths = append(lengths, theorySeries(s, report.Bound, xs, lo), theorySeries(s, report.Bound, xs, hi))
			}
		}
		caption := "Measured (markers, solid, ± SE) and the exact theory (dashed)"
		if end != "linear" {
			caption = "Measured (markers, solid, ± SE) and the theory's lower and upper bounds (dotted): for modules ending in a ReLU the theory gives only bounds"
		}
		f, err := out.plot("fig3a_length_"+end, report.LineChart{
			Title:  fmt.Sprintf("Fig. 3(a): residual nets, modules ending %s (input: %s)", end, d.dataName()),
			XLabel: "residual blocks L", YLabel: "E[M_L] / M_0", LogY: true, XTicks: xs,
			LegendTitle: etaTitle, Series: lengths,
		}, caption)
		if err != nil {
			return nil, err
		}
		figs = append(figs, f)
	}
	if err := out.csv("fig3_length.csv", []string{"end", "schedule", "blocks", "theory_log10_bound_all_depths", "theory_exact",
		"theory_log10_mean_ratio_lower", "theory_log10_mean_ratio_upper", "measured_mean_ratio", "measured_mean_ratio_se",
		"measured_log10_mean_ratio", "measured_log_var", "heavy_tail"}, rows); err != nil {
		return nil, err
	}

	var curves []report.Series
	var epochRows, epochTable [][]string
	for _, s := range d.schedules {
		cells := d.cells(s)
		curves = append(curves, epochSeries(s, xs, cells))
		row := []string{s}
		for i, L := range d.blocks {
			row = append(row, cells[i].text())
			epochRows = append(epochRows, append([]string{s, d.trainEnd, fmt.Sprint(L)}, cells[i].csv()...))
		}
		epochTable = append(epochTable, row)
	}
	if err := out.csv("fig3_epochs.csv", append([]string{"schedule", "end", "blocks"}, epochHeader...), epochRows); err != nil {
		return nil, err
	}
	figB, err := out.plot("fig3b_epochs", report.LineChart{
		Title:  fmt.Sprintf("Fig. 3(b): epochs to 20%% test accuracy, residual nets on %s", d.dataName()),
		XLabel: "residual blocks L", YLabel: "epochs to 20% test accuracy", LogX: true, XTicks: xs,
		LegendTitle: etaTitle, Dodge: true, Series: curves,
	}, "Mean ± SE over the runs that reached 20% (drawn where at least half did); markers in the top band, \"not reached\": "+
		"fewer than half of the runs reached 20% within the cap (or diverged)")
	if err != nil {
		return nil, err
	}
	header := []string{"schedule"}
	for _, L := range d.blocks {
		header = append(header, fmt.Sprintf("L = %d", L))
	}
	note := fmt.Sprintf("Nets: %s (he-normal, width %d, data %s).", fig3Arch(d.inputs, d.width, "L", "ETA", "END"), d.width, d.dataName())
	a := section{
		claim:    checkFig3Length(d, fd.incomplete(fig3Probe)),
		figures:  figs,
		tables:   []report.Table{{Caption: "measured log10 E[M_L]/M_0 (theory). " + note, Header: append([]string{"end"}, header...), Rows: lengthTable}},
		settings: fd.settings(fig3Probe),
	}
	b := section{
		claim:    checkFig3Training(d, fd.incomplete(fig3Train)),
		figures:  []report.Figure{figB},
		tables:   []report.Table{{Caption: "epochs to 20%: mean ± SE (runs reached / runs). " + note, Header: header, Rows: epochTable}},
		settings: fd.settings(fig3Train),
	}
	return []section{a, b}, nil
}
