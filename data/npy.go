package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/initscope/initscope/limits"
	"github.com/initscope/initscope/num"
)

// npyMagic starts every .npy file.
const npyMagic = "\x93NUMPY"

// npyMaxHeader is the longest .npy header accepted, in bytes: NumPy's own
// default limit (np.load's max_header_size). A float array's header takes
// about 128.
const npyMaxHeader = 10000

// npyDescrs are the dtypes ReadNpy reads, by their descr.
var npyDescrs = map[string]struct {
	item  int
	order binary.ByteOrder
}{
	"<f2": {2, binary.LittleEndian}, "<f4": {4, binary.LittleEndian}, "<f8": {8, binary.LittleEndian},
	">f2": {2, binary.BigEndian}, ">f4": {4, binary.BigEndian}, ">f8": {8, binary.BigEndian},
}

// npyHeader is the parsed header of a .npy file.
type npyHeader struct {
	descr string
	shape []int
	count int64 // values: the product of shape
	item  int   // bytes per value
	order binary.ByteOrder
	start int // where the data begins
}

// ReadNpy reads a NumPy .npy file (format versions 1.0, 2.0 and 3.0) that
// holds a C-order array of float16, float32 or float64 ('<f2', '<f4', '<f8',
// or the big-endian '>f2', '>f4', '>f8'), and returns its shape ([] for a
// 0-d array) and its values in row-major order, converted exactly to
// float64. It refuses, with an error naming the file, other dtypes, Fortran
// order, a header that is not the dictionary NumPy writes, a header longer
// than NumPy's default limit of 10000 bytes, and data whose length is not
// exactly the product of the shape times the item size; it refuses, with a
// *limits.Error, values that would take more memory than the process may
// use.
func ReadNpy(path string) (shape []int, values []float64, err error) {
	f, err := limits.Open(path, math.MaxInt64)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if shape, values, err = readNpy(f, fi.Size()); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return shape, values, nil
}

// decodeNpy decodes the bytes of a .npy file, as ReadNpy does.
func decodeNpy(b []byte) ([]int, []float64, error) {
	return readNpy(bytes.NewReader(b), int64(len(b)))
}

// readNpy reads a .npy file of size bytes from r: its header, then, once
// the memory it takes is checked, its data.
func readNpy(r io.ReaderAt, size int64) ([]int, []float64, error) {
	prefix := make([]byte, min(size, 12+npyMaxHeader))
	if err := limits.ReadAt(r, prefix, 0); err != nil {
		return nil, nil, err
	}
	h, err := parseNpyHeader(prefix)
	if err != nil {
		return nil, nil, err
	}
	n := size - int64(h.start)
	if err := h.checkLength(n); err != nil {
		return nil, nil, err
	}
	need := int64(math.MaxInt64)
	if h.count <= (math.MaxInt64-n)/8 {
		need = n + 8*h.count
	}
	if err := limits.Check(fmt.Sprintf("shape %s of %s, read and decoded to float64", pyTuple(h.shape), h.descr), need); err != nil {
		return nil, nil, err
	}
	payload := make([]byte, n)
	if err := limits.ReadAt(r, payload, int64(h.start)); err != nil {
		return nil, nil, err
	}
	return h.shape, h.decode(payload), nil
}

// parseNpyHeader parses the magic string, version, header length and
// header dictionary at the start of b.
func parseNpyHeader(b []byte) (npyHeader, error) {
	if !bytes.HasPrefix(b, []byte(npyMagic)) {
		if bytes.HasPrefix([]byte(npyMagic), b) {
			return npyHeader{}, fmt.Errorf("truncated: the file ends after %d bytes, inside the 6-byte magic string", len(b))
		}
		return npyHeader{}, fmt.Errorf("not a .npy file: it starts with %q, want %q", b[:min(len(b), 6)], npyMagic)
	}
	if len(b) < 8 {
		return npyHeader{}, fmt.Errorf("truncated: the file ends after %d bytes, inside the 2-byte format version", len(b))
	}
	lenBytes := 4
	switch v := [2]byte{b[6], b[7]}; v {
	case [2]byte{1, 0}:
		lenBytes = 2
	case [2]byte{2, 0}, [2]byte{3, 0}:
	default:
		return npyHeader{}, fmt.Errorf("format version %d.%d: want 1.0, 2.0 or 3.0", v[0], v[1])
	}
	if len(b) < 8+lenBytes {
		return npyHeader{}, fmt.Errorf("truncated: the file ends after %d bytes, inside the %d-byte header length", len(b), lenBytes)
	}
	var hlen uint64
	if lenBytes == 2 {
		hlen = uint64(binary.LittleEndian.Uint16(b[8:]))
	} else {
		hlen = uint64(binary.LittleEndian.Uint32(b[8:]))
	}
	if hlen > npyMaxHeader {
		return npyHeader{}, fmt.Errorf("header length %d bytes: over NumPy's default limit of %d (np.load's max_header_size)", hlen, npyMaxHeader)
	}
	start := 8 + lenBytes + int(hlen)
	if len(b) < start {
		return npyHeader{}, fmt.Errorf("truncated: the file ends after %d bytes, inside the %d-byte header", len(b), start)
	}
	d, err := parsePyDict(b[8+lenBytes : start])
	if err != nil {
		return npyHeader{}, fmt.Errorf("header %s: %w", shortQuote(b[8+lenBytes:start]), err)
	}
	h, err := npyFromDict(d)
	if err != nil {
		return npyHeader{}, fmt.Errorf("header: %w", err)
	}
	h.start = start
	return h, nil
}

