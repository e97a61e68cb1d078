package report

import (
	"fmt"

	"github.com/initscope/initscope/num"
)

// Verdict is the outcome of checking a claim against measurements. It is
// written (in text, JSON and HTML) as "not checked", "held", "did not
// hold" or "inconclusive".
type Verdict int

// The verdicts.
const (
	// NotChecked: the check could not be made (results missing, too few
	// points for the criterion).
	NotChecked Verdict = iota
	// Held: every condition of the criterion was met.
	Held
	// NotHeld: some condition failed; the findings say which.
	NotHeld
	// Inconclusive: no condition failed, but the interval of some
	// condition straddles its threshold: more runs would decide it (the
	// finding says how many).
	Inconclusive
)

// verdictNames are the verdicts' written forms.
var verdictNames = []string{NotChecked: "not checked", Held: "held", NotHeld: "did not hold", Inconclusive: "inconclusive"}

// String returns the verdict's written form.
func (v Verdict) String() string { return nameOf(verdictNames, int(v), "verdict") }

// MarshalText writes the verdict's written form.
func (v Verdict) MarshalText() ([]byte, error) { return marshalName(verdictNames, int(v), "verdict") }

// UnmarshalText reads a verdict's written form.
func (v *Verdict) UnmarshalText(b []byte) error {
	i, err := unmarshalName(verdictNames, b, "verdict")
	*v = Verdict(i)
	return err
}

// FindingKind says what a finding of a check is.
type FindingKind int

// The kinds of findings.
const (
	// Note is a measured fact that is not a condition of the criterion.
	Note FindingKind = iota
	// Passed is a condition of the criterion that was met.
	Passed
	// Failed is a condition of the criterion that was not met.
	Failed
	// Unchecked is a condition that could not be evaluated, or a reason the
	// check could not be made.
	Unchecked
	// Undecided is a condition whose confidence interval straddles its
	// threshold.
	Undecided
)

// findingNames are the kinds' written forms.
var findingNames = []string{Note: "note", Passed: "passed", Failed: "failed", Unchecked: "unchecked", Undecided: "inconclusive"}

// String returns the kind's written form.
func (k FindingKind) String() string { return nameOf(findingNames, int(k), "finding kind") }

// MarshalText writes the kind's written form.
func (k FindingKind) MarshalText() ([]byte, error) {
	return marshalName(findingNames, int(k), "finding kind")
}

// UnmarshalText reads a kind's written form.
func (k *FindingKind) UnmarshalText(b []byte) error {
	i, err := unmarshalName(findingNames, b, "finding kind")
	*k = FindingKind(i)
	return err
}

// Finding is one measured line of a check: what was found, in words and
// numbers, and what it means for the verdict.
type Finding struct {
	Kind FindingKind `json:"kind"`
	Text string      `json:"text"`
	// Interval is the confidence interval a condition was decided on; nil
	// for notes and for conditions decided without one.
	Interval *Interval `json:"interval,omitempty"`
}

// Interval is the confidence interval of the statistic a condition is
// decided on, with what it rests on.
type Interval struct {
	// Statistic names what is estimated.
	Statistic string `json:"statistic"`
	// Estimate is the point estimate, Lo and Hi the interval's ends.
	Estimate num.Number `json:"estimate"`
	Lo       num.Number `json:"lo"`
	Hi       num.Number `json:"hi"`
	// Level is the confidence level (0.95).
	Level float64 `json:"level"`
	// Holds is where the statistic must lie for the condition to hold, in
	// words ("<= 0.15", "in [-1, 1]").
	Holds string `json:"holds"`
	// Runs is the number of independent units behind the interval (paired
	// seeds, networks, initializations) and Method how it was computed.
	Runs   int    `json:"runs"`
	Method string `json:"method"`
	// Needed is, for an undecided condition, about how many units would
	// make the interval narrow enough to decide it if the estimate stayed
	// where it is (-1 when the estimate sits on the threshold, so no
	// number of runs is predicted to decide it); 0 otherwise.
	Needed int `json:"runs_needed,omitempty"`
}

// nameOf returns the written form of value i of an enumeration.
func nameOf(names []string, i int, what string) string {
	if i < 0 || i >= len(names) {
		return fmt.Sprintf("%s(%d)", what, i)
	}
	return names[i]
}

// marshalName writes value i of an enumeration, failing outside it.
func marshalName(names []string, i int, what string) ([]byte, error) {
	if i < 0 || i >= len(names) {
		return nil, fmt.Errorf("%s %d: no such value", what, i)
	}
	return []byte(names[i]), nil
}

// unmarshalName reads a written form of an enumeration.
func unmarshalName(names []string, b []byte, what string) (int, error) {
	for i, n := range names {
		if n == string(b) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%s %q: want one of %q", what, b, names)
}
