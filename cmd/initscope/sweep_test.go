package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The sweep files the tests run: the reproduce package's example (54 tasks,
// never run here) and the Slurm script's tiny sweep (12 quick tasks).
const (
	exampleSweep = "../../reproduce/testdata/example-sweep.yaml"
	tinySweep    = "../../scripts/slurm/testdata/tiny-sweep.yaml"
)

// noArrayEnv clears the job-array variables, so that the tests do not pick
// a shard from the environment they run in.
func noArrayEnv(t *testing.T) {
	for _, v := range []string{"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_STEP", "JOB_COMPLETION_INDEX", "INITSCOPE_SHARDS"} {
		t.Setenv(v, "")
	}
}

func TestSweepUsageErrors(t *testing.T) {
	noArrayEnv(t)
	dir := t.TempDir()
	for _, args := range [][]string{
		{"reproduce"},
		{"reproduce", "fig9"},
		{"reproduce", "fig1", "fig2"},
		{"reproduce", "fig1", "--quick", "--tiny"},
		{"reproduce", "fig1", "--runs", "-1"},
		{"reproduce", "fig1", "--shard", "2/2"},
		{"reproduce", "fig1", "--workers", "0"},
		{"reproduce", "--bogus", "fig1"},
		{"sweep", "walk"},
		{"sweep", "run"},
		{"sweep", "run", tinySweep, tinySweep},
		{"sweep", "run", "testdata/no-such-sweep.yaml"},
		{"sweep", "run", "--workers", "0", tinySweep},
		{"sweep", "run", "--shard", "1", tinySweep},
		{"sweep", "collect"},
		{"sweep", "collect", filepath.Join(dir, "nothing-here")},
		{"sweep", "slurm", "--array-max", "0", "--out", dir, tinySweep},
		{"sweep", "slurm", "--time", "1 day", "--out", dir, tinySweep},
		{"sweep", "k8s", tinySweep},
		{"sweep", "k8s", "--image", "img", "--claim", "pvc", "--out", "/elsewhere", tinySweep},
	} {
		code, out, errs := runCLI(args...)
		if code != exitUsage || out != "" || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "initscope ") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q: want exit 2 and one line on stderr", args, code, out, errs)
		}
	}
	if code, _, errs := runCLI("sweep"); code != exitUsage || !strings.Contains(errs, "usage: initscope sweep") {
		t.Errorf("sweep without a command: exit %d, stderr %q", code, errs)
	}
}

