package stats

import (
	"math"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// bruteAUC counts every positive-negative pair: 1 when the positive scores
// higher, 1/2 on a tie (the Mann-Whitney U by definition).
func bruteAUC(s []float64, y []bool) float64 {
	var u, pairs float64
	for i := range s {
		for j := range s {
			if !y[i] || y[j] {
				continue
			}
			pairs++
			switch {
			case s[i] > s[j]:
				u++
			case s[i] == s[j]:
				u += 0.5
			}
		}
	}
	return u / pairs
}

// TestAUCAgainstPairs checks AUC against the brute-force Mann-Whitney U on
// random data with many ties and infinite scores, and the ROC curve's
// trapezoid area and ends against it.
func TestAUCAgainstPairs(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for trial := range 300 {
		n := 2 + r.IntN(40)
		s, y := make([]float64, n), make([]bool, n)
		for i := range s {
			s[i] = float64(r.IntN(6)) // ties
			if trial%3 == 0 {
				s[i] = r.NormFloat64()
			}
			if r.IntN(10) == 0 {
				s[i] = math.Inf(1 - 2*r.IntN(2))
			}
			y[i] = r.IntN(3) == 0
		}
		y[0], y[1] = true, false
		want := bruteAUC(s, y)
		if got := AUC(s, y); math.Abs(got-want) > 1e-12 {
			t.Fatalf("AUC(%v, %v) = %v, want %v", s, y, got, want)
		}
		roc := ROC(s, y)
		x, tp := make([]float64, len(roc)), make([]float64, len(roc))
		for i, p := range roc {
			x[i], tp[i] = p.FPR, p.TPR
			if i > 0 && (p.FPR < x[i-1] || p.TPR < tp[i-1] || (i > 1 && p.Threshold >= roc[i-1].Threshold)) {
				t.Fatalf("ROC not monotone at %d: %+v after %+v", i, p, roc[i-1])
			}
		}
		last := roc[len(roc)-1]
		if roc[0].FPR != 0 || roc[0].TPR != 0 || last.FPR != 1 || last.TPR != 1 {
			t.Fatalf("ROC ends %+v, %+v: want (0,0) and (1,1)", roc[0], last)
		}
		if a := TrapezoidArea(x, tp); math.Abs(a-want) > 1e-12 {
			t.Fatalf("ROC area %v, want AUC %v", a, want)
		}
	}
}

func TestAUCEdges(t *testing.T) {
	for _, c := range []struct {
		s    []float64
		y    []bool
		want float64
	}{
		{[]float64{3, 2, 1}, []bool{true, false, false}, 1},
		{[]float64{1, 2, 3}, []bool{true, false, false}, 0},
		{[]float64{1, 1, 1, 1}, []bool{true, false, true, false}, 0.5},
		{[]float64{0.9, 0.8, 0.7, 0.6}, []bool{true, false, true, false}, 0.75},
	} {
		if got := AUC(c.s, c.y); got != c.want {
			t.Errorf("AUC(%v, %v) = %v, want %v", c.s, c.y, got, c.want)
		}
	}
	for _, c := range []struct {
		s []float64
		y []bool
	}{
		{[]float64{1, 2}, []bool{true, true}},
		{[]float64{1, 2}, []bool{false, false}},
		{[]float64{1, math.NaN()}, []bool{true, false}},
		{[]float64{1}, []bool{true, false}},
	} {
		if got := AUC(c.s, c.y); !math.IsNaN(got) {
			t.Errorf("AUC(%v, %v) = %v, want NaN", c.s, c.y, got)
		}
		if ROC(c.s, c.y) != nil {
			t.Errorf("ROC(%v, %v) is not nil", c.s, c.y)
		}
	}
}

func TestConfusion(t *testing.T) {
	pred := []bool{true, true, false, false, true, false, false}
	act := []bool{true, false, true, false, true, false, false}
	c, err := NewConfusion(pred, act)
	if err != nil {
		t.Fatal(err)
	}
	if c != (Confusion{TP: 2, FP: 1, FN: 1, TN: 3}) {
		t.Fatalf("confusion %+v", c)
	}
	if c.N() != 7 || c.Accuracy() != 5.0/7 || c.Sensitivity() != 2.0/3 || c.Specificity() != 0.75 || math.Abs(c.BalancedAccuracy()-(2.0/3+0.75)/2) > 1e-15 {
		t.Errorf("rates: n %d acc %v sens %v spec %v bal %v", c.N(), c.Accuracy(), c.Sensitivity(), c.Specificity(), c.BalancedAccuracy())
	}
	if _, err := NewConfusion(pred, act[:3]); err == nil {
		t.Error("unequal lengths accepted")
	}
	if s := (Confusion{TN: 3}).Sensitivity(); !math.IsNaN(s) {
		t.Errorf("sensitivity without positives = %v, want NaN", s)
	}
}

// TestLogisticBinaryFeature checks the unpenalized fit against its closed
// form: with one binary feature the fitted probabilities are the observed
// shares of positives in each group.
func TestLogisticBinaryFeature(t *testing.T) {
	// x = 0: 3 of 10 positive; x = 1: 7 of 8 positive.
	var x [][]float64
	var y []bool
	for i := range 10 {
		x, y = append(x, []float64{0}), append(y, i < 3)
	}
	for i := range 8 {
		x, y = append(x, []float64{1}), append(y, i < 7)
	}
	m, err := FitLogistic(x, y, 0)
	if err != nil {
		t.Fatal(err)
	}
	if p := m.Prob([]float64{0}); math.Abs(p-0.3) > 1e-9 {
		t.Errorf("P(y | x=0) = %v, want 0.3", p)
	}
	if p := m.Prob([]float64{1}); math.Abs(p-0.875) > 1e-9 {
		t.Errorf("P(y | x=1) = %v, want 0.875", p)
	}
	// The log-odds ratio is the slope per unit of x.
	slope := m.Linear([]float64{1}) - m.Linear([]float64{0})
	if want := math.Log(7.0) - math.Log(3.0/7); math.Abs(slope-want) > 1e-9 {
		t.Errorf("log-odds ratio %v, want %v", slope, want)
	}
}

// penalizedGradient is the gradient of the penalized log-likelihood in the
// raw features' coordinates, written out independently of the fit: at the
// optimum it is zero in every coordinate.
func penalizedGradient(m *Logistic, x [][]float64, y []bool) []float64 {
	k := len(m.Mean)
	g := make([]float64, k+1)
	for i, row := range x {
		eta := m.Coef[0]
		for j := range k {
			eta += m.Coef[j+1] * (row[j] - m.Mean[j]) / m.Scale[j]
		}
		p := 1 / (1 + math.Exp(-eta))
		r := -p
		if y[i] {
			r = 1 - p
		}
		g[0] += r
		for j := range k {
			g[j+1] += r * (row[j] - m.Mean[j]) / m.Scale[j]
		}
	}
	for j := 1; j <= k; j++ {
		g[j] -= m.Ridge * m.Coef[j]
	}
	return g
}

// logisticData draws n units with features on different scales and labels
// from a known logistic law.
func logisticData(r *rand.Rand, n int) ([][]float64, []bool) {
	x, y := make([][]float64, n), make([]bool, n)
	for i := range x {
		a, b, c := r.NormFloat64(), 10*r.NormFloat64()+3, r.Float64()
		x[i] = []float64{a, b, c}
		eta := 0.5 + 1.2*a - 0.08*b + 0.3*c
		y[i] = r.Float64() < 1/(1+math.Exp(-eta))
	}
	return x, y
}

// TestLogisticStationary checks that the fit (with and without a ridge
// penalty) is where the penalized log-likelihood, strictly concave, has a
// zero gradient, and that a larger penalty shrinks the slopes.
func TestLogisticStationary(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 2))
	x, y := logisticData(r, 200)
	var norms []float64
	for _, ridge := range []float64{0, 1, 30} {
		m, err := FitLogistic(x, y, ridge)
		if err != nil {
			t.Fatalf("ridge %v: %v", ridge, err)
		}
		for j, g := range penalizedGradient(m, x, y) {
			if math.Abs(g) > 1e-7 {
				t.Errorf("ridge %v: gradient %d = %v at the fit, want 0", ridge, j, g)
			}
		}
		var s float64
		for _, c := range m.Coef[1:] {
			s += c * c
		}
		norms = append(norms, s)
	}
	if !(norms[0] > norms[1] && norms[1] > norms[2]) {
		t.Errorf("squared slope norms %v: want decreasing in the ridge penalty", norms)
	}
}

