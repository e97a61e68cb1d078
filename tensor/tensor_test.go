package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

type namedBackend struct {
	name string
	be   blasBackend
}

// backends returns the backends to test, leaving out OpenBLAS when the
// library cannot be loaded on this machine.
func backends(t testing.TB) []namedBackend {
	t.Helper()
	bs := []namedBackend{{"gonum", gonumBackend{}}}
	if ob, err := loadOpenBLAS(); err == nil {
		bs = append(bs, namedBackend{"openblas", ob})
	} else {
		t.Logf("OpenBLAS not tested: %v", err)
	}
	return bs
}

// useBackend makes be the active backend until the test ends.
func useBackend(t testing.TB, be blasBackend) {
	t.Helper()
	if err := Init(); err != nil {
		t.Fatal(err)
	}
	old := active
	active = be
	t.Cleanup(func() { active = old })
}

// naiveGemm is the triple-loop reference, accumulated in float64.
func naiveGemm[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	at := func(i, p int) float64 {
		if transA {
			return float64(a[p*lda+i])
		}
		return float64(a[i*lda+p])
	}
	bt := func(p, j int) float64 {
		if transB {
			return float64(b[j*ldb+p])
		}
		return float64(b[p*ldb+j])
	}
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				s += at(i, p) * bt(p, j)
			}
			v := float64(alpha) * s
			if beta != 0 {
				v += float64(beta) * float64(c[i*ldc+j])
			}
			c[i*ldc+j] = T(v)
		}
	}
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	lda, ldb, ldc  int
	alpha, beta    float64
}

func (c gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d lda=%d ldb=%d ldc=%d alpha=%g beta=%g",
		c.transA, c.transB, c.m, c.n, c.k, c.lda, c.ldb, c.ldc, c.alpha, c.beta)
}

// randomCases draws shapes small enough for the naive reference and large
// enough to cross the backends' blocking thresholds, with padded leading
// dimensions and the special values 0 and 1 of alpha and beta.
func randomCases(rng *rand.Rand, count int) []gemmCase {
	dims := []int{0, 1, 2, 3, 7, 16, 33, 64, 129}
	scalars := []float64{0, 1, -0.5, 1.75}
	cases := make([]gemmCase, count)
	for i := range cases {
		c := gemmCase{
			transA: rng.IntN(2) == 1, transB: rng.IntN(2) == 1,
			m: dims[rng.IntN(len(dims))], n: dims[rng.IntN(len(dims))], k: dims[rng.IntN(len(dims))],
			alpha: scalars[rng.IntN(len(scalars))], beta: scalars[rng.IntN(len(scalars))],
		}
		colsA, colsB := c.k, c.n
		if c.transA {
			colsA = c.m
		}
		if c.transB {
			colsB = c.k
		}
		c.lda = max(1, colsA) + rng.IntN(3)
		c.ldb = max(1, colsB) + rng.IntN(3)
		c.ldc = max(1, c.n) + rng.IntN(3)
		cases[i] = c
	}
	return cases
}

func randSlice[T Float](rng *rand.Rand, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = T(rng.NormFloat64())
	}
	return s
}

// checkAgainstNaive runs Gemm and the reference on the same operands and
// compares every element of C, padding included, with a tolerance scaled by
// the magnitudes that enter each element.
func checkAgainstNaive[T Float](t *testing.T, rng *rand.Rand, threads int, c gemmCase, eps float64) {
	t.Helper()
	rowsA, rowsB := c.m, c.k
	if c.transA {
		rowsA = c.k
	}
	if c.transB {
		rowsB = c.n
	}
	a := randSlice[T](rng, max(rowsA, 1)*c.lda)
	b := randSlice[T](rng, max(rowsB, 1)*c.ldb)
	got := randSlice[T](rng, max(c.m, 1)*c.ldc)
	want := append([]T(nil), got...)
	if c.beta == 0 {
		// C must not be read when beta is zero.
		for i := range c.m {
			for j := range c.n {
				got[i*c.ldc+j] = T(math.NaN())
			}
		}
	}
	Gemm(threads, c.transA, c.transB, c.m, c.n, c.k, T(c.alpha), a, c.lda, b, c.ldb, T(c.beta), got, c.ldc)
	naiveGemm(c.transA, c.transB, c.m, c.n, c.k, T(c.alpha), a, c.lda, b, c.ldb, T(c.beta), want, c.ldc)
	for i := range got {
		// Each element sums k products of standard normals, of size about
		// sqrt(k); rounding errors grow at most like k·eps times that.
		tol := eps * float64(c.k+2) * (math.Abs(c.alpha)*math.Sqrt(float64(c.k)) + 2) * 4
		if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= tol) {
			t.Fatalf("%v: C[%d] = %v, want %v (tolerance %g)", c, i, got[i], want[i], tol)
		}
	}
}

