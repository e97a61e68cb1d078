package render

import (
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"

	"github.com/initscope/initscope/report"
)

// plotFont is the font of every text of a figure; plainText draws it.
var (
	plotFont  = plot.DefaultFont
	plainText = text.Plain{Fonts: font.DefaultCache}
)

// linearTicks marks a linear axis at a round step (1, 2, 2.5 or 5 times a
// power of ten) giving about six marks, labelled with the decimals the step
// needs and no more: 0, 5, 10; 0.5, 1.0, 1.5; never 25.00. Steps below
// 10^-maxDecimals or from 10^maxDecimals on are labelled as
// report.FormatNumber writes them. A range too narrow for float64 to hold
// round steps within it is marked at its ends.
type linearTicks struct{}

// maxDecimals bounds the decimals of a linear axis's labels.
const maxDecimals = 6

// Ticks returns the marks between min and max.
func (linearTicks) Ticks(min, max float64) []plot.Tick {
	if !(max > min) || !finite(min) || !finite(max) {
		return nil
	}
	// The sixth of the span, computed without overflowing.
	raw := max/6 - min/6
	if !(raw > minSpan*math.Max(math.Abs(min), math.Abs(max))) || raw < math.SmallestNonzeroFloat64*1e20 {
		return []plot.Tick{{Value: min, Label: report.FormatNumber(min)}, {Value: max, Label: report.FormatNumber(max)}}
	}
	step, decimals := niceStep(raw)
	label := func(v float64) string { return report.FormatFixed(v, decimals) }
	if decimals > maxDecimals || step >= math.Pow10(maxDecimals) {
		label = report.FormatNumber
	}
	var ticks []plot.Tick
	for k := math.Ceil(min/step - 1e-9); k*step <= max+1e-9*step; k++ {
		v := k * step
		ticks = append(ticks, plot.Tick{Value: v, Label: label(v)})
	}
	return ticks
}

// niceStep returns the smallest round step of at least raw and the
// decimals its multiples need.
func niceStep(raw float64) (step float64, decimals int) {
	e := math.Floor(math.Log10(raw))
	base := math.Pow(10, e)
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*base >= raw*(1-1e-9) {
			step = m * base
			decimals = max(0, -int(e))
			if m == 2.5 {
				decimals++
			}
			if m == 10 {
				decimals = max(0, decimals-1)
			}
			return step, decimals
		}
	}
	return raw, 0 // not reached: m = 10 always qualifies
}

// logTicks marks a log axis. Over several decades it marks the powers of ten,
// labelling at most maxDecades of them (every 1, 2, 3, 5, 10, ... decades),
// as 10^k (with a raised exponent) unless every labelled one lies between
// 0.01 and 1000, when they are written plainly; over one to two and a half
// decades it labels 1, 2 and 5 times them; within a decade it marks round
// values as a linear axis would.
type logTicks struct{}

// maxDecades is the most powers of ten a log axis labels.
const maxDecades = 9

// Ticks returns the marks between min and max.
func (logTicks) Ticks(min, max float64) []plot.Tick {
	if !(min > 0 && max > min) || !finite(max) {
		return nil
	}
	lo, hi := math.Log10(min), math.Log10(max)
	if hi-lo < 1 {
		return linearTicks{}.Ticks(min, max)
	}
	// every is the step between labelled decades: the roundest that
	// labels at most maxDecades of them.
	every := 1
	for _, n := range []int{1, 2, 3, 5, 10, 20, 50, 100} {
		if every = n; (hi-lo)/float64(n) < maxDecades {
			break
		}
	}
	var labelled []int
	for e := int(math.Ceil(lo - 1e-9)); float64(e) <= hi+1e-9; e++ {
		if e%every == 0 {
			labelled = append(labelled, e)
		}
	}
	plain := len(labelled) > 0 && labelled[0] >= -2 && labelled[len(labelled)-1] <= 3
	var ticks []plot.Tick
	add := func(v float64, label string) {
		if v >= min*(1-1e-9) && v <= max*(1+1e-9) {
			ticks = append(ticks, plot.Tick{Value: v, Label: label})
		}
	}
	for e := int(math.Floor(lo)); float64(e) <= hi; e++ {
		p := pow10(e)
		switch {
		case e%every == 0:
			add(p, decadeLabel(e, plain))
		case hi-lo <= 20:
			add(p, "")
		}
		if hi-lo > 6 {
			continue
		}
		for m := 2.0; m <= 9; m++ {
			label := ""
			if hi-lo <= 2.5 && (m == 2 || m == 5) && plain {
				label = strconv.FormatFloat(m*p, 'f', -1, 64)
			}
			add(m*p, label)
		}
	}
	return ticks
}

