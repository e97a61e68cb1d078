package probe

import (
	"math"

	"github.com/initscope/initscope/arch"
)

// measure returns the logarithm of the true mean square of v, e^l v, and
// the scale to carry on: l, unless v's stored root mean square has left
// [2^-32, 2^32], in which case v is rescaled to unit rms and the scale
// adjusted. That band keeps every stored value and product far inside the
// float32 range, and rescaling only when leaving it saves a pass over
// memory per layer. An all-zero v (or one whose scale is -Inf) is left at
// zero with scale and mean square -Inf.
func measure(v []float32, l float64) (scale, logMeanSquare float64) {
	// Four accumulators, so that the adds do not wait on each other.
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		a, b, c, d := float64(v[i]), float64(v[i+1]), float64(v[i+2]), float64(v[i+3])
		s0 += a * a
		s1 += b * b
		s2 += c * c
		s3 += d * d
	}
	for ; i < len(v); i++ {
		s0 += float64(v[i]) * float64(v[i])
	}
	ms := (s0 + s1 + s2 + s3) / float64(len(v))
	if ms == 0 || math.IsInf(l, -1) {
		clear(v)
		return math.Inf(-1), math.Inf(-1)
	}
	logMS := 2*l + math.Log(ms)
	if ms < 0x1p-64 || ms > 0x1p64 {
		inv := float32(1 / math.Sqrt(ms)) // within [2^-32, 2^32] here
		for i := range v {
			v[i] *= inv
		}
		l = logMS / 2
	}
	return l, logMS
}

// addBias sets the true x, e^lx x, to e^lx x + e^logBias b, where b holds
// one unit-scale value per channel of positions values each. It stores the
// result scaled by e^-t, t = max(lx, logBias), so that neither term
// overflows, and returns t.
func addBias(x []float32, lx float64, b []float32, logBias float64, positions int) float64 {
	t := max(lx, logBias)
	a := float32(math.Exp(lx - t))
	c := math.Exp(logBias - t)
	for i, bv := range b {
		bb := float32(float64(bv) * c)
		seg := x[i*positions : (i+1)*positions]
		for k, v := range seg {
			seg[k] = a*v + bb
		}
	}
	return t
}

// addScaled sets dst to e^la a + e^lb b, stored scaled by e^-t with
// t = max(la, lb), and returns t.
func addScaled(dst, a []float32, la float64, b []float32, lb float64) float64 {
	t := max(la, lb)
	if math.IsInf(t, -1) {
		clear(dst)
		return t
	}
	ca, cb := float32(math.Exp(la-t)), float32(math.Exp(lb-t))
	b = b[:len(dst)]
	for i, v := range a[:len(dst)] {
		dst[i] = ca*v + cb*b[i]
	}
	return t
}

// relu zeroes x where it is not positive, and u at the same places,
// without branches (a ReLU's signs are as unpredictable as coin flips):
// keep is all ones exactly when x's bits are those of a float > 0.
func relu(x, u []float32) {
	u = u[:len(x)]
	for i, v := range x {
		b := int32(math.Float32bits(v))
		keep := uint32(^(b >> 31)) & uint32((-b)>>31)
		x[i] = math.Float32frombits(uint32(b) & keep)
		u[i] = math.Float32frombits(math.Float32bits(u[i]) & keep)
	}
}

// pool takes the maximum or the average (node op OpMaxPool or OpAvgPool)
// of x over each window of the node, and routes u through the same choice:
// the first maximum in row-major order (as PyTorch does), or the average.
func pool(n *arch.Node, in, out []float32) {
	w := &n.Window
	nin, nout, plane := w.In.Size(), w.Out.Size(), w.In.H*w.In.W
	x, u := in[:nin], in[nin:]
	isMax := n.Op == arch.OpMaxPool
	o := 0
	for c := range w.In.C {
		for oh := range w.Out.H {
			for ow := range w.Out.W {
				corner := c*plane + w.Corner(oh, ow)
				if isMax {
					best := windowArgMax(x, corner, w.KH, w.In.W)
					out[o], out[nout+o] = x[best], u[best]
				} else {
					out[o], out[nout+o] = windowMean(x, corner, w.KH, w.In.W), windowMean(u, corner, w.KH, w.In.W)
				}
				o++
			}
		}
	}
}

// windowArgMax returns the index of the first maximum, in row-major order,
// of the k x k window of v whose rows start at corner, every stride values.
func windowArgMax(v []float32, corner, k, stride int) int {
	best := corner
	for r := corner; r < corner+k*stride; r += stride {
		for i := r; i < r+k; i++ {
			if v[i] > v[best] {
				best = i
			}
		}
	}
	return best
}

// windowMean returns the mean of the k x k window of v whose rows start at
// corner, every stride values.
func windowMean(v []float32, corner, k, stride int) float32 {
	var s float32
	for r := corner; r < corner+k*stride; r += stride {
		for _, e := range v[r : r+k] {
			s += e
		}
	}
	return s * (1 / float32(k*k))
}

// globalAvgPool averages each channel of x and of u, C x H x W -> C, over
// its positions.
func globalAvgPool(in arch.Shape, data, out []float32) {
	p := in.H * in.W
	inv := 1 / float32(p)
	for i := range 2 * in.C {
		var s float32
		for _, v := range data[i*p : (i+1)*p] {
			s += v
		}
		out[i] = s * inv
	}
}
