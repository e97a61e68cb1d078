package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestVectorKernels checks the float32 elementwise helpers, with and
// without the vector kernels where there are some, against scalar
// references in float64, on lengths that exercise the vector loops and
// their tails, and on the special values.
func TestVectorKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-40, -1e-40, 7e-31, -7e-31, 9e-31, -9e-31,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 3, -3}
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
				if !(y[i] > 0) || math.Abs(float64(want)) < 0x1p-100 { // 7e-31 < 2^-100 < 9e-31
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

// TestMaskReLUFloat64 checks the flushing of tiny gradients by the scalar
// mask of float64 values.
func TestMaskReLUFloat64(t *testing.T) {
	g := []float64{1, -7e-31, 9e-31, math.NaN(), math.Inf(-1), 1e-300, 2}
	y := []float64{1, 1, 1, 1, 1, 1, 0}
	maskReLU(g, y)
	want := []float64{1, 0, 9e-31, math.NaN(), math.Inf(-1), 0, 0}
	for i := range g {
		if g[i] != want[i] && !(math.IsNaN(g[i]) && math.IsNaN(want[i])) {
			t.Errorf("maskReLU[%d] = %v, want %v", i, g[i], want[i])
		}
	}
}

// TestOptimizerKernels checks that the vector kernels of the SGD and Adam
// updates give, bit for bit, what the scalar loops give (each operation
// rounded to float32 in the same order), special values and velocity
// flushing included, and that the scalar SGD loop flushes a velocity
// below 2^-100 and only that.
func TestOptimizerKernels(t *testing.T) {
	if !haveVectorKernels() {
		t.Skip("no vector kernels on this machine")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	special := []float32{0, 1e-40, -1e-38, 7e-31, float32(math.Inf(1)), float32(math.NaN()), 1e30}
	vec := func(n int, scale float64) []float32 {
		s := make([]float32, n)
		for i := range s {
			if rng.IntN(8) == 0 {
				s[i] = special[rng.IntN(len(special))]
			} else {
				s[i] = float32(rng.NormFloat64() * scale)
			}
		}
		return s
	}
	bits := func(s []float32) []uint32 {
		b := make([]uint32, len(s))
		for i, v := range s {
			b[i] = math.Float32bits(v)
		}
		return b
	}
	for _, n := range []int{1, 7, 8, 13, 100} {
		w, g, m, v := vec(n, 1), vec(n, 0.1), vec(n, 0.1), vec(n, 0.01)
		for i := range v {
			v[i] = float32(math.Abs(float64(v[i])))
		}
		run := func(vector bool) [][]uint32 {
			withVectors(t, vector)
			ws, vs := slices.Clone(w), slices.Clone(v)
			sgdUpdate(ws, g, vs, 0.003, 0.9, 1e-4)
			wa, ma, va := slices.Clone(w), slices.Clone(m), slices.Clone(v)
			adamUpdate(wa, g, ma, va, 0.9, 0.999, 0.1, 0.001, 0.01, 3.5, 1e-8, 1e-4)
			return [][]uint32{bits(ws), bits(vs), bits(wa), bits(ma), bits(va)}
		}
		scalar, vector := run(false), run(true)
		for k, name := range []string{"SGD w", "SGD v", "Adam w", "Adam m", "Adam v"} {
			if !slices.Equal(scalar[k], vector[k]) {
				t.Errorf("n=%d: %s: vector kernel %x, scalar loop %x", n, name, vector[k], scalar[k])
			}
		}
	}
	withVectors(t, false)
	w, v := []float32{1, 1, 1}, []float32{0, 0, 0}
	sgdUpdate(w, []float32{7e-31, 9e-31, float32(math.NaN())}, v, 0.5, 0.9, 0)
	if v[0] != 0 || v[1] != 9e-31 || !math.IsNaN(float64(v[2])) || w[0] != 1 || w[1] != 1 {
		t.Errorf("SGD of gradients 7e-31, 9e-31, NaN: velocity %v, weights %v; want 0, 9e-31, NaN and 1, 1", v, w)
	}
}
