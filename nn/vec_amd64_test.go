package nn

import "testing"

func haveVectorKernels() bool { return haveAVX2 }

// withVectors turns the vector kernels on, if the CPU has them, or off,
// until the test ends.
func withVectors(t *testing.T, on bool) {
	haveAVX2 = on && detectAVX2()
	t.Cleanup(func() { haveAVX2 = detectAVX2() })
}
