//go:build !amd64

package nn

import "testing"

func haveVectorKernels() bool { return false }

func withVectors(*testing.T, bool) {}
