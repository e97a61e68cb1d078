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
	"github.com/initscope/initscope/num"
	"github.com/initscope/initscope/probe"
	"github.com/initscope/initscope/report"
	"github.com/initscope/initscope/stats"
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
	// exactSlack is how narrow, in decades, the interval of a measured
	// length must be around the theory's exact value (linear-ending
	// modules) to confirm it: within 0.1 decade (26%), and containing it.
	exactSlack = 0.1
	// flatDecades is the largest change of log10 E[M_L]/M_0 from L to 2L
	// blocks that counts as flat in depth (26%).
	flatDecades = 0.1
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
	// scaled are the runs with the logits scaled (fig3TrainScaled), by
	// schedule and depth; logitScale their factors.
	scaled     map[fig3Key]*epochCell
	logitScale map[fig3Key]float64
	// fm1 is predict's FM1 verdict on each trained net (ok, vanishing or
	// exploding), by schedule and depth.
	fm1 map[fig3Key]string
	// trainEnd is the module ending of the training runs.
	trainEnd string
	// limit is the theory's log10 bound on E[M_L]/M_0 over every depth, or
	// +Inf where the schedule has none.
	limit map[endSchedule]float64
	// constant marks the schedules with one eta > 0 for every block.
	constant map[string]bool
	// probeSamples is the number of initializations each probe drew.
	probeSamples int
	// data names the data set; inputs, width and init describe the nets.
	data          string
	inputs, width int
	init          string
}

