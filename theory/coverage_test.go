package theory

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/weightinit"
)

// directAxis counts, for every input of an axis, the taps that read it, by
// visiting every output and tap: i s - p + t d for i < out, t < k.
func directAxis(n, out, k, s, d, p int) (counts []int, inside int) {
	counts = make([]int, n)
	for i := range out {
		for t := range k {
			if r := i*s - p + t*d; r >= 0 && r < n {
				counts[r]++
				inside++
			}
		}
	}
	return counts, inside
}

// TestAxisCoverage checks fraction, count and even against a direct count
// for every small axis: kernels and strides up to 5, dilations up to 4, every
// pair of pads the geometry allows.
func TestAxisCoverage(t *testing.T) {
	cases := 0
	for n := 1; n <= 20; n++ {
		for k := 1; k <= 5; k++ {
			for s := 1; s <= 5; s++ {
				for d := 1; d <= 4; d++ {
					e := (k-1)*d + 1
					for p := 0; p < e; p++ {
						for q := 0; q < e; q++ {
							if n+p+q < e {
								continue
							}
							cases++
							out := (n+p+q-e)/s + 1
							counts, inside := directAxis(n, out, k, s, d, p)
							a := newAxis(n, out, k, s, d, p)
							even := true
							for r, c := range counts {
								if got := a.count(r); got != c {
									t.Fatalf("n=%d k=%d s=%d d=%d pads %d,%d: count(%d) = %d, want %d", n, k, s, d, p, q, r, got, c)
								}
								even = even && c == counts[0]
							}
							if f, want := a.fraction(), float64(inside)/float64(k*out); f != want || a.even() != even {
								t.Errorf("n=%d k=%d s=%d d=%d pads %d,%d: fraction %v (even %v), want %v (%v)", n, k, s, d, p, q, f, a.even(), want, even)
							}
						}
					}
				}
			}
		}
	}
	if cases < 10000 {
		t.Errorf("only %d geometries checked", cases)
	}
}

// TestLongAxisCoverage checks that the coverage of a long axis costs
// neither memory nor time of its length: a 3-tap window over 2^26 inputs,
// and a dilated one whose interior is long.
func TestLongAxisCoverage(t *testing.T) {
	const n = 1 << 26
	var f float64
	var even bool
	allocs := testing.AllocsPerRun(3, func() {
		a := newAxis(n, n, 3, 1, 1, 1)
		f, even = a.fraction(), a.even()
	})
	if f != 1-2.0/(3*n) || even || allocs != 0 {
		t.Errorf("coverage of a 2^26 axis: %v (even %v, %v allocations)", f, even, allocs)
	}
	// Dilation 2 with two taps, stride 1, no padding, over an even length:
	// inputs 0..n-3 are read by tap 0, 2..n-1 by tap 1: the first two and
	// the last two once, the others twice.
	a := newAxis(n, n-2, 2, 1, 2, 0)
	if a.even() || a.fraction() != 1 {
		t.Errorf("dilated axis: fraction %v, even %v", a.fraction(), a.even())
	}
	// Stride 3, three taps, no padding: every input once.
	if a := newAxis(3*n/4, n/4, 3, 3, 1, 0); !a.even() || a.fraction() != 1 {
		t.Errorf("tiling axis: fraction %v, even %v", a.fraction(), a.even())
	}
}

