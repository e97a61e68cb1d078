package onnx

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/initscope/initscope/limits"
	"github.com/initscope/initscope/num"
	"github.com/initscope/initscope/onnx/onnxpb"
)

// DataType is an element type, numbered as ONNX's TensorProto.DataType.
type DataType int

// The element types of ONNX.
const (
	Undefined      DataType = 0
	Float32        DataType = 1
	Uint8          DataType = 2
	Int8           DataType = 3
	Uint16         DataType = 4
	Int16          DataType = 5
	Int32          DataType = 6
	Int64          DataType = 7
	String         DataType = 8
	Bool           DataType = 9
	Float16        DataType = 10
	Float64        DataType = 11
	Uint32         DataType = 12
	Uint64         DataType = 13
	Complex64      DataType = 14
	Complex128     DataType = 15
	BFloat16       DataType = 16
	Float8E4M3FN   DataType = 17
	Float8E4M3FNUZ DataType = 18
	Float8E5M2     DataType = 19
	Float8E5M2FNUZ DataType = 20
)

// dataTypeNames are the names of the element types, by number.
var dataTypeNames = []string{
	"undefined", "float32", "uint8", "int8", "uint16", "int16", "int32", "int64", "string", "bool",
	"float16", "float64", "uint32", "uint64", "complex64", "complex128", "bfloat16",
	"float8e4m3fn", "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz",
}

// String names the type as NumPy does ("float32", "float16", "bool"), or
// "bfloat16", "float8e4m3fn", or "DataType(N)" for a number ONNX does not
// define.
func (t DataType) String() string {
	if t >= 0 && int(t) < len(dataTypeNames) {
		return dataTypeNames[t]
	}
	return "DataType(" + strconv.Itoa(int(t)) + ")"
}

// Tensor is a tensor with its values in row-major order.
type Tensor struct {
	// Name is the tensor's name, as nodes refer to it.
	Name string
	// Dims is its shape; empty for a scalar.
	Dims []int
	// Type is its element type, as the file gives it.
	Type DataType
	// Float holds the values of a float type (float32, float64, float16,
	// bfloat16), converted exactly; nil for the other types.
	Float []float64
	// Int holds the values of an integer type (int8 ... int64, uint8 ...
	// uint32) and of bool (0 or 1); nil for the other types.
	Int []int64
}

