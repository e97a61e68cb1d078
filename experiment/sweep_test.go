package experiment

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestLoadSweepExample(t *testing.T) {
	s, err := LoadSweep("testdata/fig1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := s.Expand()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(tasks), 2*3*3*5; got != want {
		t.Fatalf("%d tasks, want %d", got, want)
	}
	first := "predict arch=fc:784-10x10-10 data=mnist depth=10 epochs=10 init=he-normal lr=0.01 run=0 target=0.2 width=10"
	second := "predict arch=fc:784-10x10-10 data=mnist depth=10 epochs=10 init=he-normal lr=0.01 run=1 target=0.2 width=10"
	last := "train arch=fc:784-40x40-10 data=mnist depth=40 epochs=10 init=glorot-normal lr=0.01 run=4 target=0.2 width=40"
	if tasks[0].String() != first || tasks[1].String() != second || tasks[len(tasks)-1].String() != last {
		t.Errorf("order: first %q, second %q, last %q", tasks[0], tasks[1], tasks[len(tasks)-1])
	}
	if _, ok := tasks[0].Params["width"].(float64); !ok {
		t.Errorf(`width = "{depth}" should stay a number, is %T`, tasks[0].Params["width"])
	}
}

func TestSweepJSONMatchesYAML(t *testing.T) {
	y := `
name: s
kinds: [probe]
fixed: {samples: 1000, data: mnist}
axes:
  - {zip: {depth: [5, 10], width: [64, 32]}}
  - {name: init, values: [he-normal, "glorot-normal"]}
  - {name: seed, range: [0, 6, 3]}
derived: {arch: "fc:784-{width}x{depth}-10", json: '{{"w":{width}}}'}
`
	j := "{\n\t\"name\": \"s\", \"kinds\": [\"probe\"], \"fixed\": {\"data\": \"mnist\", \"samples\": 1000},\n" +
		"\t\"axes\": [{\"zip\": {\"width\": [64, 32], \"depth\": [5, 10]}}, {\"name\": \"init\", \"values\": [\"he-normal\", \"glorot-normal\"]},\n" +
		"\t\t{\"name\": \"seed\", \"range\": [0, 6, 3]}],\n" +
		"\t\"derived\": {\"json\": \"{{\\\"w\\\":{width}}}\", \"arch\": \"fc:784-{width}x{depth}-10\"}}"
	var got [2][]Task
	for i, text := range []string{y, j} {
		s, err := ParseSweep([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		if got[i], err = s.Expand(); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(got[0], got[1]) {
		t.Errorf("YAML and JSON differ:\n%v\n%v", got[0], got[1])
	}
	if len(got[0]) != 8 {
		t.Fatalf("%d tasks, want 8", len(got[0]))
	}
	if want := `probe arch=fc:784-64x5-10 data=mnist depth=5 init=he-normal json={"w":64} samples=1000 seed=0 width=64`; got[0][0].String() != want {
		t.Errorf("first task %q, want %q", got[0][0], want)
	}
}

// Adding values to an axis, or a whole axis that a derived param ignores,
// must not change the ids of existing grid points, whatever their position.
func TestSweepIDsSurviveGridChanges(t *testing.T) {
	small := &Sweep{Name: "a", Kinds: []string{"train"},
		Axes: []Axis{{Name: "depth", Values: []any{10, 20}}, {Name: "init", Values: []any{"he"}}}}
	big := &Sweep{Name: "b", Kinds: []string{"predict", "train"},
		Axes: []Axis{{Name: "init", Values: []any{"lecun", "he"}}, {Name: "depth", Values: []any{5, 10, 15, 20}}}}
	a, err := small.Expand()
	if err != nil {
		t.Fatal(err)
	}
	b, err := big.Expand()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, task := range b {
		ids[task.ID] = task.String()
	}
	for _, task := range a {
		if ids[task.ID] != task.String() {
			t.Errorf("%s (%s) is not in the bigger grid", task.ID, task)
		}
	}
}

func TestSweepErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"kinds: [train]", "sweep name"},
		{"name: x", "kinds"},
		{"name: x\nkinds: [train, train]", "listed twice"},
		{"name: x\nkinds: [train]\nbogus: 1", "bogus"},
		{`{"name": "x", "kinds": ["t"], "bogus": 1}`, "bogus"},
		{"name: x\nkinds: [t]\naxes: [{name: d}]", "exactly one of values, range or zip"},
		{"name: x\nkinds: [t]\naxes: [{name: d, values: [1], range: [0, 2]}]", "exactly one"},
		{"name: x\nkinds: [t]\naxes: [{name: d, values: []}]", "no values"},
		{"name: x\nkinds: [t]\naxes: [{name: d, values: [1, 2, 1]}]", "values 0 and 2 are the same"},
		{"name: x\nkinds: [t]\naxes: [{name: d, values: [1, 1.0]}]", "values 0 and 1 are the same"},
		{"name: x\nkinds: [t]\naxes: [{zip: {a: [1, 1], b: [x, x]}}]", "values 0 and 1 are the same"},
		{"name: x\nkinds: [t]\naxes: [{name: d, values: [[1]]}]", "want a string, number or boolean"},
		{"name: x\nkinds: [t]\naxes: [{name: d, range: [3, 3]}]", "start < stop"},
		{"name: x\nkinds: [t]\naxes: [{name: d, range: [0, 3, 0]}]", "step"},
		{"name: x\nkinds: [t]\naxes: [{name: d, range: [0]}]", "[start, stop]"},
		{"name: x\nkinds: [t]\naxes: [{zip: {a: [1, 2], b: [1]}}]", "one length"},
		{"name: x\nkinds: [t]\naxes: [{name: a, zip: {a: [1]}}]", "inside zip"},
		{"name: x\nkinds: [t]\nfixed: {d: 1}\naxes: [{name: d, values: [1]}]", `"d" is already set by fixed`},
		{"name: x\nkinds: [t]\naxes: [{name: d, values: [1]}, {zip: {d: [2]}}]", `"d" is already set by axes[0]`},
		{"name: x\nkinds: [t]\nfixed: {d: 1}\nderived: {d: '{d}'}", "already set"},
		{"name: x\nkinds: [t]\nfixed: {d: 1}\nderived: {a: '{e}'}", "{e} is not an axis or fixed param"},
		{"name: x\nkinds: [t]\nfixed: {d: 1}\nderived: {a: '{d}', b: '{a}'}", "itself derived"},
		{"name: x\nkinds: [t]\nfixed: {d: 1}\nderived: {a: 'x{d'}", "not closed"},
		{"name: x\nkinds: [t]\nfixed: {d: 1}\nderived: {a: 'x}'}", "has no '{'"},
		{"name: x\nkinds: [t]\nfixed: {d: 1}\nderived: {a: '{d e}'}", "not a param name"},
		{"name: x\nkinds: [t]\naxes: [{name: a, range: [0, 1024]}, {name: b, range: [0, 1025]}]", "more than"},
	} {
		_, err := ParseSweep([]byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseSweep(%q): error %v, want it to mention %q", c.text, err, c.want)
		}
	}
	if _, err := LoadSweep("testdata/no-such-file.yaml"); err == nil {
		t.Error("LoadSweep of a missing file: no error")
	}
}

