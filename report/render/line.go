package render

import (
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/initscope/initscope/report"
)

// Metrics of the lines and markers, in points.
const (
	lineWidth   = 1.3
	thinWidth   = 1.0
	glyphRadius = 3.2
	capWidth    = 3.5
	// rangePad is the share of an axis's span left empty at each end.
	rangePad = 0.05
	// dodgeStep is the sideways shift between series of a dodged chart.
	dodgeStep = 3.0
	// zeroShare: a linear y axis whose values are all at least 0 and whose
	// smallest is below this share of its largest starts at 0.
	zeroShare = 0.25
	// bandGap and bandRoom place the "not reached" band above the data, as
	// shares of the y axis's span.
	bandGap  = 0.09
	bandRoom = 0.06
)

// group is the style shared by the series of one name.
type group struct {
	colour color.Color
	glyph  draw.GlyphDrawer
	dashes []vg.Length
}

// line returns the style of the group's line in a role. In a chart that
// mixes roles, measured lines are solid, so that dashes tell theory from
// measurement.
func (g group) line(r report.Role, mixed bool) draw.LineStyle {
	sty := draw.LineStyle{Color: g.colour, Width: vg.Points(lineWidth), Dashes: g.dashes}
	switch {
	case r == report.Theory:
		sty.Width, sty.Dashes = vg.Points(thinWidth), theoryDash
	case r == report.Bound:
		sty.Width, sty.Dashes = vg.Points(thinWidth), boundDash
	case mixed:
		sty.Dashes = nil
	}
	return sty
}

// marker returns the style of the group's markers.
func (g group) marker() draw.GlyphStyle {
	return draw.GlyphStyle{Color: g.colour, Radius: vg.Points(glyphRadius), Shape: g.glyph}
}

// usable reports whether a value can be drawn on an axis (report.Drawable).
func usable(v float64, log bool) bool { return report.Drawable(v, log) }

// extent is the range of the values an axis must show, in the axis's
// coordinates (log10 on a log axis).
type extent struct {
	lo, hi float64
	log    bool
}

// newExtent returns an empty extent.
func newExtent(log bool) extent { return extent{lo: math.Inf(1), hi: math.Inf(-1), log: log} }

// add widens the extent to v, if v can be drawn.
func (e *extent) add(v float64) {
	if !usable(v, e.log) {
		return
	}
	if e.log {
		v = math.Log10(v)
	}
	e.lo, e.hi = math.Min(e.lo, v), math.Max(e.hi, v)
}

// empty reports whether no value was added.
func (e extent) empty() bool { return e.lo > e.hi }

// padded returns the extent widened by rangePad of its span at each end;
// a single value, or values too close for float64 to mark apart, gets a
// span of its own (a decade on a log axis, half the value either side on a
// linear one). A log axis's extent stays within what float64 can
// represent.
func (e extent) padded() extent {
	narrow := e.hi-e.lo <= minSpan*math.Max(math.Abs(e.lo), math.Abs(e.hi))
	switch {
	case e.empty():
		e.lo, e.hi = 0, 1
	case narrow && e.log:
		mid := e.lo/2 + e.hi/2
		e.lo, e.hi = mid-0.5, mid+0.5
	case e.lo == 0 && e.hi == 0:
		e.lo, e.hi = -1, 1
	case narrow:
		mid := e.lo/2 + e.hi/2
		d := math.Abs(mid) / 2 // the range keeps the value's sign
		e.lo, e.hi = mid-d, mid+d
	}
	pad := rangePad * (e.hi - e.lo)
	e.lo, e.hi = e.lo-pad, e.hi+pad
	if e.log {
		e.lo, e.hi = math.Max(e.lo, -maxLogCoord), math.Min(e.hi, maxLogCoord)
	}
	return e
}

// minSpan is the smallest span of an axis relative to its values' size:
// closer values are drawn as one, since float64 cannot mark round steps
// between them.
const minSpan = 1e-9

// maxLogCoord bounds a log axis's ends to 10^±maxLogCoord, inside float64's
// range.
const maxLogCoord = 307

// value maps a coordinate of the extent back to a data value.
func (e extent) value(v float64) float64 {
	if e.log {
		return math.Pow(10, v)
	}
	return v
}

