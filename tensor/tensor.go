// Package tensor is the one place where initscope multiplies matrices.
//
// Every matrix product in the project goes through [Gemm] (or its
// monomorphic forms [Sgemm] and [Dgemm]). Behind it sits one of two
// backends, chosen once per process by [Init]:
//
//   - OpenBLAS, loaded at run time with purego (no cgo, no headers): the
//     fast path, several hundred GFLOP/s on a modern x86 core pair;
//   - gonum's pure-Go BLAS: always available, an order of magnitude slower.
//
// The environment variable INITSCOPE_BLAS selects the backend: "auto" (the
// default) uses OpenBLAS when the shared library can be loaded and gonum
// otherwise; "openblas" requires OpenBLAS and makes [Init] fail without it;
// "gonum" always uses the pure-Go code. [Backend] names the backend that
// runs, so that reports can say which one produced their numbers.
//
// All matrices are row-major: element (i, j) of a matrix with leading
// dimension ld is at index i*ld+j.
//
// There is no process-wide thread setting: every [Gemm] and [Parallel] call
// takes the number of goroutines it may use, so that a training run (2
// threads) and Monte Carlo workers (1 each) say what they need where they
// call, and neither can change the other's.
package tensor

import (
	"fmt"
	"sync"
)

// Float is the set of element types the GEMM entry point accepts: float32
// for training and network sampling, float64 for gradient checks and
// reference computations.
type Float interface {
	float32 | float64
}

// Gemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices, where
// op(X) is X, or its transpose when the corresponding trans flag is set.
// op(A) is m×k, op(B) is k×n and C is m×n; lda, ldb and ldc are the leading
// dimensions (row strides) of A, B and C as stored. When beta is zero, C is
// not read, so it may hold NaNs or garbage.
//
// Products large enough to pay for it are split into blocks of rows or
// columns of C computed concurrently on up to threads goroutines (threads
// < 1 counts as 1), as [Parallel] does.
//
// Gemm panics if a dimension is negative or above 2^31-1, a leading
// dimension is too small or too large, or a slice is too short: those are
// programming errors, never caused by input data. If [Init] failed, it
// computes on the pure-Go fallback (see Init); programs should call Init
// first and report its error. Gemm is safe for concurrent use.
func Gemm[T Float](threads int, transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	checkGemm(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleMatrix(m, n, beta, c, ldc)
		return
	}
	be := activeBackend()
	// Split the longer side of C into parts of at least minPartMACs
	// multiply-adds and minPartSide rows or columns.
	side := max(m, n)
	macs := float64(m) * float64(n) * float64(k) // as a float: it may overflow an int
	parts := min(freeParts(threads), side/minPartSide, int(min(macs/minPartMACs, maxDim)))
	if parts <= 1 {
		callBackend(be, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	pool := taskPool[T]()
	t := pool.Get().(*gemmTask[T])
	*t = gemmTask[T]{be: be, transA: transA, transB: transB, splitRows: m > n, m: m, n: n, k: k,
		alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	Parallel(threads, side, (side+parts-1)/parts, t)
	*t = gemmTask[T]{}
	pool.Put(t)
}

const (
	// minPartMACs is the least work, in multiply-adds, worth a goroutine of
	// its own: about ten microseconds.
	minPartMACs = 1 << 20
	// minPartSide is the fewest rows or columns of C in a part.
	minPartSide = 16
)

// callBackend hands a product to the backend's kernel for its element type.
func callBackend[T Float](be blasBackend, transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	switch a := any(a).(type) {
	case []float32:
		be.sgemm(transA, transB, m, n, k, any(alpha).(float32), a, lda, any(b).([]float32), ldb, any(beta).(float32), any(c).([]float32), ldc)
	case []float64:
		be.dgemm(transA, transB, m, n, k, any(alpha).(float64), a, lda, any(b).([]float64), ldb, any(beta).(float64), any(c).([]float64), ldc)
	}
}

// gemmTask is a product split into blocks of rows (splitRows) or columns
// of C, one per part of a Parallel call.
type gemmTask[T Float] struct {
	be                        blasBackend
	transA, transB, splitRows bool
	m, n, k                   int
	alpha, beta               T
	a, b, c                   []T
	lda, ldb, ldc             int
}

// Range computes rows or columns [lo, hi) of C.
func (t *gemmTask[T]) Range(lo, hi int) {
	m, n, a, b, c := t.m, t.n, t.a, t.b, t.c
	if t.splitRows {
		// Rows lo..hi of op(A) are rows of A, or columns if transposed.
		m, c = hi-lo, c[lo*t.ldc:]
		if t.transA {
			a = a[lo:]
		} else {
			a = a[lo*t.lda:]
		}
	} else {
		// Columns lo..hi of op(B) are columns of B, or rows if transposed.
		n, c = hi-lo, c[lo:]
		if t.transB {
			b = b[lo*t.ldb:]
		} else {
			b = b[lo:]
		}
	}
	callBackend(t.be, t.transA, t.transB, m, n, t.k, t.alpha, a, t.lda, b, t.ldb, t.beta, c, t.ldc)
}

// gemmTasks recycle the tasks of split products, one pool per element type.
var gemmTasks = [2]sync.Pool{
	{New: func() any { return new(gemmTask[float32]) }},
	{New: func() any { return new(gemmTask[float64]) }},
}

func taskPool[T Float]() *sync.Pool {
	var zero T
	if _, ok := any(zero).(float32); ok {
		return &gemmTasks[0]
	}
	return &gemmTasks[1]
}

// Sgemm is [Gemm] for float32 matrices.
func Sgemm(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	Gemm(threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dgemm is [Gemm] for float64 matrices.
func Dgemm(threads int, transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	Gemm(threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// scaleMatrix sets C = beta*C, writing zeros (not beta*C) when beta is zero
// so that NaNs in an unread C do not survive, as BLAS does.
func scaleMatrix[T Float](m, n int, beta T, c []T, ldc int) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// maxDim is the largest dimension or leading dimension the backends accept:
// OpenBLAS's Fortran interface takes 32-bit integers.
const maxDim = 1<<31 - 1

// checkGemm panics unless the arguments describe valid row-major operands:
// op(A) m×k, op(B) k×n and C m×n stored in slices of the given lengths.
func checkGemm(transA, transB bool, m, n, k, lenA, lda, lenB, ldb, lenC, ldc int) {
	if m < 0 || n < 0 || k < 0 || m > maxDim || n > maxDim || k > maxDim {
		panic(fmt.Sprintf("tensor: gemm dimensions m=%d n=%d k=%d must be in [0, %d]", m, n, k, maxDim))
	}
	rowsA, colsA := m, k
	if transA {
		rowsA, colsA = k, m
	}
	rowsB, colsB := k, n
	if transB {
		rowsB, colsB = n, k
	}
	checkOperand("A", rowsA, colsA, lenA, lda)
	checkOperand("B", rowsB, colsB, lenB, ldb)
	checkOperand("C", m, n, lenC, ldc)
}

// checkOperand panics unless a rows×cols row-major matrix with leading
// dimension ld fits in a slice of length n.
func checkOperand(name string, rows, cols, n, ld int) {
	if ld < max(1, cols) || ld > maxDim {
		panic(fmt.Sprintf("tensor: gemm: ld%s=%d, want from max(1, %d) columns to %d", name, ld, cols, maxDim))
	}
	if rows > 0 && cols > 0 && n < (rows-1)*ld+cols {
		panic(fmt.Sprintf("tensor: gemm: %s has %d elements, a %d×%d matrix with leading dimension %d needs %d", name, n, rows, cols, ld, (rows-1)*ld+cols))
	}
}
