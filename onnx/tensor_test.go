package onnx

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/initscope/initscope/onnx/onnxpb"
)

// rawLE returns the raw_data of values given as bit patterns of size
// bytes each, little-endian.
func rawLE(size int, bits ...uint64) []byte {
	b := make([]byte, 8*len(bits))
	for i, v := range bits {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	out := make([]byte, 0, size*len(bits))
	for i := range bits {
		out = append(out, b[8*i:8*i+size]...)
	}
	return out
}

// sameFloats reports whether got and want hold the same values bit for
// bit (so that -0 differs from 0), any NaN matching any NaN.
func sameFloats(got, want []float64) bool {
	return slices.EqualFunc(got, want, func(a, b float64) bool {
		return math.Float64bits(a) == math.Float64bits(b) || math.IsNaN(a) && math.IsNaN(b)
	})
}

var (
	inf  = math.Inf(1)
	nan  = math.NaN()
	negZ = math.Copysign(0, -1)
)

// The values of float16 and bfloat16 bit patterns, worked out by hand from
// their layouts (float16: 1 sign, 5 exponent bits biased by 15, 10
// fraction bits; bfloat16: the upper half of a float32).
var (
	f16Bits = []uint64{0x3C00, 0xC000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x3555, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0xFC01}
	f16Want = []float64{
		1, -2, 0x1p-24, 1023 * 0x1p-24, 0x1p-14, 65504, (1 + 341.0/1024) / 4, negZ, inf, -inf, nan, nan,
	}
	bf16Bits = []uint64{0x3F80, 0xC049, 0x0001, 0x7F7F, 0x8000, 0x7F80, 0xFF80, 0x7FC0}
	bf16Want = []float64{1, -3.140625, 0x1p-133, 0xFF * 0x1p120, negZ, inf, -inf, nan}
)

// TestTensorTypes decodes each element type from raw_data and from its
// typed field, against values worked out by hand.
func TestTensorTypes(t *testing.T) {
	f32 := []float32{1.5, -0.1, math.MaxFloat32, math.SmallestNonzeroFloat32, float32(negZ), float32(inf)}
	f32Want := []float64{1.5, -0.10000000149011612, 3.4028234663852886e38, 0x1p-149, negZ, inf}
	f32Bits := make([]uint64, len(f32))
	for i, v := range f32 {
		f32Bits[i] = uint64(math.Float32bits(v))
	}
	f64 := []float64{math.Pi, -1e-310, 1e300, negZ}
	f64Bits := make([]uint64, len(f64))
	for i, v := range f64 {
		f64Bits[i] = math.Float64bits(v)
	}
	int32s := func(bits []uint64) []int32 {
		out := make([]int32, len(bits))
		for i, b := range bits {
			out[i] = int32(b)
		}
		return out
	}
	tests := []struct {
		name   string
		p      *onnxpb.TensorProto
		dims   []int
		floats []float64
		ints   []int64
	}{
		{"float32 raw", withRaw(tensorProto("", Float32, 2, 3), rawLE(4, f32Bits...)), []int{2, 3}, f32Want, nil},
		{"float32 float_data", withTyped(tensorProto("", Float32, 2, 3), func(p *onnxpb.TensorProto) { p.FloatData = f32 }), []int{2, 3}, f32Want, nil},
		{"float64 raw", withRaw(tensorProto("", Float64, 4), rawLE(8, f64Bits...)), []int{4}, f64, nil},
		{"float64 double_data", withTyped(tensorProto("", Float64, 4), func(p *onnxpb.TensorProto) { p.DoubleData = f64 }), []int{4}, f64, nil},
		{"float16 raw", withRaw(tensorProto("", Float16, 3, 4), rawLE(2, f16Bits...)), []int{3, 4}, f16Want, nil},
		{"float16 int32_data", withTyped(tensorProto("", Float16, 3, 4), func(p *onnxpb.TensorProto) { p.Int32Data = int32s(f16Bits) }), []int{3, 4}, f16Want, nil},
		{"bfloat16 raw", withRaw(tensorProto("", BFloat16, 8), rawLE(2, bf16Bits...)), []int{8}, bf16Want, nil},
		{"bfloat16 int32_data", withTyped(tensorProto("", BFloat16, 8), func(p *onnxpb.TensorProto) { p.Int32Data = int32s(bf16Bits) }), []int{8}, bf16Want, nil},
		{"float32 scalar", withRaw(tensorProto("", Float32), rawLE(4, 0x40490FDB)), []int{}, []float64{float64(float32(math.Pi))}, nil},
		{"float32 empty", tensorProto("", Float32, 3, 0), []int{3, 0}, []float64{}, nil},
		{"int8 raw", withRaw(tensorProto("", Int8, 4), []byte{0x80, 0xFF, 0, 0x7F}), []int{4}, nil, []int64{-128, -1, 0, 127}},
		{"int8 int32_data", withTyped(tensorProto("", Int8, 4), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{-128, -1, 0, 127} }), []int{4}, nil, []int64{-128, -1, 0, 127}},
		{"uint8 raw", withRaw(tensorProto("", Uint8, 3), []byte{0, 200, 255}), []int{3}, nil, []int64{0, 200, 255}},
		{"int16 raw", withRaw(tensorProto("", Int16, 2), rawLE(2, 0x8000, 0xFFF9)), []int{2}, nil, []int64{-32768, -7}},
		{"uint16 int32_data", withTyped(tensorProto("", Uint16, 2), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{0, 65535} }), []int{2}, nil, []int64{0, 65535}},
		{"int32 raw", withRaw(tensorProto("", Int32, 2), rawLE(4, 0x80000000, 5)), []int{2}, nil, []int64{math.MinInt32, 5}},
		{"uint32 raw", withRaw(tensorProto("", Uint32, 1), rawLE(4, 0xFFFFFFFF)), []int{1}, nil, []int64{math.MaxUint32}},
		{"uint32 uint64_data", withTyped(tensorProto("", Uint32, 2), func(p *onnxpb.TensorProto) { p.Uint64Data = []uint64{0, math.MaxUint32} }), []int{2}, nil, []int64{0, math.MaxUint32}},
		{"int64 raw", withRaw(tensorProto("", Int64, 2), rawLE(8, 1<<63, 42)), []int{2}, nil, []int64{math.MinInt64, 42}},
		{"int64 int64_data", withTyped(tensorProto("", Int64, 2, 1), func(p *onnxpb.TensorProto) { p.Int64Data = []int64{math.MaxInt64, -3} }), []int{2, 1}, nil, []int64{math.MaxInt64, -3}},
		{"bool raw", withRaw(tensorProto("", Bool, 3), []byte{1, 0, 1}), []int{3}, nil, []int64{1, 0, 1}},
		{"bool int32_data", withTyped(tensorProto("", Bool, 2), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{0, 1} }), []int{2}, nil, []int64{0, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, err := decodeTensor(t, tc.p, "")
			if err != nil {
				t.Fatal(err)
			}
			if x.Type != DataType(tc.p.GetDataType()) || !slices.Equal(x.Dims, tc.dims) {
				t.Errorf("type %s, dims %v: want %s, %v", x.Type, x.Dims, DataType(tc.p.GetDataType()), tc.dims)
			}
			if (x.Float == nil) != (tc.floats == nil) || !sameFloats(x.Float, tc.floats) {
				t.Errorf("floats %v, want %v", x.Float, tc.floats)
			}
			if (x.Int == nil) != (tc.ints == nil) || !slices.Equal(x.Int, tc.ints) {
				t.Errorf("ints %v, want %v", x.Int, tc.ints)
			}
			consistent(t, x)
		})
	}
}

