package data

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

func TestNames(t *testing.T) {
	if got := fmt.Sprint(Names()); got != "[mnist fashion-mnist cifar10]" {
		t.Errorf("Names: %s", got)
	}
	for _, c := range []struct {
		name          string
		c, h, w, size int
	}{{"mnist", 1, 28, 28, 784}, {"fashion-mnist", 1, 28, 28, 784}, {"cifar10", 3, 32, 32, 3072}} {
		in, err := Describe(c.name)
		if err != nil {
			t.Fatal(err)
		}
		if in.Name != c.name || in.C != c.c || in.H != c.h || in.W != c.w || in.Size() != c.size || in.Classes != 10 || len(in.ClassNames) != 10 {
			t.Errorf("Describe(%s) = %+v", c.name, in)
		}
	}
	_, err := Describe("cifar100")
	wantErr(t, err, `data set "cifar100": want one of mnist, fashion-mnist, cifar10`)
	_, _, err = Load("MNIST", "")
	wantErr(t, err, `data set "MNIST"`)
	_, _, err = Image("svhn", "", Test, 0)
	wantErr(t, err, `data set "svhn"`)
	_, _, err = Image("mnist", "", Test, -1)
	wantErr(t, err, "mnist test image -1: index must be >= 0")
}

func TestParse(t *testing.T) {
	for _, s := range []Split{Train, Test} {
		got, err := ParseSplit(s.String())
		if err != nil || got != s {
			t.Errorf("ParseSplit(%q) = %v, %v", s, got, err)
		}
	}
	_, err := ParseSplit("val")
	wantErr(t, err, `split "val": want train or test`)
	if got := Split(7).String(); got != "Split(7)" {
		t.Errorf("Split(7).String() = %s", got)
	}
	for _, n := range []Norm{Unit, Standardize} {
		got, err := ParseNorm(string(n))
		if err != nil || got != n {
			t.Errorf("ParseNorm(%q) = %v, %v", n, got, err)
		}
	}
	_, err = ParseNorm("zscore")
	wantErr(t, err, `normalization "zscore": want unit or standardize`)
}

