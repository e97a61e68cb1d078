package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/nn"
	"github.com/initscope/initscope/weightinit"
)

func mustNet(t *testing.T, spec string) *arch.Graph {
	t.Helper()
	net, err := arch.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return net
}

func mustInit(t *testing.T, name string) weightinit.Init {
	t.Helper()
	in, err := weightinit.ParseInit(name)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func mustBuild(t *testing.T, net *arch.Graph) *nn.Sequential[float32] {
	t.Helper()
	m, err := Build(net)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// weightLayers lists the dense and conv layers in the order of their
// parameters, residual modules expanded in place.
func weightLayers(ls []arch.Layer) []arch.Layer {
	var out []arch.Layer
	for _, l := range ls {
		if l.HasWeights() {
			out = append(out, l)
		}
		out = append(out, weightLayers(l.Module)...)
	}
	return out
}

// TestBuild checks that every arch kind becomes the right nn layer, with
// the same shapes, a ReLU where arch has one, the residual scale, and
// parameters with arch's fans and counts.
func TestBuild(t *testing.T) {
	for _, spec := range []string{
		"fc:784-100x3-10",
		"net:3x16x16,conv8k3,conv8k3s2p0:linear,maxpool2,avgpool2s1,resconv8k3x2:eta=0.5,gap,dense10",
		"net:784,dense64,resdense64x3:eta=0.9^l:end=linear,dense10",
		"net:1x28x28,conv4k5p0,maxpool3s2,conv6k3p2,flatten,dense32,dense10:relu",
	} {
		t.Run(spec, func(t *testing.T) {
			net := mustNet(t, spec)
			model := mustBuild(t, net)
			if model.InShape() != shape(net.Input()) || model.OutShape() != shape(net.Output()) {
				t.Errorf("model maps %v to %v, net %s to %s", model.InShape(), model.OutShape(), net.Input(), net.Output())
			}
			layers := model.Layers()
			j := 0
			for i, l := range net.Layers() {
				l := &l
				if j >= len(layers) {
					t.Fatalf("the model has %d layers, too few for arch layer %d", len(layers), i+1)
				}
				got := layers[j]
				if got.InShape() != shape(l.In) || got.OutShape() != shape(l.Out) {
					t.Errorf("layer %d (%s): nn maps %v to %v, arch %s to %s", i+1, l, got.InShape(), got.OutShape(), l.In, l.Out)
				}
				var ok bool
				switch l.Kind {
				case arch.Dense:
					_, ok = got.(*nn.Dense[float32])
				case arch.Conv:
					_, ok = got.(*nn.Conv2d[float32])
				case arch.MaxPool:
					_, ok = got.(*nn.MaxPool2d[float32])
				case arch.AvgPool, arch.GlobalAvgPool:
					_, ok = got.(*nn.AvgPool2d[float32])
				case arch.Flatten:
					_, ok = got.(*nn.Flatten[float32])
				case arch.Residual:
					var r *nn.Residual[float32]
					if r, ok = got.(*nn.Residual[float32]); ok && r.Eta != l.Eta {
						t.Errorf("layer %d (%s): eta %g, want %g", i+1, l, r.Eta, l.Eta)
					}
				}
				if !ok {
					t.Errorf("layer %d (%s): built as %T", i+1, l, got)
				}
				j++
				if l.ReLU {
					if r, ok := layers[j].(*nn.ReLU[float32]); !ok || r.InShape() != shape(l.Out) {
						t.Errorf("layer %d (%s): followed by %T, want a ReLU of %s", i+1, l, layers[j], l.Out)
					}
					j++
				}
			}
			if j != len(layers) {
				t.Errorf("the model has %d layers, want %d", len(layers), j)
			}

			params := model.Params()
			wls := weightLayers(net.Layers())
			if len(params) != 2*len(wls) {
				t.Fatalf("%d parameters, want a weight and a bias for each of %d layers", len(params), len(wls))
			}
			total := 0
			for k, wl := range wls {
				wl := &wl
				w, b := params[2*k], params[2*k+1]
				if w.Role != nn.Weight || b.Role != nn.Bias {
					t.Errorf("parameters %s, %s: roles %s, %s", w.Name, b.Name, w.Role, b.Role)
				}
				for _, p := range []*nn.Param[float32]{w, b} {
					if p.FanIn != wl.FanIn() || p.FanOut != wl.FanOut() {
						t.Errorf("%s: fans %d, %d; arch layer %s has %d, %d", p.Name, p.FanIn, p.FanOut, wl, wl.FanIn(), wl.FanOut())
					}
				}
				if len(w.Data) != wl.FanIn()*wl.Width() || len(b.Data) != wl.Width() {
					t.Errorf("%s: %d weights and %d biases, want %d and %d", wl, len(w.Data), len(b.Data), wl.FanIn()*wl.Width(), wl.Width())
				}
				total += len(w.Data) + len(b.Data)
			}
			if total != net.Params() {
				t.Errorf("%d parameters, arch counts %d", total, net.Params())
			}
		})
	}
}

// TestBuildResidualForward checks a residual block's wiring against the
// formula x + eta * module(x), module = dense-ReLU-dense(-ReLU).
func TestBuildResidualForward(t *testing.T) {
	for _, end := range []string{"linear", "relu"} {
		net := mustNet(t, "net:5,resdense5:eta=0.5:end="+end)
		model := mustBuild(t, net)
		if err := Initialize(model, mustInit(t, "pytorch-default"), 7); err != nil {
			t.Fatal(err)
		}
		p := model.Params()
		w1, b1, w2, b2 := p[0].Data, p[1].Data, p[2].Data, p[3].Data
		const n, batch = 5, 3
		r := rand.New(rand.NewPCG(1, 2))
		x := make([]float32, batch*n)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		got := model.Forward(x, batch)
		for s := range batch {
			xs := x[s*n : (s+1)*n]
			h := make([]float64, n)
			for i := range n {
				v := float64(b1[i])
				for j := range n {
					v += float64(w1[i*n+j]) * float64(xs[j])
				}
				h[i] = max(v, 0)
			}
			for i := range n {
				v := float64(b2[i])
				for j := range n {
					v += float64(w2[i*n+j]) * h[j]
				}
				if end == "relu" {
					v = max(v, 0)
				}
				want := float64(xs[i]) + 0.5*v
				if math.Abs(float64(got[s*n+i])-want) > 1e-5 {
					t.Errorf("end=%s: sample %d output %d: got %g, want %g", end, s, i, got[s*n+i], want)
				}
			}
		}
	}
}

func TestBuildErrors(t *testing.T) {
	if _, err := Build(nil); err == nil {
		t.Error("Build(nil): no error")
	}
	if _, err := Build(&arch.Graph{Nodes: []arch.Node{{Op: arch.OpInput, Out: arch.Flat(3)}}}); err == nil {
		t.Error("Build of a net without layers: no error")
	}
}

// TestInitialize checks each weight tensor's sample variance against the
// law's within 5 standard errors, and the biases.
func TestInitialize(t *testing.T) {
	net := mustNet(t, "net:3x16x16,conv32k3,conv64k3s2,flatten,dense200,dense10")
	for _, name := range []string{"he-normal", "he-uniform", "he-truncated", "he-rademacher", "lecun-normal", "glorot-normal", "pytorch-default"} {
		init := mustInit(t, name)
		model := mustBuild(t, net)
		if err := Initialize(model, init, 42); err != nil {
			t.Fatal(err)
		}
		for _, p := range model.Params() {
			law := init.Weight
			if p.Role == nn.Bias {
				law = init.Bias
			}
			want := law.Variance(p.FanIn, p.FanOut)
			if law.IsZero() {
				if slices.ContainsFunc(p.Data, func(v float32) bool { return v != 0 }) {
					t.Errorf("%s %s: law %s, but not all values are 0", name, p.Name, law)
				}
				continue
			}
			var s1, s2 float64
			for _, v := range p.Data {
				s1 += float64(v)
				s2 += float64(v) * float64(v)
			}
			m := float64(len(p.Data))
			mean, second := s1/m, s2/m
			// The SE of mean(w²); Rademacher's is 0, up to float32 rounding.
			se := want * max(math.Sqrt((law.Family.Kurtosis()-1)/m), 1e-7)
			if math.Abs(second-want) > 5*se {
				t.Errorf("%s %s: mean square %.6g, law %s wants %.6g ± %.2g (5 SE)", name, p.Name, second, law, want, 5*se)
			}
			if math.Abs(mean) > 5*math.Sqrt(want/m) {
				t.Errorf("%s %s: mean %.3g, want 0 ± %.2g (5 SE)", name, p.Name, mean, 5*math.Sqrt(want/m))
			}
			if law.Family == weightinit.Uniform {
				bound := math.Sqrt(3 * law.Rule.Variance(p.FanIn, p.FanOut))
				for _, v := range p.Data {
					if math.Abs(float64(v)) > bound*(1+1e-6) {
						t.Errorf("%s %s: %g is outside ±%g", name, p.Name, v, bound)
						break
					}
				}
			}
		}
	}
}

// TestInitializeStream checks the documented stream and order, and that the
// same seed gives the same parameters and another seed others.
func TestInitializeStream(t *testing.T) {
	net := mustNet(t, "net:784,dense50,resdense50x2,dense10")
	init := mustInit(t, "pytorch-default")
	params := func(seed uint64) [][]float32 {
		model := mustBuild(t, net)
		if err := Initialize(model, init, seed); err != nil {
			t.Fatal(err)
		}
		var out [][]float32
		for _, p := range model.Params() {
			out = append(out, p.Data)
		}
		return out
	}
	a, b, c := params(5), params(5), params(6)
	if !slices.EqualFunc(a, b, slices.Equal) {
		t.Error("the same seed gave different parameters")
	}
	if slices.Equal(a[0], c[0]) {
		t.Error("seeds 5 and 6 gave the same first weights")
	}
	// The documented order: one stream, parameter by parameter.
	r := weightinit.NewStream(5, InitStream)
	for k, p := range a {
		fanIn := 784
		if k >= 2 {
			fanIn = 50
		}
		want := make([]float32, len(p))
		weightinit.Law{Family: weightinit.Uniform, Rule: weightinit.Rule{C: 1.0 / 3, Fan: weightinit.FanIn}}.Sampler(fanIn, 0).Fill(r, want)
		if !slices.Equal(p, want) {
			t.Fatalf("parameter %d differs from draw %d of PCG(seed, InitStream)", k, k)
		}
	}
}

func TestInitializeZero(t *testing.T) {
	model := mustBuild(t, mustNet(t, "fc:4-3-2"))
	if err := Initialize(model, weightinit.Init{Weight: weightinit.Law{Family: weightinit.Zero}}, 1); err == nil {
		t.Error("all-zero weights: no error")
	}
}
