package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/initscope/initscope/experiment"
	"github.com/initscope/initscope/reproduce"
)

// maxClaimsBytes bounds the claims.json file read.
const maxClaimsBytes = 16 << 20

// fileTypes are the files of a results directory the server hands out, by
// extension, with their content types; anything else is refused.
var fileTypes = map[string]string{
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".html": "text/html; charset=utf-8",
	".csv":  "text/csv; charset=utf-8",
	".json": "application/json",
}

// resultsFileCSP confines a file from a results directory: a report or a
// plot can show itself and its inline styles and images, and run nothing
// (sandbox gives it an origin of its own).
const resultsFileCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; sandbox"

// ResultsDir is a results directory as the list shows it.
type ResultsDir struct {
	// Name is its path under --results: "." for --results itself, or the
	// name of a folder in it.
	Name string `json:"name"`
	// Claims says whether it holds claims.json, Report report.html.
	Claims bool `json:"claims"`
	Report bool `json:"report"`
}

// Results is the answer to /api/results/{dir}.
type Results struct {
	Name string `json:"name"`
	// Claims is claims.json as written (a list of claims, each with its
	// figure, panel, title, claim, criterion, verdict and measured
	// findings); null when there is none.
	Claims json.RawMessage `json:"claims"`
	// Figures are the plots, by file name: SVG where there is one, else
	// PNG.
	Figures []string `json:"figures"`
	// Files are the other files the server hands out (report, CSV).
	Files []string `json:"files"`
	// Progress is each sweep's tasks by outcome.
	Progress []SweepProgress `json:"progress"`
	// Extra counts the records of tasks in no sweep; Warnings are what
	// experiment.Collect left out.
	Extra    int      `json:"extra"`
	Warnings []string `json:"warnings"`
	// Updated is when a results file last changed.
	Updated time.Time `json:"updated"`
}

// SweepProgress is one sweep's progress: of its Total tasks, Done have a
// done record, Failed only failed ones, the rest none yet.
type SweepProgress struct {
	Sweep  string `json:"sweep"`
	Total  int    `json:"total"`
	Done   int    `json:"done"`
	Failed int    `json:"failed"`
}

// errNoResults is the answer when the server was started without
// --results.
var errNoResults = errors.New("no results directory: start the server with --results DIR (a reproduce or sweep results directory, or a folder of them)")

func (s *Server) handleResultsList(w http.ResponseWriter, r *http.Request) {
	if s.results == nil {
		writeError(w, http.StatusNotFound, errNoResults)
		return
	}
	var dirs []ResultsDir
	if d, ok := s.resultsDir("."); ok {
		dirs = append(dirs, d)
	}
	entries, err := fs.ReadDir(s.results.FS(), ".")
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || e.Name() == experiment.SweepDir {
			continue
		}
		if d, ok := s.resultsDir(e.Name()); ok {
			dirs = append(dirs, d)
		}
	}
	if dirs == nil {
		dirs = []ResultsDir{}
	}
	writeJSON(w, http.StatusOK, dirs)
}

// resultsDir describes the folder name under --results if it is a results
// directory: it holds sweeps, records or claims.
func (s *Server) resultsDir(name string) (ResultsDir, bool) {
	d := ResultsDir{Name: name, Claims: s.isFile(path.Join(name, reproduce.ClaimsJSON)), Report: s.isFile(path.Join(name, reproduce.ReportHTML))}
	if d.Claims {
		return d, true
	}
	if fi, err := s.results.Stat(path.Join(name, experiment.SweepDir)); err == nil && fi.IsDir() {
		return d, true
	}
	shards, _ := fs.Glob(s.results.FS(), path.Join(name, "*.jsonl"))
	return d, len(shards) > 0
}

func (s *Server) isFile(name string) bool {
	fi, err := s.results.Stat(name)
	return err == nil && fi.Mode().IsRegular()
}

