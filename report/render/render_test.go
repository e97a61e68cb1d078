package render

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"
	"slices"
	"testing"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/initscope/initscope/report"
)

// sampleChart is a log-y chart with measured and theory curves, error bars
// and a "not reached" point.
func sampleChart() report.LineChart {
	return report.LineChart{Title: "mean length", XLabel: "depth", YLabel: "E[M_d]/M_0", LogY: true, LegendTitle: "initialization",
		Series: []report.Series{
			{Name: "he-normal", X: []float64{5, 10, 20}, Y: []float64{1.1, 0.9, math.NaN()},
				YLow: []float64{1, 0.8, 0}, YHigh: []float64{1.2, 1, 0}, Missing: []float64{20}},
			{Name: "he-normal", Role: report.Theory, X: []float64{5, 10, 20}, Y: []float64{1, 1, 1}},
			{Name: "lecun-normal", X: []float64{5, 10, 20}, Y: []float64{0.03, 1e-3, 1e-6}},
			{Name: "lecun-normal", Role: report.Theory, X: []float64{5, 10, 20}, Y: []float64{0.031, 1e-3, 1e-6}},
		}}
}

// drawPNG lays a chart out on a PNG canvas of Render's size and draws it.
func drawPNG(t *testing.T, ch report.Chart) (image.Image, *figure) {
	t.Helper()
	cw := vgimg.NewWith(vgimg.UseWH(figWidth, figHeight), vgimg.UseDPI(pngDPI))
	c := draw.New(cw)
	f, err := layout(ch, c)
	if err != nil {
		t.Fatal(err)
	}
	f.draw(c)
	return cw.Image(), f
}

// pixel converts a point of the canvas to pixel coordinates.
func pixel(p vg.Point) image.Point {
	s := float64(pngDPI) / 72
	return image.Point{X: int(float64(p.X) * s), Y: int((float64(figHeight) - float64(p.Y)) * s)}
}

func TestRenderFormats(t *testing.T) {
	c := sampleChart()
	b, err := Render(c, "png")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if w := img.Bounds().Dx(); w < 1200 {
		t.Errorf("PNG %d px wide, want at least 1200", w)
	}
	svg, err := Render(c, "svg")
	if err != nil || !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte(notReachedLabel)) || !bytes.Contains(svg, []byte("lecun-normal")) {
		t.Errorf("svg render: %v", err)
	}
	if pdf, err := Render(c, "pdf"); err != nil || !bytes.HasPrefix(pdf, []byte("%PDF")) {
		t.Errorf("pdf render: %v", err)
	}
	if _, err := Render(c, "gif"); err == nil {
		t.Error("format gif: no error")
	}
	for _, bad := range []report.LineChart{
		{Series: []report.Series{{X: []float64{1}, Y: []float64{1, 2}}}},
		{Series: []report.Series{{X: []float64{1}, Y: []float64{1}, YLow: []float64{0}}}},
	} {
		if _, err := Render(bad, "png"); err == nil {
			t.Errorf("%+v: no error", bad.Series)
		}
	}
	// Charts with nothing to draw on their log axes still render.
	for _, empty := range []report.LineChart{
		{LogX: true, LogY: true},
		{LogY: true, Series: []report.Series{{Name: "zero", X: []float64{1, 2}, Y: []float64{0, -1}}}},
		{LogY: true, Series: []report.Series{{Name: "none reached", Missing: []float64{2, 3}}}},
		{LogY: true, Series: []report.Series{{Name: "one point", X: []float64{2}, Y: []float64{3}}}},
	} {
		if _, err := Render(empty, "png"); err != nil {
			t.Errorf("%+v: %v", empty.Series, err)
		}
	}
}

