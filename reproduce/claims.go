package reproduce

import "fmt"

// Verdict is the outcome of checking one of the paper's claims.
type Verdict string

// The verdicts.
const (
	// Held: every condition of the criterion was met.
	Held Verdict = "held"
	// NotHeld: some condition failed; the measured lines say which.
	NotHeld Verdict = "did not hold"
	// NotChecked: results are missing (tasks not run yet or failed), or
	// the grid has too few points for the criterion.
	NotChecked Verdict = "not checked"
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
	// Verdict is the outcome.
	Verdict Verdict `json:"verdict"`
	// Measured are the numbers the verdict rests on, one finding per line;
	// failed conditions start with "FAILED:".
	Measured []string `json:"measured"`
}

// check accumulates the conditions of a claim's criterion.
type check struct {
	claim    Claim
	failed   int
	unknown  int
	measured []string
}

// newCheck starts checking a claim.
func newCheck(fig, panel, title, statement, criterion string) *check {
	return &check{claim: Claim{Figure: fig, Panel: panel, Title: title, Statement: statement, Criterion: criterion}}
}

// note records a finding that is not a condition.
func (c *check) note(format string, a ...any) {
	c.measured = append(c.measured, fmt.Sprintf(format, a...))
}

// cond records a condition and whether it was met.
func (c *check) cond(ok bool, format string, a ...any) {
	s := fmt.Sprintf(format, a...)
	if !ok {
		c.failed++
		s = "FAILED: " + s
	}
	c.measured = append(c.measured, s)
}

// cannot records a condition that could not be evaluated.
func (c *check) cannot(format string, a ...any) {
	c.unknown++
	c.measured = append(c.measured, "NOT CHECKED: "+fmt.Sprintf(format, a...))
}

// done returns the claim with its verdict. missing is the number of the
// claim's tasks without a result: any makes the verdict NotChecked.
func (c *check) done(missing int) Claim {
	cl := c.claim
	cl.Measured = c.measured
	switch {
	case missing > 0:
		cl.Verdict = NotChecked
		cl.Measured = append(cl.Measured, fmt.Sprintf("%d of the tasks behind this claim have no result yet (not run, or failed): the verdict waits for them", missing))
	case c.unknown > 0:
		cl.Verdict = NotChecked
	case c.failed > 0:
		cl.Verdict = NotHeld
	default:
		cl.Verdict = Held
	}
	return cl
}
