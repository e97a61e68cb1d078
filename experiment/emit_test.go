package experiment

import (
	"flag"
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