// TestExtremeValues renders charts whose values sit at float64's limits:
// each must draw (values that cannot be placed left out) or be refused by
// Validate, never panic or hang.
func TestExtremeValues(t *testing.T) {
	tiny, huge := math.SmallestNonzeroFloat64, math.MaxFloat64
	for name, c := range map[string]report.Chart{
		"log y down to a subnormal":    report.LineChart{LogY: true, Series: []report.Series{{X: []float64{1, 2}, Y: []float64{tiny, 1}}}},
		"log y at 1e-300 and 1e300":    report.LineChart{LogY: true, Series: []report.Series{{X: []float64{1, 2}, Y: []float64{1e-300, 1e300}}}},
		"log x tiny":                   report.LineChart{LogX: true, Series: []report.Series{{X: []float64{tiny, 1e-300}, Y: []float64{1, 2}}}},
		"linear y near the limits":     report.LineChart{Series: []report.Series{{X: []float64{1, 2}, Y: []float64{-huge, huge}}}},
		"linear y at ±1e300":           report.LineChart{Series: []report.Series{{X: []float64{1, 2, 3}, Y: []float64{-1e300, 0, 1e300}, YLow: []float64{-huge, 0, 0}, YHigh: []float64{0, 0, huge}}}},
		"close beyond float64's marks": report.LineChart{Series: []report.Series{{X: []float64{1e17, 1e17 + 16}, Y: []float64{1, 1 + 1e-15}}}},
		"subnormal span":               report.LineChart{Series: []report.Series{{X: []float64{0, tiny}, Y: []float64{tiny, 2 * tiny}}}},
		"heat map at the limits":       report.HeatMap{X: []float64{1, 2}, Y: []float64{1}, Z: [][]float64{{-huge, huge}}},
		"heat map ±1e300":              report.HeatMap{X: []float64{1, 2}, Y: []float64{1}, Z: [][]float64{{-1e300, 1e300}}},
		"heat map close values":        report.HeatMap{X: []float64{1, 2}, Y: []float64{1}, Z: [][]float64{{1e17, 1e17 + 16}}},
		"heat map huge axis labels":    report.HeatMap{X: []float64{-huge, huge}, Y: []float64{tiny}, Z: [][]float64{{1, 2}}},
	} {
		done := make(chan error, 1)
		go func() {
			_, err := Render(c, "svg")
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("%s: still drawing after a minute", name)
		}
	}
}

// overlaps reports whether two rectangles share more than an edge.
func overlaps(a, b vg.Rectangle) bool {
	return a.Min.X < b.Max.X && b.Min.X < a.Max.X && a.Min.Y < b.Max.Y && b.Min.Y < a.Max.Y
}

// inside reports whether a lies within b.
func inside(a, b vg.Rectangle) bool {
	return a.Min.X >= b.Min.X && a.Max.X <= b.Max.X && a.Min.Y >= b.Min.Y && a.Max.Y <= b.Max.Y
}

func TestLegendLeavesDataUncovered(t *testing.T) {
	many := sampleChart()
	for i := range 30 {
		many.Series = append(many.Series, report.Series{Name: fmt.Sprintf("series %d", i), X: []float64{5, 20}, Y: []float64{1, 2}})
	}
	below := sampleChart()
	below.LegendBelow = true
	for name, c := range map[string]report.LineChart{"right": sampleChart(), "below": below, "too tall for the right": many} {
		_, f := drawPNG(t, c)
		data, canvas := f.data().Rectangle, vg.Rectangle{Max: vg.Point{X: figWidth, Y: figHeight}}
		if f.legend.Size().X <= 0 || f.legend.Size().Y <= 0 {
			t.Errorf("%s: no legend box", name)
		}
		if overlaps(f.legend, data) {
			t.Errorf("%s: legend %v covers the data area %v", name, f.legend, data)
		}
		if !inside(f.legend, canvas) {
			t.Errorf("%s: legend %v outside the canvas", name, f.legend)
		}
		if isBelow := f.legend.Max.Y <= data.Min.Y; isBelow != (name != "right") {
			t.Errorf("%s: legend %v, data %v: below = %v", name, f.legend, data, isBelow)
		}
	}
}

