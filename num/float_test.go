package num

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"testing"
)

// The values below were computed once with NumPy 1.24 (binary16) and
// PyTorch 1.13 (bfloat16), independently of this package:
//
//	np.array(h, dtype=np.uint16).view(np.float16).astype(np.float64).view(np.uint64)
//	torch.tensor(b, dtype=torch.int32).to(torch.int16).view(torch.bfloat16).to(torch.float64)

// f16Table maps binary16 bits to the bits of their float64 value.
var f16Table = []struct {
	h uint16
	f uint64
}{
	{0x0000, 0x0000000000000000}, // 0.0
	{0x8000, 0x8000000000000000}, // -0.0
	{0x0001, 0x3e70000000000000}, // 5.960464477539063e-08, the smallest subnormal
	{0x8001, 0xbe70000000000000}, // -5.960464477539063e-08
	{0x0002, 0x3e80000000000000}, // 1.1920928955078125e-07
	{0x03ff, 0x3f0ff80000000000}, // 6.097555160522461e-05, the largest subnormal
	{0x0400, 0x3f10000000000000}, // 6.103515625e-05, the smallest normal
	{0x0401, 0x3f10040000000000}, // 6.109476089477539e-05
	{0x3555, 0x3fd5540000000000}, // 0.333251953125
	{0x3bff, 0x3feffc0000000000}, // 0.99951171875
	{0x3c00, 0x3ff0000000000000}, // 1.0
	{0x3c01, 0x3ff0040000000000}, // 1.0009765625
	{0xc000, 0xc000000000000000}, // -2.0
	{0x4248, 0x4009200000000000}, // 3.140625
	{0x7bff, 0x40effc0000000000}, // 65504.0, the largest finite
	{0xfbff, 0xc0effc0000000000}, // -65504.0
	{0x7c00, 0x7ff0000000000000}, // inf
	{0xfc00, 0xfff0000000000000}, // -inf
	{0x7c01, 0x7ff0040000000000}, // signaling NaN, payload kept
	{0x7e00, 0x7ff8000000000000}, // quiet NaN
	{0xfe00, 0xfff8000000000000}, // -NaN
	{0x7fff, 0x7ffffc0000000000}, // NaN, all fraction bits set
}

// bf16Table maps bfloat16 bits to the bits of their float64 value.
var bf16Table = []struct {
	h uint16
	f uint64
}{
	{0x0000, 0x0000000000000000}, // 0.0
	{0x8000, 0x8000000000000000}, // -0.0
	{0x0001, 0x37a0000000000000}, // 9.183549615799121e-41, the smallest subnormal
	{0x8001, 0xb7a0000000000000}, // -9.183549615799121e-41
	{0x007f, 0x380fc00000000000}, // 1.1663108012064884e-38, the largest subnormal
	{0x0080, 0x3810000000000000}, // 1.1754943508222875e-38, the smallest normal
	{0x3f80, 0x3ff0000000000000}, // 1.0
	{0x3f81, 0x3ff0200000000000}, // 1.0078125
	{0xbf80, 0xbff0000000000000}, // -1.0
	{0x4049, 0x4009200000000000}, // 3.140625
	{0x3eab, 0x3fd5600000000000}, // 0.333984375
	{0x7f7f, 0x47efe00000000000}, // 3.3895313892515355e+38, the largest finite
	{0xff7f, 0xc7efe00000000000}, // -3.3895313892515355e+38
	{0x7f80, 0x7ff0000000000000}, // inf
	{0xff80, 0xfff0000000000000}, // -inf
	{0x7fc0, 0x7ff8000000000000}, // quiet NaN
	{0xffc0, 0xfff8000000000000}, // -NaN
}

// SHA-256 of the float64 values (little-endian bits) of all 65536 bit
// patterns in order, from NumPy (binary16, NaN payloads as they are) and
// PyTorch (bfloat16, every NaN written as sign | 0x7ff8000000000000, since
// PyTorch's conversion quiets signaling NaNs):
//
//	hashlib.sha256(np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float64).tobytes())
const (
	f16Digest  = "abaa35fb7387cc874a8d8464aa18cd64baa87781a69f1c96a5aa5e0626d48a26"
	bf16Digest = "f7b6c4afac93ce1d8273b77c77a5f607551edc44c83c6ec7ac230abf8b4527f4"
)

func TestFloat16Table(t *testing.T) {
	for _, c := range f16Table {
		if got := math.Float64bits(Float16(c.h)); got != c.f {
			t.Errorf("Float16(%#04x) = %#016x (%g), want %#016x (%g)", c.h, got, math.Float64frombits(got), c.f, math.Float64frombits(c.f))
		}
	}
}

func TestBFloat16Table(t *testing.T) {
	for _, c := range bf16Table {
		if got := math.Float64bits(BFloat16(c.h)); got != c.f {
			t.Errorf("BFloat16(%#04x) = %#016x (%g), want %#016x (%g)", c.h, got, math.Float64frombits(got), c.f, math.Float64frombits(c.f))
		}
	}
}

// digest hashes the float64 bits of conv over all 16-bit patterns, every
// NaN written as canonical if canonical is set.
func digest(conv func(uint16) float64, canonical bool) string {
	h := sha256.New()
	var b [8]byte
	for i := range 1 << 16 {
		bits := math.Float64bits(conv(uint16(i)))
		if canonical && bits&0x7fffffffffffffff > 0x7ff0000000000000 {
			bits = bits&(1<<63) | 0x7ff8000000000000
		}
		binary.LittleEndian.PutUint64(b[:], bits)
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestAllPatterns checks every 16-bit pattern against NumPy and PyTorch.
func TestAllPatterns(t *testing.T) {
	if got := digest(Float16, false); got != f16Digest {
		t.Errorf("Float16 over all patterns: digest %s, NumPy's is %s", got, f16Digest)
	}
	if got := digest(BFloat16, true); got != bf16Digest {
		t.Errorf("BFloat16 over all patterns: digest %s, PyTorch's is %s", got, bf16Digest)
	}
}

// TestNaNPayload checks that signaling NaNs stay signaling with their
// payload, in bfloat16 and float32, whose hardware conversion would set
// the quiet bit.
func TestNaNPayload(t *testing.T) {
	cases := []struct {
		name string
		got  float64
		want uint64
	}{
		{"BFloat16(0x7f81)", BFloat16(0x7f81), 0x7ff0200000000000},
		{"BFloat16(0xff81)", BFloat16(0xff81), 0xfff0200000000000},
		{"Float32(0x7f800001)", Float32(0x7f800001), 0x7ff0000020000000},
		{"Float32(0xffc00000)", Float32(0xffc00000), 0xfff8000000000000},
		{"Float32(0x00000001)", Float32(0x00000001), 0x36a0000000000000}, // 2^-149
		{"Float32(0x7f800000)", Float32(0x7f800000), 0x7ff0000000000000},
	}
	for _, c := range cases {
		if got := math.Float64bits(c.got); got != c.want {
			t.Errorf("%s = %#016x, want %#016x", c.name, got, c.want)
		}
	}
}