// TestRangesNearTheIntegerLimits expands ranges whose bounds, span or step
// are near the limits of int or of the integers a param keeps exactly
// (±2^53): each gives its values or an error, at once and without
// allocating more than MaxTasks values.
func TestRangesNearTheIntegerLimits(t *testing.T) {
	const maxInt, minInt, exact = math.MaxInt, math.MinInt, 1 << 53
	for _, c := range []struct {
		r    []int
		want []int // nil: an error
	}{
		{[]int{-4611686018427387904, 4611686018427387909}, nil}, // span 2^63+5 overflows int
		{[]int{minInt, maxInt}, nil},
		{[]int{minInt, maxInt, maxInt}, nil}, // 3 values, beyond 2^53
		{[]int{maxInt - 3, maxInt, 2}, nil},  // i += step would wrap
		{[]int{minInt, minInt + 2}, nil},
		{[]int{-exact - 1, 0, exact}, nil},
		{[]int{exact - 1, maxInt, exact}, nil}, // the second value, 2^54-1, is too large
		{[]int{-exact, exact + 1, exact}, []int{-exact, 0, exact}},
		{[]int{-exact, maxInt, 1 << 52}, nil},
		{[]int{exact - 3, exact + 1, 2}, []int{exact - 3, exact - 1}},
		{[]int{-exact, -exact + 2}, []int{-exact, -exact + 1}},
		{[]int{0, MaxTasks + 1}, nil},
		{[]int{0, 2*MaxTasks + 1, 2}, nil},
		{[]int{1, 2 * MaxTasks, 2}, make([]int, MaxTasks)}, // exactly MaxTasks: checked by length
		{[]int{0, maxInt, maxInt}, []int{0}},
		{[]int{-1, 0, maxInt}, []int{-1}},
		{[]int{-exact, exact, maxInt}, []int{-exact}},
	} {
		got, err := rangeValues(c.r)
		switch {
		case c.want == nil && err == nil:
			t.Errorf("range %v: %d values, want an error", c.r, len(got))
		case c.want != nil && err != nil:
			t.Errorf("range %v: %v", c.r, err)
		case c.want != nil && len(c.want) == MaxTasks:
			if len(got) != MaxTasks || got[len(got)-1] != 2*MaxTasks-1 {
				t.Errorf("range %v: %d values, last %v", c.r, len(got), got[len(got)-1])
			}
		case c.want != nil:
			want := make([]any, len(c.want))
			for i, v := range c.want {
				want[i] = v
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("range %v: %v, want %v", c.r, got, c.want)
			}
		}
	}
	// Through the sweep file: an error naming the axis, never a crash.
	for _, text := range []string{
		"name: x\nkinds: [t]\naxes: [{name: d, range: [-4611686018427387904, 4611686018427387909]}]",
		"name: x\nkinds: [t]\naxes: [{name: d, range: [-9223372036854775808, 9223372036854775807, 3]}]",
		"name: x\nkinds: [t]\naxes: [{name: d, range: [9223372036854775806, 9223372036854775807]}]",
		`{"name": "x", "kinds": ["t"], "axes": [{"name": "d", "range": [-9223372036854775808, 9223372036854775807]}]}`,
		"name: x\nkinds: [t]\naxes: [{name: d, range: [0, 9223372036854775808]}]",
		`{"name": "x", "kinds": ["t"], "axes": [{"name": "d", "range": [0, 9223372036854775808]}]}`,
	} {
		if _, err := ParseSweep([]byte(text)); err == nil || !strings.Contains(err.Error(), `d`) {
			t.Errorf("ParseSweep(%q): error %v, want one naming axis d", text, err)
		}
	}
}

