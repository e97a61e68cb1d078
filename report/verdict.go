package report

import "fmt"

// Verdict is the outcome of checking a claim against measurements. It is
// written (in text, JSON and HTML) as "not checked", "held" or "did not
// hold".
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
)

// verdictNames are the verdicts' written forms.
var verdictNames = []string{NotChecked: "not checked", Held: "held", NotHeld: "did not hold"}

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
)

// findingNames are the kinds' written forms.
var findingNames = []string{Note: "note", Passed: "passed", Failed: "failed", Unchecked: "unchecked"}

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
