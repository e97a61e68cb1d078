package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// predictSweep is a sweep of two predict tasks, which need no data files.
const predictSweep = `name: out
kinds: [predict]
fixed: {init: he-normal, input: ones}
axes:
  - {name: arch, values: ["fc:784-16-10", "fc:784-16x2-10"]}
`

// TestStdoutWriteError runs every subcommand, and the usage and help
// texts, with stdout on /dev/full: each must exit 1 and say on its last
// stderr line that the output could not be written, never exit 0 having
// lost it.
func TestStdoutWriteError(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer full.Close()
	noArrayEnv(t)
	sweep := filepath.Join(t.TempDir(), "out.yaml")
	if err := os.WriteFile(sweep, []byte(predictSweep), 0o644); err != nil {
		t.Fatal(err)
	}
	results := t.TempDir()
	// A results directory with one finished task, for collect.
	if code, _, errs := runCLI("sweep", "run", "--out", results, "--shard", "0/2", sweep); code != exitOK {
		t.Fatalf("sweep run: exit %d, stderr %s", code, errs)
	}
	he := []string{"--init", "he-normal"}
	for _, args := range [][]string{
		{"help"},
		{"--help"},
		{"help", "predict"},
		{"version"},
		{"inits"},
		{"inits", "--format", "json"},
		append([]string{"predict", "--arch", "fc:784-100x4-10", "--input", "ones"}, he...),
		append([]string{"predict", "--arch", "fc:784-100x4-10", "--input", "ones", "--format", "json"}, he...),
		{"predict", "-h"},
		append([]string{"probe", "--arch", "fc:64-32x4-10", "--samples", "50", "--input", "gaussian"}, he...),
		append([]string{"probe", "--arch", "fc:64-32x4-10", "--samples", "50", "--input", "gaussian", "--format", "csv"}, he...),
		append([]string{"probe", "--arch", "fc:64-32x4-10", "--samples", "50", "--input", "gaussian", "--format", "json"}, he...),
		tinyTrain,
		append(tinyTrain, "--format", "json"),
		{"reproduce", "all", "--plan", "--out", t.TempDir()},
		{"reproduce", "fig3", "--tiny", "--shard", "0/40", "--out", t.TempDir()},
		{"sweep", "-h"},
		{"sweep", "run", "--out", t.TempDir(), sweep},
		{"sweep", "slurm", "--out", t.TempDir(), "--binary", "/opt/bin/initscope", sweep},
		{"sweep", "k8s", "--image", "registry/initscope:1", "--claim", "results-pvc", sweep},
		{"sweep", "collect", results},
		{"audit", "../../testdata/models/cnn.onnx"},
		{"audit", "../../testdata/models/cnn.onnx", "--format", "json"},
		{"audit", "../../testdata/models/cnn.onnx", "--format", "csv"},
	} {
		var errb bytes.Buffer
		code := run(args, full, &errb)
		lines := strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\n")
		last := lines[len(lines)-1]
		if code != exitFail || !strings.Contains(last, "no space left on device") || !strings.HasPrefix(last, "initscope ") {
			t.Errorf("%q with stdout on /dev/full: exit %d, stderr %q; want exit %d and a last line naming the write error", args, code, errb.String(), exitFail)
		}
	}
	// The files a command writes are still there: only stdout failed.
	if _, err := os.Stat(filepath.Join(results, "results.csv")); err != nil {
		t.Error(err)
	}
}
