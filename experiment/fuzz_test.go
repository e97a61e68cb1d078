package experiment

import (
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
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
	f.Add("name: r\nkinds: [fit, eval]\nfixed: {lr: 1}\naxes: [{name: d, range: [-4611686018427387904, 4611686018427387909]}]")
	f.Add("name: r\nkinds: [fit]\nfixed: {lr: 1, split: a}\naxes: [{name: d, range: [1.0, 3]}, {name: seed, range: [0, 2]}]\nlabels: [d, seed]")
	f.Add(`{"name": "r", "kinds": ["eval"], "axes": [{"name": "d", "range": [9223372036854775806, 9223372036854775807]}], "labels": ["d"]}`)
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseSweep([]byte(text))
		if err != nil {
			return
		}
		g, err := s.plan()
		if err != nil {
			t.Fatalf("accepted sweep does not plan: %v", err)
		}
		size := len(s.Kinds)
		for _, pts := range g.axes {
			size *= len(pts)
		}
		if size > MaxTasks {
			t.Fatalf("accepted sweep of %d tasks: more than %d", size, MaxTasks)
		}
		if size > 1<<14 {
			t.Skip("a large grid: expanding it takes seconds (TestRangesNearTheIntegerLimits expands one)")
		}
		_ = s.Validate(testKinds) // must not panic
		a, err := s.Expand()
		if err != nil {
			t.Fatalf("accepted sweep does not expand: %v", err)
		}
		if len(a) != size {
			t.Fatalf("%d tasks, want %d", len(a), size)
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

// FuzzRange feeds range bounds anywhere in int's span, the limits first,
// to rangeValues and, written as a sweep file, to ParseSweep: neither may
// panic or allocate more than MaxTasks values, and a range is accepted
// exactly when it holds 1 to MaxTasks integers start, start+step, ... below
// stop, all within ±2^53, as exact arithmetic (math/big) finds them.
func FuzzRange(f *testing.F) {
	f.Add(int64(-4611686018427387904), int64(4611686018427387909), int64(1))
	f.Add(int64(math.MinInt64), int64(math.MaxInt64), int64(math.MaxInt64))
	f.Add(int64(math.MaxInt64-3), int64(math.MaxInt64), int64(2))
	f.Add(int64(math.MinInt64), int64(math.MinInt64+5), int64(2))
	f.Add(int64(-maxExactInt), int64(maxExactInt+1), int64(maxExactInt))
	f.Add(int64(0), int64(MaxTasks), int64(MaxTasks/8))
	f.Add(int64(-1<<53), int64(-1<<53+3), int64(1))
	f.Fuzz(func(t *testing.T, start, stop, step int64) {
		if int64(int(start)) != start || int64(int(stop)) != stop || int64(int(step)) != step {
			t.Skip("bounds beyond this platform's int")
		}
		vs, err := rangeValues([]int{int(start), int(stop), int(step)})
		var want, last big.Int // ceil((stop - start) / step) when start < stop and step >= 1; the last value
		if start < stop && step >= 1 {
			want.Sub(big.NewInt(stop), big.NewInt(start))
			want.Add(&want, big.NewInt(step-1))
			want.Quo(&want, big.NewInt(step))
			last.Sub(&want, big.NewInt(1))
			last.Mul(&last, big.NewInt(step))
			last.Add(&last, big.NewInt(start))
		}
		switch {
		case want.Sign() == 0 || want.Cmp(big.NewInt(MaxTasks)) > 0 || start < -maxExactInt || last.Cmp(big.NewInt(maxExactInt)) > 0:
			if err == nil {
				t.Fatalf("range [%d, %d, %d]: %d values, want an error (%v values)", start, stop, step, len(vs), &want)
			}
		case err != nil:
			t.Fatalf("range [%d, %d, %d]: %v, want %v values", start, stop, step, err, &want)
		case int64(len(vs)) != want.Int64():
			t.Fatalf("range [%d, %d, %d]: %d values, want %v", start, stop, step, len(vs), &want)
		default:
			for k, v := range vs {
				var x big.Int
				x.Mul(big.NewInt(int64(k)), big.NewInt(step))
				x.Add(&x, big.NewInt(start))
				if !x.IsInt64() || int64(v.(int)) != x.Int64() {
					t.Fatalf("range [%d, %d, %d]: value %d is %v, want %v", start, stop, step, k, v, &x)
				}
			}
		}
		text := fmt.Sprintf("name: r\nkinds: [k]\naxes: [{name: i, range: [%d, %d, %d]}]", start, stop, step)
		if s, err := ParseSweep([]byte(text)); err == nil {
			if tasks, err := s.Expand(); err != nil || len(tasks) != len(vs) {
				t.Fatalf("%q: %d tasks, %v; want %d", text, len(tasks), err, len(vs))
			}
		} else if !strings.Contains(err.Error(), "axes[0]: i") {
			t.Fatalf("%q: error %v does not name the axis", text, err)
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