func TestGemmAgainstNaive(t *testing.T) {
	// Products split into blocks of rows (m > n) or columns, and not.
	split := []gemmCase{
		{m: 400, n: 20, k: 300, lda: 300, ldb: 21, ldc: 20, alpha: 1, beta: 0.5},
		{transA: true, transB: true, m: 400, n: 20, k: 300, lda: 401, ldb: 300, ldc: 22, alpha: -1, beta: 0},
		{m: 20, n: 400, k: 300, lda: 301, ldb: 400, ldc: 400, alpha: 2, beta: 1},
		{transA: true, transB: true, m: 20, n: 400, k: 300, lda: 20, ldb: 303, ldc: 401, alpha: 1, beta: 0},
	}
	for _, nb := range backends(t) {
		for _, threads := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/threads=%d", nb.name, threads), func(t *testing.T) {
				useBackend(t, nb.be)
				rng := rand.New(rand.NewPCG(1, 2))
				for _, c := range append(randomCases(rng, 200), split...) {
					checkAgainstNaive[float32](t, rng, threads, c, 0x1p-24)
					checkAgainstNaive[float64](t, rng, threads, c, 0x1p-53)
				}
			})
		}
	}
}

func TestMonomorphicWrappers(t *testing.T) {
	// 2×2 by hand: [1 2; 3 4]·[5 6; 7 8]ᵀ = [17 23; 39 53].
	a32, b32, c32 := []float32{1, 2, 3, 4}, []float32{5, 6, 7, 8}, []float32{1, 1, 1, 1}
	Sgemm(1, false, true, 2, 2, 2, 1, a32, 2, b32, 2, 1, c32, 2)
	if want := []float32{18, 24, 40, 54}; fmt.Sprint(c32) != fmt.Sprint(want) {
		t.Errorf("Sgemm: got %v, want %v", c32, want)
	}
	a64, b64, c64 := []float64{1, 2, 3, 4}, []float64{5, 6, 7, 8}, []float64{1, 1, 1, 1}
	Dgemm(2, true, false, 2, 2, 2, 2, a64, 2, b64, 2, 0, c64, 2)
	// Aᵀ·B = [1 3; 2 4]·[5 6; 7 8] = [26 30; 38 44].
	if want := []float64{52, 60, 76, 88}; fmt.Sprint(c64) != fmt.Sprint(want) {
		t.Errorf("Dgemm: got %v, want %v", c64, want)
	}
}

// TestOpenBLASAllocatesNothing checks that a GEMM call makes no garbage:
// its arguments are recycled and the call goes through our trampoline
// (on amd64; elsewhere purego.SyscallN allocates its argument slice).
func TestOpenBLASAllocatesNothing(t *testing.T) {
	ob, err := loadOpenBLAS()
	if err != nil {
		t.Skipf("OpenBLAS not available: %v", err)
	}
	useBackend(t, ob)
	a, b, c := make([]float32, 64*64), make([]float32, 64*64), make([]float32, 64*64)
	want := 0.0
	if runtime.GOARCH != "amd64" {
		want = 1
	}
	if n := testing.AllocsPerRun(100, func() { Sgemm(1, false, false, 64, 64, 64, 1, a, 64, b, 64, 0, c, 64) }); n > want {
		t.Errorf("Sgemm allocates %v times per call, want at most %v", n, want)
	}
}

