package audit

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/initscope/initscope/onnx"
	"github.com/initscope/initscope/onnx/lower"
)

// debianTestdata is where Debian's libonnx-testdata puts the models
// PyTorch converted to ONNX, each with input_0.pb and output_0.pb.
const debianTestdata = "/usr/share/libonnx-testdata/data/pytorch-converted"

// supportedDebian are the Debian test models whose ops the lowering
// supports: each must reproduce PyTorch's output to 1e-4. Every other
// model must be refused with a reason (3-D convolutions and pooling,
// activations other than ReLU, transposed convolutions, ...).
var supportedDebian = []string{
	"test_AvgPool1d", "test_AvgPool1d_stride", "test_AvgPool2d", "test_AvgPool2d_stride",
	"test_BatchNorm1d_3d_input_eval", "test_BatchNorm2d_eval", "test_BatchNorm2d_momentum_eval",
	"test_Conv1d", "test_Conv1d_dilated", "test_Conv1d_groups", "test_Conv1d_pad1", "test_Conv1d_pad1size1",
	"test_Conv1d_pad2", "test_Conv1d_pad2size1", "test_Conv1d_stride",
	"test_Conv2d", "test_Conv2d_depthwise", "test_Conv2d_depthwise_padded", "test_Conv2d_depthwise_strided",
	"test_Conv2d_depthwise_with_multiplier", "test_Conv2d_dilated", "test_Conv2d_groups", "test_Conv2d_groups_thnn",
	"test_Conv2d_no_bias", "test_Conv2d_padding", "test_Conv2d_strided",
	"test_Linear", "test_Linear_no_bias",
	"test_MaxPool1d", "test_MaxPool1d_stride", "test_MaxPool1d_stride_padding_dilation",
	"test_MaxPool2d", "test_MaxPool2d_stride_padding_dilation",
	"test_ReLU",
}

// requireTestdata skips when dir is missing, unless the environment asks
// for the test data (CI sets INITSCOPE_REQUIRE_TESTDATA).
func requireTestdata(t *testing.T, dir, pkg string) {
	t.Helper()
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("INITSCOPE_REQUIRE_TESTDATA") != "" {
			t.Fatalf("%s is missing (Debian package %s) and INITSCOPE_REQUIRE_TESTDATA is set", dir, pkg)
		}
		t.Skipf("%s is missing: install the Debian package %s", dir, pkg)
	}
}

// TestDebianPyTorchModels runs every PyTorch-converted model of Debian's
// ONNX test data whose ops are supported and compares its output with
// PyTorch's, and checks that every other one is refused with a reason.
func TestDebianPyTorchModels(t *testing.T) {
	requireTestdata(t, debianTestdata, "libonnx-testdata")
	dirs, err := filepath.Glob(filepath.Join(debianTestdata, "test_*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no models in %s: %v", debianTestdata, err)
	}
	var passed []string
	for _, dir := range dirs {
		name := filepath.Base(dir)
		lm, err := lowerFile(filepath.Join(dir, "model.onnx"))
		if !slices.Contains(supportedDebian, name) {
			if err == nil && len(lm.Unsupported) == 0 {
				t.Errorf("%s: lowered, but it is not in the supported list: check its output and add it", name)
			}
			if err == nil && lm.Unsupported[0].Reason == "" || err != nil && err.Error() == "" {
				t.Errorf("%s: refused without a reason", name)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: error of more than one line: %q", name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if compareOutput(t, name, lm, dir) {
			passed = append(passed, name)
		}
	}
	t.Logf("%d of %d Debian PyTorch models reproduce PyTorch's output: %s", len(passed), len(dirs), strings.Join(passed, " "))
}

// TestOwnFixtures runs the models testdata/models/export.py exported with
// PyTorch 1.13 and compares each output with PyTorch's.
func TestOwnFixtures(t *testing.T) {
	dirs, err := filepath.Glob("../testdata/models/*_data")
	if err != nil || len(dirs) < 10 {
		t.Fatalf("fixtures: %v (%d found)", err, len(dirs))
	}
	for _, dir := range dirs {
		name := strings.TrimSuffix(filepath.Base(dir), "_data")
		lm, err := lowerFile(filepath.Join(filepath.Dir(dir), name+".onnx"))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(lm.Unsupported) > 0 {
			if name != "transformerish" {
				t.Errorf("%s: unsupported %v", name, lm.Unsupported)
			}
			continue
		}
		compareOutput(t, name, lm, dir)
	}
}

func lowerFile(path string) (*lower.Model, error) {
	m, err := onnx.Read(path)
	if err != nil {
		return nil, err
	}
	return lower.Lower(m)
}

// compareOutput runs lm on dir's input_0.pb and compares the result with
// output_0.pb: every value within 1e-4 of the output's largest magnitude.
func compareOutput(t *testing.T, name string, lm *lower.Model, dir string) bool {
	t.Helper()
	in, err := onnx.ReadTensor(filepath.Join(dir, "input_0.pb"))
	if os.IsNotExist(errors.Unwrap(err)) || errors.Is(err, os.ErrNotExist) {
		in, err = onnx.ReadTensor(filepath.Join(dir, "test_data_set_0", "input_0.pb"))
		dir = filepath.Join(dir, "test_data_set_0")
	}
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return false
	}
	want, err := onnx.ReadTensor(filepath.Join(dir, "output_0.pb"))
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return false
	}
	m, err := NewModel(lm, 2)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return false
	}
	batch := len(in.Float) / lm.Graph.Input().Size()
	got := m.Forward(in.Float, batch)
	if len(got) != len(want.Float) {
		t.Errorf("%s: %d outputs, PyTorch has %d (shape %v)", name, len(got), len(want.Float), want.Dims)
		return false
	}
	var scale float64
	for _, v := range want.Float {
		scale = math.Max(scale, math.Abs(v))
	}
	worst, at := 0.0, 0
	for i := range got {
		if d := math.Abs(got[i] - want.Float[i]); d > worst {
			worst, at = d, i
		}
	}
	if worst > 1e-4*scale {
		t.Errorf("%s: output %d is %g, PyTorch's %g: off by %.3g of the output's scale %g", name, at, got[at], want.Float[at], worst/scale, scale)
		return false
	}
	return true
}