func TestAxesFitData(t *testing.T) {
	c := report.LineChart{Series: []report.Series{{Name: "a", X: []float64{5, 60}, Y: []float64{1.5, 2.5}, YLow: []float64{1.4, 2}, YHigh: []float64{1.6, 3}}}}
	_, f := drawPNG(t, c)
	p := f.plot
	if p.X.Min > 5 || p.X.Min < 5-0.06*55 || p.X.Max < 60 || p.X.Max > 60+0.06*55 {
		t.Errorf("x axis %g to %g for data 5 to 60", p.X.Min, p.X.Max)
	}
	if p.Y.Min > 1.4 || p.Y.Min < 1.4-0.06*1.6 || p.Y.Max < 3 || p.Y.Max > 3+0.06*1.6 {
		t.Errorf("y axis %g to %g for data and error bars 1.4 to 3", p.Y.Min, p.Y.Max)
	}
	// Values near zero: the y axis starts at zero.
	c.Series[0].YLow[0] = 0.4
	if _, f := drawPNG(t, c); f.plot.Y.Min != 0 {
		t.Errorf("y axis from %g for values from 0.4 to 3: want 0", f.plot.Y.Min)
	}
	// A "not reached" point: a band above the data, labelled, and the
	// line broken there.
	c = sampleChart()
	_, f = drawPNG(t, c)
	ticks := f.plot.Y.Tick.Marker.Ticks(f.plot.Y.Min, f.plot.Y.Max)
	last := ticks[len(ticks)-1]
	if last.Label != notReachedLabel || last.Value <= 1.2 || last.Value >= f.plot.Y.Max {
		t.Errorf("y marks %v: want the band label last, above the data (1.2) and below the top (%g)", ticks, f.plot.Y.Max)
	}
	sp := seriesPlot{}
	sp.points(report.Series{X: []float64{1, 2, 4, 5}, Y: []float64{1, 1, 1, 1}, Missing: []float64{3}})
	if len(sp.segments) != 2 || len(sp.segments[0]) != 2 {
		t.Errorf("line through a missing point: segments %v", sp.segments)
	}
	// With no point reached, the y axis marks the band only.
	_, f = drawPNG(t, report.LineChart{Series: []report.Series{{Name: "a", Missing: []float64{1, 2}}}})
	if ticks := f.plot.Y.Tick.Marker.Ticks(f.plot.Y.Min, f.plot.Y.Max); len(ticks) != 1 || ticks[0].Label != notReachedLabel {
		t.Errorf("no point reached: y marks %v", ticks)
	}
	// A single positive value keeps the axis positive.
	_, f = drawPNG(t, report.LineChart{Series: []report.Series{{Name: "a", X: []float64{1, 2}, Y: []float64{0.02, 0.02}}}})
	if f.plot.Y.Min <= 0 || f.plot.Y.Max <= 0.02 {
		t.Errorf("y axis %g to %g for the single value 0.02", f.plot.Y.Min, f.plot.Y.Max)
	}
}

func TestTicks(t *testing.T) {
	for _, c := range []struct {
		name     string
		min, max float64
		log      bool
		want     []string
	}{
		{"integers", 0, 25, false, []string{"0", "5", "10", "15", "20", "25"}},
		{"steps of 0.5", 0.1, 2.9, false, []string{"0.5", "1.0", "1.5", "2.0", "2.5"}},
		{"negative", -2.2, 0.3, false, []string{"−2.0", "−1.5", "−1.0", "−0.5", "0.0"}},
		{"steps of 20", 3, 95, false, []string{"20", "40", "60", "80"}},
		{"decades, plain", 0.05, 20, true, []string{"0.1", "1", "10"}},
		{"decades, raised", 5e-6, 3e2, true, []string{"10^−5", "10^−4", "10^−3", "10^−2", "10^−1", "10^0", "10^1", "10^2"}},
		{"every other decade", 1e-12, 1e5, true, []string{"10^−12", "10^−10", "10^−8", "10^−6", "10^−4", "10^−2", "10^0", "10^2", "10^4"}},
		{"every fifth decade", 1e-3, 1e40, true, []string{"10^0", "10^5", "10^10", "10^15", "10^20", "10^25", "10^30", "10^35", "10^40"}},
		{"1-2-5", 0.15, 30, true, []string{"0.2", "0.5", "1", "2", "5", "10", "20"}},
		{"within a decade", 0.3, 2, true, []string{"0.5", "1.0", "1.5", "2.0"}},
	} {
		var tk []string
		var ts []plot.Tick
		if c.log {
			ts = logTicks{}.Ticks(c.min, c.max)
		} else {
			ts = linearTicks{}.Ticks(c.min, c.max)
		}
		for _, x := range ts {
			if x.Label != "" {
				tk = append(tk, x.Label)
			}
		}
		if !slices.Equal(tk, c.want) {
			t.Errorf("%s (%g to %g): labels %q, want %q", c.name, c.min, c.max, tk, c.want)
		}
	}
}

