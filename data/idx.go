package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/initscope/initscope/limits"
)

// IDX magic numbers: two zero bytes, the element type (0x08, unsigned byte)
// and the number of dimensions.
const (
	idxImages = 0x00000803 // unsigned bytes, 3 dimensions: count, rows, columns
	idxLabels = 0x00000801 // unsigned bytes, 1 dimension: count
)

// idxKind names the content a magic number announces, for error messages.
func idxKind(magic uint32) string {
	switch magic {
	case idxImages:
		return "IDX images"
	case idxLabels:
		return "IDX labels"
	}
	return "not an IDX file of unsigned bytes"
}

// maxPrealloc bounds the memory reserved on the word of a header alone, so a
// corrupt header that announces gigabytes costs nothing; a larger payload
// grows as its bytes arrive.
const maxPrealloc = 1 << 20

// idxHeader is the header of an IDX file.
type idxHeader struct {
	dims []int // dims[0] counts the items
	item int   // bytes per item: the product of dims[1:]
	size int64 // bytes of the whole file, header included
}

// headerLen returns the length of the header in bytes.
func (h idxHeader) headerLen() int64 { return int64(4 + 4*len(h.dims)) }

// shape writes the dimensions as "60000 items of 28x28".
func (h idxHeader) shape() string {
	s := make([]string, len(h.dims)-1)
	for i, d := range h.dims[1:] {
		s[i] = strconv.Itoa(d)
	}
	if len(s) == 0 {
		return fmt.Sprintf("%d items of 1 byte", h.dims[0])
	}
	return fmt.Sprintf("%d items of %s", h.dims[0], strings.Join(s, "x"))
}

// readIDXHeader reads the header of an IDX stream and checks that its magic
// number is want.
func readIDXHeader(r io.Reader, want uint32) (idxHeader, error) {
	var m [4]byte
	if n, err := io.ReadFull(r, m[:]); err != nil {
		return idxHeader{}, headerError(err, n, "4-byte magic number")
	}
	if magic := binary.BigEndian.Uint32(m[:]); magic != want {
		return idxHeader{}, fmt.Errorf("magic number 0x%08x (%s), want 0x%08x (%s)", magic, idxKind(magic), want, idxKind(want))
	}
	h := idxHeader{dims: make([]int, want&0xff)}
	raw := make([]byte, 4*len(h.dims))
	if n, err := io.ReadFull(r, raw); err != nil {
		return idxHeader{}, headerError(err, 4+n, fmt.Sprintf("%d-byte header", h.headerLen()))
	}
	for i := range h.dims {
		h.dims[i] = int(binary.BigEndian.Uint32(raw[4*i:]))
	}
	// Each dimension is below 2^32; the products must stay far below 2^63.
	item := uint64(1)
	for i, d := range h.dims[1:] {
		if d == 0 {
			return idxHeader{}, fmt.Errorf("dimension %d is 0", i+2)
		}
		item *= uint64(d)
		if item > math.MaxUint32 {
			return idxHeader{}, fmt.Errorf("dimensions %v make items of more than 4 GiB", h.dims)
		}
	}
	if hi, total := bits.Mul64(item, uint64(h.dims[0])); hi != 0 || total > math.MaxInt64/2 {
		return idxHeader{}, fmt.Errorf("dimensions %v describe more data than a file can hold", h.dims)
	}
	h.item = int(item)
	h.size = h.headerLen() + int64(h.item)*int64(h.dims[0])
	return h, nil
}

// short describes a read of the payload that failed with err after got bytes
// of the file.
func (h idxHeader) short(err error, got int64) error {
	if atEOF(err) {
		return fmt.Errorf("truncated: header says %s, so %d bytes, but the file ends after %d", h.shape(), h.size, got)
	}
	return fmt.Errorf("header says %s, so %d bytes, but reading failed after %d: %w", h.shape(), h.size, got, err)
}

// headerError describes a read that failed with err after got bytes, inside
// the part of the header named by part.
func headerError(err error, got int, part string) error {
	if atEOF(err) {
		return fmt.Errorf("truncated: the file ends after %d bytes, inside the %s", got, part)
	}
	return fmt.Errorf("reading the %s: %w", part, err)
}

// atEOF reports whether err says the data ended early: io.ReadFull and a
// truncated gzip stream say so differently.
func atEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// readIDX reads a whole IDX stream whose magic number must be want, and
// checks that its length is exactly what the header announces.
func readIDX(r io.Reader, want uint32) (idxHeader, []byte, error) {
	h, err := readIDXHeader(r, want)
	if err != nil {
		return idxHeader{}, nil, err
	}
	payload := h.size - h.headerLen()
	// Each byte is kept, then decoded to a float32 pixel or an int label.
	perByte := int64(5)
	if want == idxLabels {
		perByte = 9
	}
	if err := limits.Check("the "+h.shape()+" its header announces, read and decoded", min(payload, math.MaxInt64/perByte)*perByte); err != nil {
		return idxHeader{}, nil, err
	}
	var buf bytes.Buffer
	buf.Grow(int(min(payload, maxPrealloc)))
	n, err := io.CopyN(&buf, r, payload)
	if err != nil {
		return idxHeader{}, nil, h.short(err, h.headerLen()+n)
	}
	extra, err := io.Copy(io.Discard, r)
	if err != nil {
		return idxHeader{}, nil, fmt.Errorf("after the %d bytes the header announces: %w", h.size, err)
	}
	if extra > 0 {
		return idxHeader{}, nil, fmt.Errorf("header says %s, so %d bytes, but the file has %d (%d bytes too many)", h.shape(), h.size, h.size+extra, extra)
	}
	return h, buf.Bytes(), nil
}