func newFig3Data(fd *figureData) (*fig3Data, error) {
	d := &fig3Data{probe: map[fig3Key]*probe.LayerReport{}, epochs: map[fig3Key]*epochCell{},
		scaled: map[fig3Key]*epochCell{}, logitScale: map[fig3Key]float64{}, fm1: map[fig3Key]string{},
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
		d.probe[k], d.probeSamples = &out, p.Samples
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
	if err == nil {
		err = each(fd, fig3TrainScaled, func(r experiment.Record, t *train.Result) error {
			k, err := key(r)
			d.trainEnd = k.end
			addRun(d.scaled, k, t)
			d.logitScale[k] = t.Setup.LogitScale
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	if err := d.predictFM1(); err != nil {
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

// predictFM1 records predict's FM1 verdict on every trained net.
func (d *fig3Data) predictFM1() error {
	if d.trainEnd == "" {
		return nil
	}
	init, err := weightinit.ParseInit(d.init)
	if err != nil {
		return err
	}
	for _, s := range d.schedules {
		for _, L := range d.blocks {
			net, err := arch.Parse(fig3Arch(d.inputs, d.width, L, s, d.trainEnd))
			if err != nil {
				return err
			}
			p, err := theory.Predict(net, theory.Options{Init: init})
			if err != nil {
				return err
			}
			d.fm1[fig3Key{endSchedule{d.trainEnd, s}, L}] = p.FM1.Verdict
		}
	}
	return nil
}

// fm1OK reports whether predict calls FM1 ok for a schedule's trained net
// at every depth, and otherwise names the first depth where it does not.
func (d *fig3Data) fm1OK(schedule string) (bool, string) {
	for _, L := range d.blocks {
		if v := d.fm1[fig3Key{endSchedule{d.trainEnd, schedule}, L}]; v != "ok" {
			return false, fmt.Sprintf("predict calls the output %s from L = %d", v, L)
		}
	}
	return true, ""
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
// with a depth-independent bound stay within the theory and flat in depth.
func checkFig3Length(d *fig3Data, missing int) Claim {
	c := newCheck("fig3", "fig3a", "Figure 3(a): output length of residual nets versus depth",
		"With eta_l = 1 the output length of a residual net explodes exponentially in depth (FM1); with summable scales such as "+
			"eta_l = b^l (b < 1) or 1/L it stays bounded at every depth.",
		fmt.Sprintf("From the probe's measured E[M_L]/M_0 after the last of L blocks, for modules ending in a ReLU and in a linear layer, "+
			"as intervals on log10 E[M_L]/M_0 (mean ± z SE over the initializations, z for the claim's family, Bonferroni): "+
			"with a constant eta > 0 the interval of the typical length, E[ln M_L/M_0]/ln 10, at the largest depth lies more than %g decades above M_0; for every schedule for which "+
			"the theory gives a depth-independent bound (its bound on E[M_L]/M_0 grows by less than %g decade from %d to %d blocks; "+
			"sum eta_l < inf for ReLU-ending modules, sum eta_l^2 < inf for linear-ending ones), two-sided: at every depth the interval lies "+
			"within the theory's lower and upper bounds (ReLU-ending modules), or contains its exact value and lies within %g decade of it "+
			"(linear-ending modules), and "+
			"the length is flat in depth: the change from the second-largest to the largest depth (L to 2L) lies within ±%g decade. "+
			"Other schedules are shown, not checked.",
			explodeDecades, limitGrowth, limitBlocks, 2*limitBlocks, exactSlack, flatDecades))
	if len(d.blocks) < 2 {
		c.cannot("the criterion needs at least two depths")
		return c.done(missing)
	}
	k := 0
	for _, end := range d.ends {
		for _, s := range d.schedules {
			switch {
			case d.constant[s]:
				k++
			case finite(d.allDepths(endSchedule{end, s})):
				k += len(d.blocks) + 1
			}
		}
	}
	z := stats.NormalZ(k)
	method := fmt.Sprintf("initializations (mean ± %.2f SE)", z)
	deepest, prev := d.blocks[len(d.blocks)-1], d.blocks[len(d.blocks)-2]
	for _, end := range d.ends {
		for _, s := range d.schedules {
			es := endSchedule{end, s}
			var ms []string
			for _, L := range d.blocks {
				ms = append(ms, fmt.Sprintf("%s (L=%d)", log10Cell(d.measuredLog10(fig3Key{es, L})), L))
			}
			name := fmt.Sprintf("eta = %s, %s-ending modules: measured log10 E[M_L]/M_0 = %s", s, end, strings.Join(ms, ", "))
			switch {
			case d.constant[s]:
				c.decide(logMeanInterval(d.probe[fig3Key{es, deepest}], d.probeSamples, z, method), atLeast(explodeDecades),
					"%s: explodes at L = %d (judged on the typical length, E[ln M_L/M_0], which heavy tails leave estimable)", name, deepest)
			case finite(d.allDepths(es)):
				var pts []pointDecision
				for _, L := range d.blocks {
					l := d.probe[fig3Key{es, L}]
					var th theory.Layer
					if l != nil {
						th = l.Theory
					}
					holds := between(float64(th.Log10MeanRatioLower), float64(th.Log10MeanRatioUpper))
					if th.MeanExact {
						holds = around(float64(th.Log10MeanRatio), exactSlack, true)
					}
					pts = append(pts, pointDecision{fmt.Sprintf("L = %d", L), log10Interval(l, d.probeSamples, z, method), holds})
				}
				c.decideAll(name+": within the theory", pts)
				c.decide(d.depthChange(es, prev, deepest, z, method), between(-flatDecades, flatDecades), "eta = %s, %s-ending modules: flat from L = %d to %d", s, end, prev, deepest)
			default:
				c.note("%s (no depth-independent bound: not checked)", name)
			}
		}
	}
	return c.done(missing)
}

// logMeanInterval is the interval of E[ln M/M_0]/ln 10, the log10 of the
// typical (geometric mean) length: mean ± z SE of the probe's ln M.
func logMeanInterval(l *probe.LayerReport, samples int, z float64, method string) report.Interval {
	if l == nil || !l.LogMean.Known() || !l.LogMeanSE.Known() {
		return report.Interval{Statistic: "E[ln M/M_0]/ln 10", Estimate: num.Unknown, Lo: num.Unknown, Hi: num.Unknown, Runs: samples, Method: method}
	}
	return normalInterval("E[ln M/M_0]/ln 10", float64(l.LogMean)/math.Ln10, float64(l.LogMeanSE)/math.Ln10, z, samples, method)
}

// depthChange is the interval of log10 E[M_b]/M_0 - log10 E[M_a]/M_0 from
// the two probes' independent samples (delta method on the logs).
func (d *fig3Data) depthChange(es endSchedule, a, b int, z float64, method string) report.Interval {
	iv := report.Interval{Statistic: fmt.Sprintf("change of log10 E[M_L]/M_0 from L = %d to %d", a, b),
		Estimate: num.Unknown, Lo: num.Unknown, Hi: num.Unknown, Runs: d.probeSamples, Method: method}
	pa, pb := d.probe[fig3Key{es, a}], d.probe[fig3Key{es, b}]
	if pa == nil || pb == nil {
		return iv
	}
	ra := float64(pa.MeanRatioSE) / float64(pa.MeanRatio) / math.Ln10
	rb := float64(pb.MeanRatioSE) / float64(pb.MeanRatio) / math.Ln10
	diff := float64(pb.Log10MeanRatio) - float64(pa.Log10MeanRatio)
	se := math.Hypot(ra, rb)
	if !finite(diff) || !finite(se) {
		return iv
	}
	return normalInterval(iv.Statistic, diff, se, z, iv.Runs, method)
}

// checkFig3Training checks the training panel: eta = 1 fails at depth,
// bounded schedules train at a depth-independent speed, judged where the
// logits start at a healthy length.
func checkFig3Training(d *fig3Data, missing int) Claim {
	c := newCheck("fig3", "fig3b", "Figure 3(b): epochs to 20% test accuracy of residual nets versus depth",
		"With eta_l = 1 deep residual nets fail to start training; with summable scales they start at a speed that does not depend on depth.",
		fmt.Sprintf("Modules ending in a ReLU, as trained. With a constant eta > 0, the fraction of runs that reach 20%% within the cap at the "+
			"largest depth has a Wilson 95%% interval below 1/2. For the schedules with a depth-independent bound (as in panel (a)) the "+
			"yardstick of Figure 1(b): b, the slope of the mean ln(epochs) against ln(depth) over paired seeds, must have its bootstrap "+
			"interval at or below %g. The paper's claim is about the body of the net, so it is judged where FM1 does not strike at the "+
			"logits: on the nets as drawn only for schedules whose output predict calls ok at every depth (with eta = 0.9^l ReLU-ending "+
			"modules multiply E[M] by about 10^4, which predict calls exploding); and on the same nets with the logits' initial weights "+
			"scaled by 1/sqrt of the theory's bound on E[M_L]/M_0 (sweep %s), for every bounded schedule.", flatElasticity, fig3TrainScaled))
	if len(d.blocks) < 2 {
		c.cannot("the criterion needs at least two depths")
		return c.done(missing)
	}
	deepest := d.blocks[len(d.blocks)-1]
	for _, s := range d.schedules {
		cells := d.cells(d.epochs, s)
		name := fmt.Sprintf("eta = %s", s)
		bounded := finite(d.allDepths(endSchedule{d.trainEnd, s}))
		switch {
		case d.constant[s]:
			last := cells[len(cells)-1]
			if last == nil || last.runs == 0 {
				c.cannot("%s: no runs at the largest depth", name)
				continue
			}
			lo, hi := stats.Wilson(last.reached, last.runs)
			c.decide(report.Interval{Statistic: "fraction of runs reaching 20%", Estimate: num.Number(float64(last.reached) / float64(last.runs)),
				Lo: num.Number(lo), Hi: num.Number(hi), Runs: last.runs, Method: "runs (Wilson interval)"}, atMost(0.5),
				"%s: %s at L = %d; fails to start", name, last.text(), deepest)
		case bounded:
			if ok, why := d.fm1OK(s); ok {
				elasticity(c, name+", logits as drawn", d.blocks, cells, true)
			} else {
				c.note("%s, logits as drawn: %s (FM1 at the logits): judged on the scaled logits below; epochs to 20%%: %s", name, why, d.cellsText(cells))
			}
		default:
			c.note("%s (no depth-independent bound: not checked): %s", name, d.cellsText(cells))
		}
		if sc := d.cells(d.scaled, s); len(d.scaled) > 0 && !d.constant[s] {
			sname := fmt.Sprintf("eta = %s, logits scaled by %s", s, d.scaleText(s))
			if bounded {
				elasticity(c, sname, d.blocks, sc, true)
			} else {
				c.note("%s (no depth-independent bound: not checked): %s", sname, d.cellsText(sc))
			}
		}
	}
	return c.done(missing)
}

// cellsText writes a curve's training points by depth.
func (d *fig3Data) cellsText(cells []*epochCell) string {
	var parts []string
	for i, L := range d.blocks {
		parts = append(parts, fmt.Sprintf("L=%d %s", L, cells[i].text()))
	}
	return strings.Join(parts, "; ")
}

// scaleText lists a schedule's logit scales over the depths.
func (d *fig3Data) scaleText(s string) string {
	var parts []string
	for _, L := range d.blocks {
		if f, ok := d.logitScale[fig3Key{endSchedule{d.trainEnd, s}, L}]; ok {
			parts = append(parts, fmt.Sprintf("%.3g", f))
		}
	}
	return strings.Join(parts, ", ")
}

// cells returns a schedule's training points over the depths, from the
// runs as drawn (d.epochs) or with scaled logits (d.scaled).
func (d *fig3Data) cells(runs map[fig3Key]*epochCell, schedule string) []*epochCell {
	out := make([]*epochCell, len(d.blocks))
	for i, L := range d.blocks {
		out[i] = runs[fig3Key{endSchedule{d.trainEnd, schedule}, L}]
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

	var epochRows, epochTable [][]string
	figB := []report.Figure{}
	for _, v := range []struct {
		runs          map[fig3Key]*epochCell
		name, logits  string
		title, remark string
	}{
		{d.epochs, "fig3b_epochs", "as drawn", "", ""},
		{d.scaled, "fig3b_epochs_scaled", "scaled", ", logits scaled", "; the logits' initial weights scaled by 1/sqrt of the theory's bound on E[M_L]/M_0"},
	} {
		if len(v.runs) == 0 {
			continue
		}
		var curves []report.Series
		for _, s := range d.schedules {
			cells := d.cells(v.runs, s)
			if slices.IndexFunc(cells, func(c *epochCell) bool { return c != nil }) < 0 {
				continue
			}
			curves = append(curves, epochSeries(s, xs, cells))
			row := []string{s, v.logits}
			for i, L := range d.blocks {
				row = append(row, cells[i].text())
				scale := 1.0
				if f, ok := d.logitScale[fig3Key{endSchedule{d.trainEnd, s}, L}]; ok && v.logits == "scaled" {
					scale = f
				}
				epochRows = append(epochRows, append([]string{s, d.trainEnd, v.logits, csvFloat(scale), fmt.Sprint(L)}, cells[i].csv()...))
			}
			epochTable = append(epochTable, row)
		}
		f, err := out.plot(v.name, report.LineChart{
			Title:  fmt.Sprintf("Fig. 3(b): epochs to 20%%, residual nets on %s%s", d.dataName(), v.title),
			XLabel: "residual blocks L", YLabel: "epochs to 20% test accuracy", LogX: true, XTicks: xs,
			LegendTitle: etaTitle, Dodge: true, Series: curves,
		}, "Mean ± SE over the runs that reached 20% (drawn where at least half did); markers in the top band, \"not reached\": "+
			"fewer than half of the runs reached 20% within the cap (or diverged)"+v.remark)
		if err != nil {
			return nil, err
		}
		figB = append(figB, f)
	}
	if err := out.csv("fig3_epochs.csv", append([]string{"schedule", "end", "logits", "logit_scale", "blocks"}, epochHeader...), epochRows); err != nil {
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
		claim:   checkFig3Training(d, fd.incomplete(fig3Train, fig3TrainScaled)),
		figures: figB,
		tables: []report.Table{{Caption: "epochs to 20%: mean ± SE (runs reached / runs); logits as drawn, or scaled by 1/sqrt of the theory's bound. " + note,
			Header: append([]string{"schedule", "logits"}, header[1:]...), Rows: epochTable}},
		settings: fd.settings(fig3Train),
	}
	return []section{a, b}, nil
}
