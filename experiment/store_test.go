package experiment

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
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
	last := "{\"id\":\"abc\",\"kind\":\"k\",\"status\":\"done\"}"
	for _, c := range []struct {
		tail, repaired string // what follows the whole records; what OpenStore leaves
		records        int
	}{
		{`{"id":"abc","kind":"k","par`, "", 2}, // cut mid-record: cut off
		{`{"i`, "", 2},                         // cut in the first bytes
		{last, last + "\n", 3},                 // whole but no newline: kept, its line ended
	} {
		if err := os.WriteFile(s.Path(), append(append([]byte{}, whole...), c.tail...), 0o644); err != nil {
			t.Fatal(err)
		}
		recs, warnings, err := ReadDir(dir)
		if err != nil || len(recs) != c.records || (c.repaired == "") != (len(warnings) == 1) {
			t.Fatalf("tail %q: ReadDir = %d records, warnings %q, %v; want %d", c.tail, len(recs), warnings, err, c.records)
		}
		s, err := OpenStore(dir, Shard{})
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(s.Path()); string(b) != string(whole)+c.repaired {
			t.Errorf("tail %q: after OpenStore the file is\n%q\nwant\n%q", c.tail, b, string(whole)+c.repaired)
		}
		if err := s.Append(doneRecord(grid[2], `1`, now)); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if recs, warnings, err := ReadDir(dir); err != nil || len(recs) != c.records+1 || recs[c.records].ID != grid[2].ID || warnings != nil {
			t.Errorf("tail %q: after repair and append: %d records, warnings %q, %v", c.tail, len(recs), warnings, err)
		}
	}
}

// TestStoreLeavesOthersFilesAlone gives OpenStore results files that hold
// something besides records: it must refuse to append, naming the file and
// the line, and change nothing; readers leave the lines out and warn.
func TestStoreLeavesOthersFilesAlone(t *testing.T) {
	task := tinyGrid(t, 1)[0]
	line, _ := json.Marshal(doneRecord(task, `1`, time.Now()))
	rec := string(line) + "\n"
	for _, c := range []struct {
		content  string
		records  int
		refusal  string // in OpenStore's error
		warnings []string
	}{
		{"hello\nworld\n", 0, "shard-0-of-1.jsonl:1: not a record: not JSON", []string{":1: not a record", ":2: not a record", "no records at all"}},
		{"a,b,c\n1,2,3", 0, ":1: not a record", []string{":1: not a record", "not a record (\"1,2,3\")", "no records at all"}},
		{"plain text without a newline", 0, "ends in 28 bytes after its last line that are not a record", []string{"28 bytes after the last line", "no records at all"}},
		{"not json\n" + rec, 1, ":1: not a record", []string{":1: not a record: not JSON"}},
		{rec + "garbage\n\x00\x00\x00", 1, ":2: not a record", []string{":2: not a record", "3 bytes"}},
		{rec + "{\"id\":\"\",\"status\":\"done\"}\n", 1, ":2: not a record: no id", []string{":2: not a record: no id"}},
		{rec + "{\"id\":\"a\",\"status\":\"running\"}\n" + rec, 2, `:2: not a record: status "running"`, []string{`:2: not a record: status "running", want "done" or "failed"`}},
		{strings.Repeat("x\n", 5), 0, "(and 4 more lines)", []string{":1:", ":2:", ":3:", "2 more lines", "no records at all"}},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "shard-0-of-1.jsonl")
		if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		recs, warnings, err := ReadDir(dir)
		if err != nil || len(recs) != c.records || len(warnings) != len(c.warnings) {
			t.Errorf("%q: ReadDir = %d records, warnings %q, %v; want %d records and %d warnings", c.content, len(recs), warnings, err, c.records, len(c.warnings))
		}
		for i := range min(len(warnings), len(c.warnings)) {
			if !strings.HasPrefix(warnings[i], path) || !strings.Contains(warnings[i], c.warnings[i]) {
				t.Errorf("%q: warning %q, want it to name the file and say %q", c.content, warnings[i], c.warnings[i])
			}
		}
		if s, err := OpenStore(dir, Shard{}); err == nil || !strings.Contains(err.Error(), c.refusal) || !strings.Contains(err.Error(), "refusing to append") {
			t.Errorf("%q: OpenStore: error %v, want a refusal saying %q", c.content, err, c.refusal)
			if err == nil {
				s.Close()
			}
		}
		if b, _ := os.ReadFile(path); string(b) != c.content {
			t.Errorf("%q: OpenStore changed the file to %q", c.content, b)
		}
		var warned []string
		if _, err := Run(context.Background(), []Task{task}, Shard{1, 2}, mustStore(t, dir, Shard{1, 2}), func(context.Context, Task) (json.RawMessage, error) {
			return json.RawMessage(`1`), nil
		}, Options{Warn: func(w string) { warned = append(warned, w) }}); err != nil || !reflect.DeepEqual(warned, warnings) {
			t.Errorf("%q: Run warned %q, %v; want %q", c.content, warned, err, warnings)
		}
	}
	if _, _, err := ReadDir(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("ReadDir of a missing directory: no error")
	}
}

// mustStore opens a store that the test closes at its end.
func mustStore(t *testing.T, dir string, shard Shard) *Store {
	t.Helper()
	s, err := OpenStore(dir, shard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
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
