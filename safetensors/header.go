package safetensors

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"unicode/utf8"
)

// MaxHeader is the largest header length, in bytes, that safetensors itself
// accepts (its MAX_HEADER_SIZE); a longer one is refused.
const MaxHeader = 100_000_000

// metadataKey is the header key of the free-form string map.
const metadataKey = "__metadata__"

// headerLength checks the 8-byte header length n of a file of size bytes
// and returns it.
func headerLength(n uint64, size int64) (int64, error) {
	if n > MaxHeader {
		return 0, fmt.Errorf("header length %d bytes: over safetensors' limit of %d", n, MaxHeader)
	}
	if int64(n) > size-8 {
		return 0, fmt.Errorf("truncated: header length %d bytes, but the file has only %d after the 8-byte length", n, size-8)
	}
	return int64(n), nil
}

// parseHeader parses the JSON header js of a file whose data section has
// dataLen bytes, and checks every tensor's dtype, shape and data_offsets,
// and that the tensors cover the data section exactly, in order, without
// overlap. The tensors it returns, in data-offset order, carry no data yet.
func parseHeader(js []byte, dataLen int64) (*File, error) {
	if !utf8.Valid(js) {
		return nil, errors.New("header: not valid UTF-8: want a JSON object in UTF-8")
	}
	ms, err := members(js)
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	f := &File{}
	for _, m := range ms {
		if m.key == metadataKey {
			if f.Metadata, err = parseMetadata(m.value); err != nil {
				return nil, fmt.Errorf("header: %s: %w", metadataKey, err)
			}
			continue
		}
		t, err := parseTensor(m.key, m.value)
		if err != nil {
			return nil, fmt.Errorf("header: tensor %q: %w", m.key, err)
		}
		f.Tensors = append(f.Tensors, t)
	}
	if err := checkLayout(f.Tensors, dataLen); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	return f, nil
}

// member is one member of a JSON object.
type member struct {
	key   string
	value json.RawMessage
}

// members returns the members of the JSON object in js, in order. It
// refuses anything but one object (whitespace may follow it) and a key
// that appears twice.
func members(js []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(js))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%s: want a JSON object", show(js))
	}
	var ms []member
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		key, _ := tok.(string) // a key is always a string
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("invalid JSON in the value of %q: %w", key, err)
		}
		if seen[key] {
			return nil, fmt.Errorf("key %q appears twice: want each name once", key)
		}
		seen[key] = true
		ms = append(ms, member{key, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object: want one object, then only spaces")
	}
	return ms, nil
}

// show writes a JSON value for an error message: compacted onto one line
// and cut to 60 bytes.
func show(js []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, js) != nil {
		b.Reset()
		b.Write(js)
	}
	s := []rune(b.String())
	if len(s) > 60 {
		return fmt.Sprintf("%q...", string(s[:60]))
	}
	return fmt.Sprintf("%q", string(s))
}

// parseMetadata parses the __metadata__ value: null or an object of
// strings.
func parseMetadata(js json.RawMessage) (map[string]string, error) {
	if string(js) == "null" {
		return nil, nil
	}
	ms, err := members(js)
	if err != nil {
		return nil, err
	}
	meta := make(map[string]string, len(ms))
	for _, m := range ms {
		var s string
		if err := json.Unmarshal(m.value, &s); err != nil {
			return nil, fmt.Errorf("key %q: value %s: want a string", m.key, show(m.value))
		}
		meta[m.key] = s
	}
	return meta, nil
}

// parseTensor parses the header entry of the tensor called name: its
// dtype, shape and data_offsets (other keys are ignored, as safetensors
// ignores them), and checks that the offsets hold exactly the bytes that
// dtype and shape need.
func parseTensor(name string, js json.RawMessage) (Tensor, error) {
	ms, err := members(js)
	if err != nil {
		return Tensor{}, err
	}
	fields := map[string]json.RawMessage{}
	for _, m := range ms {
		fields[m.key] = m.value
	}
	for _, k := range []string{"dtype", "shape", "data_offsets"} {
		if fields[k] == nil {
			return Tensor{}, fmt.Errorf("no %s: want dtype, shape and data_offsets", k)
		}
	}
	t := Tensor{Name: name}
	dt, err := parseDType(fields["dtype"], &t)
	if err != nil {
		return Tensor{}, err
	}
	if t.Shape, err = parseInts(fields["shape"], "shape", -1); err != nil {
		return Tensor{}, err
	}
	offsets, err := parseInts(fields["data_offsets"], "data_offsets", 2)
	if err != nil {
		return Tensor{}, err
	}
	t.Begin, t.End = int64(offsets[0]), int64(offsets[1])
	if t.End < t.Begin {
		return Tensor{}, fmt.Errorf("data_offsets [%d, %d]: end before begin: want begin <= end", t.Begin, t.End)
	}
	return t, checkSize(t, dt)
}