// setAxis gives an axis the extent's range, its scale and its marks.
func (e extent) setAxis(a *plot.Axis, ticks plot.Ticker) {
	a.Min, a.Max = e.value(e.lo), e.value(e.hi)
	if e.log {
		a.Scale = plot.LogScale{}
	}
	a.Tick.Marker = ticks
}

// ticker returns the marks of an axis: listed values, or round ones.
func ticker(log bool, list []float64) plot.Ticker {
	switch {
	case len(list) > 0:
		return listTicks(list)
	case log:
		return logTicks{}
	}
	return linearTicks{}
}

// lineScan is what a line chart holds: its groups of series in order,
// the roles drawn, whether any point has an error bar or is missing, and
// the extents of its axes.
type lineScan struct {
	names            []string
	groups           map[string]group
	roles            map[report.Role]bool
	errBars, missing bool
	x, y             extent
}

// scan reads a line chart's series.
func scan(c report.LineChart) lineScan {
	s := lineScan{groups: map[string]group{}, roles: map[report.Role]bool{}, x: newExtent(c.LogX), y: newExtent(c.LogY)}
	for _, se := range c.Series {
		if _, ok := s.groups[se.Name]; !ok {
			col, gl, ds := styleAt(len(s.names))
			s.groups[se.Name] = group{colour: col, glyph: gl, dashes: ds}
			s.names = append(s.names, se.Name)
		}
		for i := range se.X {
			if !usable(se.X[i], c.LogX) || !usable(se.Y[i], c.LogY) {
				continue
			}
			s.roles[se.Role] = true
			s.x.add(se.X[i])
			s.y.add(se.Y[i])
			if se.YLow != nil {
				s.errBars = true
				s.y.add(se.YLow[i])
				s.y.add(se.YHigh[i])
			}
		}
		for _, x := range se.Missing {
			if usable(x, c.LogX) {
				s.x.add(x)
				s.missing = true
			}
		}
	}
	for _, x := range c.XTicks {
		s.x.add(x)
	}
	return s
}

// mixed reports whether the chart draws more than one role.
func (s lineScan) mixed() bool { return len(s.roles) > 1 }

// legend lists the groups under the title and, in a chart that mixes
// roles, a key to the roles' line patterns.
func (s lineScan) legend(title string) legend {
	lg := legend{columns: 1}
	if title != "" {
		lg.entries = append(lg.entries, legendEntry{label: title, heading: true})
	}
	for _, n := range s.names {
		g := s.groups[n]
		lg.entries = append(lg.entries, legendEntry{label: n, thumb: sample{line: g.line(report.Measured, s.mixed()), marker: g.marker()}})
	}
	if !s.mixed() {
		return lg
	}
	key := group{colour: color.Gray{Y: 60}}
	for _, r := range []report.Role{report.Measured, report.Theory, report.Bound} {
		if !s.roles[r] {
			continue
		}
		label := r.String()
		if r == report.Measured && s.errBars {
			label += " (± SE)"
		}
		lg.entries = append(lg.entries, legendEntry{label: label, thumb: sample{line: key.line(r, true)}})
	}
	return lg
}

// layoutLine lays a line chart out on cv: axes that fit the data (and,
// when a point was not reached, a band above them for its marker), the
// series, and the legend beside the plot.
func layoutLine(c report.LineChart, cv draw.Canvas) *figure {
	s := scan(c)
	xr, yr := s.x.padded(), s.y.padded()
	if !c.LogY && !s.y.empty() && s.y.lo >= 0 && s.y.lo < zeroShare*s.y.hi {
		yr.lo = 0 // values near zero: the axis starts at zero
	}
	// top is the largest value the y axis marks: none when only "not
	// reached" markers are drawn.
	top, band, sep := yr.value(yr.hi), math.NaN(), math.NaN()
	if s.y.empty() {
		top = math.Inf(-1)
	}
	if s.missing {
		span := yr.hi - yr.lo
		band, sep = yr.value(yr.hi+bandGap*span), yr.value(yr.hi+bandGap*span/2)
		yr.hi += (bandGap + bandRoom) * span
	}
	p := newPlot(c.Title, c.XLabel, c.YLabel)
	xr.setAxis(&p.X, ticker(c.LogX, c.XTicks))
	yt := ticker(c.LogY, nil)
	if s.missing {
		yt = bandTicks{inner: yt, top: top, band: band}
	}
	yr.setAxis(&p.Y, yt)
	p.Add(gridLines{skipY: band})
	switch {
	case s.missing:
		p.Add(bandLine{y: sep})
	case s.y.empty():
		p.Add(noData{})
	}
	nr := &bandMarkers{y: band}
	for _, se := range c.Series {
		g := s.groups[se.Name]
		sp := seriesPlot{line: g.line(se.Role, s.mixed()), logX: c.LogX, logY: c.LogY}
		if c.Dodge {
			sp.dx = (vg.Length(slices.Index(s.names, se.Name)) - vg.Length(len(s.names)-1)/2) * vg.Points(dodgeStep)
		}
		if se.Role == report.Measured {
			sp.marker = g.marker()
		}
		sp.points(se)
		p.Add(sp)
		for _, x := range se.Missing {
			if usable(x, c.LogX) {
				nr.marks = append(nr.marks, bandMark{x, g.marker()})
			}
		}
	}
	p.Add(nr)
	return placeLegend(p, cv, s.legend(c.LegendTitle), c.LegendBelow)
}