// TestLogisticAgainstNumpy fits the same data with an independent Newton
// iteration in numpy (on the raw features with the penalty expressed in
// them) when /usr/bin/python3 has numpy, and compares the fitted
// probabilities.
func TestLogisticAgainstNumpy(t *testing.T) {
	if _, err := exec.LookPath("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	r := rand.New(rand.NewPCG(5, 9))
	x, y := logisticData(r, 120)
	const ridge = 2.0
	m, err := FitLogistic(x, y, ridge)
	if err != nil {
		t.Fatal(err)
	}
	var rows, labels []string
	for i, row := range x {
		var cells []string
		for _, v := range row {
			cells = append(cells, strconv.FormatFloat(v, 'g', -1, 64))
		}
		rows = append(rows, "["+strings.Join(cells, ",")+"]")
		labels = append(labels, map[bool]string{true: "1", false: "0"}[y[i]])
	}
	script := `
import numpy as np
X = np.array([` + strings.Join(rows, ",") + `])
y = np.array([` + strings.Join(labels, ",") + `], dtype=float)
mu, sd = X.mean(0), X.std(0, ddof=1)
Z = np.hstack([np.ones((len(X), 1)), (X - mu) / sd])
P = np.diag([0.0] + [` + strconv.FormatFloat(ridge, 'g', -1, 64) + `] * X.shape[1])
b = np.zeros(Z.shape[1])
for _ in range(100):
    p = 1 / (1 + np.exp(-Z @ b))
    g = Z.T @ (y - p) - P @ b
    H = Z.T @ (Z * (p * (1 - p))[:, None]) + P
    b = b + np.linalg.solve(H, g)
p = 1 / (1 + np.exp(-Z @ b))
print(" ".join(repr(float(v)) for v in p))
`
	out, err := exec.Command("/usr/bin/python3", "-c", script).Output()
	if err != nil {
		t.Skipf("numpy reference unavailable: %v", err)
	}
	fields := strings.Fields(string(out))
	if len(fields) != len(x) {
		t.Fatalf("numpy gave %d probabilities for %d units", len(fields), len(x))
	}
	for i, f := range fields {
		want, err := strconv.ParseFloat(f, 64)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Prob(x[i]); math.Abs(got-want) > 1e-9 {
			t.Errorf("unit %d: P = %v, numpy %v", i, got, want)
		}
	}
}

func TestLogisticRefuses(t *testing.T) {
	sep := [][]float64{{0}, {1}, {2}, {3}}
	ys := []bool{false, false, true, true}
	if _, err := FitLogistic(sep, ys, 0); err == nil {
		t.Error("separable data without a penalty: no error")
	}
	if m, err := FitLogistic(sep, ys, 1); err != nil {
		t.Errorf("separable data with a penalty: %v", err)
	} else if m.Prob([]float64{3}) <= m.Prob([]float64{0}) {
		t.Error("separable data: the fit does not rank the positives higher")
	}
	for _, c := range []struct {
		x     [][]float64
		y     []bool
		ridge float64
	}{
		{sep, []bool{true, true, true, true}, 1},
		{sep, ys[:3], 1},
		{[][]float64{{0}, {1, 2}}, []bool{true, false}, 1},
		{[][]float64{{0}, {math.NaN()}}, []bool{true, false}, 1},
		{sep, ys, -1},
		{nil, nil, 1},
	} {
		if _, err := FitLogistic(c.x, c.y, c.ridge); err == nil {
			t.Errorf("FitLogistic(%v, %v, %v): no error", c.x, c.y, c.ridge)
		}
	}
}
