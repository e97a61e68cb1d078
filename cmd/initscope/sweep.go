package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/initscope/initscope/experiment"
	"github.com/initscope/initscope/nn"
	"github.com/initscope/initscope/reproduce"
	"github.com/initscope/initscope/task"
	"github.com/initscope/initscope/tensor"
)

// sweepCommands are the subcommands of "initscope sweep".
var sweepCommands = map[string]func(args []string, stdout, stderr io.Writer) int{
	"run":     runSweepRun,
	"slurm":   runSweepSlurm,
	"k8s":     runSweepK8s,
	"collect": runSweepCollect,
}

const sweepUsage = `usage: initscope sweep run|slurm|k8s|collect [flags] SWEEPFILE|DIR

  run      run a sweep file's tasks (or one shard of them) into a results directory
  slurm    write an sbatch job-array script that runs the sweep, one shard per array task (--submit: submit it)
  k8s      write a Kubernetes Indexed Job manifest that runs the sweep, one shard per completion index
  collect  merge the shards of a results directory: results.csv, missing tasks, and for the paper's figures plots and report.html

A sweep file (YAML or JSON) names a grid of tasks of the kinds predict, probe and train; see
reproduce/testdata/example-sweep.yaml, and the task package documentation (go doc ./task) for the params.
Run initscope sweep COMMAND -h for a command's flags.
`

func runSweep(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, sweepUsage)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, sweepUsage)
		return exitOK
	}
	cmd, ok := sweepCommands[args[0]]
	if !ok {
		return fail(stderr, "sweep", exitUsage, "unknown command %q: want run, slurm, k8s or collect (see initscope sweep -h)", args[0])
	}
	return cmd(args[1:], stdout, stderr)
}

