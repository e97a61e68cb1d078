package reproduce

import (
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/initscope/initscope/experiment"
	"github.com/initscope/initscope/probe"
	"github.com/initscope/initscope/report"
)

// colored lays out groups of series (measured, theory, ...) so that the j-th
// series of every group is drawn in the same colour. report colours a chart's
// series by position, cycling through plotutil.DefaultColors, so each group
// starts at a multiple of the palette's size; the padding series are empty,
// which report draws as nothing, with no legend entry.
func colored(groups ...[]report.Series) []report.Series {
	n := len(plotutil.DefaultColors)
	var out []report.Series
	for _, g := range groups {
		for len(out)%n != 0 {
			out = append(out, report.Series{})
		}
		out = append(out, g...)
	}
	return out
}

// epochSeries is one curve of epochs to the target against x: the mean ±
// SE where at least half of the runs reached the target, a "not reached"
// marker where fewer did.
func epochSeries(name string, xs []float64, cells []*epochCell) report.Series {
	s := report.Series{Name: name}
	for i, c := range cells {
		if c == nil || c.runs == 0 {
			continue
		}
		if !c.shown() {
			s.Missing = append(s.Missing, xs[i])
			continue
		}
		m, se := c.mean()
		if !finite(se) {
			se = 0
		}
		s.X = append(s.X, xs[i])
		s.Y = append(s.Y, m)
		s.YLow = append(s.YLow, m-se)
		s.YHigh = append(s.YHigh, m+se)
	}
	return s
}

// lengthSeries is one measured curve of E[M]/M0 against x, ± SE; points
// without a measurement are left out.
func lengthSeries(name string, xs []float64, ls []*probe.LayerReport) report.Series {
	ys, ses := make([]float64, len(ls)), make([]float64, len(ls))
	for i, l := range ls {
		ys[i], ses[i] = nan, nan
		if l == nil {
			continue
		}
		ys[i], ses[i] = float64(l.MeanRatio), float64(l.MeanRatioSE)
		if !finite(ys[i]) {
			ys[i] = math.Pow(10, float64(l.Log10MeanRatio))
		}
	}
	return valueSeries(name, xs, ys, ses)
}

// valueSeries is a measured curve: ys against xs with error bars ± ses
// (none where the SE is unknown); NaN values are left out.
func valueSeries(name string, xs, ys, ses []float64) report.Series {
	s := report.Series{Name: name}
	for i, y := range ys {
		if !finite(y) {
			continue
		}
		se := ses[i]
		if !finite(se) {
			se = 0
		}
		s.X = append(s.X, xs[i])
		s.Y = append(s.Y, y)
		s.YLow = append(s.YLow, y-se)
		s.YHigh = append(s.YHigh, y+se)
	}
	return s
}

// theorySeries is a dashed curve of 10^log10s against x; NaN values are
// left out.
func theorySeries(name string, xs, log10s []float64) report.Series {
	s := report.Series{Name: name, Dashed: true}
	for i, v := range log10s {
		if finite(v) {
			s.X = append(s.X, xs[i])
			s.Y = append(s.Y, math.Pow(10, v))
		}
	}
	return s
}

// drawable turns off a log axis with fewer than two distinct values to
// show (no point reached the target, say): gonum cannot draw a log axis
// over an empty or one-point range.
func drawable(c report.LineChart) report.LineChart {
	xs, ys := map[float64]bool{}, map[float64]bool{}
	for _, s := range c.Series {
		for i := range s.X {
			if finite(s.X[i]) && finite(s.Y[i]) && (!c.LogX || s.X[i] > 0) && (!c.LogY || s.Y[i] > 0) {
				xs[s.X[i]], ys[s.Y[i]] = true, true
			}
		}
	}
	c.LogX = c.LogX && len(xs) > 1
	c.LogY = c.LogY && len(ys) > 1
	return c
}

// legendRoom is the fraction of a line chart's width its data keep: the
// rest, on the right, is left empty for the legend.
const legendRoom = 0.62

// tidy adjusts a line chart drawn by report: log axes labelled at powers of
// ten, and the x axis stretched so that the legend, in the top right
// corner, covers no data.
func tidy(p *plot.Plot, c report.LineChart) {
	if c.LogY {
		p.Y.Tick.Marker = decades{}
	}
	p.Legend.Left = false
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	p.Legend.ThumbnailWidth = vg.Points(16)
	if !(finite(p.X.Min) && finite(p.X.Max) && p.X.Max > p.X.Min) {
		return // nothing drawn
	}
	if c.LogX {
		p.X.Tick.Marker = decades{}
		lo, hi := math.Log(p.X.Min), math.Log(p.X.Max)
		p.X.Max = math.Exp(lo + (hi-lo)/legendRoom)
	} else {
		p.X.Max = p.X.Min + (p.X.Max-p.X.Min)/legendRoom
	}
}

// decades marks a log axis at powers of ten, labelling every one (every
// k-th when there are more than 8), and at 2 and 5 times them when the axis
// spans two decades or less.
type decades struct{}

// Ticks returns the marks between min and max.
func (decades) Ticks(min, max float64) []plot.Tick {
	lo, hi := math.Floor(math.Log10(min)), math.Ceil(math.Log10(max))
	if !finite(lo) || !finite(hi) {
		return nil
	}
	step := math.Max(1, math.Ceil((hi-lo)/8))
	var ticks []plot.Tick
	add := func(v float64, label string) {
		if v >= min && v <= max {
			ticks = append(ticks, plot.Tick{Value: v, Label: label})
		}
	}
	for e := lo; e <= hi; e++ {
		v, _ := strconv.ParseFloat(fmt.Sprintf("1e%d", int(e)), 64) // exact, unlike math.Pow
		label := ""
		if math.Mod(e, step) == 0 {
			label = tickLabel(v, int(e))
		}
		add(v, label)
		for _, m := range []float64{2, 5} {
			if hi-lo <= 2 {
				add(m*v, tickLabel(m*v, int(e)))
			} else {
				add(m*v, "")
			}
		}
	}
	return ticks
}

// tickLabel writes a tick value 10^e (or 2 or 5 times it) plainly between
// 0.001 and 1000, else in e-notation.
func tickLabel(v float64, e int) string {
	if e >= -3 && e <= 3 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 1, 64)
}

// floats converts ints to float64s.
func floats(vs []int) []float64 {
	out := make([]float64, len(vs))
	for i, v := range vs {
		out[i] = float64(v)
	}
	return out
}

// param readers for records, with errors naming the record.

// textParam returns a record's string param.
func textParam(r experiment.Record, name string) (string, error) { return r.Task().Text(name) }

// intParam returns a record's integer param.
func intParam(r experiment.Record, name string) (int, error) { return r.Task().Int(name) }

// log10Cell writes a log10 value for tables, "-" when unknown.
func log10Cell(v float64) string {
	if !finite(v) {
		return "-"
	}
	if v = math.Round(100*v) / 100; v == 0 {
		v = 0 // not -0
	}
	return fmt.Sprintf("%+.2f", v)
}
