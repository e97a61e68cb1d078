package arch

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseSchedule expands a residual scale schedule to one eta per block, for a
// group of L blocks numbered l = 1..L. Forms:
//
//	c          constant, e.g. 1 or 0.5
//	b^l        geometric, e.g. 0.9^l (eta_l = b^l)
//	c/l        harmonic, e.g. 1/l (eta_l = c/l)
//	c/L        constant c/L, e.g. 1/L (the sum over blocks is c)
//	[a;b;...]  an explicit list of exactly L values
//
// Every eta must be finite and >= 0.
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
		return v, nil
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
	return etas, nil
}