// TestHeatMapCells renders a 3x3 heat map and checks that each cell is one
// flat colour (away from its printed value), that cells of different
// values differ, and that the NaN cell is grey.
func TestHeatMapCells(t *testing.T) {
	h := report.HeatMap{Title: "epochs", XLabel: "width", YLabel: "depth", X: []float64{10, 20, 40}, Y: []float64{10, 20, 40},
		ZLabel: "epochs to 20%", NaNLabel: "not reached",
		Z: [][]float64{{0.1, 0.2, 0.3}, {0.4, math.NaN(), 0.6}, {0.7, 0.8, 0.9}}}
	img, f := drawPNG(t, h)
	tx, ty := f.plot.Transforms(func() *draw.Canvas { d := f.data(); return &d }())
	seen := map[[4]uint32]string{}
	for r := range 3 {
		for c := range 3 {
			// The cell's corners, inset by a tenth of the cell: the value
			// is printed at its centre.
			lo, hi := pixel(vg.Point{X: tx(float64(c) - 0.4), Y: ty(float64(r) - 0.4)}), pixel(vg.Point{X: tx(float64(c) + 0.4), Y: ty(float64(r) + 0.4)})
			var first [4]uint32
			for i, p := range []image.Point{lo, {X: hi.X, Y: lo.Y}, {X: lo.X, Y: hi.Y}, hi, {X: (lo.X + hi.X) / 2, Y: lo.Y - 2}} {
				cr, cg, cb, ca := img.At(p.X, p.Y).RGBA()
				px := [4]uint32{cr, cg, cb, ca}
				if i == 0 {
					first = px
				} else if px != first {
					t.Errorf("cell (%d, %d): pixel %v is %v, pixel %v is %v: not one colour", r, c, lo, first, p, px)
				}
			}
			if prev, dup := seen[first]; dup {
				t.Errorf("cell (%d, %d) has the colour of cell %s", r, c, prev)
			}
			seen[first] = fmt.Sprint(r, c)
			if grey := first[0] == first[1] && first[1] == first[2]; grey != (r == 1 && c == 1) {
				t.Errorf("cell (%d, %d): colour %v, grey = %v", r, c, first, grey)
			}
		}
	}
	if overlaps(f.legend, f.data().Rectangle) {
		t.Errorf("colour bar %v covers the cells %v", f.legend, f.data().Rectangle)
	}
	empty := h
	empty.Z = [][]float64{{math.NaN(), math.NaN(), math.NaN()}, {math.NaN(), math.NaN(), math.NaN()}, {math.NaN(), math.NaN(), math.NaN()}}
	if _, f := drawPNG(t, empty); f.side != nil {
		t.Error("a heat map without values has a colour bar")
	}
	h.Z = h.Z[:2]
	if _, err := Render(h, "png"); err == nil {
		t.Error("missing row: no error")
	}
	h.Z = [][]float64{{1, 2}, {3, 4}, {5, 6}}
	if _, err := Render(h, "png"); err == nil {
		t.Error("short rows: no error")
	}
}

// TestStylesDifferInGrey checks that the first series' styles differ in
// marker and in dashes, not in colour alone.
func TestStylesDifferInGrey(t *testing.T) {
	for i := range len(palette) {
		for j := range i {
			_, gi, di := styleAt(i)
			_, gj, dj := styleAt(j)
			if fmt.Sprintf("%#v", gi) == fmt.Sprintf("%#v", gj) || slices.Equal(di, dj) {
				t.Errorf("series %d and %d: markers %#v, %#v; dashes %v, %v", i, j, gi, gj, di, dj)
			}
		}
	}
}
