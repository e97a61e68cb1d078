package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/initscope/initscope/limits"
	"github.com/initscope/initscope/num"
)

// st assembles a file from a header and a data section.
func st(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

// entry is a tensor to write.
type entry struct {
	name, dtype string
	shape       []int
	raw         []byte
}

// build writes a file holding es, in that order in the data section but
// in reverse order in the header, with metadata meta if not nil.
func build(t testing.TB, meta map[string]string, es ...entry) []byte {
	t.Helper()
	var items []string
	var data []byte
	for _, e := range es {
		js, err := json.Marshal(map[string]any{
			"dtype": e.dtype, "shape": e.shape, "data_offsets": []int{len(data), len(data) + len(e.raw)},
		})
		if err != nil {
			t.Fatal(err)
		}
		name, _ := json.Marshal(e.name)
		items = append(items, fmt.Sprintf("%s: %s", name, js))
		data = append(data, e.raw...)
	}
	slices.Reverse(items)
	if meta != nil {
		js, _ := json.Marshal(meta)
		items = append(items, `"__metadata__": `+string(js))
	}
	return st("{"+strings.Join(items, ",\n")+"}  ", data)
}

// writeTemp writes b to a file in a temporary folder.
func writeTemp(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "model.safetensors")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// wantErr checks that err is an error whose one line holds every part.
func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", parts)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q spans lines", err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

// sameBits checks that got and want hold the same float64 bits.
func sameBits(t *testing.T, name string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i := range got {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Errorf("%s[%d] = %v, want %v", name, i, got[i], want[i])
		}
	}
}

// TestRoundTrip writes random tensors of every float dtype and an integer
// one, reads them back from a file, and checks every value bit for bit.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	f64 := make([]float64, 12)
	f32 := make([]float64, 6)
	f16 := make([]float64, 5)
	bf16 := make([]float64, 7)
	var raw64, raw32, raw16, rawbf []byte
	for i := range f64 {
		f64[i] = r.NormFloat64() * math.Pow(10, float64(r.IntN(600)-300))
		raw64 = binary.LittleEndian.AppendUint64(raw64, math.Float64bits(f64[i]))
	}
	for i := range f32 {
		v := float32(r.NormFloat64())
		f32[i] = float64(v)
		raw32 = binary.LittleEndian.AppendUint32(raw32, math.Float32bits(v))
	}
	for i := range f16 {
		h := uint16(r.Uint32())
		f16[i] = num.Float16(h)
		raw16 = binary.LittleEndian.AppendUint16(raw16, h)
	}
	for i := range bf16 {
		h := uint16(r.Uint32())
		bf16[i] = num.BFloat16(h)
		rawbf = binary.LittleEndian.AppendUint16(rawbf, h)
	}
	b := build(t, map[string]string{"format": "pt"},
		entry{"a.weight", "F64", []int{3, 4}, raw64},
		entry{"b.weight", "F32", []int{2, 1, 3}, raw32},
		entry{"c.bias", "F16", []int{5}, raw16},
		entry{"ids", "I32", []int{2}, make([]byte, 8)},
		entry{"d.weight", "BF16", []int{7, 1}, rawbf},
	)
	f, err := Read(writeTemp(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["format"] != "pt" || len(f.Metadata) != 1 {
		t.Errorf("metadata %v, want format: pt", f.Metadata)
	}
	var names []string
	for _, ts := range f.Tensors {
		names = append(names, ts.Name)
	}
	if want := []string{"a.weight", "b.weight", "c.bias", "ids", "d.weight"}; !slices.Equal(names, want) {
		t.Fatalf("tensors %v, want %v in data order", names, want)
	}
	sameBits(t, "F64", f.Tensors[0].Float, f64)
	sameBits(t, "F32", f.Tensors[1].Float, f32)
	sameBits(t, "F16", f.Tensors[2].Float, f16)
	sameBits(t, "BF16", f.Tensors[4].Float, bf16)
	if ids := f.Tensors[3]; ids.Float != nil || ids.NotFloat != "I32: integers, not a float tensor" {
		t.Errorf("ids: Float %v, NotFloat %q, want nil and a reason", ids.Float, ids.NotFloat)
	}
	if s := f.Tensors[1].Shape; !slices.Equal(s, []int{2, 1, 3}) {
		t.Errorf("shape %v, want [2 1 3]", s)
	}
}

// TestPythonFixture reads the file testdata/make_fixture.py wrote with
// NumPy and checks it against the values the script encoded.
func TestPythonFixture(t *testing.T) {
	f, err := Read("testdata/fixture.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["format"] != "pt" || f.Metadata["note"] != "written by make_fixture.py" {
		t.Errorf("metadata %v", f.Metadata)
	}
	want := []struct {
		name, dtype string
		shape       []int
		values      []float64 // nil for a tensor that is not float
	}{
		{"steps", "I64", []int{3}, nil},
		{"scale", "F64", []int{}, []float64{0.1}},
		{"empty", "F32", []int{0, 4}, []float64{}},
		{"w1", "F32", []int{2, 3}, []float64{-0.25, -0.125, 0, 0.125, 0.25, 0.375}},
		{"bf", "BF16", []int{2, 2}, []float64{1, -0.5, 3.140625, 0x1p-133}},
		{"half", "F16", []int{8}, []float64{0, math.Copysign(0, -1), 1, 65504, 0x1p-24, math.Inf(1), math.Inf(-1), -2.5}},
		{"mask", "BOOL", []int{2}, nil},
	}
	if len(f.Tensors) != len(want) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(want))
	}
	for i, w := range want {
		g := f.Tensors[i]
		if g.Name != w.name || g.DType != w.dtype || !slices.Equal(g.Shape, w.shape) {
			t.Errorf("tensor %d: %s %s %v, want %s %s %v", i, g.Name, g.DType, g.Shape, w.name, w.dtype, w.shape)
			continue
		}
		if w.values == nil {
			if g.Float != nil || g.NotFloat == "" {
				t.Errorf("%s: Float %v, NotFloat %q, want nil and a reason", g.Name, g.Float, g.NotFloat)
			}
			continue
		}
		if g.Float == nil || g.NotFloat != "" {
			t.Errorf("%s: Float %v, NotFloat %q, want values", g.Name, g.Float, g.NotFloat)
		}
		sameBits(t, w.name, g.Float, w.values)
	}
}