// placeLegend lays a plot and its legend out on c: the legend to the
// right of the plot, top-aligned with its data area, or below the plot in
// as many columns as fit when below is set or the legend is taller than the
// data area.
func placeLegend(p *plot.Plot, c draw.Canvas, lg legend, below bool) *figure {
	if len(lg.entries) == 0 {
		return newFigure(p, c)
	}
	w, h := lg.size()
	f := newFigure(p, draw.Crop(c, 0, -(w+gap), 0, 0))
	if top := f.data().Max.Y; !below && h <= f.data().Size().Y {
		f.legend = vg.Rectangle{Min: vg.Point{X: f.area.Max.X + gap/2, Y: top - h}, Max: vg.Point{X: f.area.Max.X + gap/2 + w, Y: top}}
	} else {
		lg.columns = max(1, int((c.Size().X+columnGap)/(lg.columnWidth()+columnGap)))
		w, h = lg.size()
		f.area = draw.Crop(c, 0, 0, h+gap/2, 0)
		left := min(f.data().Min.X, c.Max.X-w)
		f.legend = vg.Rectangle{Min: vg.Point{X: left, Y: c.Min.Y}, Max: vg.Point{X: left + w, Y: c.Min.Y + h}}
	}
	f.side = func(c draw.Canvas) { lg.draw(c, f.legend.Min.X, f.legend.Max.Y) }
	return f
}

// seriesPlot draws one series: its line, broken where the series is
// missing, its error bars and its markers.
type seriesPlot struct {
	line       draw.LineStyle
	marker     draw.GlyphStyle
	logX, logY bool
	// dx shifts the series sideways on the canvas (see LineChart.Dodge).
	dx vg.Length
	// segments are the runs of points between missing positions; low and
	// high the error bars of each point (NaN where none).
	segments [][]plotPoint
}

// plotPoint is a point with its error bar.
type plotPoint struct{ x, y, low, high float64 }

// points fills the plot's segments from the series.
func (sp *seriesPlot) points(s report.Series) {
	var pts []plotPoint
	for i := range s.X {
		if !usable(s.X[i], sp.logX) || !usable(s.Y[i], sp.logY) {
			continue
		}
		pt := plotPoint{x: s.X[i], y: s.Y[i], low: math.NaN(), high: math.NaN()}
		if s.YLow != nil {
			pt.low, pt.high = s.YLow[i], s.YHigh[i]
		}
		pts = append(pts, pt)
	}
	slices.SortStableFunc(pts, func(a, b plotPoint) int { return compareFloat(a.x, b.x) })
	var seg []plotPoint
	for i, pt := range pts {
		if i > 0 && slices.ContainsFunc(s.Missing, func(m float64) bool { return m > pts[i-1].x && m < pt.x }) {
			sp.segments = append(sp.segments, seg)
			seg = nil
		}
		seg = append(seg, pt)
	}
	if seg != nil {
		sp.segments = append(sp.segments, seg)
	}
}

