package render

import (
	"image/color"
	"math"

	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The figure's size: the PNG is pngDPI dots per inch, 1417 px wide.
const (
	figWidth  = 18 * vg.Centimeter
	figHeight = 11 * vg.Centimeter
	pngDPI    = 200
)

// Font sizes, in points.
const (
	titleSize  = 12
	labelSize  = 11
	tickSize   = 10
	legendSize = 9.5
	cellSize   = 10
)

// palette is the Okabe-Ito set of colours, distinguishable under the common
// forms of colour blindness (its yellow replaced by an olive that shows on
// white), in the order series are given them.
var palette = []color.Color{
	color.RGBA{0x00, 0x72, 0xB2, 0xFF}, // blue
	color.RGBA{0xD5, 0x5E, 0x00, 0xFF}, // vermillion
	color.RGBA{0x00, 0x9E, 0x73, 0xFF}, // bluish green
	color.RGBA{0xCC, 0x79, 0xA7, 0xFF}, // reddish purple
	color.RGBA{0xE6, 0x9F, 0x00, 0xFF}, // orange
	color.RGBA{0x56, 0xB4, 0xE9, 0xFF}, // sky blue
	color.RGBA{0x00, 0x00, 0x00, 0xFF}, // black
	color.RGBA{0x99, 0x99, 0x33, 0xFF}, // olive
}

// glyphs are the marker shapes series are given, in order: filled and
// hollow alternate and no two neighbours share a shape, so that series
// stay apart in grey-scale print.
var glyphs = []draw.GlyphDrawer{
	marker{circle, true}, marker{square, false}, marker{triangle, true}, marker{diamond, false},
	marker{square, true}, marker{circle, false}, marker{diamond, true}, marker{triangle, false},
}

// dashes are the line patterns series are given in a chart of measured
// series only (in points; nil is solid).
var dashes = [][]vg.Length{
	nil, {6, 3}, {1.5, 2}, {6, 2, 1.5, 2}, {3, 3}, {10, 3}, {6, 2, 1.5, 2, 1.5, 2}, {1.5, 4},
}

// Line patterns of the theory and bound roles in a chart that mixes roles.
var (
	theoryDash = []vg.Length{vg.Points(6), vg.Points(3)}
	boundDash  = []vg.Length{vg.Points(1.5), vg.Points(2.5)}
)

// styleAt returns the i-th series style: colour, marker and dashes cycle
// independently, so styles repeat only after their least common multiple.
func styleAt(i int) (color.Color, draw.GlyphDrawer, []vg.Length) {
	ds := dashes[i%len(dashes)]
	pts := make([]vg.Length, len(ds))
	for j, d := range ds {
		pts[j] = vg.Points(float64(d))
	}
	return palette[i%len(palette)], glyphs[i%len(glyphs)], pts
}

// shape is the outline of a marker.
type shape int

// The shapes.
const (
	circle shape = iota
	square
	triangle
	diamond
)

// marker draws a shape, filled with the series' colour or hollow: filled
// white (so that a line through it does not show) and outlined.
type marker struct {
	shape  shape
	filled bool
}

// outlineWidth is the width of a hollow marker's outline, in points.
const outlineWidth = 1.0

// DrawGlyph draws the marker centred at pt.
func (m marker) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	r := sty.Radius
	var p vg.Path
	switch m.shape {
	case circle:
		p.Move(vg.Point{X: pt.X + r, Y: pt.Y})
		p.Arc(pt, r, 0, 2*math.Pi)
	case square:
		r *= 0.9
		p.Move(vg.Point{X: pt.X - r, Y: pt.Y - r})
		p.Line(vg.Point{X: pt.X + r, Y: pt.Y - r})
		p.Line(vg.Point{X: pt.X + r, Y: pt.Y + r})
		p.Line(vg.Point{X: pt.X - r, Y: pt.Y + r})
	case triangle:
		r *= 1.2
		p.Move(vg.Point{X: pt.X, Y: pt.Y + r})
		p.Line(vg.Point{X: pt.X + r*0.866, Y: pt.Y - r/2})
		p.Line(vg.Point{X: pt.X - r*0.866, Y: pt.Y - r/2})
	case diamond:
		r *= 1.25
		p.Move(vg.Point{X: pt.X, Y: pt.Y + r})
		p.Line(vg.Point{X: pt.X + r, Y: pt.Y})
		p.Line(vg.Point{X: pt.X, Y: pt.Y - r})
		p.Line(vg.Point{X: pt.X - r, Y: pt.Y})
	}
	p.Close()
	if m.filled {
		c.SetColor(sty.Color)
		c.Fill(p)
		return
	}
	c.SetColor(color.White)
	c.Fill(p)
	c.SetLineStyle(draw.LineStyle{Color: sty.Color, Width: vg.Points(outlineWidth)})
	c.Stroke(p)
}

// textStyle is the style of plain text of the given size.
func textStyle(size float64) text.Style {
	return text.Style{Color: color.Black, Font: font.From(plotFont, vg.Points(size)), Handler: plainText}
}
