package stats

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// AUC is the area under the ROC curve of scores that rank positives
// (labels true) above negatives: the probability that a random positive
// scores higher than a random negative, ties counting one half (the
// Mann-Whitney U divided by the number of pairs). Scores may be ±Inf. It
// is NaN without a positive or a negative, with unequal lengths, or with a
// NaN score.
func AUC(scores []float64, labels []bool) float64 {
	if len(scores) != len(labels) {
		return math.NaN()
	}
	var pos, neg float64
	for i, s := range scores {
		if math.IsNaN(s) {
			return math.NaN()
		}
		if labels[i] {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	// Mann-Whitney: the positives' rank sum minus its least value; mean
	// ranks of ties count each tied pair one half.
	var sum float64
	for i, r := range Ranks(scores) {
		if labels[i] {
			sum += r
		}
	}
	return (sum - pos*(pos+1)/2) / (pos * neg)
}

// ROCPoint is a point of an ROC curve: classifying score >= Threshold as
// positive gives the false positive rate FPR and the true positive rate
// TPR.
type ROCPoint struct {
	Threshold, FPR, TPR float64
}

// ROC returns the ROC curve of scores against labels: one point per
// distinct score, from the highest threshold down, after a first point
// (FPR, TPR) = (0, 0) at threshold +Inf (nothing called positive; a score
// of +Inf is then counted at the next point). Tied scores make one
// diagonal step. Its trapezoid area is AUC. Nil when AUC is NaN.
func ROC(scores []float64, labels []bool) []ROCPoint {
	if math.IsNaN(AUC(scores, labels)) {
		return nil
	}
	idx := make([]int, len(scores))
	var pos, neg float64
	for i := range idx {
		idx[i] = i
		if labels[i] {
			pos++
		} else {
			neg++
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	out := []ROCPoint{{Threshold: math.Inf(1)}}
	var tp, fp float64
	for i := 0; i < len(idx); {
		s := scores[idx[i]]
		for ; i < len(idx) && scores[idx[i]] == s; i++ {
			if labels[idx[i]] {
				tp++
			} else {
				fp++
			}
		}
		out = append(out, ROCPoint{Threshold: s, FPR: fp / neg, TPR: tp / pos})
	}
	return out
}

// TrapezoidArea is the area under a curve of points sorted by x, by the
// trapezoid rule: for an ROC curve, x = FPR and y = TPR.
func TrapezoidArea(x, y []float64) float64 {
	var a float64
	for i := 1; i < len(x) && i < len(y); i++ {
		a += (x[i] - x[i-1]) * (y[i] + y[i-1]) / 2
	}
	return a
}

// Confusion counts a binary classifier's outcomes: true and false
// positives, false and true negatives.
type Confusion struct {
	TP, FP, FN, TN int
}

// NewConfusion counts predicted against actual labels (equal lengths).
func NewConfusion(predicted, actual []bool) (Confusion, error) {
	if len(predicted) != len(actual) {
		return Confusion{}, fmt.Errorf("confusion: %d predictions for %d outcomes: want one of each per unit", len(predicted), len(actual))
	}
	var c Confusion
	for i, p := range predicted {
		switch {
		case p && actual[i]:
			c.TP++
		case p:
			c.FP++
		case actual[i]:
			c.FN++
		default:
			c.TN++
		}
	}
	return c, nil
}

// N is the number of units counted.
func (c Confusion) N() int { return c.TP + c.FP + c.FN + c.TN }

// Accuracy is the share of units classified right (NaN for none).
func (c Confusion) Accuracy() float64 { return ratio(c.TP+c.TN, c.N()) }

// Sensitivity is the share of positives called positive, TP/(TP+FN) (NaN
// without positives).
func (c Confusion) Sensitivity() float64 { return ratio(c.TP, c.TP+c.FN) }

// Specificity is the share of negatives called negative, TN/(TN+FP) (NaN
// without negatives).
func (c Confusion) Specificity() float64 { return ratio(c.TN, c.TN+c.FP) }

// BalancedAccuracy is the mean of Sensitivity and Specificity: 0.5 for a
// classifier that ignores its input, whatever the classes' shares.
func (c Confusion) BalancedAccuracy() float64 { return (c.Sensitivity() + c.Specificity()) / 2 }

// ratio is a/b, NaN for b = 0.
func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// Logistic is a logistic regression fitted by FitLogistic:
// P(y | x) = 1 / (1 + exp(-Linear(x))), Linear(x) = Coef[0] +
// sum_k Coef[k+1] (x_k - Mean[k]) / Scale[k]. The features are standardized
// by the fit data's means and standard deviations (a constant feature gets
// Scale 1), so that Ridge penalizes every slope on the same scale.
type Logistic struct {
	// Mean and Scale standardize each feature.
	Mean, Scale []float64
	// Coef holds the intercept, then one slope per standardized feature.
	Coef []float64
	// Ridge is the penalty: the fit maximizes the log-likelihood minus
	// Ridge/2 times the sum of the squared slopes (the intercept is not
	// penalized).
	Ridge float64
	// Iterations is the number of Newton steps taken.
	Iterations int
}

// maxNewton bounds FitLogistic's Newton iterations.
const maxNewton = 100

// FitLogistic fits a logistic regression of labels y on the features x
// (one row of equal length per unit) by Newton's method (iteratively
// reweighted least squares) with step halving, maximizing the penalized
// log-likelihood (see Logistic.Ridge; ridge >= 0). Both labels must occur.
// With ridge 0 the optimum may not exist (separable data, a constant
// feature): that is an error, as is a fit that does not converge.
func FitLogistic(x [][]float64, y []bool, ridge float64) (*Logistic, error) {
	n := len(x)
	if n != len(y) {
		return nil, fmt.Errorf("logistic fit: %d feature rows for %d labels: want one of each per unit", n, len(y))
	}
	if !(ridge >= 0) || math.IsInf(ridge, 1) {
		return nil, fmt.Errorf("logistic fit: ridge %v: want a finite number >= 0", ridge)
	}
	if n == 0 {
		return nil, errors.New("logistic fit: no units")
	}
	k := len(x[0])
	var pos int
	for i, row := range x {
		if len(row) != k {
			return nil, fmt.Errorf("logistic fit: row %d has %d features, row 1 has %d: want the same features for every unit", i+1, len(row), k)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("logistic fit: row %d, feature %d is %v: want finite features", i+1, j+1, v)
			}
		}
		if y[i] {
			pos++
		}
	}
	if pos == 0 || pos == n {
		return nil, fmt.Errorf("logistic fit: %d of %d units are positive: want both labels", pos, n)
	}
	m := &Logistic{Mean: make([]float64, k), Scale: make([]float64, k), Coef: make([]float64, k+1), Ridge: ridge}
	for j := range k {
		col := make([]float64, n)
		for i := range x {
			col[i] = x[i][j]
		}
		mean, se := MeanSE(col)
		sd := se * math.Sqrt(float64(n))
		if !(sd > 0) {
			sd = 1
		}
		m.Mean[j], m.Scale[j] = mean, sd
	}
	z := make([][]float64, n) // rows with a leading 1
	for i, row := range x {
		z[i] = make([]float64, k+1)
		z[i][0] = 1
		for j, v := range row {
			z[i][j+1] = (v - m.Mean[j]) / m.Scale[j]
		}
	}
	m.Coef[0] = math.Log(float64(pos) / float64(n-pos))
	obj := m.objective(z, y)
	for m.Iterations < maxNewton {
		m.Iterations++
		grad, hess := m.derivatives(z, y)
		step, err := solve(hess, grad)
		if err != nil {
			return nil, fmt.Errorf("logistic fit: %v (a constant or collinear feature, or separable data, without a ridge penalty)", err)
		}
		// Halve the step until the objective does not decrease.
		t, next := 1.0, make([]float64, k+1)
		var nobj float64
		for {
			for j := range next {
				next[j] = m.Coef[j] + t*step[j]
			}
			trial := &Logistic{Mean: m.Mean, Scale: m.Scale, Coef: next, Ridge: ridge}
			if nobj = trial.objective(z, y); nobj >= obj || t < 1e-10 {
				break
			}
			t /= 2
		}
		copy(m.Coef, next)
		done := nobj-obj <= 1e-12*(1+math.Abs(obj))
		obj = nobj
		if done && maxAbs(step)*t <= 1e-8*(1+maxAbs(m.Coef)) {
			return m, nil
		}
		if maxAbs(m.Coef) > 1e6 {
			break
		}
	}
	return nil, fmt.Errorf("logistic fit: no convergence in %d Newton steps (coefficients %v): the classes are separable; give a ridge penalty > 0", m.Iterations, m.Coef)
}

// maxAbs is the largest absolute value of vs.
func maxAbs(vs []float64) float64 {
	var m float64
	for _, v := range vs {
		m = math.Max(m, math.Abs(v))
	}
	return m
}

// linearZ is the linear predictor of a standardized row (leading 1).
func (m *Logistic) linearZ(z []float64) float64 {
	var s float64
	for j, c := range m.Coef {
		s += c * z[j]
	}
	return s
}

// objective is the penalized log-likelihood of the standardized rows.
func (m *Logistic) objective(z [][]float64, y []bool) float64 {
	var l float64
	for i, row := range z {
		eta := m.linearZ(row)
		if !y[i] {
			eta = -eta
		}
		l -= softplus(-eta) // log sigmoid(eta)
	}
	for _, c := range m.Coef[1:] {
		l -= m.Ridge / 2 * c * c
	}
	return l
}

// derivatives returns the gradient of the penalized log-likelihood and the
// negative of its Hessian.
func (m *Logistic) derivatives(z [][]float64, y []bool) (grad []float64, hess [][]float64) {
	k := len(m.Coef)
	grad = make([]float64, k)
	hess = make([][]float64, k)
	for a := range hess {
		hess[a] = make([]float64, k)
	}
	for i, row := range z {
		p := sigmoid(m.linearZ(row))
		r := -p
		if y[i] {
			r = 1 - p
		}
		w := p * (1 - p)
		for a := range k {
			grad[a] += r * row[a]
			for b := range k {
				hess[a][b] += w * row[a] * row[b]
			}
		}
	}
	for a := 1; a < k; a++ {
		grad[a] -= m.Ridge * m.Coef[a]
		hess[a][a] += m.Ridge
	}
	return grad, hess
}

// Linear returns the linear predictor (the log-odds) of a unit's features.
func (m *Logistic) Linear(x []float64) float64 {
	s := m.Coef[0]
	for j, v := range x {
		s += m.Coef[j+1] * (v - m.Mean[j]) / m.Scale[j]
	}
	return s
}

// Prob returns the fitted probability of a positive label for a unit's
// features.
func (m *Logistic) Prob(x []float64) float64 { return sigmoid(m.Linear(x)) }

// sigmoid is 1/(1+exp(-t)), without overflow.
func sigmoid(t float64) float64 {
	if t >= 0 {
		return 1 / (1 + math.Exp(-t))
	}
	e := math.Exp(t)
	return e / (1 + e)
}

// softplus is ln(1+exp(t)), without overflow.
func softplus(t float64) float64 {
	if t > 0 {
		return t + math.Log1p(math.Exp(-t))
	}
	return math.Log1p(math.Exp(t))
}

// solve solves the symmetric system a x = b by Gaussian elimination with
// partial pivoting; a singular system is an error.
func solve(a [][]float64, b []float64) ([]float64, error) {
	n := len(b)
	m := make([][]float64, n)
	var scale float64
	for i := range a {
		m[i] = append(append([]float64{}, a[i]...), b[i])
		scale = math.Max(scale, maxAbs(a[i]))
	}
	for c := range n {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[p][c]) {
				p = r
			}
		}
		if math.Abs(m[p][c]) <= 1e-12*scale {
			return nil, errors.New("singular Hessian")
		}
		m[c], m[p] = m[p], m[c]
		for r := c + 1; r < n; r++ {
			f := m[r][c] / m[c][c]
			for j := c; j <= n; j++ {
				m[r][j] -= f * m[c][j]
			}
		}
	}
	x := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		s := m[r][n]
		for j := r + 1; j < n; j++ {
			s -= m[r][j] * x[j]
		}
		x[r] = s / m[r][r]
	}
	return x, nil
}