// withRaw sets the raw_data of p.
func withRaw(p *onnxpb.TensorProto, raw []byte) *onnxpb.TensorProto {
	p.RawData = raw
	return p
}

// withTyped sets a typed field of p.
func withTyped(p *onnxpb.TensorProto, set func(*onnxpb.TensorProto)) *onnxpb.TensorProto {
	set(p)
	return p
}

// TestTensorErrors checks that malformed tensors are refused with an error
// naming the tensor and the field at fault.
func TestTensorErrors(t *testing.T) {
	tests := []struct {
		name   string
		p      *onnxpb.TensorProto
		errors []string
	}{
		{"raw too short", withRaw(tensorProto("", Float32, 2, 3), make([]byte, 20)), []string{"raw_data holds 20 bytes: float32 [2 3] needs 24"}},
		{"raw too long", withRaw(tensorProto("", Float16, 2), make([]byte, 5)), []string{"raw_data holds 5 bytes: float16 [2] needs 4"}},
		{"raw empty", withRaw(tensorProto("", Float64, 1), []byte{}), []string{"raw_data holds 0 bytes: float64 [1] needs 8"}},
		{"typed too few", withTyped(tensorProto("", Float32, 3), func(p *onnxpb.TensorProto) { p.FloatData = []float32{1, 2} }), []string{"float_data holds 2 values: float32 [3] needs 3"}},
		{"typed too many", withTyped(tensorProto("", Int64), func(p *onnxpb.TensorProto) { p.Int64Data = []int64{1, 2} }), []string{"int64_data holds 2 values: int64 [] needs 1"}},
		{"no values", tensorProto("", Float32, 2), []string{"no values: float32 [2] needs 2"}},
		{"raw and typed", withTyped(withRaw(tensorProto("", Float32, 1), make([]byte, 4)), func(p *onnxpb.TensorProto) { p.FloatData = []float32{1} }),
			[]string{"values in raw_data and float_data: want them in one field"}},
		{"two typed fields", withTyped(tensorProto("", Float16, 1), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{1}; p.FloatData = []float32{1} }),
			[]string{"values in float_data and int32_data"}},
		{"float64 in float_data", withTyped(tensorProto("", Float64, 1), func(p *onnxpb.TensorProto) { p.FloatData = []float32{1} }),
			[]string{"float64 values in float_data: want them in raw_data or double_data"}},
		{"float16 in float_data", withTyped(tensorProto("", Float16, 1), func(p *onnxpb.TensorProto) { p.FloatData = []float32{1} }),
			[]string{"float16 values in float_data: want them in raw_data or int32_data"}},
		{"int64 in int32_data", withTyped(tensorProto("", Int64, 1), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{1} }),
			[]string{"int64 values in int32_data: want them in raw_data or int64_data"}},
		{"string_data", withTyped(tensorProto("", Float32, 1), func(p *onnxpb.TensorProto) { p.StringData = [][]byte{[]byte("a")} }),
			[]string{"float32 values in string_data"}},
		{"negative dim", withRaw(tensorProto("", Float32, 2, -1), nil), []string{"dim 1 is -1: dims must be >= 0"}},
		{"dims overflowing", withRaw(tensorProto("", Float32, 1<<40, 1<<40), make([]byte, 4)), []string{"dims [1099511627776 1099511627776]: more than 576460752303423487 values"}},
		{"dims overflowing int64", withRaw(tensorProto("", Float32, 1<<62, 4, 4), make([]byte, 4)), []string{"dims [4611686018427387904 4 4]: more than"}},
		{"string type", withTyped(tensorProto("", String, 1), func(p *onnxpb.TensorProto) { p.StringData = [][]byte{[]byte("a")} }),
			[]string{"element type string: supported float32, float64"}},
		{"complex64", tensorProto("", Complex64, 1), []string{"element type complex64"}},
		{"uint64", tensorProto("", Uint64, 1), []string{"element type uint64"}},
		{"float8", tensorProto("", Float8E4M3FN, 1), []string{"element type float8e4m3fn"}},
		{"undefined type", tensorProto("", Undefined, 1), []string{"element type undefined"}},
		{"unknown type", tensorProto("", DataType(99), 1), []string{"element type DataType(99)"}},
		{"segment", withTyped(withRaw(tensorProto("", Float32, 1), make([]byte, 4)), func(p *onnxpb.TensorProto) {
			p.Segment = &onnxpb.TensorProto_Segment{Begin: proto.Int64(0), End: proto.Int64(1)}
		}), []string{"segment given: segmented tensors are not supported"}},
		{"bool 2 raw", withRaw(tensorProto("", Bool, 2), []byte{1, 2}), []string{"value 1 is 2: a bool must be 0 or 1"}},
		{"bool 2 typed", withTyped(tensorProto("", Bool, 1), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{2} }),
			[]string{"int32_data value 0 is 2: outside the range of bool"}},
		{"int8 out of range", withTyped(tensorProto("", Int8, 2), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{1, 200} }),
			[]string{"int32_data value 1 is 200: outside the range of int8"}},
		{"uint8 negative", withTyped(tensorProto("", Uint8, 1), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{-1} }),
			[]string{"int32_data value 0 is -1: outside the range of uint8"}},
		{"float16 bits too large", withTyped(tensorProto("", Float16, 2), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{0x3C00, 0x10000} }),
			[]string{"int32_data value 1 is 65536: outside the range of float16 bit patterns (0 to 65535)"}},
		{"float16 bits negative", withTyped(tensorProto("", Float16, 1), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{-1} }),
			[]string{"int32_data value 0 is -1: outside the range of float16 bit patterns"}},
		{"uint32 out of range", withTyped(tensorProto("", Uint32, 1), func(p *onnxpb.TensorProto) { p.Uint64Data = []uint64{1 << 32} }),
			[]string{"uint64_data value 0 is 4294967296: outside the range of uint32"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeTensor(t, tc.p, "")
			wantErr(t, err, append([]string{`onnx model: initializer 0: tensor "w": `}, tc.errors...)...)
		})
	}
}