// TestMalformed checks one file of each kind that must be refused.
func TestMalformed(t *testing.T) {
	f32 := func(offsets string, shape string) string {
		return `{"a": {"dtype": "F32", "shape": ` + shape + `, "data_offsets": ` + offsets + `}}`
	}
	huge := binary.LittleEndian.AppendUint64(nil, MaxHeader+1)
	past := binary.LittleEndian.AppendUint64(nil, 100)
	cases := []struct {
		name string
		file []byte
		want []string
	}{
		{"shorter than the length", []byte{1, 2, 3}, []string{"truncated: 3 bytes"}},
		{"header over 100 MB", append(huge, "{}"...), []string{"header length 100000001 bytes", "limit of 100000000"}},
		{"header past the file", append(past, "{}"...), []string{"truncated: header length 100 bytes", "only 2"}},
		{"length near 2^64", binary.LittleEndian.AppendUint64(nil, math.MaxUint64), []string{"header length 18446744073709551615"}},
		{"invalid JSON", st(`{"a": `, nil), []string{"header: invalid JSON"}},
		{"not an object", st(`[1, 2]`, nil), []string{"header:", "want a JSON object"}},
		{"trailing JSON", st(`{} {}`, nil), []string{"data after the JSON object"}},
		{"invalid UTF-8", st("{\"\xff\": 1}", nil), []string{"not valid UTF-8"}},
		{"duplicate tensor", st(`{"a": {}, "a": {}}`, nil), []string{`key "a" appears twice`}},
		{"duplicate field", st(`{"a": {"dtype": "F32", "dtype": "F64"}}`, nil), []string{`tensor "a"`, `key "dtype" appears twice`}},
		{"tensor not an object", st(`{"a": 5}`, nil), []string{`tensor "a": "5": want a JSON object`}},
		{"unknown dtype", st(`{"a": {"dtype": "F128", "shape": [], "data_offsets": [0, 16]}}`, make([]byte, 16)), []string{`tensor "a": dtype "F128": unknown`, "BF16"}},
		{"dtype not a string", st(`{"a": {"dtype": 32, "shape": [], "data_offsets": [0, 4]}}`, make([]byte, 4)), []string{`tensor "a": dtype "32": want a string`}},
		{"no shape", st(`{"a": {"dtype": "F32", "data_offsets": [0, 4]}}`, make([]byte, 4)), []string{`tensor "a": no shape`}},
		{"no data_offsets", st(`{"a": {"dtype": "F32", "shape": []}}`, make([]byte, 4)), []string{`tensor "a": no data_offsets`}},
		{"negative dimension", st(f32("[0, 4]", "[-1]"), make([]byte, 4)), []string{`tensor "a": shape "[-1]": want a list of integers >= 0`}},
		{"fractional dimension", st(f32("[0, 4]", "[1.5]"), make([]byte, 4)), []string{`shape "[1.5]"`}},
		{"null shape", st(f32("[0, 4]", "null"), make([]byte, 4)), []string{`shape "null"`}},
		{"three offsets", st(f32("[0, 4, 8]", "[1]"), make([]byte, 4)), []string{`data_offsets "[0,4,8]": want [begin, end]`}},
		{"negative offset", st(f32("[-4, 0]", "[1]"), make([]byte, 4)), []string{`data_offsets "[-4,0]"`}},
		{"offset beyond int64", st(f32("[0, 1e30]", "[1]"), make([]byte, 4)), []string{`data_offsets "[0,1e30]"`}},
		{"end before begin", st(f32("[8, 4]", "[1]"), make([]byte, 8)), []string{`tensor "a": data_offsets [8, 4]: end before begin`}},
		{"past the data section", st(f32("[0, 8]", "[2]"), make([]byte, 4)), []string{`tensor "a": data_offsets [0, 8]: past the end of the data section (4 bytes)`}},
		{"size mismatch", st(f32("[0, 8]", "[3]"), make([]byte, 8)), []string{`tensor "a": data_offsets [0, 8] hold 8 bytes, but shape [3] of F32 needs 12`}},
		{"elements overflow", st(f32("[0, 4]", "[4294967296, 4294967296, 4]"), make([]byte, 4)), []string{`tensor "a": shape [4294967296 4294967296 4]: more than 2^63 bytes`}},
		{"bytes overflow", st(f32("[0, 4]", "[4611686018427387904]"), make([]byte, 4)), []string{"more than 2^63 bytes of F32"}},
		{"half bytes", st(`{"a": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}`, make([]byte, 2)), []string{"3 elements of 4-bit F4 do not fill whole bytes"}},
		{"overlap", st(`{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}`, make([]byte, 12)),
			[]string{`tensor "b": data_offsets [4, 12] overlap tensor "a"'s [0, 8]`}},
		{"same range", st(`{"b": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}, "a": {"dtype": "I8", "shape": [4], "data_offsets": [0, 4]}}`, make([]byte, 4)),
			[]string{`tensor "a": data_offsets [0, 4] overlap tensor "b"'s [0, 4]`}},
		{"gap", st(`{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}`, make([]byte, 12)),
			[]string{`tensor "b": data_offsets [8, 12] leave bytes [4, 8) of the data section to no tensor`}},
		{"gap at the start", st(f32("[4, 8]", "[1]"), make([]byte, 8)), []string{"leave bytes [0, 4)"}},
		{"trailing data", st(f32("[0, 4]", "[1]"), make([]byte, 6)), []string{"the tensors end at byte 4 of the data section, but it has 6 bytes"}},
		{"data but no tensors", st(`{}`, make([]byte, 1)), []string{"end at byte 0", "has 1 bytes"}},
		{"metadata value not a string", st(`{"__metadata__": {"k": 1}}`, nil), []string{`__metadata__: key "k": value "1": want a string`}},
		{"metadata not an object", st(`{"__metadata__": "x"}`, nil), []string{`__metadata__: "\"x\"": want a JSON object`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Decode(c.file)
			if err == nil {
				t.Fatalf("accepted: %+v", f)
			}
			wantErr(t, err, c.want...)
		})
	}
}