// compareFloat orders two numbers.
func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Plot draws the series.
func (sp seriesPlot) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	bar := draw.LineStyle{Color: sp.line.Color, Width: vg.Points(thinWidth)}
	for _, seg := range sp.segments {
		line := make([]vg.Point, len(seg))
		for i, pt := range seg {
			line[i] = vg.Point{X: tx(pt.x) + sp.dx, Y: ty(pt.y)}
		}
		c.StrokeLines(sp.line, c.ClipLinesXY(line)...)
		for i, pt := range seg {
			if finite(pt.low) && finite(pt.high) {
				sp.errorBar(c, p, bar, line[i].X, pt)
			}
			if sp.marker.Shape != nil {
				c.DrawGlyph(sp.marker, line[i])
			}
		}
	}
}

// errorBar draws a point's error bar, cut at the axis's ends (without a
// cap where cut).
func (sp seriesPlot) errorBar(c draw.Canvas, p *plot.Plot, sty draw.LineStyle, x vg.Length, pt plotPoint) {
	_, ty := p.Transforms(&c)
	lo, hi := pt.low, pt.high
	loCap, hiCap := true, true
	if !usable(lo, sp.logY) || lo < p.Y.Min {
		lo, loCap = p.Y.Min, false
	}
	if !usable(hi, sp.logY) || hi > p.Y.Max {
		hi, hiCap = p.Y.Max, false
	}
	if hi <= lo {
		return
	}
	y0, y1 := ty(lo), ty(hi)
	c.StrokeLine2(sty, x, y0, x, y1)
	w := vg.Points(capWidth)
	if loCap {
		c.StrokeLine2(sty, x-w, y0, x+w, y0)
	}
	if hiCap {
		c.StrokeLine2(sty, x-w, y1, x+w, y1)
	}
}

// bandMarkers draws the "not reached" markers in the band at y, markers at
// one x side by side, inside the data area.
type bandMarkers struct {
	y     float64
	marks []bandMark
}

// bandMark is one "not reached" marker.
type bandMark struct {
	x     float64
	glyph draw.GlyphStyle
}

// Plot draws the markers.
func (b *bandMarkers) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	at := map[float64]int{}
	for _, m := range b.marks {
		at[m.x]++
	}
	seen := map[float64]int{}
	for _, m := range b.marks {
		k, i := at[m.x], seen[m.x]
		seen[m.x]++
		step := 2.6 * m.glyph.Radius
		// The row of markers is centred on x, shifted to stay inside.
		first := tx(m.x) - vg.Length(k-1)*step/2
		first = max(c.Min.X+m.glyph.Radius, min(first, c.Max.X-m.glyph.Radius-vg.Length(k-1)*step))
		c.DrawGlyph(m.glyph, vg.Point{X: first + vg.Length(i)*step, Y: ty(b.y)})
	}
}

// bandLine is the thin line that sets the "not reached" band off from the
// data.
type bandLine struct{ y float64 }

// Plot draws the line.
func (b bandLine) Plot(c draw.Canvas, p *plot.Plot) {
	_, ty := p.Transforms(&c)
	y := ty(b.y)
	c.StrokeLine2(draw.LineStyle{Color: color.Gray{Y: 150}, Width: vg.Points(0.6), Dashes: []vg.Length{vg.Points(2), vg.Points(2)}}, c.Min.X, y, c.Max.X, y)
}

// gridLines draws light lines at the labelled marks of both axes, except
// at skipY.
type gridLines struct{ skipY float64 }

// Plot draws the lines.
func (g gridLines) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	sty := draw.LineStyle{Color: color.Gray{Y: 225}, Width: vg.Points(0.5)}
	for _, t := range p.X.Tick.Marker.Ticks(p.X.Min, p.X.Max) {
		if t.Label != "" {
			c.StrokeLine2(sty, tx(t.Value), c.Min.Y, tx(t.Value), c.Max.Y)
		}
	}
	for _, t := range p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max) {
		if t.Label != "" && t.Value != g.skipY {
			c.StrokeLine2(sty, c.Min.X, ty(t.Value), c.Max.X, ty(t.Value))
		}
	}
}

// noData writes "no data" in the middle of an empty chart.
type noData struct{}

// Plot writes the text.
func (noData) Plot(c draw.Canvas, _ *plot.Plot) {
	sty := textStyle(labelSize)
	sty.Color = color.Gray{Y: 100}
	sty.XAlign, sty.YAlign = text.XCenter, text.YCenter
	c.FillText(sty, c.Center(), "no data")
}
