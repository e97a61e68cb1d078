package experiment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/initscope/initscope/limits"
	"go.yaml.in/yaml/v3"
)

// Sweep is the declarative description of a grid of tasks, read from a sweep
// file (YAML or JSON):
//
//	name: fig1-depth
//	kinds: [predict, train]
//	fixed: {data: mnist, epochs: 10, target: 0.2}
//	axes:
//	  - {name: init, values: [he-normal, lecun-normal, glorot-normal]}
//	  - {name: depth, values: [10, 20, 40]}
//	  - {name: run, range: [0, 5]}
//	derived:
//	  width: "{depth}"
//	  arch: "fc:784-{depth}x{depth}-10"   # derived params use axes and fixed ones only
//	labels: [depth, width, run]           # params no kind reads, kept to group the results
//
// The tasks are the Cartesian product of the kinds and the axes, each point
// carrying the fixed params, its axis values and the derived params.
// ParseSweep checks the file's form; Validate checks it against the kinds of
// task a runner knows.
type Sweep struct {
	// Name names the sweep (Slurm job names, reports). It is not part of the
	// task ids, so sweeps that share tasks share results.
	Name string `json:"name" yaml:"name"`
	// Description is free text for people.
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Kinds are the measurements made at every grid point.
	Kinds []string `json:"kinds" yaml:"kinds"`
	// Fixed params are the same for every task.
	Fixed map[string]any `json:"fixed,omitempty" yaml:"fixed,omitempty"`
	// Axes are multiplied out in order, the last varying fastest.
	Axes []Axis `json:"axes,omitempty" yaml:"axes,omitempty"`
	// Derived params are templates filled from the axis and fixed params:
	// "{depth}" alone copies that value (a number stays a number); in any
	// other text each {name} is replaced by the value's text, and "{{" and
	// "}}" stand for literal braces. Derived params cannot refer to each
	// other.
	Derived map[string]string `json:"derived,omitempty" yaml:"derived,omitempty"`
	// Labels are params of the sweep that no kind of task reads: they are
	// kept with each task and its results (and so are part of its id), for
	// grouping them. Validate rejects any other param that no kind reads, so
	// that a misspelled param is an error, not a label.
	Labels []string `json:"labels,omitempty" yaml:"labels,omitempty"`
}

// Axis is one factor of the grid, in one of three forms:
//
//	{name: depth, values: [10, 20, 40]}        one param, listed values
//	{name: run, range: [0, 5]}                 one param, integers start <= i < stop
//	{name: run, range: [0, 10, 2]}             ... with a step
//	{zip: {depth: [10, 20], width: [64, 32]}}  params that vary together
type Axis struct {
	// Name is the param the axis sets (values and range forms).
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// Values are the axis's values: strings, numbers or booleans.
	Values []any `json:"values,omitempty" yaml:"values,omitempty"`
	// Range is [start, stop] or [start, stop, step]: the integers from
	// start up to but excluding stop, as in Python's range. A sweep file
	// writes them as integers: 2.0 is not one, as in Python.
	Range []int `json:"range,omitempty" yaml:"range,omitempty"`
	// Zip maps several params to lists of one length: point i of the axis
	// takes element i of every list.
	Zip map[string][]any `json:"zip,omitempty" yaml:"zip,omitempty"`
}

// axisFile is an axis as a sweep file writes it, its range bounds kept as
// written until they are checked to be integers.
type axisFile[T any] struct {
	Name   string           `json:"name,omitempty" yaml:"name,omitempty"`
	Values []any            `json:"values,omitempty" yaml:"values,omitempty"`
	Range  []T              `json:"range,omitempty" yaml:"range,omitempty"`
	Zip    map[string][]any `json:"zip,omitempty" yaml:"zip,omitempty"`
}

// axis returns the axis with the range bounds that bound reads from their
// text in the file.
func (f axisFile[T]) axis(bound func(T) (int, error)) (Axis, error) {
	a := Axis{Name: f.Name, Values: f.Values, Zip: f.Zip}
	if f.Range != nil {
		a.Range = make([]int, len(f.Range))
	}
	for i, b := range f.Range {
		v, err := bound(b)
		if err != nil {
			return Axis{}, fmt.Errorf("axis %q: range %v", f.Name, err)
		}
		a.Range[i] = v
	}
	return a, nil
}

