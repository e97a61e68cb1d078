package data

import (
	"errors"
	"fmt"
	"math"
)

// Norm is a normalization of the pixel values (see the package
// documentation).
type Norm string

const (
	// Unit maps each pixel byte b to float32(b)/255, in [0,1]. Load returns
	// data sets in this mode.
	Unit Norm = "unit"
	// Standardize maps each value x of channel c to (x-mean[c])/std[c], with
	// the mean and population standard deviation of channel c over the
	// training split in Unit mode.
	Standardize Norm = "standardize"
)

// ParseNorm parses "unit" or "standardize".
func ParseNorm(s string) (Norm, error) {
	switch n := Norm(s); n {
	case Unit, Standardize:
		return n, nil
	}
	return "", fmt.Errorf("normalization %q: want %s or %s", s, Unit, Standardize)
}

// Normalize puts train and each of others in the given mode. For
// Standardize, the per-channel statistics come from train, which must be a
// training split, and are applied unchanged to the others (typically the
// test split); they are recorded in each data set's Mean and Std. Unit undoes
// a standardization. Normalizing to the current mode changes nothing beyond
// float32 rounding. Arguments that do not fit (a test split as train,
// different channel counts) are rejected before anything changes; a constant
// training channel is reported after all are back in Unit mode.
func Normalize(mode Norm, train *Dataset, others ...*Dataset) error {
	if _, err := ParseNorm(string(mode)); err != nil {
		return err
	}
	if train.Split != Train {
		return fmt.Errorf("normalize: statistics must come from a training split, got %s %s", train.Name, train.Split)
	}
	all := append([]*Dataset{train}, others...)
	for _, d := range all {
		if d.C != train.C {
			return fmt.Errorf("normalize: %s has %d channels but %s has %d", d.Name, d.C, train.Name, train.C)
		}
		if want := d.Len() * d.Size(); len(d.Images) != want {
			return fmt.Errorf("normalize: %s %s has %d values, want %d (%d images of %d)", d.Name, d.Split, len(d.Images), want, d.Len(), d.Size())
		}
	}
	for _, d := range all {
		if d.Norm == Standardize {
			d.affine(d.Std, d.Mean)
		}
		d.Norm, d.Mean, d.Std = Unit, nil, nil
	}
	if mode == Unit {
		return nil
	}
	mean, std, err := channelStats(train)
	if err != nil {
		return err
	}
	scale := make([]float64, len(mean))
	shift := make([]float64, len(mean))
	for c := range mean {
		scale[c] = 1 / std[c]
		shift[c] = -mean[c] / std[c]
	}
	for _, d := range all {
		d.affine(scale, shift)
		d.Norm, d.Mean, d.Std = Standardize, mean, std
	}
	return nil
}

// affine maps each value x of channel c to x*scale[c] + shift[c].
func (d *Dataset) affine(scale, shift []float64) {
	hw := d.H * d.W
	for start := 0; start < len(d.Images); start += hw {
		c := start / hw % d.C
		plane := d.Images[start : start+hw]
		for i, x := range plane {
			plane[i] = float32(float64(x)*scale[c] + shift[c])
		}
	}
}

// channelStats returns the mean and population standard deviation of each
// channel of d over all its images, computed in float64 in two passes.
func channelStats(d *Dataset) (mean, std []float64, err error) {
	if d.Len() == 0 {
		return nil, nil, errors.New("normalize: the training split is empty")
	}
	hw := d.H * d.W
	mean = make([]float64, d.C)
	std = make([]float64, d.C)
	count := float64(d.Len() * hw)
	for start := 0; start < len(d.Images); start += hw {
		c := start / hw % d.C
		for _, x := range d.Images[start : start+hw] {
			mean[c] += float64(x)
		}
	}
	for c := range mean {
		mean[c] /= count
	}
	for start := 0; start < len(d.Images); start += hw {
		c := start / hw % d.C
		for _, x := range d.Images[start : start+hw] {
			dx := float64(x) - mean[c]
			std[c] += dx * dx
		}
	}
	for c := range std {
		std[c] = math.Sqrt(std[c] / count)
		if std[c] == 0 {
			return nil, nil, fmt.Errorf("normalize: channel %d of %s %s is constant, so it cannot be standardized", c, d.Name, d.Split)
		}
	}
	return mean, std, nil
}
