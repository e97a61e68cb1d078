package weightinit

import (
	"math/rand/v2"
	"testing"
)

// TestPCGMatchesStdlib checks that Stream is math/rand/v2's PCG.
func TestPCGMatchesStdlib(t *testing.T) {
	for _, seed := range [][2]uint64{{0, 0}, {1, 2}, {1 << 63, 12345}, {^uint64(0), ^uint64(0)}} {
		p := NewStream(seed[0], seed[1])
		q := rand.NewPCG(seed[0], seed[1])
		for i := range 100000 {
			if a, b := p.Uint64(), q.Uint64(); a != b {
				t.Fatalf("seed %v draw %d: %x, rand.PCG %x", seed, i, a, b)
			}
		}
	}
}

// TestNormalMatchesStdlib checks that the ziggurat draws exactly what
// math/rand/v2's NormFloat64 draws from the same PCG, tails included.
func TestNormalMatchesStdlib(t *testing.T) {
	p := NewStream(3, 4)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 10_000_000 {
		if a, b := p.Normal(), r.NormFloat64(); a != b {
			t.Fatalf("draw %d: normal %v, NormFloat64 %v", i, a, b)
		}
		if i%1000 == 0 {
			if a, b := p.Float64(), r.Float64(); a != b {
				t.Fatalf("draw %d: uniform %v, Float64 %v", i, a, b)
			}
		}
	}
}

// TestFillMatchesStdlib checks that every family's Fill writes the values
// that drawing one at a time with math/rand/v2 from the same PCG gives (the
// reference below is the textbook sampler, written against rand.Rand), and
// that Rand draws them too, in float64.
func TestFillMatchesStdlib(t *testing.T) {
	for _, f := range Families {
		law := Law{Family: f, Rule: Rule{C: 2, Fan: FanIn}}
		// Several fills in a row: the state must carry over between them.
		p, q, r := NewStream(5, 6), NewStream(5, 6), rand.New(rand.NewPCG(5, 6))
		for _, n := range []int{1, 100, 5000} {
			got, want := make([]float32, n), make([]float32, n)
			s := law.Sampler(37, 11)
			s.Fill(p, got)
			for i := range want {
				want[i] = float32(referenceDraw(s, r))
				if one := float32(s.Rand(q)); one != want[i] {
					t.Fatalf("%s: Rand draw %d is %v, the reference %v", f, i, one, want[i])
				}
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%s: value %d of %d is %v, the reference draws %v", f, i, n, got[i], want[i])
				}
			}
		}
	}
}

// referenceDraw is one draw of s written against math/rand/v2 directly.
func referenceDraw(s Sampler, r *rand.Rand) float64 {
	switch s.family {
	case Normal:
		return s.scale * r.NormFloat64()
	case Uniform:
		return s.scale * (2*r.Float64() - 1)
	case TruncNormal, TruncNormalCorrected:
		for {
			if z := r.NormFloat64(); z >= -2 && z <= 2 {
				return s.scale * z
			}
		}
	case Rademacher:
		if r.Uint64()&1 == 0 {
			return -s.scale
		}
		return s.scale
	}
	return 0
}