// TestRangeBoundsAreIntegers rejects range bounds a file writes as anything
// but an integer, naming the axis and the value, in YAML and JSON; integers
// in YAML's other notations are integers.
func TestRangeBoundsAreIntegers(t *testing.T) {
	for _, c := range []struct{ text, value string }{
		{"name: x\nkinds: [t]\naxes: [{name: runs, range: [1, 4.5]}]", "value 4.5"},
		{"name: x\nkinds: [t]\naxes: [{name: runs, range: [1.0, 3]}]", "value 1.0"},
		{"name: x\nkinds: [t]\naxes: [{name: runs, range: [0, 10, 2.0]}]", "value 2.0"},
		{"name: x\nkinds: [t]\naxes: [{name: runs, range: [1e0, 3]}]", "value 1e0"},
		{"name: x\nkinds: [t]\naxes: [{name: runs, range: ['1', 3]}]", "value 1"},
		{"name: x\nkinds: [t]\naxes: [{name: runs, range: [.inf, 3]}]", "value .inf"},
		{"name: x\nkinds: [t]\naxes: [{name: runs, range: [true, 3]}]", "value true"},
		{"name: x\nkinds: [t]\naxes: [{name: runs, range: [[1], 3]}]", "value (a list or a map)"},
		{"name: x\nkinds: [t]\naxes: [{name: runs, range: [null, 3]}]", "value null"},
		{`{"name": "x", "kinds": ["t"], "axes": [{"name": "runs", "range": [1, 4.5]}]}`, "value 4.5"},
		{`{"name": "x", "kinds": ["t"], "axes": [{"name": "runs", "range": [1.0, 3]}]}`, "value 1.0"},
		{`{"name": "x", "kinds": ["t"], "axes": [{"name": "runs", "range": [1e2, 300]}]}`, "value 1e2"},
		{`{"name": "x", "kinds": ["t"], "axes": [{"name": "runs", "range": ["1", 3]}]}`, `value "1"`},
		{`{"name": "x", "kinds": ["t"], "axes": [{"name": "runs", "range": [-0.0, 3]}]}`, "value -0.0"},
	} {
		_, err := ParseSweep([]byte(c.text))
		if err == nil || !strings.Contains(err.Error(), `axis "runs": range `+c.value+": want an integer") {
			t.Errorf("ParseSweep(%q): error %v, want one naming axis runs and %s", c.text, err, c.value)
		}
	}
	for _, text := range []string{
		"name: x\nkinds: [t]\naxes: [{name: runs, range: [0x1, 0o3, 1_0]}]",
		`{"name": "x", "kinds": ["t"], "axes": [{"name": "runs", "range": [1, 3, 10]}]}`,
		"name: x\nkinds: [t]\naxes: [{name: runs, range: [-2, 2, 3]}]",
		"name: x\nkinds: [t]\nfixed: {a: &one 1}\naxes: [{name: runs, range: [*one, 3, 10]}]",
	} {
		s, err := ParseSweep([]byte(text))
		if err != nil {
			t.Errorf("ParseSweep(%q): %v", text, err)
			continue
		}
		if r := s.Axes[0].Range; len(r) != 3 || r[2] != 10 && r[2] != 3 {
			t.Errorf("ParseSweep(%q): range %v", text, r)
		}
	}
	// Unknown fields of an axis are still errors.
	for _, text := range []string{
		"name: x\nkinds: [t]\naxes: [{name: d, valuez: [1]}]",
		`{"name": "x", "kinds": ["t"], "axes": [{"name": "d", "valuez": [1]}]}`,
	} {
		if _, err := ParseSweep([]byte(text)); err == nil || !strings.Contains(err.Error(), "valuez") {
			t.Errorf("ParseSweep(%q): error %v, want one naming valuez", text, err)
		}
	}
}

