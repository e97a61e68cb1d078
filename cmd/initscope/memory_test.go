package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// limitKiB is the address-space limit (ulimit -v, in KiB) the subprocess
// tests run initscope under: about 3.8 GiB, of which the Go runtime, the
// test binary and OpenBLAS map about 1.5 GiB before any work.
const limitKiB = 4000000

// underLimit runs initscope with args in a subprocess (TestHelperProcess)
// whose address space is limited to limitKiB, and returns its exit code,
// stdout and stderr. It skips the test where bash cannot set the limit.
func underLimit(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skipf("no bash to run ulimit -v: %v", err)
	}
	if err := exec.Command(bash, "-c", "ulimit -v "+strconv.Itoa(limitKiB)).Run(); err != nil {
		t.Skipf("ulimit -v %d: %v", limitKiB, err)
	}
	script := `ulimit -v "$1" || exit 99; shift; exec "$@"`
	cmd := exec.Command(bash, append([]string{"-c", script, "bash", strconv.Itoa(limitKiB), os.Args[0], "-test.run=^TestHelperProcess$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %v: %v", args, err)
	}
	if code == 99 {
		t.Skipf("ulimit -v %d failed in the subprocess", limitKiB)
	}
	return code, stdout.String(), stderr.String()
}

// checkRefused checks that a command was refused with exit code want and
// one line on stderr holding every one of parts, not a Go fatal error.
func checkRefused(t *testing.T, args []string, code int, stderr string, want int, parts ...string) {
	t.Helper()
	if code != want || strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, "fatal error") || strings.Contains(stderr, "goroutine") {
		t.Errorf("%s: exit %d (want %d), stderr:\n%.2000s", strings.Join(args, " "), code, want, stderr)
		return
	}
	for _, p := range parts {
		if !strings.Contains(stderr, p) {
			t.Errorf("%s: stderr %q does not say %q", strings.Join(args, " "), stderr, p)
		}
	}
}

// TestMemoryRefused runs commands whose memory is far beyond the limit of
// the process, under ulimit -v: each is refused before it allocates, with
// exit 2 and one line that names the flag at fault and gives the estimate
// and the limit.
func TestMemoryRefused(t *testing.T) {
	trainArgs := func(arch, batch string) []string {
		return []string{"train", "--arch", arch, "--init", "he-normal", "--lr", "0.01", "--epochs", "1", "--batch", batch}
	}
	probeArgs := func(arch, workers string) []string {
		return []string{"probe", "--arch", arch, "--init", "he-normal", "--input", "gaussian", "--method", "network", "--samples", "10", "--workers", workers}
	}
	for _, c := range []struct {
		args  []string
		parts []string
	}{
		// A batch of the whole training set: 8.9 GiB of activations and
		// gradients, split over the 2 threads' replicas of the model.
		{trainArgs("fc:784-20000-10", "1000000000"), []string{"--batch: 1000000000: needs about 9.4 GiB", "GiB", "a batch of 60000, the whole training set", "this process may use", "use a batch of at most"}},
		// 26 G parameters, 486 GiB with their gradients, SGD's state and
		// the evaluation copy's weights and gradients.
		{trainArgs("fc:784-30000x30-10", "1"), []string{"--arch: needs about 48", "GiB", "26.1 G parameters", "this process may use", "use a smaller net"}},
		// One network sampler needs 13 GiB of buffers.
		{probeArgs("net:1x4096x4096,conv16k3,conv16k3", "1"), []string{"--arch: needs about 13.0 GiB", "this process may use", "use a smaller net"}},
		// 8 workers of 830 MiB each.
		{probeArgs("net:1x1024x1024,conv16k3,conv16k3", "8"), []string{"--workers: 8: needs about 6.5 GiB", "8 workers x", "this process may use", "use at most"}},
	} {
		t.Run(c.args[0]+" "+c.args[2], func(t *testing.T) {
			code, _, stderr := underLimit(t, c.args...)
			checkRefused(t, c.args, code, stderr, exitUsage, c.parts...)
		})
	}
}

// TestBatchBeyondData checks that a batch larger than the training set
// trains on the whole set at each step, under ulimit -v, allocating for the
// set rather than for the batch asked for.
func TestBatchBeyondData(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a step on all of MNIST in a subprocess")
	}
	args := []string{"train", "--arch", "fc:784-10", "--init", "he-normal", "--lr", "0.01", "--epochs", "1", "--batch", "1000000000"}
	code, stdout, stderr := underLimit(t, args...)
	if code != exitOK || !strings.Contains(stdout, "batch 1000000000 (1 steps an epoch)") {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%.2000s", code, stdout, stderr)
	}
}

// TestFilesNotRegular checks that a sweep file or a CIFAR-10 batch that is
// a symbolic link to /dev/zero, or a FIFO, is refused by name with one
// line, unread (reading /dev/zero whole never ends; opening a FIFO waits).
func TestFilesNotRegular(t *testing.T) {
	dir := t.TempDir()
	zero := filepath.Join(dir, "zero.yaml")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Skipf("symlink: %v", err)
	}
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	cifar := filepath.Join(dir, "cifar")
	if err := os.Mkdir(cifar, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"data_batch_1.bin", "test_batch.bin"} {
		if err := os.Symlink("/dev/zero", filepath.Join(cifar, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		args  []string
		code  int
		parts []string
	}{
		{[]string{"sweep", "run", "--out", filepath.Join(dir, "out"), zero}, exitUsage, []string{zero, "not a regular file (a character device)"}},
		{[]string{"sweep", "slurm", "--out", filepath.Join(dir, "out"), fifo}, exitUsage, []string{fifo, "not a regular file (a named pipe)"}},
		{[]string{"train", "--arch", "net:3x32x32,conv4k3,gap,dense10", "--init", "he-normal", "--lr", "0.01", "--data", "cifar10", "--data-dir", cifar},
			exitFail, []string{"data_batch_1.bin", "not a regular file (a character device)"}},
	} {
		code, _, stderr := underLimit(t, c.args...)
		checkRefused(t, c.args, code, stderr, c.code, c.parts...)
	}
}
