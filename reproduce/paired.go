package reproduce

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/initscope/initscope/num"
	"github.com/initscope/initscope/report"
	"github.com/initscope/initscope/stats"
)

// paired are training points compared with each other, run with the same
// seeds: a seed draws the same example order at every point (and the same
// initialization where the nets are alike), so statistics across the points
// are resampled seed by seed (a paired bootstrap), which cancels the noise
// the points share.
type paired struct {
	cells []*epochCell
	// seeds are the seeds every cell ran.
	seeds []uint64
}

// newPaired pairs the cells on the seeds they all ran; a nil or empty cell
// leaves no seed.
func newPaired(cells []*epochCell) paired {
	p := paired{cells: cells}
	if len(cells) == 0 {
		return p
	}
	for s := range cells[0].seedSet() {
		all := true
		for _, c := range cells[1:] {
			_, ok := c.seedSet()[s]
			all = all && ok
		}
		if all {
			p.seeds = append(p.seeds, s)
		}
	}
	slices.Sort(p.seeds)
	return p
}

// seedSet returns the cell's runs by seed (nil for a nil cell).
func (c *epochCell) seedSet() map[uint64]float64 {
	if c == nil {
		return nil
	}
	return c.logEpochs
}

// means returns each cell's mean ln-epochs over the seeds at the indices.
func (p paired) means(idx []int) []float64 {
	out := make([]float64, len(p.cells))
	for i, c := range p.cells {
		s := 0.0
		for _, j := range idx {
			s += c.logEpochs[p.seeds[j]]
		}
		out[i] = s / float64(len(idx))
	}
	return out
}

// interval is a statistic of the cells' mean ln-epochs on all paired seeds
// with its paired-bootstrap interval, as a report.Interval named statistic.
func (p paired) interval(statistic string, stat func(means []float64) float64) report.Interval {
	iv := report.Interval{Statistic: statistic, Runs: len(p.seeds), Method: "paired seeds (bootstrap over seeds)",
		Estimate: num.Unknown, Lo: num.Unknown, Hi: num.Unknown}
	if len(p.seeds) < 2 {
		return iv
	}
	all := make([]int, len(p.seeds))
	for i := range all {
		all[i] = i
	}
	f := func(idx []int) float64 { return stat(p.means(idx)) }
	lo, hi := stats.Bootstrap(len(p.seeds), f)
	iv.Estimate, iv.Lo, iv.Hi = num.Number(f(all)), num.Number(lo), num.Number(hi)
	return iv
}

// flatElasticity is the largest exponent b of epochs ~ depth^b that counts
// as "does not slow down with depth", and the least that counts as "slows
// down": over Figure 1's depths 5-100 it allows a factor 20^0.15 = 1.57, so
// a 2x slowdown (b = 0.23) is not flat.
const flatElasticity = 0.15

// elasticity decides whether a curve of training points slows down with
// depth: b, the least-squares slope of the mean ln-epochs against ln(depth)
// over the paired seeds (runs that did not reach the target at their cap),
// must be at most flatElasticity when flat is asked, at least it otherwise.
func elasticity(c *check, name string, depths []int, cells []*epochCell, flat bool) {
	x := make([]float64, len(depths))
	for i, d := range depths {
		x[i] = math.Log(float64(d))
	}
	for i, cell := range cells {
		if cell == nil || cell.runs == 0 {
			c.cannot("%s: no training runs at depth %d", name, depths[i])
			return
		}
	}
	p := newPaired(cells)
	iv := p.interval("b (epochs ~ depth^b)", func(m []float64) float64 { return stats.Slope(x, m) })
	var parts []string
	for i, d := range depths {
		parts = append(parts, fmt.Sprintf("%d: %s", d, cells[i].text()))
	}
	detail := fmt.Sprintf("%s: epochs to 20%% by depth %s", name, strings.Join(parts, "; "))
	if flat {
		c.decide(iv, atMost(flatElasticity), "%s; does not slow down with depth", detail)
		return
	}
	// Runs that fail at the largest depth are the strongest form of
	// slowing down; where they fail even at the smallest, the slope of
	// runs held at the cap says nothing, so failure decides first.
	if last := cells[len(cells)-1]; last.runs > 0 {
		lo, hi := stats.Wilson(last.reached, last.runs)
		if hi < 0.5 {
			c.decide(report.Interval{Statistic: fmt.Sprintf("fraction of runs reaching 20%% at depth %d", depths[len(depths)-1]),
				Estimate: num.Number(float64(last.reached) / float64(last.runs)), Lo: num.Number(lo), Hi: num.Number(hi),
				Runs: last.runs, Method: "runs (Wilson interval)"}, atMost(0.5), "%s; fails to start at the largest depth", detail)
			return
		}
	}
	c.decide(iv, atLeast(flatElasticity), "%s; slows down with depth", detail)
}

// pointDecision is one point's interval and the band it must lie in, for a
// condition over several points.
type pointDecision struct {
	name  string
	iv    report.Interval
	holds band
}

// decideAll records one condition over several points: it fails if some
// point's interval lies wholly outside its band, is undecided if none does
// but some straddles, and passes if every interval lies inside. The finding
// carries the deciding point's interval (the first failing, else the first
// undecided, else the one nearest its band's edge) and counts the others.
func (c *check) decideAll(what string, points []pointDecision) {
	if len(points) == 0 {
		c.cannot("%s: no points", what)
		return
	}
	var failed, undecided, passed []int
	nearest, room := 0, math.Inf(1)
	for i, p := range points {
		lo, hi := float64(p.iv.Lo), float64(p.iv.Hi)
		switch {
		case math.IsNaN(lo) || math.IsNaN(hi):
			undecided = append(undecided, i)
		case !math.IsNaN(p.holds.must) && (lo > p.holds.must || hi < p.holds.must):
			failed = append(failed, i)
		case p.holds.lo <= lo && hi <= p.holds.hi:
			passed = append(passed, i)
			if r := math.Min(lo-p.holds.lo, p.holds.hi-hi); r < room {
				nearest, room = i, r
			}
		case hi < p.holds.lo || lo > p.holds.hi:
			failed = append(failed, i)
		default:
			undecided = append(undecided, i)
		}
	}
	pick := nearest
	switch {
	case len(failed) > 0:
		pick = failed[0]
	case len(undecided) > 0:
		pick = undecided[0]
	}
	names := func(is []int) string {
		var s []string
		for _, i := range is {
			s = append(s, points[i].name)
		}
		return strings.Join(s, ", ")
	}
	summary := fmt.Sprintf("%s: %d of %d points inside", what, len(passed), len(points))
	if len(failed) > 0 {
		summary += fmt.Sprintf(", outside at %s", names(failed))
	}
	if len(undecided) > 0 {
		summary += fmt.Sprintf(", undecided at %s", names(undecided))
	}
	p := points[pick]
	c.decide(p.iv, p.holds, "%s; deciding point %s", summary, p.name)
}

// normalInterval is an estimate ± z se as a report.Interval.
func normalInterval(statistic string, est, se, z float64, runs int, method string) report.Interval {
	return report.Interval{Statistic: statistic, Estimate: num.Number(est), Lo: num.Number(est - z*se), Hi: num.Number(est + z*se),
		Runs: runs, Method: method}
}
