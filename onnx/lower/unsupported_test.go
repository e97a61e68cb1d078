package lower_test

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/onnx"
	"github.com/initscope/initscope/onnx/lower"
	"github.com/initscope/initscope/onnx/onnxpb"
)

func TestUnsupportedPrefix(t *testing.T) {
	m := newModel(17, -1, 4)
	h := m.op("Relu", "r", in(m.op("Gemm", "g1", in("x", m.floats("W1", []int64{4, 4}, seq(16, 1, 1))), intAttr("transB", 1))))
	h = m.op("Sigmoid", "sig", in(h))
	h = m.op("Gemm", "g2", in(h, m.floats("W2", []int64{4, 4}, seq(16, 1, 1))), intAttr("transB", 1))
	h = m.op("Erf", "", in(h))
	h = m.op("LayerNormalization", "ln", in(h, m.floats("lnw", []int64{4}, seq(4, 1, 1))))
	h = m.op("Softmax", "mid", in(h))
	m.nodes = append(m.nodes, &onnxpb.NodeProto{Name: proto.String("ms"), OpType: proto.String("FusedGemm"), Domain: proto.String("com.microsoft"), Input: in(h), Output: in("f")})
	m.output(m.op("Softmax", "sm", in("f")))
	lm := m.lower(t)
	wantGraph(t, lm, node{arch.OpInput, "input", nil, arch.Flat(4)}, node{arch.OpDense, "g1", []int{0}, arch.Flat(4)},
		node{arch.OpReLU, "r", []int{1}, arch.Flat(4)})
	wantUnsupported(t, lm,
		lower.Unsupported{Node: "sig", Op: "Sigmoid", Reason: "sigmoid"},
		lower.Unsupported{Node: "Erf_4", Op: "Erf", Reason: "GELU"},
		lower.Unsupported{Node: "ln", Op: "LayerNormalization", Reason: "layer normalization"},
		lower.Unsupported{Node: "ms", Op: "FusedGemm", Reason: `domain "com.microsoft"`})
	if lm.Output != "r.out" {
		t.Errorf("output %q, want the relu's r.out", lm.Output)
	}
	var names []string
	for _, ts := range lm.Tensors {
		names = append(names, ts.Name)
	}
	if !slices.Equal(names, []string{"W1", "W2", "lnw"}) {
		t.Errorf("tensors %q, want every initializer in file order", names)
	}
	if w1, w2 := lm.Tensors[0], lm.Tensors[1]; w1.GraphNode != 1 || w1.Role != lower.RoleWeight ||
		w2.GraphNode != -1 || w2.Role != lower.RoleWeight || w2.Node != "g2" || w2.FanIn != 4 {
		t.Errorf("tensors %+v and %+v: want W1 in the graph, W2 after the stop, both weights with their fans", w1, w2)
	}
	for _, u := range lm.Unsupported {
		if s := u.String(); !strings.HasPrefix(s, u.Node+" ("+u.Op+"): ") {
			t.Errorf("String() %q", s)
		}
	}
}

func TestSoftmax(t *testing.T) {
	for _, op := range []string{"Softmax", "LogSoftmax"} {
		m := newModel(14, -1, 3)
		h := m.op("Gemm", "fc", in("x", m.floats("W", []int64{2, 3}, seq(6, 1, 1))), intAttr("transB", 1))
		y := m.op(op, "sm", in(h))
		m.output(y)
		lm := m.lower(t)
		wantGraph(t, lm, node{arch.OpInput, "input", nil, arch.Flat(3)}, node{arch.OpDense, "fc", []int{0}, arch.Flat(2)})
		wantNote(t, lm, "final "+op+" sm", "left out")
		if lm.Output != y || len(lm.Unsupported) != 0 {
			t.Errorf("%s: output %q, unsupported %q", op, lm.Output, lm.Unsupported)
		}
	}
	m := newModel(14, -1, 3)
	h := m.op("Softmax", "sm", in(m.op("Relu", "r", in("x"))))
	m.output(m.op("Relu", "r2", in(h)))
	wantUnsupported(t, m.lower(t), lower.Unsupported{Node: "sm", Op: "Softmax", Reason: "inside the net"})
}

