package data

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadIDXDir(t *testing.T) {
	f := newFakeIDX()
	for _, compress := range []bool{false, true} {
		for _, name := range []string{"mnist", "fashion-mnist"} {
			t.Run(fmt.Sprintf("%s/gzip=%v", name, compress), func(t *testing.T) {
				dir := t.TempDir()
				f.write(t, dir, compress)
				train, test, err := Load(name, dir)
				if err != nil {
					t.Fatal(err)
				}
				if train.Dir != dir || train.Split != Train || test.Split != Test || train.Name != name {
					t.Errorf("got %s %s from %s, want %s train from %s", train.Name, train.Split, train.Dir, name, dir)
				}
				checkBytes(t, "train", train.Images, f.trainPix)
				checkBytes(t, "test", test.Images, f.testPix)
				if fmt.Sprint(train.Labels) != "[5 0 9]" || fmt.Sprint(test.Labels) != "[7 2]" {
					t.Errorf("labels %v %v, want [5 0 9] [7 2]", train.Labels, test.Labels)
				}
				x, label, err := Image(name, dir, Train, 2)
				if err != nil {
					t.Fatal(err)
				}
				if label != 9 || float32(x[5]) != train.Pixels(2)[5] {
					t.Errorf("Image: label %d, x[5] %v; want 9, %v", label, x[5], train.Pixels(2)[5])
				}
			})
		}
	}
}

// TestDirPrecedence checks that a dir argument beats the environment
// variable, which beats the default location.
func TestDirPrecedence(t *testing.T) {
	envDir, argDir := t.TempDir(), t.TempDir()
	newFakeIDX().write(t, envDir, true)
	g := newFakeIDX()
	g.testLabels = []byte{3, 3}
	g.write(t, argDir, false)
	t.Setenv("INITSCOPE_MNIST_DIR", envDir)
	_, test, err := Load("mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	if test.Dir != envDir {
		t.Errorf("read %s, want %s from INITSCOPE_MNIST_DIR", test.Dir, envDir)
	}
	_, label, err := Image("mnist", argDir, Test, 0)
	if err != nil {
		t.Fatal(err)
	}
	if label != 3 {
		t.Errorf("label %d: want 3 from the dir argument", label)
	}
}

// TestIDXErrors checks that each defect of an IDX file is reported with the
// file and what was expected, by Load and by Image.
func TestIDXErrors(t *testing.T) {
	f := newFakeIDX()
	images := idxBytes(idxImages, []int{3, 28, 28}, f.trainPix)
	labels := idxBytes(idxLabels, []int{3}, f.trainLabels)
	// item is an image Image must fail on, or -1 where the defect lies
	// beyond what Image reads.
	for _, c := range []struct {
		name           string
		images, labels []byte
		compress       bool
		item           int
		want           []string
	}{
		{"labels as images", labels, labels, false, 0, []string{"train-images-idx3-ubyte", "magic number 0x00000801 (IDX labels), want 0x00000803 (IDX images)"}},
		{"corrupt magic", append([]byte{0x12, 0x34}, images[2:]...), labels, false, 0, []string{"magic number 0x12340803"}},
		{"truncated", images[:len(images)-100], labels, false, 2, []string{"train-images-idx3-ubyte:", "truncated", "3 items of 28x28, so 2368 bytes", "ends after 2268"}},
		{"truncated gzip content", images[:len(images)-100], labels, true, 2, []string{"train-images-idx3-ubyte.gz (gzip; sizes are after decompression)", "2368 bytes", "ends after 2268"}},
		{"truncated header", images[:10], labels, false, 0, []string{"train-images-idx3-ubyte", "truncated: the file ends after 10 bytes, inside the 16-byte header"}},
		{"empty", nil, labels, false, 0, []string{"truncated: the file ends after 0 bytes, inside the 4-byte magic number"}},
		{"trailing bytes", append(images[:len(images):len(images)], 1, 2), labels, false, -1, []string{"3 items of 28x28, so 2368 bytes, but the file has 2370 (2 bytes too many)"}},
		{"count mismatch", images, idxBytes(idxLabels, []int{2}, f.trainLabels[:2]), false, 0, []string{"holds 3 images but", "train-labels-idx1-ubyte holds 2 labels"}},
		{"bad label", images, idxBytes(idxLabels, []int{3}, []byte{1, 10, 2}), false, 1, []string{"train-labels-idx1-ubyte", "label 10 of item 1 is out of range: want 0..9"}},
		{"wrong shape", idxBytes(idxImages, []int{3, 28, 27}, f.trainPix[:3*28*27]), labels, false, 0, []string{"images are 28x27, want 28x28 for mnist"}},
		{"zero dimension", idxBytes(idxImages, []int{3, 0, 28}, nil), labels, false, 0, []string{"dimension 2 is 0"}},
		{"huge dimensions", idxBytes(idxImages, []int{1 << 31, 1 << 31, 1 << 31}, nil), labels, false, 0, []string{"more than 4 GiB"}},
		{"huge count", idxBytes(idxImages, []int{1<<32 - 1, 1<<16 - 1, 1<<16 - 1}, nil), labels, false, 0, []string{"more data than a file can hold"}},
		{"no images", idxBytes(idxImages, []int{0, 28, 28}, nil), idxBytes(idxLabels, []int{0}, nil), false, 0, []string{"holds no images"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			f.write(t, dir, false)
			im, imName := c.images, "train-images-idx3-ubyte"
			if c.compress {
				os.Remove(filepath.Join(dir, imName))
				im, imName = gz(t, im), imName+".gz"
			}
			writeFile(t, dir, imName, im)
			writeFile(t, dir, "train-labels-idx1-ubyte", c.labels)
			_, _, err := Load("mnist", dir)
			wantErr(t, err, append([]string{"mnist train: "}, c.want...)...)
			if c.item >= 0 {
				_, _, err = Image("mnist", dir, Train, c.item)
				wantErr(t, err, fmt.Sprintf("mnist train image %d: ", c.item))
			}
		})
	}
}

