package experiment

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestSlurmScript(t *testing.T) {
	got, err := SlurmScript(SlurmOptions{
		SweepFile: "sweeps/fig1.yaml", OutDir: "/scratch/me/fig1 results", Shards: 16, MaxParallel: 4,
		JobName: "fig1", Time: "02:00:00", CPUsPerTask: 2, Mem: "4G", Partition: "cpu",
		Output: "logs/%x-%A_%a.out", Binary: "/opt/initscope/bin/initscope",
		ExtraArgs: []string{"--workers", "2"}, Setup: []string{"module load openblas"},
	})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "slurm.golden", got)
	minimal, err := SlurmScript(SlurmOptions{SweepFile: "s.yaml", OutDir: "out", Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "slurm-minimal.golden", minimal)
	for _, o := range []SlurmOptions{
		{OutDir: "out", Shards: 1},
		{SweepFile: "s.yaml", OutDir: "out"},
		{SweepFile: "s.yaml", OutDir: "out", Shards: 2, MaxParallel: -1},
		{SweepFile: "s.yaml", OutDir: "out", Shards: 2, JobName: "a b"},
		{SweepFile: "s.yaml", OutDir: "out", Shards: 2, Setup: []string{"a\nb"}},
		{SweepFile: "s.yaml", OutDir: "out\nrm -rf /", Shards: 2},
	} {
		if _, err := SlurmScript(o); err == nil {
			t.Errorf("SlurmScript(%+v): no error", o)
		}
	}
}

