package reproduce

import (
	"fmt"
	"math"

	"github.com/initscope/initscope/report"
	"github.com/initscope/initscope/stats"
)

// Claim is one of the paper's claims, checked by code against the results.
type Claim struct {
	// Figure is the figure (fig1) and Panel the panel (fig1a).
	Figure string `json:"figure"`
	Panel  string `json:"panel"`
	// Title names the panel; Statement is the claim in words.
	Title     string `json:"title"`
	Statement string `json:"claim"`
	// Criterion is the check, in words, with its thresholds.
	Criterion string `json:"criterion"`
	// Verdict is the outcome: held when every condition was met, did not
	// hold when one failed, inconclusive when none failed but one's
	// interval straddles its threshold, not checked when results are
	// missing or the grid has too few points for the criterion.
	Verdict report.Verdict `json:"verdict"`
	// Measured are the findings the verdict rests on, one per line: each
	// condition of the criterion (passed, failed, or unchecked) and notes.
	Measured []report.Finding `json:"measured"`
}

// check accumulates the conditions of a claim's criterion.
type check struct {
	claim    Claim
	measured []report.Finding
}

// newCheck starts checking a claim.
func newCheck(fig, panel, title, statement, criterion string) *check {
	return &check{claim: Claim{Figure: fig, Panel: panel, Title: title, Statement: statement, Criterion: criterion}}
}

// add records a finding.
func (c *check) add(kind report.FindingKind, format string, a ...any) {
	c.measured = append(c.measured, report.Finding{Kind: kind, Text: fmt.Sprintf(format, a...)})
}

// note records a finding that is not a condition.
func (c *check) note(format string, a ...any) { c.add(report.Note, format, a...) }

// cond records a condition and whether it was met.
func (c *check) cond(ok bool, format string, a ...any) {
	kind := report.Passed
	if !ok {
		kind = report.Failed
	}
	c.add(kind, format, a...)
}

// cannot records a condition that could not be evaluated.
func (c *check) cannot(format string, a ...any) { c.add(report.Unchecked, format, a...) }

// done returns the claim with its verdict. missing is the number of the
// claim's tasks without a result: any makes the verdict NotChecked.
func (c *check) done(missing int) Claim {
	if missing > 0 {
		c.cannot("%d of the tasks behind this claim have no result yet (not run, or failed): the verdict waits for them", missing)
	}
	cl := c.claim
	cl.Measured = c.measured
	cl.Verdict = verdictOf(c.measured)
	return cl
}

// band is the range of a statistic in which a condition holds; an end at
// ±Inf makes it one-sided. A band made by around also names a value the
// interval must contain (an exact prediction): an interval that excludes
// it fails the condition however narrow it is.
type band struct {
	lo, hi float64
	// must is the value the interval must contain; NaN for none.
	must float64
}

// atMost is the band (-Inf, x]; atLeast [x, +Inf); between [a, b].
func atMost(x float64) band     { return band{math.Inf(-1), x, math.NaN()} }
func atLeast(x float64) band    { return band{x, math.Inf(1), math.NaN()} }
func between(a, b float64) band { return band{a, b, math.NaN()} }

// around is the band of an exact prediction v: the interval must contain
// v (else the prediction is contradicted) and lie within [v/f, v*f] (else
// it is too wide to confirm it to within a factor f), for a positive v; for
// a value on a log scale, around(v, d, true) uses [v-d, v+d].
func around(v, f float64, additive bool) band {
	if additive {
		return band{v - f, v + f, v}
	}
	return band{v / f, v * f, v}
}

// String writes the band for the report: "<= 0.15", ">= 0.5", "in [-1, 1]".
func (b band) String() string {
	switch {
	case !math.IsNaN(b.must):
		return fmt.Sprintf("containing %.3g, within [%.3g, %.3g]", b.must, b.lo, b.hi)
	case math.IsInf(b.lo, -1):
		return fmt.Sprintf("<= %.3g", b.hi)
	case math.IsInf(b.hi, 1):
		return fmt.Sprintf(">= %.3g", b.lo)
	}
	return fmt.Sprintf("in [%.3g, %.3g]", b.lo, b.hi)
}