// parseDType parses a dtype name into t and returns its dtype.
func parseDType(js json.RawMessage, t *Tensor) (dtype, error) {
	if err := json.Unmarshal(js, &t.DType); err != nil {
		return dtype{}, fmt.Errorf("dtype %s: want a string, one of %s", show(js), dtypeNames())
	}
	dt, ok := dtypes[t.DType]
	if !ok {
		return dtype{}, fmt.Errorf("dtype %q: unknown: want one of %s", t.DType, dtypeNames())
	}
	if dt.convert == nil {
		t.NotFloat = t.DType + ": " + dt.notFloat
	}
	return dt, nil
}

// parseInts parses the list of integers >= 0 in the field called field; n
// is its required length, or -1 for any.
func parseInts(js json.RawMessage, field string, n int) ([]int, error) {
	var v []int
	err := json.Unmarshal(js, &v)
	if err == nil && v == nil {
		err = errors.New("null")
	}
	if err == nil && n >= 0 && len(v) != n {
		err = errors.New("wrong length")
	}
	if err == nil && slices.ContainsFunc(v, func(x int) bool { return x < 0 }) {
		err = errors.New("negative")
	}
	if err != nil {
		if n == 2 {
			return nil, fmt.Errorf("%s %s: want [begin, end], two integers >= 0", field, show(js))
		}
		return nil, fmt.Errorf("%s %s: want a list of integers >= 0", field, show(js))
	}
	return v, nil
}

// checkSize checks that t's data_offsets hold exactly the bytes its dtype
// and shape need, without overflow.
func checkSize(t Tensor, dt dtype) error {
	n, ok := count(t.Shape)
	var hi, nbits uint64
	if ok {
		hi, nbits = bits.Mul64(n, uint64(dt.bits))
	}
	if !ok || hi != 0 || nbits/8 > math.MaxInt64 {
		return fmt.Errorf("shape %v: more than 2^63 bytes of %s: want a shape that fits in a file", t.Shape, t.DType)
	}
	if nbits%8 != 0 {
		return fmt.Errorf("shape %v: %d elements of %d-bit %s do not fill whole bytes: want a multiple of 8 bits", t.Shape, n, dt.bits, t.DType)
	}
	if got := t.End - t.Begin; got != int64(nbits/8) {
		return fmt.Errorf("data_offsets [%d, %d] hold %d bytes, but shape %v of %s needs %d", t.Begin, t.End, got, t.Shape, t.DType, nbits/8)
	}
	return nil
}

// count returns the number of elements of shape, and false if it is
// 2^64 or more.
func count(shape []int) (uint64, bool) {
	if slices.Contains(shape, 0) {
		return 0, true
	}
	n := uint64(1)
	for _, d := range shape {
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 {
			return 0, false
		}
		n = lo
	}
	return n, true
}

// checkLayout sorts ts by data offset and checks that they cover the data
// section of dataLen bytes exactly: each tensor begins where the previous
// one ends, and the last ends at the end of the section.
func checkLayout(ts []Tensor, dataLen int64) error {
	slices.SortStableFunc(ts, func(a, b Tensor) int {
		return cmp.Or(cmp.Compare(a.Begin, b.Begin), cmp.Compare(a.End, b.End))
	})
	end := int64(0)
	for i, t := range ts {
		if t.End > dataLen {
			return fmt.Errorf("tensor %q: data_offsets [%d, %d]: past the end of the data section (%d bytes)", t.Name, t.Begin, t.End, dataLen)
		}
		switch {
		case t.Begin < end:
			p := ts[i-1]
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] overlap tensor %q's [%d, %d]: want disjoint ranges", t.Name, t.Begin, t.End, p.Name, p.Begin, p.End)
		case t.Begin > end:
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] leave bytes [%d, %d) of the data section to no tensor: want each tensor to begin where the previous one ends", t.Name, t.Begin, t.End, end, t.Begin)
		}
		end = t.End
	}
	if end != dataLen {
		return fmt.Errorf("the tensors end at byte %d of the data section, but it has %d bytes: want the last tensor to end the file", end, dataLen)
	}
	return nil
}
