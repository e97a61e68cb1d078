//go:build (darwin || freebsd || linux || netbsd) && !android && !faketime

package tensor

import (
	"testing"
	"unsafe"
)

func TestKernelFamily(t *testing.T) {
	set := func(names ...string) map[string]bool {
		m := make(map[string]bool)
		for _, n := range names {
			m[n] = true
		}
		return m
	}
	for _, c := range []struct {
		flags map[string]bool
		want  string
	}{
		{set("sse3", "avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"), "SkylakeX"},
		{set("avx2", "fma", "avx512f"), "Haswell"}, // AVX-512 foundation alone is not enough
		{set("avx", "avx2"), ""},                   // no FMA
		{nil, ""},
	} {
		if got := kernelFamily(c.flags); got != c.want {
			t.Errorf("kernelFamily(%v) = %q, want %q", c.flags, got, c.want)
		}
	}
}

// TestCCallLayout checks the offsets that ccall_amd64.s reads.
func TestCCallLayout(t *testing.T) {
	var c cCall13
	if unsafe.Offsetof(c.fn) != 0 || unsafe.Offsetof(c.args) != 8 || unsafe.Sizeof(c.args[0]) != 8 {
		t.Errorf("cCall13: fn at %d, args at %d of %d bytes; the trampoline reads them at 0 and 8, 8 bytes each",
			unsafe.Offsetof(c.fn), unsafe.Offsetof(c.args), unsafe.Sizeof(c.args[0]))
	}
}
