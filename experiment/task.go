// Package experiment runs sweeps: declarative grids of measurement tasks with
// stable ids, split into shards that any process (a laptop, a Slurm array
// task, a Kubernetes indexed pod) can run, with results appended atomically to
// JSON Lines files so that a killed run resumes where it stopped.
//
// A results directory (see SweepDir) keeps the shards' records beside the
// sweeps run into it; Collect merges them with the sweeps' grid.
//
// The package knows nothing about what a task measures: the caller injects a
// Runner that turns a Task into a JSON result.
package experiment

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Params are a task's parameters: names mapped to strings, numbers or
// booleans. Numbers are held as float64 (as JSON decodes them), so a task read
// back from a results file equals the one that was run.
type Params map[string]any

// Task is one measurement: a kind, such as "predict", "probe" or "train",
// which tells the runner what to do, and the parameters to do it with.
type Task struct {
	// ID is the stable id: the first 16 hex digits of the SHA-256 of the
	// canonical JSON of kind and params. It depends on nothing else, so
	// adding points to a grid never changes the ids of the others.
	ID string `json:"id"`
	// Kind says what to measure.
	Kind string `json:"kind"`
	// Params are the measurement's inputs.
	Params Params `json:"params"`
}

// maxExactInt is the largest integer every float64 below it holds exactly.
const maxExactInt = 1 << 53

var (
	paramNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
	kindRE      = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

// NewTask validates kind and params and returns the task with its id. Param
// values must be strings, booleans or finite numbers (any Go integer or float
// type; integers must not exceed 2^53 in magnitude); they are copied, with
// numbers converted to float64.
func NewTask(kind string, params map[string]any) (Task, error) {
	if !kindRE.MatchString(kind) {
		return Task{}, fmt.Errorf("task kind %q: want letters, digits, '_', '.' or '-'", kind)
	}
	p := make(Params, len(params))
	for name, v := range params {
		if !paramNameRE.MatchString(name) {
			return Task{}, fmt.Errorf("param name %q: want a letter or '_' followed by letters, digits, '_', '.' or '-'", name)
		}
		nv, err := normalize(v)
		if err != nil {
			return Task{}, fmt.Errorf("param %q: %v", name, err)
		}
		p[name] = nv
	}
	canon, err := json.Marshal(struct {
		Kind   string `json:"kind"`
		Params Params `json:"params"`
	}{kind, p}) // encoding/json writes map keys sorted: the form is canonical
	if err != nil {
		return Task{}, fmt.Errorf("task %s: %v", kind, err)
	}
	sum := sha256.Sum256(canon)
	return Task{ID: hex.EncodeToString(sum[:8]), Kind: kind, Params: p}, nil
}

// normalize converts a param value to its canonical Go type: string, bool or
// float64.
func normalize(v any) (any, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return rv.String(), nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i := rv.Int()
		if i > maxExactInt || i < -maxExactInt {
			return nil, fmt.Errorf("integer %d is too large to keep exactly (limit 2^53)", i)
		}
		return float64(i), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > maxExactInt {
			return nil, fmt.Errorf("integer %d is too large to keep exactly (limit 2^53)", u)
		}
		return float64(u), nil
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%v is not a finite number", f)
		}
		return f, nil
	case reflect.Invalid:
		return nil, fmt.Errorf("no value (null): want a string, number or boolean")
	}
	return nil, fmt.Errorf("%v (%T): want a string, number or boolean", v, v)
}

// formatValue writes a canonical param value as text: integers without a
// decimal point or exponent (1000000, not 1e+06), other numbers in the
// shortest form that reads back exactly.
func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		if x == math.Trunc(x) && math.Abs(x) <= maxExactInt {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// String describes the task for logs: its kind, then its params sorted by
// name, e.g. "train depth=10 init=he-normal".
func (t Task) String() string {
	names := make([]string, 0, len(t.Params))
	for n := range t.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(t.Kind)
	for _, n := range names {
		b.WriteString(" " + n + "=" + formatValue(t.Params[n]))
	}
	return b.String()
}

// param returns the named param or an error naming the task.
func (t Task) param(name string) (any, error) {
	v, ok := t.Params[name]
	if !ok {
		return nil, fmt.Errorf("task %s (%s): no param %q", t.ID, t.Kind, name)
	}
	return v, nil
}

// Text returns a string param.
func (t Task) Text(name string) (string, error) {
	v, err := t.param(name)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("task %s (%s): param %q is %v: want a string", t.ID, t.Kind, name, v)
	}
	return s, nil
}

// Float returns a numeric param.
func (t Task) Float(name string) (float64, error) {
	v, err := t.param(name)
	if err != nil {
		return 0, err
	}
	f, ok := v.(float64)
	if !ok {
		return 0, fmt.Errorf("task %s (%s): param %q is %q: want a number", t.ID, t.Kind, name, formatValue(v))
	}
	return f, nil
}

// Int returns an integer param.
func (t Task) Int(name string) (int, error) {
	f, err := t.Float(name)
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || math.Abs(f) > maxExactInt {
		return 0, fmt.Errorf("task %s (%s): param %q is %v: want an integer", t.ID, t.Kind, name, f)
	}
	return int(f), nil
}
