package experiment

import (
	"os"
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

// FuzzParseRecords checks that the reader never panics, that the valid prefix
// it reports ends a line, and that re-reading that prefix gives the same
// records (what OpenStore's repair relies on).
func FuzzParseRecords(f *testing.F) {
	f.Add("{\"id\":\"a\",\"kind\":\"k\",\"params\":{},\"status\":\"done\",\"result\":1}\n{\"id\":\"b\",\"st")
	f.Add("\n\n{\"id\":\"a\",\"status\":\"failed\"}\nx\n")
	f.Add("x\n{\"id\":\"a\",\"status\":\"done\"}\n")
	f.Fuzz(func(t *testing.T, text string) {
		recs, good, err := parseRecords([]byte(text), "f")
		if err != nil {
			return
		}
		if good > len(text) || (good > 0 && text[good-1] != '\n') {
			t.Fatalf("valid prefix %d of %q does not end a line", good, text)
		}
		again, good2, err := parseRecords([]byte(text[:good]), "f")
		if err != nil || good2 != good || !reflect.DeepEqual(recs, again) {
			t.Fatalf("re-reading the valid prefix: %d records (want %d), prefix %d (want %d), %v", len(again), len(recs), good2, good, err)
		}
	})
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
