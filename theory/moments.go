package theory

import (
	"fmt"
	"math"

	"github.com/initscope/initscope/num"
)

// EmpiricalVariance is E[Var_hat[M]], the expected empirical variance of the
// lengths M_1..M_d of the d plain ReLU layers (THEORY 3.1):
//
//	E[Var_hat] = (1/d) sum_j E[M_j^2] - (1/d^2) sum_j sum_k E[M_j M_k]
//
// with E[M_j M_k] = A E[M_j^2] + B E[M_j] for j < k, where m -> A m + B is the
// conditional mean of M_k given M_j (exact for any symmetric law: THEORY 2).
// It is therefore exact wherever the second moments are (Gaussian weights,
// zero or Gaussian biases, dense layers); for He-scaled Gaussian weights and
// zero biases it equals (M_0^2/d^2) sum_j (2j - d - 1) A_j.
type EmpiricalVariance struct {
	// Relative is E[Var_hat]/M_0^2 and Log10Relative its log10.
	Relative      num.Number `json:"relative"`
	Log10Relative num.Number `json:"log10_relative"`
	// Value is E[Var_hat] itself (Unknown when M_0 was not given).
	Value num.Number `json:"value"`
	// Layers is d, the number of plain ReLU layers it runs over.
	Layers int `json:"layers"`
	// Exact says whether the value is exact.
	Exact bool `json:"exact"`
	// Note says why the value is unknown or approximate.
	Note string `json:"note,omitempty"`
}

func (w *walker) empiricalVariance() EmpiricalVariance {
	d := len(w.relus)
	ev := EmpiricalVariance{Relative: num.Unknown, Log10Relative: num.Unknown, Value: num.Unknown, Layers: d}
	switch {
	case d == 0:
		ev.Note = "no plain ReLU layers"
		return ev
	case len(w.blocks) > 0:
		ev.Note = "defined for plain nets; residual nets have no layer-by-layer length sequence of this kind"
		return ev
	case !w.affineKnown:
		ev.Note = fmt.Sprintf("a layer (%s) has no closed-form mean map", w.noMean)
		return ev
	}
	for _, r := range w.relus {
		if math.IsNaN(r.mean) || math.IsNaN(r.second) {
			ev.Note = "the second moments are unknown"
			return ev
		}
	}
	ln := empiricalVarianceLn(w.relus)
	ev.Relative, ev.Log10Relative = num.FromLn(ln)
	if w.opt.M0 > 0 {
		ev.Value = num.Number(math.Exp(ln + 2*math.Log(w.opt.M0)))
	}
	last := w.relus[d-1]
	ev.Exact = last.exact && w.affineExact
	if !ev.Exact {
		ev.Note = "approximate: the second moments are not exact for this law or layer type"
	}
	return ev
}

// empiricalVarianceLn returns ln(E[Var_hat]/M_0^2) in O(d), in log space so
// that exploding nets stay finite. With T_j(m) = sum_{k>j} E[M_k | M_j = m]
// = alpha_j m + gamma_j, the backward recursion through the map
// m -> A m + B to the next ReLU layer is alpha_j = (1 + alpha_{j+1}) A and
// gamma_j = (1 + alpha_{j+1}) B + gamma_{j+1}; then
// sum_j sum_k E[M_j M_k] = S2 + 2 X with S2 = sum_j E[M_j^2] and
// X = sum_j (alpha_j E[M_j^2] + gamma_j E[M_j]), and
// E[Var_hat] = ((d-1) S2 - 2 X) / d^2. It returns -Inf for a zero variance.
func empiricalVarianceLn(rs []reluRecord) float64 {
	d := len(rs)
	if d == 1 {
		return math.Inf(-1)
	}
	negInf := math.Inf(-1)
	lnAlpha, lnGamma := negInf, negInf
	s2, x := negInf, negInf
	for j := d - 1; j >= 0; j-- {
		r := rs[j]
		if j < d-1 {
			carry := num.LogAdd(0, lnAlpha)
			lnAlpha, lnGamma = carry+r.lnA, num.LogAdd(carry+r.lnB, lnGamma)
		}
		s2 = num.LogAdd(s2, r.second)
		x = num.LogAdd(x, num.LogAdd(lnAlpha+r.second, lnGamma+r.mean))
	}
	a, b := math.Log(float64(d-1))+s2, math.Ln2+x
	if b >= a {
		return negInf
	}
	return num.LogSub(a, b) - 2*math.Log(float64(d))
}

// jacobianLayer is what the Jacobian moments need about one dense layer.
type jacobianLayer struct {
	lnGain float64 // ln c/2 (ReLU) or ln c (linear)
	relu   bool
	width  int
	exact  bool // Gaussian weights, zero biases
}

// Jacobian holds the moments of one entry Z = d act_q^(d) / d x_p of the
// input-output Jacobian at initialization (THEORY 6):
//
//	E[Z^2] = (1/n_0) prod_j gain_j
//	E[Z^4] = E[Z^2]^2 * K * prod_{j<d} (1 + 5/n_j)   (1 + 2/n_j for a linear hidden layer)
//
// with K = 6 when the output layer is a ReLU layer and 3 when it is linear.
// Both are exact for dense nets with Gaussian weights and zero biases, where
// ||J u||^2 has the law of the forward length; for other laws in dense nets
// the same formulas are given, marked approximate. Conv, pooling and residual
// nets have no value here: measure them with probe.
type Jacobian struct {
	// MeanSquare is E[Z^2], FourthMoment E[Z^4], with their log10s.
	MeanSquare      num.Number `json:"mean_square"`
	Log10MeanSquare num.Number `json:"log10_mean_square"`
	FourthMoment    num.Number `json:"fourth_moment"`
	Log10Fourth     num.Number `json:"log10_fourth_moment"`
	// Ratio is E[Z^4]/E[Z^2]^2, the Jacobian's counterpart of exp(5 beta).
	Ratio num.Number `json:"fourth_over_square_squared"`
	// Exact says whether the values are exact.
	Exact bool `json:"exact"`
	// Note says why the values are unknown or approximate.
	Note string `json:"note,omitempty"`
}

func (w *walker) jacobian() Jacobian {
	j := Jacobian{MeanSquare: num.Unknown, Log10MeanSquare: num.Unknown, FourthMoment: num.Unknown, Log10Fourth: num.Unknown, Ratio: num.Unknown}
	if !w.onlyDense || len(w.jac) == 0 {
		j.Note = "defined here for dense nets only: measure conv, pooling and residual nets with probe"
		return j
	}
	lnZ2 := -math.Log(float64(w.g.Input().Size()))
	lnRatio := 0.0
	j.Exact = true
	for i, l := range w.jac {
		lnZ2 += l.lnGain
		j.Exact = j.Exact && l.exact
		switch {
		case i == len(w.jac)-1 && l.relu:
			lnRatio += math.Log(6)
		case i == len(w.jac)-1:
			lnRatio += math.Log(3)
		case l.relu:
			lnRatio += math.Log1p(5 / float64(l.width))
		default:
			lnRatio += math.Log1p(2 / float64(l.width))
		}
	}
	j.MeanSquare, j.Log10MeanSquare = num.FromLn(lnZ2)
	j.FourthMoment, j.Log10Fourth = num.FromLn(2*lnZ2 + lnRatio)
	j.Ratio = num.Number(math.Exp(lnRatio))
	if !j.Exact {
		j.Note = "approximate: exact only for Gaussian weights and zero biases"
	}
	return j
}
