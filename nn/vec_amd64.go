package nn

// haveAVX2 reports whether the CPU and the operating system support AVX2
// and FMA, which the kernels of vec_amd64.s use.
var haveAVX2 = detectAVX2()

func detectAVX2() bool {
	const (
		fma     = 1 << 12 // CPUID.1:ECX
		osxsave = 1 << 27
		avx     = 1 << 28
		avx2    = 1 << 5 // CPUID.(7,0):EBX
	)
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	// The OS must save the XMM and YMM registers (XCR0 bits 1 and 2).
	if xcr0, _ := xgetbv(); xcr0&6 != 6 {
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&avx2 != 0
}

// Implemented in vec_amd64.s.

func cpuid(leaf, subleaf uint32) (eax, ebx, ecx, edx uint32)

func xgetbv() (eax, edx uint32)

//go:noescape
func maskAVX2(g, y []float32, flush float32)

//go:noescape
func addReLUAVX2(dst, src []float32, b float32)

//go:noescape
func axpyAVX2(dst, x, y []float32, a float32)

//go:noescape
func scaleAVX2(dst, y []float32, a float32)

//go:noescape
func sgdAVX2(w, g, v []float32, lr, mu, wd, flush float32)

//go:noescape
func adamAVX2(w, g, m, v []float32, c *adamConsts)

// The float32 fast paths: they run the AVX2 kernel and report true, or
// report false without AVX2. Slices other than dst are at least as long.

func maskF32(g, y []float32, flush float32) bool {
	if haveAVX2 {
		maskAVX2(g, y, flush)
	}
	return haveAVX2
}

func addReLUF32(dst, src []float32, b float32) bool {
	if haveAVX2 {
		addReLUAVX2(dst, src, b)
	}
	return haveAVX2
}

func axpyF32(dst, x, y []float32, a float32) bool {
	if haveAVX2 {
		axpyAVX2(dst, x, y, a)
	}
	return haveAVX2
}

func scaleF32(dst, y []float32, a float32) bool {
	if haveAVX2 {
		scaleAVX2(dst, y, a)
	}
	return haveAVX2
}

func sgdF32(w, g, v []float32, lr, mu, wd, flush float32) bool {
	if haveAVX2 {
		sgdAVX2(w, g, v, lr, mu, wd, flush)
	}
	return haveAVX2
}

func adamF32(w, g, m, v []float32, c *adamConsts) bool {
	if haveAVX2 {
		adamAVX2(w, g, m, v, c)
	}
	return haveAVX2
}
