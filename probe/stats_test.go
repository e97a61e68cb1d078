package probe

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
	"gonum.org/v1/gonum/stat"
)

// TestSummarizeLogs checks a summary against direct computations with
// gonum's stat package, dead samples included.
func TestSummarizeLogs(t *testing.T) {
	q := []float64{0.5, 2, 0, 1.5, 3, 0.25, 0, 1, 4, 0.75}
	logs := make([]float64, len(q))
	var live, q2 []float64
	for i, v := range q {
		logs[i] = math.Log(v)
		q2 = append(q2, v*v)
		if v > 0 {
			live = append(live, math.Log(v))
		}
	}
	s := summarizeLogs(logs)
	n := float64(len(q))
	mean, sd := stat.MeanStdDev(q, nil)
	m2, sd2 := stat.MeanStdDev(q2, nil)
	lm, lsd := stat.MeanStdDev(live, nil)
	k := float64(len(live))
	mu4 := stat.Moment(4, live, nil)
	sig2 := stat.Variance(live, nil) * (k - 1) / k
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"mean", s.Mean, mean},
		{"mean se", s.MeanSE, sd / math.Sqrt(n)},
		{"log10 mean", s.Log10Mean, math.Log10(mean)},
		{"second moment", s.SecondMoment, m2},
		{"second moment se", s.SecondMomentSE, sd2 / math.Sqrt(n)},
		{"log mean", s.LogMean, lm},
		{"log mean se", s.LogMeanSE, lsd / math.Sqrt(k)},
		{"log var", s.LogVar, lsd * lsd},
		{"log var se", s.LogVarSE, math.Sqrt((mu4 - sig2*sig2*(k-3)/(k-1)) / k)},
		{"dead fraction", s.DeadFraction, 0.2},
		// Sorted: 0 0 .25 .5 .75 1 1.5 2 3 4; the 5%, 50%, 95% quantiles
		// are the 1st, 5th and 10th values.
		{"5%", s.Quantile(0), 0},
		{"50%", s.Quantile(1), 0.75},
		{"95%", s.Quantile(2), 4},
	} {
		if !scalar.EqualWithinAbsOrRel(c.got, c.want, 1e-12, 1e-12) {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	if s.Live != 8 || s.HeavyTail != (lsd*lsd > HeavyTailLogVar) {
		t.Errorf("live %d heavy %v", s.Live, s.HeavyTail)
	}
}

// TestSummaryBeyondFloat64 checks that lengths beyond the float64 range
// keep finite logs: the mean overflows to +Inf, its log10 does not.
func TestSummaryBeyondFloat64(t *testing.T) {
	s := summarizeLogs([]float64{1000, 999, 1001})
	if !math.IsInf(s.Mean, 1) {
		t.Errorf("mean %v, want +Inf", s.Mean)
	}
	want := (1000 + math.Log((1+math.Exp(-1)+math.E)/3)) / math.Ln10
	if !scalar.EqualWithinAbsOrRel(s.Log10Mean, want, 1e-12, 1e-12) {
		t.Errorf("log10 mean %v, want %v", s.Log10Mean, want)
	}
	if s.LogMean != 1000 || s.LogVar != 1 {
		t.Errorf("log moments %v %v, want 1000 1", s.LogMean, s.LogVar)
	}
	dead := summarizeLogs([]float64{math.Inf(-1), math.Inf(-1)})
	if dead.Mean != 0 || dead.DeadFraction != 1 || !math.IsNaN(dead.LogMean) {
		t.Errorf("all dead: %+v", dead)
	}
}

// TestLogVariance checks Var_hat computed in log space against the direct
// population variance, and its behaviour at extreme scales.
func TestLogVariance(t *testing.T) {
	m := []float64{1, 3, 0, 2.5}
	logs := []float64{0, math.Log(3), math.Inf(-1), math.Log(2.5)}
	_, v := stat.PopMeanVariance(m, nil)
	if got := math.Exp(logVariance(logs)); !scalar.EqualWithinAbsOrRel(got, v, 1e-12, 1e-12) {
		t.Errorf("Var_hat %v, want %v", got, v)
	}
	shifted := []float64{800, 800 + math.Log(3), math.Inf(-1), 800 + math.Log(2.5)}
	if got, want := logVariance(shifted), 1600+math.Log(v); !scalar.EqualWithinAbsOrRel(got, want, 1e-12, 1e-12) {
		t.Errorf("ln Var_hat %v, want %v", got, want)
	}
	if got := logVariance([]float64{2, 2}); !math.IsInf(got, -1) {
		t.Errorf("equal lengths: ln Var_hat %v, want -Inf", got)
	}
}

// TestSelectKth checks quickselect against a sort, with runs of equal
// values and -Inf.
func TestSelectKth(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1, 2, 3, 10, 101, 1000} {
		a := make([]float64, n)
		for i := range a {
			switch r.IntN(4) {
			case 0:
				a[i] = math.Inf(-1)
			case 1:
				a[i] = 1
			default:
				a[i] = r.NormFloat64()
			}
		}
		sorted := slices.Clone(a)
		slices.Sort(sorted)
		for k := range n {
			if got := selectKth(slices.Clone(a), k); got != sorted[k] {
				t.Fatalf("n=%d k=%d: %v, want %v", n, k, got, sorted[k])
			}
		}
	}
}