// testKinds are kinds of task for Validate: "fit" reads lr (required, a
// number) and seed, "eval" reads seed and split.
var testKinds = map[string]Kind{
	"fit": {Params: []string{"lr", "seed"}, Check: func(t Task) error {
		_, err := t.Float("lr")
		return err
	}},
	"eval": {Params: []string{"split", "seed"}},
}

func TestValidate(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"name: x\nkinds: [fit, evl]\nfixed: {lr: 1}", `kinds: "evl" is not a kind of task: want eval, fit`},
		{"name: x\nkinds: [fit]\nfixed: {lr: 1, momentun: 0.9}", `fixed: param "momentun" is read by no kind of task of the sweep (fit reads lr, seed); if it only labels the results, list it in labels`},
		{"name: x\nkinds: [fit, eval]\nfixed: {lr: 1}\naxes: [{name: depth, values: [1, 2]}]", `axes[0]: param "depth" is read by no kind of task of the sweep (fit reads lr, seed; eval reads seed, split)`},
		{"name: x\nkinds: [fit]\nfixed: {lr: 1}\naxes: [{name: seed, range: [0, 2]}]\nlabels: [seed]", `labels: "seed" is a param that fit tasks read, not a label`},
		{"name: x\nkinds: [fit]\naxes: [{name: lr, values: [0.1, fast]}]", `task fit lr=fast: task `},
		{"name: x\nkinds: [fit]\nfixed: {seed: 1}", `no param "lr"`},
		{"name: x\nkinds: [fit]\nfixed: {lr: 1}\nlabels: [depth]", `labels: "depth" is not a param of the sweep`},
		{"name: x\nkinds: [fit]\nfixed: {lr: 1, d: 2}\nlabels: [d, d]", `labels: "d" is listed twice`},
	} {
		s, err := ParseSweep([]byte(c.text))
		if err == nil {
			err = s.Validate(testKinds)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "sweep x: ") {
			t.Errorf("%q: error %v, want one saying %q", c.text, err, c.want)
		}
	}
	// Kinds ignore each other's params; labels are kept and change no id.
	text := "name: x\nkinds: [fit, eval]\nfixed: {lr: 0.1, split: test}\naxes: [{name: depth, values: [1, 2]}, {name: seed, range: [0, 2]}]\n"
	s, err := ParseSweep([]byte(text + "labels: [depth]"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(testKinds); err != nil {
		t.Fatal(err)
	}
	unlabelled, err := ParseSweep([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Expand()
	b, _ := unlabelled.Expand()
	if len(a) != 8 || !reflect.DeepEqual(a, b) || a[0].Params["depth"] != 1.0 {
		t.Errorf("labelled tasks %v differ from unlabelled ones %v", a, b)
	}
}
