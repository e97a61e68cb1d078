package data

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/initscope/initscope/limits"
)

// The .npy files in testdata were written by NumPy 1.24 (/usr/bin/python3),
// from data/testdata, with:
//
//	python3 -c "import numpy as np; np.save('f4_v1.npy', (np.arange(6, dtype='<f4').reshape(2, 3) - 2) / 4)"
//	python3 -c "import numpy as np; np.lib.format.write_array(open('f2_v2.npy', 'wb'), np.array([0, -0.0, 1, 65504, 2**-24, np.inf, -np.inf, np.nan], dtype='<f2').reshape(2, 2, 2), version=(2, 0))"
//	python3 -c "import numpy as np; np.lib.format.write_array(open('f8_v3.npy', 'wb'), np.array(0.1, dtype='<f8'), version=(3, 0))"

// npyBytes assembles a .npy file of format version major.0 from a header
// dictionary and data.
func npyBytes(major byte, header string, data []byte) []byte {
	b := append([]byte(npyMagic), major, 0)
	if major == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(header)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(header)))
	}
	return append(append(b, header...), data...)
}

// npyDict writes a header dictionary as NumPy does, without padding.
func npyDict(descr, fortran, shape string) string {
	return fmt.Sprintf("{'descr': %s, 'fortran_order': %s, 'shape': %s, }\n", descr, fortran, shape)
}

// sameValues checks got against want bit for bit, NaNs by NaN-ness.
func sameValues(t *testing.T, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d values, want %d", len(got), len(want))
	}
	for i := range got {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) && !(math.IsNaN(got[i]) && math.IsNaN(want[i])) {
			t.Errorf("value %d = %v, want %v", i, got[i], want[i])
		}
	}
}

// TestReadNpyNumPy reads the files NumPy wrote, one per format version.
func TestReadNpyNumPy(t *testing.T) {
	cases := []struct {
		file   string
		shape  []int
		values []float64
	}{
		{"f4_v1.npy", []int{2, 3}, []float64{-0.5, -0.25, 0, 0.25, 0.5, 0.75}},
		{"f2_v2.npy", []int{2, 2, 2}, []float64{0, math.Copysign(0, -1), 1, 65504, 0x1p-24, math.Inf(1), math.Inf(-1), math.NaN()}},
		{"f8_v3.npy", []int{}, []float64{0.1}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			shape, values, err := ReadNpy(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(shape, c.shape) {
				t.Errorf("shape %v, want %v", shape, c.shape)
			}
			sameValues(t, values, c.values)
		})
	}
}

// TestNpyAccepted checks headers NumPy accepts that its writer does not
// produce, and big-endian data.
func TestNpyAccepted(t *testing.T) {
	be := binary.BigEndian.AppendUint32(nil, math.Float32bits(-1.5))
	be = binary.BigEndian.AppendUint32(be, math.Float32bits(3))
	cases := []struct {
		name   string
		file   []byte
		shape  []int
		values []float64
	}{
		{"big-endian float32", npyBytes(1, npyDict("'>f4'", "False", "(2,)"), be), []int{2}, []float64{-1.5, 3}},
		{"big-endian float16", npyBytes(2, npyDict("'>f2'", "False", "(1, 1)"), []byte{0xc0, 0x00}), []int{1, 1}, []float64{-2}},
		{"Python 2 longs, double quotes, no trailing comma", npyBytes(1, `{"descr":"<f8","shape":(1L,1L),"fortran_order":False}`, make([]byte, 8)), []int{1, 1}, []float64{0}},
		{"no newline, tabs", npyBytes(3, "\t{ 'descr' : '<f2' ,\t'fortran_order':False,'shape':( 1 , ) }", []byte{0, 0x3c}), []int{1}, []float64{1}},
		{"empty array", npyBytes(1, npyDict("'<f4'", "False", "(0, 3)"), nil), []int{0, 3}, []float64{}},
		{"empty array of a huge dimension", npyBytes(1, npyDict("'<f8'", "False", "(9223372036854775807, 0)"), nil), []int{math.MaxInt64, 0}, []float64{}},
		{"0-d array", npyBytes(1, npyDict("'<f4'", "False", "()"), make([]byte, 4)), []int{}, []float64{0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			shape, values, err := decodeNpy(c.file)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(shape, c.shape) {
				t.Errorf("shape %v, want %v", shape, c.shape)
			}
			sameValues(t, values, c.values)
		})
	}
}

