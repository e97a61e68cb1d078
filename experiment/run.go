package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"time"
)

// Runner measures one task and returns its result as JSON. It should return
// promptly, with an error, once ctx is cancelled.
type Runner func(ctx context.Context, t Task) (json.RawMessage, error)

// Options tune Run. The zero value runs tasks one at a time and retries
// failed tasks.
type Options struct {
	// Workers is how many tasks run at once; 0 or 1 runs them one after
	// another, in grid order.
	Workers int
	// SkipFailed leaves alone tasks whose last record is a failure, instead
	// of running them again.
	SkipFailed bool
	// Host is recorded with each result; empty means os.Hostname.
	Host string
	// Backend is recorded with each result (e.g. which BLAS ran).
	Backend string
	// Version is recorded with each result; empty means the main module's
	// version and VCS revision from the build info.
	Version string
	// Progress, if set, is called after each task is recorded, from the
	// goroutine that ran it, never concurrently.
	Progress func(Progress)
	// Warn, if set, is called before any task runs with each warning about
	// what the directory's results files hold besides records (see
	// ReadDir): the run leaves it out, and so may run such tasks again.
	Warn func(string)
}

// Counts tally a run over one shard.
type Counts struct {
	// Total is the number of tasks in the shard.
	Total int
	// Skipped were already done (or, with SkipFailed, failed) before the run.
	Skipped int
	// Done and Failed were run and recorded by this run.
	Done, Failed int
}

// Remaining is the number of the shard's tasks neither skipped nor recorded.
func (c Counts) Remaining() int { return c.Total - c.Skipped - c.Done - c.Failed }

// Progress reports one recorded task.
type Progress struct {
	// Counts are the tallies so far, this task included.
	Counts
	// Record is the task's record, as written.
	Record Record
}

// Run runs the shard's tasks that the store's directory does not already hold
// as done, recording each in store as soon as it finishes. A runner error is
// recorded as a failed task and the run goes on. Cancelling ctx stops the run:
// no new task starts, tasks that return an error because of the cancellation
// are not recorded (a re-run does them), and Run returns ctx's error. An error
// writing the store stops the run too.
func Run(ctx context.Context, tasks []Task, shard Shard, store *Store, runner Runner, opts Options) (Counts, error) {
	shard, err := shard.normalized()
	if err != nil {
		return Counts{}, err
	}
	if runner == nil {
		return Counts{}, fmt.Errorf("experiment.Run: no runner")
	}
	for i, t := range tasks {
		if t.ID == "" {
			return Counts{}, fmt.Errorf("task %d (%s) has no id: make tasks with NewTask or Sweep.Expand", i, t.Kind)
		}
	}
	prior, warnings, err := ReadDir(store.Dir())
	if err != nil {
		return Counts{}, err
	}
	if opts.Warn != nil {
		for _, w := range warnings {
			opts.Warn(w)
		}
	}
	last := latest(prior)
	mine := shard.Select(tasks)
	var pending []Task
	for _, t := range mine {
		r, seen := last[t.ID]
		if seen && (r.Status == StatusDone || opts.SkipFailed) {
			continue
		}
		pending = append(pending, t)
	}
	counts := Counts{Total: len(mine), Skipped: len(mine) - len(pending)}
	if len(pending) == 0 {
		return counts, nil
	}
	stamp := Record{Host: opts.Host, Shard: shard.String(), Backend: opts.Backend, Version: opts.Version}
	if stamp.Host == "" {
		stamp.Host, _ = os.Hostname()
	}
	if stamp.Version == "" {
		stamp.Version = buildVersion()
	}

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		mu       sync.Mutex
		storeErr error
		wg       sync.WaitGroup
	)
	queue := make(chan Task)
	for range max(1, min(opts.Workers, len(pending))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range queue {
				rec, ok := attempt(ctx, t, runner, stamp)
				if !ok {
					continue // cancelled: leave it for a re-run
				}
				err := store.Append(rec)
				mu.Lock()
				switch {
				case err != nil:
					if storeErr == nil {
						storeErr = err
					}
					stop()
				case rec.Status == StatusDone:
					counts.Done++
				default:
					counts.Failed++
				}
				if err == nil && opts.Progress != nil {
					opts.Progress(Progress{Counts: counts, Record: rec})
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, t := range pending {
		select {
		case queue <- t:
		case <-ctx.Done():
			break feed
		}
	}
	close(queue)
	wg.Wait()
	if storeErr != nil {
		return counts, storeErr
	}
	if counts.Remaining() > 0 {
		return counts, context.Cause(ctx) // only a cancellation leaves tasks unrecorded
	}
	return counts, nil
}

// attempt runs one task and returns its record, or ok = false if it failed
// because ctx was cancelled.
func attempt(ctx context.Context, t Task, runner Runner, stamp Record) (rec Record, ok bool) {
	if ctx.Err() != nil {
		return Record{}, false
	}
	rec = stamp
	rec.ID, rec.Kind, rec.Params = t.ID, t.Kind, t.Params
	rec.Started = time.Now().UTC()
	result, err := runner(ctx, t)
	rec.Finished = time.Now().UTC()
	switch {
	case err != nil && ctx.Err() != nil:
		return Record{}, false
	case err != nil:
		rec.Status, rec.Error = StatusFailed, err.Error()
	case result != nil && !json.Valid(result):
		rec.Status, rec.Error = StatusFailed, fmt.Sprintf("the runner returned invalid JSON: %.80q", result)
	default:
		rec.Status, rec.Result = StatusDone, result
	}
	return rec, true
}

// buildVersion describes the running binary: the main module's version and,
// when known, its VCS revision ("v1.2.0", "(devel)+0123456789ab-dirty").
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	v := bi.Main.Version
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev != "" {
		v += "+" + rev + dirty
	}
	return v
}
