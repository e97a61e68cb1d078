//go:build !((darwin || freebsd || linux || netbsd) && !android && !faketime)

package tensor

import (
	"errors"
	"runtime"
)

// loadOpenBLAS reports that OpenBLAS cannot be loaded on this platform:
// purego's dlopen is not available here.
func loadOpenBLAS() (blasBackend, error) {
	return nil, errors.New("loading OpenBLAS is not supported on " + runtime.GOOS)
}
