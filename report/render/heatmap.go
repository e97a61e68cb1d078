package render

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/initscope/initscope/report"
)

// Metrics of the colour bar.
const (
	barWidth  vg.Length = 12 // points
	barSteps            = 128
	tickLen   vg.Length = 3
	labelGap  vg.Length = 4
	nanColour           = 0xD0
	// cellBorder is the width of the white line between cells, in points.
	cellBorder = 1.0
)

// layoutHeatMap lays a heat map out on c: the cells, indexed by position
// and labelled with the grid's values (so uneven grids stay readable), and
// the colour bar to their right (none when no cell has a value).
func layoutHeatMap(h report.HeatMap, c draw.Canvas) *figure {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, row := range h.Z {
		for _, z := range row {
			if report.Drawable(z, false) {
				lo, hi = math.Min(lo, z), math.Max(hi, z)
			}
		}
	}
	scale := colourScale{lo: lo, hi: hi}
	p := newPlot(h.Title, h.XLabel, h.YLabel)
	p.X.Min, p.X.Max = -0.5, float64(len(h.X))-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(len(h.Y))-0.5
	p.X.Tick.Marker, p.Y.Tick.Marker = indexTicks(h.X), indexTicks(h.Y)
	p.X.Padding, p.Y.Padding = 0, 0
	p.Add(cells{h: h, scale: scale})
	if lo > hi {
		return newFigure(p, c) // no values: no colour bar
	}

	ticks := linearTicks{}.Ticks(lo, hi)
	if lo == hi {
		ticks = []plot.Tick{{Value: lo, Label: report.FormatNumber(lo)}}
	}
	tsty := textStyle(tickSize)
	var tickW vg.Length
	for _, t := range ticks {
		tickW = max(tickW, tsty.Width(t.Label))
	}
	lsty := yLabelStyle()
	side := gap/2 + barWidth + tickLen + labelGap + tickW + labelGap + lsty.Height(h.ZLabel) + labelGap
	f := newFigure(p, draw.Crop(c, 0, -side, 0, 0))
	d, x0 := f.data(), f.area.Max.X+gap/2
	bar := vg.Rectangle{Min: vg.Point{X: x0, Y: d.Min.Y}, Max: vg.Point{X: x0 + barWidth, Y: d.Max.Y}}
	f.legend = bar
	f.side = func(c draw.Canvas) {
		step := bar.Size().Y / barSteps
		for i := 0; i < barSteps; i++ {
			y := bar.Min.Y + vg.Length(i)*step
			c.SetColor(scale.at(lo + (hi-lo)*(float64(i)+0.5)/barSteps))
			c.Fill(vg.Rectangle{Min: vg.Point{X: bar.Min.X, Y: y}, Max: vg.Point{X: bar.Max.X, Y: y + step + 0.2}}.Path())
		}
		c.SetLineStyle(draw.LineStyle{Color: color.Black, Width: vg.Points(0.5)})
		c.Stroke(bar.Path())
		tsty.XAlign, tsty.YAlign = text.XLeft, text.YCenter
		for _, t := range ticks {
			y := bar.Min.Y + bar.Size().Y/2
			if hi > lo {
				y = bar.Min.Y + bar.Size().Y*vg.Length((t.Value-lo)/(hi-lo))
			}
			c.StrokeLine2(draw.LineStyle{Color: color.Black, Width: vg.Points(0.5)}, bar.Max.X, y, bar.Max.X+tickLen, y)
			c.FillText(tsty, vg.Point{X: bar.Max.X + tickLen + labelGap, Y: y}, t.Label)
		}
		c.FillText(lsty, vg.Point{X: bar.Max.X + tickLen + 2*labelGap + tickW, Y: (bar.Min.Y + bar.Max.Y) / 2}, h.ZLabel)
	}
	return f
}

// indexTicks labels positions 0..n-1 with the grid's values.
type indexTicks []float64

// Ticks returns a mark at the centre of each cell.
func (t indexTicks) Ticks(min, max float64) []plot.Tick {
	out := make([]plot.Tick, len(t))
	for i, v := range t {
		out[i] = plot.Tick{Value: float64(i), Label: report.FormatNumber(v)}
	}
	return out
}

// cells draws the heat map's cells as rectangles, each with its value.
type cells struct {
	h     report.HeatMap
	scale colourScale
}

// Plot draws the cells.
func (g cells) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	for r, row := range g.h.Z {
		for col, z := range row {
			box := vg.Rectangle{Min: vg.Point{X: tx(float64(col) - 0.5), Y: ty(float64(r) - 0.5)},
				Max: vg.Point{X: tx(float64(col) + 0.5), Y: ty(float64(r) + 0.5)}}
			fill := color.Color(color.Gray{Y: nanColour})
			label := g.h.NaNLabel
			if label == "" {
				label = "\u2013"
			}
			if report.Drawable(z, false) {
				fill, label = g.scale.at(z), report.FormatNumber(z)
			}
			c.SetColor(fill)
			c.Fill(box.Path())
			c.SetLineStyle(draw.LineStyle{Color: color.White, Width: vg.Points(cellBorder)})
			c.Stroke(box.Path())
			sty := textStyle(cellSize)
			if w := sty.Width(label); w > 0.9*box.Size().X {
				sty.Font.Size *= 0.9 * box.Size().X / w
			}
			sty.Color = inkOn(fill)
			sty.XAlign, sty.YAlign = text.XCenter, text.YCenter
			c.FillText(sty, vg.Point{X: (box.Min.X + box.Max.X) / 2, Y: (box.Min.Y + box.Max.Y) / 2}, label)
		}
	}
}

// inkOn returns black or white, whichever reads better on the colour.
func inkOn(bg color.Color) color.Color {
	r, g, b, _ := bg.RGBA()
	if lum := (0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(b)) / 0xFFFF; lum < 0.45 {
		return color.White
	}
	return color.Black
}

// colourScale maps values from lo to hi onto viridis, a perceptually
// uniform sequential map that stays ordered in grey-scale print.
type colourScale struct{ lo, hi float64 }

// viridis are samples of the viridis map at 0, 1/8, ..., 1.
var viridis = []color.RGBA{
	{0x44, 0x01, 0x54, 0xFF}, {0x47, 0x2D, 0x7B, 0xFF}, {0x3B, 0x52, 0x8B, 0xFF},
	{0x2C, 0x72, 0x8E, 0xFF}, {0x21, 0x91, 0x8C, 0xFF}, {0x28, 0xAE, 0x80, 0xFF},
	{0x5E, 0xC9, 0x62, 0xFF}, {0xAD, 0xDC, 0x30, 0xFF}, {0xFD, 0xE7, 0x25, 0xFF},
}

// at returns the colour of v (the middle of the map when lo = hi).
func (s colourScale) at(v float64) color.Color {
	t := 0.5
	if s.hi > s.lo {
		// Halved, so that the differences of values near ±MaxFloat64 do not
		// overflow.
		t = math.Min(1, math.Max(0, (v/2-s.lo/2)/(s.hi/2-s.lo/2)))
	}
	f := t * float64(len(viridis)-1)
	i := min(int(f), len(viridis)-2)
	u := f - float64(i)
	a, b := viridis[i], viridis[i+1]
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + u*(float64(y)-float64(x)))) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 0xFF}
}