// shortQuote quotes a header for an error message, cut to 80 bytes.
func shortQuote(b []byte) string {
	if len(b) > 80 {
		return strconv.Quote(string(b[:80])) + "..."
	}
	return strconv.Quote(string(b))
}

// npyKeys are the keys of a .npy header dictionary, all required.
var npyKeys = []string{"descr", "fortran_order", "shape"}

// npyFromDict checks the header dictionary d and returns the header it
// describes.
func npyFromDict(d map[string]pyValue) (npyHeader, error) {
	for _, k := range slices.Sorted(maps.Keys(d)) {
		if !slices.Contains(npyKeys, k) {
			return npyHeader{}, fmt.Errorf("key '%s': want only 'descr', 'fortran_order' and 'shape'", k)
		}
	}
	for _, k := range npyKeys {
		if _, ok := d[k]; !ok {
			return npyHeader{}, fmt.Errorf("no '%s' key: want 'descr', 'fortran_order' and 'shape'", k)
		}
	}
	descr, fortran, shape := d["descr"], d["fortran_order"], d["shape"]
	dt, ok := npyDescrs[descr.str]
	if descr.kind != pyString || !ok {
		return npyHeader{}, fmt.Errorf("'descr' is %s: want a float dtype, '<f2', '<f4' or '<f8' (or big-endian '>f2', '>f4', '>f8'): save a.astype(np.float32)", descr)
	}
	if fortran.kind != pyBool {
		return npyHeader{}, fmt.Errorf("'fortran_order' is %s: want False", fortran)
	}
	if fortran.b {
		return npyHeader{}, errors.New("'fortran_order' is True (column-major data): want C order: save np.ascontiguousarray(a)")
	}
	if shape.kind != pyTupleKind {
		return npyHeader{}, fmt.Errorf("'shape' is %s: want a tuple of integers", shape)
	}
	count, ok := npyCount(shape.ints, dt.item)
	if !ok {
		return npyHeader{}, fmt.Errorf("'shape' %s of '%s' describes more than 2^63 bytes: want a shape that fits in a file", pyTuple(shape.ints), descr.str)
	}
	return npyHeader{descr: descr.str, shape: shape.ints, count: count, item: dt.item, order: dt.order}, nil
}

// npyCount returns the number of values of shape, and false if they take
// 2^63 bytes or more of item bytes each.
func npyCount(shape []int, item int) (int64, bool) {
	if slices.Contains(shape, 0) {
		return 0, true
	}
	n := uint64(1)
	for _, d := range append(slices.Clone(shape), item) {
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, false
		}
		n = lo
	}
	return int64(n) / int64(item), true
}

// checkLength checks that n bytes of data are what the header announces.
func (h npyHeader) checkLength(n int64) error {
	want := h.count * int64(h.item)
	switch {
	case n < want:
		return fmt.Errorf("truncated: shape %s of '%s' needs %d bytes of data after the %d-byte header, but the file has %d",
			pyTuple(h.shape), h.descr, want, h.start, n)
	case n > want:
		return fmt.Errorf("shape %s of '%s' needs %d bytes of data after the %d-byte header, but the file has %d (%d bytes too many)",
			pyTuple(h.shape), h.descr, want, h.start, n, n-want)
	}
	return nil
}

// decode converts the data, whose length checkLength has checked.
func (h npyHeader) decode(payload []byte) []float64 {
	values := make([]float64, h.count)
	for i := range values {
		b := payload[i*h.item:]
		switch h.item {
		case 2:
			values[i] = num.Float16(h.order.Uint16(b))
		case 4:
			values[i] = num.Float32(h.order.Uint32(b))
		default:
			values[i] = math.Float64frombits(h.order.Uint64(b))
		}
	}
	return values
}

// pyTuple writes a shape as Python writes a tuple: "(2, 3)", "(5,)", "()".
func pyTuple(shape []int) string {
	s := make([]string, len(shape))
	for i, d := range shape {
		s[i] = strconv.Itoa(d)
	}
	if len(s) == 1 {
		return "(" + s[0] + ",)"
	}
	return "(" + strings.Join(s, ", ") + ")"
}

// pyKind is the kind of a Python literal in a .npy header.
type pyKind int

const (
	pyString pyKind = iota + 1
	pyBool
	pyTupleKind
)

// pyValue is a Python literal of a .npy header: a string, True or False,
// or a tuple of integers >= 0.
type pyValue struct {
	kind pyKind
	str  string
	b    bool
	ints []int
}

