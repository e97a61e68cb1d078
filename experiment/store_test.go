package experiment

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func doneRecord(task Task, result string, finished time.Time) Record {
	return Record{ID: task.ID, Kind: task.Kind, Params: task.Params, Status: StatusDone,
		Result: json.RawMessage(result), Started: finished.Add(-time.Second), Finished: finished, Host: "h", Shard: "0/1"}
}

func TestStoreRepairsTornTail(t *testing.T) {
	dir := t.TempDir()
	grid := tinyGrid(t, 3)
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	s, err := OpenStore(dir, Shard{})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(s.Path()) != "shard-0-of-1.jsonl" || s.Dir() != dir {
		t.Errorf("path %s, dir %s", s.Path(), s.Dir())
	}
	for _, task := range grid[:2] {
		if err := s.Append(doneRecord(task, `{"loss": 1}`, now)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(doneRecord(grid[2], `1`, now)); err == nil {
		t.Error("Append after Close: no error")
	}
	whole, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}

	for _, torn := range []string{
		`{"id":"abc","kind":"k","par`,                         // cut mid-record
		"{\"id\":\"abc\",\"kind\":\"k\",\"status\":\"done\"}", // whole but no newline
		"garbage\n\x00\x00\x00",                               // invalid lines at the tail
		"{\"id\":\"\",\"status\":\"done\"}\n",                 // valid JSON, not a record
	} {
		if err := os.WriteFile(s.Path(), append(append([]byte{}, whole...), torn...), 0o644); err != nil {
			t.Fatal(err)
		}
		recs, err := ReadDir(dir)
		if err != nil || len(recs) != 2 {
			t.Fatalf("torn tail %q: ReadDir = %d records, %v; want the 2 whole ones", torn, len(recs), err)
		}
		s, err := OpenStore(dir, Shard{})
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(s.Path()); string(b) != string(whole) {
			t.Errorf("torn tail %q: after OpenStore the file is\n%q\nwant\n%q", torn, b, whole)
		}
		if err := s.Append(doneRecord(grid[2], `1`, now)); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if recs, err := ReadDir(dir); err != nil || len(recs) != 3 || recs[2].ID != grid[2].ID {
			t.Errorf("torn tail %q: after repair and append: %d records, %v", torn, len(recs), err)
		}
	}
}

func TestStoreRejectsCorruptMiddle(t *testing.T) {
	dir := t.TempDir()
	task := tinyGrid(t, 1)[0]
	line, _ := json.Marshal(doneRecord(task, `1`, time.Now()))
	path := filepath.Join(dir, "shard-0-of-1.jsonl")
	if err := os.WriteFile(path, []byte("not json\n"+string(line)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadDir(dir); err == nil || !strings.Contains(err.Error(), "shard-0-of-1.jsonl:1") {
		t.Errorf("ReadDir: error %v, want one naming line 1", err)
	}
	if _, err := OpenStore(dir, Shard{}); err == nil {
		t.Error("OpenStore on a corrupt file: no error")
	}
	if _, err := ReadDir(filepath.Join(dir, "missing")); err == nil {
		t.Error("ReadDir of a missing directory: no error")
	}
}

func TestStoreLockKeepsOneWriterPerShard(t *testing.T) {
	dir := t.TempDir()
	a, err := OpenStore(dir, Shard{1, 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(dir, Shard{1, 3}); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("second OpenStore of shard 1/3: error %v", err)
	}
	b, err := OpenStore(dir, Shard{2, 3})
	if err != nil {
		t.Fatalf("another shard: %v", err)
	}
	b.Close()
	a.Close()
	c, err := OpenStore(dir, Shard{1, 3})
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	c.Close()
	if _, err := OpenStore(dir, Shard{3, 3}); err == nil {
		t.Error("OpenStore of shard 3/3: no error")
	}
}

func TestCollectMergesShards(t *testing.T) {
	dir := t.TempDir()
	grid := tinyGrid(t, 5)
	stray := mustTask(t, "old", map[string]any{"x": 1})
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	failed := func(task Task, at time.Time) Record {
		r := doneRecord(task, "", at)
		r.Status, r.Result, r.Error = StatusFailed, nil, "boom"
		return r
	}
	writes := map[Shard][]Record{
		{0, 2}: {
			doneRecord(grid[0], `"old"`, t0),
			failed(grid[2], t0),
			doneRecord(grid[0], `"new"`, t0.Add(time.Hour)),
			failed(grid[4], t0),
		},
		{1, 2}: {
			doneRecord(grid[1], `1`, t0),
			failed(grid[1], t0.Add(2*time.Hour)), // a later failure does not undo a success
			doneRecord(stray, `0`, t0),
			failed(grid[4], t0.Add(time.Hour)),
		},
	}
	for sh, recs := range writes {
		s, err := OpenStore(dir, sh)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if err := s.Append(r); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
	}
	c, err := collectGrid(dir, grid)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range c.Records {
		got = append(got, r.ID+":"+string(r.Status)+":"+string(r.Result)+r.Error)
	}
	want := []string{grid[0].ID + `:done:"new"`, grid[1].ID + ":done:1", grid[2].ID + ":failed:boom", grid[4].ID + ":failed:boom"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("records %v, want %v", got, want)
	}
	if len(c.Missing) != 3 || c.Missing[0].ID != grid[2].ID || c.Missing[1].ID != grid[3].ID || c.Missing[2].ID != grid[4].ID {
		t.Errorf("missing %v, want tasks 2, 3 and 4", c.Missing)
	}
	if c.Missing[1].String() != grid[3].String() {
		t.Errorf("missing task %v, want %v", c.Missing[1], grid[3])
	}
	if len(c.Extra) != 1 || c.Extra[0].Task().String() != stray.String() {
		t.Errorf("extra %v, want the stray task", c.Extra)
	}
	all, err := collectGrid(dir, nil)
	if err != nil || len(all.Records) != 5 || all.Missing != nil || all.Extra != nil {
		t.Errorf("Collect without a grid: %d records, %v", len(all.Records), err)
	}
}