func TestK8sIndexedJob(t *testing.T) {
	got, err := K8sIndexedJob(K8sOptions{
		Name: "fig1", Image: "ghcr.io/initscope/initscope:v0.1.0",
		SweepFile: "/results/sweeps/fig1.yaml", OutDir: "/results/fig1", Shards: 16, Parallelism: 4,
		ClaimName: "initscope-results", CPU: "2", Memory: "4Gi", ExtraArgs: []string{"--workers", "2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "k8s.golden", got)
	base := K8sOptions{Name: "j", Image: "i", SweepFile: "/r/s.yaml", OutDir: "/r/out", Shards: 2, ClaimName: "c", MountPath: "/r"}
	if _, err := K8sIndexedJob(base); err != nil {
		t.Errorf("K8sIndexedJob(%+v): %v", base, err)
	}
	for _, change := range []func(*K8sOptions){
		func(o *K8sOptions) { o.Name = "Fig1" },
		func(o *K8sOptions) { o.Name = strings.Repeat("a", 51) },
		func(o *K8sOptions) { o.Image = "" },
		func(o *K8sOptions) { o.ClaimName = "" },
		func(o *K8sOptions) { o.Shards = 0 },
		func(o *K8sOptions) { o.Parallelism = -1 },
		func(o *K8sOptions) { o.OutDir = "/rr/out" },
		func(o *K8sOptions) { o.OutDir = "out" },
		func(o *K8sOptions) { o.MountPath = "/" },
	} {
		o := base
		change(&o)
		if _, err := K8sIndexedJob(o); err == nil {
			t.Errorf("K8sIndexedJob(%+v): no error", o)
		}
	}
}

// TestEmittedFieldsAreChecked gives the emitters values that Slurm or
// Kubernetes would reject, or read differently: each is an error naming the
// field and the value, and the valid forms pass.
func TestEmittedFieldsAreChecked(t *testing.T) {
	slurm := SlurmOptions{SweepFile: "s.yaml", OutDir: "out", Shards: 2}
	for _, c := range []struct {
		change func(*SlurmOptions)
		want   string // "" for valid
	}{
		{func(o *SlurmOptions) { o.Time = "forever" }, `--time "forever": want MM, MM:SS, HH:MM:SS, D-HH`},
		{func(o *SlurmOptions) { o.Time = "1:60" }, `--time "1:60"`},
		{func(o *SlurmOptions) { o.Time = "1:00:60" }, `--time`},
		{func(o *SlurmOptions) { o.Time = "1-24" }, `--time`},
		{func(o *SlurmOptions) { o.Time = "1-2:3:4:5" }, `--time`},
		{func(o *SlurmOptions) { o.Time = "-5" }, `--time`},
		{func(o *SlurmOptions) { o.Time = "99999999999" }, `--time`},
		{func(o *SlurmOptions) { o.Time = "999999999-00" }, `--time`},
		{func(o *SlurmOptions) { o.Time = "2h" }, `--time`},
		{func(o *SlurmOptions) { o.JobName = "fig1;rm" }, `--job-name "fig1;rm": want letters`},
		{func(o *SlurmOptions) { o.JobName = "a\"b" }, `--job-name`},
		{func(o *SlurmOptions) { o.Mem = "lots" }, `--mem "lots": want a whole number`},
		{func(o *SlurmOptions) { o.Mem = "4.5G" }, `--mem`},
		{func(o *SlurmOptions) { o.Mem = "-4G" }, `--mem`},
		{func(o *SlurmOptions) { o.Partition = "cpu gpu" }, `--partition "cpu gpu"`},
		{func(o *SlurmOptions) { o.Partition = "cpu,,gpu" }, `--partition`},
		{func(o *SlurmOptions) { o.CPUsPerTask = -2 }, `cpus per task -2`},
		{func(o *SlurmOptions) { o.Shards = math.MaxInt }, `shards, at most 0 running: want at most 4000001`},
		{func(o *SlurmOptions) { o.MaxParallel = 1 << 40 }, `want at most 4000001`},
		{func(o *SlurmOptions) { o.Time = "30" }, ""},
		{func(o *SlurmOptions) { o.Time = "90:30" }, ""},
		{func(o *SlurmOptions) { o.Time = "48:00:00" }, ""},
		{func(o *SlurmOptions) { o.Time = "2-12" }, ""},
		{func(o *SlurmOptions) { o.Time = "2-12:30" }, ""},
		{func(o *SlurmOptions) { o.Time = "2-12:30:59" }, ""},
		{func(o *SlurmOptions) { o.Time = "UNLIMITED" }, ""},
		{func(o *SlurmOptions) { o.Mem, o.Partition, o.JobName = "4000", "cpu,gpu_big", "initscope-fig1.v2" }, ""},
		{func(o *SlurmOptions) { o.Mem = "16g" }, ""},
	} {
		o := slurm
		c.change(&o)
		_, err := SlurmScript(o)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("SlurmScript(%+v): error %v, want %q", o, err, c.want)
		}
	}
	k8s := K8sOptions{Name: "j", Image: "i", SweepFile: "/r/s.yaml", OutDir: "/r/out", Shards: 2, ClaimName: "c", MountPath: "/r"}
	for _, c := range []struct {
		change func(*K8sOptions)
		want   string
	}{
		{func(o *K8sOptions) { o.ClaimName = "My_Claim" }, `claim name "My_Claim": want lowercase letters`},
		{func(o *K8sOptions) { o.ClaimName = "-claim" }, `claim name`},
		{func(o *K8sOptions) { o.ClaimName = "claim." }, `claim name`},
		{func(o *K8sOptions) { o.ClaimName = strings.Repeat("a", 254) }, `claim name`},
		{func(o *K8sOptions) { o.Namespace = "team.a" }, `namespace "team.a"`},
		{func(o *K8sOptions) { o.Namespace = strings.Repeat("a", 64) }, `namespace`},
		{func(o *K8sOptions) { o.Name = "job-" }, `job name "job-"`},
		{func(o *K8sOptions) { o.Image = "Registry/Initscope" }, `image "Registry/Initscope": want an image reference`},
		{func(o *K8sOptions) { o.Image = "initscope:" }, `image`},
		{func(o *K8sOptions) { o.Image = "a b" }, `image`},
		{func(o *K8sOptions) { o.Image = "initscope@sha256:abc" }, `image`},
		{func(o *K8sOptions) { o.Image = strings.Repeat("a", 256) }, `image`},
		{func(o *K8sOptions) { o.CPU = "two" }, `cpu "two": want a positive quantity`},
		{func(o *K8sOptions) { o.CPU = "0" }, `cpu "0"`},
		{func(o *K8sOptions) { o.CPU = "-1" }, `cpu`},
		{func(o *K8sOptions) { o.Memory = "4GB" }, `memory "4GB"`},
		{func(o *K8sOptions) { o.Shards = 1 << 31 }, `want at most 2147483647 completions`},
		{func(o *K8sOptions) { o.Parallelism = 100001 }, `parallelism of at most 100000`},
		{func(o *K8sOptions) { o.Shards = 200000 }, ""},
		{func(o *K8sOptions) { o.ClaimName = "results.team-a" }, ""},
		{func(o *K8sOptions) { o.Namespace = "team-a" }, ""},
		{func(o *K8sOptions) { o.Image = "registry.example:5000/team/initscope:v1.2_rc-1" }, ""},
		{func(o *K8sOptions) { o.Image = "localhost/initscope@sha256:" + strings.Repeat("0f", 32) }, ""},
		{func(o *K8sOptions) { o.Image = "[::1]:5000/initscope" }, ""},
		{func(o *K8sOptions) { o.CPU, o.Memory = "500m", "512Mi" }, ""},
		{func(o *K8sOptions) { o.CPU, o.Memory = "1.5", "1e9" }, ""},
	} {
		o := k8s
		c.change(&o)
		_, err := K8sIndexedJob(o)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("K8sIndexedJob(%+v): error %v, want %q", o, err, c.want)
		}
	}
	o := k8s
	o.Shards = 200000
	if text, err := K8sIndexedJob(o); err != nil || !strings.Contains(text, "completions: 200000\n") || !strings.Contains(text, "parallelism: 100000\n") {
		t.Errorf("K8sIndexedJob of 200000 shards: %v\n%.600s", err, text)
	}
	// Kubernetes expands $(VAR) in a command: a "$" of the user's is kept.
	o = k8s
	o.OutDir, o.Namespace = "/r/$(HOME)/out", "team-a"
	text, err := K8sIndexedJob(o)
	if err != nil || !strings.Contains(text, "/r/$$(HOME)/out") || !strings.Contains(text, "$(JOB_COMPLETION_INDEX)/2") || !strings.Contains(text, "namespace: team-a") {
		t.Errorf("K8sIndexedJob with a $ in the out dir and a namespace: %v\n%s", err, text)
	}
}
