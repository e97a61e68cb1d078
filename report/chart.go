package report

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
)

// Chart is a figure described as data: a LineChart or a HeatMap. Render
// draws it; what it looks like (axes that fit the data, tick labels, a
// legend that covers no data, markers and dashes that survive grey-scale
// print) is the renderer's business, not the caller's.
type Chart interface {
	// Validate checks the chart's data for consistency.
	Validate() error
	// chart seals the interface: renderers know every kind of chart.
	chart()
}

// Role is what a series shows, which sets how it is drawn.
type Role int

// The roles.
const (
	// Measured is drawn as markers joined by a line, with error bars where
	// the series has them.
	Measured Role = iota
	// Theory is drawn as a dashed line without markers.
	Theory
	// Bound is drawn as a dotted line without markers: a lower or upper
	// bound the theory gives.
	Bound
)

// String names the role, as the legend's key does.
func (r Role) String() string {
	switch r {
	case Theory:
		return "theory"
	case Bound:
		return "theory bounds"
	}
	return "measured"
}

// Series is one curve of a LineChart. Series with the same Name are one
// quantity drawn in several roles (measured, theory, bounds): they share a
// colour, a marker and a legend entry. Points whose X or Y cannot be placed
// on its axis (see Drawable: NaN, infinite, beyond ±MaxAxisValue, or on a
// log axis below MinLogAxisValue) are left out, so that a value that is
// unknown or overflows leaves a gap instead of failing the chart; a series
// left with no point draws nothing and keeps its legend entry.
type Series struct {
	Name string
	Role Role
	X, Y []float64
	// YLow and YHigh, when set, are the ends of each point's error bar
	// (none where either is NaN or they are equal; on a log axis a low end
	// that is not positive runs to the bottom of the axis).
	YLow, YHigh []float64
	// Missing are x positions where the quantity was not reached (e.g. the
	// accuracy target within the epoch cap): the series' marker is drawn
	// there in a band labelled "not reached" above the data, and the
	// series' line is broken there. Each must be Drawable on the x axis.
	Missing []float64
}

// LineChart is a set of curves sharing axes. Its axes fit the data (a
// linear y axis starts at 0 when its values come near it); its legend lies
// outside the data area, to the right of it (or below it).
type LineChart struct {
	Title, XLabel, YLabel string
	LogX, LogY            bool
	// XTicks, when set, are the x values marked and labelled (a grid's
	// depths, say); otherwise round values are. Each must be Drawable on
	// the x axis.
	XTicks []float64
	// LegendTitle heads the legend (what the series are, e.g.
	// "initialization").
	LegendTitle string
	// LegendBelow puts the legend under the plot, in columns; by default it
	// goes to the right of the plot, or under it when too tall for that.
	LegendBelow bool
	// Dodge shifts each series sideways by a few points, so that the error
	// bars of series measured at the same x stay apart.
	Dodge  bool
	Series []Series
}

// Validate checks that each series' slices have one value per point, that
// error bars have both ends, and that every x tick and missing position
// can be placed on the x axis.
func (c LineChart) Validate() error {
	for _, s := range c.Series {
		if len(s.X) != len(s.Y) {
			return fmt.Errorf("line chart %q: series %q: %d x values for %d y values: want one of each per point", c.Title, s.Name, len(s.X), len(s.Y))
		}
		if (s.YLow == nil) != (s.YHigh == nil) {
			return fmt.Errorf("line chart %q: series %q: YLow and YHigh go together: give both ends of the error bars or neither", c.Title, s.Name)
		}
		if s.YLow != nil && (len(s.YLow) != len(s.Y) || len(s.YHigh) != len(s.Y)) {
			return fmt.Errorf("line chart %q: series %q: %d low and %d high error-bar ends for %d points: want one of each per point", c.Title, s.Name, len(s.YLow), len(s.YHigh), len(s.Y))
		}
		if err := drawableX(c, "series "+strconv.Quote(s.Name)+": missing position", s.Missing); err != nil {
			return err
		}
	}
	return drawableX(c, "x tick", c.XTicks)
}

// drawableX checks that values can be placed on the chart's x axis.
func drawableX(c LineChart, what string, vs []float64) error {
	for _, v := range vs {
		if !Drawable(v, c.LogX) {
			return fmt.Errorf("line chart %q: %s %g: %s", c.Title, what, v, axisRange(c.LogX))
		}
	}
	return nil
}

// The range of values an axis can show: a log axis from MinLogAxisValue to
// MaxAxisValue, a linear one from -MaxAxisValue to MaxAxisValue. The margins
// to float64's limits leave room for the axis's padding and its ticks.
const (
	MaxAxisValue    = 1e300
	MinLogAxisValue = 1e-300
)

