package probe

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/weightinit"
)

// exactLayer holds what the exact sampler needs of one dense layer.
type exactLayer struct {
	n    int     // width n_j
	relu bool    // ReLU (K_j ~ Binomial(n_j, 1/2)) or linear (K_j = n_j)
	logR float64 // log(c_j / n_j): the forward factor's scale
	varW float64 // sigma_j^2 = c_j / n_{j-1}: the tangent factor's scale
}

// exactSampler draws M_j / M_0 and ||J u||^2 / ||u||^2 of a fully connected
// net with Gaussian weights and zero biases from their exact law (THEORY.md
// 3.1 and 6): R_j = (c_j/n_j) chi^2_{K_j}, K_j ~ Binomial(n_j, 1/2) for a
// ReLU layer and K_j = n_j for a linear one, independent across layers;
// ||J u||^2/||u||^2 = prod_j sigma_j^2 chi'^2_{K_j} with the same K_j.
// Lengths are kept as logarithms, so exploding and vanishing nets stay
// finite.
//
// The tangent's chi-square draws are independent of the forward ones given
// K_j. That is its exact marginal law, which is all that is reported; the
// exact joint law of the forward and tangent lengths (correlated through the
// weights when u is not orthogonal to the activations) is not reproduced.
type exactSampler struct {
	layers []exactLayer
}

// exactApplies returns nil if the exact sampler's law is the law of this net
// and init, or an error saying why not.
func exactApplies(layers []arch.Layer, init weightinit.Init) error {
	if init.Weight.Family != weightinit.Normal {
		return fmt.Errorf("needs normal weights, init %s draws %s weights", init.Name, init.Weight.Family)
	}
	if !init.Bias.IsZero() {
		return fmt.Errorf("needs zero biases, init %s draws %s biases", init.Name, init.Bias)
	}
	for i, l := range layers {
		if l.Kind != arch.Dense {
			return fmt.Errorf("needs a fully connected net, layer %d is %s", i+1, l.Kind)
		}
	}
	return nil
}

// newExactSampler computes each layer's scales; exactApplies must hold.
func newExactSampler(layers []arch.Layer, init weightinit.Init) *exactSampler {
	s := &exactSampler{layers: make([]exactLayer, len(layers))}
	for i, l := range layers {
		v := init.Weight.Variance(l.FanIn(), l.FanOut())
		s.layers[i] = exactLayer{
			n:    l.Width(),
			relu: l.ReLU,
			logR: math.Log(v * float64(l.FanIn()) / float64(l.Width())),
			varW: v,
		}
	}
	return s
}

// exactWorker is the exact sampler of one goroutine.
type exactWorker struct {
	*exactSampler
	pcg weightinit.Stream
}

// sample draws sample index of the stream seed and writes its row:
// log(M_j/M_0) for every layer, then log(||J u||^2/||u||^2). A dead layer
// and all after it get -Inf. The forward length needs a log per layer for
// its row; the tangent's factors are multiplied, and their product moved
// into a log only when it nears the ends of the float64 range.
func (s *exactWorker) sample(seed, index uint64, row []float64) {
	p := &s.pcg
	p.Seed(seed, index)
	var lr, lj float64
	pj := 1.0
	for i, l := range s.layers {
		k := l.n
		if l.relu {
			k = binomialHalf(p, l.n)
		}
		if k == 0 || math.IsInf(lr, -1) {
			lr, lj, pj = math.Inf(-1), math.Inf(-1), 1
		} else {
			r, j := chiSquarePair(p, k)
			lr += l.logR + math.Log(r)
			pj *= l.varW * j
			if pj > 1e150 || pj < 1e-150 {
				lj += math.Log(pj)
				pj = 1
			}
		}
		row[i] = lr
	}
	row[len(s.layers)] = lj + math.Log(pj)
}

// binomialHalf draws Binomial(n, 1/2) exactly: the number of ones among n
// random bits, 64 bits per PCG draw.
func binomialHalf(p *weightinit.Stream, n int) int {
	k := 0
	for ; n >= 64; n -= 64 {
		k += bits.OnesCount64(p.Uint64())
	}
	if n > 0 {
		k += bits.OnesCount64(p.Uint64() >> (64 - n))
	}
	return k
}

// chiSquarePair draws two independent chi-square variables with k >= 1
// degrees of freedom, one after the other, sharing the set-up: chi^2_k =
// 2 Gamma(k/2), with the Gamma drawn by Marsaglia and Tsang's exact
// rejection method (ACM TOMS 26(3), 2000), including their boost
// Gamma(a) = Gamma(a+1) U^(1/a) for a < 1, here a = 1/2: U^2.
func chiSquarePair(p *weightinit.Stream, k int) (float64, float64) {
	a := float64(k) / 2
	boosted := a < 1
	if boosted {
		a++
	}
	d := a - 1.0/3
	c := 1 / math.Sqrt(9*d)
	draw := func() float64 {
		boost := 1.0
		if boosted {
			u := 1 - p.Float64() // in (0, 1]
			boost = u * u
		}
		for {
			z := p.Normal()
			v := 1 + c*z
			if v <= 0 {
				continue
			}
			v = v * v * v
			u := p.Float64()
			z2 := z * z
			if u < 1-0.0331*z2*z2 || math.Log(u) < 0.5*z2+d*(1-v+math.Log(v)) {
				return 2 * d * v * boost
			}
		}
	}
	first := draw()
	return first, draw()
}