// parseOperands parses flags that may come before, between or after the
// operands, and checks that there are n operands. It reports like
// flags.parse: usage on -h, one line on a usage error.
func parseOperands(fs *flags, args []string, n int, stdout, stderr io.Writer) ([]string, int, bool) {
	var ops []string
	rest := args
	for {
		if err := fs.FlagSet.Parse(rest); err != nil {
			code, _ := fs.parse(rest, stdout, stderr) // reports -h or the error
			return nil, code, false
		}
		if fs.NArg() == 0 {
			break
		}
		ops = append(ops, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(ops) != n {
		what := "operands"
		if n == 1 {
			what = "operand"
		}
		return nil, fail(stderr, fs.cmd, exitUsage, "got %d arguments, want %d %s: usage: initscope %s %s", len(ops), n, what, fs.cmd, fs.usage), false
	}
	return ops, exitOK, true
}

// signalContext is cancelled by SIGINT or SIGTERM (Slurm's time limit), so
// that a run stops between tasks and loses no finished one.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// resolveShard returns the --shard flag's shard, else the one a job
// array's environment gives (experiment.ShardFromEnv), else every task.
func resolveShard(flagValue string) (experiment.Shard, error) {
	if flagValue != "" {
		s, err := experiment.ParseShard(flagValue)
		if err != nil {
			return s, flagErr("shard", err)
		}
		return s, nil
	}
	s, ok, err := experiment.ShardFromEnv(os.Getenv, 0)
	if err != nil || !ok {
		return experiment.Shard{}, err
	}
	return s, nil
}

// loadSweep reads a sweep file and validates it against the kinds of task
// the runner knows (experiment.Sweep.Validate), so that nothing is run or
// written for a sweep that cannot run.
func loadSweep(path string) (*experiment.Sweep, error) {
	sw, err := experiment.LoadSweep(path)
	if err != nil {
		return nil, err
	}
	if err := sw.Validate(task.KindSpecs()); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sw, nil
}

// warn prints a warning of cmd on stderr.
func warn(stderr io.Writer, cmd, warning string) {
	fmt.Fprintf(stderr, "%s: warning: %s\n", cmd, warning)
}

// execution is a run of tasks into a results directory.
type execution struct {
	cmd        string
	dir        string
	tasks      []experiment.Task
	labels     map[string]string
	shard      experiment.Shard
	workers    int
	skipFailed bool
	runner     *task.Runner
}

// run runs the shard's unfinished tasks, printing one line per task to
// stderr, and returns the counts.
func (e execution) run(ctx context.Context, stderr io.Writer) (experiment.Counts, error) {
	if err := tensor.Init(); err != nil {
		return experiment.Counts{}, err
	}
	if err := nn.InitConv(); err != nil {
		return experiment.Counts{}, err
	}
	store, err := experiment.OpenStore(e.dir, e.shard)
	if err != nil {
		return experiment.Counts{}, err
	}
	defer store.Close()
	start := time.Now()
	counts, err := experiment.Run(ctx, e.tasks, e.shard, store, e.runner.Run, experiment.Options{
		Workers: e.workers, SkipFailed: e.skipFailed, Backend: tensor.Backend() + "; conv " + nn.ConvBackend(), Version: version, // empty: experiment.Run reads the build info
		Progress: func(p experiment.Progress) {
			n := p.Done + p.Failed
			fmt.Fprintf(stderr, "%s: [%d/%d] %s (%.1f s): %s\n", e.cmd, n, p.Total-p.Skipped,
				e.labels[p.Record.ID], p.Record.Finished.Sub(p.Record.Started).Seconds(), task.Describe(p.Record))
		},
		Warn: func(w string) { warn(stderr, e.cmd, w) },
	})
	fmt.Fprintf(stderr, "%s: shard %s: %d tasks, %d already done, %d done now, %d failed, in %.0f s\n",
		e.cmd, e.shard, counts.Total, counts.Skipped, counts.Done, counts.Failed, time.Since(start).Seconds())
	return counts, err
}

// taskLabels expands sweeps into their distinct tasks (experiment.Tasks),
// each with a label for progress lines: its sweep, its kind and the values
// of its sweep's axes.
func taskLabels(sweeps []*experiment.Sweep) ([]experiment.Task, map[string]string, error) {
	tasks, owner, err := experiment.Tasks(sweeps)
	if err != nil {
		return nil, nil, err
	}
	labels := map[string]string{}
	for _, t := range tasks {
		s := owner[t.ID]
		var axes []string
		for _, a := range s.Axes {
			if a.Name != "" {
				axes = append(axes, a.Name)
			}
			for k := range a.Zip {
				axes = append(axes, k)
			}
		}
		sort.Strings(axes)
		parts := []string{s.Name + ":", t.Kind}
		for _, k := range axes {
			parts = append(parts, fmt.Sprintf("%s=%v", k, t.Params[k]))
		}
		labels[t.ID] = strings.Join(parts, " ")
	}
	return tasks, labels, nil
}

// dataDirs maps --data-dir to the CIFAR-10 directory, the one data set
// without a default location.
func dataDirs(dir string) map[string]string {
	if dir == "" {
		return nil
	}
	return map[string]string{"cifar10": dir}
}

// collect merges a results directory and renders it, printing a summary to
// stdout (the counts, the missing tasks, the claims and the files written)
// and what the results files hold besides records to stderr.
func collect(cmd, dir string, stdout, stderr io.Writer) (*reproduce.Rendered, error) {
	res, err := experiment.Collect(dir)
	if err != nil {
		return nil, err
	}
	for _, w := range res.Warnings {
		warn(stderr, cmd, w)
	}
	rd, err := reproduce.Render(res)
	if err != nil {
		return nil, err
	}
	ew := &errWriter{w: stdout}
	ew.printf("%s: %s: %d tasks: %d done, %d failed, %d never run\n", cmd, dir, rd.Tasks, rd.Done, rd.Failed, rd.Missing)
	if len(res.Sweeps) == 0 {
		ew.printf("  (no sweeps in %s: every record found is listed)\n", filepath.Join(dir, experiment.SweepDir))
	}
	const maxListed = 10
	for i, t := range res.Missing {
		if i == maxListed {
			ew.printf("  ... and %d more (status failed or missing in %s)\n", len(res.Missing)-maxListed, reproduce.ResultsCSV)
			break
		}
		status := "never run"
		if r, ok := res.Record(t.ID); ok {
			status = "failed: " + oneLine(r.Error)
		}
		ew.printf("  missing %s %s: %s\n", t.ID, t, status)
	}
	if len(res.Extra) > 0 {
		ew.printf("  %d results belong to no sweep in the directory (an older grid?): listed in %s\n", len(res.Extra), reproduce.ResultsCSV)
	}
	width := 0
	for _, c := range rd.Claims {
		width = max(width, len(c.Panel))
	}
	for _, c := range rd.Claims {
		ew.printf("%-*s  %-13s %s\n", width, c.Panel, c.Verdict, c.Title)
	}
	ew.printf("wrote %d files in %s: %s\n", len(rd.Files), dir, strings.Join(rd.Files, ", "))
	return rd, ew.err
}

func runSweepRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("sweep run", "[--out DIR] [--shard i/n] [--workers W] [--data-dir DIR] [--skip-failed] SWEEPFILE")
	out := fs.String("out", "", "results directory (default results/NAME, NAME the sweep's name); shared by every shard")
	shard := fs.String("shard", "", "run shard i of n (tasks whose position p in the grid has p % n == i); default: from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT or JOB_COMPLETION_INDEX with "+experiment.ShardCountEnv+", else every task")
	workers := fs.Int("workers", runtime.NumCPU(), "tasks run at once (default: one per CPU); a training task uses one thread and a probe all CPUs, so that no CPU is shared, and the results do not depend on this")
	dataDir := fs.String("data-dir", "", "directory of the CIFAR-10 binary files (cifar-10-batches-bin), for tasks on cifar10")
	skipFailed := fs.Bool("skip-failed", false, "leave tasks that failed before alone instead of retrying them")
	ops, code, ok := parseOperands(fs, args, 1, stdout, stderr)
	if !ok {
		return code
	}
	sw, err := loadSweep(ops[0])
	if err != nil {
		return fail(stderr, fs.cmd, exitUsage, "%v", err)
	}
	tasks, labels, err := taskLabels([]*experiment.Sweep{sw})
	if err != nil {
		return fail(stderr, fs.cmd, exitUsage, "%v", err)
	}
	if *workers < 1 {
		return fail(stderr, fs.cmd, exitUsage, "--workers %d: want >= 1", *workers)
	}
	s, err := resolveShard(*shard)
	if err != nil {
		return fail(stderr, fs.cmd, exitFor(err), "%v", err)
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join("results", sw.Name)
	}
	if err := experiment.WriteSweeps(dir, []*experiment.Sweep{sw}); err != nil {
		return fail(stderr, fs.cmd, exitFail, "%v", err)
	}
	ctx, stop := signalContext()
	defer stop()
	e := execution{cmd: "sweep run", dir: dir, tasks: tasks, labels: labels, shard: s, workers: *workers, skipFailed: *skipFailed,
		runner: &task.Runner{DataDirs: dataDirs(*dataDir)}}
	counts, err := e.run(ctx, stderr)
	if err != nil {
		return fail(stderr, fs.cmd, exitFail, "%v", err)
	}
	fmt.Fprintf(stdout, "sweep %s: shard %s: %d tasks, %d done before, %d done, %d failed; results in %s (initscope sweep collect %s merges the shards)\n",
		sw.Name, s, counts.Total, counts.Skipped, counts.Done, counts.Failed, dir, dir)
	if counts.Failed > 0 {
		return exitFail
	}
	return exitOK
}

// sweepFile is a loaded SWEEPFILE operand.
type sweepFile struct {
	path  string
	sweep *experiment.Sweep
	tasks int // the sweep's number of tasks
}

// sweepOperand parses the flags and the one SWEEPFILE operand of a
// scheduler subcommand (slurm, k8s) and loads the sweep. On a usage error or
// a sweep that does not load it reports the error and returns ok false and
// the exit code.
func sweepOperand(fs *flags, args []string, stdout, stderr io.Writer) (sweepFile, int, bool) {
	ops, code, ok := parseOperands(fs, args, 1, stdout, stderr)
	if !ok {
		return sweepFile{}, code, false
	}
	sw, n, err := gridSize(ops[0])
	if err != nil {
		return sweepFile{}, fail(stderr, fs.cmd, exitUsage, "%v", err), false
	}
	return sweepFile{ops[0], sw, n}, exitOK, true
}

// dataDirArgs returns the arguments that pass --data-dir dir on to the
// nodes: none for an empty dir.
func dataDirArgs(dir string) []string {
	if dir == "" {
		return nil
	}
	return []string{"--data-dir", dir}
}

// gridSize loads and validates a sweep file and returns the sweep and its
// number of tasks.
func gridSize(path string) (*experiment.Sweep, int, error) {
	sw, err := loadSweep(path)
	if err != nil {
		return nil, 0, err
	}
	tasks, err := sw.Expand()
	if err != nil {
		return nil, 0, err
	}
	return sw, len(tasks), nil
}

func runSweepSlurm(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("sweep slurm", "[--out DIR] [--array-max N] [--max-running N] [--time T] [--cpus N] [--mem M] [--partition P] [--job-name NAME] [--binary PATH] [--data-dir DIR] [--script FILE] [--submit] SWEEPFILE")
	out := fs.String("out", "", "results directory, on a filesystem the compute nodes share (default results/NAME)")
	arrayMax := fs.Int("array-max", 100, "the largest job array: the sweep is split into min(tasks, N) shards, one per array task")
	maxRunning := fs.Int("max-running", 0, "array tasks running at once (sbatch --array=...%N); 0: no cap")
	timeLimit := fs.String("time", "", "time limit of each array task (sbatch --time, e.g. 02:00:00); a task cut off is re-run by submitting again")
	cpus := fs.Int("cpus", 2, "CPUs per array task (--cpus-per-task): training uses 2 BLAS threads")
	mem := fs.String("mem", "", "memory per array task (--mem, e.g. 4G)")
	partition := fs.String("partition", "", "partition (--partition)")
	jobName := fs.String("job-name", "", "job name (default initscope-NAME)")
	binary := fs.String("binary", "", "the initscope executable the nodes run (default: this one's absolute path)")
	dataDir := fs.String("data-dir", "", "directory of the CIFAR-10 binary files, as the nodes see it")
	script := fs.String("script", "", "where to write the sbatch script (default DIR/NAME.sbatch)")
	submit := fs.Bool("submit", false, "submit the script with sbatch and print the job id")
	sf, code, ok := sweepOperand(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	sw, n := sf.sweep, sf.tasks
	if *arrayMax < 1 {
		return fail(stderr, fs.cmd, exitUsage, "--array-max %d: want >= 1", *arrayMax)
	}
	dir, err := filepath.Abs(orDefault(*out, filepath.Join("results", sw.Name)))
	if err != nil {
		return fail(stderr, fs.cmd, exitFail, "%v", err)
	}
	bin := *binary
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return fail(stderr, fs.cmd, exitFail, "finding this executable: %v (give --binary)", err)
		}
	}
	logs := filepath.Join(dir, "logs")
	text, err := experiment.SlurmScript(experiment.SlurmOptions{
		SweepFile: experiment.SweepPath(dir, sw.Name), OutDir: dir, Shards: min(n, *arrayMax), MaxParallel: *maxRunning,
		JobName: orDefault(*jobName, "initscope-"+sw.Name), Time: *timeLimit, CPUsPerTask: *cpus, Mem: *mem, Partition: *partition,
		Output: filepath.Join(logs, "%x-%A_%a.out"), Binary: bin, ExtraArgs: dataDirArgs(*dataDir),
	})
	if err != nil {
		return fail(stderr, fs.cmd, exitUsage, "%v", err)
	}
	if err := experiment.WriteSweeps(dir, []*experiment.Sweep{sw}); err != nil {
		return fail(stderr, fs.cmd, exitFail, "%v", err)
	}
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return fail(stderr, fs.cmd, exitFail, "%v", err)
	}
	path := orDefault(*script, filepath.Join(dir, sw.Name+".sbatch"))
	if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
		return fail(stderr, fs.cmd, exitFail, "%v", err)
	}
	fmt.Fprintf(stdout, "wrote %s: a job array of %d tasks for the %d tasks of sweep %s; results in %s, logs in %s\n",
		path, min(n, *arrayMax), n, sw.Name, dir, logs)
	if !*submit {
		fmt.Fprintf(stdout, "submit it with: sbatch %s   (then: initscope sweep collect %s)\n", path, dir)
		return exitOK
	}
	sbatch := exec.Command("sbatch", "--parsable", path)
	sbatch.Stderr = stderr
	idText, err := sbatch.Output()
	if err != nil {
		return fail(stderr, fs.cmd, exitFail, "sbatch %s: %v", path, err)
	}
	id, _, _ := strings.Cut(strings.TrimSpace(string(idText)), ";")
	fmt.Fprintf(stdout, "submitted job %s; when it is done: initscope sweep collect %s\n", id, dir)
	return exitOK
}

