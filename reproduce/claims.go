package reproduce

import (
	"fmt"

	"github.com/initscope/initscope/report"
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
	// Verdict is the outcome: held when every condition was met, not held
	// when one failed, not checked when results are missing or the grid
	// has too few points for the criterion.
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
	cl.Verdict = report.Held
	for _, f := range c.measured {
		switch {
		case f.Kind == report.Unchecked:
			cl.Verdict = report.NotChecked
		case f.Kind == report.Failed && cl.Verdict == report.Held:
			cl.Verdict = report.NotHeld
		}
	}
	return cl
}
