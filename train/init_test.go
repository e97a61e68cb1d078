package train

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/data"
	"github.com/initscope/initscope/nn"
	"github.com/initscope/initscope/weightinit"
)

func mustNet(t testing.TB, spec string) *arch.Graph {
	t.Helper()
	net, err := arch.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return net
}

func mustInit(t testing.TB, name string) weightinit.Init {
	t.Helper()
	in, err := weightinit.ParseInit(name)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func mustModel(t *testing.T, net *arch.Graph) *nn.Model[float32] {
	t.Helper()
	m, err := nn.NewModel[float32](net, 1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestInitialize checks each weight tensor's sample variance against the
// law's within 5 standard errors, and the biases.
func TestInitialize(t *testing.T) {
	net := mustNet(t, "net:3x16x16,conv32k3,conv64k3s2,flatten,dense200,dense10")
	for _, name := range []string{"he-normal", "he-uniform", "he-truncated", "he-rademacher", "lecun-normal", "glorot-normal", "pytorch-default"} {
		init := mustInit(t, name)
		model := mustModel(t, net)
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
		model := mustModel(t, net)
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
	model := mustModel(t, mustNet(t, "fc:4-3-2"))
	if err := Initialize(model, weightinit.Init{Weight: weightinit.Law{Family: weightinit.Zero}}, 1); err == nil {
		t.Error("all-zero weights: no error")
	}
}

// TestScaleLogits checks that LogitScale multiplies the logits' weights
// only: every other parameter, the logits' bias included, is as drawn.
func TestScaleLogits(t *testing.T) {
	net := mustNet(t, "net:784,dense32,resdense32x3:eta=0.9^l,dense10")
	init := mustInit(t, "he-normal")
	init.Bias = mustInit(t, "normal:0.01").Weight
	a, b := mustModel(t, net), mustModel(t, net)
	if err := Initialize(a, init, 3); err != nil {
		t.Fatal(err)
	}
	if err := Initialize(b, init, 3); err != nil {
		t.Fatal(err)
	}
	scaleLogits(b, 0.25)
	pa, pb := a.Params(), b.Params()
	last := -1
	for i, p := range pa {
		if p.Role == nn.Weight {
			last = i
		}
	}
	for i := range pa {
		for j := range pa[i].Data {
			want := pa[i].Data[j]
			if i == last {
				want *= 0.25
			}
			if pb[i].Data[j] != want {
				t.Fatalf("param %s[%d] = %v, want %v", pa[i].Name, j, pb[i].Data[j], want)
			}
		}
	}
	if pa[last].FanOut != 10 || pa[last].FanIn != 32 {
		t.Errorf("last weight %s has fans %d/%d: not the logits", pa[last].Name, pa[last].FanIn, pa[last].FanOut)
	}
	cfg := Config{Net: net, Init: init, Optimizer: "sgd", LR: 0.1, Batch: 8, Epochs: 1, LogitScale: -1}
	if err := cfg.Validate(data.Info{}); err == nil || !strings.Contains(err.Error(), "LogitScale") {
		t.Errorf("LogitScale -1: %v, want an error naming LogitScale", err)
	}
}
