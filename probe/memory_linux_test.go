package probe

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// withAddressSpace runs f with the soft address-space limit (RLIMIT_AS,
// ulimit -v) lowered to what the process maps now plus extra bytes, then
// restores it.
func withAddressSpace(t *testing.T, extra int64, f func()) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	var size int64
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmSize:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmSize %q: %v", rest, err)
			}
			size = kb << 10
		}
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &old); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	lowered := old
	lowered.Cur = uint64(size + extra)
	if lowered.Cur >= old.Cur {
		t.Skipf("the address space is already limited to %d bytes", old.Cur)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &lowered); err != nil {
		t.Skipf("setrlimit: %v", err)
	}
	defer func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, &old); err != nil {
			t.Fatalf("restoring the address-space limit: %v", err)
		}
	}()
	f()
}

// TestMemoryLimit checks that the network sampler's buffers are checked
// against the process's real memory limit before they are allocated: with
// ulimit -v lowered to 512 MiB beyond what the process maps, a net whose
// one worker needs 13 GiB is refused naming the net, and workers that
// together need more than is left are refused naming the workers and the
// number that fits.
func TestMemoryLimit(t *testing.T) {
	he := mustInit(t, "he-normal")
	big := Options{Net: mustNet(t, "net:1x4096x4096,conv16k3,conv16k3"), Init: he, Input: testInput(4096 * 4096), Samples: 2, Workers: 1, Method: Network}
	// About 208 MiB a worker.
	wide := Options{Net: mustNet(t, "net:1x512x512,conv16k3,conv16k3"), Init: he, Input: testInput(512 * 512), Samples: 64, Workers: 32, Method: Network}
	for _, c := range []struct {
		opt    Options
		option string
		says   []string
	}{
		{big, "net", []string{"needs about 13.0 GiB", "ulimit -v", "use a smaller net"}},
		{wide, "workers", []string{"32 workers x", "ulimit -v", "use at most"}},
	} {
		var err error
		withAddressSpace(t, 512<<20, func() { _, err = Run(context.Background(), c.opt) })
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != c.option {
			t.Errorf("%s: want an error about %s, got %v", c.opt.Net.Source, c.option, err)
			continue
		}
		for _, s := range c.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: error %q does not say %q", c.opt.Net.Source, err, s)
			}
		}
	}
}