// loadFakeCIFAR loads the generated CIFAR-10 files.
func loadFakeCIFAR(t *testing.T) (train, test *Dataset) {
	t.Helper()
	train, test, err := Load("cifar10", writeCIFAR(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	return train, test
}

func TestBatch(t *testing.T) {
	train, _ := loadFakeCIFAR(t)
	n := train.Size()
	idx := []int{7, 0, 7}
	x := make([]float32, len(idx)*n)
	y := make([]int, len(idx))
	if err := train.Batch(idx, x, y); err != nil {
		t.Fatal(err)
	}
	for k, i := range idx {
		if !slices.Equal(x[k*n:(k+1)*n], train.Pixels(i)) || y[k] != train.Labels[i] {
			t.Errorf("batch item %d differs from image %d", k, i)
		}
	}
	if err := train.Batch(idx[:1], x[:n], nil); err != nil {
		t.Fatal(err)
	}
	wantErr(t, train.Batch(idx, x[:n], y), "cifar10 train batch: x has 3072 values, want 9216 (3 images of 3072)")
	wantErr(t, train.Batch(idx, x, y[:2]), "y has 2 labels, want 3")
	wantErr(t, train.Batch([]int{0, 10}, x[:2*n], nil), "index 10 at position 1, want 0..9")
	wantErr(t, train.Batch([]int{-1}, x[:n], nil), "index -1 at position 0")
}

// TestNormalize checks per-channel standardization against statistics
// computed here from the bytes, and that Unit undoes it.
func TestNormalize(t *testing.T) {
	train, test := loadFakeCIFAR(t)
	orig := slices.Clone(test.Images)

	// Reference: mean and population std of each channel over the training
	// bytes divided by 255.
	var want [3]struct{ mean, std float64 }
	for c := range 3 {
		var s, s2, n float64
		for i := range train.Len() {
			for _, b := range cifarImage(i)[c*1024 : (c+1)*1024] {
				v := float64(b) / 255
				s += v
				s2 += v * v
				n++
			}
		}
		want[c].mean = s / n
		want[c].std = math.Sqrt(s2/n - want[c].mean*want[c].mean)
	}

	if err := Normalize(Standardize, train, test); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*Dataset{train, test} {
		if d.Norm != Standardize || len(d.Mean) != 3 || len(d.Std) != 3 {
			t.Fatalf("%s: norm %s, mean %v, std %v", d.Split, d.Norm, d.Mean, d.Std)
		}
		for c := range 3 {
			// The values are float32, so agreement is to float32 precision.
			if !scalar.EqualWithinRel(d.Mean[c], want[c].mean, 1e-7) || !scalar.EqualWithinRel(d.Std[c], want[c].std, 1e-7) {
				t.Errorf("%s channel %d: mean %v std %v, want %v %v", d.Split, c, d.Mean[c], d.Std[c], want[c].mean, want[c].std)
			}
		}
	}
	// The test split uses the training statistics.
	for c := range 3 {
		i := c*1024 + 5
		if got, w := float64(test.Images[i]), (float64(orig[i])-want[c].mean)/want[c].std; !scalar.EqualWithinAbs(got, w, 1e-6) {
			t.Errorf("test value %d: %v, want %v", i, got, w)
		}
	}
	// The training split now has mean 0 and std 1 in each channel.
	mean, std, err := channelStats(train)
	if err != nil {
		t.Fatal(err)
	}
	for c := range 3 {
		if !scalar.EqualWithinAbs(mean[c], 0, 1e-6) || !scalar.EqualWithinAbs(std[c], 1, 1e-6) {
			t.Errorf("standardized channel %d: mean %v std %v", c, mean[c], std[c])
		}
	}
	// Standardizing again changes nothing beyond rounding.
	if err := Normalize(Standardize, train, test); err != nil {
		t.Fatal(err)
	}
	if !scalar.EqualWithinRel(test.Mean[1], want[1].mean, 1e-6) {
		t.Errorf("restandardized mean %v, want %v", test.Mean[1], want[1].mean)
	}
	if err := Normalize(Unit, train, test); err != nil {
		t.Fatal(err)
	}
	if test.Norm != Unit || test.Mean != nil || test.Std != nil {
		t.Errorf("after Unit: norm %s, mean %v, std %v", test.Norm, test.Mean, test.Std)
	}
	for i, v := range orig {
		if !scalar.EqualWithinAbs(float64(test.Images[i]), float64(v), 1e-6) {
			t.Fatalf("value %d after a round trip: %v, want %v", i, test.Images[i], v)
		}
	}
}

func TestNormalizeErrors(t *testing.T) {
	train, test := loadFakeCIFAR(t)
	wantErr(t, Normalize("zscore", train), `normalization "zscore"`)
	wantErr(t, Normalize(Standardize, test, train), "statistics must come from a training split, got cifar10 test")
	gray := &Dataset{Info: Info{Name: "mnist", C: 1, H: 28, W: 28}, Split: Test}
	wantErr(t, Normalize(Standardize, train, gray), "mnist has 1 channels but cifar10 has 3")
	short := &Dataset{Info: train.Info, Split: Test, Labels: []int{1}, Images: make([]float32, 5)}
	wantErr(t, Normalize(Standardize, train, short), "cifar10 test has 5 values, want 3072 (1 images of 3072)")
	if train.Norm != Unit || test.Norm != Unit {
		t.Errorf("rejected calls changed the data: %s %s", train.Norm, test.Norm)
	}

	flat := &Dataset{Info: Info{Name: "flat", C: 1, H: 1, W: 2}, Labels: []int{0, 1}, Images: []float32{0.5, 0.5, 0.5, 0.5}}
	wantErr(t, Normalize(Standardize, flat), "channel 0 of flat train is constant")
	wantErr(t, Normalize(Standardize, &Dataset{Info: flat.Info}), "the training split is empty")
}
