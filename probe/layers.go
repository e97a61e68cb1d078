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
				if s == 1 && out.W == in.W && hLo < hHi {
					sameTap(dst, plane, out.W, hLo, hHi, wLo, wHi, (ki-pad)*in.W+kj-pad)
					continue
				}
				for oh := hLo; oh < hHi; oh++ {
					d := dst[oh*out.W : (oh+1)*out.W]
					src := plane[(oh*s-pad+ki)*in.W : (oh*s-pad+ki+1)*in.W]
					for ow := range d {
						if ow < wLo || ow >= wHi {
							d[ow] = 0
						} else {
							d[ow] = src[ow*s-pad+kj]
						}
					}
				}
			}
		}
	}
}

// sameTap fills rows hLo..hHi-1 of one im2col row for a stride-1 conv whose
// output rows are as long as its input rows (same padding): there, output
// position i reads input position i + off, so the whole band is one copy,
// after which the columns outside [wLo, wHi), which the copy filled from
// the neighbouring rows, are zeroed. It saves a call per output row.
func sameTap(dst, plane []float32, w, hLo, hHi, wLo, wHi, off int) {
	lo, hi := hLo*w+wLo, (hHi-1)*w+wHi
	copy(dst[lo:hi], plane[lo+off:hi+off])
	for r := hLo * w; r < hHi*w; r += w {
		for c := 0; c < wLo; c++ {
			dst[r+c] = 0
		}
		for c := wHi; c < w; c++ {
			dst[r+c] = 0
		}
	}
}

// poolWindows calls f for every output position o of every channel of
// pooling layer l (no padding) with the input index of its window's top
// left corner; the window's rows start every l.In.W values from there.
func poolWindows(l arch.Layer, f func(o, corner int)) {
	in, out, s := l.In, l.Out, l.Stride
	o := 0
	for c := range in.C {
		for oh := range out.H {
			for ow := range out.W {
				f(o, (c*in.H+oh*s)*in.W+ow*s)
				o++
			}
		}
	}
}

// maxPool takes each window's maximum of x and routes u through the same
// choice, the first maximum in row-major order (as PyTorch does).
func maxPool(l arch.Layer, in, out []float32) {
	nin, nout, k, w := l.In.Size(), l.Out.Size(), l.Kernel, l.In.W
	x, u := in[:nin], in[nin:]
	poolWindows(l, func(o, corner int) {
		best := corner
		for ki := range k {
			for i := corner + ki*w; i < corner+ki*w+k; i++ {
				if x[i] > x[best] {
					best = i
				}
			}
		}
		out[o], out[nout+o] = x[best], u[best]
	})
}

// avgPool averages each window of x and of u.
func avgPool(l arch.Layer, in, out []float32) {
	nin, nout, k, w := l.In.Size(), l.Out.Size(), l.Kernel, l.In.W
	inv := 1 / float32(k*k)
	poolWindows(l, func(o, corner int) {
		var sx, su float32
		for ki := range k {
			for i := corner + ki*w; i < corner+ki*w+k; i++ {
				sx += in[i]
				su += in[nin+i]
			}
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