// TestBroadcast checks that a constant added to or multiplying an
// activation is taken per channel only when ONNX's broadcasting makes it
// so: its dims, aligned to the activation's last ones, are 1 except at the
// channel axis.
func TestBroadcast(t *testing.T) {
	for _, c := range []struct {
		name string
		op   string
		dims []int64
		ok   bool
	}{
		{"[C, 1, 1] add", "Add", []int64{3, 1, 1}, true},
		{"[1, C, 1, 1] mul", "Mul", []int64{1, 3, 1, 1}, true},
		{"[1, 1, 1] mul", "Mul", []int64{1, 1, 1}, true},
		{"[C] add: along the columns", "Add", []int64{3}, false},
		{"[C, 1] mul: along the rows", "Mul", []int64{3, 1}, false},
		{"[1, 1, 1, C] add", "Add", []int64{1, 1, 1, 3}, false},
	} {
		m := newModel(14, -1, 3, 3, 3)
		m.output(m.op(c.op, "op", in(m.op("Relu", "r", in("x")), m.floats("c", c.dims, []float64{1, 2, 3}[:max(1, int(slices.Max(c.dims)))]))))
		lm := m.lower(t)
		if ok := len(lm.Unsupported) == 0; ok != c.ok {
			t.Errorf("%s: unsupported %q, want supported %v", c.name, lm.Unsupported, c.ok)
		}
	}
	t.Run("Gemm bias [out, 1]", func(t *testing.T) {
		m := newModel(14, -1, 3)
		r := m.op("Relu", "r", in("x"))
		m.output(m.op("Gemm", "fc", in(r, m.floats("W", []int64{2, 3}, seq(6, 1, 1)), m.floats("b", []int64{2, 1}, []float64{1, 2})), intAttr("transB", 1)))
		wantUnsupported(t, m.lower(t), lower.Unsupported{Node: "fc", Op: "Gemm", Reason: "[2 1]"})
	})
}