// TestHugeDimsFailFast checks that a tensor declaring about 2^40 values
// but holding a few is refused before anything of its declared size is
// allocated, wherever its values lie.
func TestHugeDimsFailFast(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "w.bin"), make([]byte, 64))
	huge := func(dt DataType) *onnxpb.TensorProto { return tensorProto("", dt, 1<<20, 1<<20) }
	tests := []struct {
		name string
		p    *onnxpb.TensorProto
		part string
	}{
		{"raw_data", withRaw(huge(Float32), make([]byte, 4)), "raw_data holds 4 bytes: float32 [1048576 1048576] needs 4398046511104"},
		{"float_data", withTyped(huge(Float32), func(p *onnxpb.TensorProto) { p.FloatData = []float32{1} }), "float_data holds 1 values"},
		{"int32_data", withTyped(huge(Float16), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{1} }), "int32_data holds 1 values"},
		{"no values", huge(Float64), "no values: float64 [1048576 1048576] needs 1099511627776"},
		{"external, whole file", withExternal(huge(Float32), "w.bin"), "64 bytes from offset 0: 1099511627776 values need 4398046511104"},
		{"external, length", withExternal(huge(Int64), "w.bin", "length", "8"), "8 bytes from offset 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := decodeTensor(t, tc.p, dir)
			runtime.ReadMemStats(&after)
			wantErr(t, err, `tensor "w"`, tc.part)
			if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
				t.Errorf("allocated %d bytes decoding a tensor of 4 bytes: want less than 1 MiB", got)
			}
		})
	}
}

