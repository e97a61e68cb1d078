//go:build !amd64

package nn

// Without vector kernels, the float32 fast paths decline and the generic
// loops of vec.go run.

func maskF32(g, y []float32, flush float32) bool { return false }

func addReLUF32(dst, src []float32, b float32) bool { return false }

func axpyF32(dst, x, y []float32, a float32) bool { return false }

func scaleF32(dst, y []float32, a float32) bool { return false }

func sgdF32(w, g, v []float32, lr, mu, wd, flush float32) bool { return false }

func adamF32(w, g, m, v []float32, c *adamConsts) bool { return false }
