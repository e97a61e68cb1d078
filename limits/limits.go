// Package limits says how much memory this process may use, checks an
// estimate against it before a large allocation, and reads whole files
// under a size limit, so that a huge flag or a hostile file is refused with
// one line instead of a Go fatal error.
//
// The memory a process may use is the smallest of three limits: the memory
// limit of its cgroup (cgroup v2 memory.max, or v1 memory.limit_in_bytes,
// over the cgroup and its ancestors), its address-space limit (RLIMIT_AS,
// ulimit -v) and the machine's physical memory (MemTotal). Each limit
// counts something already in use (the cgroup's usage, the process's
// virtual size, its resident size), and what is left of it is what a new
// allocation may take.
package limits

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The sources of a limit, as errors name them.
const (
	// Cgroup is the memory limit of the process's cgroup.
	Cgroup = "cgroup memory.max"
	// AddressSpace is RLIMIT_AS, the limit ulimit -v sets.
	AddressSpace = "ulimit -v"
	// Physical is the machine's physical memory.
	Physical = "physical memory"
)

// limit is one limit on the memory of the process.
type limit struct {
	bytes  int64  // the limit
	used   int64  // what is in use already, as the limit counts it
	source string // Cgroup, AddressSpace or Physical
}

// left is what the limit leaves to a new allocation.
func (l limit) left() int64 { return max(0, l.bytes-l.used) }

// Memory returns the number of bytes this process may use, the smallest of
// its limits, and the source of that limit (Cgroup, AddressSpace or
// Physical). It returns math.MaxInt64 and "" where no limit can be read.
func Memory() (bytes int64, source string) {
	bytes = math.MaxInt64
	for _, l := range current() {
		if l.bytes < bytes {
			bytes, source = l.bytes, l.source
		}
	}
	return bytes, source
}

// Error is an estimate of memory that the process's limit does not leave.
type Error struct {
	// What says what needs the memory ("batch 1000000000 x 784 inputs in
	// float32").
	What string
	// Need is the estimate in bytes.
	Need int64
	// Left is what the limit leaves, Limit the limit and Source its source.
	Left, Limit int64
	Source      string
}

// Error writes the estimate and the limit on one line.
func (e *Error) Error() string {
	if e.Left < e.Limit*95/100 {
		return fmt.Sprintf("needs about %s (%s), more than the %s left of the %s this process may use (%s)",
			Bytes(e.Need), e.What, Bytes(e.Left), Bytes(e.Limit), e.Source)
	}
	return fmt.Sprintf("needs about %s (%s), more than the %s this process may use (%s)",
		Bytes(e.Need), e.What, Bytes(e.Limit), e.Source)
}

// Check returns an *Error if need bytes, an estimate of what the
// allocation described by what takes, is more than the tightest limit of
// the process leaves; nil otherwise.
func Check(what string, need int64) error {
	return check(current(), what, need)
}

// check is Check against the given limits.
func check(ls []limit, what string, need int64) error {
	var tight *limit
	for i := range ls {
		if tight == nil || ls[i].left() < tight.left() {
			tight = &ls[i]
		}
	}
	if tight == nil || need <= tight.left() {
		return nil
	}
	return &Error{What: what, Need: need, Left: tight.left(), Limit: tight.bytes, Source: tight.source}
}

// Bytes writes a byte count for people: "512 B", "3.0 KiB", "7.5 GiB", up
// to EiB.
func Bytes(b int64) string {
	if b < 1024 {
		return fmt.Sprintf("%d B", b)
	}
	f := float64(b)
	for _, unit := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		f /= 1024
		if f < 1024 {
			return fmt.Sprintf("%.1f %s", f, unit)
		}
	}
	return fmt.Sprintf("%.1f EiB", f/1024)
}

// current returns the limits of this process.
func current() []limit {
	return read("/", addressSpace())
}

