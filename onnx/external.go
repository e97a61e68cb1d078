package onnx

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path/filepath"
	"strconv"

	"github.com/initscope/initscope/limits"
	"github.com/initscope/initscope/onnx/onnxpb"
)

// extent is where a tensor's external data lies: length bytes from offset
// in the file location, relative to the model's folder; length -1 for the
// rest of the file.
type extent struct {
	location       string
	offset, length int64
}

// external reads the external data of p, which must hold n values of size
// bytes each: the extent its external_data entries give, in a regular file
// inside the decoder's folder.
func (d decoder) external(p *onnxpb.TensorProto, n int64, size int) ([]byte, error) {
	e, err := parseExtent(p.GetExternalData())
	if err != nil {
		return nil, err
	}
	if d.dir == "" {
		return nil, fmt.Errorf("external data in %q: the model was given as bytes, without a folder to resolve it in", e.location)
	}
	path, err := resolve(d.dir, e.location)
	if err != nil {
		return nil, err
	}
	b, err := e.read(path, n, size)
	if err != nil {
		return nil, fmt.Errorf("external data %q: %w", e.location, err)
	}
	return b, nil
}

// parseExtent reads the location, offset and length entries of
// external_data; it ignores the others ("checksum"). An offset or length
// that is not a byte count is an error naming the location.
func parseExtent(entries []*onnxpb.StringStringEntryProto) (extent, error) {
	e := extent{length: -1}
	var bad *onnxpb.StringStringEntryProto
	for _, kv := range entries {
		var err error
		switch kv.GetKey() {
		case "location":
			e.location = kv.GetValue()
		case "offset":
			e.offset, err = parseSize(kv.GetValue())
		case "length":
			e.length, err = parseSize(kv.GetValue())
		}
		if err != nil && bad == nil {
			bad = kv
		}
	}
	if e.location == "" {
		return extent{}, fmt.Errorf("external data without a location: want an external_data entry \"location\"")
	}
	if bad != nil {
		return extent{}, fmt.Errorf("external data %q: %s %q: want a byte count >= 0", e.location, bad.GetKey(), bad.GetValue())
	}
	return e, nil
}

// parseSize parses a byte count >= 0.
func parseSize(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err == nil && v < 0 {
		err = strconv.ErrRange
	}
	return v, err
}

// resolve returns the path of the file location names in dir, once
// symbolic links are resolved; a location that leaves dir, by an absolute
// path, a ".." or a link, is an error.
func resolve(dir, location string) (string, error) {
	if !filepath.IsLocal(location) {
		return "", fmt.Errorf("external data location %q: want a relative path inside the model's folder, without \"..\" leading out", location)
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("external data location %q: %s", location, quotePath(err))
	}
	path, err := filepath.EvalSymlinks(filepath.Join(dir, location))
	if err != nil {
		return "", fmt.Errorf("external data location %q: %s", location, quotePath(err))
	}
	if rel, err := filepath.Rel(root, path); err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("external data location %q: a link to %q, outside the model's folder %q: want a file inside it", location, path, root)
	}
	return path, nil
}

// quotePath writes err with the path of an *fs.PathError quoted, so that
// a location holding a newline leaves the error on one line.
func quotePath(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s %q: %v", pe.Op, pe.Path, pe.Err)
	}
	return err.Error()
}

// read reads the extent from the regular file at path, after checking
// that it lies inside the file, holds exactly n values of size bytes, and
// fits in memory with the values in 64 bits.
func (e extent) read(path string, n int64, size int) ([]byte, error) {
	f, err := limits.Open(path, math.MaxInt64)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if e.offset > fi.Size() || (e.length >= 0 && e.length > fi.Size()-e.offset) {
		return nil, fmt.Errorf("offset %d, length %d: past the end of the file (%d bytes)", e.offset, e.length, fi.Size())
	}
	if e.length < 0 {
		e.length = fi.Size() - e.offset
	}
	if want := n * int64(size); e.length != want {
		return nil, fmt.Errorf("%d bytes from offset %d: %d values need %d", e.length, e.offset, n, want)
	}
	if err := limits.Check(fmt.Sprintf("%d bytes of external data and their %d values in 64 bits", e.length, n), e.length+8*n); err != nil {
		return nil, err
	}
	b := make([]byte, e.length)
	if m, err := f.ReadAt(b, e.offset); m < len(b) {
		if err == io.EOF {
			err = fmt.Errorf("the file ends at byte %d, before the %d its size promised: was it changed while read?", e.offset+int64(m), e.offset+e.length)
		}
		return nil, err
	}
	return b, nil
}