// TestNpyMalformed checks one file of each kind that must be refused.
func TestNpyMalformed(t *testing.T) {
	f4, err := os.ReadFile("testdata/f4_v1.npy")
	if err != nil {
		t.Fatal(err)
	}
	fortran := []byte(strings.Replace(string(f4), "False", "True ", 1))
	six := make([]byte, 24)
	hdr := func(d string) []byte { return npyBytes(1, d, six) }
	dict := func(shape string) []byte { return hdr(npyDict("'<f4'", "False", shape)) }
	cases := []struct {
		name string
		file []byte
		want []string
	}{
		{"empty", nil, []string{"truncated: the file ends after 0 bytes, inside the 6-byte magic string"}},
		{"not npy", []byte("PK\x03\x04 a zip file"), []string{`not a .npy file: it starts with "PK\x03\x04 a"`}},
		{"no version", []byte(npyMagic + "\x01"), []string{"inside the 2-byte format version"}},
		{"version 4.0", append([]byte(npyMagic), 4, 0, 0, 0), []string{"format version 4.0: want 1.0, 2.0 or 3.0"}},
		{"version 1.1", append([]byte(npyMagic), 1, 1, 0, 0), []string{"format version 1.1"}},
		{"no header length", []byte(npyMagic + "\x02\x00\x10\x00"), []string{"inside the 4-byte header length"}},
		{"header over the limit", binary.LittleEndian.AppendUint32([]byte(npyMagic+"\x02\x00"), 10001), []string{"header length 10001 bytes: over NumPy's default limit of 10000"}},
		{"header past the file", binary.LittleEndian.AppendUint16([]byte(npyMagic+"\x01\x00"), 100), []string{"inside the 110-byte header"}},
		{"not a dictionary", hdr("['descr']"), []string{`header "['descr']": at byte 0: "[": want a dictionary`}},
		{"missing key", hdr("{'descr': '<f4', 'fortran_order': False}"), []string{"no 'shape' key"}},
		{"extra key", hdr(strings.Replace(npyDict("'<f4'", "False", "(6,)"), "{", "{'x': (), ", 1)), []string{"key 'x': want only 'descr', 'fortran_order' and 'shape'"}},
		{"duplicate key", hdr("{'descr': '<f4', 'descr': '<f8'}"), []string{"key 'descr' appears twice"}},
		{"integers", hdr(npyDict("'|u1'", "False", "(24,)")), []string{"'descr' is '|u1': want a float dtype, '<f2', '<f4' or '<f8'", "astype(np.float32)"}},
		{"int64", hdr(npyDict("'<i8'", "False", "(3,)")), []string{"'descr' is '<i8'"}},
		{"descr not a string", hdr(npyDict("(4,)", "False", "(6,)")), []string{"'descr' is (4,)"}},
		{"structured dtype", hdr(npyDict("[('a', '<f4')]", "False", "(6,)")), []string{`"[": want a string, True, False or a tuple of integers (a structured dtype is not supported)`}},
		{"Fortran order", fortran, []string{"'fortran_order' is True (column-major data): want C order: save np.ascontiguousarray(a)"}},
		{"fortran_order not a bool", hdr(npyDict("'<f4'", "'no'", "(6,)")), []string{"'fortran_order' is 'no': want False"}},
		{"shape not a tuple", hdr(npyDict("'<f4'", "False", "'6'")), []string{"'shape' is '6': want a tuple of integers"}},
		{"shape list", hdr(npyDict("'<f4'", "False", "[6]")), []string{`"[": want a string`}},
		{"shape an integer", dict("(6)"), []string{"(6) is an integer in Python: want a tuple, (6,)"}},
		{"negative dimension", dict("(-6,)"), []string{`"-" in a tuple: want a decimal integer >= 0`}},
		{"leading zero", dict("(06,)"), []string{`"06" in a tuple`}},
		{"dimension beyond int64", dict("(99999999999999999999,)"), []string{`"99999999999999999999" in a tuple`}},
		{"missing comma", dict("(2 3)"), []string{`"3" in a tuple: want ',' or ')'`}},
		{"empty element", dict("(2,,)"), []string{`"," in a tuple: want a decimal integer`}},
		{"overflow", dict("(4611686018427387904, 2)"), []string{"'shape' (4611686018427387904, 2) of '<f4' describes more than 2^63 bytes"}},
		{"unclosed string", hdr("{'descr: 1}"), []string{"string not closed"}},
		{"escape", hdr(`{'de\scr': 1}`), []string{"holds a backslash"}},
		{"True with a suffix", hdr(npyDict("'<f4'", "Truex", "(6,)")), []string{`"T": want a string, True, False`}},
		{"missing colon", hdr("{'descr' '<f4'}"), []string{`"'" after key 'descr': want ':'`}},
		{"missing comma between items", hdr("{'descr': '<f4' 'shape': ()}"), []string{`"'": want ',' or '}'`}},
		{"after the dictionary", hdr(npyDict("'<f4'", "False", "(6,)") + "x"), []string{`"x" after the dictionary`}},
		{"truncated data", npyBytes(1, npyDict("'<f4'", "False", "(2, 3)"), make([]byte, 20)), []string{"truncated: shape (2, 3) of '<f4' needs 24 bytes of data after the 70-byte header, but the file has 20"}},
		{"extra data", npyBytes(1, npyDict("'<f8'", "False", "(1,)"), make([]byte, 12)), []string{"needs 8 bytes", "has 12 (4 bytes too many)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			shape, values, err := decodeNpy(c.file)
			if err == nil {
				t.Fatalf("accepted: shape %v, %d values", shape, len(values))
			}
			wantErr(t, err, c.want...)
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines", err)
			}
		})
	}
}