// orDefault returns s, or def if s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

func runSweepK8s(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("sweep k8s", "--image IMAGE --claim PVC [--name NAME] [--namespace NS] [--mount PATH] [--out DIR] [--shards N] [--parallelism N] [--cpu C] [--memory M] [--binary PATH] [--data-dir DIR] [--sweep-path PATH] SWEEPFILE")
	image := fs.String("image", "", "container image holding the initscope binary (required)")
	claim := fs.String("claim", "", "PersistentVolumeClaim that keeps the results (required)")
	name := fs.String("name", "", "the Job's name (default initscope-NAME, made a DNS label)")
	namespace := fs.String("namespace", "", "the Job's namespace (default: kubectl's)")
	mount := fs.String("mount", "/results", "where the claim is mounted in the pod")
	out := fs.String("out", "", "results directory inside the pod, under --mount (default MOUNT/NAME)")
	shards := fs.Int("shards", 0, "completions: the sweep is split into this many shards (default min(tasks, 100))")
	parallelism := fs.Int("parallelism", 0, "pods running at once (default: all)")
	cpu := fs.String("cpu", "2", "CPU request and limit of each pod")
	memory := fs.String("memory", "", "memory request and limit of each pod (e.g. 4Gi)")
	binary := fs.String("binary", "", "the initscope executable in the image (default initscope on PATH)")
	dataDir := fs.String("data-dir", "", "directory of the CIFAR-10 binary files inside the pod")
	sweepPath := fs.String("sweep-path", "", "where the pod reads the sweep file (default DIR/sweeps/NAME.json, on the volume: copy the sweep there)")
	sf, code, ok := sweepOperand(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	sw, n := sf.sweep, sf.tasks
	if *shards < 0 {
		return fail(stderr, fs.cmd, exitUsage, "--shards %d: want >= 1, or 0 for min(tasks, 100)", *shards)
	}
	count := *shards
	if count == 0 {
		count = min(n, 100)
	}
	dir := orDefault(*out, filepath.ToSlash(filepath.Join(*mount, sw.Name)))
	jobName := *name
	if jobName == "" {
		jobName = strings.Trim(nonDNS.ReplaceAllString(strings.ToLower("initscope-"+sw.Name), "-"), "-")
		jobName = strings.TrimRight(jobName[:min(len(jobName), 50)], "-")
	}
	text, err := experiment.K8sIndexedJob(experiment.K8sOptions{
		Name: jobName, Namespace: *namespace, Image: *image, SweepFile: orDefault(*sweepPath, experiment.SweepPath(dir, sw.Name)), OutDir: dir,
		Shards: count, Parallelism: *parallelism, ClaimName: *claim, MountPath: *mount,
		CPU: *cpu, Memory: *memory, Binary: *binary, ExtraArgs: dataDirArgs(*dataDir),
	})
	if err != nil {
		return fail(stderr, fs.cmd, exitUsage, "%v", err)
	}
	if _, err := io.WriteString(stdout, text); err != nil {
		return fail(stderr, fs.cmd, exitFail, "%v", err)
	}
	if *sweepPath == "" {
		fmt.Fprintf(stderr, "sweep k8s: the pods read the sweep from %s: copy %s there (e.g. kubectl cp) before applying\n",
			experiment.SweepPath(dir, sw.Name), sf.path)
	}
	return exitOK
}

func runSweepCollect(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("sweep collect", "DIR")
	ops, code, ok := parseOperands(fs, args, 1, stdout, stderr)
	if !ok {
		return code
	}
	if _, err := collect("sweep collect", ops[0], stdout, stderr); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fail(stderr, fs.cmd, exitUsage, "%v", err)
		}
		return fail(stderr, fs.cmd, exitFail, "%v", err)
	}
	return exitOK
}
