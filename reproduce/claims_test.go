package reproduce

import (
	"math"
	"strings"
	"testing"

	"github.com/initscope/initscope/num"
	"github.com/initscope/initscope/probe"
	"github.com/initscope/initscope/report"
	"github.com/initscope/initscope/task"
	"github.com/initscope/initscope/theory"
)

// cellOf makes a training point from the epochs to the target of its runs,
// NaN for a run that did not reach it.
func cellOf(epochs ...float64) *epochCell {
	c := &epochCell{runs: len(epochs)}
	for _, e := range epochs {
		if !math.IsNaN(e) {
			c.reached++
			c.epochs = append(c.epochs, e)
		}
	}
	return c
}

// wantVerdict checks a claim's verdict, showing its findings on failure,
// and that the findings agree with it: a failed condition for not held, an
// unchecked one for not checked, neither for held.
func wantVerdict(t *testing.T, name string, c Claim, want report.Verdict) {
	t.Helper()
	var lines []string
	kinds := map[report.FindingKind]int{}
	for _, f := range c.Measured {
		lines = append(lines, f.Kind.String()+": "+f.Text)
		kinds[f.Kind]++
	}
	if c.Verdict != want {
		t.Errorf("%s: verdict %q, want %q; findings:\n  %s", name, c.Verdict, want, strings.Join(lines, "\n  "))
	}
	switch {
	case want == report.Held && (kinds[report.Failed] > 0 || kinds[report.Unchecked] > 0),
		want == report.NotHeld && (kinds[report.Failed] == 0 || kinds[report.Unchecked] > 0),
		want == report.NotChecked && kinds[report.Unchecked] == 0:
		t.Errorf("%s: verdict %q with findings:\n  %s", name, c.Verdict, strings.Join(lines, "\n  "))
	}
	if c.Criterion == "" || c.Statement == "" || c.Panel == "" {
		t.Errorf("%s: claim without criterion, statement or panel: %+v", name, c)
	}
}

// synthFig1 builds Figure 1 data in which the paper's claims hold: he-normal
// keeps its length and trains in 0.1-0.15 epoch at every depth, lecun-normal
// halves the length per layer and slows down, then fails.
func synthFig1() *fig1Data {
	d := &fig1Data{
		inits: []string{"he-normal", "lecun-normal"}, depths: []int{5, 10, 20, 40},
		factor: map[string]float64{"he-normal": 1, "lecun-normal": 0.5},
		theory: map[initDepth]theory.Layer{}, probe: map[initDepth]*probe.LayerReport{}, epochs: map[initDepth]*epochCell{},
	}
	lecun := []*epochCell{cellOf(0.5, 0.6), cellOf(0.9, 1.1), cellOf(1.5, math.NaN()), cellOf(math.NaN(), math.NaN())}
	for i, depth := range d.depths {
		for _, in := range d.inits {
			k := initDepth{in, depth}
			l := float64(depth) * math.Log10(d.factor[in])
			d.theory[k] = theory.Layer{Log10MeanRatio: num.Number(l), MeanExact: true}
			d.probe[k] = &probe.LayerReport{Log10MeanRatio: num.Number(l + 0.05), MeanRatio: num.Number(math.Pow(10, l+0.05))}
		}
		d.epochs[initDepth{"he-normal", depth}] = cellOf(0.1, 0.15)
		d.epochs[initDepth{"lecun-normal", depth}] = lecun[i]
	}
	return d
}

