package probe

import (
	"math"

	"github.com/initscope/initscope/arch"
)

// normalize rescales v to unit root mean square and returns the logarithm
// of its true scale: l plus the log of its former rms. An all-zero v, or a v
// whose scale is already -Inf, is left at zero with scale -Inf.
func normalize(v []float32, l float64) float64 {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 || math.IsInf(l, -1) {
		clear(v)
		return math.Inf(-1)
	}
	rms := math.Sqrt(ss / float64(len(v)))
	inv := 1 / rms
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
	return l + math.Log(rms)
}

// addBias sets the true x, e^lx x, to e^lx x + b, where b holds one value
// per channel of positions values each. It stores the result scaled by
// e^-t, t = max(lx, logBias), so that neither term overflows, and returns t.
func addBias(x []float32, lx float64, b []float32, logBias float64, positions int) float64 {
	t := max(lx, logBias)
	a := float32(math.Exp(lx - t))
	c := math.Exp(-t)
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

// relu zeroes x where it is not positive, and u at the same places.
func relu(x, u []float32) {
	u = u[:len(x)]
	for i, v := range x {
		if !(v > 0) {
			x[i] = 0
			u[i] = 0
		}
	}
}

// validRange returns the output positions [lo, hi) along an axis of out
// positions whose input position o*stride - pad + tap lies in [0, size).
func validRange(out, size, stride, pad, tap int) (lo, hi int) {
	if first := pad - tap; first > 0 {
		lo = (first + stride - 1) / stride
	}
	last := size - 1 + pad - tap // the largest valid o*stride
	if last < 0 {
		return 0, 0
	}
	hi = min(out, last/stride+1)
	return min(lo, hi), hi
}

// im2col unfolds one C x H x W image x for conv layer l into cols, a
// (C k k) x (Hout Wout) matrix: row (c k + ki) k + kj holds, for every
// output position, the input under kernel tap (ki, kj) of channel c, or 0
// in the zero padding.
func im2col(l arch.Layer, x, cols []float32) {
	in, out, k, s, pad := l.In, l.Out, l.Kernel, l.Stride, l.Pad
	p := out.H * out.W
	row := 0
	for c := range in.C {
		plane := x[c*in.H*in.W : (c+1)*in.H*in.W]
		for ki := range k {
			hLo, hHi := validRange(out.H, in.H, s, pad, ki)
			for kj := range k {
				wLo, wHi := validRange(out.W, in.W, s, pad, kj)
				dst := cols[row*p : (row+1)*p]
				row++
				clear(dst[:hLo*out.W])
				clear(dst[hHi*out.W:])
				for oh := hLo; oh < hHi; oh++ {
					d := dst[oh*out.W : (oh+1)*out.W]
					src := plane[(oh*s-pad+ki)*in.W : (oh*s-pad+ki+1)*in.W]
					clear(d[:wLo])
					clear(d[wHi:])
					if s == 1 {
						copy(d[wLo:wHi], src[wLo-pad+kj:])
						continue
					}
					for ow := wLo; ow < wHi; ow++ {
						d[ow] = src[ow*s-pad+kj]
					}
				}
			}
		}
	}
}

// poolWindows calls f for every output position o of every channel of
// pooling layer l (no padding) with the input indices of its window.
func poolWindows(l arch.Layer, f func(o int, idx []int)) {
	in, out, k, s := l.In, l.Out, l.Kernel, l.Stride
	idx := make([]int, k*k)
	o := 0
	for c := range in.C {
		for oh := range out.H {
			for ow := range out.W {
				for ki := range k {
					for kj := range k {
						idx[ki*k+kj] = (c*in.H+oh*s+ki)*in.W + ow*s + kj
					}
				}
				f(o, idx)
				o++
			}
		}
	}
}

// maxPool takes each window's maximum of x and routes u through the same
// choice, the first maximum in row-major order (as PyTorch does).
func maxPool(l arch.Layer, in, out []float32) {
	nin, nout := l.In.Size(), l.Out.Size()
	x, u := in[:nin], in[nin:]
	poolWindows(l, func(o int, idx []int) {
		best := idx[0]
		for _, i := range idx[1:] {
			if x[i] > x[best] {
				best = i
			}
		}
		out[o], out[nout+o] = x[best], u[best]
	})
}

// avgPool averages each window of x and of u.
func avgPool(l arch.Layer, in, out []float32) {
	nin, nout := l.In.Size(), l.Out.Size()
	inv := 1 / float32(l.Kernel*l.Kernel)
	poolWindows(l, func(o int, idx []int) {
		var sx, su float32
		for _, i := range idx {
			sx += in[i]
			su += in[nin+i]
		}
		out[o], out[nout+o] = sx*inv, su*inv
	})
}

// globalAvgPool averages each channel of x and of u over its positions.
func globalAvgPool(l arch.Layer, in, out []float32) {
	p := l.In.H * l.In.W
	inv := 1 / float32(p)
	for i := range 2 * l.In.C {
		var s float32
		for _, v := range in[i*p : (i+1)*p] {
			s += v
		}
		out[i] = s * inv
	}
}
