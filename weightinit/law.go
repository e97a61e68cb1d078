// Package weightinit describes how weights and biases are drawn at
// initialization: a symmetric law (normal, uniform, truncated normal,
// Rademacher), a variance rule (c/fan_in, c/fan_out, c/fan_avg or a fixed
// variance), their exact moments, and the named presets of the common
// frameworks. A law is a small value type; the random source is injected.
package weightinit

import (
	"fmt"
	"math"
)

// Family is a symmetric, zero-mean distribution shape, scaled by a variance rule.
type Family string

// The families.
const (
	// Normal is N(0, v).
	Normal Family = "normal"
	// Uniform is U(-a, a) with a = sqrt(3 v).
	Uniform Family = "uniform"
	// TruncNormal is N(0, s^2) with s^2 = v, cut to [-2s, 2s] and redrawn
	// outside, with no correction: its variance is 0.7737413 v (Keras's
	// truncated_normal in 2018, TensorFlow's tf.truncated_normal).
	TruncNormal Family = "truncnormal"
	// TruncNormalCorrected is a normal cut at +-2 sd and rescaled so that its
	// variance is exactly v (Keras's VarianceScaling since 2.2.3).
	TruncNormalCorrected Family = "truncnormal-corrected"
	// Rademacher is +-sqrt(v) with probability 1/2 each.
	Rademacher Family = "rademacher"
	// Zero is the constant 0 (the usual bias law).
	Zero Family = "zero"
)

// Families lists every family, for help and validation messages.
var Families = []Family{Normal, Uniform, TruncNormal, TruncNormalCorrected, Rademacher, Zero}

// truncVar is the variance of N(0,1) cut to [-2, 2]: 1 - 4 phi(2) / (2 Phi(2) - 1).
var truncVar = func() float64 {
	phi2 := math.Exp(-2) / math.Sqrt(2*math.Pi)
	mass := math.Erf(2 / math.Sqrt2) // 2 Phi(2) - 1
	return 1 - 4*phi2/mass
}()

// truncKurtosis is the kurtosis E[z^4]/E[z^2]^2 of N(0,1) cut to [-2, 2].
// E[z^4] = 3 - (2 a^3 + 6 a) phi(a)/(2Phi(a)-1) for the cut at a = 2.
var truncKurtosis = func() float64 {
	phi2 := math.Exp(-2) / math.Sqrt(2*math.Pi)
	mass := math.Erf(2 / math.Sqrt2)
	m4 := 3 - (2*8+6*2)*phi2/mass
	return m4 / (truncVar * truncVar)
}()

// TruncatedVariance is the variance of a standard normal truncated at +-2 sd,
// 0.7737413...: the factor by which an uncorrected truncated law falls short
// of its nominal variance.
func TruncatedVariance() float64 { return truncVar }

// VarianceFactor is the ratio of the family's realised variance to the
// nominal variance v of its rule: 0.7737413 for TruncNormal, 0 for Zero, 1 otherwise.
func (f Family) VarianceFactor() float64 {
	switch f {
	case TruncNormal:
		return truncVar
	case Zero:
		return 0
	}
	return 1
}

// Kurtosis is E[w^4]/E[w^2]^2, which does not depend on the scale: Gaussian 3,
// uniform 1.8, truncated normal 2.3655, Rademacher 1. Zero has none (NaN).
func (f Family) Kurtosis() float64 {
	switch f {
	case Normal:
		return 3
	case Uniform:
		return 1.8
	case TruncNormal, TruncNormalCorrected:
		return truncKurtosis
	case Rademacher:
		return 1
	}
	return math.NaN()
}

// Valid reports whether f is one of the known families.
func (f Family) Valid() bool {
	for _, g := range Families {
		if f == g {
			return true
		}
	}
	return false
}

// Fan selects which fan a variance rule divides by.
type Fan string

// The fans.
const (
	FanIn    Fan = "fan_in"
	FanOut   Fan = "fan_out"
	FanAvg   Fan = "fan_avg"
	FanFixed Fan = "" // no fan: the variance is C itself
)

// Rule is a variance rule: Var = C / fan, or C when Fan is FanFixed.
type Rule struct {
	C   float64
	Fan Fan
}

// Variance is the nominal variance for a layer with the given fans.
func (r Rule) Variance(fanIn, fanOut int) float64 {
	switch r.Fan {
	case FanIn:
		return r.C / float64(fanIn)
	case FanOut:
		return r.C / float64(fanOut)
	case FanAvg:
		return 2 * r.C / float64(fanIn+fanOut)
	}
	return r.C
}

// String writes the rule as C/fan_in, C/fan_out, C/fan_avg or C.
func (r Rule) String() string {
	c := formatC(r.C)
	if r.Fan == FanFixed {
		return c
	}
	return c + "/" + string(r.Fan)
}

// formatC writes simple fractions exactly (1/3) and other numbers with %g.
func formatC(c float64) string {
	for q := 2; q <= 12; q++ {
		p := c * float64(q)
		if math.Abs(p-math.Round(p)) < 1e-12 && math.Abs(c-math.Round(c)) > 1e-12 {
			return fmt.Sprintf("%g/%d", math.Round(p), q)
		}
	}
	return fmt.Sprintf("%g", c)
}

// Law is a family with a variance rule: how one weight tensor (or bias) is drawn.
type Law struct {
	Family Family
	Rule   Rule
}

// Variance is the realised variance of one entry for a layer with these fans
// (the rule's nominal variance times the family's VarianceFactor).
func (l Law) Variance(fanIn, fanOut int) float64 {
	return l.Rule.Variance(fanIn, fanOut) * l.Family.VarianceFactor()
}

// Sampler returns a sampler for a layer with these fans.
func (l Law) Sampler(fanIn, fanOut int) Sampler {
	return l.Family.NewSampler(l.Rule.Variance(fanIn, fanOut))
}

// IsZero reports whether the law is the constant 0.
func (l Law) IsZero() bool { return l.Family == Zero || l.Rule.C == 0 }

// String writes the law in the syntax ParseLaw reads.
func (l Law) String() string {
	if l.Family == Zero {
		return string(Zero)
	}
	return string(l.Family) + ":" + l.Rule.String()
}