// TestAccepted checks files at the edges of what is valid.
func TestAccepted(t *testing.T) {
	cases := []struct {
		name   string
		file   []byte
		tensor int
	}{
		{"empty header", st(`{}`, nil), 0},
		{"padded header", st("{}        ", nil), 0},
		{"null metadata", st(`{"__metadata__": null}`, nil), 0},
		{"unknown field ignored", st(`{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "note": [1]}}`, make([]byte, 4)), 1},
		{"zero-size tensors at one offset", st(`{"b": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}, "a": {"dtype": "F16", "shape": [2, 0], "data_offsets": [0, 0]}}`, nil), 2},
		{"huge zero-size shape", st(`{"a": {"dtype": "F64", "shape": [9223372036854775807, 0], "data_offsets": [0, 0]}}`, nil), 1},
		{"sub-byte dtype", st(`{"a": {"dtype": "F4", "shape": [4], "data_offsets": [0, 2]}}`, make([]byte, 2)), 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Decode(c.file)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Tensors) != c.tensor {
				t.Errorf("%d tensors, want %d", len(f.Tensors), c.tensor)
			}
		})
	}
}

// TestTruncated checks that every proper prefix of the fixture, and the
// fixture with a byte more, are refused.
func TestTruncated(t *testing.T) {
	b, err := os.ReadFile("testdata/fixture.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		if _, err := Decode(b[:n]); err == nil {
			t.Errorf("accepted the first %d of %d bytes", n, len(b))
		}
	}
	if _, err := Decode(append(slices.Clone(b), 0)); err == nil {
		t.Error("accepted a byte after the last tensor")
	}
}