func TestCheckFig1(t *testing.T) {
	d := synthFig1()
	wantVerdict(t, "fig1a holds", checkFig1Length(d, 0), report.Held)
	wantVerdict(t, "fig1b holds", checkFig1Training(d, 0), report.Held)
	wantVerdict(t, "fig1a with missing tasks", checkFig1Length(d, 3), report.NotChecked)
	wantVerdict(t, "fig1b with missing tasks", checkFig1Training(d, 1), report.NotChecked)

	// He's length drifts by more than a decade.
	d = synthFig1()
	d.probe[initDepth{"he-normal", 40}].Log10MeanRatio = 1.5
	wantVerdict(t, "fig1a, He drifts", checkFig1Length(d, 0), report.NotHeld)
	// LeCun's length does not vanish.
	d = synthFig1()
	d.probe[initDepth{"lecun-normal", 40}].Log10MeanRatio = -0.5
	wantVerdict(t, "fig1a, LeCun stays", checkFig1Length(d, 0), report.NotHeld)

	// He slows down with depth: 0.1, 0.3, 0.6, 0.9 epochs is ~0.27 per doubling.
	d = synthFig1()
	for i, e := range []float64{0.1, 0.3, 0.6, 0.9} {
		d.epochs[initDepth{"he-normal", d.depths[i]}] = cellOf(e, e)
	}
	wantVerdict(t, "fig1b, He slows down", checkFig1Training(d, 0), report.NotHeld)
	// One He run fails to reach the target at depth 20.
	d = synthFig1()
	d.epochs[initDepth{"he-normal", 20}] = cellOf(0.1, math.NaN())
	wantVerdict(t, "fig1b, a He run fails", checkFig1Training(d, 0), report.NotHeld)
	// LeCun trains as fast at every depth.
	d = synthFig1()
	for _, depth := range d.depths {
		d.epochs[initDepth{"lecun-normal", depth}] = cellOf(0.5, 0.6)
	}
	wantVerdict(t, "fig1b, LeCun does not slow down", checkFig1Training(d, 0), report.NotHeld)
	// LeCun slows down by a factor 3 without failing: that is a slowdown.
	d.epochs[initDepth{"lecun-normal", 40}] = cellOf(1.5, 1.8)
	wantVerdict(t, "fig1b, LeCun slows down 3x", checkFig1Training(d, 0), report.Held)

	// A single depth cannot show a trend.
	d = synthFig1()
	d.depths = d.depths[:1]
	wantVerdict(t, "fig1b, one depth", checkFig1Training(d, 0), report.NotChecked)
}

// synthProbe is a probe result whose output layer (layer 1) has the given
// Var[ln M] and whose E[Var_hat] is measured with the given z-score against
// an exact theory.
func synthProbe(logVar, ev, z float64) *task.ProbeResult {
	return &task.ProbeResult{OutputLayer: 1, Report: probe.Report{
		Samples: 1000000,
		Layers: []probe.LayerReport{{Index: 1, LogVar: num.Number(logVar), LogVarSE: 0.01, Z: probe.LayerZ{LogVar: 0.3},
			Theory: theory.Layer{LogVar: num.Number(logVar), Log10SecondMomentRatio: 1}}},
		EmpiricalVariance: probe.MomentReport{Mean: num.Number(ev), SE: num.Number(ev / 50), TheoryMean: num.Number(ev),
			Exact: true, Z: num.Number(z)},
	}}
}

// synthFig2 builds Figure 2 data in which the claims hold: epochs and
// fluctuations grow with beta; the profiles train alike.
func synthFig2() *fig2Data {
	d := &fig2Data{depths: []int{10, 20, 40}, widths: []int{10, 20, 40},
		probe: map[depthWidth]*task.ProbeResult{}, epochs: map[depthWidth]*epochCell{},
		profiles: profiles, betas: []float64{1, 2}, profDepth: 20,
		profProbe: map[profileBeta]*task.ProbeResult{}, profTrain: map[profileBeta]*epochCell{}, profArch: map[profileBeta]string{}}
	keys, betas := d.cells()
	for i, k := range keys {
		b := betas[i]
		d.probe[k] = synthProbe(5*b, 0.8*b*math.Exp(b), 0.5)
		e := 0.05 + 0.1*b + 0.002*float64(k.depth) // slightly noisy in depth
		d.epochs[k] = cellOf(e, e*1.1)
		if b >= 4 {
			d.epochs[k] = cellOf(math.NaN(), math.NaN())
		}
	}
	for _, b := range d.betas {
		for j, p := range profiles {
			e := 0.1*b + 0.01*float64(j)
			d.profTrain[profileBeta{p, b}] = cellOf(e, e)
		}
	}
	return d
}

