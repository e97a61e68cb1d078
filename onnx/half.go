package onnx

import "math"

// float16 returns the value of the bit pattern h of an IEEE 754 binary16
// number (1 sign bit, 5 exponent bits biased by 15, 10 fraction bits),
// exactly: subnormals, signed zeros and infinities included; every NaN
// pattern reads as NaN.
func float16(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch {
	case exp == 0: // zero or subnormal: frac * 2^-24
		return sign * math.Ldexp(frac, -24)
	case exp == 0x1f && frac == 0:
		return math.Inf(int(sign))
	case exp == 0x1f:
		return math.NaN()
	}
	// (1 + frac/1024) * 2^(exp-15)
	return sign * math.Ldexp(1024+frac, exp-25)
}

// bfloat16 returns the value of the bit pattern b of a bfloat16 number,
// the upper half of a float32, exactly.
func bfloat16(b uint16) float64 {
	return float64(math.Float32frombits(uint32(b) << 16))
}
