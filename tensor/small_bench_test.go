package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// smallShapes are the products of one training step of a dense layer of
// width w on a batch of 128 (see nn's dense op): the forward pass
// y = x·Wᵀ, the weight gradient dW = dyᵀ·x and the input gradient
// dx = dy·W; and those of the first layer of an MNIST net (784 inputs)
// and of an evaluation on 1000 images in one batch.
func smallShapes() []gemmCase {
	var cs []gemmCase
	for _, w := range []int{20, 32, 50, 100} {
		cs = append(cs,
			gemmCase{m: 128, n: w, k: w, transB: true},
			gemmCase{m: w, n: w, k: 128, transA: true},
			gemmCase{m: 128, n: w, k: w},
		)
	}
	return append(cs,
		gemmCase{m: 128, n: 100, k: 784, transB: true},
		gemmCase{m: 100, n: 784, k: 128, transA: true},
		gemmCase{m: 1000, n: 100, k: 100, transB: true},
	)
}

func (c gemmCase) shapeName() string {
	t := func(b bool) string {
		if b {
			return "T"
		}
		return "N"
	}
	return fmt.Sprintf("%s%s/%dx%dx%d", t(c.transA), t(c.transB), c.m, c.n, c.k)
}

// BenchmarkSgemmSmall times the small products of training on every
// backend, on one goroutine and split over two.
func BenchmarkSgemmSmall(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range smallShapes() {
		lda, ldb := c.k, c.n
		if c.transA {
			lda = c.m
		}
		if c.transB {
			ldb = c.k
		}
		x, w, y := randSlice[float32](rng, c.m*c.k), randSlice[float32](rng, c.n*c.k), make([]float32, c.m*c.n)
		for _, nb := range backends(b) {
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%s/threads=%d", c.shapeName(), nb.name, threads), func(b *testing.B) {
					useBackend(b, nb.be)
					for b.Loop() {
						Sgemm(threads, c.transA, c.transB, c.m, c.n, c.k, 1, x, lda, w, ldb, 0, y, c.n)
					}
					b.ReportMetric(2*float64(c.m*c.n*c.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
