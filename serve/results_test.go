package serve

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/initscope/initscope/experiment"
	"github.com/initscope/initscope/reproduce"
)

// TestResultsList lists the fixtures: a folder of results directories, or
// one results directory given itself.
func TestResultsList(t *testing.T) {
	_, ts := newTestServer(t, testConfig())
	var dirs []ResultsDir
	if code, _, b := get(t, ts, "/api/results", &dirs); code != http.StatusOK {
		t.Fatalf("status %d: %s", code, b)
	}
	want := []ResultsDir{{Name: "running"}, {Name: "tiny", Claims: true, Report: true}}
	if len(dirs) != 2 || dirs[0] != want[0] || dirs[1] != want[1] {
		t.Errorf("dirs %+v, want %+v", dirs, want)
	}
	cfg := testConfig()
	cfg.Results = filepath.Join(fixtures, "tiny")
	_, ts = newTestServer(t, cfg)
	if get(t, ts, "/api/results", &dirs); len(dirs) != 1 || dirs[0].Name != "." || !dirs[0].Claims {
		t.Errorf("--results tiny: dirs %+v, want . with claims", dirs)
	}
	cfg.Results = ""
	_, ts = newTestServer(t, cfg)
	var e apiError
	if code, _, _ := get(t, ts, "/api/results", &e); code != http.StatusNotFound || !strings.Contains(e.Error, "--results DIR") {
		t.Errorf("without --results: %d, %q", code, e.Error)
	}
}

// TestResultsDir checks a results directory's claims (as claims.json
// holds them, fields the page does not know included), its figures and
// its sweeps' progress against experiment.Collect.
func TestResultsDir(t *testing.T) {
	_, ts := newTestServer(t, testConfig())
	var r struct {
		Results
		Claims []map[string]any `json:"claims"`
	}
	if code, _, b := get(t, ts, "/api/results/tiny", &r); code != http.StatusOK {
		t.Fatalf("status %d: %s", code, b)
	}
	raw, err := os.ReadFile(filepath.Join(fixtures, "tiny", reproduce.ClaimsJSON))
	if err != nil {
		t.Fatal(err)
	}
	var want []map[string]any
	json.Unmarshal(raw, &want)
	if len(r.Claims) != len(want) || len(want) == 0 {
		t.Fatalf("%d claims, claims.json has %d", len(r.Claims), len(want))
	}
	for i := range want {
		if r.Claims[i]["verdict"] != want[i]["verdict"] || r.Claims[i]["panel"] != want[i]["panel"] {
			t.Errorf("claim %d: %v %v, claims.json %v %v", i, r.Claims[i]["panel"], r.Claims[i]["verdict"], want[i]["panel"], want[i]["verdict"])
		}
	}
	has := func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	}
	if !has(r.Figures, "fig1a_length.svg") || has(r.Figures, "fig1a_length.png") || !has(r.Files, "report.html") || !has(r.Files, "results.csv") {
		t.Errorf("figures %v, files %v: want the SVG plots (not their PNG twins), report.html and results.csv", r.Figures, r.Files)
	}
	total, done := 0, 0
	for _, p := range r.Progress {
		total += p.Total
		done += p.Done
	}
	if total != tinyRecords || done != tinyRecords {
		t.Errorf("tiny: %d of %d tasks done, want all %d", done, total, tinyRecords)
	}

	// A sweep half run: its progress as Collect finds it, then more after
	// records are appended.
	var run Results
	get(t, ts, "/api/results/running", &run)
	col, err := experiment.Collect(filepath.Join(fixtures, "running"))
	if err != nil {
		t.Fatal(err)
	}
	total, done = 0, 0
	for _, p := range run.Progress {
		total += p.Total
		done += p.Done
	}
	if total != tinyRecords || done != len(col.Records) || done != tinyRecords/2 || string(run.Claims) != "null" {
		t.Errorf("running: %d of %d tasks done, claims %s: want %d of %d, none", done, total, run.Claims, tinyRecords/2, tinyRecords)
	}
}

// TestResultsFiles checks that only the plots, the report and the CSV
// files of a results directory can be read, and nothing outside --results.
func TestResultsFiles(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.svg")
	if err := os.WriteFile(secret, []byte("<svg>TOP-SECRET-CONTENT</svg>"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	dir := filepath.Join(root, "res")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(fixtures, "tiny"))); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "leak.svg")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "away")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	cfg := testConfig()
	cfg.Results = root
	_, ts := newTestServer(t, cfg)

	code, hdr, body := get(t, ts, "/results/res/fig1a_length.svg", nil)
	if code != http.StatusOK || hdr.Get("Content-Type") != "image/svg+xml" || !strings.Contains(hdr.Get("Content-Security-Policy"), "sandbox") || !strings.Contains(string(body), "<svg") {
		t.Errorf("a plot: %d, %q, CSP %q", code, hdr.Get("Content-Type"), hdr.Get("Content-Security-Policy"))
	}
	if code, hdr, _ := get(t, ts, "/results/res/report.html", nil); code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || !strings.Contains(hdr.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("the report: %d, %q, CSP %q", code, hdr.Get("Content-Type"), hdr.Get("Content-Security-Policy"))
	}
	refused := []struct {
		path string
		code int
	}{
		{"/results/res/leak.svg", http.StatusForbidden},                    // a symbolic link out of --results
		{"/results/away/secret.svg", http.StatusForbidden},                 // a folder linked out of --results
		{"/results/res/..%2f..%2fsecret.svg", http.StatusBadRequest},       // an escaped slash
		{"/results/res/%2e%2e%2fres%2freport.html", http.StatusBadRequest}, // .. and a slash, escaped
		{"/results/..%2fres/report.html", http.StatusBadRequest},
		{"/results/res/notes.txt", http.StatusForbidden}, // not a results file type
		{"/results/res/shard-0-of-1.jsonl", http.StatusForbidden},
		{"/results/res/missing.svg", http.StatusNotFound},
		{"/results/res", http.StatusBadRequest},
		{"/results/res/sweeps/fig1-probe.json", http.StatusBadRequest},                     // only files directly in a results directory
		{"/results/" + strings.Repeat("x", 10) + "/../../etc/passwd", http.StatusNotFound}, // cleaned by the mux to /etc/passwd
		{"/api/results/..", http.StatusNotFound},
		{"/api/results/%2e%2e", http.StatusBadRequest},
		{"/api/results/away", http.StatusNotFound},
		{"/api/results/.hidden", http.StatusBadRequest},
	}
	for _, c := range refused {
		code, _, body := get(t, ts, c.path, nil)
		if code != c.code {
			t.Errorf("GET %s: %d %s, want %d", c.path, code, body, c.code)
		}
		if strings.Contains(string(body), "TOP-SECRET") {
			t.Errorf("GET %s leaked the file outside --results", c.path)
		}
	}
	resp, err := http.Post(ts.URL+"/results/res/report.html", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST to a results file: %d, want 405", resp.StatusCode)
	}
}
