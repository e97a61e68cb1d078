package num

import "math"

// Float16 returns the value of the IEEE 754 binary16 (half precision)
// number with the given bits, exactly: zeros keep their sign, subnormals
// are m*2^-24, infinities stay infinite, and a NaN keeps its sign and its
// fraction, whose 10 bits lead float64's (a signaling NaN stays signaling,
// as in NumPy's conversion).
func Float16(bits uint16) float64 {
	sign := uint64(bits>>15) << 63
	exp := uint64(bits>>10) & 0x1f
	frac := uint64(bits) & 0x3ff
	switch exp {
	case 0: // zero or subnormal: frac * 2^-24, exact in float64
		return math.Float64frombits(math.Float64bits(float64(frac)*0x1p-24) | sign)
	case 0x1f: // infinity or NaN
		return math.Float64frombits(sign | 0x7ff<<52 | frac<<42)
	}
	return math.Float64frombits(sign | (exp-15+1023)<<52 | frac<<42)
}

// BFloat16 returns the value of the bfloat16 number with the given bits
// (the upper half of a float32), exactly, with NaNs kept as Float32 keeps
// them.
func BFloat16(bits uint16) float64 {
	return Float32(uint32(bits) << 16)
}

// Float32 returns the value of the IEEE 754 binary32 number with the given
// bits, exactly. A NaN keeps its sign and its fraction, whose 23 bits lead
// float64's: unlike a hardware conversion, a signaling NaN stays
// signaling.
func Float32(bits uint32) float64 {
	if bits&0x7fffffff > 0x7f800000 {
		return math.Float64frombits(uint64(bits>>31)<<63 | 0x7ff<<52 | uint64(bits&0x7fffff)<<29)
	}
	return float64(math.Float32frombits(bits))
}
