package reproduce

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/initscope/initscope/experiment"
	"github.com/initscope/initscope/num"
	"github.com/initscope/initscope/probe"
	"github.com/initscope/initscope/report"
	"github.com/initscope/initscope/task"
	"github.com/initscope/initscope/theory"
	"github.com/initscope/initscope/train"
	"github.com/initscope/initscope/zoo"
)

// TestPredictivePlan checks the predictive sweeps: named after the figure,
// the quick zoo's tasks a subset of the full zoo's, one predict, probe and
// train task per net, every net's params those of the zoo.
func TestPredictivePlan(t *testing.T) {
	_, full := planTasks(t, []string{"predictive"}, Config{})
	sweeps, quick := planTasks(t, []string{"predictive"}, Config{Scale: Quick})
	_, tiny := planTasks(t, []string{"predictive"}, Config{Scale: Tiny})
	if len(full) != 3*600 || len(quick) != 3*60 || len(tiny) != 3*6 {
		t.Errorf("%d, %d, %d tasks: want 3 per net of zoos of 600, 60 and 6", len(full), len(quick), len(tiny))
	}
	ids := map[string]bool{}
	for _, tk := range full {
		ids[tk.ID] = true
	}
	for _, tk := range quick {
		if !ids[tk.ID] {
			t.Errorf("quick task %s is not part of the full run", tk)
		}
	}
	var names []string
	for _, s := range sweeps {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != predictiveTheory+","+predictiveTrain {
		t.Errorf("sweeps %v", names)
	}
	nets, err := zoo.Draw(60, zoo.Seed)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, tk := range quick {
		kinds[tk.Kind]++
		r := experiment.Record{ID: tk.ID, Kind: tk.Kind, Params: tk.Params}
		b, _ := json.Marshal(r)
		var back experiment.Record // through JSON, as records are read
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		n, err := recordNet(back)
		if err != nil {
			t.Fatal(err)
		}
		if n != nets[n.ID] {
			t.Errorf("task %s: net %+v, the zoo's %+v", tk, n, nets[n.ID])
		}
		if tk.Kind == task.KindTrain {
			epochs, err1 := tk.Float("epochs")
			eval, err2 := tk.Int("eval_samples")
			if err1 != nil || err2 != nil || epochs != predictiveCap || eval != predictiveEval {
				t.Errorf("train task %s: cap %v or evaluation size %v (%v, %v)", tk, epochs, eval, err1, err2)
			}
		}
	}
	if kinds[task.KindPredict] != 60 || kinds[task.KindProbe] != 60 || kinds[task.KindTrain] != 60 {
		t.Errorf("kinds %v", kinds)
	}
}

// synthNet is a synthetic net of the zoo: the theory's log10 signal gain,
// FM2's V, beta, the measured log10 length and whether it reached the target.
type synthNet struct {
	gain, v, beta, measured float64
	reached                 bool
}

// synthZoo builds the predictive figure's data from synthetic records of
// nets (ids 0.., halves alternating), each with a predict, a probe and a
// train record.
func synthZoo(t *testing.T, nets []synthNet) *figureData {
	t.Helper()
	fd := &figureData{sweeps: map[string]*experiment.Sweep{predictiveTheory: {Name: predictiveTheory}, predictiveTrain: {Name: predictiveTrain}},
		records: map[string][]experiment.Record{}, missing: map[string]int{}}
	inits := []string{"he-normal", "lecun-normal", "normal:3/fan_in"}
	for i, s := range nets {
		params := experiment.Params{"net": float64(i), "family": "fc", "variant": "constant", "half": float64(1 + i%2),
			"arch": "fc:784-16x4-10", "init": inits[i%3], "seed": float64(i + 1)}
		fm1 := theory.OK
		switch {
		case s.gain < -2:
			fm1 = theory.Vanishing
		case s.gain > 2:
			fm1 = theory.Exploding
		}
		fm2 := theory.OK
		if s.v >= 1 {
			fm2 = theory.Warning
		}
		pr := task.PredictResult{Net: "fc:784-16x4-10", Beta: s.beta, OutputLayer: 1, FM1: fm1, FM2: fm2, FM2LogVar: num.Number(s.v),
			Layers: []theory.Layer{{Index: 1, Gain: num.Number(math.Pow(10, s.gain)), Log10MeanRatio: num.Number(s.gain), LogVar: num.Number(s.v)}}}
		pb := task.ProbeResult{OutputLayer: 1, Report: probe.Report{Samples: 2, Layers: []probe.LayerReport{{Index: 1, LogMean: num.Number(s.measured * math.Ln10)}}}}
		tr := train.Result{ReachedTarget: s.reached}
		if s.reached {
			e := 0.1 + 0.01*float64(i%7)
			tr.EpochsToTarget = &e
		}
		for _, rec := range []struct {
			sweep, kind string
			result      any
		}{{predictiveTheory, task.KindPredict, pr}, {predictiveTheory, task.KindProbe, pb}, {predictiveTrain, task.KindTrain, tr}} {
			b, err := json.Marshal(rec.result)
			if err != nil {
				t.Fatal(err)
			}
			fd.records[rec.sweep] = append(fd.records[rec.sweep], experiment.Record{ID: fmt.Sprintf("%s-%d", rec.kind, i), Kind: rec.kind,
				Params: params, Status: experiment.StatusDone, Result: b})
		}
	}
	return fd
}

// randomNets draws n synthetic nets whose quantities are independent
// uniform draws; reached is then set by the caller.
func randomNets(n int, seed uint64) []synthNet {
	r := rand.New(rand.NewPCG(seed, 1))
	nets := make([]synthNet, n)
	for i := range nets {
		nets[i] = synthNet{gain: -8 + 16*r.Float64(), v: 3 * r.Float64(), beta: 2 * r.Float64(), measured: -8 + 16*r.Float64(), reached: r.IntN(2) == 0}
	}
	return nets
}

// renderClaim renders the synthetic zoo and returns its claim.
func renderClaim(t *testing.T, fd *figureData) (Claim, string) {
	t.Helper()
	dir := t.TempDir()
	secs, err := renderPredictive(fd, &outputs{dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(secs) != 1 {
		t.Fatalf("%d sections, want 1", len(secs))
	}
	return secs[0].claim, dir
}

// TestCheckPredictive checks the claim's verdict both ways on synthetic
// zoos: a theory whose gain alone tells the trainers holds; labels that
// nothing predicts do not hold or stay inconclusive; a baseline that
// predicts better than the theory makes it fail; missing tasks leave it
// unchecked.
func TestCheckPredictive(t *testing.T) {
	// The trainers are the nets within two decades of gain.
	nets := randomNets(120, 1)
	for i := range nets {
		nets[i].reached = math.Abs(nets[i].gain) < 2
	}
	c, dir := renderClaim(t, synthZoo(t, nets))
	wantVerdict(t, "the gain tells", c, report.Held)
	if !strings.Contains(c.Measured[1].Text, "AUC of the theory's score = 1,") {
		t.Errorf("a separating score: %s", c.Measured[1].Text)
	}
	f, err := os.Open(filepath.Join(dir, "predictive_zoo.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != len(nets)+1 {
		t.Fatalf("predictive_zoo.csv: %d rows (%v), want a header and %d nets", len(rows), err, len(nets))
	}
	for _, name := range []string{"predictive_scores.csv", "predictive_roc.png", "predictive_roc.svg", "predictive_epochs.png", "predictive_epochs.svg"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}

	// Nothing predicts the labels: the theory's AUC cannot be told from 0.5.
	nets = randomNets(120, 2)
	c, _ = renderClaim(t, synthZoo(t, nets))
	if c.Verdict != report.NotHeld && c.Verdict != report.Inconclusive {
		t.Errorf("random labels: verdict %q, want did not hold or inconclusive", c.Verdict)
	}
	if k := c.Measured[1].Kind; k == report.Passed {
		t.Errorf("random labels: the AUC condition passed: %s", c.Measured[1].Text)
	}

	// The measured length tells the trainers and the theory does not.
	nets = randomNets(120, 3)
	for i := range nets {
		nets[i].reached = math.Abs(nets[i].measured) < 2
	}
	c, _ = renderClaim(t, synthZoo(t, nets))
	wantVerdict(t, "the measured length tells, the theory does not", c, report.NotHeld)
	failed := slices.IndexFunc(c.Measured, func(f report.Finding) bool { return f.Kind == report.Failed })
	if failed < 0 || !strings.Contains(c.Measured[failed].Text, "measured length") {
		t.Errorf("the failed condition is not the comparison with the measured length: %+v", c.Measured)
	}

	// Missing tasks.
	nets = randomNets(40, 4)
	for i := range nets {
		nets[i].reached = math.Abs(nets[i].gain) < 2
	}
	fd := synthZoo(t, nets)
	fd.missing[predictiveTrain] = 3
	c, _ = renderClaim(t, fd)
	wantVerdict(t, "missing tasks", c, report.NotChecked)

	// One outcome only in the fit half: no score can be fitted.
	nets = randomNets(10, 5)
	for i := range nets {
		nets[i].reached = true
	}
	c, _ = renderClaim(t, synthZoo(t, nets))
	wantVerdict(t, "no failures to fit", c, report.NotChecked)
}

// TestTinyPredictive runs the tiny zoo end to end and renders it.
func TestTinyPredictive(t *testing.T) {
	dir := t.TempDir()
	sweeps, tasks := planTasks(t, []string{"predictive"}, Config{Scale: Tiny})
	if err := experiment.WriteSweeps(dir, sweeps); err != nil {
		t.Fatal(err)
	}
	runShard(t, dir, tasks, experiment.Shard{}, &task.Runner{}, 2)
	res, err := experiment.Collect(dir)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := Render(res)
	if err != nil {
		t.Fatal(err)
	}
	if rd.Done != len(tasks) || len(rd.Claims) != 1 || rd.Claims[0].Panel != "predictive" || strings.Join(rd.Figures, ",") != "predictive" {
		t.Errorf("%d of %d tasks done, figures %v, claims %+v", rd.Done, len(tasks), rd.Figures, rd.Claims)
	}
	for _, name := range []string{"predictive_zoo.csv", "predictive_scores.csv", "predictive_roc.png", "predictive_epochs.svg", ReportHTML} {
		if !slices.Contains(rd.Files, name) {
			t.Errorf("%s not written (%v)", name, rd.Files)
		}
	}
}
