package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/initscope/initscope/experiment"
	// The charts of reproduce and sweep collect are drawn with
	// gonum.org/v1/plot; reproduce itself depends on no plotting library.
	_ "github.com/initscope/initscope/report/render"
	"github.com/initscope/initscope/reproduce"
	"github.com/initscope/initscope/task"
)

func runReproduce(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("reproduce", "fig1|fig2|fig3|predictive|all [--quick | --tiny] [--out DIR] [--runs R] [--shard i/n] [--data-dir DIR] [--workers W] [--plan]")
	quick := fs.Bool("quick", false, "reduced grids and 3 runs per point: all three figures in about 4 minutes on 2 cores (its tasks are a subset of the full run's)")
	tiny := fs.Bool("tiny", false, "a smoke test of the pipeline in seconds (a few points, a few training steps): its numbers mean nothing")
	out := fs.String("out", "results/reproduce", "results directory: results (shard-*.jsonl), sweeps/, CSV summaries, PNG and SVG plots, report.html")
	runs := fs.Int("runs", 0, "independent initializations per training point (default: 10, or 3 with --quick; Figure 1 trains its laws off 2/fan-in with half as many, at least 5)")
	shard := fs.String("shard", "", "run only shard i of n and skip the report (then: initscope sweep collect DIR); default: from a Slurm array's or an indexed Job's environment, else everything")
	dataDir := fs.String("data-dir", "", "directory of the CIFAR-10 binary files: Figure 3 then trains on CIFAR-10, as the paper did (default: MNIST)")
	workers := fs.Int("workers", runtime.NumCPU(), "tasks run at once (default: one per CPU); a training task uses one thread and a probe all CPUs, so that no CPU is shared, and the results do not depend on this")
	plan := fs.Bool("plan", false, "only write the figures' sweeps to DIR/sweeps, to run them with initscope sweep run, slurm or k8s")
	ops, code, ok := parseOperands(fs, args, 1, stdout, stderr)
	if !ok {
		return code
	}
	cfg := reproduce.Config{Scale: reproduce.Full, Runs: *runs}
	switch {
	case *quick && *tiny:
		return fail(stderr, fs.cmd, exitUsage, "--quick and --tiny: give one")
	case *quick:
		cfg.Scale = reproduce.Quick
	case *tiny:
		cfg.Scale = reproduce.Tiny
	}
	if *runs < 0 {
		return fail(stderr, fs.cmd, exitUsage, "--runs %d: want >= 1", *runs)
	}
	if *workers < 1 {
		return fail(stderr, fs.cmd, exitUsage, "--workers %d: want >= 1", *workers)
	}
	if *dataDir != "" {
		cfg.ImageData = "cifar10"
	}
	sweeps, err := reproduce.Plan([]string{ops[0]}, cfg)
	if err != nil {
		return fail(stderr, fs.cmd, exitUsage, "%v", err)
	}
	tasks, labels, err := taskLabels(sweeps)
	if err != nil {
		return fail(stderr, fs.cmd, exitFail, "%v", err)
	}
	s, err := resolveShard(*shard)
	if err != nil {
		return fail(stderr, fs.cmd, exitFor(err), "%v", err)
	}
	if err := experiment.WriteSweeps(*out, sweeps); err != nil {
		return fail(stderr, fs.cmd, exitFail, "%v", err)
	}
	if *plan {
		var names []string
		for _, sw := range sweeps {
			names = append(names, experiment.SweepPath(*out, sw.Name))
		}
		fmt.Fprintf(stdout, "wrote %d sweeps (%d tasks): %s\nrun each with initscope sweep run|slurm|k8s --out %s FILE, then initscope sweep collect %s\n",
			len(sweeps), len(tasks), strings.Join(names, ", "), *out, *out)
		return exitOK
	}
	ctx, stop := signalContext()
	defer stop()
	e := execution{cmd: "reproduce", dir: *out, tasks: tasks, labels: labels, shard: s, workers: *workers,
		runner: &task.Runner{DataDirs: dataDirs(*dataDir)}}
	counts, err := e.run(ctx, stderr)
	if err != nil {
		return fail(stderr, fs.cmd, exitFail, "%v (re-running the same command resumes: finished tasks are kept)", err)
	}
	if s.Count > 1 {
		fmt.Fprintf(stdout, "reproduce: shard %s done (%d tasks, %d failed); once every shard is done: initscope sweep collect %s\n",
			s, counts.Total, counts.Failed, *out)
		return failedTasks(counts)
	}
	if _, err := collect("reproduce", *out, stdout, stderr); err != nil {
		return fail(stderr, fs.cmd, exitFail, "%v", err)
	}
	return failedTasks(counts)
}

// failedTasks is the exit code of a run: exitFail if any task failed (the
// report then leaves their claims unchecked; a re-run retries them).
func failedTasks(c experiment.Counts) int {
	if c.Failed > 0 {
		return exitFail
	}
	return exitOK
}