// TestFixtures reads the tensors ONNX's Python library wrote into
// testdata/types.onnx and, moved to external data, testdata/external.onnx
// (see testdata/gen.py), and compares them with the values NumPy read back
// (testdata/expected.json).
func TestFixtures(t *testing.T) {
	b, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var expected map[string][3]json.RawMessage
	if err := json.Unmarshal(b, &expected); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"testdata/types.onnx", "testdata/external.onnx"} {
		m, err := Read(file)
		if err != nil {
			t.Fatal(err)
		}
		if m.IRVersion != 7 || m.Opset != 14 || m.Producer != "gen.py" || len(m.Graph.Initializers) != len(expected) {
			t.Errorf("%s: IR %d, opset %d, producer %q, %d initializers: want 7, 14, gen.py, %d",
				file, m.IRVersion, m.Opset, m.Producer, len(m.Graph.Initializers), len(expected))
		}
		for name, e := range expected {
			x := m.Graph.Initializer(name)
			if x == nil {
				t.Errorf("%s: no initializer %q", file, name)
				continue
			}
			checkExpected(t, file, x, e)
		}
		if len(m.Graph.Nodes) != len(expected) || m.Graph.Nodes[0].Op != "Identity" {
			t.Errorf("%s: %d nodes, want %d Identity nodes", file, len(m.Graph.Nodes), len(expected))
		}
	}
}

// checkExpected compares x with its entry in expected.json: [data type,
// dims, values as Python's repr writes them].
func checkExpected(t *testing.T, file string, x *Tensor, e [3]json.RawMessage) {
	t.Helper()
	var dt DataType
	var dims []int
	var vals []string
	for i, v := range []any{&dt, &dims, &vals} {
		if err := json.Unmarshal(e[i], v); err != nil {
			t.Fatalf("expected.json %q: %v", x.Name, err)
		}
	}
	if x.Type != dt || !slices.Equal(x.Dims, dims) || x.Size() != len(vals) {
		t.Errorf("%s: %q is %s %v: want %s %v", file, x.Name, x.Type, x.Dims, dt, dims)
		return
	}
	consistent(t, x)
	for i, s := range vals {
		if x.Float != nil {
			want, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatal(err)
			}
			if !sameFloats(x.Float[i:i+1], []float64{want}) {
				t.Errorf("%s: %q[%d] = %g, want %s", file, x.Name, i, x.Float[i], s)
			}
			continue
		}
		if want, _ := strconv.ParseInt(s, 10, 64); x.Int[i] != want {
			t.Errorf("%s: %q[%d] = %d, want %s", file, x.Name, i, x.Int[i], s)
		}
	}
}
