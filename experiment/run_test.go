package experiment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The resume test re-executes the test binary as a sweep worker: with
// helperDirEnv set, TestMain runs one shard of helperGrid with a slow runner
// instead of the tests.
const (
	helperDirEnv   = "EXPERIMENT_TEST_HELPER_DIR"
	helperShardEnv = "EXPERIMENT_TEST_HELPER_SHARD"
	helperTasks    = 24
	helperDelay    = 50 * time.Millisecond
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperDirEnv); dir != "" {
		if err := runHelper(dir, os.Getenv(helperShardEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func helperGrid() ([]Task, error) {
	s := &Sweep{Name: "helper", Kinds: []string{"slow"}, Axes: []Axis{{Name: "i", Range: []int{0, helperTasks}}}}
	return s.Expand()
}

// echoResult returns the task's params as its result.
func echoResult(t Task) json.RawMessage {
	b, _ := json.Marshal(t.Params)
	return b
}

func runHelper(dir, shardText string) error {
	grid, err := helperGrid()
	if err != nil {
		return err
	}
	shard, err := ParseShard(shardText)
	if err != nil {
		return err
	}
	store, err := OpenStore(dir, shard)
	if err != nil {
		return err
	}
	defer store.Close()
	_, err = Run(context.Background(), grid, shard, store, func(ctx context.Context, t Task) (json.RawMessage, error) {
		time.Sleep(helperDelay)
		return echoResult(t), nil
	}, Options{})
	return err
}

func startHelper(t *testing.T, dir, shard string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperDirEnv+"="+dir, helperShardEnv+"="+shard)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// countLines counts the newline-terminated lines of a file.
func countLines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

// TestResumeAfterKill runs two shards in real subprocesses, SIGKILLs one of
// them mid-sweep, leaves a torn record behind as a kill inside write(2)
// would, then runs that shard again and checks that every task is recorded
// exactly once and nothing torn is left.
func TestResumeAfterKill(t *testing.T) {
	dir := t.TempDir()
	grid, err := helperGrid()
	if err != nil {
		t.Fatal(err)
	}
	victim := startHelper(t, dir, "0/2")
	other := startHelper(t, dir, "1/2")
	victimFile := filepath.Join(dir, "shard-0-of-2.jsonl")
	deadline := time.Now().Add(20 * time.Second)
	for countLines(victimFile) < 3 {
		if time.Now().After(deadline) {
			victim.Process.Kill()
			t.Fatal("the helper wrote no records in 20 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := victim.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := victim.Wait(); err == nil {
		t.Fatal("the killed helper exited cleanly")
	}
	if err := other.Wait(); err != nil {
		t.Fatalf("shard 1/2: %v", err)
	}
	killedAt := countLines(victimFile)
	if killedAt >= helperTasks/2 {
		t.Fatalf("the helper finished all %d tasks before the kill", killedAt)
	}
	f, err := os.OpenFile(victimFile, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, `{"id":"%s","kind":"slow","params":{"i":`, grid[2*killedAt].ID)
	f.Close()

	if err := startHelper(t, dir, "0/2").Wait(); err != nil {
		t.Fatalf("re-run of shard 0/2: %v", err)
	}

	seen := map[string]int{}
	for _, name := range []string{"shard-0-of-2.jsonl", "shard-1-of-2.jsonl"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 || b[len(b)-1] != '\n' {
			t.Errorf("%s does not end with a newline", name)
		}
		for i, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
			r, err := decodeRecord(line)
			if err != nil || r.Status != StatusDone {
				t.Errorf("%s:%d: %q is not a done record: %v", name, i+1, line, err)
			}
			seen[r.ID]++
		}
	}
	for _, task := range grid {
		if seen[task.ID] != 1 {
			t.Errorf("task %s (%s) recorded %d times", task.ID, task, seen[task.ID])
		}
	}
	c, err := collectGrid(dir, grid)
	if err != nil || len(c.Missing) != 0 || len(c.Records) != helperTasks {
		t.Errorf("Collect: %d records, %d missing, %v", len(c.Records), len(c.Missing), err)
	}
	t.Logf("killed after %d of %d records; re-run finished the shard", killedAt, helperTasks/2)
}

func TestRunRecordsRetriesAndSkips(t *testing.T) {
	dir := t.TempDir()
	grid := tinyGrid(t, 10)
	var calls atomic.Int32
	failOdd := true
	runner := func(ctx context.Context, task Task) (json.RawMessage, error) {
		calls.Add(1)
		i, err := task.Int("i")
		if err != nil {
			return nil, err
		}
		switch {
		case failOdd && i%2 == 1:
			return nil, fmt.Errorf("odd %d", i)
		case i == 4:
			return json.RawMessage(`{bad`), nil
		}
		return echoResult(task), nil
	}
	run := func(shard Shard, opts Options) Counts {
		t.Helper()
		s, err := OpenStore(dir, shard)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		calls.Store(0)
		c, err := Run(context.Background(), grid, shard, s, runner, opts)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var progress []Progress
	c := run(Shard{}, Options{Host: "box", Backend: "openblas", Version: "v9", Progress: func(p Progress) { progress = append(progress, p) }})
	if c != (Counts{Total: 10, Done: 4, Failed: 6}) || calls.Load() != 10 {
		t.Errorf("first run: %+v after %d calls", c, calls.Load())
	}
	if len(progress) != 10 || progress[9].Counts != c || progress[0].Record.ID != grid[0].ID || progress[0].Remaining() != 9 {
		t.Errorf("progress: %d calls, last %+v", len(progress), progress[len(progress)-1].Counts)
	}
	r := progress[0].Record
	if r.Host != "box" || r.Backend != "openblas" || r.Version != "v9" || r.Shard != "0/1" || r.Finished.Before(r.Started) || string(r.Result) != `{"i":0}` {
		t.Errorf("record %+v", r)
	}
	if e := progress[4].Record; e.Status != StatusFailed || e.Error == "" || e.Result != nil {
		t.Errorf("invalid JSON result recorded as %+v", e)
	}

	if c := run(Shard{}, Options{SkipFailed: true}); c != (Counts{Total: 10, Skipped: 10}) || calls.Load() != 0 {
		t.Errorf("with SkipFailed: %+v after %d calls", c, calls.Load())
	}
	failOdd = false
	if c := run(Shard{1, 2}, Options{Workers: 3}); c != (Counts{Total: 5, Done: 5}) || calls.Load() != 5 {
		t.Errorf("retrying shard 1/2: %+v after %d calls", c, calls.Load())
	}
	if c := run(Shard{}, Options{Workers: 3}); c != (Counts{Total: 10, Skipped: 9, Failed: 1}) || calls.Load() != 1 {
		t.Errorf("retrying all: %+v after %d calls", c, calls.Load())
	}
	col, err := collectGrid(dir, grid)
	if err != nil || len(col.Missing) != 1 || col.Missing[0].ID != grid[4].ID {
		t.Errorf("Collect: missing %v, %v; want task 4 only", col.Missing, err)
	}
}

func TestRunParallelAndCancel(t *testing.T) {
	dir := t.TempDir()
	grid := tinyGrid(t, 40)
	s, err := OpenStore(dir, Shard{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var running, peak atomic.Int32
	runner := func(ctx context.Context, task Task) (json.RawMessage, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		select {
		case <-time.After(20 * time.Millisecond):
			return echoResult(task), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c, err := Run(ctx, grid, Shard{}, s, runner, Options{Workers: 4, Progress: func(p Progress) {
		if p.Done == 10 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel: error %v", err)
	}
	if c.Done < 10 || c.Done > 14 || c.Failed != 0 || c.Remaining() == 0 {
		t.Errorf("cancelled run: %+v", c)
	}
	if peak.Load() != 4 {
		t.Errorf("peak concurrency %d, want 4", peak.Load())
	}
	recs, warnings, err := ReadDir(dir)
	if err != nil || len(recs) != c.Done || warnings != nil {
		t.Errorf("%d records for %d done, warnings %q, %v", len(recs), c.Done, warnings, err)
	}
	c2, err := Run(context.Background(), grid, Shard{}, s, runner, Options{Workers: 4})
	if err != nil || c2.Skipped != c.Done || c2.Done != 40-c.Done {
		t.Errorf("resumed run: %+v, %v", c2, err)
	}
	if _, err := Run(context.Background(), grid, Shard{}, s, nil, Options{}); err == nil {
		t.Error("Run without a runner: no error")
	}
	if _, err := Run(context.Background(), []Task{{Kind: "x"}}, Shard{}, s, runner, Options{}); err == nil {
		t.Error("Run with a task without an id: no error")
	}
	if _, err := Run(context.Background(), grid, Shard{2, 2}, s, runner, Options{}); err == nil {
		t.Error("Run with shard 2/2: no error")
	}
}
