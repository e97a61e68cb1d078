package data

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/initscope/initscope/limits"
)

// CIFAR-10 binary version: each record is 1 label byte followed by the 1024
// red, 1024 green and 1024 blue bytes of a 32x32 image, rows in order: the
// pixels are already C x H x W.
const (
	cifarPixels = 3 * 32 * 32
	cifarRecord = 1 + cifarPixels
	// cifarBatchBytes is the size of a batch file of the canonical data
	// set, 10000 records, and the most a batch file may hold.
	cifarBatchBytes = 10000 * cifarRecord
	// cifarClasses is the number of classes; labels are 0..9.
	cifarClasses = 10
	// cifarSubdir is the directory the CIFAR-10 archive unpacks to.
	cifarSubdir = "cifar-10-batches-bin"
	// cifarHelp says how to get the files.
	cifarHelp = "CIFAR-10 is not bundled: download the binary version " +
		"(https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz), unpack it, " +
		"and pass its " + cifarSubdir + " directory (data_batch_1.bin ... data_batch_5.bin and test_batch.bin) " +
		"or set INITSCOPE_CIFAR10_DIR"
)

// cifarMissing is the default location of CIFAR-10: none.
func cifarMissing() (string, error) {
	return "", errors.New("no directory given: " + cifarHelp)
}

// cifarFiles returns the paths of the batch files of a split in dir, which
// may be the cifar-10-batches-bin directory itself or its parent.
func cifarFiles(dir string, split Split) ([]string, error) {
	names := []string{"test_batch.bin"}
	if split == Train {
		names = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}
	}
	if _, err := os.Stat(filepath.Join(dir, names[0])); err != nil {
		if _, err := os.Stat(filepath.Join(dir, cifarSubdir, names[0])); err != nil {
			return nil, fmt.Errorf("%s is not in %s nor in %s: %s", names[0], dir, filepath.Join(dir, cifarSubdir), cifarHelp)
		}
		dir = filepath.Join(dir, cifarSubdir)
	}
	paths := make([]string, len(names))
	for i, name := range names {
		paths[i] = filepath.Join(dir, name)
	}
	return paths, nil
}

// checkCIFARSize checks that a batch file of size bytes holds whole records.
func checkCIFARSize(size int64) error {
	if size == 0 || size%cifarRecord != 0 {
		return fmt.Errorf("size %d bytes is not a positive multiple of the %d-byte record (1 label byte + %d pixel bytes): truncated, or not the CIFAR-10 binary version", size, cifarRecord, cifarPixels)
	}
	return nil
}

// parseCIFAR checks the content of one batch file and appends its pixels to
// pix and its labels to labels.
func parseCIFAR(b []byte, pix []byte, labels []int) ([]byte, []int, error) {
	if err := checkCIFARSize(int64(len(b))); err != nil {
		return nil, nil, err
	}
	n := len(b) / cifarRecord
	lab := make([]byte, n)
	for i := range n {
		rec := b[i*cifarRecord : (i+1)*cifarRecord]
		lab[i] = rec[0]
		pix = append(pix, rec[1:]...)
	}
	l, err := checkLabels(lab, 0, cifarClasses)
	if err != nil {
		return nil, nil, err
	}
	return pix, append(labels, l...), nil
}

// loadCIFAR decodes one split of CIFAR-10 from dir.
func loadCIFAR(info Info, dir string, split Split) (*Dataset, error) {
	paths, err := cifarFiles(dir, split)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", info.Name, split, err)
	}
	if err := checkCIFARMemory(paths); err != nil {
		return nil, fmt.Errorf("%s %s: %w", info.Name, split, err)
	}
	var pix []byte
	var labels []int
	for _, p := range paths {
		b, err := limits.ReadFile(p, cifarBatchBytes)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", info.Name, split, err)
		}
		if pix, labels, err = parseCIFAR(b, pix, labels); err != nil {
			return nil, fmt.Errorf("%s %s: %s: %w", info.Name, split, p, err)
		}
	}
	return newDataset(info, filepath.Dir(paths[0]), split, pix, labels), nil
}

// checkCIFARMemory checks the memory that reading the batch files at
// paths takes (limits.Check): one file's bytes at a time, and each record's
// pixels as bytes and as float32 with its label. Files that cannot be
// sized count as full batches; reading them reports their errors.
func checkCIFARMemory(paths []string) error {
	var records int64
	for _, p := range paths {
		size := int64(cifarBatchBytes)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			size = min(size, fi.Size())
		}
		records += size / cifarRecord
	}
	return limits.Check(fmt.Sprintf("%d images of %d pixels as bytes and as float32", records, cifarPixels),
		cifarBatchBytes+records*(5*cifarPixels+9))
}

// itemCIFAR reads record index of one split of CIFAR-10 from dir, counting
// across the batch files in order, and returns its pixels and label.
func itemCIFAR(info Info, dir string, split Split, index int) ([]byte, int, error) {
	paths, err := cifarFiles(dir, split)
	if err != nil {
		return nil, 0, fmt.Errorf("%s %s: %w", info.Name, split, err)
	}
	total := 0
	for _, p := range paths {
		rec, n, err := cifarRecordAt(p, index-total)
		if err != nil {
			return nil, 0, fmt.Errorf("%s %s image %d: %w", info.Name, split, index, err)
		}
		if rec != nil {
			label, err := checkLabels(rec[:1], index-total, cifarClasses)
			if err != nil {
				return nil, 0, fmt.Errorf("%s %s image %d: %s: %w", info.Name, split, index, p, err)
			}
			return rec[1:], label[0], nil
		}
		total += n
	}
	return nil, 0, fmt.Errorf("%s %s image %d does not exist: the split has %d", info.Name, split, index, total)
}

// cifarRecordAt returns record i of the batch file at path, or nil if the
// file has fewer records, and the number of records it has. Errors name the
// file.
func cifarRecordAt(path string, i int) ([]byte, int, error) {
	f, err := limits.Open(path, cifarBatchBytes)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if err := checkCIFARSize(st.Size()); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	n := int(st.Size() / cifarRecord)
	if i >= n {
		return nil, n, nil
	}
	rec := make([]byte, cifarRecord)
	if _, err := f.ReadAt(rec, int64(i)*cifarRecord); err != nil {
		return nil, 0, err
	}
	return rec, n, nil
}