func TestGemmPanicsOnBadArguments(t *testing.T) {
	buf := make([]float32, 6)
	for name, call := range map[string]func(){
		"negative m":    func() { Sgemm(1, false, false, -1, 2, 2, 1, buf, 2, buf, 2, 0, buf, 2) },
		"lda too small": func() { Sgemm(1, false, false, 2, 2, 3, 1, buf, 2, buf, 2, 0, buf, 2) },
		"A too short":   func() { Sgemm(1, false, false, 3, 2, 3, 1, buf, 3, buf, 2, 0, buf, 2) },
		"C too short":   func() { Sgemm(1, false, false, 2, 4, 1, 1, buf, 1, buf, 4, 0, buf, 4) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			call()
		}()
	}
}

func TestSelectBackend(t *testing.T) {
	if be, err := selectBackend("gonum"); err != nil || be.name() != "gonum (pure Go)" {
		t.Errorf(`selectBackend("gonum") = %v, %v`, be, err)
	}
	if _, err := selectBackend("mkl"); err == nil || !strings.Contains(err.Error(), `INITSCOPE_BLAS="mkl"`) {
		t.Errorf(`selectBackend("mkl") error = %v, want one naming the bad value`, err)
	}
	auto, err := selectBackend("auto")
	if err != nil {
		t.Fatalf(`selectBackend("auto"): %v`, err)
	}
	ob, obErr := selectBackend("openblas")
	if _, loadErr := loadOpenBLAS(); loadErr != nil {
		if obErr == nil || !strings.Contains(obErr.Error(), "INITSCOPE_BLAS=openblas") {
			t.Errorf(`selectBackend("openblas") without the library: error = %v`, obErr)
		}
		if auto.name() != "gonum (pure Go)" {
			t.Errorf("auto without OpenBLAS chose %q", auto.name())
		}
		return
	}
	if obErr != nil || !strings.HasPrefix(ob.name(), "openblas") || auto.name() != ob.name() {
		t.Errorf("with OpenBLAS: openblas -> %v, %v; auto -> %q", ob, obErr, auto.name())
	}
}

// TestBadEnvFallsBack checks that a bad INITSCOPE_BLAS makes Init fail
// and, for code that never calls Init, GEMM run on the pure-Go fallback,
// named as such, instead of panicking.
func TestBadEnvFallsBack(t *testing.T) {
	oldActive, oldErr := active, initErr
	t.Cleanup(func() {
		initOnce = sync.Once{}
		initOnce.Do(func() { active, initErr = oldActive, oldErr })
	})
	for _, value := range []string{"mkl", "OpenBLAS", " gonum", "openblas,gonum"} {
		t.Setenv(EnvBackend, value)
		initOnce = sync.Once{}
		a, b, c := []float64{1, 2, 3, 4}, []float64{5, 6, 7, 8}, make([]float64, 4)
		Dgemm(2, false, false, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2) // no Init first
		if !slices.Equal(c, []float64{19, 22, 43, 50}) {
			t.Errorf("%s=%q: product %v, want [19 22 43 50]", EnvBackend, value, c)
		}
		if got := Backend(); !strings.HasPrefix(got, "gonum (pure Go, the fallback: ") || !strings.Contains(got, "want auto, openblas or gonum") {
			t.Errorf("%s=%q: Backend() = %q, want the fallback and why", EnvBackend, value, got)
		}
		if err := Init(); err == nil || !strings.Contains(err.Error(), EnvBackend) {
			t.Errorf("%s=%q: Init() = %v, want an error naming the variable", EnvBackend, value, err)
		}
	}
}

func TestBackendNamesActive(t *testing.T) {
	useBackend(t, gonumBackend{})
	if got := Backend(); got != "gonum (pure Go)" {
		t.Errorf("Backend() = %q", got)
	}
}

func BenchmarkSgemm(b *testing.B) {
	const m, n, k = 128, 1000, 784
	rng := rand.New(rand.NewPCG(1, 2))
	x, w, y := randSlice[float32](rng, m*k), randSlice[float32](rng, n*k), make([]float32, m*n)
	for _, nb := range backends(b) {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d/%dx%dx%d", nb.name, threads, m, n, k), func(b *testing.B) {
				useBackend(b, nb.be)
				for b.Loop() {
					// The forward pass of a dense layer: y = x·wᵀ.
					Sgemm(threads, false, true, m, n, k, 1, x, k, w, k, 0, y, n)
				}
				b.ReportMetric(2*m*n*k*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
