package onnx

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// debianTestdata is where Debian's libonnx-testdata puts the models
// PyTorch converted to ONNX, each with input and output goldens.
const debianTestdata = "/usr/share/libonnx-testdata/data/pytorch-converted"

// testdataModels returns the model folders of libonnx-testdata; it skips
// t where the package is not installed, unless INITSCOPE_REQUIRE_TESTDATA
// is set.
func testdataModels(t testing.TB) []string {
	dirs, _ := filepath.Glob(filepath.Join(debianTestdata, "*", "model.onnx"))
	if len(dirs) == 0 {
		msg := "no models in " + debianTestdata + ": install the Debian package libonnx-testdata"
		if os.Getenv("INITSCOPE_REQUIRE_TESTDATA") != "" {
			t.Fatal(msg + " (INITSCOPE_REQUIRE_TESTDATA is set)")
		}
		t.Skip(msg)
	}
	for i, d := range dirs {
		dirs[i] = filepath.Dir(d)
	}
	return dirs
}

// TestLibonnxTestdata reads every model of libonnx-testdata and its first
// input and output.
func TestLibonnxTestdata(t *testing.T) {
	dirs := testdataModels(t)
	for _, dir := range dirs {
		m, err := Read(filepath.Join(dir, "model.onnx"))
		if err != nil {
			t.Error(err)
			continue
		}
		if len(m.Graph.Nodes) == 0 || m.IRVersion < 3 {
			t.Errorf("%s: %d nodes, IR version %d: want nodes and IR 3 or later", dir, len(m.Graph.Nodes), m.IRVersion)
		}
		consistent(t, m.Graph.Initializers...)
		for _, f := range []string{"input_0.pb", "output_0.pb"} {
			x, err := ReadTensor(filepath.Join(dir, "test_data_set_0", f))
			if err != nil {
				t.Error(err)
				continue
			}
			consistent(t, x)
		}
	}
	t.Logf("%d models", len(dirs))
}

// golden is a tensor's dims, first values and sum as NumPy computes them
// (onnx.numpy_helper.to_array, astype(float64), sum) with onnx 1.12.
type golden struct {
	path  string // relative to debianTestdata
	dims  []int
	first []float64
	sum   float64
}

// goldens were printed by /usr/bin/python3 with onnx 1.12 and numpy 1.24.
var goldens = []golden{
	{"test_Linear/model.onnx#1", []int{8, 10}, []float64{0.0960644781589508, 0.13097500801086426, -0.28912004828453064}, 0.8897878080606461},
	{"test_Linear/model.onnx#2", []int{8}, []float64{0.2874227464199066, 0.027553290128707886, 0.12702569365501404}, 1.6764900088310242},
	{"test_Linear/test_data_set_0/input_0.pb", []int{4, 10}, []float64{0.7199807167053223, 2.1837499141693115}, 6.007893772795796},
	{"test_Linear/test_data_set_0/output_0.pb", []int{4, 8}, []float64{0.15649177134037018, 1.5224121809005737}, 12.55945572257042},
	{"test_Conv2d/model.onnx#1", []int{4, 3, 3, 2}, []float64{-0.1429409235715866, -0.08505815267562866, -0.0018995553255081177}, -1.4300735518336296},
	{"test_Conv2d/test_data_set_0/output_0.pb", []int{2, 4, 5, 4}, []float64{-0.37131041288375854, -1.209028959274292}, -5.3818181194365025},
	{"test_Embedding/test_data_set_0/input_0.pb", []int{1, 4}, []float64{0, 1}, 2},
	{"test_BatchNorm2d_eval/model.onnx#4", []int{3}, []float64{1, 1, 1}, 3},
}

// TestLibonnxGoldens checks decoded values against NumPy's: float32
// values convert to float64 exactly, so they must be equal; sums may
// differ by the rounding of n additions, n * 2^-52 * sum |x|.
func TestLibonnxGoldens(t *testing.T) {
	testdataModels(t)
	for _, g := range goldens {
		x := readGolden(t, g.path)
		if !slices.Equal(x.Dims, g.dims) {
			t.Errorf("%s: dims %v, want %v", g.path, x.Dims, g.dims)
			continue
		}
		vs := x.Float
		if vs == nil {
			for _, v := range x.Int {
				vs = append(vs, float64(v))
			}
		}
		if !slices.Equal(vs[:len(g.first)], g.first) {
			t.Errorf("%s: first values %v, want %v", g.path, vs[:len(g.first)], g.first)
		}
		var sum, abs float64
		for _, v := range vs {
			sum += v
			abs += math.Abs(v)
		}
		if tol := float64(len(vs)) * 0x1p-52 * abs; math.Abs(sum-g.sum) > tol {
			t.Errorf("%s: sum %.17g, want %.17g within %.2g", g.path, sum, g.sum, tol)
		}
	}
}

// readGolden reads the tensor a golden names: a .pb file, or model.onnx#name
// for an initializer.
func readGolden(t *testing.T, path string) *Tensor {
	t.Helper()
	file, init, ok := cutLast(path, "#")
	if !ok {
		x, err := ReadTensor(filepath.Join(debianTestdata, path))
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	m, err := Read(filepath.Join(debianTestdata, file))
	if err != nil {
		t.Fatal(err)
	}
	x := m.Graph.Initializer(init)
	if x == nil {
		t.Fatalf("%s: no initializer %q", file, init)
	}
	return x
}

// cutLast cuts s around the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	i := len(s) - len(sep)
	for ; i >= 0; i-- {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

// TestLibonnxStructure checks what PyTorch's export of a few modules must
// hold: nodes, attributes, weights.
func TestLibonnxStructure(t *testing.T) {
	testdataModels(t)
	read := func(name string) *Model {
		m, err := Read(filepath.Join(debianTestdata, name, "model.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	lin := read("test_Linear")
	if len(lin.Graph.Nodes) != 1 || lin.Graph.Nodes[0].Op != "Gemm" {
		t.Fatalf("test_Linear: nodes %+v, want one Gemm", lin.Graph.Nodes)
	}
	if tb, err := lin.Graph.Nodes[0].Int("transB", 0); tb != 1 || err != nil {
		t.Errorf("test_Linear: transB %d, %v: want 1", tb, err)
	}
	if lin.IRVersion != 3 || lin.Opset != 6 || lin.Graph.Inputs[0].Type != Float32 {
		t.Errorf("test_Linear: IR %d, opset %d, input %v: want 3, 6, float32", lin.IRVersion, lin.Opset, lin.Graph.Inputs[0].Type)
	}
	conv := read("test_Conv2d")
	n := conv.Graph.Nodes[0]
	w := conv.Graph.Initializer(n.Inputs[1])
	ks, err := n.Ints("kernel_shape", nil)
	if n.Op != "Conv" || w == nil || !slices.Equal(w.Dims, []int{4, 3, 3, 2}) || !slices.Equal(ks, []int64{3, 2}) || err != nil {
		t.Errorf("test_Conv2d: node %s, weight %v, kernel_shape %v (%v): want Conv, [4 3 3 2], [3 2]", n.Op, w, ks, err)
	}
	bn := read("test_BatchNorm2d_eval").Graph.Nodes[0]
	if eps, err := bn.Float("epsilon", 0); bn.Op != "BatchNormalization" || eps != float32(1e-5) || err != nil {
		t.Errorf("test_BatchNorm2d_eval: %s epsilon %g (%v): want BatchNormalization, 1e-5", bn.Op, eps, err)
	}
}