// read returns the limits found in the file system under root (its
// /proc and /sys/fs/cgroup), with as the address-space limit (0 for none).
func read(root string, as int64) []limit {
	var ls []limit
	if l, ok := cgroupLimit(root); ok {
		ls = append(ls, l)
	}
	if as > 0 {
		ls = append(ls, limit{bytes: as, used: statusBytes(root, "VmSize"), source: AddressSpace})
	}
	if total, ok := meminfoBytes(root, "MemTotal"); ok {
		ls = append(ls, limit{bytes: total, used: statusBytes(root, "VmRSS"), source: Physical})
	}
	return ls
}

// noLimit is the value from which a cgroup v1 limit means none (v1 writes
// "no limit" as the largest page-aligned int64).
const noLimit = 1 << 62

// mount is a cgroup hierarchy mounted in the file system.
type mount struct {
	dir  string // where it is mounted
	root string // the cgroup it shows at dir
}

// cgroupLimit returns the tightest memory limit over the process's cgroup
// and its ancestors, v2 and v1, with the usage of the cgroup that sets it.
func cgroupLimit(root string) (limit, bool) {
	b, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return limit{}, false
	}
	v2, v1 := mounts(root)
	best, found := limit{bytes: math.MaxInt64, source: Cgroup}, false
	consider := func(m mount, path, limitFile, usageFile string) {
		rel, ok := strings.CutPrefix(path, m.root)
		if !ok {
			rel = path
		}
		// Walk from the cgroup up to the mount: a parent's limit binds
		// its children.
		dir := filepath.Join(root, m.dir, rel)
		top := filepath.Join(root, m.dir)
		for {
			if v, ok := cgroupValue(filepath.Join(dir, limitFile)); ok && v < best.bytes {
				used, _ := cgroupValue(filepath.Join(dir, usageFile))
				best, found = limit{bytes: v, used: used, source: Cgroup}, true
			}
			if dir == top || !strings.HasPrefix(dir, top) {
				break
			}
			dir = filepath.Dir(dir)
		}
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		// hierarchy-id:controllers:path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			for _, m := range v2 {
				consider(m, parts[2], "memory.max", "memory.current")
			}
			continue
		}
		for c := range strings.SplitSeq(parts[1], ",") {
			if c == "memory" {
				for _, m := range v1 {
					consider(m, parts[2], "memory.limit_in_bytes", "memory.usage_in_bytes")
				}
			}
		}
	}
	return best, found
}

// mounts returns the cgroup v2 mounts and the v1 memory-controller mounts
// in /proc/self/mountinfo, or the usual places where it cannot be read.
func mounts(root string) (v2, v1 []mount) {
	f, err := os.Open(filepath.Join(root, "proc/self/mountinfo"))
	if err != nil {
		return []mount{{"/sys/fs/cgroup", "/"}, {"/sys/fs/cgroup/unified", "/"}},
			[]mount{{"/sys/fs/cgroup/memory", "/"}}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(tail) < 1 {
			continue
		}
		m := mount{dir: unescape(fields[4]), root: unescape(fields[3])}
		switch tail[0] {
		case "cgroup2":
			v2 = append(v2, m)
		case "cgroup":
			if len(tail) >= 3 && hasOption(tail[2], "memory") {
				v1 = append(v1, m)
			}
		}
	}
	return v2, v1
}

// hasOption reports whether the comma-separated options hold opt.
func hasOption(options, opt string) bool {
	for o := range strings.SplitSeq(options, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroupValue reads a cgroup memory file holding a byte count; "max" and
// v1's huge "no limit" read as no value.
func cgroupValue(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil || v <= 0 || v >= noLimit {
		return 0, false
	}
	return v, true
}

// meminfoBytes reads a "Key: N kB" line of /proc/meminfo.
func meminfoBytes(root, key string) (int64, bool) {
	return kbField(filepath.Join(root, "proc/meminfo"), key)
}

// statusBytes reads a "Key: N kB" line of /proc/self/status, or 0.
func statusBytes(root, key string) int64 {
	v, _ := kbField(filepath.Join(root, "proc/self/status"), key)
	return v
}

// kbField reads the "Key: N kB" line of a /proc file, in bytes.
func kbField(path, key string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, key+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, false
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || v <= 0 || v > math.MaxInt64/1024 {
			return 0, false
		}
		if len(f) > 1 && f[1] == "kB" {
			v *= 1024
		}
		return v, true
	}
	return 0, false
}
