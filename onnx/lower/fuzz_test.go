package lower_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/initscope/initscope/onnx"
	"github.com/initscope/initscope/onnx/lower"
)

// FuzzLower checks that Lower never panics on a model onnx.Decode
// accepts, that its errors are one line, and that what it lowers is
// valid (validate) and the same when lowered again. The seeds are the committed PyTorch exports under
// 200 KB and models of the tests' builder.
func FuzzLower(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "testdata", "models", "*.onnx"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range paths {
		if fi, err := os.Stat(p); err != nil || fi.Size() >= 200<<10 {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, m := range seedModels() {
		f.Add(m.bytes(f))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := onnx.Decode(data, "")
		if err != nil {
			return
		}
		lm, err := lower.Lower(m)
		if err != nil {
			if lm != nil {
				t.Errorf("a model with the error %v", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error of several lines: %q", err)
			}
			return
		}
		if err := validate(lm); err != nil {
			t.Fatalf("invalid lowering: %v\n%s", err, describe(lm))
		}
		again, err := onnx.Decode(data, "")
		if err != nil {
			t.Fatal(err)
		}
		if lm2, err := lower.Lower(again); err != nil || dump(lm) != dump(lm2) {
			t.Fatalf("a second lowering differs (%v):\n%s\n%s", err, describe(lm), describe(lm2))
		}
	})
}

// seedModels are small models of every op Lower handles.
func seedModels() []*model {
	var ms []*model
	m := newModel(13, -1, 2, 6, 6)
	h := m.op("Pad", "pad", in("x", m.ints("pads", 0, 0, 1, 1, 0, 0, 1, 1)))
	h = m.op("Conv", "conv", in(h, m.floats("W", []int64{4, 1, 3, 3}, seq(36, 1, 1)), m.floats("B", []int64{4}, seq(4, 1, 1))),
		intAttr("group", 2), intsAttr("strides", 1, 2), intsAttr("dilations", 1, 1))
	h = m.batchNorm(h, seq(4, 1, 1), seq(4, 0, 1), seq(4, 0.5, 1), []float64{1, 2, 3, 4})
	r := m.op("Relu", "r", in(h))
	h = m.op("Mul", "eta", in(m.op("Conv", "conv2", in(r, m.floats("W2", []int64{4, 4, 1, 1}, seq(16, 1, 1)))), m.floats("e", []int64{}, []float64{0.5})))
	h = m.op("Add", "join", in(h, r))
	h = m.op("MaxPool", "mp", in(h), intsAttr("kernel_shape", 2, 2), intsAttr("pads", 0, 0, 1, 1))
	h = m.op("AveragePool", "ap", in(h), intsAttr("kernel_shape", 2, 1), intsAttr("strides", 2, 1))
	h = m.op("GlobalAveragePool", "gap", in(h))
	h = m.op("Flatten", "flat", in(h))
	h = m.op("MatMul", "mm", in(h, m.floats("W3", []int64{4, 3}, seq(12, 1, 1))))
	h = m.op("Add", "b", in(m.floats("b3", []int64{3}, seq(3, 1, 1)), h))
	m.output(m.op("Softmax", "sm", in(h)))
	ms = append(ms, m)

	m = newModel(9, 3, 2, 8)
	h = m.op("Conv", "conv", in("x", m.floats("W", []int64{2, 2, 3}, seq(12, 1, 1))), stringAttr("auto_pad", "SAME_UPPER"))
	m.node("BatchNormalization", "bn", in(h, m.floats("g", []int64{2}, seq(2, 1, 1)), m.floats("be", []int64{2}, seq(2, 1, 1)),
		m.floats("mu", []int64{2}, seq(2, 1, 1)), m.floats("v", []int64{2}, seq(2, 1, 1))), []string{"y", "rm", "rv", "sm", "sv"})
	h = m.op("Reshape", "rs", in("y", m.ints("shape", 0, -1)))
	h = m.op("Dropout", "drop", in(h))
	h = m.op("Gemm", "fc", in(h, m.op("Transpose", "tr", in(m.floats("W2", []int64{16, 2}, seq(32, 1, 1)))), m.floats("c", []int64{1, 2}, seq(2, 1, 1))),
		intAttr("transB", 1), floatAttr("alpha", 2))
	m.output(m.op("Sigmoid", "sig", in(m.op("Identity", "id", in(h)))))
	return append(ms, m)
}

// dump writes everything a lowering holds, NaNs as NaN, for comparing two.
func dump(m *lower.Model) string {
	return fmt.Sprintf("%+v\n%v\n%+v\n%q\n%q\n%+v %q", m.Graph.Nodes, m.Params, m.Tensors, m.Unsupported, m.Notes, m.Input, m.Output)
}
