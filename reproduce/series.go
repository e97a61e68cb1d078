package reproduce

import (
	"fmt"
	"math"

	"github.com/initscope/initscope/experiment"
	"github.com/initscope/initscope/probe"
	"github.com/initscope/initscope/report"
)

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

// theorySeries is a curve of 10^log10s against x in the role (theory or
// bound) of the measured series of the same name; NaN values are left out.
func theorySeries(name string, role report.Role, xs, log10s []float64) report.Series {
	s := report.Series{Name: name, Role: role}
	for i, v := range log10s {
		if finite(v) {
			s.X = append(s.X, xs[i])
			s.Y = append(s.Y, math.Pow(10, v))
		}
	}
	return s
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
