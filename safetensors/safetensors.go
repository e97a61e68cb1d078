// Package safetensors reads Hugging Face's safetensors files: an 8-byte
// little-endian header length N, N bytes of JSON header naming each
// tensor's dtype, shape and data_offsets (plus an optional "__metadata__"
// map of strings), then the tensors' little-endian bytes, at offsets
// relative to the end of the header.
//
// It checks a file as strictly as safetensors itself does: a header of at
// most MaxHeader bytes inside the file, valid UTF-8 JSON, known dtypes,
// offsets that hold exactly what dtype and shape need, and tensors that
// tile the data section in order, without gap, overlap or trailing bytes.
// It also refuses a key that appears twice. Float tensors (F64, F32, F16,
// BF16) are converted exactly to float64; tensors of the other dtypes are
// listed with the reason they carry no values.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/initscope/initscope/limits"
)

// Tensor is one tensor of a file.
type Tensor struct {
	// Name is the tensor's key in the header.
	Name string
	// DType is the element type as the header names it: F64, F32, F16,
	// BF16 or another safetensors dtype (I64, BOOL, F8_E4M3, ...).
	DType string
	// Shape is the tensor's shape, [] for a scalar.
	Shape []int
	// Begin and End are its data_offsets: its bytes are [Begin, End) of the
	// data section, which starts right after the header.
	Begin, End int64
	// Float holds the elements in row-major order, converted exactly to
	// float64 (num.Float16, num.BFloat16, num.Float32), for the float dtypes F64, F32,
	// F16 and BF16. It is nil exactly when NotFloat is set, and empty but
	// not nil for a float tensor without elements.
	Float []float64
	// NotFloat says, for a tensor of any other dtype, why it carries no
	// values ("I64: integers, not a float tensor"); "" for a float tensor.
	NotFloat string
}

// File is the content of a safetensors file.
type File struct {
	// Tensors are the file's tensors in the order of their data offsets.
	Tensors []Tensor
	// Metadata is the header's "__metadata__" map; nil when it has none.
	Metadata map[string]string
}

// Read reads and checks the safetensors file at path, which must be a
// regular file. It reads the header first and refuses, before reading the
// data, a file whose float tensors in float64 would take more memory than
// the process may use (a *limits.Error). Errors name the file, and the
// tensor and field at fault.
func Read(path string) (*File, error) {
	f, err := limits.Open(path, math.MaxInt64)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	file, err := decode(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return file, nil
}

// Decode checks and decodes the bytes of a safetensors file, as Read does.
func Decode(data []byte) (*File, error) {
	return decode(bytes.NewReader(data), int64(len(data)))
}

// decode reads a safetensors file of size bytes from r.
func decode(r io.ReaderAt, size int64) (*File, error) {
	if size < 8 {
		return nil, fmt.Errorf("truncated: %d bytes, fewer than the 8 of the header length", size)
	}
	var n [8]byte
	if err := limits.ReadAt(r, n[:], 0); err != nil {
		return nil, err
	}
	hlen, err := headerLength(binary.LittleEndian.Uint64(n[:]), size)
	if err != nil {
		return nil, err
	}
	js := make([]byte, hlen)
	if err := limits.ReadAt(r, js, 8); err != nil {
		return nil, err
	}
	f, err := parseHeader(js, size-8-hlen)
	if err != nil {
		return nil, err
	}
	if err := checkMemory(f.Tensors); err != nil {
		return nil, err
	}
	if err := readFloats(r, 8+hlen, f.Tensors); err != nil {
		return nil, err
	}
	return f, nil
}

// readFloats reads and converts the float tensors of ts from r, whose
// data section starts at byte start.
func readFloats(r io.ReaderAt, start int64, ts []Tensor) error {
	var raw []byte
	for i := range ts {
		t := &ts[i]
		dt := dtypes[t.DType]
		if dt.convert == nil {
			continue
		}
		n := int(t.End - t.Begin)
		raw = slices.Grow(raw[:0], n)[:n]
		if err := limits.ReadAt(r, raw, start+t.Begin); err != nil {
			return fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		t.Float = make([]float64, n/(dt.bits/8))
		dt.convert(raw, t.Float)
	}
	return nil
}

// checkMemory checks that the float tensors of ts fit in the memory the
// process may use (limits.Check): all their values in float64 and the raw
// bytes of the largest.
func checkMemory(ts []Tensor) error {
	var values, largest int64
	floats := 0
	for _, t := range ts {
		if t.NotFloat != "" {
			continue
		}
		floats++
		values += (t.End - t.Begin) / int64(dtypes[t.DType].bits/8)
		largest = max(largest, t.End-t.Begin)
	}
	need := int64(math.MaxInt64)
	if values <= (math.MaxInt64-largest)/8 {
		need = 8*values + largest
	}
	return limits.Check(fmt.Sprintf("%d values of %d float tensors in float64, and the %s of the largest as read",
		values, floats, limits.Bytes(largest)), need)
}
