package experiment

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard selects the tasks whose position i in the grid's order has
// i % Count == Index. The shards 0/n ... (n-1)/n partition any grid. The zero
// Shard selects every task.
type Shard struct {
	// Index is this shard's number, 0 <= Index < Count.
	Index int
	// Count is the number of shards the grid is split into.
	Count int
}

// String writes the shard as "index/count".
func (s Shard) String() string {
	if s.Count <= 1 {
		return "0/1"
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Contains reports whether the task at position i belongs to the shard.
func (s Shard) Contains(i int) bool {
	return s.Count <= 1 || i%s.Count == s.Index
}

// Select returns the shard's tasks, in order.
func (s Shard) Select(tasks []Task) []Task {
	var out []Task
	for i, t := range tasks {
		if s.Contains(i) {
			out = append(out, t)
		}
	}
	return out
}

// normalized returns the shard, the zero Shard as 0/1, or an error if it is
// not 0 <= Index < Count.
func (s Shard) normalized() (Shard, error) {
	if s == (Shard{}) {
		return Shard{0, 1}, nil
	}
	return s, s.validate()
}

// validate checks 0 <= Index < Count.
func (s Shard) validate() error {
	if s.Count < 1 || s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("shard %d/%d: want 0 <= index < count", s.Index, s.Count)
	}
	return nil
}

// ParseShard reads "i/n", e.g. "3/10" for the fourth of ten shards.
func ParseShard(text string) (Shard, error) {
	i, n, ok := strings.Cut(strings.TrimSpace(text), "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q: want index/count, e.g. 0/4", text)
	}
	var s Shard
	var err1, err2 error
	s.Index, err1 = strconv.Atoi(i)
	s.Count, err2 = strconv.Atoi(n)
	if err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q: want index/count as integers, e.g. 0/4", text)
	}
	if err := s.validate(); err != nil {
		return Shard{}, fmt.Errorf("shard %q: want 0 <= index < count, e.g. 0/4", text)
	}
	return s, nil
}

// ShardCountEnv names the environment variable that gives the shard count
// when the scheduler does not (Kubernetes indexed jobs).
const ShardCountEnv = "INITSCOPE_SHARDS"

// ShardFromEnv finds this process's shard in the environment of a job array,
// reading variables through getenv (os.Getenv in a program). It reports
// ok = false when no scheduler index is set. count is the number of shards
// if known (e.g. from a command-line flag), else 0.
//
// Slurm: the index is SLURM_ARRAY_TASK_ID. With count > 0 (or
// INITSCOPE_SHARDS set), array task ids are shard indices, so a subset of
// shards can be resubmitted (sbatch --array=3,7). Otherwise the count is
// SLURM_ARRAY_TASK_COUNT and the index is (id - SLURM_ARRAY_TASK_MIN) /
// SLURM_ARRAY_TASK_STEP, which suits any full array a-b[:s].
//
// Kubernetes: the index is JOB_COMPLETION_INDEX and the count must come from
// count or INITSCOPE_SHARDS.
func ShardFromEnv(getenv func(string) string, count int) (s Shard, ok bool, err error) {
	env := envInts{getenv: getenv}
	if count <= 0 {
		if c, set := env.get(ShardCountEnv); set {
			count = c
		}
	}
	if id, set := env.get("SLURM_ARRAY_TASK_ID"); set && env.err == nil {
		source := fmt.Sprintf("SLURM_ARRAY_TASK_ID=%d with %d shards", id, count)
		if count <= 0 {
			n, set := env.get("SLURM_ARRAY_TASK_COUNT")
			lo, _ := env.get("SLURM_ARRAY_TASK_MIN")
			step, _ := env.get("SLURM_ARRAY_TASK_STEP")
			if env.err != nil {
				return Shard{}, false, env.err
			}
			if !set {
				return Shard{}, false, fmt.Errorf("SLURM_ARRAY_TASK_ID=%d but SLURM_ARRAY_TASK_COUNT is not set: give the shard count (%s or a flag)", id, ShardCountEnv)
			}
			step = max(step, 1)
			source = fmt.Sprintf("SLURM_ARRAY_TASK_ID=%d (min %d, step %d, count %d)", id, lo, step, n)
			if id < lo || (id-lo)%step != 0 {
				return Shard{}, false, fmt.Errorf("%s: not a regular array: give the shard count (%s or a flag) so that array ids are shard indices", source, ShardCountEnv)
			}
			id, count = (id-lo)/step, n
		}
		return checkShard(Shard{id, count}, source)
	}
	if idx, set := env.get("JOB_COMPLETION_INDEX"); set && env.err == nil {
		if count <= 0 {
			return Shard{}, false, fmt.Errorf("JOB_COMPLETION_INDEX=%d: the shard count is unknown: set %s to the job's completions", idx, ShardCountEnv)
		}
		return checkShard(Shard{idx, count}, fmt.Sprintf("JOB_COMPLETION_INDEX=%d with %d shards", idx, count))
	}
	return Shard{}, false, env.err
}

// checkShard validates a shard found in the environment.
func checkShard(s Shard, source string) (Shard, bool, error) {
	if err := s.validate(); err != nil {
		return Shard{}, false, fmt.Errorf("%s: %v", source, err)
	}
	return s, true, nil
}

// envInts reads non-negative integers from the environment, keeping the
// first error.
type envInts struct {
	getenv func(string) string
	err    error
}

// get returns the variable's value and whether it is set.
func (e *envInts) get(name string) (int, bool) {
	v := strings.TrimSpace(e.getenv(name))
	if v == "" {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		if e.err == nil {
			e.err = fmt.Errorf("%s=%q: want a non-negative integer", name, v)
		}
		return 0, false
	}
	return n, true
}