// Drawable reports whether v can be placed on an axis, log or linear: it
// is finite, at most MaxAxisValue in magnitude and, on a log axis, at
// least MinLogAxisValue.
func Drawable(v float64, log bool) bool {
	if log {
		return v >= MinLogAxisValue && v <= MaxAxisValue
	}
	return v >= -MaxAxisValue && v <= MaxAxisValue
}

// axisRange says what an axis can show, for errors.
func axisRange(log bool) string {
	if log {
		return fmt.Sprintf("a log axis shows values from %g to %g", MinLogAxisValue, MaxAxisValue)
	}
	return fmt.Sprintf("an axis shows finite values from %g to %g", -MaxAxisValue, MaxAxisValue)
}

func (LineChart) chart() {}

// HeatMap is a grid of values over two axes, e.g. epochs to a target over
// depth x width. Each point is drawn as a cell of one colour with its value
// printed in it; a colour bar gives the scale. Cells without a drawable
// value (NaN for not reached or not run, infinite, or beyond ±MaxAxisValue)
// are grey and print NaNLabel.
type HeatMap struct {
	Title, XLabel, YLabel string
	// X and Y are the axis values of the columns and rows, at least one
	// of each, all finite: they label the cells.
	X, Y []float64
	// Z[row][col] is the value at (X[col], Y[row]).
	Z [][]float64
	// ZLabel names the quantity, beside the colour bar.
	ZLabel string
	// NaNLabel is printed in NaN cells ("" prints a dash).
	NaNLabel string
}

// Validate checks that the grid has at least one cell, finite axis values,
// a row per y value and a cell per x value in each row.
func (h HeatMap) Validate() error {
	if len(h.X) == 0 || len(h.Y) == 0 {
		return fmt.Errorf("heat map %q: %d x values and %d y values: want at least one of each", h.Title, len(h.X), len(h.Y))
	}
	for _, axis := range []struct {
		name string
		vs   []float64
	}{{"x", h.X}, {"y", h.Y}} {
		for _, v := range axis.vs {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("heat map %q: %s value %g: the axis values label the cells and must be finite", h.Title, axis.name, v)
			}
		}
	}
	if len(h.Z) != len(h.Y) {
		return fmt.Errorf("heat map %q: %d rows for %d y values", h.Title, len(h.Z), len(h.Y))
	}
	for _, row := range h.Z {
		if len(row) != len(h.X) {
			return fmt.Errorf("heat map %q: a row has %d cells for %d x values", h.Title, len(row), len(h.X))
		}
	}
	return nil
}

func (HeatMap) chart() {}

// A Renderer draws a valid chart as "png", "svg" or "pdf".
type Renderer func(c Chart, format string) ([]byte, error)

// renderer is the registered Renderer.
var renderer struct {
	sync.RWMutex
	r Renderer
}

// RegisterRenderer makes r the renderer of Render. Importing package
// github.com/initscope/initscope/report/render registers it; this package
// itself depends on no plotting library.
func RegisterRenderer(r Renderer) {
	renderer.Lock()
	defer renderer.Unlock()
	renderer.r = r
}

// ErrNoRenderer is Render's error when no renderer is registered.
var ErrNoRenderer = errors.New("report: no chart renderer registered (import github.com/initscope/initscope/report/render)")

// Render validates a chart and draws it as "png", "svg" or "pdf" with the
// registered renderer.
func Render(c Chart, format string) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	renderer.RLock()
	r := renderer.r
	renderer.RUnlock()
	if r == nil {
		return nil, ErrNoRenderer
	}
	return r(c, format)
}

// minus is the typographic minus sign of labels.
const minus = "\u2212"

// FormatNumber writes a value for a label or a cell as a paper would: three
// significant digits, no trailing zeros (25, 0.15, 1234), a typographic
// minus, and e-notation only below 0.001 or from 100000 on (1.2e−5).
func FormatNumber(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 0):
		return strings.Replace(strconv.FormatFloat(v, 'f', -1, 64), "-", minus, 1)
	case a == 0:
		return "0"
	case a >= 1e-3 && a < 1e5:
		return trimZeros(FormatFixed(v, max(0, 2-int(math.Floor(math.Log10(a))))))
	}
	m, e, _ := strings.Cut(strconv.FormatFloat(v, 'e', 2, 64), "e")
	exp, _ := strconv.Atoi(e)
	return strings.Replace(trimZeros(m), "-", minus, 1) + "e" + strings.Replace(strconv.Itoa(exp), "-", minus, 1)
}

// FormatFixed writes v with the given decimals and a typographic minus,
// never −0: the labels of an axis share their decimals (0.5, 1.0, 1.5).
func FormatFixed(v float64, decimals int) string {
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-")
	}
	return strings.Replace(s, "-", minus, 1)
}

// trimZeros drops the trailing zeros of a decimal fraction, and its point
// if nothing follows it.
func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	return strings.TrimRight(strings.TrimRight(s, "0"), ".")
}
