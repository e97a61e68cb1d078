package safetensors

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"

	"github.com/initscope/initscope/num"
)

// dtype is an element type of the format.
type dtype struct {
	bits int // bits per element
	// convert writes the little-endian elements of raw into out as
	// float64; nil for a dtype this package does not convert.
	convert  func(raw []byte, out []float64)
	notFloat string // why there is no convert
}

// The reasons a tensor carries no floats, as Tensor.NotFloat gives them.
const (
	integers   = "integers, not a float tensor"
	booleans   = "booleans, not a float tensor"
	complexes  = "complex numbers, not a float tensor"
	smallFloat = "a float format of under 16 bits that this reader does not convert"
)

// dtypes are the element types of the safetensors format, by name.
var dtypes = map[string]dtype{
	"F64":  {bits: 64, convert: convertF64},
	"F32":  {bits: 32, convert: convertF32},
	"F16":  {bits: 16, convert: convertF16},
	"BF16": {bits: 16, convert: convertBF16},

	"BOOL": {bits: 8, notFloat: booleans},
	"U8":   {bits: 8, notFloat: integers},
	"I8":   {bits: 8, notFloat: integers},
	"U16":  {bits: 16, notFloat: integers},
	"I16":  {bits: 16, notFloat: integers},
	"U32":  {bits: 32, notFloat: integers},
	"I32":  {bits: 32, notFloat: integers},
	"U64":  {bits: 64, notFloat: integers},
	"I64":  {bits: 64, notFloat: integers},
	"C64":  {bits: 64, notFloat: complexes},

	"F8_E5M2":     {bits: 8, notFloat: smallFloat},
	"F8_E4M3":     {bits: 8, notFloat: smallFloat},
	"F8_E8M0":     {bits: 8, notFloat: smallFloat},
	"F8_E4M3FNUZ": {bits: 8, notFloat: smallFloat},
	"F8_E5M2FNUZ": {bits: 8, notFloat: smallFloat},
	"F6_E2M3":     {bits: 6, notFloat: smallFloat},
	"F6_E3M2":     {bits: 6, notFloat: smallFloat},
	"F4":          {bits: 4, notFloat: smallFloat},
}

// dtypeNames lists the dtype names for error messages.
func dtypeNames() string {
	names := make([]string, 0, len(dtypes))
	for n := range dtypes {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// convertF64 converts little-endian float64 elements.
func convertF64(raw []byte, out []float64) {
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
	}
}

// convertF32 converts little-endian float32 elements.
func convertF32(raw []byte, out []float64) {
	for i := range out {
		out[i] = num.Float32(binary.LittleEndian.Uint32(raw[4*i:]))
	}
}

// convertF16 converts little-endian binary16 elements.
func convertF16(raw []byte, out []float64) {
	for i := range out {
		out[i] = num.Float16(binary.LittleEndian.Uint16(raw[2*i:]))
	}
}

// convertBF16 converts little-endian bfloat16 elements.
func convertBF16(raw []byte, out []float64) {
	for i := range out {
		out[i] = num.BFloat16(binary.LittleEndian.Uint16(raw[2*i:]))
	}
}