// TestReadErrorsNameFile checks that Read names the file in its errors.
func TestReadErrorsNameFile(t *testing.T) {
	p := writeTemp(t, st(`{"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}`, make([]byte, 8)))
	_, err := Read(p)
	wantErr(t, err, p+": header: tensor \"w\": data_offsets [0, 8] hold 8 bytes")
	_, err = Read(filepath.Dir(p))
	wantErr(t, err, "not a regular file")
}

// TestMemory checks that a file whose floats exceed the process's memory
// is refused with a *limits.Error before its data are read.
func TestMemory(t *testing.T) {
	err := checkMemory([]Tensor{{Name: "w", DType: "F16", End: 1 << 61}, {Name: "ids", DType: "I64", End: 1 << 62, NotFloat: "x"}})
	var le *limits.Error
	if !errors.As(err, &le) {
		t.Fatalf("got %v, want a *limits.Error", err)
	}
	wantErr(t, err, "1152921504606846976 values of 1 float tensors in float64")
	if err := checkMemory([]Tensor{{DType: "F64", End: math.MaxInt64 - 7}}); !errors.As(err, &le) || le.Need != math.MaxInt64 {
		t.Errorf("got %v, want a *limits.Error needing MaxInt64 bytes", err)
	}

	// A sparse file of 64 GiB of float32: its values in float64 take 128 GiB.
	mem, _ := limits.Memory()
	if mem > 150<<30 {
		t.Skip("this machine could read a 64 GiB file")
	}
	const n = 16 << 30
	header := fmt.Sprintf(`{"w": {"dtype": "F32", "shape": [%d], "data_offsets": [0, %d]}}`, n, 4*n)
	p := writeTemp(t, st(header, nil))
	if err := os.Truncate(p, int64(8+len(header)+4*n)); err != nil {
		t.Skipf("no sparse file: %v", err)
	}
	_, err = Read(p)
	if !errors.As(err, &le) {
		t.Fatalf("got %v, want a *limits.Error", err)
	}
	wantErr(t, err, p, "17179869184 values of 1 float tensors")
}