func TestSweepHelp(t *testing.T) {
	for _, args := range [][]string{{"reproduce", "-h"}, {"sweep", "-h"}, {"sweep", "run", "-h"}, {"sweep", "slurm", "-h"},
		{"sweep", "k8s", "-h"}, {"sweep", "collect", "-h"}, {"help", "reproduce"}} {
		code, out, errs := runCLI(args...)
		if code != exitOK || !strings.Contains(out, "usage: initscope") || errs != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
}

// readCSV reads a CSV file.
func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestSweepRunCollect runs the tiny sweep in two shards, one from the
// flag and one from a Slurm array's environment, and collects them.
func TestSweepRunCollect(t *testing.T) {
	noArrayEnv(t)
	dir := t.TempDir()
	code, out, errs := runCLI("sweep", "run", "--out", dir, "--shard", "0/2", tinySweep)
	if code != exitOK || !strings.Contains(out, "shard 0/2: 6 tasks, 0 done before, 6 done, 0 failed") {
		t.Fatalf("shard 0/2: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	if !strings.Contains(errs, "tiny: train depth=2 init=lecun-normal") {
		t.Errorf("progress lines do not name the tasks:\n%s", errs)
	}
	code, out, _ = runCLI("sweep", "collect", dir)
	if code != exitOK || !strings.Contains(out, "12 tasks: 6 done, 0 failed, 6 never run") || !strings.Contains(out, "missing ") {
		t.Errorf("collect after one shard: exit %d, stdout %s", code, out)
	}

	t.Setenv("SLURM_ARRAY_TASK_ID", "1")
	t.Setenv("SLURM_ARRAY_TASK_COUNT", "2")
	t.Setenv("SLURM_ARRAY_TASK_MIN", "0")
	code, out, errs = runCLI("sweep", "run", "--out", dir, tinySweep)
	if code != exitOK || !strings.Contains(out, "shard 1/2: 6 tasks, 0 done before, 6 done") {
		t.Fatalf("shard from the environment: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	code, out, _ = runCLI("sweep", "collect", dir)
	if code != exitOK || !strings.Contains(out, "12 tasks: 12 done, 0 failed, 0 never run") || strings.Contains(out, "report.html") {
		t.Errorf("collect: exit %d, stdout %s", code, out)
	}
	rows := readCSV(t, filepath.Join(dir, "results.csv"))
	if len(rows) != 13 {
		t.Fatalf("results.csv: %d rows, want a header and 12 tasks", len(rows))
	}
	status := -1
	for i, h := range rows[0] {
		if h == "status" {
			status = i
		}
	}
	for _, r := range rows[1:] {
		if r[status] != "done" {
			t.Errorf("task %s: status %s", r[0], r[status])
		}
	}
}

func TestSweepSlurm(t *testing.T) {
	noArrayEnv(t)
	dir := t.TempDir()
	code, out, errs := runCLI("sweep", "slurm", "--out", dir, "--array-max", "5", "--time", "00:10:00", "--mem", "2G",
		"--binary", "/opt/bin/initscope", "--data-dir", "/data/cifar", tinySweep)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	script := filepath.Join(dir, "tiny.sbatch")
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"#SBATCH --job-name=initscope-tiny", "#SBATCH --array=0-4", "#SBATCH --time=00:10:00", "#SBATCH --cpus-per-task=2", "#SBATCH --mem=2G",
		"#SBATCH --output=" + filepath.Join(dir, "logs", "%x-%A_%a.out"),
		"exec /opt/bin/initscope sweep run --out " + dir + ` --shard "${SLURM_ARRAY_TASK_ID}/5" --data-dir /data/cifar ` + filepath.Join(dir, "sweeps", "tiny.json"),
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("script lacks %q:\n%s", want, b)
		}
	}
	if !strings.Contains(out, "a job array of 5 tasks for the 12 tasks") {
		t.Errorf("stdout %q", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "sweeps", "tiny.json")); err != nil {
		t.Error(err)
	}

	// --submit runs sbatch: a fake one that records its arguments.
	bin := t.TempDir()
	fake := "#!/bin/sh\necho \"$@\" > " + filepath.Join(bin, "args") + "\necho '4242;local'\n"
	if err := os.WriteFile(filepath.Join(bin, "sbatch"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	code, out, errs = runCLI("sweep", "slurm", "--out", dir, "--submit", tinySweep)
	if code != exitOK || !strings.Contains(out, "submitted job 4242") {
		t.Fatalf("--submit: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	args, _ := os.ReadFile(filepath.Join(bin, "args"))
	if strings.TrimSpace(string(args)) != "--parsable "+script {
		t.Errorf("sbatch got %q", args)
	}
	if err := os.WriteFile(filepath.Join(bin, "sbatch"), []byte("#!/bin/sh\necho 'sbatch: error: no partition' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if code, _, errs = runCLI("sweep", "slurm", "--out", dir, "--submit", tinySweep); code != exitFail || !strings.Contains(errs, "no partition") {
		t.Errorf("failed sbatch: exit %d, stderr %q", code, errs)
	}
}

func TestSweepK8s(t *testing.T) {
	code, out, errs := runCLI("sweep", "k8s", "--image", "registry/initscope:1", "--claim", "results-pvc", "--memory", "4Gi", exampleSweep)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	for _, want := range []string{"kind: Job", "name: initscope-mlp-inits", "completionMode: Indexed", "completions: 54", "image: registry/initscope:1",
		"- /results/mlp-inits", "- /results/mlp-inits/sweeps/mlp-inits.json", "- $(JOB_COMPLETION_INDEX)/54", "claimName: results-pvc", "memory: 4Gi"} {
		if !strings.Contains(out, want) {
			t.Errorf("manifest lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "copy "+exampleSweep+" there") {
		t.Errorf("stderr %q: want the hint to copy the sweep file", errs)
	}
}

// TestSweepRejectsBadSweeps gives sweep run, slurm and k8s sweep files and
// flags that cannot run: each is a usage error of one line naming what is
// wrong, found before anything is written or run.
func TestSweepRejectsBadSweeps(t *testing.T) {
	noArrayEnv(t)
	files := t.TempDir()
	const (
		net   = "fixed: {arch: \"fc:784-8-10\", init: he-normal, input: ones"
		train = "kinds: [train]\nfixed: {arch: \"fc:784-8-10\", init: he-normal"
	)
	for _, c := range []struct {
		name, sweep, want string
	}{
		{"kind", "kinds: [trian]\n" + net + "}", `kinds: "trian" is not a kind of task: want predict, probe, train`},
		{"misspelled", train + ", lr: 0.1, momentun: 0.9}", `param "momentun" is read by no kind of task of the sweep (train reads arch, batch, bias, data, epochs, eval_every, eval_samples, init, logit_scale, lr, momentum, optimizer, seed, stop_at_target, target, weight_decay)`},
		{"unlabelled", "kinds: [predict]\n" + net + "}\naxes: [{name: depth, values: [1, 2]}]", `axes[0]: param "depth" is read by no kind`},
		{"label-read", "kinds: [probe]\n" + net + "}\naxes: [{name: seed, range: [1, 3]}]\nlabels: [seed]", `labels: "seed" is a param that probe tasks read`},
		{"value", train + ", lr: 0.1, batch: 0}", `param "batch": 0: want a batch size >= 1`},
		{"required", train + "}", `param "lr": missing`},
		{"arch", "kinds: [predict]\nfixed: {arch: \"fc:784-x-10\", init: he-normal}", `param "arch"`},
		{"fraction", "kinds: [predict]\n" + net + "}\naxes: [{name: r, range: [1, 4.5]}]\nlabels: [r]", `axis "r": range value 4.5: want an integer`},
		{"float", "kinds: [predict]\n" + net + "}\naxes: [{name: r, range: [1.0, 3]}]\nlabels: [r]", `axis "r": range value 1.0: want an integer`},
		{"overflow", "kinds: [predict]\n" + net + "}\naxes: [{name: r, range: [-4611686018427387904, 4611686018427387909]}]\nlabels: [r]", `r: range [-4611686018427387904 4611686018427387909]: 9223372036854775813 values, more than the 1048576`},
	} {
		path := filepath.Join(files, c.name+".yaml")
		if err := os.WriteFile(path, []byte("name: "+c.name+"\n"+c.sweep+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "out")
		for _, args := range [][]string{
			{"sweep", "run", "--out", out, path},
			{"sweep", "slurm", "--out", out, path},
			{"sweep", "k8s", "--image", "img", "--claim", "pvc", path},
		} {
			code, stdout, errs := runCLI(args...)
			if code != exitUsage || stdout != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.want) {
				t.Errorf("%q: exit %d, stdout %q, stderr %q: want exit 2 and one line saying %q", args, code, stdout, errs, c.want)
			}
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: %s was written", c.name, out)
		}
	}
	out := filepath.Join(t.TempDir(), "out")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sweep", "slurm", "--out", out, "--time", "forever", tinySweep}, `--time "forever": want MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS`},
		{[]string{"sweep", "slurm", "--out", out, "--time", "25:61:00", tinySweep}, `--time "25:61:00"`},
		{[]string{"sweep", "slurm", "--out", out, "--mem", "4 GB", tinySweep}, `--mem "4 GB"`},
		{[]string{"sweep", "slurm", "--out", out, "--partition", "a;b", tinySweep}, `--partition "a;b"`},
		{[]string{"sweep", "slurm", "--out", out, "--job-name", "x'y", tinySweep}, `--job-name "x'y"`},
		{[]string{"sweep", "k8s", "--image", "img", "--claim", "My_Claim", tinySweep}, `claim name "My_Claim": want lowercase letters`},
		{[]string{"sweep", "k8s", "--image", "Bad Image", "--claim", "pvc", tinySweep}, `image "Bad Image"`},
		{[]string{"sweep", "k8s", "--image", "img", "--claim", "pvc", "--namespace", "Team", tinySweep}, `namespace "Team"`},
		{[]string{"sweep", "k8s", "--image", "img", "--claim", "pvc", "--cpu", "lots", tinySweep}, `cpu "lots"`},
	} {
		code, stdout, errs := runCLI(c.args...)
		if code != exitUsage || stdout != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q: want exit 2 and one line saying %q", c.args, code, stdout, errs, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s was written", out)
	}
}

// TestSweepLeavesForeignShardFilesAlone runs and collects a sweep whose
// results directory holds a shard file that is not JSON at all: the run of
// that shard refuses, naming the file and changing nothing; other shards
// run, and they and collect warn about the file on stderr.
func TestSweepLeavesForeignShardFilesAlone(t *testing.T) {
	noArrayEnv(t)
	dir := t.TempDir()
	sweep := filepath.Join(dir, "ones.yaml")
	if err := os.WriteFile(sweep, []byte("name: ones\nkinds: [predict]\nfixed: {arch: \"fc:784-8-10\", init: he-normal, input: ones}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	foreign := filepath.Join(out, "shard-0-of-1.jsonl")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	const content = "id,loss\n1,0.5\n"
	if err := os.WriteFile(foreign, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, errs := runCLI("sweep", "run", "--out", out, sweep)
	if code != exitFail || stdout != "" || !strings.Contains(errs, foreign+":1: not a record: not JSON") || !strings.Contains(errs, "refusing to append") {
		t.Errorf("run into a foreign file: exit %d, stdout %q, stderr %q", code, stdout, errs)
	}
	if b, _ := os.ReadFile(foreign); string(b) != content {
		t.Errorf("the foreign file became %q", b)
	}
	warning := "warning: " + foreign + ":1: not a record"
	code, stdout, errs = runCLI("sweep", "run", "--out", out, "--shard", "0/2", sweep)
	if code != exitOK || !strings.Contains(stdout, "1 done") || !strings.Contains(errs, "sweep run: "+warning) || !strings.Contains(errs, "no records at all") {
		t.Errorf("run of another shard: exit %d, stdout %q, stderr %q", code, stdout, errs)
	}
	code, stdout, errs = runCLI("sweep", "collect", out)
	if code != exitOK || !strings.Contains(stdout, "1 tasks: 1 done") || !strings.Contains(errs, "sweep collect: "+warning) {
		t.Errorf("collect: exit %d, stdout %q, stderr %q", code, stdout, errs)
	}
	if b, _ := os.ReadFile(foreign); string(b) != content {
		t.Errorf("the foreign file became %q", b)
	}
}

// TestReproduceTiny runs Figure 3's tiny grid, then again (every task
// skipped), then one shard (no report), and plans all figures.
func TestReproduceTiny(t *testing.T) {
	noArrayEnv(t)
	dir := t.TempDir()
	code, out, errs := runCLI("reproduce", "fig3", "--tiny", "--out", dir)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	for _, want := range []string{"fig3a", "fig3b", "report.html", "fig3b_epochs.svg", "0 failed, 0 never run"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "fig3-train: train blocks=2 schedule=1/L seed=1") {
		t.Errorf("stderr lacks the progress lines:\n%s", errs)
	}
	for _, f := range []string{"report.html", "claims.json", "fig3_length.csv", "fig3a_length_relu.png", "shard-0-of-1.jsonl", "sweeps/fig3-train.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	code, _, errs = runCLI("reproduce", "--tiny", "fig3", "--out", dir)
	if code != exitOK || !strings.Contains(errs, "already done, 0 done now") {
		t.Errorf("re-run: exit %d, stderr %s", code, errs)
	}
	code, out, _ = runCLI("reproduce", "fig3", "--tiny", "--out", dir, "--shard", "1/3")
	if code != exitOK || !strings.Contains(out, "shard 1/3 done") || strings.Contains(out, "fig3a") {
		t.Errorf("shard: exit %d, stdout %s", code, out)
	}

	plan := t.TempDir()
	code, out, _ = runCLI("reproduce", "all", "--plan", "--out", plan)
	names, _ := filepath.Glob(filepath.Join(plan, "sweeps", "*.json"))
	if code != exitOK || len(names) != 11 || !strings.Contains(out, "wrote 11 sweeps") {
		t.Errorf("--plan: exit %d, %d sweep files, stdout %s", code, len(names), out)
	}
	if _, err := os.Stat(filepath.Join(plan, "shard-0-of-1.jsonl")); err == nil {
		t.Error("--plan ran tasks")
	}
}

// helperEnv makes TestHelperProcess run the command line after "--".
const helperEnv = "INITSCOPE_TEST_HELPER"

// TestHelperProcess is not a test: run as a subprocess by TestSweepKilled,
// it runs initscope with the arguments after "--".
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("a helper for TestSweepKilled")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(run(args, os.Stdout, os.Stderr))
}

// doneIDs counts the done records of each task id in a results directory.
func doneIDs(t *testing.T, dir string) map[string]int {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, "shard-*.jsonl"))
	ids := map[string]int{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			var r struct{ ID, Status string }
			if json.Unmarshal([]byte(line), &r) == nil && r.Status == "done" {
				ids[r.ID]++
			}
		}
	}
	return ids
}

// TestSweepKilled kills a real `initscope sweep run` (SIGKILL) once it has
// recorded a task, then runs the sweep again: every task ends up done
// exactly once, the ones finished before the kill included.
func TestSweepKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a few nets in a subprocess")
	}
	noArrayEnv(t)
	dir := t.TempDir()
	sweep := filepath.Join(dir, "kill.yaml")
	err := os.WriteFile(sweep, []byte(`name: kill
kinds: [train]
fixed: {arch: "fc:784-64x4-10", init: he-normal, data: mnist, lr: 0.003, momentum: 0.9, epochs: 0.3, eval_every: 20, eval_samples: 500}
axes:
  - {name: seed, range: [1, 9]}
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "--", "sweep", "run", "--out", out, sweep)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(doneIDs(t, out)) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	before := doneIDs(t, out)
	if len(before) == 0 || len(before) == 8 {
		t.Logf("killed after %d of 8 tasks (the kill should land mid-sweep)", len(before))
	}
	code, stdout, errs := runCLI("sweep", "run", "--out", out, sweep)
	if code != exitOK {
		t.Fatalf("re-run: exit %d\n%s\n%s", code, stdout, errs)
	}
	if !strings.Contains(stdout, fmt.Sprintf("%d done before, %d done", len(before), 8-len(before))) {
		t.Errorf("re-run after %d tasks: %s", len(before), stdout)
	}
	after := doneIDs(t, out)
	if len(after) != 8 {
		t.Errorf("%d tasks done, want 8", len(after))
	}
	for id, n := range after {
		if n != 1 {
			t.Errorf("task %s recorded %d times", id, n)
		}
	}
}

// TestReproduceCIFAR runs Figure 3's tiny grid on CIFAR-10 files the test
// writes (random images in the binary format): --data-dir switches the
// figure to CIFAR-10, which the report names.
func TestReproduceCIFAR(t *testing.T) {
	noArrayEnv(t)
	data := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, f := range []struct {
		name    string
		records int
	}{{"data_batch_1.bin", 100}, {"data_batch_2.bin", 100}, {"data_batch_3.bin", 100}, {"data_batch_4.bin", 100}, {"data_batch_5.bin", 100}, {"test_batch.bin", 300}} {
		b := make([]byte, f.records*(1+3*32*32))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		for r := 0; r < f.records; r++ {
			b[r*(1+3*32*32)] = byte(rng.IntN(10))
		}
		if err := os.WriteFile(filepath.Join(data, f.name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	code, out, errs := runCLI("reproduce", "fig3", "--tiny", "--out", dir, "--data-dir", data)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"on cifar10", "cifar10:0", "net:3072,dense32,resdense32x"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
}
