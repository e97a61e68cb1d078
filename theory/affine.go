package theory

import (
	"fmt"
	"math"

	"github.com/initscope/initscope/num"

	"github.com/initscope/initscope/arch"
)

// affineLayer handles an affine node y_c = s_c x_c + t_c (an eval-mode
// batch norm) with the moments of its scales and shifts from Options.Nodes.
// With the energy of x spread evenly over its C channels and independent
// of the parameters,
//
//	E[M_y] = mean(s^2) E[M_x] + 2 mean_c(s_c t_c E[mean x_c]) + mean(t^2).
//
// It is exact when the stream's channels are exchangeable (each has
// E[mean square] = E[M_x], whatever the scales) and either there are no
// shifts or the stream is symmetric (E[x_c] = 0: the cross term vanishes).
// Otherwise the map is an estimate: it drops the cross term, which needs
// E[x], and assumes even energy. The shifts add mean(t^2)/M_0 to the
// ratio E[M]/M_0, so they need M_0.
//
// A ReLU after the node has a law only without shifts on a symmetric
// stream (as after a linear layer, or an eval-mode batch norm at its
// initial statistics after one): ReLU(s x)^2 + ReLU(-s x)^2 = s^2 x^2 and
// x has the law of -x, so E[ReLU(s_c x_c)^2] = s_c^2 E[x_c^2] / 2 and the
// factor is mean(s^2)/2. Second moments and log moments need more than
// the mean squares: unknown.
func (w *walker) affineLayer(out *Layer, l arch.Layer) (meanMap, bool) {
	out.Kind = "affine"
	if l.ReLU {
		out.Kind = "affine-relu"
	}
	p, name := w.opt.Nodes[l.Node.ID], l.Node.Name
	switch {
	case !p.Known:
		w.unknownAffine(out, l, fmt.Sprintf("no parameters given for affine node %q: measure it with probe", name))
		return meanMap{}, false
	case l.ReLU && (p.ShiftSquare > 0 || !w.symmetric):
		w.unknownAffine(out, l, fmt.Sprintf("no closed form for a ReLU after the affine node %q but without shifts on a symmetric input: measure it with probe", name))
		return meanMap{}, false
	case p.ShiftSquare > 0 && w.opt.M0 == 0:
		w.unknownAffine(out, l, fmt.Sprintf("the shifts of affine node %q add mean(t^2) = %.4g to E[M] whatever the input: give M0 to relate it to the input", name, p.ShiftSquare))
		return meanMap{}, false
	}
	lnA, lnB := math.Log(p.ScaleSquare), math.Inf(-1)
	if l.ReLU {
		lnA -= math.Ln2
	}
	if p.ShiftSquare > 0 {
		lnB = math.Log(p.ShiftSquare) - math.Log(w.opt.M0)
	}
	exact := w.exchangeable && (p.ShiftSquare == 0 || w.symmetric)
	f := func(m float64) float64 { return affine(m, lnA, lnB) }
	mm := meanMap{lo: f, hi: f, exact: exact, homogeneous: p.ShiftSquare == 0}
	out.Gain = num.Number(math.Exp(lnA))
	w.plainGain += lnA
	w.plainGainHe += lnA
	w.gainExact = w.gainExact && w.exchangeable
	w.composeAffine(lnA, lnB, exact)
	if !w.exchangeable {
		out.Notes = append(out.Notes, "affine: the mean assumes the input's energy is spread evenly over the channels (approximate)")
	}
	if p.ShiftSquare > 0 && !w.symmetric {
		out.Notes = append(out.Notes, "affine: the shifts' contribution assumes each channel's mean is uncorrelated with its scale and shift (the cross term 2 mean(s t E[x]) is left out; approximate)")
	}
	if !math.IsNaN(w.second) || !math.IsNaN(w.logMean) || !math.IsNaN(w.logVar) {
		out.Notes = append(out.Notes, "affine: second and log moments need every channel's scale and shift, not only their mean squares: unknown from here on")
	}
	if l.ReLU {
		out.Notes = append(out.Notes, "ReLU after an affine node: its fluctuations are left out of FM2 and its dead units out of the dead probability: measure them with probe")
		w.noFM2.add("affine layer")
		w.fm2Missing++
	}
	w.second, w.logMean, w.logVar = math.NaN(), math.NaN(), math.NaN()
	w.secondExact, w.logExact = false, false
	w.onlyDense = false
	w.rhoLo = -1
	if l.ReLU {
		w.rhoLo = 0
	}
	w.exchangeable = false
	w.symmetric = w.symmetric && p.ShiftSquare == 0 && !l.ReLU
	return mm, true
}

// unknownAffine records an affine layer without a law.
func (w *walker) unknownAffine(out *Layer, l arch.Layer, note string) {
	w.unknown(out, l, "affine", "affine layer", note)
	w.rhoLo = -1
	if l.ReLU {
		w.noFM2.add("affine layer")
		w.rhoLo = 0
	}
	w.exchangeable, w.symmetric = false, false
}

// norm handles a normalization node. A batch norm in training mode leaves
// every channel with mean 0 and variance var/(var + eps) over the batch
// and its positions, so E[M] after it is about 1 whatever came before:
// the ratio E[M]/M_0 is 1/M_0 when M_0 is given (eps ignored: approximate).
// Its second and log moments have no closed form, nor does any other kind
// of normalization.
func (w *walker) norm(out *Layer, l arch.Layer) (meanMap, bool) {
	batch, m0 := l.Node.Norm == arch.NormBatch, w.opt.M0
	note := fmt.Sprintf("no closed form for a normalization layer (%s): measure it with probe", l.Node.Norm)
	switch {
	case batch && m0 > 0:
		note = fmt.Sprintf("batch norm (training mode): each channel has mean 0 and variance var/(var + eps) over the batch, so E[M] is about 1 (eps %g ignored), 1/M0 of the input's; its second and log moments have no closed form: measure them with probe", l.Node.Epsilon)
	case batch:
		note = "batch norm (training mode): E[M] is about 1 whatever came before; give M0 to relate it to the input, and measure the rest with probe"
	}
	w.unknown(out, l, "normalization", "normalization layer", note)
	w.noFM2.add("normalization layer")
	w.rhoLo = -1
	if !batch {
		w.exchangeable, w.symmetric = false, false
		return meanMap{}, false
	}
	// Every channel is normalized alike, by an odd map.
	if m0 == 0 {
		return meanMap{}, false
	}
	lnRatio := func(float64) float64 { return -math.Log(m0) }
	return meanMap{lo: lnRatio, hi: lnRatio, constant: true}, true
}