// readIDXItem reads item index of an IDX stream whose magic number must be
// want, reading no further than that item.
func readIDXItem(r io.Reader, want uint32, index int) (idxHeader, []byte, error) {
	h, err := readIDXHeader(r, want)
	if err != nil {
		return idxHeader{}, nil, err
	}
	if index >= h.dims[0] {
		return idxHeader{}, nil, fmt.Errorf("item %d does not exist: the file has %d", index, h.dims[0])
	}
	skip := int64(index) * int64(h.item)
	if n, err := io.CopyN(io.Discard, r, skip); err != nil {
		return idxHeader{}, nil, h.short(err, h.headerLen()+n)
	}
	item := make([]byte, h.item)
	if n, err := io.ReadFull(r, item); err != nil {
		return idxHeader{}, nil, h.short(err, h.headerLen()+skip+int64(n))
	}
	return h, item, nil
}

// withIDX opens the IDX file at path, which must be a regular file,
// decompressing it if it is gzipped (detected from its first bytes, not its
// name), and calls read on its content. Errors name the file.
func withIDX(path string, read func(io.Reader) error) error {
	f, err := limits.Open(path, math.MaxInt64)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	where := path
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		z, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		r = z
		where = path + " (gzip; sizes are after decompression)"
	}
	if err := read(r); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}

// idxPath returns the path of an IDX file in dir: base.gz if it exists,
// else base.
func idxPath(dir, base string) (string, error) {
	for _, name := range []string{base + ".gz", base} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("neither %s nor %s.gz is in %s", base, base, dir)
}

// idxFiles returns the paths of the images and labels files of a split.
func idxFiles(dir string, split Split) (images, labels string, err error) {
	prefix := "train"
	if split == Test {
		prefix = "t10k"
	}
	if images, err = idxPath(dir, prefix+"-images-idx3-ubyte"); err != nil {
		return "", "", err
	}
	if labels, err = idxPath(dir, prefix+"-labels-idx1-ubyte"); err != nil {
		return "", "", err
	}
	return images, labels, nil
}

// checkShape checks that an images header describes images of info's size.
func checkShape(info Info, h idxHeader) error {
	if h.dims[1] != info.H || h.dims[2] != info.W {
		return fmt.Errorf("images are %dx%d, want %dx%d for %s", h.dims[1], h.dims[2], info.H, info.W, info.Name)
	}
	return nil
}

// readIDXPair reads the images and labels files of one split from dir with
// read (all items, or the one at index first), and checks that they agree
// with each other and with info.
func readIDXPair(info Info, dir string, split Split, first int, read func(r io.Reader, magic uint32) (idxHeader, []byte, error)) (pix []byte, labels []int, err error) {
	imagesPath, labelsPath, err := idxFiles(dir, split)
	if err != nil {
		return nil, nil, err
	}
	var ih, lh idxHeader
	var lab []byte
	err = withIDX(imagesPath, func(r io.Reader) error {
		if ih, pix, err = read(r, idxImages); err != nil {
			return err
		}
		return checkShape(info, ih)
	})
	if err != nil {
		return nil, nil, err
	}
	err = withIDX(labelsPath, func(r io.Reader) error {
		lh, lab, err = read(r, idxLabels)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if ih.dims[0] == 0 {
		return nil, nil, fmt.Errorf("%s holds no images", imagesPath)
	}
	if ih.dims[0] != lh.dims[0] {
		return nil, nil, fmt.Errorf("%s holds %d images but %s holds %d labels", imagesPath, ih.dims[0], labelsPath, lh.dims[0])
	}
	if labels, err = checkLabels(lab, first, info.Classes); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", labelsPath, err)
	}
	return pix, labels, nil
}

// loadIDX decodes one split of an IDX data set from dir.
func loadIDX(info Info, dir string, split Split) (*Dataset, error) {
	pix, labels, err := readIDXPair(info, dir, split, 0, readIDX)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", info.Name, split, err)
	}
	return newDataset(info, dir, split, pix, labels), nil
}

// itemIDX reads image index of one split of an IDX data set from dir, and
// its label.
func itemIDX(info Info, dir string, split Split, index int) ([]byte, int, error) {
	pix, labels, err := readIDXPair(info, dir, split, index, func(r io.Reader, magic uint32) (idxHeader, []byte, error) {
		return readIDXItem(r, magic, index)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("%s %s image %d: %w", info.Name, split, index, err)
	}
	return pix, labels[0], nil
}