// TestConvCoverageGeometries checks coverage, through a built conv node of
// random geometry (rectangular kernels, per-axis strides and dilations,
// asymmetric pads, groups), against a count over every output position and
// every tap of the 2-D window, and the exactness against the 2-D count of
// taps per input pixel.
func TestConvCoverageGeometries(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 11))
	checked := 0
	for checked < 400 {
		g := arch.Geometry{
			KH: 1 + r.IntN(4), KW: 1 + r.IntN(4), SH: 1 + r.IntN(3), SW: 1 + r.IntN(3),
			DH: 1 + r.IntN(3), DW: 1 + r.IntN(3), Groups: 1 + r.IntN(2),
		}
		eh, ew := (g.KH-1)*g.DH+1, (g.KW-1)*g.DW+1
		g.Top, g.Bottom, g.Left, g.Right = r.IntN(eh), r.IntN(eh), r.IntN(ew), r.IntN(ew)
		in := arch.Image(2*g.Groups, 1+r.IntN(12), 1+r.IntN(12))
		b, _ := arch.NewBuilder(in)
		if _, err := b.Conv("conv", 0, 2*g.Groups, g); err != nil {
			continue // the window does not fit the input
		}
		net, err := b.Graph()
		if err != nil {
			t.Fatal(err)
		}
		l := net.Layers()[0]
		out := l.Out
		counts := make([]int, in.H*in.W)
		inside := 0
		for oh := range out.H {
			for ow := range out.W {
				for ki := range g.KH {
					for kj := range g.KW {
						row, col := oh*g.SH-g.Top+ki*g.DH, ow*g.SW-g.Left+kj*g.DW
						if row >= 0 && row < in.H && col >= 0 && col < in.W {
							counts[row*in.W+col]++
							inside++
						}
					}
				}
			}
		}
		even := true
		for _, c := range counts {
			even = even && c == counts[0]
		}
		want := float64(inside) / float64(out.H*out.W*g.KH*g.KW)
		f, exact := coverage(l)
		if math.Abs(f-want) > 1e-15*want || exact != even {
			t.Errorf("%s over %s: coverage %v (exact %v), want %v (%v)", g, in, f, exact, want, even)
		}
		checked++
	}
}

// TestConvGeometryPredict checks the whole prediction for conv ReLU layers
// no spec writes (He weights: c = 2): a dilated depthwise 2x1 kernel that
// reads every input pixel once keeps E[M] exactly, a rectangular strided
// one with asymmetric padding multiplies it by its coverage, approximately,
// and one whose taps all land in the padding gives exactly 0, with the
// weights' c = 2 still in the advice.
func TestConvGeometryPredict(t *testing.T) {
	he, _ := weightinit.ParseInit("he-normal")
	for _, c := range []struct {
		name  string
		g     arch.Geometry
		in    arch.Shape
		want  float64
		exact bool
	}{
		// Rows: taps 0 and 2 of outputs 0, 1 read rows 0, 2 and 1, 3;
		// columns: one tap, stride 1.
		{"dilated depthwise", arch.Geometry{KH: 2, KW: 1, SH: 1, SW: 1, DH: 2, DW: 1, Groups: 3}, arch.Image(3, 4, 5), 1, true},
		// Rows: 3 taps, stride 2, pads 1 and 0 over 5 rows: outputs 0, 1
		// read rows -1..1 and 1..3: 5 of 6 inside. Columns: 2 taps,
		// stride 1, pads 0 and 1 over 3: outputs 0..2 read 0..1, 1..2,
		// 2..3: 5 of 6 inside.
		{"asymmetric", arch.Geometry{KH: 3, KW: 2, SH: 2, SW: 1, DH: 1, DW: 1, Top: 1, Right: 1, Groups: 1}, arch.Image(2, 5, 3), 5.0 / 6 * 5.0 / 6, false},
		// Columns: taps at -1 and 1 of a single column: all padding.
		{"padding only", arch.Geometry{KH: 1, KW: 2, SH: 1, SW: 1, DH: 1, DW: 2, Left: 1, Right: 1, Groups: 1}, arch.Image(2, 3, 1), 0, true},
	} {
		g := build(t, c.in, func(b *arch.Builder) error {
			id, err := b.Conv("conv", 0, c.in.C, c.g)
			if err == nil {
				_, err = b.ReLU("relu", id)
			}
			return err
		})
		p, err := Predict(g, Options{Init: he})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if c.want > 0 { // a gain of exactly 0 has no finite log10 P
			checkPrediction(t, c.name, p)
		}
		l := p.Layers[0]
		if !near(float64(l.Gain), c.want, 1e-14) || !near(float64(l.MeanRatio), c.want, 1e-14) || l.MeanExact != c.exact {
			t.Errorf("%s: gain %v, mean ratio %v (exact %v), want %v (%v)", c.name, l.Gain, l.MeanRatio, l.MeanExact, c.want, c.exact)
		}
		if a := p.FM1.Advice; !near(float64(a.C), 2, 1e-14) {
			t.Errorf("%s: advice c = %v, want the weights' 2", c.name, a.C)
		}
	}
}
