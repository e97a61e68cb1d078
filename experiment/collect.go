package experiment

import "sort"

// Collection is the merged content of a results directory.
type Collection struct {
	// Records holds one record per task: its last done record, or its last
	// failed one if it never succeeded. With a grid, only the grid's tasks,
	// in grid order; without, every task, sorted by id.
	Records []Record
	// Missing are the grid's tasks with no done record: never run, still
	// running, or failed.
	Missing []Task
	// Extra are the latest records of tasks not in the grid, e.g. from an
	// earlier version of the sweep file, sorted by id.
	Extra []Record
}

// Collect merges the results files of every shard in dir (see ReadDir), keeps
// one record per task id (the last done wins) and compares them with grid,
// which may be nil.
func Collect(dir string, grid []Task) (*Collection, error) {
	recs, err := ReadDir(dir)
	if err != nil {
		return nil, err
	}
	last := latest(recs)
	c := &Collection{}
	inGrid := make(map[string]bool, len(grid))
	for _, t := range grid {
		inGrid[t.ID] = true
		r, seen := last[t.ID]
		if seen {
			c.Records = append(c.Records, r)
		}
		if !seen || r.Status != StatusDone {
			c.Missing = append(c.Missing, t)
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
		c.Records = others
	} else {
		c.Extra = others
	}
	return c, nil
}