func TestCheckFig2(t *testing.T) {
	d := synthFig2()
	wantVerdict(t, "fig2a holds", checkFig2Beta(d, 0), report.Held)
	wantVerdict(t, "fig2b holds", checkFig2Profiles(d, 0), report.Held)
	wantVerdict(t, "fig2c holds", checkFig2Variance(d, 0), report.Held)
	wantVerdict(t, "fig2a with missing tasks", checkFig2Beta(d, 2), report.NotChecked)

	// Epochs fall with beta.
	d = synthFig2()
	keys, betas := d.cells()
	for i, k := range keys {
		e := 1 / betas[i]
		d.epochs[k] = cellOf(e, e)
	}
	wantVerdict(t, "fig2a, epochs fall with beta", checkFig2Beta(d, 0), report.NotHeld)

	// One profile trains three times slower.
	d = synthFig2()
	d.profTrain[profileBeta{"alternating", 2}] = cellOf(0.9, 0.9)
	wantVerdict(t, "fig2b, a profile 3x slower", checkFig2Profiles(d, 0), report.NotHeld)
	// One profile fails.
	d = synthFig2()
	d.profTrain[profileBeta{"increasing", 1}] = cellOf(math.NaN(), math.NaN())
	wantVerdict(t, "fig2b, a profile fails", checkFig2Profiles(d, 0), report.NotHeld)

	// The measured E[Var_hat] misses the theory by 10 SE at one point...
	d = synthFig2()
	d.probe[depthWidth{20, 20}].EmpiricalVariance.Z = 10
	wantVerdict(t, "fig2c, a point off", checkFig2Variance(d, 0), report.NotHeld)
	// ... which does not count where the sample is too small for the mean
	// (10^6 samples, relative second moment 10^4).
	d.probe[depthWidth{20, 20}].Layers[0].Theory.Log10SecondMomentRatio = 4
	wantVerdict(t, "fig2c, a point with too few samples off", checkFig2Variance(d, 0), report.Held)
	// With no point left to compare, the claim is not checked.
	for _, p := range d.probe {
		p.Samples = 10
	}
	wantVerdict(t, "fig2c, no point with enough samples", checkFig2Variance(d, 0), report.NotChecked)
}

// synthFig3 builds Figure 3 data in which the claims hold: eta = 1 explodes
// and fails at depth, 0.5^l stays under its bound and trains at one speed,
// 1/l (no bound for ReLU-ending modules) is shown only.
func synthFig3() *fig3Data {
	d := &fig3Data{ends: []string{"relu", "linear"}, schedules: []string{"1", "0.5^l", "1/l"}, blocks: []int{5, 10, 20, 40},
		probe: map[fig3Key]*probe.LayerReport{}, epochs: map[fig3Key]*epochCell{}, trainEnd: "relu",
		limit: map[endSchedule]float64{
			{"relu", "1"}: math.Inf(1), {"relu", "0.5^l"}: 0.6, {"relu", "1/l"}: math.Inf(1),
			{"linear", "1"}: math.Inf(1), {"linear", "0.5^l"}: 0.4, {"linear", "1/l"}: 2},
		constant: map[string]bool{"1": true}, data: "mnist"}
	for _, end := range d.ends {
		for _, L := range d.blocks {
			x := float64(L)
			for s, v := range map[string]float64{"1": 0.45 * x, "0.5^l": 0.35, "1/l": 0.3 * math.Log2(x)} {
				d.probe[fig3Key{endSchedule{end, s}, L}] = &probe.LayerReport{Log10MeanRatio: num.Number(v)}
			}
		}
	}
	eta1 := []*epochCell{cellOf(0.3, 0.5), cellOf(0.8, math.NaN()), cellOf(math.NaN(), math.NaN()), cellOf(math.NaN(), math.NaN())}
	for i, L := range d.blocks {
		d.epochs[fig3Key{endSchedule{"relu", "1"}, L}] = eta1[i]
		d.epochs[fig3Key{endSchedule{"relu", "0.5^l"}, L}] = cellOf(0.06, 0.08)
		d.epochs[fig3Key{endSchedule{"relu", "1/l"}, L}] = cellOf(0.06, 0.1)
	}
	return d
}

