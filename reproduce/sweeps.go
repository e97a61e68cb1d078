package reproduce

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/initscope/initscope/experiment"
)

// SweepDir is the folder of a results directory that keeps the sweeps run
// into it, one NAME.json each, so that collecting knows the grid: which tasks
// exist, which are missing, and which belong to a figure.
const SweepDir = "sweeps"

// Tasks expands sweeps into their distinct tasks, in order. Sweeps may
// share tasks (Figure 2's square nets are Figure 1's he-normal ones), which
// then run once; owner maps each task's id to the first sweep that has it.
func Tasks(sweeps []*experiment.Sweep) (tasks []experiment.Task, owner map[string]*experiment.Sweep, err error) {
	owner = map[string]*experiment.Sweep{}
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

// SweepPath is where WriteSweeps keeps the sweep called name in dir.
func SweepPath(dir, name string) string {
	return filepath.Join(dir, SweepDir, name+".json")
}

// WriteSweeps saves each sweep as SweepPath(dir, name), replacing an earlier
// version of the same name. Each file is written to a temporary name and
// renamed, so shards that start together never see a torn file.
func WriteSweeps(dir string, sweeps []*experiment.Sweep) error {
	if err := os.MkdirAll(filepath.Join(dir, SweepDir), 0o755); err != nil {
		return err
	}
	for _, s := range sweeps {
		b, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return fmt.Errorf("sweep %s: %v", s.Name, err)
		}
		if err := writeAtomic(SweepPath(dir, s.Name), append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}

// writeAtomic writes a file through a temporary file and a rename.
func writeAtomic(path string, b []byte) error {
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

// LoadSweeps reads the sweeps kept in dir (see SweepDir), sorted by name.
// A directory without any is not an error.
func LoadSweeps(dir string) ([]*experiment.Sweep, error) {
	paths, err := filepath.Glob(filepath.Join(dir, SweepDir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []*experiment.Sweep
	for _, p := range paths {
		s, err := experiment.LoadSweep(p)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Results is the merged content of a results directory: its sweeps, their
// tasks and the record that counts for each.
type Results struct {
	// Dir is the results directory.
	Dir string
	// Sweeps are the sweeps kept in Dir, sorted by name.
	Sweeps []*experiment.Sweep
	// Tasks are each sweep's tasks in grid order, by sweep name.
	Tasks map[string][]experiment.Task
	// Collection holds the records of the grid (every sweep's tasks) and
	// the grid's missing tasks; without sweeps, every record in Dir.
	*experiment.Collection
	// byID indexes Records.
	byID map[string]experiment.Record
}

// Collect merges the results of every shard in dir with the grids of the
// sweeps kept there.
func Collect(dir string) (*Results, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	sweeps, err := LoadSweeps(dir)
	if err != nil {
		return nil, err
	}
	res := &Results{Dir: dir, Sweeps: sweeps, Tasks: map[string][]experiment.Task{}, byID: map[string]experiment.Record{}}
	var grid []experiment.Task
	seen := map[string]bool{}
	for _, s := range sweeps {
		tasks, err := s.Expand()
		if err != nil {
			return nil, err
		}
		res.Tasks[s.Name] = tasks
		for _, t := range tasks {
			if !seen[t.ID] {
				seen[t.ID] = true
				grid = append(grid, t)
			}
		}
	}
	if res.Collection, err = experiment.Collect(dir, grid); err != nil {
		return nil, err
	}
	for _, r := range res.Records {
		res.byID[r.ID] = r
	}
	return res, nil
}

// Record returns the record that counts for a task, if any.
func (r *Results) Record(id string) (experiment.Record, bool) {
	rec, ok := r.byID[id]
	return rec, ok
}