// Size returns the number of values: the product of the dims, 1 for a
// scalar.
func (t *Tensor) Size() int {
	n := 1
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// kind says how the values of a supported element type are stored.
type kind struct {
	size   int    // bytes of a value in raw_data
	field  string // the typed field that holds the values
	signed bool   // an integer type whose raw values are sign-extended
	// float returns the value of a bit pattern of a float type; nil for
	// integer types and bool.
	float func(bits uint64) float64
}

// kinds are the supported element types.
var kinds = map[DataType]kind{
	Float32:  {size: 4, field: "float_data", float: func(b uint64) float64 { return num.Float32(uint32(b)) }},
	Float64:  {size: 8, field: "double_data", float: math.Float64frombits},
	Float16:  {size: 2, field: "int32_data", float: func(b uint64) float64 { return num.Float16(uint16(b)) }},
	BFloat16: {size: 2, field: "int32_data", float: func(b uint64) float64 { return num.BFloat16(uint16(b)) }},
	Int8:     {size: 1, field: "int32_data", signed: true},
	Uint8:    {size: 1, field: "int32_data"},
	Int16:    {size: 2, field: "int32_data", signed: true},
	Uint16:   {size: 2, field: "int32_data"},
	Int32:    {size: 4, field: "int32_data", signed: true},
	Uint32:   {size: 4, field: "uint64_data"},
	Int64:    {size: 8, field: "int64_data", signed: true},
	Bool:     {size: 1, field: "int32_data"},
}

// supported lists the supported element types for errors.
const supported = "float32, float64, float16, bfloat16, int8, uint8, int16, uint16, int32, uint32, int64 or bool"

// value returns the value of a bit pattern of type t: a float, or an
// integer sign-extended from size bytes; ok is false for a bool other than
// 0 or 1.
func (k kind) value(t DataType, bits uint64) (f float64, i int64, ok bool) {
	switch {
	case k.float != nil:
		return k.float(bits), 0, true
	case t == Bool:
		return 0, int64(bits), bits <= 1
	case k.signed:
		shift := 64 - 8*k.size
		return 0, int64(bits<<shift) >> shift, true
	}
	return 0, int64(bits), true
}

// fromInt32 returns the bit pattern of a value held in int32_data, and
// whether it lies in the range of the type (0 to 65535 for the bits of
// float16 and bfloat16, 0 or 1 for bool).
func (k kind) fromInt32(t DataType, v int32) (uint64, bool) {
	bits := uint64(int64(v)) & (1<<(8*k.size) - 1)
	if t == Bool {
		return bits, v == 0 || v == 1
	}
	if k.signed {
		_, i, _ := k.value(t, bits)
		return bits, i == int64(v)
	}
	return bits, v >= 0 && uint64(v) == bits
}

// tensor decodes a tensor and its values, reading external data from the
// decoder's folder.
func (d decoder) tensor(p *onnxpb.TensorProto) (*Tensor, error) {
	t := &Tensor{Name: p.GetName(), Type: DataType(p.GetDataType())}
	var err error
	if t.Dims, err = dims(p.GetDims()); err == nil {
		err = d.values(t, p)
	}
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	return t, nil
}

// maxValues is the most values a tensor may have: few enough that the
// bytes of its values read (at most 8 each) and in 64 bits sum to at most
// math.MaxInt64.
const maxValues = math.MaxInt64 / 16

// dims checks the dims of a tensor: each >= 0, with a product of at most
// maxValues.
func dims(ds []int64) ([]int, error) {
	out := make([]int, len(ds))
	for i, d := range ds {
		if d < 0 {
			return nil, fmt.Errorf("dim %d is %d: dims must be >= 0", i, d)
		}
		out[i] = int(d)
	}
	if slices.Contains(ds, 0) {
		return out, nil
	}
	n := int64(1)
	for _, d := range ds {
		if n > maxValues/d {
			return nil, fmt.Errorf("dims %v: more than %d values", ds, int64(maxValues))
		}
		n *= d
	}
	return out, nil
}

// values fills the values of t, whose type and dims are set, from the one
// field of p that holds them.
func (d decoder) values(t *Tensor, p *onnxpb.TensorProto) error {
	k, ok := kinds[t.Type]
	if !ok {
		return fmt.Errorf("element type %s: supported %s", t.Type, supported)
	}
	if p.GetSegment() != nil {
		return fmt.Errorf("segment given: segmented tensors are not supported")
	}
	field, err := holder(p, k)
	if err != nil {
		return err
	}
	n := t.Size()
	at, err := d.source(p, field, t, k)
	if err != nil {
		return err
	}
	if err := d.reserve(t.Name, n); err != nil {
		return err
	}
	return store(t, k, n, at)
}

// checkEvery is how many bytes of small tensors' values the decoder
// decodes between two checks of the memory limits.
const checkEvery = 64 << 20

// reserve checks that the n values of tensor name fit in memory in
// float64. Reading the limits costs a fraction of a millisecond, too much
// for each of a model's thousands of small tensors: a tensor under
// checkEvery bytes is counted, and the limits are checked once the count
// reaches checkEvery (for all of it).
func (d decoder) reserve(name string, n int) error {
	need := 8 * int64(n)
	what := fmt.Sprintf("tensor %q: %d values in 64 bits", name, n)
	if d.unchecked != nil && need < checkEvery {
		if *d.unchecked += need; *d.unchecked < checkEvery {
			return nil
		}
		need, *d.unchecked = *d.unchecked, 0
		what = fmt.Sprintf("tensor %q and the tensors before it: %s of values in 64 bits", name, limits.Bytes(need))
	}
	return limits.Check(what, need)
}

// source returns the bit pattern of each value of t in field of p, after
// checking that the field holds t.Size() values.
func (d decoder) source(p *onnxpb.TensorProto, field string, t *Tensor, k kind) (func(int) (uint64, error), error) {
	n := t.Size()
	switch field {
	case "":
		if n != 0 {
			return nil, fmt.Errorf("no values: %s %v needs %d", t.Type, t.Dims, n)
		}
		return nil, nil
	case "raw_data", external:
		raw := p.GetRawData()
		if field == external {
			var err error
			if raw, err = d.external(p, int64(n), k.size); err != nil {
				return nil, err
			}
		}
		if len(raw) != n*k.size {
			return nil, fmt.Errorf("%s holds %d bytes: %s %v needs %d", field, len(raw), t.Type, t.Dims, n*k.size)
		}
		return rawBits(raw, k.size), nil
	}
	at, count := typed(p, field, t.Type, k)
	if count != n {
		return nil, fmt.Errorf("%s holds %d values: %s %v needs %d", field, count, t.Type, t.Dims, n)
	}
	return at, nil
}

// external names data_location EXTERNAL among the fields that hold
// values.
const external = "external data"

// holder returns the one field of p that holds values ("raw_data",
// external, a typed field), or "" if none does. Values in two fields, or
// in a typed field other than the one their type uses, are an error.
func holder(p *onnxpb.TensorProto, k kind) (string, error) {
	var fields []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{external, p.GetDataLocation() == onnxpb.TensorProto_EXTERNAL},
		{"raw_data", p.RawData != nil},
		{"float_data", len(p.GetFloatData()) > 0},
		{"double_data", len(p.GetDoubleData()) > 0},
		{"int32_data", len(p.GetInt32Data()) > 0},
		{"int64_data", len(p.GetInt64Data()) > 0},
		{"uint64_data", len(p.GetUint64Data()) > 0},
		{"string_data", len(p.GetStringData()) > 0},
	} {
		if f.set {
			fields = append(fields, f.name)
		}
	}
	switch {
	case len(fields) == 0:
		return "", nil
	case len(fields) > 1:
		return "", fmt.Errorf("values in %s: want them in one field", strings.Join(fields, " and "))
	case fields[0] != "raw_data" && fields[0] != external && fields[0] != k.field:
		return "", fmt.Errorf("%s values in %s: want them in raw_data or %s", DataType(p.GetDataType()), fields[0], k.field)
	}
	return fields[0], nil
}