// String writes v as Python does.
func (v pyValue) String() string {
	switch v.kind {
	case pyString:
		return "'" + v.str + "'"
	case pyBool:
		if v.b {
			return "True"
		}
		return "False"
	}
	return pyTuple(v.ints)
}

// pyScanner reads the Python literals of a .npy header.
type pyScanner struct {
	s []byte
	i int
}

// errorf returns an error at the scanner's position.
func (p *pyScanner) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: "+format, append([]any{p.i}, args...)...)
}

// skip skips white space.
func (p *pyScanner) skip() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

// eat consumes c if it comes next.
func (p *pyScanner) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// next describes what comes next, for an error message.
func (p *pyScanner) next() string {
	if p.i >= len(p.s) {
		return "the end of the header"
	}
	return strconv.Quote(string(p.s[p.i : p.i+1]))
}

// parsePyDict parses a header: a Python dictionary literal of string keys
// and pyValues, with optional trailing comma, and white space around.
func parsePyDict(s []byte) (map[string]pyValue, error) {
	p := &pyScanner{s: s}
	p.skip()
	if !p.eat('{') {
		return nil, p.errorf("%s: want a dictionary, '{'", p.next())
	}
	d := map[string]pyValue{}
	for {
		p.skip()
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		if _, dup := d[key]; dup {
			return nil, p.errorf("key '%s' appears twice: want each key once", key)
		}
		p.skip()
		if !p.eat(':') {
			return nil, p.errorf("%s after key '%s': want ':'", p.next(), key)
		}
		p.skip()
		if d[key], err = p.value(); err != nil {
			return nil, err
		}
		p.skip()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			break
		}
		return nil, p.errorf("%s: want ',' or '}'", p.next())
	}
	p.skip()
	if p.i != len(s) {
		return nil, p.errorf("%s after the dictionary: want only white space", p.next())
	}
	return d, nil
}

// value parses a string, True, False or a tuple of integers.
func (p *pyScanner) value() (pyValue, error) {
	switch {
	case p.i < len(p.s) && (p.s[p.i] == '\'' || p.s[p.i] == '"'):
		s, err := p.str()
		return pyValue{kind: pyString, str: s}, err
	case p.eat('('):
		ints, err := p.tuple()
		return pyValue{kind: pyTupleKind, ints: ints}, err
	}
	for _, w := range []string{"True", "False"} {
		if bytes.HasPrefix(p.s[p.i:], []byte(w)) && !isIdent(p.s, p.i+len(w)) {
			p.i += len(w)
			return pyValue{kind: pyBool, b: w == "True"}, nil
		}
	}
	return pyValue{}, p.errorf("%s: want a string, True, False or a tuple of integers (a structured dtype is not supported)", p.next())
}

// isIdent reports whether s[i] continues an identifier or a number.
func isIdent(s []byte, i int) bool {
	if i >= len(s) {
		return false
	}
	c := s[i]
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// str parses a quoted string without escapes.
func (p *pyScanner) str() (string, error) {
	if p.i >= len(p.s) || p.s[p.i] != '\'' && p.s[p.i] != '"' {
		return "", p.errorf("%s: want a quoted string", p.next())
	}
	q := p.s[p.i]
	end := bytes.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", p.errorf("string not closed: want a closing %c", q)
	}
	s := p.s[p.i+1 : p.i+1+end]
	if bytes.ContainsFunc(s, func(r rune) bool { return r == '\\' || r < ' ' }) {
		return "", p.errorf("string %q holds a backslash or a control character: want a plain string", s)
	}
	p.i += end + 2
	return string(s), nil
}

// tuple parses the rest of a tuple of integers >= 0, after its '(': "(2,
// 3)", "(5,)" or "()"; "(5)" is an integer in Python, not a tuple.
func (p *pyScanner) tuple() ([]int, error) {
	ints := []int{}
	comma := false
	for {
		p.skip()
		if p.eat(')') {
			if len(ints) == 1 && !comma {
				return nil, p.errorf("(%d) is an integer in Python: want a tuple, (%d,)", ints[0], ints[0])
			}
			return ints, nil
		}
		if len(ints) > 0 && !comma {
			return nil, p.errorf("%s in a tuple: want ',' or ')'", p.next())
		}
		n, err := p.int()
		if err != nil {
			return nil, err
		}
		ints = append(ints, n)
		p.skip()
		comma = p.eat(',')
	}
}

// int parses a decimal integer >= 0 without leading zeros, with the
// optional L suffix of Python 2's long integers.
func (p *pyScanner) int() (int, error) {
	start := p.i
	for p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
		p.i++
	}
	digits := string(p.s[start:p.i])
	n, err := strconv.Atoi(digits)
	if err != nil || digits != strconv.Itoa(n) {
		what := strconv.Quote(digits)
		if digits == "" {
			what = p.next()
		}
		p.i = start
		return 0, p.errorf("%s in a tuple: want a decimal integer >= 0 below 2^63, without leading zeros", what)
	}
	p.eat('L')
	return n, nil
}
