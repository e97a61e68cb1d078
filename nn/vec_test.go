package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestVectorKernels checks the float32 elementwise helpers, with and
// without the vector kernels where there are some, against scalar
// references in float64, on lengths that exercise the vector loops and
// their tails, and on the special values.
func TestVectorKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-40, -1e-40, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 3, -3}
	vec := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			if rng.IntN(4) == 0 {
				s[i] = special[rng.IntN(len(special))]
			} else {
				s[i] = float32(rng.NormFloat64())
			}
		}
		return s
	}
	same := func(got, want float32, tol float64) bool {
		if math.IsNaN(float64(want)) {
			return math.IsNaN(float64(got))
		}
		return got == want || math.Abs(float64(got-want)) <= tol*math.Abs(float64(want))
	}
	available := haveVectorKernels()
	for _, vector := range []bool{false, true} {
		if vector && !available {
			t.Log("no vector kernels on this machine")
			continue
		}
		withVectors(t, vector)
		for _, n := range []int{0, 1, 7, 8, 9, 16, 31, 100} {
			name := fmt.Sprintf("vector=%v/n=%d", vector, n)
			g, y, x := vec(n), vec(n+3), vec(n+1) // longer inputs must be ignored past n
			a, b := float32(rng.NormFloat64()), special[rng.IntN(len(special))]

			masked := append([]float32(nil), g...)
			maskReLU(masked, y)
			for i := range masked {
				want := g[i]
				if !(y[i] > 0) {
					want = 0
				}
				if masked[i] != want && !(math.IsNaN(float64(want)) && math.IsNaN(float64(masked[i]))) {
					t.Errorf("%s: maskReLU[%d] with y=%v: got %v, want %v", name, i, y[i], masked[i], want)
				}
			}

			dst := make([]float32, n)
			addReLU(dst, x, b)
			for i := range dst {
				want := float32(math.Max(float64(x[i]+b), 0))
				if math.IsNaN(float64(x[i] + b)) {
					want = float32(math.NaN())
				}
				if !same(dst[i], want, 0) {
					t.Errorf("%s: addReLU(%v + %v) = %v, want %v", name, x[i], b, dst[i], want)
				}
			}

			axpy(dst, x, y, a)
			for i := range dst {
				// A fused multiply-add rounds once, the scalar loop twice:
				// allow for the rounding of both terms.
				want := float32(float64(x[i]) + float64(a)*float64(y[i]))
				scale := math.Abs(float64(x[i])) + math.Abs(float64(a*y[i]))
				if !same(dst[i], want, 0) && !(math.Abs(float64(dst[i]-want)) <= 1e-6*scale) {
					t.Errorf("%s: axpy(%v + %v·%v) = %v, want %v", name, x[i], a, y[i], dst[i], want)
				}
			}
			axpy(dst, nil, y, a)
			for i := range dst {
				if want := a * y[i]; !same(dst[i], want, 0) {
					t.Errorf("%s: scale(%v·%v) = %v, want %v", name, a, y[i], dst[i], want)
				}
			}
		}
	}
}
