// Package report renders results for people: line charts and heat maps
// (gonum.org/v1/plot, PNG/SVG/PDF) and a self-contained HTML report with the
// plots embedded.
package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one curve of a LineChart. Points whose Y is NaN or, on a log axis,
// not positive are left out of the curve.
type Series struct {
	Name string
	X, Y []float64
	// YLow and YHigh, when set, are the ends of each point's error bar.
	YLow, YHigh []float64
	// Dashed draws the curve dashed without markers (use for theory).
	Dashed bool
	// Missing are x positions where the quantity was not reached (e.g. the
	// accuracy target within the epoch cap): drawn as crosses on the top edge.
	Missing []float64
}

// LineChart is a set of curves sharing axes.
type LineChart struct {
	Title, XLabel, YLabel string
	LogX, LogY            bool
	Series                []Series
}

// Size is the default figure size.
var Size = struct{ W, H vg.Length }{16 * vg.Centimeter, 11 * vg.Centimeter}

func usable(v float64, log bool) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0) && (!log || v > 0)
}

type errPoints struct {
	plotter.XYs
	plotter.YErrors
}

// Plot builds the gonum plot.
func (c LineChart) Plot() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = c.Title
	p.X.Label.Text = c.XLabel
	p.Y.Label.Text = c.YLabel
	if c.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	if c.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	ymax := math.Inf(-1)
	for _, s := range c.Series {
		for i, y := range s.Y {
			if usable(y, c.LogY) {
				ymax = math.Max(ymax, y)
			}
			if s.YHigh != nil && usable(s.YHigh[i], c.LogY) {
				ymax = math.Max(ymax, s.YHigh[i])
			}
		}
	}
	for i, s := range c.Series {
		if len(s.X) != len(s.Y) || (s.YLow != nil && len(s.YLow) != len(s.Y)) || (s.YHigh != nil && len(s.YHigh) != len(s.Y)) {
			return nil, fmt.Errorf("series %q: X, Y and error bars differ in length", s.Name)
		}
		col := plotutil.Color(i)
		var pts errPoints
		for j := range s.X {
			if !usable(s.Y[j], c.LogY) || !usable(s.X[j], c.LogX) {
				continue
			}
			pts.XYs = append(pts.XYs, plotter.XY{X: s.X[j], Y: s.Y[j]})
			if s.YLow != nil {
				lo, hi := s.Y[j]-s.YLow[j], s.YHigh[j]-s.Y[j]
				if c.LogY && s.YLow[j] <= 0 {
					lo = 0
				}
				pts.YErrors = append(pts.YErrors, struct{ Low, High float64 }{lo, hi})
			}
		}
		if len(pts.XYs) > 0 {
			l, sc, err := plotter.NewLinePoints(pts.XYs)
			if err != nil {
				return nil, fmt.Errorf("series %q: %v", s.Name, err)
			}
			l.Color = col
			l.Width = vg.Points(1.2)
			if s.Dashed {
				l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
				p.Add(l)
				p.Legend.Add(s.Name, l)
			} else {
				sc.Color = col
				sc.Shape = plotutil.Shape(i)
				p.Add(l, sc)
				p.Legend.Add(s.Name, l, sc)
			}
			if s.YLow != nil {
				eb, err := plotter.NewYErrorBars(pts)
				if err != nil {
					return nil, fmt.Errorf("series %q: %v", s.Name, err)
				}
				eb.Color = col
				p.Add(eb)
			}
		}
		if len(s.Missing) > 0 && !math.IsInf(ymax, -1) {
			miss := make(plotter.XYs, len(s.Missing))
			for j, x := range s.Missing {
				miss[j] = plotter.XY{X: x, Y: ymax}
			}
			sc, err := plotter.NewScatter(miss)
			if err != nil {
				return nil, fmt.Errorf("series %q: %v", s.Name, err)
			}
			sc.Color = col
			sc.Shape = draw.CrossGlyph{}
			sc.Radius = vg.Points(5)
			p.Add(sc)
			p.Legend.Add(s.Name+": not reached", sc)
		}
	}
	return p, nil
}

// HeatMap is a grid of values over two axes, e.g. epochs to target over
// depth x width. NaN cells (not reached, not run) are drawn grey.
type HeatMap struct {
	Title, XLabel, YLabel string
	// X and Y are the axis values of the columns and rows.
	X, Y []float64
	// Z[row][col] is the value at (X[col], Y[row]).
	Z [][]float64
	// ZLabel names the quantity, shown with the colour range in the title.
	ZLabel string
}

type grid struct{ h HeatMap }

func (g grid) Dims() (c, r int)   { return len(g.h.X), len(g.h.Y) }
func (g grid) Z(c, r int) float64 { return g.h.Z[r][c] }
func (g grid) X(c int) float64    { return float64(c) }
func (g grid) Y(r int) float64    { return float64(r) }

// Plot builds the gonum plot. Axes are indexed by position, labelled with the
// grid values, so unevenly spaced grids stay readable.
func (h HeatMap) Plot() (*plot.Plot, error) {
	if len(h.Z) != len(h.Y) {
		return nil, fmt.Errorf("heat map %q: %d rows for %d y values", h.Title, len(h.Z), len(h.Y))
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, row := range h.Z {
		if len(row) != len(h.X) {
			return nil, fmt.Errorf("heat map %q: a row has %d cells for %d x values", h.Title, len(row), len(h.X))
		}
		for _, z := range row {
			if !math.IsNaN(z) && !math.IsInf(z, 0) {
				lo, hi = math.Min(lo, z), math.Max(hi, z)
			}
		}
	}
	p := plot.New()
	p.X.Label.Text = h.XLabel
	p.Y.Label.Text = h.YLabel
	p.Title.Text = h.Title
	if math.IsInf(lo, 1) {
		lo, hi = 0, 1
	}
	if hi == lo {
		hi = lo + 1
	}
	p.Title.Text = fmt.Sprintf("%s\n%s: %.3g (blue) to %.3g (red), grey = none", h.Title, h.ZLabel, lo, hi)
	pal := moreland.SmoothBlueRed()
	pal.SetMin(lo)
	pal.SetMax(hi)
	hm := plotter.NewHeatMap(grid{h}, pal.Palette(64))
	hm.Min, hm.Max = lo, hi
	hm.NaN = color.Gray{Y: 200}
	hm.Rasterized = true
	p.Add(hm)
	p.X.Tick.Marker = indexTicks(h.X)
	p.Y.Tick.Marker = indexTicks(h.Y)
	return p, nil
}

// indexTicks labels positions 0..n-1 with the grid values.
type indexTicks []float64

func (t indexTicks) Ticks(min, max float64) []plot.Tick {
	out := make([]plot.Tick, len(t))
	for i, v := range t {
		out[i] = plot.Tick{Value: float64(i), Label: fmt.Sprintf("%g", v)}
	}
	return out
}

// Render draws a plot as "png", "svg" or "pdf" at the default size.
func Render(p *plot.Plot, format string) ([]byte, error) {
	wt, err := p.WriterTo(Size.W, Size.H, format)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
