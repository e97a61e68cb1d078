package nn

import (
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

// maskReLU zeroes the gradients g where the rectified output y is not
// positive.
func maskReLU[T tensor.Float](g, y []T) {
	y = y[:len(g)]
	if g32, ok := asF32(g); ok {
		if y32, _ := asF32(y); maskF32(g32, y32) {
			return
		}
	}
	// Multiply the bits of each gradient by 0 or 1: a branch on y would
	// mispredict about half the time, and multiplying the float itself
	// would turn an infinite gradient into NaN.
	data := unsafe.Pointer(unsafe.SliceData(g))
	var zero T
	if unsafe.Sizeof(zero) == 4 {
		maskBits(unsafe.Slice((*uint32)(data), len(g)), y)
	} else {
		maskBits(unsafe.Slice((*uint64)(data), len(g)), y)
	}
}

// maskBits zeroes the words g where y is not positive, without branches.
func maskBits[U uint32 | uint64, T tensor.Float](g []U, y []T) {
	y = y[:len(g)]
	for i, v := range y {
		var keep U
		if v > 0 {
			keep = 1
		}
		g[i] *= keep
	}
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
