// Package num holds the number type that predictions and measurements share:
// a float64 that may be unknown (NaN) or beyond float64's range (+-Inf), and
// marshals both as JSON null, with the log-space helpers that keep exploding
// and vanishing quantities finite; and the exact conversions of float16,
// bfloat16 and float32 bit patterns to float64 that the file readers share.
package num

import (
	"math"
	"strconv"
)

// Number is a value that may be unknown. NaN means unknown (no closed form,
// or an input it depends on is unknown); +-Inf means the value overflows
// float64, in which case a log10 companion field carries it. Both marshal to
// JSON null, so JSON output never holds NaN or Inf.
type Number float64

// Unknown is the Number for a value that cannot be given.
var Unknown = Number(math.NaN())

// Known reports whether n is a finite number.
func (n Number) Known() bool {
	f := float64(n)
	return !math.IsNaN(f) && !math.IsInf(f, 0)
}

// MarshalJSON writes the shortest representation that round-trips, or null.
func (n Number) MarshalJSON() ([]byte, error) {
	if !n.Known() {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(n), 'g', -1, 64), nil
}

// UnmarshalJSON reads a number, or null as Unknown.
func (n *Number) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Unknown
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*n = Number(f)
	return nil
}

// FromLn turns a natural logarithm into the value it stands for and its
// base-10 logarithm: exp overflows to +Inf (marshalled as null) beyond about
// 1e308 while the log10 stays finite. An unknown (NaN) log gives two unknowns.
func FromLn(ln float64) (value, log10 Number) {
	if math.IsNaN(ln) {
		return Unknown, Unknown
	}
	return Number(math.Exp(ln)), Number(ln / math.Ln10)
}

// LogAdd returns ln(e^a + e^b) without overflow; -Inf stands for 0.
func LogAdd(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(b, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}

// LogSub returns ln(e^a - e^b) for a >= b; -Inf when they are equal.
func LogSub(a, b float64) float64 {
	if math.IsInf(b, -1) {
		return a
	}
	return a + math.Log1p(-math.Exp(b-a))
}
