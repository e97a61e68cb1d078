package reproduce

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The width profiles of Figure 2(b): nets of one depth and one beta whose
// widths are arranged differently.
var profiles = []string{"constant", "increasing", "decreasing", "alternating"}

// betaTolerance is the largest relative difference between a profile's beta
// and the target beta.
const betaTolerance = 0.01

// profileShape returns the relative widths of a profile: constant 1;
// increasing from 1 to 3 linearly; decreasing from 3 to 1; alternating 1,
// 3, 1, 3, ...
func profileShape(kind string, depth int) ([]float64, error) {
	s := make([]float64, depth)
	for j := range s {
		t := 0.0
		if depth > 1 {
			t = float64(j) / float64(depth-1)
		}
		switch kind {
		case "constant":
			s[j] = 1
		case "increasing":
			s[j] = 1 + 2*t
		case "decreasing":
			s[j] = 3 - 2*t
		case "alternating":
			s[j] = float64(1 + 2*(j%2))
		default:
			return nil, fmt.Errorf("profile %q: want %s", kind, strings.Join(profiles, ", "))
		}
	}
	return s, nil
}

// profileWidths returns integer widths of the given profile and depth whose
// beta = sum 1/n_j is within betaTolerance of beta. The widths start as
// round(k s_j) for the profile's shape s and the scale k that hits beta
// best; then layers of equal shape value move together by one unit at a
// time, as long as that brings beta closer and keeps the widths in the
// shape's order.
func profileWidths(kind string, depth int, beta float64) ([]int, error) {
	if depth < 1 || !(beta > 0) {
		return nil, fmt.Errorf("profile %s: depth %d, beta %g: want depth >= 1 and beta > 0", kind, depth, beta)
	}
	shape, err := profileShape(kind, depth)
	if err != nil {
		return nil, err
	}
	var inv float64
	for _, s := range shape {
		inv += 1 / s
	}
	k0 := inv / beta // sum 1/(k0 s_j) = beta
	off := func(ws []int) float64 { return math.Abs(betaOf(ws)/beta - 1) }
	var best []int
	for i := -200; i <= 200; i++ {
		k := k0 * (1 + float64(i)/1000)
		ws := make([]int, depth)
		for j, s := range shape {
			ws[j] = max(1, int(math.Round(k*s)))
		}
		if best == nil || off(ws) < off(best) {
			best = ws
		}
	}
	for improved := true; improved; {
		improved = false
		for _, v := range distinct(shape) {
			for _, step := range []int{-1, 1} {
				ws := slices.Clone(best)
				for j, s := range shape {
					if s == v {
						ws[j] += step
					}
				}
				if ordered(ws, shape) && off(ws) < off(best) {
					best, improved = ws, true
				}
			}
		}
	}
	if e := off(best); e > betaTolerance {
		return nil, fmt.Errorf("profile %s at depth %d: no integer widths give beta %g within %g%% (best %v, off by %.1f%%)",
			kind, depth, beta, 100*betaTolerance, best, 100*e)
	}
	return best, nil
}

// distinct returns the distinct values of s.
func distinct(s []float64) []float64 {
	var out []float64
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// ordered reports whether the widths are >= 1 and follow the shape: equal
// where it is equal, no smaller where it is larger.
func ordered(ws []int, shape []float64) bool {
	for i := range ws {
		if ws[i] < 1 {
			return false
		}
		for j := range ws {
			if shape[i] == shape[j] && ws[i] != ws[j] || shape[i] < shape[j] && ws[i] > ws[j] {
				return false
			}
		}
	}
	return true
}

// betaOf is sum 1/n_j.
func betaOf(widths []int) float64 {
	var b float64
	for _, w := range widths {
		b += 1 / float64(w)
	}
	return b
}

// fcSpec writes a fully connected net with the given hidden widths on
// inputs values and 10 classes: fc:784-w1-...-wd-10.
func fcSpec(inputs int, widths []int) string {
	parts := []string{strconv.Itoa(inputs)}
	for _, w := range widths {
		parts = append(parts, strconv.Itoa(w))
	}
	return "fc:" + strings.Join(append(parts, "10"), "-")
}