func TestBadModels(t *testing.T) {
	gemm := func(m *model, x string, wdims []int64, attrs ...*onnxpb.AttributeProto) string {
		size := 1
		for _, d := range wdims {
			size *= int(d)
		}
		return m.op("Gemm", "fc", in(x, m.floats("W", wdims, seq(size, 1, 1))), attrs...)
	}
	for _, c := range []struct {
		name  string
		build func() *model
		parts []string
	}{
		{"rank 5 input", func() *model {
			m := newModel(14, -1, 1, 2, 3, 4)
			m.output(m.op("Relu", "r", in("x")))
			return m
		}, []string{`input "x"`, "rank 5"}},
		{"input without a shape", func() *model {
			m := newModel(14)
			m.output(m.op("Relu", "r", in("x")))
			return m
		}, []string{`input "x"`, "rank 0"}},
		{"symbolic features", func() *model {
			m := newModel(14, 2, -1)
			m.output(m.op("Relu", "r", in("x")))
			return m
		}, []string{`input "x"`, "known size"}},
		{"no input", func() *model {
			m := &model{opset: 14}
			m.output(m.op("Relu", "r", in(m.floats("c", []int64{1}, []float64{1}))))
			return m
		}, []string{"0 inputs"}},
		{"two inputs", func() *model {
			m := newModel(14, -1, 3)
			m.input("y", -1, 3)
			m.output(m.op("Add", "add", in("x", "y")))
			return m
		}, []string{"2 inputs", `["x" "y"]`}},
		{"names with newlines", func() *model {
			m := newModel(14, -1, 3)
			m.output(m.op("Relu", "r2", in(m.op("Relu\n", "r\n1", in("x")))))
			return m
		}, []string{`node r\n1 (Relu\n)`, "nothing before"}},
		{"an undefined value", func() *model {
			m := newModel(14, -1, 3)
			m.output(m.op("Relu", "r2", in(m.op("Relu", "r", in("nope")))))
			return m
		}, []string{"node r (Relu)", `"nope"`, "not computed"}},
		{"Gemm weight of other features", func() *model {
			m := newModel(14, -1, 3)
			m.output(gemm(m, "x", []int64{2, 5}, intAttr("transB", 1)))
			return m
		}, []string{"node fc (Gemm)", `"W"`, "[2 5]", "want 3 columns"}},
		{"MatMul weight of other features", func() *model {
			m := newModel(14, -1, 3)
			m.output(m.op("MatMul", "mm", in("x", m.floats("W", []int64{4, 2}, seq(8, 1, 1)))))
			return m
		}, []string{"node mm (MatMul)", "want 3 rows"}},
		{"Gemm weight of rank 3", func() *model {
			m := newModel(14, -1, 3)
			m.output(gemm(m, "x", []int64{1, 2, 3}))
			return m
		}, []string{"node fc (Gemm)", "want a matrix"}},
		{"Gemm weight an activation", func() *model {
			m := newModel(14, -1, 3)
			m.output(m.op("Gemm", "fc", in("x", "x")))
			return m
		}, []string{"fc", "activation where a constant"}},
		{"Conv weight of other channels", func() *model {
			m := newModel(14, -1, 2, 5, 5)
			m.output(m.op("Conv", "conv", in("x", m.floats("W", []int64{4, 3, 1, 1}, seq(12, 1, 1)))))
			return m
		}, []string{"node conv (Conv)", "[4 3 1 1]", "2 channels"}},
		{"Conv kernel_shape of another kernel", func() *model {
			m := newModel(14, -1, 2, 5, 5)
			m.output(m.op("Conv", "conv", in("x", m.floats("W", []int64{1, 2, 1, 1}, seq(2, 1, 1))), intsAttr("kernel_shape", 3, 3)))
			return m
		}, []string{"node conv (Conv)", "kernel_shape [3 3]"}},
		{"Conv groups not dividing", func() *model {
			m := newModel(14, -1, 4, 5, 5)
			m.output(m.op("Conv", "conv", in("x", m.floats("W", []int64{3, 2, 1, 1}, seq(6, 1, 1))), intAttr("group", 2)))
			return m
		}, []string{"node conv (Conv)", "groups 2"}},
		{"Conv pad beyond the kernel", func() *model {
			m := newModel(14, -1, 1, 5, 5)
			m.output(m.op("Conv", "conv", in("x", m.floats("W", []int64{1, 1, 1, 1}, []float64{1})), intsAttr("pads", 1, 0, 0, 0)))
			return m
		}, []string{"node conv (Conv)", "pad 1"}},
		{"Conv without inputs", func() *model {
			m := newModel(14, -1, 1, 5, 5)
			m.output(m.op("Conv", "conv", nil))
			return m
		}, []string{"node conv (Conv)", "input 0 is missing"}},
		{"Add of a missing input", func() *model {
			m := newModel(14, -1, 3)
			m.output(m.op("Add", "add", in("", m.op("Relu", "r", in("x")))))
			return m
		}, []string{"node add (Add)", "input 0 is missing"}},
		{"Mul of a missing input", func() *model {
			m := newModel(14, -1, 3)
			m.output(m.op("Mul", "mul", in("", m.floats("c", []int64{1}, []float64{2}))))
			return m
		}, []string{"node mul (Mul)", "input 0 is missing"}},
		{"Reshape of a missing input", func() *model {
			m := newModel(14, -1, 3)
			m.output(m.op("Reshape", "rs", in("", m.ints("shape", 0, -1))))
			return m
		}, []string{"node rs (Reshape)", "input 0 is missing"}},
		{"a pooling attribute of another kind", func() *model {
			m := newModel(14, -1, 1, 5, 5)
			m.output(m.op("MaxPool", "pool", in("x"), intAttr("kernel_shape", 2)))
			return m
		}, []string{`node "pool" (MaxPool)`, "kernel_shape"}},
		{"output an initializer", func() *model {
			m := newModel(14, -1, 3)
			m.op("Relu", "r", in("x"))
			m.output(m.floats("c", []int64{1}, []float64{1}))
			return m
		}, []string{`output "c"`, "not an activation"}},
		{"output the input", func() *model {
			m := newModel(14, -1, 3)
			m.output(m.op("Identity", "id", in("x")))
			return m
		}, []string{"output is its input"}},
		{"no output", func() *model {
			m := newModel(14, -1, 3)
			m.op("Relu", "r", in("x"))
			return m
		}, []string{"no output"}},
		{"an input of too many values", func() *model {
			m := newModel(14, -1, 1<<21, 1<<21, 1<<22)
			m.output(m.op("Relu", "r", in("x")))
			return m
		}, []string{`input "x"`, "more than"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			lm, err := c.build().lowerErr(t)
			if lm != nil {
				t.Errorf("a model with the error %v", err)
			}
			wantErr(t, err, c.parts...)
		})
	}
	t.Run("batch norm of other channels", func(t *testing.T) {
		m := newModel(14, -1, 3)
		m.output(m.batchNorm(m.op("Relu", "r", in("x")), []float64{1, 1}, []float64{0, 0}, []float64{0, 0}, []float64{1, 1}))
		wantUnsupported(t, m.lower(t), lower.Unsupported{Node: "bn", Op: "BatchNormalization", Reason: "want 3 values"})
	})
	t.Run("adding activations of other shapes", func(t *testing.T) {
		m := newModel(14, -1, 3)
		r := m.op("Relu", "r", in("x"))
		m.output(m.op("Add", "add", in(r, gemm(m, r, []int64{2, 3}, intAttr("transB", 1)))))
		wantUnsupported(t, m.lower(t), lower.Unsupported{Node: "add", Op: "Add", Reason: "broadcasting"})
	})
}

