package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// idxBytes encodes an IDX file of unsigned bytes.
func idxBytes(magic uint32, dims []int, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, payload...)
}

// gz compresses b.
func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := gzip.NewWriter(&buf)
	if _, err := z.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeFile writes b to dir/name.
func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pattern returns n bytes that differ from image to image and pixel to pixel.
func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((i*7 + seed*31) % 256)
	}
	return b
}

// fakeIDX is a small MNIST-like data set written to a directory.
type fakeIDX struct {
	trainPix, testPix       []byte
	trainLabels, testLabels []byte
}

// newFakeIDX returns 3 training and 2 test images of 28x28.
func newFakeIDX() fakeIDX {
	return fakeIDX{
		trainPix:    pattern(3*784, 1),
		testPix:     pattern(2*784, 2),
		trainLabels: []byte{5, 0, 9},
		testLabels:  []byte{7, 2},
	}
}

// write writes the four files into dir, gzipped if compress.
func (f fakeIDX) write(t testing.TB, dir string, compress bool) {
	t.Helper()
	files := map[string][]byte{
		"train-images-idx3-ubyte": idxBytes(idxImages, []int{len(f.trainLabels), 28, 28}, f.trainPix),
		"train-labels-idx1-ubyte": idxBytes(idxLabels, []int{len(f.trainLabels)}, f.trainLabels),
		"t10k-images-idx3-ubyte":  idxBytes(idxImages, []int{len(f.testLabels), 28, 28}, f.testPix),
		"t10k-labels-idx1-ubyte":  idxBytes(idxLabels, []int{len(f.testLabels)}, f.testLabels),
	}
	for name, b := range files {
		if compress {
			writeFile(t, dir, name+".gz", gz(t, b))
		} else {
			writeFile(t, dir, name, b)
		}
	}
}

// checkBytes checks that got, the float32 values of a data set, are b/255.
func checkBytes(t *testing.T, what string, got []float32, b []byte) {
	t.Helper()
	if len(got) != len(b) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(b))
	}
	for i, v := range b {
		if want := float32(v) / 255; got[i] != want {
			t.Fatalf("%s: value %d is %v, want %v", what, i, got[i], want)
		}
	}
}

// byteSum returns the sum of the pixel bytes behind Unit-scaled values.
func byteSum(x []float32) int64 {
	var s int64
	for _, v := range x {
		s += int64(math.Round(float64(v) * 255))
	}
	return s
}

// wantErr checks that err is non-nil and contains every one of parts.
func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}
