package reproduce

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/initscope/initscope/experiment"
	_ "github.com/initscope/initscope/report/render" // draws the figures
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/golden from the rendering")

// The checked-in results of a tiny reproduction (see testdata/README.md)
// and the golden files rendered from them.
const (
	recordsDir = "testdata/tiny"
	goldenDir  = "testdata/golden"
)

// TestGoldenRender renders the checked-in records of a tiny reproduction
// and compares claims.json and every CSV file with the golden files: the
// layouts users and scripts read, independent of training numerics. Run
// with -update to rewrite the golden files.
func TestGoldenRender(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(recordsDir)); err != nil {
		t.Fatal(err)
	}
	res, err := experiment.Collect(dir)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := Render(res)
	if err != nil {
		t.Fatal(err)
	}
	if rd.Missing != 0 || rd.Failed != 0 || len(rd.Figures) != 3 {
		t.Errorf("the records cover %d of %d tasks (%d failed) and figures %v: want every task of the three figures", rd.Done, rd.Tasks, rd.Failed, rd.Figures)
	}
	var compared []string
	for _, name := range rd.Files {
		if filepath.Ext(name) != ".csv" && name != ClaimsJSON {
			continue
		}
		compared = append(compared, name)
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join(goldenDir, name)
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Errorf("%s: %v (go test ./reproduce -run Golden -update writes it)", name, err)
			continue
		}
		if d := firstDifference(got, want); d != "" {
			t.Errorf("%s differs from %s (if the change is meant, go test ./reproduce -run Golden -update rewrites it):\n%s", name, golden, d)
		}
	}
	entries, err := os.ReadDir(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.Contains(compared, e.Name()) {
			t.Errorf("%s: a golden file of a file the rendering no longer writes", filepath.Join(goldenDir, e.Name()))
		}
	}
}

// firstDifference describes the first line at which got and want differ,
// or returns "" if they are equal.
func firstDifference(got, want []byte) string {
	if bytes.Equal(got, want) {
		return ""
	}
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(g), len(w)) {
		line := func(ls []string) string {
			if i < len(ls) {
				return ls[i]
			}
			return "(end of file)"
		}
		if line(g) != line(w) {
			return fmt.Sprintf("line %d:\n got: %s\nwant: %s", i+1, line(g), line(w))
		}
	}
	return "same lines, different bytes"
}
