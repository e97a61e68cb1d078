package nn

import (
	"math"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/tensor"
)

// The per-channel ops: the affine map of an eval-mode batch norm (or of
// the scale and shift after a training-mode one), and batch normalization
// in training mode. Both see a batch of C×H×W images as C channels of
// batch·H·W values each, and a batch of flat vectors of C features as C
// channels of batch values.

// affine is an affine node, y = a_c·x + b_c for every value of channel c,
// with a the Scale parameter and b the Shift parameter.
type affine[T tensor.Float] struct {
	channels, pixels int // pixels: the values of a channel in one sample
	threads          int
	a, b             *Param[T]
	x, y, dx         []T
	batch            int
	planes           affinePlanes[T]
	grads            affineGrads[T]
}

// newAffine returns the op of affine node n, its scales and shifts zero.
func newAffine[T tensor.Float](n *arch.Node, threads int) *affine[T] {
	c := n.Out.C
	return &affine[T]{channels: c, pixels: n.Out.H * n.Out.W, threads: threads,
		a: newParam[T](n, Scale, c), b: newParam[T](n, Shift, c)}
}

func (f *affine[T]) params() []*Param[T] { return []*Param[T]{f.a, f.b} }

func (f *affine[T]) overwrites() bool { return false }

// forward returns a_c·x + b_c.
func (f *affine[T]) forward(in [][]T, batch int) []T {
	f.x, f.batch = in[0], batch
	f.y = grow(f.y, len(f.x))
	f.planes = affinePlanes[T]{f: f, src: f.x, dst: f.y, shift: f.b.Data}
	tensor.Parallel(f.threads, batch*f.channels, elemGrain/f.pixels+1, &f.planes)
	return f.y
}

// backward adds Σ dy·x and Σ dy over each channel's values to the scale's
// and shift's gradients, and sets dx = a_c·dy.
func (f *affine[T]) backward(dy []T, dx [][]T) {
	f.grads = affineGrads[T]{f: f, dy: dy, overwriteA: f.a.gradBeta() == 0, overwriteB: f.b.gradBeta() == 0}
	tensor.Parallel(f.threads, f.channels, elemGrain/(f.batch*f.pixels)+1, &f.grads)
	if dx == nil {
		return
	}
	f.dx = grow(f.dx, len(dy))
	f.planes = affinePlanes[T]{f: f, src: dy, dst: f.dx}
	tensor.Parallel(f.threads, f.batch*f.channels, elemGrain/f.pixels+1, &f.planes)
	dx[0] = f.dx
}

// affinePlanes sets dst = a_c·src + shift_c (shift nil: 0) over
// (sample, channel) planes.
type affinePlanes[T tensor.Float] struct {
	f        *affine[T]
	src, dst []T
	shift    []T
}

func (t *affinePlanes[T]) Range(lo, hi int) {
	n := t.f.pixels
	for q := lo; q < hi; q++ {
		c := q % t.f.channels
		src, dst := t.src[q*n:][:n], t.dst[q*n:][:n]
		a := t.f.a.Data[c]
		if t.shift == nil {
			axpy(dst, nil, src, a)
			continue
		}
		b := t.shift[c]
		for i, v := range src {
			dst[i] = a*v + b
		}
	}
}

// affineGrads computes the scale's and shift's gradients over a range of
// channels, accumulating in float64.
type affineGrads[T tensor.Float] struct {
	f                      *affine[T]
	dy                     []T
	overwriteA, overwriteB bool // the gradient is stale (ZeroGrad): write, do not add
}

func (t *affineGrads[T]) Range(lo, hi int) {
	f, n := t.f, t.f.pixels
	for c := lo; c < hi; c++ {
		var da, db float64
		for b := range f.batch {
			at := (b*f.channels + c) * n
			x, g := f.x[at:][:n], t.dy[at:][:n]
			for i, v := range g {
				da += float64(v) * float64(x[i])
				db += float64(v)
			}
		}
		f.a.Grad[c] = T(da) + keep(f.a.Grad[c], t.overwriteA)
		f.b.Grad[c] = T(db) + keep(f.b.Grad[c], t.overwriteB)
	}
}

// keep returns v, or 0 if stale is set.
func keep[T tensor.Float](v T, stale bool) T {
	if stale {
		return 0
	}
	return v
}