// typed returns the bit pattern of each value of field, a typed field of
// p, and their number; for int32_data and uint64_data, a value outside the
// range of type t is an error.
func typed(p *onnxpb.TensorProto, field string, t DataType, k kind) (at func(int) (uint64, error), count int) {
	switch field {
	case "float_data":
		v := p.GetFloatData()
		return func(i int) (uint64, error) { return uint64(math.Float32bits(v[i])), nil }, len(v)
	case "double_data":
		v := p.GetDoubleData()
		return func(i int) (uint64, error) { return math.Float64bits(v[i]), nil }, len(v)
	case "int64_data":
		v := p.GetInt64Data()
		return func(i int) (uint64, error) { return uint64(v[i]), nil }, len(v)
	case "uint64_data":
		v := p.GetUint64Data()
		return func(i int) (uint64, error) {
			if v[i] > math.MaxUint32 {
				return 0, fmt.Errorf("uint64_data value %d is %d: outside the range of %s", i, v[i], t)
			}
			return v[i], nil
		}, len(v)
	default: // int32_data, the field of the other types
		v := p.GetInt32Data()
		return func(i int) (uint64, error) {
			bits, ok := k.fromInt32(t, v[i])
			if !ok {
				return 0, fmt.Errorf("int32_data value %d is %d: outside the range of %s%s", i, v[i], t, bitsHint(k))
			}
			return bits, nil
		}, len(v)
	}
}

// bitsHint explains the range of int32_data values of a float type.
func bitsHint(k kind) string {
	if k.float == nil {
		return ""
	}
	return " bit patterns (0 to 65535)"
}

// rawBits returns the bit pattern of each value of raw, size bytes each,
// little-endian.
func rawBits(raw []byte, size int) func(int) (uint64, error) {
	return func(i int) (uint64, error) {
		var bits uint64
		for j := size - 1; j >= 0; j-- {
			bits = bits<<8 | uint64(raw[i*size+j])
		}
		return bits, nil
	}
}

// store sets the n values of t from the bit patterns at returns: Float for
// a float type, Int for the others.
func store(t *Tensor, k kind, n int, at func(int) (uint64, error)) error {
	if k.float != nil {
		t.Float = make([]float64, n)
	} else {
		t.Int = make([]int64, n)
	}
	for i := range n {
		bits, err := at(i)
		if err != nil {
			return err
		}
		f, v, ok := k.value(t.Type, bits)
		if !ok {
			return fmt.Errorf("value %d is %d: a bool must be 0 or 1", i, bits)
		}
		if k.float != nil {
			t.Float[i] = f
		} else {
			t.Int[i] = v
		}
	}
	return nil
}
