package audit

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/onnx/lower"
	"github.com/initscope/initscope/safetensors"
)

// TestSafetensorsMatchesONNX audits the same PyTorch MLP twice: from its
// ONNX export, and from its state dict saved as safetensors with the net
// given as a spec. Both must give the same tensors' statistics and the
// same prediction: the two front ends are independent paths to one graph.
func TestSafetensorsMatchesONNX(t *testing.T) {
	f, err := safetensors.Read("../testdata/models/mlp20_default.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	g, err := arch.Parse("fc:784-64x20-10")
	if err != nil {
		t.Fatal(err)
	}
	st, err := FromSafetensors(f, g)
	if err != nil {
		t.Fatal(err)
	}
	on, err := lowerFile("../testdata/models/mlp20_default.onnx")
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{Input: make1(784), Threads: 1}
	a, err := Run(st, "mlp20_default.safetensors", "safetensors", opt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(on, "mlp20_default.onnx", "onnx", opt)
	if err != nil {
		t.Fatal(err)
	}
	if a.FM1.Verdict != "vanishing" || a.FM1.Verdict != b.FM1.Verdict || a.FM2.Verdict != b.FM2.Verdict {
		t.Errorf("verdicts: safetensors %s/%s, ONNX %s/%s, want vanishing and equal", a.FM1.Verdict, a.FM2.Verdict, b.FM1.Verdict, b.FM2.Verdict)
	}
	if x, y := float64(a.FM1.Log10Product), float64(b.FM1.Log10Product); math.Abs(x-y) > 1e-9 {
		t.Errorf("log10 FM1 product: safetensors %g, ONNX %g", x, y)
	}
	byName := map[string]TensorStat{}
	for _, s := range b.Tensors {
		byName[s.Name] = s
	}
	if len(a.Tensors) != len(b.Tensors) {
		t.Fatalf("%d tensors from safetensors, %d from ONNX", len(a.Tensors), len(b.Tensors))
	}
	for _, s := range a.Tensors {
		o, ok := byName[s.Name]
		switch {
		case !ok:
			t.Errorf("%s: not in the ONNX model", s.Name)
		case s.FanIn != o.FanIn || s.FanOut != o.FanOut || s.Role != o.Role || s.C != o.C || s.Law != o.Law:
			t.Errorf("%s: safetensors fans %d/%d role %s c %g law %s; ONNX %d/%d %s %g %s",
				s.Name, s.FanIn, s.FanOut, s.Role, s.C, s.Law, o.FanIn, o.FanOut, o.Role, o.C, o.Law)
		}
	}
}

// TestSafetensorsMapping checks the errors of a spec that does not fit
// the file's tensors, and the fans of a file read without a spec.
func TestSafetensorsMapping(t *testing.T) {
	f, err := safetensors.Read("../testdata/models/mlp20_default.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	for spec, want := range map[string]string{
		"fc:784-64x19-10":                      `no layer for the weight tensors "layers.38.weight" [64 64]`,
		"fc:784-64x21-10":                      `layer 21 (dense) of fc:784-64x21-10 needs a weight of shape [64 64]: no unused tensor has it (unused: "head.weight" [10 64])`,
		"fc:784-32x20-10":                      `needs a weight of shape [32 784]`,
		"net:1x28x28,conv64k3,flatten,dense10": `needs a weight of shape [64 1 3 3]`,
	} {
		g, err := arch.Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		_, err = FromSafetensors(f, g)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", spec, err, want)
		}
	}
	m, err := FromSafetensors(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range m.Tensors {
		wantIn := 64
		if strings.HasPrefix(tn.Name, "layers.0.") {
			wantIn = 784
		}
		if tn.FanIn != wantIn || tn.GraphNode != -1 {
			t.Errorf("%s: fan-in %d, graph node %d; want %d, -1", tn.Name, tn.FanIn, tn.GraphNode, wantIn)
		}
	}
}

// TestTorchFans checks lower.TorchFans against torch.nn.init._calculate_fan_in_and_fan_out.
func TestTorchFans(t *testing.T) {
	for _, c := range []struct {
		shape   []int
		in, out int
	}{
		{[]int{10, 64}, 64, 10},
		{[]int{16, 3, 3, 3}, 27, 144},
		{[]int{32, 1, 5, 5}, 25, 800}, // depthwise: Cin/groups = 1
		{[]int{8, 4, 3}, 12, 24},      // Conv1d
		{[]int{8}, 0, 0},
	} {
		if in, out := lower.TorchFans(c.shape); in != c.in || out != c.out {
			t.Errorf("%v: fans %d, %d, want %d, %d", c.shape, in, out, c.in, c.out)
		}
	}
}

// TestNaturalOrder checks the order in which tensors fill layers.
func TestNaturalOrder(t *testing.T) {
	names := []string{"layers.10.weight", "head.weight", "layers.2.weight", "layers.02.bias", "layers.1.weight", "a10", "a9b"}
	slices.SortFunc(names, naturalCompare)
	want := []string{"a9b", "a10", "head.weight", "layers.1.weight", "layers.02.bias", "layers.2.weight", "layers.10.weight"}
	if !slices.Equal(names, want) {
		t.Errorf("natural order %v, want %v", names, want)
	}
}