// batchNorm is a batch normalization node in training mode (PyTorch's
// BatchNorm in train() with affine=False): each channel c is normalized
// by the mean m_c and the biased variance v_c of its values over the batch
// and all positions, y = (x - m_c)/√(v_c + ε). The statistics are
// accumulated in float64. A channel whose values are all equal gives 0
// when ε > 0, and NaN when ε = 0 (0/0, as in PyTorch).
type batchNorm[T tensor.Float] struct {
	channels, pixels int // pixels: the values of a channel in one sample
	eps              float64
	threads          int
	batch            int
	y, dx            []T
	// invStd is, per channel, 1/√(v_c + ε) of the last forward.
	invStd []float64
	pass   normPass[T]
}

// newBatchNorm returns the op of batch normalization node n.
func newBatchNorm[T tensor.Float](n *arch.Node, threads int) *batchNorm[T] {
	return &batchNorm[T]{channels: n.Out.C, pixels: n.Out.H * n.Out.W, eps: n.Epsilon, threads: threads,
		invStd: make([]float64, n.Out.C)}
}

func (bn *batchNorm[T]) params() []*Param[T] { return nil }

func (bn *batchNorm[T]) overwrites() bool { return false }

// forward normalizes each channel of the batch.
func (bn *batchNorm[T]) forward(in [][]T, batch int) []T {
	bn.batch = batch
	bn.y = grow(bn.y, len(in[0]))
	bn.pass = normPass[T]{bn: bn, x: in[0]}
	tensor.Parallel(bn.threads, bn.channels, elemGrain/(batch*bn.pixels)+1, &bn.pass)
	return bn.y
}

// backward sets dx = (dy - mean(dy) - y·mean(dy·y))/√(v + ε) per channel,
// the means over the channel's values: the gradient through the
// normalization and through the batch's mean and variance.
func (bn *batchNorm[T]) backward(dy []T, dx [][]T) {
	if dx == nil {
		return
	}
	bn.dx = grow(bn.dx, len(dy))
	bn.pass = normPass[T]{bn: bn, dy: dy}
	tensor.Parallel(bn.threads, bn.channels, elemGrain/(bn.batch*bn.pixels)+1, &bn.pass)
	dx[0] = bn.dx
}

// normPass is a forward pass (x set) or backward pass (dy set) of batch
// normalization. Its range runs over channels.
type normPass[T tensor.Float] struct {
	bn    *batchNorm[T]
	x, dy []T
}

func (t *normPass[T]) Range(lo, hi int) {
	for c := lo; c < hi; c++ {
		if t.dy == nil {
			t.bn.normalize(t.x, c)
		} else {
			t.bn.gradient(t.dy, c)
		}
	}
}

// planes calls f with the offset of each of channel c's planes, one per
// sample.
func (bn *batchNorm[T]) planes(c int, f func(at int)) {
	for b := range bn.batch {
		f((b*bn.channels + c) * bn.pixels)
	}
}

// normalize sets channel c of y to the normalized x, two passes over x:
// the mean, then the variance about it.
func (bn *batchNorm[T]) normalize(x []T, c int) {
	n := bn.pixels
	var sum, sq float64
	bn.planes(c, func(at int) {
		for _, v := range x[at:][:n] {
			sum += float64(v)
		}
	})
	count := float64(bn.batch * n)
	mean := sum / count
	bn.planes(c, func(at int) {
		for _, v := range x[at:][:n] {
			d := float64(v) - mean
			sq += d * d
		}
	})
	inv := 1 / math.Sqrt(sq/count+bn.eps)
	bn.invStd[c] = inv
	bn.planes(c, func(at int) {
		y := bn.y[at:][:n]
		for i, v := range x[at:][:n] {
			y[i] = T((float64(v) - mean) * inv)
		}
	})
}

// gradient sets channel c of dx from dy and the normalized output y.
func (bn *batchNorm[T]) gradient(dy []T, c int) {
	n := bn.pixels
	var sum, dot float64
	bn.planes(c, func(at int) {
		y := bn.y[at:][:n]
		for i, g := range dy[at:][:n] {
			sum += float64(g)
			dot += float64(g) * float64(y[i])
		}
	})
	count := float64(bn.batch * n)
	mean, proj, inv := sum/count, dot/count, bn.invStd[c]
	bn.planes(c, func(at int) {
		y, dx := bn.y[at:][:n], bn.dx[at:][:n]
		for i, g := range dy[at:][:n] {
			dx[i] = T((float64(g) - mean - float64(y[i])*proj) * inv)
		}
	})
}
