package experiment

import (
	"os"
	"sort"
)

// Results is the merged content of a results directory: its sweeps, their
// tasks and the record that counts for each.
type Results struct {
	// Dir is the results directory.
	Dir string
	// Sweeps are the sweeps kept in Dir, sorted by name.
	Sweeps []*Sweep
	// Tasks are each sweep's tasks in grid order, by sweep name.
	Tasks map[string][]Task
	// Records holds one record per task: its last done record, or its last
	// failed one if it never succeeded. With sweeps, only the tasks of
	// their grid, in grid order; without, every task, sorted by id.
	Records []Record
	// Missing are the grid's tasks with no done record: never run, still
	// running, or failed.
	Missing []Task
	// Extra are the latest records of tasks in no sweep, e.g. from an
	// earlier version of a sweep file, sorted by id.
	Extra []Record
	// Warnings name what the results files hold besides records, left
	// out (see ReadDir).
	Warnings []string
	// byID indexes Records.
	byID map[string]Record
}

// Collect merges the results files of every shard in dir (see ReadDir)
// with the grid of the sweeps kept there (see LoadSweeps): one record per
// task id, the last done one winning.
func Collect(dir string) (*Results, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	sweeps, err := LoadSweeps(dir)
	if err != nil {
		return nil, err
	}
	var grid []Task
	if len(sweeps) > 0 {
		if grid, _, err = Tasks(sweeps); err != nil {
			return nil, err
		}
	}
	res, err := collectGrid(dir, grid)
	if err != nil {
		return nil, err
	}
	res.Sweeps = sweeps
	for _, s := range sweeps {
		if res.Tasks[s.Name], err = s.Expand(); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// collectGrid merges the records in dir and compares them with grid, which
// may be nil.
func collectGrid(dir string, grid []Task) (*Results, error) {
	recs, warnings, err := ReadDir(dir)
	if err != nil {
		return nil, err
	}
	last := latest(recs)
	res := &Results{Dir: dir, Tasks: map[string][]Task{}, Warnings: warnings, byID: map[string]Record{}}
	inGrid := make(map[string]bool, len(grid))
	for _, t := range grid {
		inGrid[t.ID] = true
		r, seen := last[t.ID]
		if seen {
			res.Records = append(res.Records, r)
		}
		if !seen || r.Status != StatusDone {
			res.Missing = append(res.Missing, t)
		}
	}
	var others []Record
	for id, r := range last {
		if !inGrid[id] {
			others = append(others, r)
		}
	}
	sort.Slice(others, func(i, j int) bool { return others[i].ID < others[j].ID })
	if grid == nil {
		res.Records = others
	} else {
		res.Extra = others
	}
	for _, r := range res.Records {
		res.byID[r.ID] = r
	}
	return res, nil
}

// Record returns the record that counts for a task, if any.
func (r *Results) Record(id string) (Record, bool) {
	rec, ok := r.byID[id]
	return rec, ok
}
