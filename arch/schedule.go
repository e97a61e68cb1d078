package arch

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MaxEta is the largest residual scale a graph may hold. At eta = 1e100 the
// skip path's share of a block's output is 10^-200 of the branch's, far below
// float64's precision (10^-16), so no larger eta describes a different net;
// the bound keeps eta^2, the factor of the branch's energy, inside float64
// (at most 1e200) for every consumer of the graph that does not compute in
// logs, and every accepted eta prints (FormatEta) as a number that parses
// back to itself.
const MaxEta = 1e100

// FormatEta writes an eta as the shortest decimal that parses back to the
// same float64, the form String uses in a spec.
func FormatEta(eta float64) string { return strconv.FormatFloat(eta, 'g', -1, 64) }

// checkEta says why eta is no valid residual scale, or nil.
func checkEta(eta float64) error {
	switch {
	case math.IsNaN(eta) || eta < 0:
		return fmt.Errorf("eta %v: must be a number >= 0", eta)
	case eta > MaxEta:
		return fmt.Errorf("eta %s: must be <= %s (beyond it the skip path is below float64's precision)", describeEta(eta), FormatEta(MaxEta))
	}
	return nil
}

// describeEta writes an eta for an error message, saying when it has
// overflowed float64.
func describeEta(eta float64) string {
	if math.IsInf(eta, 1) {
		return "+Inf (beyond float64's range)"
	}
	return FormatEta(eta)
}

// ParseSchedule expands a residual scale schedule to one eta per block, for a
// group of L blocks numbered l = 1..L. Forms:
//
//	c          constant, e.g. 1 or 0.5
//	b^l        geometric, e.g. 0.9^l (eta_l = b^l)
//	c/l        harmonic, e.g. 1/l (eta_l = c/l)
//	c/L        constant c/L, e.g. 1/L (the sum over blocks is c)
//	[a;b;...]  an explicit list of exactly L values
//
// Every number must be finite and >= 0, and every eta_l at most MaxEta
// (errors name the block whose eta is not).
func ParseSchedule(s string, blocks int) ([]float64, error) {
	s = strings.TrimSpace(s)
	etas := make([]float64, blocks)
	fill := func(f func(l int) float64) {
		for i := range etas {
			etas[i] = f(i + 1)
		}
	}
	num := func(t string) (float64, error) {
		v, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return 0, fmt.Errorf("%q: want a finite number >= 0 in schedule %q (forms: c, b^l, c/l, c/L, [a;b;...])", t, s)
		}
		return v + 0, nil // + 0 turns -0 into 0
	}
	switch {
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		parts := strings.Split(s[1:len(s)-1], ";")
		if len(parts) != blocks {
			return nil, fmt.Errorf("list %q has %d values for %d blocks: give exactly one per block", s, len(parts), blocks)
		}
		for i, p := range parts {
			v, err := num(strings.TrimSpace(p))
			if err != nil {
				return nil, err
			}
			etas[i] = v
		}
	case strings.HasSuffix(s, "^l"):
		b, err := num(strings.TrimSuffix(s, "^l"))
		if err != nil {
			return nil, err
		}
		fill(func(l int) float64 { return math.Pow(b, float64(l)) })
	case strings.HasSuffix(s, "/l"):
		c, err := num(strings.TrimSuffix(s, "/l"))
		if err != nil {
			return nil, err
		}
		fill(func(l int) float64 { return c / float64(l) })
	case strings.HasSuffix(s, "/L"):
		c, err := num(strings.TrimSuffix(s, "/L"))
		if err != nil {
			return nil, err
		}
		fill(func(int) float64 { return c / float64(blocks) })
	default:
		c, err := num(s)
		if err != nil {
			return nil, err
		}
		fill(func(int) float64 { return c })
	}
	for i, eta := range etas {
		if err := checkEta(eta); err != nil {
			return nil, fmt.Errorf("schedule %q, block %d of %d: %v", s, i+1, blocks, err)
		}
	}
	return etas, nil
}