// pow10 returns 10^e exactly as the decimal literal 1e<e> parses.
func pow10(e int) float64 {
	v, _ := strconv.ParseFloat("1e"+strconv.Itoa(e), 64)
	return v
}

// decadeLabel writes 10^e plainly (0.01, 1, 1000) or as "10^−3", which
// supText draws with a raised exponent.
func decadeLabel(e int, plain bool) string {
	if plain {
		return strconv.FormatFloat(pow10(e), 'f', -1, 64)
	}
	return "10^" + report.FormatFixed(float64(e), 0)
}

// listTicks marks and labels an axis at given values, e.g. the depths of
// a grid.
type listTicks []float64

// Ticks returns the listed values between min and max.
func (t listTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for _, v := range t {
		if v >= min && v <= max {
			ticks = append(ticks, plot.Tick{Value: v, Label: report.FormatNumber(v)})
		}
	}
	return ticks
}

// bandTicks adds the "not reached" band's label to an axis's marks and
// leaves out marks above the data.
type bandTicks struct {
	inner plot.Ticker
	// top is the largest value marked; band is where the band's label goes.
	top, band float64
}

// Ticks returns the inner marks up to top, and the band.
func (t bandTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for _, tk := range t.inner.Ticks(min, max) {
		if tk.Value <= t.top {
			ticks = append(ticks, tk)
		}
	}
	return append(ticks, plot.Tick{Value: t.band, Label: notReachedLabel})
}

// notReachedLabel labels the band of "did not reach" markers.
const notReachedLabel = "not reached"

// supText draws labels of the form "base^exponent" with the exponent
// raised and smaller (gonum's LaTeX handler cannot, and the plot font lacks
// the Unicode superscript minus); other text as text.Plain.
type supText struct{ text.Plain }

// The exponent's size and baseline relative to the label's font size.
const (
	supScale = 0.7
	supRaise = 0.42
)

// Box returns the label's width, height above the baseline and depth.
func (h supText) Box(txt string, fnt font.Font) (width, height, depth vg.Length) {
	base, exp, ok := strings.Cut(txt, "^")
	if !ok {
		return h.Plain.Box(txt, fnt)
	}
	w, ht, d := h.Plain.Box(base, fnt)
	we, he, _ := h.Plain.Box(exp, supFont(fnt))
	return w + we, max(ht, supRaise*fnt.Size+he), d
}

// Draw draws the label; it aligns the whole label as text.Plain aligns a
// line. A rotated label is drawn plainly.
func (h supText) Draw(c vg.Canvas, txt string, sty text.Style, pt vg.Point) {
	base, exp, ok := strings.Cut(txt, "^")
	if !ok || sty.Rotation != 0 {
		h.Plain.Draw(c, txt, sty, pt)
		return
	}
	w, _, _ := h.Box(txt, sty.Font)
	face := h.Fonts.Lookup(sty.Font, sty.Font.Size)
	small := supFont(sty.Font)
	x := pt.X + vg.Length(sty.XAlign)*w
	y := pt.Y + sty.Height(txt)*vg.Length(sty.YAlign) - face.Extents().Ascent + sty.Font.Size
	c.SetColor(sty.Color)
	c.FillString(face, vg.Point{X: x, Y: y}, base)
	c.FillString(h.Fonts.Lookup(small, small.Size), vg.Point{X: x + face.Width(base), Y: y + supRaise*sty.Font.Size}, exp)
}

// supFont is the exponent's font.
func supFont(f font.Font) font.Font {
	f.Size *= supScale
	return f
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