// notInteger is the error about a range bound that is not an integer.
func notInteger(text string) error {
	return fmt.Errorf("value %s: want an integer from %d to %d, written without a decimal point or exponent (2, not 2.0)",
		text, math.MinInt, math.MaxInt)
}

// UnmarshalJSON reads an axis from a sweep file, rejecting unknown fields
// and range bounds that are not integers.
func (a *Axis) UnmarshalJSON(b []byte) error {
	var f axisFile[json.RawMessage]
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&f); err != nil {
		return err
	}
	ax, err := f.axis(func(raw json.RawMessage) (int, error) {
		text := string(raw)
		if !jsonIntRE.MatchString(text) {
			return 0, notInteger(text)
		}
		v, err := strconv.Atoi(text)
		if err != nil {
			return 0, notInteger(text)
		}
		return v, nil
	})
	if err == nil {
		*a = ax
	}
	return err
}

var jsonIntRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// UnmarshalYAML reads an axis from a sweep file, rejecting unknown fields
// and range bounds that are not integers.
func (a *Axis) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			switch k := n.Content[i]; k.Value {
			case "name", "values", "range", "zip", "<<":
			default:
				return fmt.Errorf("line %d: axis field %q: want name, values, range or zip", k.Line, k.Value)
			}
		}
	}
	var f axisFile[yaml.Node]
	if err := n.Decode(&f); err != nil {
		return err
	}
	ax, err := f.axis(func(b yaml.Node) (int, error) {
		var v int
		if b.Kind == yaml.AliasNode && b.Alias != nil {
			b = *b.Alias
		}
		if b.Kind != yaml.ScalarNode {
			return 0, notInteger("(a list or a map)")
		}
		if b.ShortTag() != "!!int" || b.Decode(&v) != nil {
			return 0, notInteger(b.Value)
		}
		return v, nil
	})
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*a = ax
	return nil
}

// MaxTasks bounds the size of a grid, to catch a sweep file that multiplies
// out to more than anyone meant to run.
const MaxTasks = 1 << 20

var sweepNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// MaxSweepBytes bounds the size of a sweep file (16 MiB): a sweep is a
// few lines of YAML or JSON, so a larger file is refused unread.
const MaxSweepBytes = 16 << 20