// checkName checks a results directory's name from a URL: "." or one
// folder of --results, no path.
func checkName(name string) error {
	if name == "." || (name != "" && name != ".." && !strings.ContainsAny(name, `/\`) && !strings.HasPrefix(name, ".")) {
		return nil
	}
	return fmt.Errorf("results directory %q: want . or the name of a folder in --results", name)
}

func (s *Server) handleResultsDir(w http.ResponseWriter, r *http.Request) {
	if s.results == nil {
		writeError(w, http.StatusNotFound, errNoResults)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/api/results/")
	if err := checkName(name); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if _, ok := s.resultsDir(name); !ok {
		writeError(w, http.StatusNotFound, fmt.Errorf("results directory %q: not found under --results (no sweeps, records or claims.json there)", name))
		return
	}
	res, err := s.readResults(name)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// readResults reads a results directory: its claims, its figures and
// files, and its sweeps' progress (experiment.Collect).
func (s *Server) readResults(name string) (*Results, error) {
	res := &Results{Name: name, Figures: []string{}, Files: []string{}, Progress: []SweepProgress{}, Warnings: []string{}}
	entries, err := fs.ReadDir(s.results.FS(), name)
	if err != nil {
		return nil, err
	}
	svg := map[string]bool{}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".svg") {
			svg[strings.TrimSuffix(e.Name(), ".svg")] = true
		}
	}
	for _, e := range entries {
		n, ext := e.Name(), filepath.Ext(e.Name())
		if !e.Type().IsRegular() || strings.HasPrefix(n, ".") {
			continue
		}
		if info, err := e.Info(); err == nil && info.ModTime().After(res.Updated) {
			res.Updated = info.ModTime()
		}
		switch {
		case ext == ".svg" || (ext == ".png" && !svg[strings.TrimSuffix(n, ".png")]):
			res.Figures = append(res.Figures, n)
		case ext == ".html" || ext == ".csv" || (ext == ".json" && n != reproduce.ClaimsJSON):
			res.Files = append(res.Files, n)
		}
	}
	if s.isFile(path.Join(name, reproduce.ClaimsJSON)) {
		if res.Claims, err = s.readClaims(path.Join(name, reproduce.ClaimsJSON)); err != nil {
			return nil, err
		}
	}
	col, err := experiment.Collect(filepath.Join(s.cfg.Results, filepath.FromSlash(name)))
	if err != nil {
		return nil, err
	}
	res.Warnings = append(res.Warnings, col.Warnings...)
	res.Extra = len(col.Extra)
	for _, sw := range col.Sweeps {
		p := SweepProgress{Sweep: sw.Name}
		for _, t := range col.Tasks[sw.Name] {
			p.Total++
			if rec, ok := col.Record(t.ID); ok {
				if rec.Status == experiment.StatusDone {
					p.Done++
				} else {
					p.Failed++
				}
			}
		}
		res.Progress = append(res.Progress, p)
	}
	sort.Slice(res.Progress, func(i, j int) bool { return res.Progress[i].Sweep < res.Progress[j].Sweep })
	return res, nil
}

// readClaims reads claims.json through the root, checking that it is a
// JSON list; its claims are passed on as written, so that fields added
// later reach the page.
func (s *Server) readClaims(name string) (json.RawMessage, error) {
	f, err := s.results.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxClaimsBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxClaimsBytes {
		return nil, fmt.Errorf("%s: larger than %s", name, byteSize(maxClaimsBytes))
	}
	var list []json.RawMessage
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("%s: want a JSON list of claims: %v", name, err)
	}
	return json.RawMessage(b), nil
}

// handleResultsFile serves /results/DIR/FILE: a plot, the report or a
// CSV file of a results directory, read through the root, which no path
// (.., absolute, a symbolic link) can leave.
func (s *Server) handleResultsFile(w http.ResponseWriter, r *http.Request) {
	if s.results == nil {
		writeError(w, http.StatusNotFound, errNoResults)
		return
	}
	rel := strings.TrimPrefix(r.URL.Path, "/results/")
	dir, file, ok := strings.Cut(rel, "/")
	if !ok || checkName(dir) != nil || file == "" || strings.ContainsAny(file, `/\`) || strings.HasPrefix(file, ".") {
		writeError(w, http.StatusBadRequest, fmt.Errorf("%s: want /results/DIR/FILE, DIR . or a folder of --results and FILE a file in it", r.URL.Path))
		return
	}
	ctype, ok := fileTypes[strings.ToLower(filepath.Ext(file))]
	if !ok {
		writeError(w, http.StatusForbidden, fmt.Errorf("%s: only .svg, .png, .html, .csv and .json files of a results directory are served", file))
		return
	}
	f, err := s.results.Open(path.Join(dir, file))
	if err != nil {
		code := http.StatusNotFound
		if !errors.Is(err, fs.ErrNotExist) {
			code = http.StatusForbidden
		}
		writeError(w, code, fmt.Errorf("%s/%s: %v", dir, file, unwrapPath(err)))
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		writeError(w, http.StatusForbidden, fmt.Errorf("%s/%s: not a regular file", dir, file))
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Security-Policy", resultsFileCSP)
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, file, fi.ModTime(), f)
}

// unwrapPath drops the server's own path from an os error.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