// TestCommittedModels lowers the PyTorch exports of testdata/models and
// checks their structure (their values are the audit's tests).
func TestCommittedModels(t *testing.T) {
	for _, c := range []struct {
		file        string
		ops         []arch.Op
		unsupported []string
	}{
		{"cnn.onnx", []arch.Op{arch.OpInput, arch.OpConv, arch.OpReLU, arch.OpMaxPool, arch.OpConv, arch.OpReLU, arch.OpAvgPool,
			arch.OpConv, arch.OpReLU, arch.OpGAP, arch.OpDense}, nil},
		{"cnn_padpool_opset10.onnx", []arch.Op{arch.OpInput, arch.OpConv, arch.OpReLU, arch.OpAvgPool, arch.OpGAP, arch.OpDense}, nil},
		{"mlp_matmul.onnx", []arch.Op{arch.OpInput, arch.OpFlatten, arch.OpDense, arch.OpReLU, arch.OpDense}, nil},
		{"resnet_bn_unfolded.onnx", nil, nil},
		{"resnet_bn_train.onnx", nil, nil},
		{"transformerish.onnx", []arch.Op{arch.OpInput, arch.OpDense}, []string{"ReduceMean"}},
	} {
		m, err := onnx.Read(filepath.Join("..", "..", "testdata", "models", c.file))
		if err != nil {
			t.Fatal(err)
		}
		lm, err := lower.Lower(m)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if err := validate(lm); err != nil {
			t.Errorf("%s: %v", c.file, err)
		}
		var ops []arch.Op
		for _, n := range lm.Graph.Nodes {
			ops = append(ops, n.Op)
		}
		if c.ops != nil && !slices.Equal(ops, c.ops) {
			t.Errorf("%s: ops %v, want %v", c.file, ops, c.ops)
		}
		var unsupported []string
		for _, u := range lm.Unsupported {
			unsupported = append(unsupported, u.Op)
		}
		if len(unsupported) > 0 && (len(c.unsupported) == 0 || unsupported[0] != c.unsupported[0]) || len(unsupported) == 0 && c.unsupported != nil {
			t.Errorf("%s: unsupported %q, want first %q", c.file, lm.Unsupported, c.unsupported)
		}
	}
}

// TestFoldMatchesPyTorch checks the batch norm folding against PyTorch's:
// resnet_bn is exported with the batch norms folded into the convs by
// PyTorch, resnet_bn_unfolded with them kept; lowered, both must give the
// same graph and the same parameters, to float32 rounding (PyTorch folds
// and stores in float32: a few ulps of 6e-8, relative).
func TestFoldMatchesPyTorch(t *testing.T) {
	var lms [2]*lower.Model
	for i, file := range []string{"resnet_bn.onnx", "resnet_bn_unfolded.onnx"} {
		m, err := onnx.Read(filepath.Join("..", "..", "testdata", "models", file))
		if err != nil {
			t.Fatal(err)
		}
		if lms[i], err = lower.Lower(m); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	folded, unfolded := lms[0].Graph.Nodes, lms[1].Graph.Nodes
	if len(folded) != len(unfolded) {
		t.Fatalf("%d and %d nodes", len(folded), len(unfolded))
	}
	convs := 0
	for i := range folded {
		a, b := folded[i], unfolded[i]
		if a.Op != b.Op || !slices.Equal(a.Inputs, b.Inputs) || a.Out != b.Out || a.Window.Geometry != b.Window.Geometry {
			t.Errorf("node %d: %v %v and %v %v", i, &a, a.Inputs, &b, b.Inputs)
		}
		if a.Op != arch.OpConv {
			continue
		}
		convs++
		pa, pb := lms[0].Params[i], lms[1].Params[i]
		for _, v := range [][2][]float64{{pa.Weight, pb.Weight}, {pa.Bias, pb.Bias}} {
			if len(v[0]) != len(v[1]) {
				t.Fatalf("node %d: %d and %d values", i, len(v[0]), len(v[1]))
			}
			for k := range v[0] {
				if d := math.Abs(v[0][k] - v[1][k]); d > 1e-6*math.Max(1, math.Abs(v[0][k])) {
					t.Fatalf("node %d %s value %d: PyTorch folded %g, lowered %g", i, a.Name, k, v[0][k], v[1][k])
				}
			}
		}
	}
	if convs != 8 {
		t.Errorf("%d convs, want 8", convs)
	}
}

func TestNegativeVariance(t *testing.T) {
	m := newModel(14, -1, 2)
	m.output(m.batchNorm(m.op("Relu", "r", in("x")), []float64{1, 1}, []float64{0, 0}, []float64{0, 0}, []float64{1, -1}))
	_, err := m.lowerErr(t)
	wantErr(t, err, "node bn (BatchNormalization)", "channel 1", "running variance -1")
}
