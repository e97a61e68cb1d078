package experiment

import (
	"bytes"
	"fmt"
	"math"
	"path"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// SlurmOptions describe a Slurm job array that runs a sweep, one shard per
// array task.
type SlurmOptions struct {
	// SweepFile and OutDir are paths as the compute nodes see them; OutDir
	// should be on a filesystem they share.
	SweepFile, OutDir string
	// Shards is the array size: array task i runs shard i of Shards.
	Shards int
	// MaxParallel caps the array tasks running at once (%N); 0 means no cap.
	MaxParallel int
	// JobName is --job-name: letters, digits, '_', '.', '+' and '-'; empty
	// means "initscope-sweep".
	JobName string
	// Time is --time, in one of Slurm's forms MM, MM:SS, HH:MM:SS, D-HH,
	// D-HH:MM and D-HH:MM:SS (e.g. "02:00:00", "1-12"), or UNLIMITED;
	// empty leaves the partition default.
	Time string
	// CPUsPerTask is --cpus-per-task; 0 leaves it out.
	CPUsPerTask int
	// Mem is --mem: a whole number with an optional unit K, M, G or T
	// (e.g. "4G"; megabytes without one); empty leaves it out.
	Mem string
	// Partition is --partition, a name or a comma-separated list of names;
	// empty leaves the cluster default.
	Partition string
	// Output is --output; empty means "%x-%A_%a.out" (job name, array job
	// id, array index) in the submission directory. Slurm does not create
	// its directory.
	Output string
	// Binary is the initscope executable; empty means "initscope" on PATH.
	Binary string
	// ExtraArgs are more "sweep run" flags, placed before the sweep file.
	ExtraArgs []string
	// Setup are shell lines run before the sweep (module load, venvs).
	Setup []string
}

// SlurmScript writes an sbatch script for a job array of opts.Shards tasks,
// array task i running `initscope sweep run --out OUTDIR --shard i/n
// [EXTRA...] SWEEPFILE`. Submitting it again after a failure re-runs only unfinished tasks.
func SlurmScript(opts SlurmOptions) (string, error) {
	if err := checkCommon("slurm", opts.SweepFile, opts.OutDir, opts.Shards); err != nil {
		return "", err
	}
	if opts.MaxParallel < 0 || opts.CPUsPerTask < 0 {
		return "", fmt.Errorf("slurm: max parallel %d and cpus per task %d: want >= 0", opts.MaxParallel, opts.CPUsPerTask)
	}
	name := withDefault(opts.JobName, "initscope-sweep")
	if err := checkFields("slurm", []field{
		{"--job-name", name, slurmNameRE.MatchString, "letters, digits, '_', '.', '+' or '-'"},
		{"--time", opts.Time, validSlurmTime, "MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (e.g. 02:00:00 or 1-12; minutes and seconds below 60 after the first field, hours below 24 after a day), or UNLIMITED"},
		{"--mem", opts.Mem, slurmMemRE.MatchString, "a whole number with an optional unit K, M, G or T, e.g. 4G (megabytes without a unit)"},
		{"--partition", opts.Partition, slurmPartitionRE.MatchString, "a partition name of letters, digits, '_', '.' or '-', or a comma-separated list of them"},
	}); err != nil {
		return "", err
	}
	if opts.Shards > maxSlurmArray || opts.MaxParallel > maxSlurmArray {
		return "", fmt.Errorf("slurm: %d shards, at most %d running: want at most %d, the largest job array Slurm allows (MaxArraySize in slurm.conf, often 1001)",
			opts.Shards, opts.MaxParallel, maxSlurmArray)
	}
	array := fmt.Sprintf("0-%d", opts.Shards-1)
	if opts.MaxParallel > 0 {
		array += fmt.Sprintf("%%%d", opts.MaxParallel)
	}
	directives := [][2]string{
		{"job-name", name},
		{"array", array},
		{"output", withDefault(opts.Output, "%x-%A_%a.out")},
		{"time", opts.Time},
		{"cpus-per-task", positive(opts.CPUsPerTask)},
		{"mem", opts.Mem},
		{"partition", opts.Partition},
	}
	var b strings.Builder
	b.WriteString("#!/bin/bash\n")
	for _, d := range directives {
		if d[1] == "" {
			continue
		}
		if strings.ContainsAny(d[1], " \t\r\n") {
			return "", fmt.Errorf("slurm: --%s %q: must not contain spaces or line breaks", d[0], d[1])
		}
		fmt.Fprintf(&b, "#SBATCH --%s=%s\n", d[0], d[1])
	}
	fmt.Fprintf(&b, "#\n# initscope sweep %s: array task i runs shard i/%d, appending its results\n", opts.SweepFile, opts.Shards)
	fmt.Fprintf(&b, "# to %s/shard-i-of-%d.jsonl. Submit again to finish what a failure or a\n", opts.OutDir, opts.Shards)
	b.WriteString("# time limit left: finished tasks are skipped.\n")
	b.WriteString("set -euo pipefail\n")
	for _, line := range opts.Setup {
		if strings.ContainsAny(line, "\r\n") {
			return "", fmt.Errorf("slurm: setup line %q: one line each", line)
		}
		b.WriteString(line + "\n")
	}
	fmt.Fprintf(&b, "exec %s \"${SLURM_ARRAY_TASK_ID}/%d\" %s\n", shellJoin(runCommand(opts.Binary, opts.OutDir)),
		opts.Shards, shellJoin(runOperands(opts.ExtraArgs, opts.SweepFile)))
	return b.String(), nil
}

// Slurm's forms of the emitted options (see SlurmOptions).
var (
	slurmNameRE      = regexp.MustCompile(`^[A-Za-z0-9_.+-]+$`)
	slurmMemRE       = regexp.MustCompile(`^[0-9]{1,12}[KMGTkmgt]?$`)
	slurmPartitionRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*$`)
	// slurmTimeRE matches D-HH[:MM[:SS]] (groups 1-4) and MM[:SS] or
	// HH:MM:SS (groups 5-7).
	slurmTimeRE = regexp.MustCompile(`^(?:([0-9]{1,9})-([0-9]{1,9})(?::([0-9]{1,9})(?::([0-9]{1,9}))?)?|([0-9]{1,9})(?::([0-9]{1,9})(?::([0-9]{1,9}))?)?)$`)
)

// maxSlurmArray is the largest MaxArraySize Slurm accepts: a job array's
// indices are below it.
const maxSlurmArray = 4000001

// maxSlurmMinutes is the longest time limit Slurm keeps (in minutes, a
// 32-bit number below its INFINITE).
const maxSlurmMinutes = 1<<32 - 2

// validSlurmTime reports whether t is a time limit in one of Slurm's forms,
// each field after the first within its unit.
func validSlurmTime(t string) bool {
	if u := strings.ToUpper(t); u == "UNLIMITED" || u == "INFINITE" {
		return true
	}
	m := slurmTimeRE.FindStringSubmatch(t)
	if m == nil {
		return false
	}
	num := func(i int) int64 { v, _ := strconv.ParseInt(m[i], 10, 64); return v } // at most 9 digits: no error
	var days, hours, minutes, seconds int64
	switch {
	case m[1] != "": // D-HH[:MM[:SS]]
		days, hours, minutes, seconds = num(1), num(2), num(3), num(4)
		if hours > 23 {
			return false
		}
	case m[7] != "": // HH:MM:SS
		hours, minutes, seconds = num(5), num(6), num(7)
	default: // MM[:SS]
		minutes, seconds = num(5), num(6)
		if m[6] == "" {
			return minutes <= maxSlurmMinutes
		}
		return seconds < 60 && minutes <= maxSlurmMinutes
	}
	if minutes > 59 || seconds > 59 {
		return false
	}
	return ((days*24+hours)*60 + minutes) <= maxSlurmMinutes
}

// K8sOptions describe a Kubernetes Indexed Job that runs a sweep, one shard
// per completion index.
type K8sOptions struct {
	// Name is the Job's name: lowercase letters, digits and '-', at most 50
	// characters (pod hostnames append the index).
	Name string
	// Namespace is the Job's namespace, a DNS label; empty leaves it to
	// kubectl.
	Namespace string
	// Image is the container image holding the initscope binary, a
	// reference such as registry.example:5000/team/initscope:v1.
	Image string
	// SweepFile and OutDir are paths inside the container; OutDir must be
	// under MountPath, on the persistent volume.
	SweepFile, OutDir string
	// Shards is the number of completions: index i runs shard i of Shards.
	Shards int
	// Parallelism caps the pods running at once, at most 100000; 0 means
	// Shards, or 100000 if that is less.
	Parallelism int
	// ClaimName is the PersistentVolumeClaim that keeps the results, a DNS
	// subdomain (lowercase letters, digits, '-' and '.').
	ClaimName string
	// MountPath is where the claim is mounted; empty means "/results".
	MountPath string
	// CPU and Memory are the container's requests and limits, positive
	// Kubernetes quantities (e.g. "2", "500m", "4Gi"); empty leaves them
	// out.
	CPU, Memory string
	// Binary is the initscope executable; empty means "initscope" on PATH.
	Binary string
	// ExtraArgs are more "sweep run" flags, placed before the sweep file.
	ExtraArgs []string
}

// Kubernetes' forms of the emitted names and values (see K8sOptions).
var (
	dnsLabelRE     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsSubdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	quantityRE     = regexp.MustCompile(`^([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$`)
	// imageRE is the grammar of an image reference (the OCI distribution
	// project's reference package): [DOMAIN[:PORT]/]PATH[:TAG][@DIGEST].
	imageRE = func() *regexp.Regexp {
		const (
			domainPart = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
			domain     = `(?:` + domainPart + `(?:\.` + domainPart + `)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?`
			pathPart   = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
			tag        = `[\w][\w.-]{0,127}`
			digest     = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
		)
		return regexp.MustCompile(`^(?:` + domain + `/)?` + pathPart + `(?:/` + pathPart + `)*(?::` + tag + `)?(?:@` + digest + `)?$`)
	}()
)

// maxK8sParallelism is the largest parallelism of an Indexed Job.
const maxK8sParallelism = 100000

// validDNS returns a check of a DNS label or subdomain of at most n
// characters.
func validDNS(re *regexp.Regexp, n int) func(string) bool {
	return func(s string) bool { return len(s) <= n && re.MatchString(s) }
}

// validImage reports whether s is an image reference whose name (the part
// before a tag or digest) has at most 255 characters.
func validImage(s string) bool {
	name, _, _ := strings.Cut(s, "@")
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name = name[:i]
	}
	return len(name) <= 255 && imageRE.MatchString(s)
}

// validQuantity reports whether s is a positive Kubernetes quantity.
func validQuantity(s string) bool {
	m := quantityRE.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return err == nil && v > 0
}

// K8sIndexedJob writes the manifest of an Indexed Job (completionMode:
// Indexed) whose pod i runs `initscope sweep run --out OUTDIR --shard
// $(JOB_COMPLETION_INDEX)/n [EXTRA...] SWEEPFILE` with OutDir on a persistent
// volume.
// Deleting and re-applying the Job re-runs only unfinished tasks.
func K8sIndexedJob(opts K8sOptions) (string, error) {
	if err := checkCommon("kubernetes", opts.SweepFile, opts.OutDir, opts.Shards); err != nil {
		return "", err
	}
	if opts.Image == "" || opts.ClaimName == "" {
		return "", fmt.Errorf("kubernetes: give an image and a PersistentVolumeClaim for the results")
	}
	const label = "lowercase letters, digits and '-', beginning and ending with a letter or digit"
	if err := checkFields("kubernetes", []field{
		{"job name", opts.Name, validDNS(dnsLabelRE, 50), label + ", at most 50 characters (a DNS label; pod names append the index)"},
		{"namespace", opts.Namespace, validDNS(dnsLabelRE, 63), label + ", at most 63 characters (a DNS label)"},
		{"image", opts.Image, validImage, "an image reference such as registry.example:5000/team/initscope:v1 (lowercase path, optional tag and @sha256: digest)"},
		{"claim name", opts.ClaimName, validDNS(dnsSubdomainRE, 253), label + ", in parts joined by '.', at most 253 characters (a DNS subdomain)"},
		{"cpu", opts.CPU, validQuantity, "a positive quantity such as 2 or 500m"},
		{"memory", opts.Memory, validQuantity, "a positive quantity such as 4Gi or 512Mi"},
	}); err != nil {
		return "", err
	}
	if opts.Parallelism < 0 {
		return "", fmt.Errorf("kubernetes: parallelism %d: want >= 0", opts.Parallelism)
	}
	mount := path.Clean(withDefault(opts.MountPath, "/results"))
	if out := path.Clean(opts.OutDir); !path.IsAbs(mount) || mount == "/" || (out != mount && !strings.HasPrefix(out, mount+"/")) {
		return "", fmt.Errorf("kubernetes: out dir %q is not under the volume's mount path %q: results would vanish with the pod", opts.OutDir, mount)
	}
	if opts.Shards > math.MaxInt32 || opts.Parallelism > maxK8sParallelism {
		return "", fmt.Errorf("kubernetes: %d shards, parallelism %d: want at most %d completions and a parallelism of at most %d (an Indexed Job's limits)",
			opts.Shards, opts.Parallelism, math.MaxInt32, maxK8sParallelism)
	}
	parallelism := opts.Parallelism
	if parallelism == 0 {
		parallelism = min(opts.Shards, maxK8sParallelism)
	}
	parallelism = min(parallelism, opts.Shards)
	// Kubernetes expands $(VAR) in a command: "$$" keeps a "$" of ours.
	var command []string
	for _, w := range runCommand(opts.Binary, opts.OutDir) {
		command = append(command, strings.ReplaceAll(w, "$", "$$"))
	}
	command = append(command, fmt.Sprintf("$(JOB_COMPLETION_INDEX)/%d", opts.Shards))
	for _, w := range runOperands(opts.ExtraArgs, opts.SweepFile) {
		command = append(command, strings.ReplaceAll(w, "$", "$$"))
	}
	c := k8sContainer{
		Name:    "sweep",
		Image:   opts.Image,
		Command: command,
		// Declared explicitly so that $(JOB_COMPLETION_INDEX) expands in
		// the command on any version; the Job controller does not add
		// a variable the template already sets.
		Env: []k8sEnv{{Name: "JOB_COMPLETION_INDEX", ValueFrom: k8sEnvSource{FieldRef: k8sFieldRef{
			FieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}}},
		VolumeMounts: []k8sMount{{Name: "results", MountPath: mount}},
	}
	if opts.CPU != "" || opts.Memory != "" {
		r := map[string]string{}
		if opts.CPU != "" {
			r["cpu"] = opts.CPU
		}
		if opts.Memory != "" {
			r["memory"] = opts.Memory
		}
		c.Resources = &k8sResources{Requests: r, Limits: r}
	}
	job := k8sJob{
		APIVersion: "batch/v1",
		Kind:       "Job",
		Metadata:   k8sMeta{Name: opts.Name, Namespace: opts.Namespace, Labels: map[string]string{"app.kubernetes.io/name": "initscope-sweep"}},
		Spec: k8sJobSpec{
			CompletionMode: "Indexed",
			Completions:    opts.Shards,
			Parallelism:    parallelism,
			Template: k8sPodTemplate{Spec: k8sPodSpec{
				RestartPolicy: "Never",
				Containers:    []k8sContainer{c},
				Volumes:       []k8sVolume{{Name: "results", PersistentVolumeClaim: k8sClaim{ClaimName: opts.ClaimName}}},
			}},
		},
	}
	var b bytes.Buffer
	b.WriteString("# initscope sweep " + opts.SweepFile + ": pod i runs shard i/" + fmt.Sprint(opts.Shards) + ".\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(job); err != nil {
		return "", fmt.Errorf("kubernetes: %v", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("kubernetes: %v", err)
	}
	return b.String(), nil
}

// The subset of the Kubernetes Job API that K8sIndexedJob writes, with the
// API's field names and order.
type (
	k8sJob struct {
		APIVersion string     `yaml:"apiVersion"`
		Kind       string     `yaml:"kind"`
		Metadata   k8sMeta    `yaml:"metadata"`
		Spec       k8sJobSpec `yaml:"spec"`
	}
	k8sMeta struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace,omitempty"`
		Labels    map[string]string `yaml:"labels,omitempty"`
	}
	k8sJobSpec struct {
		CompletionMode string         `yaml:"completionMode"`
		Completions    int            `yaml:"completions"`
		Parallelism    int            `yaml:"parallelism"`
		Template       k8sPodTemplate `yaml:"template"`
	}
	k8sPodTemplate struct {
		Spec k8sPodSpec `yaml:"spec"`
	}
	k8sPodSpec struct {
		RestartPolicy string         `yaml:"restartPolicy"`
		Containers    []k8sContainer `yaml:"containers"`
		Volumes       []k8sVolume    `yaml:"volumes"`
	}
	k8sContainer struct {
		Name         string        `yaml:"name"`
		Image        string        `yaml:"image"`
		Command      []string      `yaml:"command"`
		Env          []k8sEnv      `yaml:"env"`
		Resources    *k8sResources `yaml:"resources,omitempty"`
		VolumeMounts []k8sMount    `yaml:"volumeMounts"`
	}
	k8sEnv struct {
		Name      string       `yaml:"name"`
		ValueFrom k8sEnvSource `yaml:"valueFrom"`
	}
	k8sEnvSource struct {
		FieldRef k8sFieldRef `yaml:"fieldRef"`
	}
	k8sFieldRef struct {
		FieldPath string `yaml:"fieldPath"`
	}
	k8sResources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	}
	k8sMount struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	}
	k8sVolume struct {
		Name                  string   `yaml:"name"`
		PersistentVolumeClaim k8sClaim `yaml:"persistentVolumeClaim"`
	}
	k8sClaim struct {
		ClaimName string `yaml:"claimName"`
	}
)

// field is an option an emitter writes, and its form.
type field struct {
	// name names the option, value is its value.
	name, value string
	// valid checks a non-empty value; want says what it accepts.
	valid func(string) bool
	want  string
}

// checkFields returns an error about the first field set to an invalid
// value, naming the field, the value and what it accepts.
func checkFields(target string, fields []field) error {
	for _, f := range fields {
		if f.value != "" && !f.valid(f.value) {
			return fmt.Errorf("%s: %s %q: want %s", target, f.name, f.value, f.want)
		}
	}
	return nil
}

// checkCommon validates what both emitters need.
func checkCommon(target, sweepFile, outDir string, shards int) error {
	if sweepFile == "" || outDir == "" {
		return fmt.Errorf("%s: give the sweep file and the results directory", target)
	}
	if strings.ContainsAny(sweepFile+outDir, "\r\n") {
		return fmt.Errorf("%s: sweep file %q or results directory %q contains a line break", target, sweepFile, outDir)
	}
	if shards < 1 {
		return fmt.Errorf("%s: %d shards: want >= 1", target, shards)
	}
	return nil
}

// runCommand is the sweep command line up to the value of its --shard flag.
// Flags come before the sweep file, as the standard flag package needs.
func runCommand(binary, outDir string) []string {
	return []string{withDefault(binary, "initscope"), "sweep", "run", "--out", outDir, "--shard"}
}

// runOperands is the rest of the command line after the shard: extra flags,
// then the sweep file.
func runOperands(extra []string, sweepFile string) []string {
	return append(append([]string{}, extra...), sweepFile)
}

// withDefault returns s, or def if s is empty.
func withDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// positive writes n if it is positive, else "".
func positive(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprint(n)
}

var shellSafeRE = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellJoin quotes words for a POSIX shell, single-quoting those that need it.
func shellJoin(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		if shellSafeRE.MatchString(w) {
			q[i] = w
		} else {
			q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
