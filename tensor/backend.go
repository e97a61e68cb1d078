package tensor

import (
	"fmt"
	"os"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// EnvBackend is the environment variable that selects the BLAS backend:
// "auto" (or empty), "openblas" or "gonum".
const EnvBackend = "INITSCOPE_BLAS"

// blasBackend is one implementation of the GEMM kernels. Its methods receive
// arguments that checkGemm has validated, with m, n, k > 0 and alpha != 0.
type blasBackend interface {
	name() string
	sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int)
}

var (
	initOnce sync.Once
	active   blasBackend
	initErr  error
)

// Init selects the BLAS backend as INITSCOPE_BLAS asks, loading OpenBLAS if
// needed. It returns an error if the variable holds an unknown value or
// names a backend that cannot be loaded; the pure-Go backend then runs,
// and [Backend] says that it is a fallback and why. The choice is made once
// per process: later calls return the first call's result. Commands should
// call Init at start-up and report its error; library code that skips it
// gets the same choice, or the same fallback, from the first GEMM, which
// calls Init itself: no value of the variable makes a GEMM fail.
func Init() error {
	initOnce.Do(func() {
		active, initErr = selectBackend(os.Getenv(EnvBackend))
		if initErr != nil {
			active = gonumBackend{fallback: initErr.Error()}
		}
	})
	return initErr
}

// selectBackend returns the backend that the value of INITSCOPE_BLAS asks for.
func selectBackend(choice string) (blasBackend, error) {
	switch choice {
	case "", "auto":
		if ob, err := loadOpenBLAS(); err == nil {
			return ob, nil
		}
		return gonumBackend{}, nil
	case "openblas":
		ob, err := loadOpenBLAS()
		if err != nil {
			return nil, fmt.Errorf("%s=openblas: %w (install the Debian package libopenblas0, or set %s=gonum for the slower pure-Go BLAS)", EnvBackend, err, EnvBackend)
		}
		return ob, nil
	case "gonum":
		return gonumBackend{}, nil
	default:
		return nil, fmt.Errorf("%s=%q: want auto, openblas or gonum", EnvBackend, choice)
	}
}

// activeBackend returns the active backend, initializing it on first use
// (the pure-Go fallback if Init failed).
func activeBackend() blasBackend {
	Init()
	return active
}

// Backend names the BLAS backend that runs, for example
// "openblas 0.3.21 (SkylakeX)" or "gonum (pure Go)", and for the fallback
// after a failed [Init], why it runs. It calls Init.
func Backend() string { return activeBackend().name() }

// gonumBackend is gonum's pure-Go BLAS. fallback, when set, is the Init
// error that it stands in for.
type gonumBackend struct{ fallback string }

func (g gonumBackend) name() string {
	if g.fallback != "" {
		return "gonum (pure Go, the fallback: " + g.fallback + ")"
	}
	return "gonum (pure Go)"
}

func (gonumBackend) sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gonum.Implementation{}.Sgemm(gonumTrans(transA), gonumTrans(transB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func (gonumBackend) dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	gonum.Implementation{}.Dgemm(gonumTrans(transA), gonumTrans(transB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func gonumTrans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}
