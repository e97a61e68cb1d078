package experiment

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestResultsDirectory writes two overlapping sweeps into a directory, runs
// part of their grid and collects it: the shared task counts once, the
// missing ones are listed, and a record of no sweep is extra.
func TestResultsDirectory(t *testing.T) {
	dir := t.TempDir()
	a, err := ParseSweep([]byte("name: a\nkinds: [k]\naxes: [{name: i, values: [1, 2]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseSweep([]byte("name: b\nkinds: [k]\naxes: [{name: i, values: [2, 3]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := Collect(dir); err != nil || len(res.Sweeps) != 0 || len(res.Records) != 0 {
		t.Fatalf("empty directory: %+v, %v", res, err)
	}
	if err := WriteSweeps(dir, []*Sweep{b, a}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(SweepPath(dir, "a")); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, SweepDir, ".*")); len(m) != 0 {
		t.Errorf("temporary files left behind: %v", m)
	}
	tasks, owner, err := Tasks([]*Sweep{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 3 || owner[tasks[1].ID] != a || owner[tasks[2].ID] != b {
		t.Fatalf("tasks %v: want i=1, i=2 (of a), i=3 (of b)", tasks)
	}
	s, err := OpenStore(dir, Shard{})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(s.Path()) != "shard-0-of-1.jsonl" {
		t.Errorf("results file %s", s.Path())
	}
	stray := mustTask(t, "k", map[string]any{"i": 9})
	now := time.Now()
	for _, task := range []Task{tasks[1], stray} {
		if err := s.Append(doneRecord(task, `{"v":1}`, now)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	res, err := Collect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sweeps) != 2 || res.Sweeps[0].Name != "a" || len(res.Tasks["a"]) != 2 || len(res.Tasks["b"]) != 2 {
		t.Fatalf("sweeps %v, tasks %v", res.Sweeps, res.Tasks)
	}
	if len(res.Records) != 1 || len(res.Missing) != 2 || len(res.Extra) != 1 || res.Extra[0].ID != stray.ID {
		t.Errorf("records %d, missing %d, extra %v", len(res.Records), len(res.Missing), res.Extra)
	}
	rec, ok := res.Record(tasks[1].ID)
	var v struct{ V int }
	if !ok || rec.Decode(&v) != nil || v.V != 1 {
		t.Errorf("record of the shared task: %v %v, decoded %+v", rec, ok, v)
	}
	rec.Result = []byte("{bad")
	if err := rec.Decode(&v); err == nil || !strings.Contains(err.Error(), rec.ID) {
		t.Errorf("decoding a bad result: %v, want an error naming the task", err)
	}
	if _, err := Collect(filepath.Join(dir, "none")); !os.IsNotExist(err) {
		t.Errorf("missing directory: %v", err)
	}
}