func TestIDXGzipCorrupt(t *testing.T) {
	f := newFakeIDX()
	dir := t.TempDir()
	f.write(t, dir, true)
	p := filepath.Join(dir, "t10k-images-idx3-ubyte.gz")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "t10k-images-idx3-ubyte.gz", b[:len(b)/2])
	_, _, err = Load("mnist", dir)
	wantErr(t, err, "mnist test: ", p, "truncated", "1584 bytes")

	b[len(b)-6] ^= 0xff // the CRC-32 in the trailer
	writeFile(t, dir, "t10k-images-idx3-ubyte.gz", b)
	_, _, err = Load("mnist", dir)
	wantErr(t, err, p, "checksum")
}

func TestIDXMissing(t *testing.T) {
	dir := t.TempDir()
	_, _, err := Load("mnist", dir)
	wantErr(t, err, "mnist train: neither train-images-idx3-ubyte nor train-images-idx3-ubyte.gz is in "+dir)
	_, _, err = Image("fashion-mnist", dir, Test, 0)
	wantErr(t, err, "fashion-mnist test image 0: neither t10k-images-idx3-ubyte")
}

func TestFashionMissing(t *testing.T) {
	if hasIDX(fashionDebianDir) {
		t.Skip("Fashion-MNIST is installed")
	}
	t.Setenv("INITSCOPE_FASHION_MNIST_DIR", "")
	_, _, err := Load("fashion-mnist", "")
	wantErr(t, err, "dataset-fashion-mnist", "INITSCOPE_FASHION_MNIST_DIR")
}

// FuzzReadIDX checks that the IDX readers never panic, that they accept
// only streams of exactly the announced length, and that the single-item
// reader agrees with the full reader.
func FuzzReadIDX(f *testing.F) {
	f.Add(idxBytes(idxImages, []int{2, 2, 3}, pattern(12, 0)))
	f.Add(idxBytes(idxLabels, []int{3}, []byte{1, 2, 3}))
	f.Add(idxBytes(idxImages, []int{2, 2, 3}, pattern(11, 0)))
	f.Add(idxBytes(idxImages, []int{0, 28, 28}, nil))
	f.Add(idxBytes(idxImages, []int{1 << 20, 28, 28}, pattern(100, 0)))
	f.Add([]byte{0, 0, 8})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, magic := range []uint32{idxImages, idxLabels} {
			h, payload, err := readIDX(bytes.NewReader(b), magic)
			if err != nil {
				continue
			}
			if int64(len(b)) != h.size || len(payload) != h.dims[0]*h.item || len(h.dims) != int(magic&0xff) {
				t.Fatalf("accepted %d bytes as %d, dims %v, payload %d", len(b), h.size, h.dims, len(payload))
			}
			if h.dims[0] == 0 {
				continue
			}
			for _, i := range []int{0, h.dims[0] - 1} {
				_, item, err := readIDXItem(bytes.NewReader(b), magic, i)
				if err != nil {
					t.Fatalf("item %d: %v", i, err)
				}
				if !bytes.Equal(item, payload[i*h.item:(i+1)*h.item]) {
					t.Fatalf("item %d differs from the full read", i)
				}
			}
		}
		if _, _, err := readIDXItem(bytes.NewReader(b), idxImages, 1); err != nil && err.Error() == "" {
			t.Fatal("empty error")
		}
	})
}
