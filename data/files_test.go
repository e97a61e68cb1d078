package data

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestCIFARNotRegular checks that a CIFAR-10 batch file that is a symbolic
// link to /dev/zero, a FIFO or a file larger than a batch is refused by
// name, without reading it (a FIFO would block, /dev/zero never end).
func TestCIFARNotRegular(t *testing.T) {
	for _, c := range []struct {
		name string
		make func(path string) error
		says string
	}{
		{"zero", func(p string) error { return os.Symlink("/dev/zero", p) }, "not a regular file (a character device)"},
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) }, "not a regular file (a named pipe)"},
		{"huge", func(p string) error {
			f, err := os.Create(p)
			if err == nil {
				err = f.Truncate(cifarBatchBytes + cifarRecord) // sparse: no disk used
				f.Close()
			}
			return err
		}, "more than the 29.3 MiB a file of this kind may hold"},
	} {
		sub := writeCIFAR(t, t.TempDir())
		for _, name := range []string{"data_batch_2.bin", "test_batch.bin"} {
			p := filepath.Join(sub, name)
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := c.make(p); err != nil {
				t.Skipf("%s: %v", c.name, err)
			}
		}
		_, _, err := Load("cifar10", sub)
		wantErr(t, err, "cifar10 train", "data_batch_2.bin", c.says)
		_, _, err = Image("cifar10", sub, Test, 0)
		wantErr(t, err, "cifar10 test", "test_batch.bin", c.says)
	}
}

// TestIDXNotRegular checks that an IDX file that is a symbolic link to
// /dev/zero or a FIFO is refused by name, without reading it.
func TestIDXNotRegular(t *testing.T) {
	for _, c := range []struct {
		name string
		make func(path string) error
		says string
	}{
		{"zero", func(p string) error { return os.Symlink("/dev/zero", p) }, "not a regular file (a character device)"},
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) }, "not a regular file (a named pipe)"},
	} {
		dir := t.TempDir()
		newFakeIDX().write(t, dir, false)
		p := filepath.Join(dir, "t10k-labels-idx1-ubyte")
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := c.make(p); err != nil {
			t.Skipf("%s: %v", c.name, err)
		}
		_, _, err := Load("mnist", dir)
		wantErr(t, err, "t10k-labels-idx1-ubyte", c.says)
		_, _, err = Image("mnist", dir, Test, 0)
		wantErr(t, err, "t10k-labels-idx1-ubyte", c.says)
	}
}

// TestIDXBomb checks that a gzipped IDX file whose header announces far
// more than memory holds (635 TiB of images, compressed to a few bytes) is
// refused with the memory estimate before its payload is read.
func TestIDXBomb(t *testing.T) {
	dir := t.TempDir()
	newFakeIDX().write(t, dir, false)
	bomb := idxBytes(idxImages, []int{1<<31 - 1, 255, 255}, make([]byte, 1<<16))
	if err := os.Remove(filepath.Join(dir, "train-images-idx3-ubyte")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "train-images-idx3-ubyte.gz", gz(t, bomb))
	_, _, err := Load("mnist", dir)
	wantErr(t, err, "train-images-idx3-ubyte.gz", "needs about 635.", "TiB", "this process may use")
}
