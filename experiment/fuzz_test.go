package experiment

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParseSweep checks that no input panics and that every accepted sweep
// expands to distinct tasks, deterministically.
func FuzzParseSweep(f *testing.F) {
	example, err := os.ReadFile("testdata/fig1.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(example))
	f.Add(`{"name": "j", "kinds": ["k"], "axes": [{"zip": {"a": [1, 2], "b": ["x", "y"]}}], "derived": {"c": "{a}-{{b}}"}}`)
	f.Add("name: r\nkinds: [k]\naxes: [{name: s, range: [0, 9, 4]}]\nderived: {t: 'x{s}'}")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseSweep([]byte(text))
		if err != nil {
			return
		}
		a, err := s.Expand()
		if err != nil {
			t.Fatalf("accepted sweep does not expand: %v", err)
		}
		b, _ := s.Expand()
		if !reflect.DeepEqual(a, b) {
			t.Fatal("two expansions differ")
		}
		seen := map[string]bool{}
		for _, task := range a {
			if seen[task.ID] {
				t.Fatalf("duplicate task %s", task)
			}
			seen[task.ID] = true
		}
	})
}

// FuzzParseRecords checks that the reader never panics, that its whole
// lines end at a newline, that re-reading them gives the same records
// without a tail, and that OpenStore's repair (which keeps or cuts only the
// tail, and refuses files with lines that are not records) leaves a file
// that reads back with every record it had and no warning.
func FuzzParseRecords(f *testing.F) {
	f.Add("{\"id\":\"a\",\"kind\":\"k\",\"params\":{},\"status\":\"done\",\"result\":1}\n{\"id\":\"b\",\"st")
	f.Add("\n\n{\"id\":\"a\",\"status\":\"failed\"}\nx\n")
	f.Add("x\n{\"id\":\"a\",\"status\":\"done\"}\n")
	f.Add("{\"id\":\"a\",\"status\":\"done\"}")
	f.Fuzz(func(t *testing.T, text string) {
		c := scanRecords([]byte(text), "f")
		if c.whole > len(text) || (c.whole > 0 && text[c.whole-1] != '\n') || (c.tail != nil) != (c.whole < len(text)) {
			t.Fatalf("whole lines end at %d of %q, tail %q", c.whole, text, c.tail)
		}
		again := scanRecords([]byte(text[:c.whole]), "f")
		want := c.recs
		if c.tailRecord {
			want = want[:len(want)-1]
		}
		if again.tail != nil || !same(again.recs, want) || !same(again.bad, c.bad) {
			t.Fatalf("re-reading the whole lines of %q: %d records (want %d), tail %q", text, len(again.recs), len(want), again.tail)
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "shard-0-of-1.jsonl")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := OpenStore(dir, Shard{})
		if err != nil {
			if b, _ := os.ReadFile(path); string(b) != text {
				t.Fatalf("OpenStore refused (%v) but changed %q to %q", err, text, b)
			}
			return
		}
		s.Close()
		recs, warnings, err := ReadDir(dir)
		if err != nil || warnings != nil || !same(recs, c.recs) {
			t.Fatalf("after repairing %q: %d records (want %d), warnings %q, %v", text, len(recs), len(c.recs), warnings, err)
		}
	})
}

// same reports whether two slices hold equal elements, nil and empty being
// the same.
func same[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

// FuzzParseShard checks that accepted shards are valid and print back as
// parsed.
func FuzzParseShard(f *testing.F) {
	f.Add("3/10")
	f.Add("0/1")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseShard(text)
		if err != nil {
			return
		}
		if s.validate() != nil {
			t.Fatalf("ParseShard(%q) accepted %v", text, s)
		}
		if back, err := ParseShard(s.String()); err != nil || back != s {
			t.Fatalf("%v prints as %q, which reads back as %v, %v", s, s.String(), back, err)
		}
	})
}
