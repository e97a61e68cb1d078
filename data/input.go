package data

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/initscope/initscope/limits"
)

// GaussianSeed seeds the fixed "gaussian" input of FixedInput, so that every
// run sees the same x.
const GaussianSeed = 20180301

// InputError reports a fixed-input name that FixedInput cannot use: an
// unknown form, a bad image index or a size that does not match. Failures to
// read a data set are other errors.
type InputError struct {
	Name string // the input name as given
	Msg  string // what is wrong with it
}

func (e *InputError) Error() string { return fmt.Sprintf("%q: %s", e.Name, e.Msg) }

// TestImages is the number of images in the test split of each data set:
// MNIST, Fashion-MNIST and CIFAR-10 all have 10000.
const TestImages = 10000

// FixedInput returns the fixed input called name, of size values: "ones",
// "gaussian" (standard normal entries from GaussianSeed) or DATASET:K, test
// image K of a data set (pixels scaled to [0,1]) read from dir as Image reads
// it, whose size must match. K is written in decimal without sign or leading
// zeros and is below TestImages. A name that is malformed, unknown, out of
// range or of the wrong size gives an *InputError, whose message names the
// valid values; a data set that cannot be read (including files with fewer
// test images than the canonical ones), the error from Image; an input
// larger than the memory the process may use, a *limits.Error.
func FixedInput(name, dir string, size int) ([]float64, error) {
	if err := limits.Check(fmt.Sprintf("an input of %d values in float64", size), 8*int64(size)); err != nil {
		return nil, err
	}
	x := make([]float64, size)
	switch name {
	case "ones":
		for i := range x {
			x[i] = 1
		}
		return x, nil
	case "gaussian":
		r := rand.New(rand.NewPCG(GaussianSeed, 0))
		for i := range x {
			x[i] = r.NormFloat64()
		}
		return x, nil
	}
	ds, idx, found := strings.Cut(name, ":")
	info, err := Describe(ds)
	if !found || err != nil {
		return nil, &InputError{name, fmt.Sprintf("want ones, gaussian or DATASET:K with DATASET one of %s", strings.Join(Names(), ", "))}
	}
	k, err := strconv.Atoi(idx)
	if err != nil || k < 0 || k >= TestImages || strconv.Itoa(k) != idx {
		return nil, &InputError{name, fmt.Sprintf("image index %q: the %s test set has %d images: want %s:K with K one of 0, 1, ..., %d",
			idx, ds, TestImages, ds, TestImages-1)}
	}
	if info.Size() != size {
		return nil, &InputError{name, fmt.Sprintf("a %s image has %d values but the net's input has %d", ds, info.Size(), size)}
	}
	x, _, err = Image(ds, dir, Test, k)
	return x, err
}

// InputMoments returns the moments of an input x that the theory takes: M0 =
// ||x||_2^2/len(x) and L4 = ||x||_4^4/||x||_2^4. Both are 0 when x is empty
// or all zeros.
func InputMoments(x []float64) (m0, l4 float64) {
	var s2, s4 float64
	for _, v := range x {
		s2 += v * v
		s4 += v * v * v * v
	}
	if s2 == 0 {
		return 0, 0
	}
	return s2 / float64(len(x)), s4 / (s2 * s2)
}
