package theory

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/weightinit"
)

// The Monte Carlo tests sample small nets directly, with a fixed seed, and
// accept a closed form within 5 standard errors.

// moments accumulates the mean and the standard error of a sample.
type moments struct{ n, sum, sum2 float64 }

func (m *moments) add(x float64) { m.n++; m.sum += x; m.sum2 += x * x }

func (m *moments) mean() float64 { return m.sum / m.n }

func (m *moments) se() float64 {
	v := (m.sum2 - m.sum*m.sum/m.n) / (m.n - 1)
	return math.Sqrt(v / m.n)
}

func within5SE(t *testing.T, what string, m *moments, want float64) {
	t.Helper()
	if d := math.Abs(m.mean() - want); d > 5*m.se() {
		t.Errorf("%s: sampled %.6g +- %.2g, closed form %.6g (%.1f SE off)", what, m.mean(), m.se(), want, d/m.se())
	} else {
		t.Logf("%s: sampled %.6g +- %.2g, closed form %.6g", what, m.mean(), m.se(), want)
	}
}

// randomLayer returns W x, rectified if relu, for a fresh rows x len(x)
// matrix W whose entries draw returns.
func randomLayer(x []float64, rows int, draw func() float64, relu bool) []float64 {
	y := make([]float64, rows)
	for i := range y {
		s := 0.0
		for _, v := range x {
			s += draw() * v
		}
		if relu && s < 0 {
			s = 0
		}
		y[i] = s
	}
	return y
}

func sqNorm(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v * v
	}
	return s
}

// TestKurtosisTermMonteCarlo checks THEORY 3.2's conditional second moment
// E[R^2 | x] = (1 + 5/n + 2(kappa-3)/n L) (ReLU; 1 + 2/n + (kappa-3)/n L
// for a linear layer), L = ||x||_4^4/||x||_2^4, for uniform and Rademacher
// weights at He variance on a sparse input, as Predict computes it with
// InputL4.
func TestKurtosisTermMonteCarlo(t *testing.T) {
	const n0, n1, samples = 20, 8, 100000
	x := make([]float64, n0)
	x[0], x[3], x[7] = 1, 2, 0.5
	l4 := 0.0
	for _, v := range x {
		l4 += v * v * v * v
	}
	l4 /= sqNorm(x) * sqNorm(x)
	for _, init := range []string{"he-uniform", "he-rademacher", "he-normal"} {
		in, _ := weightinit.ParseInit(init)
		for _, relu := range []bool{true, false} {
			spec := "net:20,dense8:linear"
			if relu {
				spec = "net:20,dense8:relu"
			}
			net, _ := arch.Parse(spec)
			p, err := Predict(net, Options{Init: in, InputL4: l4})
			if err != nil {
				t.Fatal(err)
			}
			st := weightinit.NewStream(1, 2)
			sampler := in.Weight.Sampler(n0, n1)
			draw := func() float64 { return sampler.Rand(st) }
			var m moments
			m0 := sqNorm(x) / n0
			for s := 0; s < samples; s++ {
				y := randomLayer(x, n1, draw, relu)
				ratio := sqNorm(y) / n1 / m0
				m.add(ratio * ratio)
			}
			within5SE(t, init+" "+spec+" E[R^2]", &m, float64(p.Layers[0].SecondMomentRatio))
		}
	}
}

// TestResidualBlockMonteCarlo checks the exact moments of the block ratio
// R = M_l/M_{l-1} of an identity block with Gaussian weights and zero
// biases, given the stream's rho, for both module ends, two values of c, and
// a module whose hidden width m differs from the stream's n.
func TestResidualBlockMonteCarlo(t *testing.T) {
	const n, samples = 12, 100000
	r0 := rand.New(rand.NewPCG(7, 7))
	x := make([]float64, n)
	for i := range x {
		x[i] = math.Max(0, r0.NormFloat64()) + 0.1*float64(i%3)
	}
	sx := 0.0
	for _, v := range x {
		sx += v
	}
	rho := sx / (math.Sqrt(n) * math.Sqrt(sqNorm(x)))
	for _, c := range []struct {
		c float64
		m int
	}{{2, n}, {3, n}, {2, 7}} {
		for _, endReLU := range []bool{true, false} {
			module := []mcLayer{{c.m, c.c, true}, {n, c.c, endReLU}}
			lnC, noBias := math.Log(c.c), math.Inf(-1)
			laws := []law{{c: c.c, lnC: lnC, lnBeta: noBias, zeroBias: true, cover: 1, relu: true, width: c.m}, {c: c.c, lnC: lnC, lnBeta: noBias, zeroBias: true, cover: 1, relu: endReLU, width: n}}
			bl := newBlock(laws, nil, n, 0.8, false, 0)
			lnW1, lnW2 := bl.ratioLogMoments(rho)
			w1, w2 := math.Exp(lnW1), math.Exp(lnW2)
			r := rand.New(rand.NewPCG(3, uint64(c.c)*uint64(c.m)))
			var m1, m2 moments
			for s := 0; s < samples; s++ {
				ratio := sampleBlock(r, [][]float64{x}, module, nil, bl.eta, false)
				m1.add(ratio)
				m2.add(ratio * ratio)
			}
			name := fmt.Sprintf("c=%g m=%d end=linear", c.c, c.m)
			if endReLU {
				name = fmt.Sprintf("c=%g m=%d end=relu", c.c, c.m)
			}
			within5SE(t, name+" E[R]", &m1, w1)
			within5SE(t, name+" E[R^2]", &m2, w2)
		}
	}
}

// TestJacobianMonteCarlo checks THEORY 6's E[Z^2] and E[Z^4] for one entry
// of the input-output Jacobian of a small He Gaussian net at a fixed input,
// with a ReLU and with a linear output layer.
func TestJacobianMonteCarlo(t *testing.T) {
	const samples = 400000
	widths := []int{5, 7, 6, 3}
	x := []float64{0.3, -1.2, 0.8, 0.1, 2}
	for _, reluOut := range []bool{true, false} {
		spec := "net:5,dense7,dense6,dense3:linear"
		if reluOut {
			spec = "net:5,dense7,dense6,dense3:relu"
		}
		net, _ := arch.Parse(spec)
		in, _ := weightinit.ParseInit("he-normal")
		p, err := Predict(net, Options{Init: in})
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(11, 13))
		var z2, z4 moments
		for s := 0; s < samples; s++ {
			act := x
			// jac holds d act / d x_0 through the layers so far.
			jac := []float64{1, 0, 0, 0, 0}
			for j := 1; j < len(widths); j++ {
				sd := math.Sqrt(2 / float64(widths[j-1]))
				next, nextJac := make([]float64, widths[j]), make([]float64, widths[j])
				for i := range next {
					var pre, dj float64
					for k := range act {
						w := sd * r.NormFloat64()
						pre += w * act[k]
						dj += w * jac[k]
					}
					if (j < len(widths)-1 || reluOut) && pre <= 0 {
						pre, dj = 0, 0
					}
					next[i], nextJac[i] = pre, dj
				}
				act, jac = next, nextJac
			}
			z := jac[0]
			z2.add(z * z)
			z4.add(z * z * z * z)
		}
		within5SE(t, spec+" E[Z^2]", &z2, float64(p.Jacobian.MeanSquare))
		within5SE(t, spec+" E[Z^4]", &z4, float64(p.Jacobian.FourthMoment))
		if !p.Jacobian.Exact {
			t.Errorf("%s: Jacobian moments not marked exact", spec)
		}
	}
}
