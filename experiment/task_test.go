package experiment

import (
	"strings"
	"testing"
)

func mustTask(t *testing.T, kind string, params map[string]any) Task {
	t.Helper()
	task, err := NewTask(kind, params)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func TestTaskIDIgnoresOrderAndNumberType(t *testing.T) {
	// Go randomizes map iteration, so building the map in two orders many
	// times exercises order independence.
	a := map[string]any{}
	b := map[string]any{}
	keys := []string{"arch", "depth", "init", "lr", "run", "eta", "data", "flag"}
	vals := []any{"fc:784-10x10-10", 10, "he-normal", 0.01, 3, 1.5, "mnist", true}
	for i := range keys {
		a[keys[i]] = vals[i]
		b[keys[len(keys)-1-i]] = vals[len(keys)-1-i]
	}
	want := mustTask(t, "train", a).ID
	for range 20 {
		if got := mustTask(t, "train", b).ID; got != want {
			t.Fatalf("id %s, want %s", got, want)
		}
	}
	// An int and the equal float are the same value, as after a JSON round trip.
	b["depth"] = 10.0
	b["run"] = uint8(3)
	if got := mustTask(t, "train", b).ID; got != want {
		t.Errorf("float depth: id %s, want %s", got, want)
	}
	if got := mustTask(t, "probe", a).ID; got == want {
		t.Errorf("kind does not change the id")
	}
	b["depth"] = "10"
	if got := mustTask(t, "train", b).ID; got == want {
		t.Errorf(`depth "10" and 10 have one id`)
	}
}

// The ids are part of the results-file format: if this test fails, old
// results no longer match their tasks. The first id is, independently,
// sha256('{"kind":"predict","params":{"arch":"fc:784-10x10-10","data":"mnist","depth":10,"init":"he-normal"}}')
// cut to 16 hex digits (Python's json.dumps with sort_keys and compact
// separators writes the same bytes).
func TestTaskIDGolden(t *testing.T) {
	s := &Sweep{
		Name:  "golden",
		Kinds: []string{"predict"},
		Fixed: map[string]any{"data": "mnist"},
		Axes: []Axis{
			{Name: "init", Values: []any{"he-normal", "lecun-normal"}},
			{Name: "depth", Values: []any{10, 20}},
		},
		Derived: map[string]string{"arch": "fc:784-{depth}x{depth}-10"},
	}
	tasks, err := s.Expand()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"predict arch=fc:784-10x10-10 data=mnist depth=10 init=he-normal be8f6c7f35c40530",
		"predict arch=fc:784-20x20-10 data=mnist depth=20 init=he-normal 39d8e8e68573056b",
		"predict arch=fc:784-10x10-10 data=mnist depth=10 init=lecun-normal 6a26e7b0e1b7a227",
		"predict arch=fc:784-20x20-10 data=mnist depth=20 init=lecun-normal 57e49ab21ca87a98",
	}
	var got []string
	for _, task := range tasks {
		got = append(got, task.String()+" "+task.ID)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tasks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestNewTaskRejects(t *testing.T) {
	for _, c := range []struct {
		kind   string
		params map[string]any
		want   string
	}{
		{"", nil, "task kind"},
		{"a b", nil, "task kind"},
		{"train", map[string]any{"": 1}, "param name"},
		{"train", map[string]any{"{x}": 1}, "param name"},
		{"train", map[string]any{"x": nil}, "null"},
		{"train", map[string]any{"x": []int{1}}, "want a string, number or boolean"},
		{"train", map[string]any{"x": map[string]any{}}, "want a string, number or boolean"},
		{"train", map[string]any{"x": int64(1) << 60}, "too large"},
		{"train", map[string]any{"x": uint64(1) << 60}, "too large"},
		{"train", map[string]any{"lr": float32(0) / float32(zero())}, "finite"},
	} {
		_, err := NewTask(c.kind, c.params)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewTask(%q, %v): error %v, want it to mention %q", c.kind, c.params, err, c.want)
		}
	}
}

func zero() float32 { return 0 }

func TestTaskAccessors(t *testing.T) {
	task := mustTask(t, "train", map[string]any{"arch": "fc:784-10-10", "depth": 10, "lr": 0.5})
	if s, err := task.Text("arch"); err != nil || s != "fc:784-10-10" {
		t.Errorf("Text(arch) = %q, %v", s, err)
	}
	if n, err := task.Int("depth"); err != nil || n != 10 {
		t.Errorf("Int(depth) = %d, %v", n, err)
	}
	if f, err := task.Float("lr"); err != nil || f != 0.5 {
		t.Errorf("Float(lr) = %v, %v", f, err)
	}
	for _, err := range []error{
		func() error { _, err := task.Int("lr"); return err }(),
		func() error { _, err := task.Float("arch"); return err }(),
		func() error { _, err := task.Text("depth"); return err }(),
		func() error { _, err := task.Text("seed"); return err }(),
	} {
		if err == nil || !strings.Contains(err.Error(), task.ID) {
			t.Errorf("error %v does not name the task", err)
		}
	}
	if got, want := task.String(), "train arch=fc:784-10-10 depth=10 lr=0.5"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	big := mustTask(t, "x", map[string]any{"n": 1000000, "f": 1e-7})
	if got, want := big.String(), "x f=1e-07 n=1000000"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
