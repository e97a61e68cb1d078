//go:build (darwin || freebsd || linux || netbsd) && !android && !faketime

package tensor

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// openBLASNames are the shared-library names tried, in order, by dlopen
// (which searches LD_LIBRARY_PATH and the system directories).
var openBLASNames = []string{"libopenblas.so.0", "libopenblas.so", "libopenblas.0.dylib", "libopenblas.dylib"}

// openBLAS calls OpenBLAS through its Fortran interface (sgemm_, dgemm_),
// whose arguments are all pointers, through the trampoline of cCall13. The
// cblas_ entry points take alpha and beta in vector registers, which only
// purego.RegisterFunc's reflection-based calls can pass, at several
// allocations a call.
type openBLAS struct {
	label            string
	sgemmFn, dgemmFn uintptr
	sArgs, dArgs     sync.Pool
}

// cCall13 is a call of a C function of 13 pointer arguments (see call).
// Its layout is known to ccall_amd64.s: fn at offset 0, args from 8.
type cCall13 struct {
	fn   uintptr
	args [13]unsafe.Pointer
}

// fortranArgs is one Fortran GEMM call: its scalar arguments, in
// column-major terms, and the call that points to them and to the
// matrices. Its address is handed to C, so it lives on the heap and is
// recycled through a sync.Pool.
type fortranArgs[T Float] struct {
	c              cCall13
	transA, transB byte
	m, n, k        int32
	lda, ldb, ldc  int32
	alpha, beta    T
}

// loadOpenBLAS opens the OpenBLAS shared library and resolves the symbols
// initscope needs. Unless the user set OPENBLAS_CORETYPE, it first sets it
// to the widest kernel family the CPU supports (see [kernelFamily]).
func loadOpenBLAS() (blasBackend, error) {
	if _, set := os.LookupEnv("OPENBLAS_CORETYPE"); !set {
		if family := kernelFamily(cpuFlags()); family != "" {
			if err := os.Setenv("OPENBLAS_CORETYPE", family); err != nil {
				return nil, fmt.Errorf("setting OPENBLAS_CORETYPE: %w", err)
			}
		}
	}
	var handle uintptr
	var errs []string
	for _, name := range openBLASNames {
		h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			handle = h
			break
		}
		errs = append(errs, err.Error())
	}
	if handle == 0 {
		return nil, fmt.Errorf("cannot load OpenBLAS (%s)", strings.Join(errs, "; "))
	}
	ob := &openBLAS{
		sArgs: sync.Pool{New: func() any { return new(fortranArgs[float32]) }},
		dArgs: sync.Pool{New: func() any { return new(fortranArgs[float64]) }},
	}
	var setThreads uintptr
	for _, s := range []struct {
		name string
		fn   *uintptr
	}{{"sgemm_", &ob.sgemmFn}, {"dgemm_", &ob.dgemmFn}, {"openblas_set_num_threads", &setThreads}} {
		fn, err := purego.Dlsym(handle, s.name)
		if err != nil {
			return nil, fmt.Errorf("OpenBLAS library lacks %s: %w", s.name, err)
		}
		*s.fn = fn
	}
	ob.label = "openblas" + describeOpenBLAS(handle)
	// Gemm splits products itself over the goroutines its caller allows.
	purego.SyscallN(setThreads, 1)
	return ob, nil
}

// kernelFamily names the OpenBLAS kernel family (a value of
// OPENBLAS_CORETYPE) that the given CPU feature flags support, or "" to let
// OpenBLAS decide. A DYNAMIC_ARCH OpenBLAS older than the CPU does not
// recognize it and falls back to SSE3 kernels: Debian's 0.3.21 picks
// "Prescott" on a Xeon of family 6 model 207 and runs float32 GEMM ten times
// slower than with its AVX-512 "SkylakeX" kernels. The families chosen here
// are the ones OpenBLAS itself uses for every CPU it knows with these
// features.
func kernelFamily(flags map[string]bool) string {
	switch {
	case flags["avx512f"] && flags["avx512cd"] && flags["avx512bw"] && flags["avx512dq"] && flags["avx512vl"]:
		return "SkylakeX"
	case flags["avx2"] && flags["fma"]:
		return "Haswell"
	}
	return ""
}

// cpuFlags returns the CPU feature flags that Linux lists in /proc/cpuinfo,
// or nil where that file does not exist.
func cpuFlags() map[string]bool {
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return nil
	}
	for line := range strings.Lines(string(info)) {
		key, value, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(key) != "flags" {
			continue
		}
		flags := make(map[string]bool)
		for _, f := range strings.Fields(value) {
			flags[f] = true
		}
		return flags
	}
	return nil
}

// describeOpenBLAS returns " VERSION (CORE)" from the library's own
// description, or as much of it as the library reports.
func describeOpenBLAS(handle uintptr) string {
	var desc string
	if sym, err := purego.Dlsym(handle, "openblas_get_config"); err == nil {
		var config func() string
		purego.RegisterFunc(&config, sym)
		// The configuration reads "OpenBLAS 0.3.21 DYNAMIC_ARCH ...".
		if f := strings.Fields(config()); len(f) > 1 && f[0] == "OpenBLAS" {
			desc = " " + f[1]
		}
	}
	if sym, err := purego.Dlsym(handle, "openblas_get_corename"); err == nil {
		var corename func() string
		purego.RegisterFunc(&corename, sym)
		if core := strings.TrimSpace(corename()); core != "" {
			desc += " (" + core + ")"
		}
	}
	return desc
}

func (ob *openBLAS) name() string { return ob.label }

func (ob *openBLAS) sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	fortranGemm(ob.sgemmFn, &ob.sArgs, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func (ob *openBLAS) dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	fortranGemm(ob.dgemmFn, &ob.dArgs, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// fortranGemm computes the row-major product with a column-major Fortran
// GEMM: row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, so the
// operands and their dimensions are swapped.
func fortranGemm[T Float](fn uintptr, pool *sync.Pool, transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	p := pool.Get().(*fortranArgs[T])
	*p = fortranArgs[T]{
		transA: transChar(transB), transB: transChar(transA),
		m: int32(n), n: int32(m), k: int32(k),
		lda: int32(ldb), ldb: int32(lda), ldc: int32(ldc),
		alpha: alpha, beta: beta,
	}
	p.c = cCall13{fn: fn, args: [13]unsafe.Pointer{
		unsafe.Pointer(&p.transA), unsafe.Pointer(&p.transB),
		unsafe.Pointer(&p.m), unsafe.Pointer(&p.n), unsafe.Pointer(&p.k),
		unsafe.Pointer(&p.alpha),
		unsafe.Pointer(unsafe.SliceData(b)), unsafe.Pointer(&p.lda),
		unsafe.Pointer(unsafe.SliceData(a)), unsafe.Pointer(&p.ldb),
		unsafe.Pointer(&p.beta),
		unsafe.Pointer(unsafe.SliceData(c)), unsafe.Pointer(&p.ldc),
	}}
	p.c.call()
	p.c = cCall13{} // let go of the matrices
	pool.Put(p)
}

// transChar is the Fortran transpose flag.
func transChar(t bool) byte {
	if t {
		return 'T'
	}
	return 'N'
}
