package probe

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/weightinit"
)

// mixedNet has every layer kind but gap (gapNet has it): strided and padded
// conv, overlapping max pooling, average pooling, conv and dense residual
// blocks of both endings, flatten and dense layers.
const mixedNet = "net:2x10x10,conv4k3s2p1,maxpool2s1,resconv4k3:end=linear,avgpool2,conv6k3,resconv6k1:eta=0.5,flatten,dense12,resdense12:eta=0.7,dense5"

// gapNet has a conv without padding and a same-padded one, then global
// average pooling.
const gapNet = "net:3x8x8,conv5k3p0,conv4k3,gap,dense4"

func mustNet(t testing.TB, spec string) *arch.Net {
	t.Helper()
	n, err := arch.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mustInit(t testing.TB, s string) weightinit.Init {
	t.Helper()
	in, err := weightinit.ParseInit(s)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// testInput is a fixed input with positive and negative entries.
func testInput(n int) []float64 {
	r := rand.New(rand.NewPCG(99, 99))
	x := make([]float64, n)
	for i := range x {
		x[i] = r.NormFloat64() + 0.3
	}
	return x
}

// refForward computes a net's output in float64 with naive loops, drawing
// the tangent and then the weights and biases from r in the order the
// network sampler documents, through weightinit's own samplers. It returns
// the output, the drawn tangent and M_j for every layer.
func refForward(net *arch.Net, init weightinit.Init, x []float64, r *rand.Rand) (out, u, m []float64) {
	u = make([]float64, len(x))
	for i := range u {
		u[i] = r.NormFloat64()
	}
	cur := x
	for _, l := range net.Layers {
		cur = refLayer(l, init, cur, r)
		var ss float64
		for _, v := range cur {
			ss += v * v
		}
		m = append(m, ss/float64(len(cur)))
	}
	return cur, u, m
}

func refDraw(law weightinit.Law, fanIn, fanOut, n int, r *rand.Rand) []float64 {
	f := make([]float32, n)
	law.Sampler(fanIn, fanOut).Fill(r, f)
	out := make([]float64, n)
	for i, v := range f {
		out[i] = float64(v)
	}
	return out
}

func refLayer(l arch.Layer, init weightinit.Init, x []float64, r *rand.Rand) []float64 {
	in, o := l.In, l.Out
	y := make([]float64, o.Size())
	switch l.Kind {
	case arch.Dense, arch.Conv:
		w := refDraw(init.Weight, l.FanIn(), l.FanOut(), l.Width()*l.FanIn(), r)
		b := make([]float64, l.Width())
		if !init.Bias.IsZero() {
			b = refDraw(init.Bias, l.FanIn(), l.FanOut(), l.Width(), r)
		}
		if l.Kind == arch.Dense {
			for i := range y {
				y[i] = b[i]
				for j, v := range x {
					y[i] += w[i*len(x)+j] * v
				}
			}
		} else {
			k := l.Kernel
			for co := range o.C {
				for oh := range o.H {
					for ow := range o.W {
						s := b[co]
						for ci := range in.C {
							for ki := range k {
								for kj := range k {
									ih, iw := oh*l.Stride-l.Pad+ki, ow*l.Stride-l.Pad+kj
									if ih >= 0 && ih < in.H && iw >= 0 && iw < in.W {
										s += w[((co*in.C+ci)*k+ki)*k+kj] * x[(ci*in.H+ih)*in.W+iw]
									}
								}
							}
						}
						y[(co*o.H+oh)*o.W+ow] = s
					}
				}
			}
		}
		if l.ReLU {
			for i, v := range y {
				y[i] = math.Max(v, 0)
			}
		}
	case arch.MaxPool, arch.AvgPool:
		k := l.Kernel
		for c := range o.C {
			for oh := range o.H {
				for ow := range o.W {
					best, sum := math.Inf(-1), 0.0
					for ki := range k {
						for kj := range k {
							v := x[(c*in.H+oh*l.Stride+ki)*in.W+ow*l.Stride+kj]
							best = math.Max(best, v)
							sum += v
						}
					}
					if l.Kind == arch.MaxPool {
						y[(c*o.H+oh)*o.W+ow] = best
					} else {
						y[(c*o.H+oh)*o.W+ow] = sum / float64(k*k)
					}
				}
			}
		}
	case arch.GlobalAvgPool:
		p := in.H * in.W
		for c := range in.C {
			for _, v := range x[c*p : (c+1)*p] {
				y[c] += v / float64(p)
			}
		}
	case arch.Flatten:
		copy(y, x)
	case arch.Residual:
		h := refLayer(l.Module[0], init, x, r)
		h = refLayer(l.Module[1], init, h, r)
		for i := range y {
			y[i] = x[i] + l.Eta*h[i]
		}
	}
	return y
}

// runOnce runs the network sampler for one sample and returns the output
// in float64, J u, and the row.
func runOnce(net *arch.Net, init weightinit.Init, x []float64, seed, index uint64) (out, ju, row []float64) {
	w := newNetWorker(newNetPlan(net, init, x))
	row = make([]float64, len(net.Layers)+1)
	buf, s := w.run(seed, index, row)
	n := len(buf) / 2
	for i := range n {
		out = append(out, math.Exp(s.x)*float64(buf[i]))
		ju = append(ju, math.Exp(s.u)*float64(buf[n+i]))
	}
	return out, ju, row
}

func relDiff(a, b []float64) float64 {
	var d, n float64
	for i := range a {
		d += (a[i] - b[i]) * (a[i] - b[i])
		n += b[i] * b[i]
	}
	return math.Sqrt(d / n)
}

// TestNetworkMatchesReference runs the network sampler against a naive
// float64 forward pass with the same weights: the output, every M_j, and
// the random stream's order must agree.
func TestNetworkMatchesReference(t *testing.T) {
	for _, spec := range []string{mixedNet, gapNet, "fc:20-9x3-4"} {
		for _, initName := range []string{"he-normal", "pytorch-default", "he-rademacher", "he-truncated"} {
			net, init := mustNet(t, spec), mustInit(t, initName)
			x := testInput(net.Input.Size())
			out, _, row := runOnce(net, init, x, 11, 12)
			want, _, m := refForward(net, init, x, rand.New(rand.NewPCG(11, 12)))
			if d := relDiff(out, want); d > 1e-5 {
				t.Errorf("%s %s: output differs from the reference by %.3g (relative)", spec, initName, d)
			}
			m0 := meanSquare(x)
			for j, mj := range m {
				if d := math.Abs(row[j] - math.Log(mj/m0)); d > 1e-5 {
					t.Errorf("%s %s: layer %d: log(M/M0) %v, reference %v", spec, initName, j+1, row[j], math.Log(mj/m0))
				}
			}
		}
	}
}

// TestJacobianMatchesFiniteDifferences checks J u against central
// differences of the same network (same seed, so the same u and weights) at
// x +- h u, for nets with ReLU masks, max-pooling choices and biases.
func TestJacobianMatchesFiniteDifferences(t *testing.T) {
	for _, spec := range []string{mixedNet, gapNet, "fc:20-9x3-4"} {
		for _, initName := range []string{"he-normal", "pytorch-default"} {
			net, init := mustNet(t, spec), mustInit(t, initName)
			x := testInput(net.Input.Size())
			_, ju, row := runOnce(net, init, x, 21, 22)
			_, u, _ := refForward(net, init, x, rand.New(rand.NewPCG(21, 22)))
			var norm float64
			for _, v := range u {
				norm += v * v
			}
			norm = math.Sqrt(norm)
			h := 1e-3 * math.Sqrt(meanSquare(x)*float64(len(x)))
			xp, xm := make([]float64, len(x)), make([]float64, len(x))
			for i := range x {
				xp[i], xm[i] = x[i]+h*u[i]/norm, x[i]-h*u[i]/norm
			}
			fp, _, _ := runOnce(net, init, xp, 21, 22)
			fm, _, _ := runOnce(net, init, xm, 21, 22)
			fd := make([]float64, len(fp))
			var ss float64
			for i := range fd {
				fd[i] = (fp[i] - fm[i]) / (2 * h)
				ss += ju[i] * ju[i]
			}
			if d := relDiff(ju, fd); d > 1e-2 {
				t.Errorf("%s %s: J u differs from finite differences by %.3g (relative)", spec, initName, d)
			}
			if got := row[len(row)-1]; math.Abs(got-math.Log(ss)) > 1e-6 {
				t.Errorf("%s %s: row's log ||J u||^2 %v, from the output %v", spec, initName, got, math.Log(ss))
			}
		}
	}
}

// TestExtremeLengthsStayFinite pushes nets whose lengths leave the float32
// range (and float64's, for c = 40) through the network sampler: log M_d
// must be finite and near its exact mean, 400 (ln(c/2) - 0.040109) at
// width 64 (THEORY.md 3.1), within 5 of its standard deviations
// sqrt(400 * 0.082997).
func TestExtremeLengthsStayFinite(t *testing.T) {
	for _, c := range []float64{40, 0.05} {
		net := mustNet(t, "fc:64-64x400-64")
		init := weightinit.Init{Weight: weightinit.Law{Family: weightinit.Normal, Rule: weightinit.Rule{C: c, Fan: weightinit.FanIn}}, Bias: weightinit.Law{Family: weightinit.Zero}}
		_, _, row := runOnce(net, init, testInput(64), 1, 2)
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("c=%g: layer %d: log(M/M0) = %v", c, j+1, v)
			}
		}
		want := 400 * (math.Log(c/2) - 0.040109)
		if got, tol := row[399], 5*math.Sqrt(400*0.082997); math.Abs(got-want) > tol {
			t.Errorf("c=%g: log(M_400/M0) = %v, want %v +- %v", c, got, want, tol)
		}
	}
}