// maxNeeded caps the runs an undecided condition is said to need.
const maxNeeded = 100000

// decide records a condition decided from a confidence interval: passed
// when the interval [Lo, Hi] lies inside the band, failed when it lies
// wholly outside, undecided when it straddles an edge (then the finding
// says about how many runs would decide it). The caller fills the
// interval's statistic, estimate, ends, runs and method; an interval with an
// unknown end cannot be decided and is recorded as unchecked.
func (c *check) decide(iv report.Interval, holds band, format string, a ...any) {
	iv.Level, iv.Holds = stats.Level, holds.String()
	lo, hi, est := float64(iv.Lo), float64(iv.Hi), float64(iv.Estimate)
	text := fmt.Sprintf(format, a...)
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsNaN(est) {
		c.measured = append(c.measured, report.Finding{Kind: report.Unchecked, Interval: &iv,
			Text: fmt.Sprintf("%s; %s: no interval (too few runs or values)", text, iv.Statistic)})
		return
	}
	kind := report.Undecided
	switch {
	case !math.IsNaN(holds.must) && (lo > holds.must || hi < holds.must):
		kind = report.Failed
	case holds.lo <= lo && hi <= holds.hi:
		kind = report.Passed
	case hi < holds.lo || lo > holds.hi:
		kind = report.Failed
	default:
		iv.Needed = needed(iv.Runs, est, lo, hi, holds)
	}
	text = fmt.Sprintf("%s; %s = %s, %g%% interval [%s, %s] over %d %s (must be %s)", text, iv.Statistic,
		fmtStat(est), 100*iv.Level, fmtStat(lo), fmtStat(hi), iv.Runs, iv.Method, iv.Holds)
	switch {
	case iv.Needed > 0 && iv.Needed < maxNeeded:
		text += fmt.Sprintf(": about %d runs would decide it", iv.Needed)
	case iv.Needed >= maxNeeded:
		text += fmt.Sprintf(": more than %d runs would be needed to decide it", maxNeeded)
	case iv.Needed < 0:
		text += ": the estimate sits on the threshold, more runs are not predicted to decide it"
	}
	c.measured = append(c.measured, report.Finding{Kind: kind, Text: text, Interval: &iv})
}

// needed estimates the runs at which an interval that straddles an edge of
// the band would clear it, if its width shrank as 1/sqrt(runs) around the
// same estimate: -1 (or maxNeeded) when the estimate is on the edge.
func needed(runs int, est, lo, hi float64, b band) int {
	var half, room float64
	switch {
	case lo < b.lo && b.lo <= hi: // straddles the lower edge
		if est >= b.lo {
			half, room = est-lo, est-b.lo
		} else {
			half, room = hi-est, b.lo-est
		}
	default: // straddles the upper edge
		if est <= b.hi {
			half, room = hi-est, b.hi-est
		} else {
			half, room = est-lo, est-b.hi
		}
	}
	if room <= 0 || runs < 1 {
		return -1
	}
	n := float64(runs) * (half / room) * (half / room)
	if !(n < maxNeeded) {
		return maxNeeded
	}
	return int(math.Ceil(n))
}

// fmtStat writes a statistic for the report (±Inf as such).
func fmtStat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	return fmt.Sprintf("%.3g", v)
}

// verdictOf decides a claim from its findings: any unchecked condition
// makes it not checked; else any failed one, did not hold; else any
// undecided one, inconclusive; else held.
func verdictOf(fs []report.Finding) report.Verdict {
	has := map[report.FindingKind]bool{}
	for _, f := range fs {
		has[f.Kind] = true
	}
	switch {
	case has[report.Unchecked]:
		return report.NotChecked
	case has[report.Failed]:
		return report.NotHeld
	case has[report.Undecided]:
		return report.Inconclusive
	}
	return report.Held
}
