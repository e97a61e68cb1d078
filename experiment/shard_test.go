package experiment

import (
	"strings"
	"testing"
)

// tinyGrid returns n distinct tasks.
func tinyGrid(t *testing.T, n int) []Task {
	t.Helper()
	s := &Sweep{Name: "tiny", Kinds: []string{"k"}, Axes: []Axis{{Name: "i", Range: []int{0, n}}}}
	tasks, err := s.Expand()
	if err != nil {
		t.Fatal(err)
	}
	return tasks
}

func TestShardsPartitionTheGrid(t *testing.T) {
	for _, size := range []int{1, 2, 7, 30, 101} {
		grid := tinyGrid(t, size)
		for _, n := range []int{1, 2, 3, 8, 200} {
			owner := map[string]int{}
			for i := range n {
				for _, task := range (Shard{Index: i, Count: n}).Select(grid) {
					if prev, dup := owner[task.ID]; dup {
						t.Fatalf("%d tasks, %d shards: task %s in shards %d and %d", size, n, task.ID, prev, i)
					}
					owner[task.ID] = i
				}
			}
			if len(owner) != len(grid) {
				t.Errorf("%d tasks, %d shards: the shards hold %d", size, n, len(owner))
			}
		}
		if got := (Shard{}).Select(grid); len(got) != size {
			t.Errorf("the zero shard selects %d of %d", len(got), size)
		}
	}
}

func TestParseShard(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Shard
		err  bool
	}{
		{"0/1", Shard{0, 1}, false},
		{" 3/10 ", Shard{3, 10}, false},
		{"10/10", Shard{}, true},
		{"-1/4", Shard{}, true},
		{"1/0", Shard{}, true},
		{"1", Shard{}, true},
		{"a/b", Shard{}, true},
	} {
		got, err := ParseShard(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseShard(%q) = %v, %v", c.in, got, err)
		}
		if err == nil && got.String() != strings.TrimSpace(c.in) {
			t.Errorf("%v.String() = %q", got, got.String())
		}
	}
}

func TestShardFromEnv(t *testing.T) {
	for _, c := range []struct {
		env   string // space-separated NAME=VALUE
		count int
		want  string // shard, "none" or "error: <text>"
	}{
		{"", 0, "none"},
		{"SLURM_JOB_ID=7", 4, "none"},
		{"SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_MIN=0", 0, "2/4"},
		{"SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_COUNT=4", 0, "2/4"},
		{"SLURM_ARRAY_TASK_ID=4 SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_MIN=1", 0, "3/4"},
		{"SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_MIN=1", 0, "error: want 0 <= index < count"},
		{"SLURM_ARRAY_TASK_ID=9 SLURM_ARRAY_TASK_COUNT=5 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_STEP=2", 0, "4/5"},
		{"SLURM_ARRAY_TASK_ID=4 SLURM_ARRAY_TASK_COUNT=5 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_STEP=2", 0, "error: not a regular array"},
		{"SLURM_ARRAY_TASK_ID=0 SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_MIN=1", 0, "error: not a regular array"},
		{"SLURM_ARRAY_TASK_ID=4 SLURM_ARRAY_TASK_COUNT=4", 0, "error: want 0 <= index < count"},
		{"SLURM_ARRAY_TASK_ID=2", 0, "error: SLURM_ARRAY_TASK_COUNT is not set"},
		// A resubmitted subset: ids are shard indices when the count is known.
		{"SLURM_ARRAY_TASK_ID=7 SLURM_ARRAY_TASK_COUNT=2 SLURM_ARRAY_TASK_MIN=3", 10, "7/10"},
		{"SLURM_ARRAY_TASK_ID=7 SLURM_ARRAY_TASK_COUNT=2 INITSCOPE_SHARDS=10", 0, "7/10"},
		{"SLURM_ARRAY_TASK_ID=10", 10, "error: want 0 <= index < count"},
		{"SLURM_ARRAY_TASK_ID=x", 10, "error: want a non-negative integer"},
		{"SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=-3", 0, "error: want a non-negative integer"},
		{"JOB_COMPLETION_INDEX=3", 8, "3/8"},
		{"JOB_COMPLETION_INDEX=3 INITSCOPE_SHARDS=8", 0, "3/8"},
		{"JOB_COMPLETION_INDEX=3 INITSCOPE_SHARDS=8", 5, "3/5"},
		{"JOB_COMPLETION_INDEX=3", 0, "error: the shard count is unknown"},
		{"JOB_COMPLETION_INDEX=3 INITSCOPE_SHARDS=two", 0, "error: INITSCOPE_SHARDS"},
		{"JOB_COMPLETION_INDEX=8", 8, "error: want 0 <= index < count"},
	} {
		env := map[string]string{}
		for _, kv := range strings.Fields(c.env) {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		s, ok, err := ShardFromEnv(func(k string) string { return env[k] }, c.count)
		var got string
		switch {
		case err != nil:
			got = "error: " + err.Error()
		case !ok:
			got = "none"
		default:
			got = s.String()
		}
		if got != c.want && !(strings.HasPrefix(c.want, "error: ") && strings.HasPrefix(got, "error: ") &&
			strings.Contains(got, strings.TrimPrefix(c.want, "error: "))) {
			t.Errorf("ShardFromEnv(%s, count %d) = %s, want %s", c.env, c.count, got, c.want)
		}
	}
}
