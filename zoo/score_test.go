package zoo

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/initscope/initscope/stats"
	"github.com/initscope/initscope/theory"
)

// synthOutcomes makes n complete outcomes with random quantities, halves
// alternating; reached is set by rule.
func synthOutcomes(n int, seed uint64, rule func(o *Outcome) bool) []*Outcome {
	r := rand.New(rand.NewPCG(seed, 3))
	outs := make([]*Outcome, n)
	for i := range outs {
		o := NewOutcome(Net{ID: i, Family: FC, Half: 1 + i%2})
		o.Predicted, o.Measured, o.Trained = true, true, true
		o.Log10Gain = -6 + 12*r.Float64()
		o.FM2Stat = 3 * r.Float64()
		o.Beta = r.Float64()
		o.Log10Factor = -0.5 + r.Float64()
		o.MeasuredLog10 = -6 + 12*r.Float64()
		o.FM1, o.FM2 = theory.OK, theory.OK
		if math.Abs(o.Log10Gain) > 2 {
			o.FM1 = theory.Vanishing
		}
		if o.FM2Stat > 1 {
			o.FM2 = theory.Warning
		}
		o.Reached = rule(o)
		if o.Reached {
			o.Epochs = 0.1 + 0.05*math.Abs(o.Log10Gain)
		}
		outs[i] = o
	}
	return outs
}

// bruteAUC counts the positive-negative pairs of the held-out nets.
func bruteAUC(s []float64, y []bool) float64 {
	var u, n float64
	for i := range s {
		for j := range s {
			if y[i] && !y[j] {
				n++
				switch {
				case s[i] > s[j]:
					u++
				case s[i] == s[j]:
					u += 0.5
				}
			}
		}
	}
	return u / n
}

// TestEvaluate checks the scoring against independent computations: each
// AUC against the pairs of held-out nets, the paired difference against
// the two AUCs, the verdicts' confusion matrix against a count, and the
// speed correlation's sign; and that the fit reads the fit half only.
func TestEvaluate(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	rule := func(o *Outcome) bool { return math.Abs(o.Log10Gain)+0.5*o.FM2Stat < 2.5+r.NormFloat64() }
	outs := synthOutcomes(200, 1, rule)
	// An incomplete outcome and one with an unknown feature are left out.
	outs = append(outs, NewOutcome(Net{ID: 200, Half: HeldOut}))
	bad := synthOutcomes(1, 2, rule)[0]
	bad.ID, bad.FM2Stat = 201, math.NaN()
	outs = append(outs, bad)
	ev, err := Evaluate(outs)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Fit) != 100 || len(ev.Held) != 100 || ev.Excluded != 1 {
		t.Fatalf("fit %d, held %d, excluded %d", len(ev.Fit), len(ev.Held), ev.Excluded)
	}
	var reached []bool
	var tp, fp, fn, tn int
	for _, o := range ev.Held {
		reached = append(reached, o.Reached)
		switch p := o.FM1 == theory.OK && o.FM2 == theory.OK; {
		case p && o.Reached:
			tp++
		case p:
			fp++
		case o.Reached:
			fn++
		default:
			tn++
		}
	}
	if ev.Verdicts != (stats.Confusion{TP: tp, FP: fp, FN: fn, TN: tn}) {
		t.Errorf("verdicts %+v, counted %d %d %d %d", ev.Verdicts, tp, fp, fn, tn)
	}
	if len(ev.Results) != len(Scores) || ev.Results[0].Name != "theory" {
		t.Fatalf("%d results", len(ev.Results))
	}
	th := ev.Results[0]
	for _, res := range ev.Results {
		if res.Model == nil {
			t.Fatalf("%s: %s", res.Name, res.FitError)
		}
		if want := bruteAUC(res.Values, reached); math.Abs(res.AUC-want) > 1e-12 {
			t.Errorf("%s: AUC %v, pairs %v", res.Name, res.AUC, want)
		}
		if !(res.AUCLo <= res.AUC && res.AUC <= res.AUCHi) {
			t.Errorf("%s: AUC %v outside its interval [%v, %v]", res.Name, res.AUC, res.AUCLo, res.AUCHi)
		}
		if res.Name != "theory" {
			if d := th.AUC - res.AUC; math.Abs(res.Diff-d) > 1e-12 || !(res.DiffLo <= d && d <= res.DiffHi) {
				t.Errorf("%s: diff %v [%v, %v], want %v inside", res.Name, res.Diff, res.DiffLo, res.DiffHi, d)
			}
		}
	}
	// The outcome follows the gain and V: the theory ranks well and the
	// faster nets score higher; beta, drawn independently, does not.
	if th.AUC < 0.8 || th.Rho < 0.5 || !math.IsNaN(th.Diff) {
		t.Errorf("theory: AUC %v, rho %v, diff %v", th.AUC, th.Rho, th.Diff)
	}
	if b := ev.Results[1]; b.AUCLo > 0.5 || b.AUCHi < 0.5 {
		t.Errorf("beta: AUC %v [%v, %v], drawn independently of the outcome", b.AUC, b.AUCLo, b.AUCHi)
	}

	// Changing the held-out outcomes changes no fit.
	flipped := synthOutcomes(200, 1, func(*Outcome) bool { return false })
	for i, o := range flipped {
		o.Reached = outs[i].Reached
		if o.Half == HeldOut {
			o.Reached = !o.Reached
		}
	}
	ev2, err := Evaluate(flipped)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ev.Results {
		if !slices.Equal(ev.Results[i].Model.Coef, ev2.Results[i].Model.Coef) {
			t.Errorf("%s: flipping the held-out outcomes changed the fit %v -> %v", ev.Results[i].Name, ev.Results[i].Model.Coef, ev2.Results[i].Model.Coef)
		}
	}
	if math.Abs(ev2.Results[0].AUC-(1-th.AUC)) > 1e-12 {
		t.Errorf("flipped held-out labels: AUC %v, want 1 - %v", ev2.Results[0].AUC, th.AUC)
	}
}

// TestEvaluateOneOutcome checks that a fit half with a single outcome
// leaves every score unfitted, with NaN statistics, and no error.
func TestEvaluateOneOutcome(t *testing.T) {
	ev, err := Evaluate(synthOutcomes(10, 4, func(*Outcome) bool { return true }))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ev.Results {
		if r.Model != nil || r.FitError == "" || !math.IsNaN(r.AUC) || !math.IsNaN(r.Rho) || !math.IsNaN(r.AUCLo) {
			t.Errorf("%s: model %v, error %q, AUC %v, rho %v", r.Name, r.Model, r.FitError, r.AUC, r.Rho)
		}
	}
	bad := synthOutcomes(2, 5, func(*Outcome) bool { return true })
	bad[0].Half = 3
	if _, err := Evaluate(bad); err == nil {
		t.Error("half 3 accepted")
	}
}

// TestDecades checks the compression of two-sided features.
func TestDecades(t *testing.T) {
	for _, c := range []struct{ v, below, above float64 }{
		{0, 0, 0}, {-9, 1, 0}, {99, 0, 2}, {math.Inf(-1), math.Log10(1 + MaxDecades), 0},
	} {
		b, a := decades(c.v)
		if math.Abs(b-c.below) > 1e-12 || math.Abs(a-c.above) > 1e-12 {
			t.Errorf("decades(%v) = %v, %v; want %v, %v", c.v, b, a, c.below, c.above)
		}
	}
}
