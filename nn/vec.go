package nn

import (
	"math"
	"unsafe"

	"github.com/initscope/initscope/tensor"
)

// The elementwise loops that dominate the convolutional workloads, in
// generic Go, with vector kernels for float32 where the platform has them
// (vec_amd64.s: AVX2, eight lanes): Go does not vectorize loops, and these
// run five to ten times faster in vector registers.

// asF32 returns s as a []float32 if T is float32.
func asF32[T tensor.Float](s []T) ([]float32, bool) {
	var zero T
	if unsafe.Sizeof(zero) != 4 {
		return nil, false
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(s))), len(s)), true
}

// flushBelow is the magnitude below which the backward pass of a ReLU and
// SGD's velocity flush values to zero (NaN and infinities are kept).
//
// Without it, the gradients of a net whose backward pass shrinks them
// layer after layer (PyTorch's default initialization, c = 1/3, at depth
// 100) decay into float32's subnormal range (below 2^-126), where x86
// cores may take microcode assists on every product: such a net trained up
// to five times slower per step than a LeCun one (issue 11; 1.25 times on
// an AMD EPYC, which handles most subnormals in hardware). Flushing at
// 2^-100 keeps them out of that range and changes no result beyond float32
// rounding: a flushed gradient moves a weight's update by at most
// LR·2^-100 times the sum of the batch's activations, and momentum's
// 1/(1-Momentum) after it; with LR <= 1, 128 samples of activations up to
// 2^10 and a momentum of 0.9 that is below 2^-79, under half a unit in the
// last place of any weight above 2^-55, whose update therefore rounds to
// the same float. Float64 models flush at the same magnitude, far above
// their subnormals, for the same reason. Tests set it to 0 to compare with
// unflushed runs.
var flushBelow = 0x1p-100

// maskReLU zeroes the gradients g where the rectified output y is not
// positive, and flushes those of magnitude below flushBelow to zero.
func maskReLU[T tensor.Float](g, y []T) {
	y = y[:len(g)]
	if g32, ok := asF32(g); ok {
		if y32, _ := asF32(y); maskF32(g32, y32, float32(flushBelow)) {
			return
		}
	}
	// Multiply the bits of each gradient by 0 or 1: a branch on y would
	// mispredict about half the time, and multiplying the float itself
	// would turn an infinite gradient into NaN. The magnitude of a float
	// orders like its bits without the sign, NaN above infinity.
	data := unsafe.Pointer(unsafe.SliceData(g))
	var zero T
	if unsafe.Sizeof(zero) == 4 {
		maskBits(unsafe.Slice((*uint32)(data), len(g)), y, math.Float32bits(float32(flushBelow)), 1<<31)
	} else {
		maskBits(unsafe.Slice((*uint64)(data), len(g)), y, math.Float64bits(flushBelow), 1<<63)
	}
}

// maskBits zeroes the words g where y is not positive or the magnitude bits
// (without sign) are below flush, without branches.
func maskBits[U uint32 | uint64, T tensor.Float](g []U, y []T, flush, sign U) {
	y = y[:len(g)]
	for i, v := range y {
		var keep U
		if v > 0 && g[i]&^sign >= flush {
			keep = 1
		}
		g[i] *= keep
	}
}

// sgdUpdate applies one SGD step to the weights w with gradients g and
// velocities v: d = g + wd·w, v = mu·v + d (flushed to zero below
// flushBelow), w -= lr·v, each operation rounded to T.
func sgdUpdate[T tensor.Float](w, g, v []T, lr, mu, wd T) {
	g, v = g[:len(w)], v[:len(w)]
	if w32, ok := asF32(w); ok {
		g32, _ := asF32(g)
		if v32, _ := asF32(v); sgdF32(w32, g32, v32, float32(lr), float32(mu), float32(wd), float32(flushBelow)) {
			return
		}
	}
	flush := T(flushBelow)
	for i := range w {
		d := g[i] + T(wd*w[i])
		nv := T(mu*v[i]) + d
		if nv < flush && nv > -flush {
			nv = 0
		}
		v[i] = nv
		w[i] -= T(lr * nv)
	}
}

// adamUpdate applies one Adam step to the weights w with gradients g and
// moments m, v: d = g + wd·w, m = b1·m + c1·d, v = b2·v + c2·d·d,
// w -= stepSize·m / (√v·invBias2 + eps), each operation rounded to T.
func adamUpdate[T tensor.Float](w, g, m, v []T, b1, b2, c1, c2, stepSize, invBias2, eps, wd T) {
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	if w32, ok := asF32(w); ok {
		g32, _ := asF32(g)
		m32, _ := asF32(m)
		if v32, _ := asF32(v); adamF32(w32, g32, m32, v32, &adamConsts{float32(b1), float32(b2), float32(c1), float32(c2),
			float32(stepSize), float32(invBias2), float32(eps), float32(wd)}) {
			return
		}
	}
	for i := range w {
		d := g[i] + T(wd*w[i])
		m[i] = T(b1*m[i]) + T(c1*d)
		v[i] = T(b2*v[i]) + T(T(c2*d)*d)
		w[i] -= T(stepSize*m[i]) / (T(T(math.Sqrt(float64(v[i])))*invBias2) + eps)
	}
}

// adamConsts are the constants of an Adam step in float32, in the order
// the vector kernel reads them.
type adamConsts struct {
	b1, b2, c1, c2, stepSize, invBias2, eps, wd float32
}

// addReLU sets dst = max(src + b, 0) elementwise.
func addReLU[T tensor.Float](dst, src []T, b T) {
	src = src[:len(dst)]
	if dst32, ok := asF32(dst); ok {
		if src32, _ := asF32(src); addReLUF32(dst32, src32, float32(b)) {
			return
		}
	}
	for i, v := range src {
		dst[i] = max(v+b, 0)
	}
}

// axpy sets dst = x + a·y elementwise, or dst = a·y if x is nil.
func axpy[T tensor.Float](dst, x, y []T, a T) {
	y = y[:len(dst)]
	if x == nil {
		if dst32, ok := asF32(dst); ok {
			if y32, _ := asF32(y); scaleF32(dst32, y32, float32(a)) {
				return
			}
		}
		for i, v := range y {
			dst[i] = a * v
		}
		return
	}
	x = x[:len(dst)]
	if dst32, ok := asF32(dst); ok {
		x32, _ := asF32(x)
		if y32, _ := asF32(y); axpyF32(dst32, x32, y32, float32(a)) {
			return
		}
	}
	for i, v := range y {
		dst[i] = x[i] + a*v
	}
}
