package limits

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// fakeRoot writes files under a temporary root: path -> content.
func fakeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, s := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const (
	meminfo = "MemTotal:       16384 kB\nMemFree:        1024 kB\n"
	status  = "Name:\tx\nVmSize:\t    2048 kB\nVmRSS:\t     512 kB\n"
)

// TestReadCgroupV2 finds the tightest memory.max over the cgroup and its
// ancestors, with "max" meaning none.
func TestReadCgroupV2(t *testing.T) {
	root := fakeRoot(t, map[string]string{
		"proc/self/cgroup":                   "0::/a/b\n",
		"proc/self/mountinfo":                "30 20 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
		"proc/meminfo":                       meminfo,
		"proc/self/status":                   status,
		"sys/fs/cgroup/a/b/memory.max":       "max\n",
		"sys/fs/cgroup/a/memory.max":         "8192\n",
		"sys/fs/cgroup/a/memory.current":     "1000\n",
		"sys/fs/cgroup/memory.max":           "max\n",
		"sys/fs/cgroup/a/b/memory.current":   "10\n",
		"sys/fs/cgroup/unrelated/memory.max": "1\n",
	})
	ls := read(root, 0)
	want := []limit{{8192, 1000, Cgroup}, {16384 * 1024, 512 * 1024, Physical}}
	if len(ls) != len(want) {
		t.Fatalf("limits %v, want %v", ls, want)
	}
	for i := range want {
		if ls[i] != want[i] {
			t.Errorf("limit %d: %v, want %v", i, ls[i], want[i])
		}
	}
}

// TestReadCgroupV1 reads memory.limit_in_bytes, where v1's "no limit" (the
// largest page-aligned int64) means none, and the mount's root is taken
// off the path.
func TestReadCgroupV1(t *testing.T) {
	mi := "35 31 0:32 /docker/x /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n" +
		"32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
	root := fakeRoot(t, map[string]string{
		"proc/self/cgroup":    "4:memory:/docker/x/y\n1:cpu:/\n",
		"proc/self/mountinfo": mi,
		"proc/meminfo":        meminfo,
		"sys/fs/cgroup/memory/y/memory.limit_in_bytes": "9223372036854771712\n",
		"sys/fs/cgroup/memory/memory.limit_in_bytes":   "4096\n",
		"sys/fs/cgroup/memory/memory.usage_in_bytes":   "100\n",
		"sys/fs/cgroup/cpu/memory.limit_in_bytes":      "1\n",
	})
	ls := read(root, 1<<20)
	want := []limit{{4096, 100, Cgroup}, {1 << 20, 0, AddressSpace}, {16384 * 1024, 0, Physical}}
	if len(ls) != len(want) {
		t.Fatalf("limits %v, want %v", ls, want)
	}
	for i := range want {
		if ls[i] != want[i] {
			t.Errorf("limit %d: %v, want %v", i, ls[i], want[i])
		}
	}
	ls = read(fakeRoot(t, map[string]string{"proc/self/cgroup": "4:memory:/\n", "proc/meminfo": meminfo}), 0)
	if len(ls) != 1 || ls[0].source != Physical {
		t.Errorf("no cgroup limit: %v, want physical memory only", ls)
	}
}

// TestReadNothing returns no limit where nothing can be read.
func TestReadNothing(t *testing.T) {
	if ls := read(t.TempDir(), 0); len(ls) != 0 {
		t.Errorf("empty root: %v, want none", ls)
	}
}

// TestCheck refuses against the limit that leaves least, naming it, and
// passes what fits.
func TestCheck(t *testing.T) {
	ls := []limit{{bytes: 8 << 30, used: 0, source: Physical}, {bytes: 2 << 30, used: 1 << 30, source: AddressSpace}}
	if err := check(ls, "x", 1<<30); err != nil {
		t.Errorf("1 GiB of the 1 GiB left: %v", err)
	}
	err := check(ls, "batch 1000000000 x 784 inputs in float32", 3<<30)
	want := "needs about 3.0 GiB (batch 1000000000 x 784 inputs in float32), more than the 1.0 GiB left of the 2.0 GiB this process may use (ulimit -v)"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	err = check([]limit{{bytes: 2 << 30, used: 1 << 20, source: Cgroup}}, "y", 3<<30)
	want = "needs about 3.0 GiB (y), more than the 2.0 GiB this process may use (cgroup memory.max)"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	if err := check(nil, "z", math.MaxInt64); err != nil {
		t.Errorf("no limits: %v", err)
	}
}

// TestMemory reads this process's limits: some limit, with its source.
func TestMemory(t *testing.T) {
	b, src := Memory()
	if b <= 0 || (src == "") != (b == math.MaxInt64) {
		t.Errorf("Memory() = %d, %q", b, src)
	}
}

// TestBytes writes byte counts.
func TestBytes(t *testing.T) {
	for _, c := range []struct {
		b    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1536, "1.5 KiB"}, {7 << 30, "7.0 GiB"}, {3 << 40, "3.0 TiB"}, {math.MaxInt64, "8.0 EiB"}} {
		if got := Bytes(c.b); got != c.want {
			t.Errorf("Bytes(%d) = %q, want %q", c.b, got, c.want)
		}
	}
}

// TestReadFile reads a regular file and refuses devices, FIFOs,
// directories and files over the limit, through symbolic links too.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok")
	if err := os.WriteFile(ok, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(ok, 5); err != nil || string(b) != "hello" {
		t.Errorf("ReadFile(ok, 5) = %q, %v", b, err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(ok, link); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(link, 5); err != nil || string(b) != "hello" {
		t.Errorf("ReadFile(link to ok) = %q, %v", b, err)
	}
	zero := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		max  int64
		want string
	}{
		{zero, 1 << 30, "not a regular file (a character device)"},
		{fifo, 1 << 30, "not a regular file (a named pipe)"},
		{dir, 1 << 30, "not a regular file (a directory)"},
		{ok, 4, "5 B, more than the 4 B a file of this kind may hold"},
		{filepath.Join(dir, "missing"), 1, "no such file"},
	} {
		b, err := ReadFile(c.path, c.max)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.path) {
			t.Errorf("ReadFile(%s) = %d bytes, %v; want an error naming it and saying %q", c.path, len(b), err, c.want)
		}
	}
}

// TestReadAt checks a full read and the error of a file shorter than
// promised.
func TestReadAt(t *testing.T) {
	r := strings.NewReader("abcdef")
	b := make([]byte, 3)
	if err := ReadAt(r, b, 2); err != nil || string(b) != "cde" {
		t.Errorf("ReadAt at 2: %q, %v; want cde, nil", b, err)
	}
	err := ReadAt(r, make([]byte, 4), 4)
	if err == nil || !strings.Contains(err.Error(), "ends before byte 8") {
		t.Errorf("ReadAt past the end: %v, want an error naming byte 8", err)
	}
}
