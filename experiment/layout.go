package experiment

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// SweepDir is the folder of a results directory that keeps its sweeps. A
// results directory holds everything a sweep wrote:
//
//	shard-I-of-N.jsonl  the records of shard I of N, appended by a Store
//	sweeps/NAME.json    each sweep run into the directory (WriteSweeps), so
//	                    that collecting knows the grid: which tasks exist,
//	                    which are missing, which sweep each belongs to
//
// Whatever renders the results (CSV files, plots, reports) writes beside
// them with WriteFile.
const SweepDir = "sweeps"

// shardPath is the results file of a normalized shard in dir.
func shardPath(dir string, s Shard) string {
	return filepath.Join(dir, fmt.Sprintf("shard-%d-of-%d.jsonl", s.Index, s.Count))
}

// SweepPath is where WriteSweeps keeps the sweep called name in dir.
func SweepPath(dir, name string) string {
	return filepath.Join(dir, SweepDir, name+".json")
}

// WriteSweeps saves each sweep as SweepPath(dir, name), replacing an earlier
// version of the same name. Each file is written with WriteFile, so shards
// that start together never see a torn file.
func WriteSweeps(dir string, sweeps []*Sweep) error {
	if err := os.MkdirAll(filepath.Join(dir, SweepDir), 0o755); err != nil {
		return err
	}
	for _, s := range sweeps {
		b, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return fmt.Errorf("sweep %s: %v", s.Name, err)
		}
		if err := WriteFile(SweepPath(dir, s.Name), append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}

// LoadSweeps reads the sweeps kept in dir (see SweepDir), sorted by name.
// A directory without any is not an error.
func LoadSweeps(dir string) ([]*Sweep, error) {
	paths, err := filepath.Glob(filepath.Join(dir, SweepDir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []*Sweep
	for _, p := range paths {
		s, err := LoadSweep(p)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// WriteFile writes a file of a results directory through a temporary file
// in the same folder and a rename, so that a reader sees the old content or
// the new one, never a part.
func WriteFile(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(f.Name(), 0o644)
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing %s: %v", path, werr)
	}
	return nil
}

// Tasks expands sweeps into their distinct tasks, in order. Sweeps may
// share tasks (one figure's points may be another's), which then run once;
// owner maps each task's id to the first sweep that has it.
func Tasks(sweeps []*Sweep) (tasks []Task, owner map[string]*Sweep, err error) {
	owner = map[string]*Sweep{}
	for _, s := range sweeps {
		ts, err := s.Expand()
		if err != nil {
			return nil, nil, err
		}
		for _, t := range ts {
			if owner[t.ID] == nil {
				owner[t.ID] = s
				tasks = append(tasks, t)
			}
		}
	}
	return tasks, owner, nil
}