// TestNpyTruncated checks that every proper prefix of each NumPy file is
// refused.
func TestNpyTruncated(t *testing.T) {
	for _, name := range []string{"f4_v1.npy", "f2_v2.npy", "f8_v3.npy"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		for n := range len(b) {
			if _, _, err := decodeNpy(b[:n]); err == nil {
				t.Errorf("%s: accepted the first %d of %d bytes", name, n, len(b))
			}
		}
	}
}

// TestReadNpyErrors checks that ReadNpy names the file, refuses what is not
// a regular file, and refuses values beyond the process's memory before
// reading them.
func TestReadNpyErrors(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "int.npy", npyBytes(1, npyDict("'<i8'", "False", "(1,)"), make([]byte, 8)))
	_, _, err := ReadNpy(p)
	wantErr(t, err, p+": header: 'descr' is '<i8'")
	_, _, err = ReadNpy(dir)
	wantErr(t, err, "not a regular file")

	mem, _ := limits.Memory()
	if mem > 300<<30 {
		t.Skip("this machine could decode 32 Gi float16 values")
	}
	const n = 32 << 30
	header := npyDict("'<f2'", "False", fmt.Sprintf("(%d,)", n))
	p = writeFile(t, dir, "huge.npy", npyBytes(1, header, nil))
	if err := os.Truncate(p, int64(10+len(header)+2*n)); err != nil {
		t.Skipf("no sparse file: %v", err)
	}
	_, _, err = ReadNpy(p)
	var le *limits.Error
	if !errors.As(err, &le) {
		t.Fatalf("got %v, want a *limits.Error", err)
	}
	wantErr(t, err, p, "shape (34359738368,) of <f2")
}

// FuzzReadNpy checks that decodeNpy never panics, that its errors are one
// line, and that what it accepts has as many values as its shape says and
// exactly the bytes they need.
func FuzzReadNpy(f *testing.F) {
	for _, name := range []string{"f4_v1.npy", "f2_v2.npy", "f8_v3.npy"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(npyBytes(1, npyDict("'>f4'", "False", "(2,)"), make([]byte, 8)))
	f.Add(npyBytes(2, `{"descr":"<f8","shape":(1L,),"fortran_order":False}`, make([]byte, 8)))
	f.Add(npyBytes(1, npyDict("'<f4'", "True", "(2, 3)"), make([]byte, 24)))
	f.Add(npyBytes(1, npyDict("[('a', '<f4')]", "False", "(4611686018427387904, 2)"), nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		shape, values, err := decodeNpy(b)
		if err != nil {
			if msg := err.Error(); msg == "" || strings.Contains(msg, "\n") {
				t.Fatalf("error %q: want one non-empty line", msg)
			}
			return
		}
		h, err := parseNpyHeader(b)
		if err != nil {
			t.Fatalf("accepted, but the header alone fails: %v", err)
		}
		n := 1
		for _, d := range shape {
			n *= d
		}
		if len(values) != n || len(b)-h.start != n*h.item {
			t.Fatalf("shape %v: %d values from %d bytes of data of %d-byte items", shape, len(values), len(b)-h.start, h.item)
		}
	})
}