// LoadSweep reads a sweep file, a regular file of at most MaxSweepBytes;
// errors name the file.
func LoadSweep(path string) (*Sweep, error) {
	b, err := limits.ReadFile(path, MaxSweepBytes)
	if err != nil {
		return nil, err
	}
	s, err := ParseSweep(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ParseSweep reads a sweep from JSON (text starting with '{') or YAML,
// rejecting unknown fields, and validates it.
func ParseSweep(b []byte) (*Sweep, error) {
	var s Sweep
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
		d := json.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields()
		if err := d.Decode(&s); err != nil {
			return nil, fmt.Errorf("sweep JSON: %v", err)
		}
	} else {
		d := yaml.NewDecoder(bytes.NewReader(b))
		d.KnownFields(true)
		if err := d.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
			var te *yaml.TypeError
			if errors.As(err, &te) {
				return nil, fmt.Errorf("sweep YAML: %s", strings.Join(te.Errors, "; "))
			}
			return nil, fmt.Errorf("sweep YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
	}
	if _, err := s.plan(); err != nil {
		return nil, err
	}
	return &s, nil
}

// point is one grid point of one axis: the params it sets.
type point map[string]any

// grid is a sweep's plan: each axis's points, normalized, and the part of
// the file that sets each param ("fixed", "axes[2]", "derived").
type grid struct {
	axes  [][]point
	where map[string]string
}

// plan validates the sweep and returns its grid.
func (s *Sweep) plan() (*grid, error) {
	if !sweepNameRE.MatchString(s.Name) {
		return nil, fmt.Errorf("sweep name %q: want a non-empty name of letters, digits, '_', '.' or '-'", s.Name)
	}
	fail := func(format string, a ...any) error {
		return fmt.Errorf("sweep %s: "+format, append([]any{s.Name}, a...)...)
	}
	if len(s.Kinds) == 0 {
		return nil, fail("kinds: list at least one kind of measurement, e.g. kinds: [train]")
	}
	kinds := map[string]bool{}
	for _, k := range s.Kinds {
		if !kindRE.MatchString(k) {
			return nil, fail("kinds: %q: want letters, digits, '_', '.' or '-'", k)
		}
		if kinds[k] {
			return nil, fail("kinds: %q is listed twice", k)
		}
		kinds[k] = true
	}
	// where records which part of the file sets each param.
	where := map[string]string{}
	claim := func(name, part string) error {
		if !paramNameRE.MatchString(name) {
			return fmt.Errorf("param name %q: want a letter or '_' followed by letters, digits, '_', '.' or '-'", name)
		}
		if prev, ok := where[name]; ok {
			return fmt.Errorf("param %q is already set by %s", name, prev)
		}
		where[name] = part
		return nil
	}
	for _, name := range sortedKeys(s.Fixed) {
		if err := claim(name, "fixed"); err != nil {
			return nil, fail("fixed: %v", err)
		}
		if _, err := normalize(s.Fixed[name]); err != nil {
			return nil, fail("fixed %q: %v", name, err)
		}
	}
	axes := make([][]point, len(s.Axes))
	total := len(s.Kinds)
	for i, a := range s.Axes {
		part := fmt.Sprintf("axes[%d]", i)
		pts, err := a.points(func(name string) error { return claim(name, part) })
		if err != nil {
			return nil, fail("%s: %v", part, err)
		}
		axes[i] = pts
		if total > MaxTasks/len(pts) { // total*len(pts) > MaxTasks, without overflow
			return nil, fail("the grid has more than %d tasks: split the sweep", MaxTasks)
		}
		total *= len(pts)
	}
	derived := map[string]bool{}
	for _, name := range sortedKeys(s.Derived) {
		if err := claim(name, "derived"); err != nil {
			return nil, fail("derived: %v", err)
		}
		derived[name] = true
	}
	for _, name := range sortedKeys(s.Derived) {
		refs, err := placeholders(s.Derived[name])
		if err != nil {
			return nil, fail("derived %q: %v", name, err)
		}
		for _, r := range refs {
			if derived[r] {
				return nil, fail("derived %q: {%s} is itself derived: derived params can only use axes and fixed params", name, r)
			}
			if _, ok := where[r]; !ok {
				return nil, fail("derived %q: {%s} is not an axis or fixed param", name, r)
			}
		}
	}
	labels := map[string]bool{}
	for _, name := range s.Labels {
		if _, ok := where[name]; !ok {
			return nil, fail("labels: %q is not a param of the sweep: a label must be set by fixed, axes or derived", name)
		}
		if labels[name] {
			return nil, fail("labels: %q is listed twice", name)
		}
		labels[name] = true
	}
	return &grid{axes: axes, where: where}, nil
}

// points validates the axis and returns its points; claim registers each
// param name the axis sets.
func (a Axis) points(claim func(string) error) ([]point, error) {
	forms := 0
	for _, set := range []bool{a.Values != nil, a.Range != nil, a.Zip != nil} {
		if set {
			forms++
		}
	}
	if forms != 1 {
		return nil, errors.New("give exactly one of values, range or zip")
	}
	if a.Zip != nil {
		if a.Name != "" {
			return nil, errors.New("a zip axis names its params inside zip, not with name")
		}
		return zipPoints(a.Zip, claim, false)
	}
	if err := claim(a.Name); err != nil {
		return nil, err
	}
	values := a.Values
	if a.Range != nil {
		var err error
		if values, err = rangeValues(a.Range); err != nil {
			return nil, fmt.Errorf("%s: %v", a.Name, err)
		}
	}
	// A range's values are distinct: they need no check.
	return zipPoints(map[string][]any{a.Name: values}, func(string) error { return nil }, a.Range != nil)
}

// zipPoints returns point i of each list, all lists being one length. Unless
// distinct says they are, it checks that the points are.
func zipPoints(lists map[string][]any, claim func(string) error, distinct bool) ([]point, error) {
	names := sortedKeys(lists)
	if len(names) == 0 {
		return nil, errors.New("zip: name at least one param")
	}
	n := len(lists[names[0]])
	for _, name := range names {
		if err := claim(name); err != nil {
			return nil, err
		}
		if len(lists[name]) == 0 {
			return nil, fmt.Errorf("%s: no values", name)
		}
		if len(lists[name]) != n {
			return nil, fmt.Errorf("zip: %s has %d values but %s has %d: zipped lists must have one length",
				names[0], n, name, len(lists[name]))
		}
	}
	pts := make([]point, n)
	seen := map[string]int{}
	for i := range pts {
		pts[i] = point{}
		for _, name := range names {
			v, err := normalize(lists[name][i])
			if err != nil {
				return nil, fmt.Errorf("%s[%d]: %v", name, i, err)
			}
			pts[i][name] = v
		}
		if distinct {
			continue
		}
		key, _ := json.Marshal(pts[i]) // cannot fail: values are normalized
		if j, dup := seen[string(key)]; dup {
			return nil, fmt.Errorf("values %d and %d are the same (%s): list each once", j, i, key)
		}
		seen[string(key)] = i
	}
	return pts, nil
}

// rangeValues expands [start, stop] or [start, stop, step]. Its arithmetic
// cannot overflow, whatever the bounds.
func rangeValues(r []int) ([]any, error) {
	if len(r) != 2 && len(r) != 3 {
		return nil, fmt.Errorf("range %v: want [start, stop] or [start, stop, step]", r)
	}
	start, stop, step := r[0], r[1], 1
	if len(r) == 3 {
		step = r[2]
	}
	if step <= 0 || stop <= start {
		return nil, fmt.Errorf("range %v: want start < stop and step >= 1", r)
	}
	// stop - start is in [1, 2^64 - 1]: exact in uint64. So is the count,
	// ceil(span / step).
	span, ustep := uint64(stop)-uint64(start), uint64(step)
	n := span / ustep
	if span%ustep != 0 {
		n++
	}
	if n > MaxTasks {
		return nil, fmt.Errorf("range %v: %d values, more than the %d a grid may have", r, n, MaxTasks)
	}
	// The last value, start + (n-1)*step < stop, fits; so does the sum
	// modulo 2^64 (what uint64 arithmetic gives), which equals it.
	if last := int(uint64(start) + (n-1)*ustep); start < -maxExactInt || last > maxExactInt {
		return nil, fmt.Errorf("range %v: values from %d to %d: want values within ±2^53, which a param keeps exactly", r, start, last)
	}
	vs := make([]any, n)
	for k := range vs {
		vs[k] = start + k*step // within ±2^53, as start and last are
	}
	return vs, nil
}

// Expand returns the sweep's tasks in a deterministic order: kinds in the
// order listed, then the axes as nested loops, the last axis innermost. The
// tasks are distinct, since kinds and each axis's points are (repeats are
// errors) and no two parts of the file set the same param.
func (s *Sweep) Expand() ([]Task, error) {
	g, err := s.plan()
	if err != nil {
		return nil, err
	}
	axes := g.axes
	fixed := make(Params, len(s.Fixed))
	for name, v := range s.Fixed {
		fixed[name], _ = normalize(v) // cannot fail: plan checked every value
	}
	var tasks []Task
	idx := make([]int, len(axes))
	for _, kind := range s.Kinds {
		for {
			params := make(Params, len(fixed)+len(axes)+len(s.Derived))
			for name, v := range fixed {
				params[name] = v
			}
			for i, pts := range axes {
				for name, v := range pts[idx[i]] {
					params[name] = v
				}
			}
			// Derived templates only read axis and fixed params (plan
			// checked), so filling them in place is safe.
			for name, tmpl := range s.Derived {
				params[name], _ = fill(tmpl, params) // cannot fail: plan checked the templates
			}
			t, err := NewTask(kind, params)
			if err != nil {
				return nil, fmt.Errorf("sweep %s: %v", s.Name, err)
			}
			tasks = append(tasks, t)
			if !next(idx, axes) {
				break
			}
		}
	}
	return tasks, nil
}

// Kind describes a kind of task to Validate: what its runner reads.
type Kind struct {
	// Params names the params the kind reads.
	Params []string
	// Check, if not nil, checks a task of the kind as far as that can be
	// done before running it: the types and values of the params it reads,
	// and that the required ones are set. Its errors name the param.
	Check func(Task) error
}

// Validate checks the sweep against the kinds of task a runner knows, so
// that a sweep that cannot run fails before any of it runs or is sent to a
// cluster: every kind must be one of kinds; every param must be read by at
// least one of the sweep's kinds (a sweep may mix kinds, each ignoring the
// others' params) or be listed in Labels, and no label may be read by one;
// and each task must pass its kind's Check.
func (s *Sweep) Validate(kinds map[string]Kind) error {
	g, err := s.plan()
	if err != nil {
		return err
	}
	readers := map[string][]string{} // param -> the sweep's kinds that read it
	var reads []string               // "KIND reads A, B, C" for each kind
	for _, k := range s.Kinds {
		spec, ok := kinds[k]
		if !ok {
			return fmt.Errorf("sweep %s: kinds: %q is not a kind of task: want %s", s.Name, k, strings.Join(sortedKeys(kinds), ", "))
		}
		for _, p := range spec.Params {
			readers[p] = append(readers[p], k)
		}
		names := append([]string(nil), spec.Params...)
		sort.Strings(names)
		reads = append(reads, k+" reads "+strings.Join(names, ", "))
	}
	for _, name := range s.Labels {
		if r := readers[name]; r != nil {
			return fmt.Errorf("sweep %s: labels: %q is a param that %s tasks read, not a label: remove it from labels", s.Name, name, strings.Join(r, " and "))
		}
	}
	for _, name := range sortedKeys(g.where) {
		if readers[name] == nil && !slices.Contains(s.Labels, name) {
			return fmt.Errorf("sweep %s: %s: param %q is read by no kind of task of the sweep (%s); if it only labels the results, list it in labels",
				s.Name, g.where[name], name, strings.Join(reads, "; "))
		}
	}
	tasks, err := s.Expand()
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if check := kinds[t.Kind].Check; check != nil {
			if err := check(t); err != nil {
				return fmt.Errorf("sweep %s: task %s: %v", s.Name, t, err)
			}
		}
	}
	return nil
}

// next advances the mixed-radix counter idx (last digit fastest) and reports
// false when it wraps around to all zeros.
func next(idx []int, axes [][]point) bool {
	for i := len(idx) - 1; i >= 0; i-- {
		idx[i]++
		if idx[i] < len(axes[i]) {
			return true
		}
		idx[i] = 0
	}
	return false
}

// scanTemplate walks a template, calling lit for literal text and ref for
// each {name}.
func scanTemplate(tmpl string, lit func(string), ref func(string)) error {
	for i := 0; i < len(tmpl); {
		switch {
		case strings.HasPrefix(tmpl[i:], "{{"):
			lit("{")
			i += 2
		case strings.HasPrefix(tmpl[i:], "}}"):
			lit("}")
			i += 2
		case tmpl[i] == '{':
			end := strings.IndexByte(tmpl[i:], '}')
			if end < 0 {
				return fmt.Errorf("template %q: '{' at %d is not closed (write {{ for a literal brace)", tmpl, i)
			}
			name := tmpl[i+1 : i+end]
			if !paramNameRE.MatchString(name) {
				return fmt.Errorf("template %q: {%s} is not a param name (write {{ for a literal brace)", tmpl, name)
			}
			ref(name)
			i += end + 1
		case tmpl[i] == '}':
			return fmt.Errorf("template %q: '}' at %d has no '{' (write }} for a literal brace)", tmpl, i)
		default:
			lit(tmpl[i : i+1])
			i++
		}
	}
	return nil
}

// placeholders returns the names a template refers to.
func placeholders(tmpl string) ([]string, error) {
	var refs []string
	err := scanTemplate(tmpl, func(string) {}, func(name string) { refs = append(refs, name) })
	return refs, err
}

// fill expands a template with the given values. A template that is a
// single placeholder yields the value itself, keeping its type.
func fill(tmpl string, vals Params) (any, error) {
	var b strings.Builder
	var refs []string
	err := scanTemplate(tmpl, func(s string) { b.WriteString(s) }, func(name string) {
		refs = append(refs, name)
		b.WriteString(formatValue(vals[name]))
	})
	if err != nil {
		return nil, err
	}
	if len(refs) == 1 && tmpl == "{"+refs[0]+"}" {
		return vals[refs[0]], nil
	}
	return b.String(), nil
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