func TestCheckFig3(t *testing.T) {
	d := synthFig3()
	wantVerdict(t, "fig3a holds", checkFig3Length(d, 0), report.Held)
	wantVerdict(t, "fig3b holds", checkFig3Training(d, 0), report.Held)
	wantVerdict(t, "fig3b with missing tasks", checkFig3Training(d, 4), report.NotChecked)

	// eta = 1 does not explode.
	d = synthFig3()
	for _, L := range d.blocks {
		d.probe[fig3Key{endSchedule{"linear", "1"}, L}].Log10MeanRatio = 0.5
	}
	wantVerdict(t, "fig3a, eta = 1 flat", checkFig3Length(d, 0), report.NotHeld)
	// 0.5^l exceeds its bound.
	d = synthFig3()
	d.probe[fig3Key{endSchedule{"relu", "0.5^l"}, 40}].Log10MeanRatio = 1.5
	wantVerdict(t, "fig3a, 0.5^l over its bound", checkFig3Length(d, 0), report.NotHeld)

	// eta = 1 trains at the largest depth.
	d = synthFig3()
	d.epochs[fig3Key{endSchedule{"relu", "1"}, 40}] = cellOf(0.5, 0.7)
	wantVerdict(t, "fig3b, eta = 1 trains deep", checkFig3Training(d, 0), report.NotHeld)
	// 0.5^l slows down with depth.
	d = synthFig3()
	for i, L := range d.blocks {
		e := 0.1 + 0.4*float64(i)
		d.epochs[fig3Key{endSchedule{"relu", "0.5^l"}, L}] = cellOf(e, e)
	}
	wantVerdict(t, "fig3b, 0.5^l slows down", checkFig3Training(d, 0), report.NotHeld)
}

// TestFig3Bounds checks which schedules the theory bounds at every depth:
// sum eta < inf for ReLU-ending modules, sum eta^2 < inf for linear ones.
func TestFig3Bounds(t *testing.T) {
	d := &fig3Data{init: "he-normal", inputs: 784, width: 8}
	for _, c := range []struct {
		schedule, end string
		bounded       bool
	}{
		{"1", "relu", false}, {"1", "linear", false},
		{"0.5^l", "relu", true}, {"0.9^l", "linear", true},
		{"1/l", "relu", false}, {"1/l", "linear", true},
		{"1/L", "relu", true}, {"1/L", "linear", true},
	} {
		b, err := d.bound(c.schedule, c.end)
		if err != nil {
			t.Fatal(err)
		}
		if finite(b) != c.bounded {
			t.Errorf("eta = %s, %s-ending: bound %v, want bounded %v", c.schedule, c.end, b, c.bounded)
		}
	}
	// 0.5^l with ReLU-ending modules (He): the bound lies between the
	// products over all blocks of the per-block factors 1 + eta^2 + 2 eta/pi
	// and 1 + eta^2 + 2 eta/sqrt(pi) (THEORY.md 5).
	lo, hi := 0.0, 0.0
	for l := 1; l < 200; l++ {
		eta := math.Pow(0.5, float64(l))
		lo += math.Log10(1 + eta*eta + 2*eta/math.Pi)
		hi += math.Log10(1 + eta*eta + 2*eta/math.Sqrt(math.Pi))
	}
	if b, _ := d.bound("0.5^l", "relu"); !(lo < b && b <= hi+1e-9) {
		t.Errorf("eta = 0.5^l, relu: bound %v, want it in (%v, %v]", b, lo, hi)
	}
}
