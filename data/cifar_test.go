package data

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// cifarImage returns the pixels of a test image whose channels differ in
// range: 0..255, 0..127 and 0..63.
func cifarImage(seed int) []byte {
	b := pattern(cifarPixels, seed)
	for i := range b {
		b[i] >>= i / 1024
	}
	return b
}

// cifarBytes encodes CIFAR-10 records with the given labels; the pixels of
// record i are cifarImage(seed+i).
func cifarBytes(seed int, labels ...byte) []byte {
	var b []byte
	for i, l := range labels {
		b = append(b, l)
		b = append(b, cifarImage(seed+i)...)
	}
	return b
}

// writeCIFAR writes five training batches of 2 records and a test batch of
// 3 into dir/cifar-10-batches-bin and returns that directory.
func writeCIFAR(t *testing.T, dir string) string {
	t.Helper()
	sub := filepath.Join(dir, cifarSubdir)
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for k := range 5 {
		writeFile(t, sub, fmt.Sprintf("data_batch_%d.bin", k+1), cifarBytes(2*k, byte(2*k), byte(2*k+1)))
	}
	writeFile(t, sub, "test_batch.bin", cifarBytes(100, 3, 1, 4))
	return sub
}

func TestLoadCIFAR(t *testing.T) {
	parent := t.TempDir()
	sub := writeCIFAR(t, parent)
	for _, dir := range []string{parent, sub} {
		train, test, err := Load("cifar10", dir)
		if err != nil {
			t.Fatal(err)
		}
		if train.Dir != sub || train.C != 3 || train.H != 32 || train.W != 32 || train.Size() != 3072 {
			t.Errorf("got %dx%dx%d from %s, want 3x32x32 from %s", train.C, train.H, train.W, train.Dir, sub)
		}
		if train.Len() != 10 || test.Len() != 3 {
			t.Fatalf("got %d and %d images, want 10 and 3", train.Len(), test.Len())
		}
		if fmt.Sprint(train.Labels) != "[0 1 2 3 4 5 6 7 8 9]" || fmt.Sprint(test.Labels) != "[3 1 4]" {
			t.Errorf("labels %v %v", train.Labels, test.Labels)
		}
		for i := range train.Len() {
			checkBytes(t, fmt.Sprintf("train image %d", i), train.Pixels(i), cifarImage(i))
		}
		checkBytes(t, "test image 2", test.Pixels(2), cifarImage(102))
		if train.ClassNames[train.Labels[3]] != "cat" {
			t.Errorf("class 3 is %s, want cat", train.ClassNames[3])
		}
	}
	// Image counts across batch files: image 7 is the second of batch 4.
	for _, c := range []struct {
		split        Split
		index, label int
		seed         int
	}{{Train, 0, 0, 0}, {Train, 7, 7, 7}, {Train, 9, 9, 9}, {Test, 2, 4, 102}} {
		x, label, err := Image("cifar10", parent, c.split, c.index)
		if err != nil {
			t.Fatal(err)
		}
		want := cifarImage(c.seed)
		if label != c.label || len(x) != len(want) {
			t.Fatalf("%s image %d: label %d, %d values; want %d, %d", c.split, c.index, label, len(x), c.label, len(want))
		}
		for i, v := range want {
			if x[i] != float64(v)/255 {
				t.Fatalf("%s image %d: value %d is %v, want %v", c.split, c.index, i, x[i], float64(v)/255)
			}
		}
	}
	_, _, err := Image("cifar10", sub, Train, 10)
	wantErr(t, err, "cifar10 train image 10 does not exist: the split has 10")
}

func TestCIFARErrors(t *testing.T) {
	t.Setenv("INITSCOPE_CIFAR10_DIR", "")
	_, _, err := Load("cifar10", "")
	wantErr(t, err, "cifar10: no directory given", "cifar-10-binary.tar.gz", "data_batch_1.bin", "test_batch.bin", "INITSCOPE_CIFAR10_DIR")
	_, _, err = Image("cifar10", "", Test, 0)
	wantErr(t, err, "cifar-10-binary.tar.gz")

	empty := t.TempDir()
	_, _, err = Load("cifar10", empty)
	wantErr(t, err, "cifar10 train: data_batch_1.bin is not in "+empty, "cifar-10-binary.tar.gz")

	for _, c := range []struct {
		name, file string
		content    []byte
		item       int // an image Image must fail on
		want       []string
	}{
		{"truncated", "data_batch_3.bin", cifarBytes(0, 1, 2)[:2*cifarRecord-5], 4, []string{"cifar10 train", "data_batch_3.bin", "size 6141 bytes is not a positive multiple of the 3073-byte record"}},
		{"empty", "test_batch.bin", nil, 0, []string{"cifar10 test", "test_batch.bin", "size 0 bytes"}},
		{"bad label", "data_batch_2.bin", cifarBytes(0, 1, 10), 3, []string{"data_batch_2.bin", "label 10 of item 1 is out of range: want 0..9"}},
		{"missing batch", "data_batch_5.bin", nil, 8, []string{"data_batch_5.bin"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeCIFAR(t, t.TempDir())
			if c.name == "missing batch" {
				os.Remove(filepath.Join(dir, c.file))
			} else {
				writeFile(t, dir, c.file, c.content)
			}
			_, _, err := Load("cifar10", dir)
			wantErr(t, err, c.want...)
			split := Train
			if c.file == "test_batch.bin" {
				split = Test
			}
			_, _, err = Image("cifar10", dir, split, c.item)
			wantErr(t, err, append([]string{fmt.Sprintf("cifar10 %s image %d: ", split, c.item)}, c.want[len(c.want)-1])...)
		})
	}
}

// FuzzParseCIFAR checks that the CIFAR-10 parser never panics and accepts
// only whole records with labels 0..9.
func FuzzParseCIFAR(f *testing.F) {
	f.Add(cifarBytes(0, 3, 9))
	f.Add(cifarBytes(0, 10))
	f.Add(cifarBytes(0, 1)[:100])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		pix, labels, err := parseCIFAR(b, []byte{7}, []int{7})
		if err != nil {
			return
		}
		n := len(b) / cifarRecord
		if len(b)%cifarRecord != 0 || n == 0 || len(pix) != 1+n*cifarPixels || len(labels) != 1+n {
			t.Fatalf("accepted %d bytes: %d pixels, %d labels", len(b), len(pix), len(labels))
		}
		for i, l := range labels[1:] {
			if l < 0 || l > 9 || l != int(b[i*cifarRecord]) {
				t.Fatalf("label %d is %d, file says %d", i, l, b[i*cifarRecord])
			}
		}
	})
}
