// Package render draws the charts of package report (line charts and heat
// maps) as PNG, SVG and PDF with gonum.org/v1/plot, in a style fit for a
// paper: axes that fit the data, tick labels that read as a paper's (25,
// 0.5, 10^−3), legends outside the data area, a marker shape and a line
// pattern per series besides its colour, heat maps drawn as cells with their
// values. Importing it registers Render as report's renderer.
package render

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/initscope/initscope/report"
)

func init() { report.RegisterRenderer(Render) }

// figure is a chart laid out on a canvas.
type figure struct {
	plot *plot.Plot
	// area is the part of the canvas the plot and its y label take.
	area draw.Canvas
	// yLabel is the y axis's label, drawn here: gonum places it by the
	// midpoint of the axis's values, which on a log axis is near the top,
	// and then shrinks the plot to make room.
	yLabel string
	// side draws what goes beside the plot (nil: nothing): a legend or a
	// colour bar, which takes the rectangle legend and covers no data.
	side   func(c draw.Canvas)
	legend vg.Rectangle
}

// newFigure lays a plot out on an area of the canvas.
func newFigure(p *plot.Plot, area draw.Canvas) *figure {
	f := &figure{plot: p, area: area, yLabel: p.Y.Label.Text}
	p.Y.Label.Text = ""
	return f
}

// yLabelStyle is the style of the y axis's label, read bottom to top.
func yLabelStyle() text.Style {
	sty := textStyle(labelSize)
	sty.Rotation = math.Pi / 2
	sty.XAlign, sty.YAlign = text.XCenter, text.YTop
	return sty
}

// plotArea is the canvas of the plot, right of the y label.
func (f *figure) plotArea() draw.Canvas {
	if f.yLabel == "" {
		return f.area
	}
	return draw.Crop(f.area, yLabelStyle().Height(f.yLabel)+vg.Points(4), 0, 0, 0)
}

// data returns the canvas of the plot's data area.
func (f *figure) data() draw.Canvas { return f.plot.DataCanvas(f.plotArea()) }

// draw draws the figure on the canvas it was laid out for.
func (f *figure) draw(c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	f.plot.Draw(f.plotArea())
	if f.yLabel != "" {
		d := f.data()
		c.FillText(yLabelStyle(), vg.Point{X: f.area.Min.X, Y: (d.Min.Y + d.Max.Y) / 2}, f.yLabel)
	}
	if f.side != nil {
		f.side(c)
	}
}

// Render draws a chart as "png" (1417 px wide, 200 dots per inch), "svg"
// or "pdf", 18 x 11 cm.
func Render(ch report.Chart, format string) ([]byte, error) {
	if err := ch.Validate(); err != nil {
		return nil, err
	}
	var cw vg.CanvasWriterTo
	switch format {
	case "png":
		cw = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(figWidth, figHeight), vgimg.UseDPI(pngDPI))}
	case "svg":
		cw = vgsvg.New(figWidth, figHeight)
	case "pdf":
		cw = vgpdf.New(figWidth, figHeight)
	default:
		return nil, fmt.Errorf("format %q: want png, svg or pdf", format)
	}
	c := draw.New(cw)
	f, err := layout(ch, c)
	if err != nil {
		return nil, err
	}
	f.draw(c)
	var b bytes.Buffer
	if _, err := cw.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// layout lays a valid chart out on a canvas: its plot, the area the plot
// takes and what is drawn beside it (a legend, a colour bar).
func layout(ch report.Chart, c draw.Canvas) (*figure, error) {
	switch ch := ch.(type) {
	case report.LineChart:
		return layoutLine(ch, c), nil
	case report.HeatMap:
		return layoutHeatMap(ch, c), nil
	}
	return nil, fmt.Errorf("chart %T: not a line chart or a heat map", ch)
}

// newPlot returns a plot with the figure's title, axis labels and fonts;
// tick labels of the form 10^k are drawn with a raised exponent.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(titleSize)
	p.Title.Padding = vg.Points(8)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(labelSize)
		a.Tick.Label.Font.Size = vg.Points(tickSize)
		a.Tick.Label.Handler = supText{plainText}
		a.Tick.Length = vg.Points(5)
		a.Padding = vg.Points(2)
	}
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	return p
}

// gap is the space between a plot and what is drawn beside it.
const gap = 10 * vg.Millimeter

// legendEntry is one line of a legend: a sample of the style and a label.
type legendEntry struct {
	label string
	thumb sample
	// heading marks a title line, drawn without a sample.
	heading bool
}

// sample is the thumbnail of a legend entry: a short line (none where
// line.Width is 0) and a marker at its middle (none where marker.Shape is
// nil).
type sample struct {
	line   draw.LineStyle
	marker draw.GlyphStyle
}

// legend is a list of entries, drawn in columns.
type legend struct {
	entries []legendEntry
	columns int
}

// The legend's metrics.
const (
	thumbWidth vg.Length = 24 // points
	entryGap   vg.Length = 3
	columnGap  vg.Length = 14
)

// rowHeight is the height of one entry.
func (l legend) rowHeight() vg.Length {
	return textStyle(legendSize).Height("Mg") + entryGap
}

// columnWidth is the width of the widest entry.
func (l legend) columnWidth() vg.Length {
	var w vg.Length
	sty := textStyle(legendSize)
	for _, e := range l.entries {
		ew := sty.Width(e.label)
		if !e.heading {
			ew += thumbWidth + entryGap
		}
		w = max(w, ew)
	}
	return w
}

// rows is the number of rows of its columns.
func (l legend) rows() int {
	cols := max(1, l.columns)
	return (len(l.entries) + cols - 1) / cols
}

// size is the legend's width and height.
func (l legend) size() (w, h vg.Length) {
	if len(l.entries) == 0 {
		return 0, 0
	}
	cols := max(1, l.columns)
	return vg.Length(cols)*l.columnWidth() + vg.Length(cols-1)*columnGap, vg.Length(l.rows()) * l.rowHeight()
}

// draw draws the legend with its top left corner at (x, y), filling the
// columns top to bottom, left to right.
func (l legend) draw(c draw.Canvas, x, y vg.Length) {
	sty := textStyle(legendSize)
	sty.YAlign = text.YCenter
	rh, cw, rows := l.rowHeight(), l.columnWidth(), l.rows()
	for i, e := range l.entries {
		col, row := i/rows, i%rows
		left := x + vg.Length(col)*(cw+columnGap)
		mid := y - (vg.Length(row)+0.5)*rh
		if e.heading {
			c.FillText(sty, vg.Point{X: left, Y: mid}, e.label)
			continue
		}
		if e.thumb.line.Width > 0 {
			c.StrokeLine2(e.thumb.line, left, mid, left+thumbWidth, mid)
		}
		if e.thumb.marker.Shape != nil {
			c.DrawGlyphNoClip(e.thumb.marker, vg.Point{X: left + thumbWidth/2, Y: mid})
		}
		c.FillText(sty, vg.Point{X: left + thumbWidth + entryGap, Y: mid}, e.label)
	}
}
