package experiment

import (
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
