//go:build (darwin || freebsd || linux || netbsd) && !android && !faketime

package tensor

import "testing"

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