// TestUnsupportedListed checks that a model with LayerNorm and GELU lists
// every op it cannot lower, by node name and op, and still reports every
// tensor and the theory up to the first.
func TestUnsupportedListed(t *testing.T) {
	lm, err := lowerFile("../testdata/models/transformerish.onnx")
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]bool{}
	for _, u := range lm.Unsupported {
		ops[u.Op] = true
		if u.Node == "" || u.Reason == "" {
			t.Errorf("unsupported entry without a name or reason: %+v", u)
		}
	}
	for _, op := range []string{"ReduceMean", "Sub", "Pow", "Sqrt", "Div", "Erf"} {
		if !ops[op] {
			t.Errorf("op %s is not listed among %v", op, lm.Unsupported)
		}
	}
	// The supported nodes after the stop (the second Linear, the final
	// softmax) are named in a note.
	notes := strings.Join(lm.Notes, "\n")
	for _, node := range []string{"Gemm x1", "Softmax x1", "to /softmax/Softmax"} {
		if !strings.Contains(notes, node) {
			t.Errorf("node %s left out without a note: %q", node, notes)
		}
	}
	r, err := Run(lm, "transformerish.onnx", "onnx", Options{Input: make1(784), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Tensors) < 6 || r.Prediction == nil || len(r.Layers) != 1 {
		t.Errorf("%d tensors, prediction %v: want every tensor and the first Linear's layer", len(r.Tensors), r.Prediction != nil)
	}
}

func make1(n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = 1
	}
	return x
}

// TestVerdicts checks the paper's verdicts on real PyTorch MLPs: at
// PyTorch's default initialization a 20-layer MLP vanishes (c = 1/3 per
// layer, within 3% over the whole net), with Kaiming's it does not.
func TestVerdicts(t *testing.T) {
	for _, c := range []struct {
		file, fm1 string
		c         float64
	}{
		{"mlp20_default.onnx", "vanishing", 1.0 / 3},
		{"mlp20_kaiming.onnx", "ok", 2},
		{"mlp20_kaiming_external.onnx", "ok", 2},
		{"mlp20_kaiming_fp16.onnx", "ok", 2},
		{"mlp20_kaiming_typed.onnx", "ok", 2},
	} {
		lm, err := lowerFile("../testdata/models/" + c.file)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Run(lm, c.file, "onnx", Options{Input: make1(784), Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		if r.FM1.Verdict != c.fm1 {
			t.Errorf("%s: FM1 %s, want %s", c.file, r.FM1.Verdict, c.fm1)
		}
		// The pooled c of the hidden weights (all but the first and the
		// logits, whose fans differ), weighted by their sizes.
		var sum, n float64
		var hidden []string
		for _, s := range r.Tensors {
			if s.Role == "weight" && len(s.Shape) == 2 && s.Shape[0] == 64 && s.Shape[1] == 64 {
				sum += float64(s.C) * float64(s.N)
				n += float64(s.N)
				hidden = append(hidden, s.Name)
			}
		}
		sort.Strings(hidden)
		if len(hidden) != 19 {
			t.Fatalf("%s: %d hidden 64x64 weights, want 19: %v", c.file, len(hidden), hidden)
		}
		if got := sum / n; math.Abs(got/c.c-1) > 0.03 {
			t.Errorf("%s: pooled c = %.4f, want within 3%% of %.4f", c.file, got, c.c)
		}
	}
}
