package render

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/initscope/initscope/report"
)

// fuzzBytes reads a fuzzer's bytes as a chart's numbers: zero once they run
// out.
type fuzzBytes []byte

// byte returns the next byte.
func (b *fuzzBytes) byte() byte {
	if len(*b) == 0 {
		return 0
	}
	v := (*b)[0]
	*b = (*b)[1:]
	return v
}

// specials are the values a chart's numbers most likely trip on.
var specials = []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), 5e-324, -5e-324,
	math.MaxFloat64, -math.MaxFloat64, 1e-300, 1e300, 2.2250738585072014e-308, 1, -1, 1e15, 1 + 1e-15}

// float returns the next number: raw float64 bits, a small integer, a
// special value or a power of ten, as a tag byte says.
func (b *fuzzBytes) float() float64 {
	switch tag := b.byte(); tag % 4 {
	case 0:
		var raw [8]byte
		for i := range raw {
			raw[i] = b.byte()
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(raw[:]))
	case 1:
		return float64(int8(b.byte()))
	case 2:
		return specials[int(b.byte())%len(specials)]
	default:
		return math.Pow(10, float64(int8(b.byte()))/4)
	}
}

// floats returns n numbers.
func (b *fuzzBytes) floats(n int) []float64 {
	if n == 0 && b.byte()%2 == 0 {
		return nil
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = b.float()
	}
	return out
}

// length returns a length of 0..7, usually the one given.
func (b *fuzzBytes) length(usual int) int {
	if v := b.byte(); v < 200 {
		return usual
	} else {
		return int(v % 8)
	}
}

// fuzzChart builds a line chart or a heat map from the fuzzer's input.
func fuzzChart(title string, b *fuzzBytes) report.Chart {
	flags := b.byte()
	if flags&1 != 0 {
		h := report.HeatMap{Title: title, XLabel: title, ZLabel: title, NaNLabel: title}
		nx, ny := int(b.byte()%6), int(b.byte()%6)
		h.X, h.Y = b.floats(nx), b.floats(ny)
		for range b.length(ny) {
			h.Z = append(h.Z, b.floats(b.length(nx)))
		}
		return h
	}
	c := report.LineChart{Title: title, YLabel: title, LegendTitle: title,
		LogX: flags&2 != 0, LogY: flags&4 != 0, Dodge: flags&8 != 0, LegendBelow: flags&16 != 0}
	c.XTicks = b.floats(int(b.byte() % 4))
	for range b.byte() % 5 {
		n := int(b.byte() % 8)
		s := report.Series{Name: title[:min(len(title), int(b.byte()%4))], Role: report.Role(b.byte() % 4)}
		s.X, s.Y = b.floats(b.length(n)), b.floats(b.length(n))
		if b.byte()%2 == 0 {
			s.YLow, s.YHigh = b.floats(b.length(n)), b.floats(b.length(n))
		}
		s.Missing = b.floats(int(b.byte() % 3))
		c.Series = append(c.Series, s)
	}
	return c
}

// FuzzCharts renders random line charts and heat maps: no input panics, a
// chart that Validate rejects is not drawn, and one it accepts is.
func FuzzCharts(f *testing.F) {
	f.Add("mean length", []byte{0, 0, 2, 3, 1, 5, 1, 10, 1, 20, 1, 1, 1, 2, 1, 3, 1})
	f.Add("epochs", []byte{1, 3, 2, 1, 1, 1, 2, 1, 3, 1, 4, 1, 5, 2, 0, 1, 7, 1, 8, 3, 9, 1, 1, 2})
	f.Add("log", []byte{6, 2, 3, 0, 2, 6, 3, 4, 3, 8, 2, 5, 3, 12, 0, 3, 0, 3, 3, 3, 6, 0, 1, 1, 2, 9})
	f.Fuzz(func(t *testing.T, title string, data []byte) {
		b := fuzzBytes(data)
		ch := fuzzChart(title, &b)
		format := "svg" // the faster; every fourth input is drawn as PNG
		if b.byte()%4 == 0 {
			format = "png"
		}
		verr := ch.Validate()
		out, err := Render(ch, format)
		switch {
		case verr != nil && err == nil:
			t.Fatalf("%+v: Validate says %v, but Render drew it", ch, verr)
		case verr == nil && err != nil:
			t.Fatalf("%+v: valid, but Render failed: %v", ch, err)
		case err == nil && len(out) == 0:
			t.Fatalf("%+v: Render returned no bytes", ch)
		}
	})
}
