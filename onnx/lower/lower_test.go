package lower_test

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/onnx/lower"
	"github.com/initscope/initscope/onnx/onnxpb"
)

// node is what a test expects of one graph node.
type node struct {
	op     arch.Op
	name   string
	inputs []int
	out    arch.Shape
}

// wantGraph fails t unless m's graph has exactly the nodes want (input
// first), each reading the given nodes with the given output shape.
func wantGraph(t *testing.T, m *lower.Model, want ...node) {
	t.Helper()
	got := m.Graph.Nodes
	if len(got) != len(want) {
		t.Fatalf("%d nodes, want %d:\n%s", len(got), len(want), describe(m))
	}
	for i, w := range want {
		n := got[i]
		if w.inputs == nil {
			w.inputs = []int{}
		}
		if n.Op != w.op || n.Name != w.name || !slices.Equal(n.Inputs, w.inputs) || n.Out != w.out {
			t.Errorf("node %d: %s %q %v -> %v, want %s %q %v -> %v", i, n.Op, n.Name, n.Inputs, n.Out, w.op, w.name, w.inputs, w.out)
		}
	}
}

// wantParams fails t unless node id's parameters are weight and bias
// exactly.
func wantParams(t *testing.T, m *lower.Model, id int, weight, bias []float64) {
	t.Helper()
	p, ok := m.Params[id]
	if !ok {
		t.Fatalf("no params for node %d", id)
	}
	if !slices.Equal(p.Weight, weight) || !slices.Equal(p.Bias, bias) {
		t.Errorf("node %d: weight %v bias %v, want %v and %v", id, p.Weight, p.Bias, weight, bias)
	}
}

// wantTensors fails t unless m's tensors are want, in order.
func wantTensors(t *testing.T, m *lower.Model, want ...lower.Tensor) {
	t.Helper()
	if len(m.Tensors) != len(want) {
		t.Fatalf("%d tensors, want %d: %+v", len(m.Tensors), len(want), m.Tensors)
	}
	for i := range want {
		if !reflect.DeepEqual(m.Tensors[i], want[i]) {
			t.Errorf("tensor %d:\n got %+v\nwant %+v", i, m.Tensors[i], want[i])
		}
	}
}

// wantNote fails t unless one of m's notes contains each of parts.
func wantNote(t *testing.T, m *lower.Model, parts ...string) {
	t.Helper()
	for _, n := range m.Notes {
		if containsAll(n, parts) {
			return
		}
	}
	t.Errorf("no note contains %q: %q", parts, m.Notes)
}

// wantUnsupported fails t unless m lists exactly the nodes want (name,
// op, and a part of the reason) as unsupported.
func wantUnsupported(t *testing.T, m *lower.Model, want ...lower.Unsupported) {
	t.Helper()
	if len(m.Unsupported) != len(want) {
		t.Fatalf("unsupported %q, want %d entries", m.Unsupported, len(want))
	}
	for i, w := range want {
		u := m.Unsupported[i]
		if u.Node != w.Node || u.Op != w.Op || !strings.Contains(u.Reason, w.Reason) {
			t.Errorf("unsupported %d: %q, want %s (%s) with a reason containing %q", i, u, w.Node, w.Op, w.Reason)
		}
	}
}

// wantErr fails t unless err is an error of one line containing each of
// parts.
func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !containsAll(msg, parts) {
		t.Errorf("error %q: want one line containing %q", msg, parts)
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func TestGemm(t *testing.T) {
	w := []float64{1, -2, 0.5, 0.25, 3, -1} // [out 2, in 3]
	t.Run("transB alpha beta", func(t *testing.T) {
		m := newModel(14, -1, 3)
		y := m.op("Gemm", "fc", in("x", m.floats("W", []int64{2, 3}, w), m.floats("b", []int64{2}, []float64{0.125, -0.125})),
			intAttr("transB", 1), floatAttr("alpha", 0.5), floatAttr("beta", 2))
		m.output(y)
		lm := m.lower(t)
		wantGraph(t, lm, node{arch.OpInput, "input", nil, arch.Flat(3)}, node{arch.OpDense, "fc", []int{0}, arch.Flat(2)})
		wantParams(t, lm, 1, []float64{0.5, -1, 0.25, 0.125, 1.5, -0.5}, []float64{0.25, -0.25})
		wantTensors(t, lm,
			lower.Tensor{Name: "W", Node: "fc", Op: "Gemm", Role: lower.RoleWeight, Shape: []int{2, 3}, FanIn: 3, FanOut: 2, Values: w, GraphNode: 1},
			lower.Tensor{Name: "b", Node: "fc", Op: "Gemm", Role: lower.RoleBias, Shape: []int{2}, FanIn: 3, FanOut: 2, Values: []float64{0.125, -0.125}, GraphNode: 1})
		if lm.Output != y || lm.Input.Name != "x" || !slices.Equal(lm.Input.Shape, []int64{-1, 3}) || len(lm.Unsupported) != 0 {
			t.Errorf("output %q, input %+v, unsupported %q", lm.Output, lm.Input, lm.Unsupported)
		}
	})
	t.Run("transB=0 and a [1, out] bias", func(t *testing.T) {
		m := newModel(14, 5, 3)
		wt := []float64{1, 0.25, -2, 3, 0.5, -1} // w stored [in 3, out 2]
		m.output(m.op("Gemm", "fc", in("x", m.floats("W", []int64{3, 2}, wt), m.floats("b", []int64{1, 2}, []float64{10, 20})),
			intAttr("transB", 0)))
		lm := m.lower(t)
		wantParams(t, lm, 1, w, []float64{10, 20})
		if ts := lm.Tensors; ts[0].FanIn != 3 || ts[0].FanOut != 2 || ts[1].Role != lower.RoleBias || !slices.Equal(ts[1].Shape, []int{1, 2}) {
			t.Errorf("tensors %+v: want the layer's fans 3 and 2", ts)
		}
	})
	t.Run("scalar bias", func(t *testing.T) {
		m := newModel(14, -1, 3)
		m.output(m.op("Gemm", "fc", in("x", m.floats("W", []int64{2, 3}, w), m.floats("b", []int64{1}, []float64{7})), intAttr("transB", 1)))
		wantParams(t, m.lower(t), 1, w, []float64{7, 7})
	})
	t.Run("no bias", func(t *testing.T) {
		m := newModel(14, -1, 3)
		m.output(m.op("Gemm", "fc", in("x", m.floats("W", []int64{2, 3}, w)), intAttr("transB", 1), floatAttr("beta", 3)))
		wantParams(t, m.lower(t), 1, w, nil)
	})
	t.Run("transA after a layer", func(t *testing.T) {
		m := newModel(14, -1, 3)
		h := m.op("Relu", "r", in("x"))
		m.output(m.op("Gemm", "fc", in(h, m.floats("W", []int64{3, 2}, w)), intAttr("transA", 1)))
		lm := m.lower(t)
		wantGraph(t, lm, node{arch.OpInput, "input", nil, arch.Flat(3)}, node{arch.OpReLU, "r", []int{0}, arch.Flat(3)})
		wantUnsupported(t, lm, lower.Unsupported{Node: "fc", Op: "Gemm", Reason: "transA=1"})
		if lm.Output != h || lm.Tensors[0].GraphNode != -1 || lm.Tensors[0].Role != lower.RoleOther {
			t.Errorf("output %q, tensor %+v", lm.Output, lm.Tensors[0])
		}
	})
	t.Run("transA first", func(t *testing.T) {
		m := newModel(14, -1, 3)
		m.output(m.op("Gemm", "fc", in("x", m.floats("W", []int64{3, 2}, w)), intAttr("transA", 1)))
		_, err := m.lowerErr(t)
		wantErr(t, err, "fc", "Gemm", "transA=1", "nothing before")
	})
}

func TestMatMulAdd(t *testing.T) {
	wt := []float64{1, 2, 3, 4, 5, 6} // [in 3, out 2]
	w := []float64{1, 3, 5, 2, 4, 6}
	for _, biasFirst := range []bool{true, false} {
		m := newModel(14, -1, 3)
		h := m.op("MatMul", "mm", in("x", m.floats("W", []int64{3, 2}, wt)))
		b := m.floats("b", []int64{2}, []float64{0.5, -0.5})
		ins := in(h, b)
		if biasFirst {
			ins = in(b, h)
		}
		y := m.op("Add", "add", ins)
		m.output(y)
		lm := m.lower(t)
		wantGraph(t, lm, node{arch.OpInput, "input", nil, arch.Flat(3)}, node{arch.OpDense, "mm", []int{0}, arch.Flat(2)})
		wantParams(t, lm, 1, w, []float64{0.5, -0.5})
		wantTensors(t, lm,
			lower.Tensor{Name: "W", Node: "mm", Op: "MatMul", Role: lower.RoleWeight, Shape: []int{3, 2}, FanIn: 3, FanOut: 2, Values: wt, GraphNode: 1},
			lower.Tensor{Name: "b", Node: "add", Op: "Add", Role: lower.RoleBias, Shape: []int{2}, FanIn: 3, FanOut: 2, Values: []float64{0.5, -0.5}, GraphNode: 1})
		if lm.Output != y {
			t.Errorf("output %q, want %q", lm.Output, y)
		}
	}
	t.Run("two readers: an affine node", func(t *testing.T) {
		m := newModel(14, -1, 3)
		h := m.op("MatMul", "mm", in("x", m.floats("W", []int64{3, 2}, wt)))
		y := m.op("Add", "add", in(m.floats("b", []int64{1, 2}, []float64{0.5, -0.5}), h))
		m.output(y, h)
		lm := m.lower(t)
		wantGraph(t, lm, node{arch.OpInput, "input", nil, arch.Flat(3)}, node{arch.OpDense, "mm", []int{0}, arch.Flat(2)},
			node{arch.OpAffine, "add", []int{1}, arch.Flat(2)})
		wantParams(t, lm, 1, w, nil)
		wantParams(t, lm, 2, []float64{1, 1}, []float64{0.5, -0.5})
		if b := lm.Tensors[1]; b.Role != lower.RoleShift || b.GraphNode != 2 || b.FanIn != 0 {
			t.Errorf("bias tensor %+v: want the affine node's shift", b)
		}
		wantNote(t, lm, "2 outputs", y)
	})
	t.Run("[N, 1, F] input", func(t *testing.T) {
		m := newModel(14, 2, 1, 3)
		h := m.op("MatMul", "mm", in("x", m.floats("W", []int64{3, 2}, wt)))
		m.output(m.op("Add", "add", in(m.floats("b", []int64{2}, []float64{0.5, -0.5}), h)))
		lm := m.lower(t)
		wantGraph(t, lm, node{arch.OpInput, "input", nil, arch.Image(1, 3, 1)}, node{arch.OpFlatten, "mm/tokens", []int{0}, arch.Flat(3)},
			node{arch.OpDense, "mm", []int{1}, arch.Flat(2)})
		wantParams(t, lm, 2, w, []float64{0.5, -0.5})
		wantNote(t, lm, "mm", "1 token")
	})
}

// fans returns PyTorch's fans of a conv weight of shape [cout, cin/groups,
// kernel...]: fan_in = cin/groups * prod(kernel), fan_out = cout *
// prod(kernel) (torch.nn.init._calculate_fan_in_and_fan_out).
func fans(dims ...int) (int, int) {
	field := 1
	for _, k := range dims[2:] {
		field *= k
	}
	return dims[1] * field, dims[0] * field
}

func TestConv(t *testing.T) {
	w := seq(6*2*3*2, 0.5, 0.25)
	b := seq(6, 1, 1)
	m := newModel(14, -1, 4, 7, 6)
	m.output(m.op("Conv", "conv", in("x", m.floats("W", []int64{6, 2, 3, 2}, w), m.floats("B", []int64{6}, b)),
		intAttr("group", 2), intsAttr("kernel_shape", 3, 2), intsAttr("strides", 2, 1), intsAttr("pads", 1, 0, 2, 1), intsAttr("dilations", 1, 2)))
	lm := m.lower(t)
	// Output rows (7 + 1 + 2 - 1*(3-1) - 1)/2 + 1 = 4, columns (6 + 0 + 1 - 2*(2-1) - 1)/1 + 1 = 5.
	wantGraph(t, lm, node{arch.OpInput, "input", nil, arch.Image(4, 7, 6)}, node{arch.OpConv, "conv", []int{0}, arch.Image(6, 4, 5)})
	want := arch.Geometry{KH: 3, KW: 2, SH: 2, SW: 1, DH: 1, DW: 2, Top: 1, Left: 0, Bottom: 2, Right: 1, Groups: 2}
	if g := lm.Graph.Nodes[1].Window.Geometry; g != want {
		t.Errorf("geometry %+v, want %+v", g, want)
	}
	wantParams(t, lm, 1, w, b)
	fanIn, fanOut := fans(6, 2, 3, 2)
	wantTensors(t, lm,
		lower.Tensor{Name: "W", Node: "conv", Op: "Conv", Role: lower.RoleWeight, Shape: []int{6, 2, 3, 2}, FanIn: fanIn, FanOut: fanOut, Values: w, GraphNode: 1},
		lower.Tensor{Name: "B", Node: "conv", Op: "Conv", Role: lower.RoleBias, Shape: []int{6}, FanIn: fanIn, FanOut: fanOut, Values: b, GraphNode: 1})
	if n := lm.Graph.Nodes[1]; n.FanIn() != fanIn || n.FanOut() != fanOut {
		t.Errorf("node fans %d, %d, want %d, %d", n.FanIn(), n.FanOut(), fanIn, fanOut)
	}
}

func TestConvAutoPad(t *testing.T) {
	// A 5x6 input, a 3x2 kernel, strides 2 and 1: SAME gives ceil(5/2) = 3
	// rows and 6 columns, with total padding (3-1)*2 + 3 - 5 = 2 rows and
	// (6-1)*1 + 2 - 6 = 1 column, the odd one after (UPPER) or before (LOWER).
	for _, c := range []struct {
		autoPad string
		want    arch.Geometry
		out     arch.Shape
	}{
		{"SAME_UPPER", arch.Geometry{Top: 1, Bottom: 1, Left: 0, Right: 1}, arch.Image(1, 3, 6)},
		{"SAME_LOWER", arch.Geometry{Top: 1, Bottom: 1, Left: 1, Right: 0}, arch.Image(1, 3, 6)},
		{"VALID", arch.Geometry{}, arch.Image(1, 2, 5)},
	} {
		m := newModel(14, -1, 1, 5, 6)
		m.output(m.op("Conv", "conv", in("x", m.floats("W", []int64{1, 1, 3, 2}, seq(6, 1, 1))),
			intsAttr("strides", 2, 1), stringAttr("auto_pad", c.autoPad)))
		lm := m.lower(t)
		want := arch.Geometry{KH: 3, KW: 2, SH: 2, SW: 1, DH: 1, DW: 1, Groups: 1,
			Top: c.want.Top, Left: c.want.Left, Bottom: c.want.Bottom, Right: c.want.Right}
		if n := lm.Graph.Nodes[1]; n.Window.Geometry != want || n.Out != c.out {
			t.Errorf("%s: geometry %+v -> %v, want %+v -> %v", c.autoPad, n.Window.Geometry, n.Out, want, c.out)
		}
	}
}

func TestConv1D(t *testing.T) {
	w := seq(3*2*3, 0.5, 0.5)
	bias := []float64{0.25, -0.5, 1}
	m := newModel(14, -1, 2, 9)
	c := m.op("Conv", "conv", in("x", m.floats("W", []int64{3, 2, 3}, w)), intsAttr("strides", 2), intsAttr("pads", 1, 0), intsAttr("dilations", 2))
	c = m.op("Add", "bias", in(c, m.floats("b", []int64{3, 1}, bias)))
	c = m.op("Relu", "relu", in(c))
	c = m.op("Flatten", "flat", in(c))
	m.output(m.op("Gemm", "fc", in(c, m.floats("fcW", []int64{2, 9}, seq(18, 1, 1))), intAttr("transB", 1)))
	lm := m.lower(t)
	// Output length (9 + 1 + 0 - 2*(3-1) - 1)/2 + 1 = 3.
	wantGraph(t, lm, node{arch.OpInput, "input", nil, arch.Image(2, 9, 1)}, node{arch.OpConv, "conv", []int{0}, arch.Image(3, 3, 1)},
		node{arch.OpReLU, "relu", []int{1}, arch.Image(3, 3, 1)}, node{arch.OpFlatten, "flat", []int{2}, arch.Flat(9)},
		node{arch.OpDense, "fc", []int{3}, arch.Flat(2)})
	want := arch.Geometry{KH: 3, KW: 1, SH: 2, SW: 1, DH: 2, DW: 1, Top: 1, Groups: 1}
	if g := lm.Graph.Nodes[1].Window.Geometry; g != want {
		t.Errorf("geometry %+v, want %+v", g, want)
	}
	wantParams(t, lm, 1, w, bias)
	fanIn, fanOut := fans(3, 2, 3)
	if b := lm.Tensors[1]; b.Node != "bias" || b.Op != "Add" || b.Role != lower.RoleBias || b.GraphNode != 1 || b.FanIn != fanIn || b.FanOut != fanOut {
		t.Errorf("bias tensor %+v: want the conv's bias with fans %d, %d", b, fanIn, fanOut)
	}
}

func TestReluResidualScale(t *testing.T) {
	w1, w2 := seq(16, 1, 1), seq(16, 0.5, 0.5)
	m := newModel(14, -1, 4)
	r := m.op("Relu", "r1", in(m.op("Gemm", "g1", in("x", m.floats("W1", []int64{4, 4}, w1)), intAttr("transB", 1))))
	h := m.op("Gemm", "g2", in(r, m.floats("W2", []int64{4, 4}, w2)), intAttr("transB", 1))
	s := m.op("Mul", "eta", in(h, m.floats("eta", []int64{}, []float64{0.5})))
	m.output(m.op("Relu", "out", in(m.op("Add", "join", in(s, r)))))
	lm := m.lower(t)
	wantGraph(t, lm, node{arch.OpInput, "input", nil, arch.Flat(4)}, node{arch.OpDense, "g1", []int{0}, arch.Flat(4)},
		node{arch.OpReLU, "r1", []int{1}, arch.Flat(4)}, node{arch.OpDense, "g2", []int{2}, arch.Flat(4)},
		node{arch.OpScale, "eta", []int{3}, arch.Flat(4)}, node{arch.OpAdd, "join", []int{4, 2}, arch.Flat(4)},
		node{arch.OpReLU, "out", []int{5}, arch.Flat(4)})
	if e := lm.Graph.Nodes[4].Eta; e != 0.5 {
		t.Errorf("eta %g, want 0.5", e)
	}
	wantParams(t, lm, 1, w1, nil)
	wantParams(t, lm, 3, w2, nil)
	if len(lm.Params) != 2 {
		t.Errorf("params of %d nodes, want 2", len(lm.Params))
	}
	if e := lm.Tensors[2]; e.Role != lower.RoleOther || e.Node != "eta" || e.GraphNode != 4 {
		t.Errorf("eta tensor %+v", e)
	}

	for _, c := range []struct {
		name  string
		dims  []int64
		vals  []float64
		scale []float64
	}{
		{"negative scalar first", []int64{1}, []float64{-2}, []float64{-2, -2, -2, -2}},
		{"per feature", []int64{1, 4}, []float64{1, 2, 3, 4}, []float64{1, 2, 3, 4}},
		{"beyond MaxEta", []int64{}, []float64{2 * arch.MaxEta}, []float64{2 * arch.MaxEta, 2 * arch.MaxEta, 2 * arch.MaxEta, 2 * arch.MaxEta}},
	} {
		m := newModel(14, -1, 4)
		r := m.op("Relu", "r", in("x"))
		m.output(m.op("Mul", "mul", in(m.floats("c", c.dims, c.vals), r)))
		lm := m.lower(t)
		wantGraph(t, lm, node{arch.OpInput, "input", nil, arch.Flat(4)}, node{arch.OpReLU, "r", []int{0}, arch.Flat(4)},
			node{arch.OpAffine, "mul", []int{1}, arch.Flat(4)})
		wantParams(t, lm, 2, c.scale, []float64{0, 0, 0, 0})
		if s := lm.Tensors[0]; s.Role != lower.RoleScale || s.GraphNode != 2 {
			t.Errorf("%s: tensor %+v: want the affine node's scale", c.name, s)
		}
	}
}

func TestPooling(t *testing.T) {
	for _, c := range []struct {
		name  string
		op    string
		attrs []*onnxpb.AttributeProto
		want  arch.Geometry
		out   arch.Shape
	}{
		// Rows and columns (6 + 1 + 0 - 3)/2 + 1 = 3.
		{"max with pads", "MaxPool", attrs(intsAttr("kernel_shape", 3, 3), intsAttr("strides", 2, 2), intsAttr("pads", 1, 1, 0, 0)),
			arch.Geometry{KH: 3, KW: 3, SH: 2, SW: 2, DH: 1, DW: 1, Top: 1, Left: 1, Groups: 1}, arch.Image(2, 3, 3)},
		// (6 + 0 - (2*(2-1)+1))/1 + 1 = 4 rows, (6 - 2)/1 + 1 = 5 columns.
		{"max dilated", "MaxPool", attrs(intsAttr("kernel_shape", 2, 2), intsAttr("dilations", 2, 1)),
			arch.Geometry{KH: 2, KW: 2, SH: 1, SW: 1, DH: 2, DW: 1, Groups: 1}, arch.Image(2, 4, 5)},
		{"average excluding pads", "AveragePool", attrs(intsAttr("kernel_shape", 3, 3), intsAttr("pads", 1, 1, 1, 1), intAttr("count_include_pad", 0)),
			arch.Geometry{KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, Top: 1, Left: 1, Bottom: 1, Right: 1, Groups: 1, ExcludePad: true}, arch.Image(2, 6, 6)},
		{"average including pads", "AveragePool", attrs(intsAttr("kernel_shape", 3, 3), intsAttr("pads", 1, 1, 1, 1), intAttr("count_include_pad", 1)),
			arch.Geometry{KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, Top: 1, Left: 1, Bottom: 1, Right: 1, Groups: 1}, arch.Image(2, 6, 6)},
		{"average without pads", "AveragePool", attrs(intsAttr("kernel_shape", 2, 2), intsAttr("strides", 2, 2)),
			arch.Geometry{KH: 2, KW: 2, SH: 2, SW: 2, DH: 1, DW: 1, Groups: 1}, arch.Image(2, 3, 3)},
		// (6 - 3) is a multiple of the stride 3: ceil_mode changes nothing.
		{"ceil mode that does not round", "MaxPool", attrs(intsAttr("kernel_shape", 3, 3), intsAttr("strides", 3, 3), intAttr("ceil_mode", 1)),
			arch.Geometry{KH: 3, KW: 3, SH: 3, SW: 3, DH: 1, DW: 1, Groups: 1}, arch.Image(2, 2, 2)},
	} {
		m := newModel(14, -1, 2, 6, 6)
		m.output(m.op(c.op, "pool", in("x"), c.attrs...))
		lm := m.lower(t)
		op := arch.OpMaxPool
		if c.op == "AveragePool" {
			op = arch.OpAvgPool
		}
		wantGraph(t, lm, node{arch.OpInput, "input", nil, arch.Image(2, 6, 6)}, node{op, "pool", []int{0}, c.out})
		if g := lm.Graph.Nodes[1].Window.Geometry; g != c.want {
			t.Errorf("%s: geometry %+v, want %+v", c.name, g, c.want)
		}
	}
	t.Run("ceil mode that rounds up", func(t *testing.T) {
		m := newModel(14, -1, 2, 6, 6)
		m.output(m.op("MaxPool", "pool", in(m.op("Relu", "r", in("x"))), intsAttr("kernel_shape", 3, 3), intsAttr("strides", 2, 2), intAttr("ceil_mode", 1)))
		lm := m.lower(t)
		wantUnsupported(t, lm, lower.Unsupported{Node: "pool", Op: "MaxPool", Reason: "ceil_mode=1"})
		if len(lm.Graph.Nodes) != 2 {
			t.Errorf("%d nodes, want the input and the relu", len(lm.Graph.Nodes))
		}
	})
}

// attrs lists attributes.
func attrs(a ...*onnxpb.AttributeProto) []*onnxpb.AttributeProto { return a }

func TestPadAveragePool(t *testing.T) {
	// Pads [0, 0, top 1, left 2, 0, 0, bottom 1, right 2] before a 3x3
	// average of a 5x5 map: 5 + 2 - 3 + 1 = 5 rows, 5 + 4 - 3 + 1 = 7
	// columns, the padding counted in the averages.
	want := arch.Geometry{KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, Top: 1, Left: 2, Bottom: 1, Right: 2, Groups: 1}
	pads := []int64{0, 0, 1, 2, 0, 0, 1, 2}
	check := func(t *testing.T, m *model) {
		t.Helper()
		lm := m.lower(t)
		wantGraph(t, lm, node{arch.OpInput, "input", nil, arch.Image(2, 5, 5)}, node{arch.OpAvgPool, "pool", []int{0}, arch.Image(2, 5, 7)})
		if g := lm.Graph.Nodes[1].Window.Geometry; g != want {
			t.Errorf("geometry %+v, want %+v", g, want)
		}
		wantNote(t, lm, "Pad pad", "merged into pool")
	}
	t.Run("opset 10 attributes", func(t *testing.T) {
		m := newModel(10, -1, 2, 5, 5)
		p := m.op("Pad", "pad", in("x"), stringAttr("mode", "constant"), intsAttr("pads", pads...), floatAttr("value", 0))
		m.output(m.op("AveragePool", "pool", in(p), intsAttr("kernel_shape", 3, 3)))
		check(t, m)
	})
	t.Run("opset 13 inputs", func(t *testing.T) {
		m := newModel(13, -1, 2, 5, 5)
		c := m.op("Constant", "pads", nil, tensorAttr("value", intTensor("p", pads...)))
		p := m.op("Pad", "pad", in("x", c, m.floats("zero", []int64{}, []float64{0})))
		m.output(m.op("AveragePool", "pool", in(p), intsAttr("kernel_shape", 3, 3), intAttr("count_include_pad", 0)))
		check(t, m)
	})
	t.Run("into a conv", func(t *testing.T) {
		m := newModel(13, -1, 2, 5, 5)
		p := m.op("Pad", "pad", in("x", m.ints("pads", pads...)))
		m.output(m.op("Conv", "conv", in(p, m.floats("W", []int64{1, 2, 3, 3}, seq(18, 1, 1))), intsAttr("pads", 1, 0, 0, 0)))
		lm := m.lower(t)
		g := lm.Graph.Nodes[1].Window.Geometry
		if g.Top != 2 || g.Left != 2 || g.Bottom != 1 || g.Right != 2 || lm.Graph.Nodes[1].Out != arch.Image(1, 6, 7) {
			t.Errorf("geometry %+v -> %v: want the pads added", g, lm.Graph.Nodes[1].Out)
		}
		wantNote(t, lm, "Pad pad", "merged into conv")
	})
	t.Run("all zero pads pass on", func(t *testing.T) {
		m := newModel(13, -1, 2, 5, 5)
		m.output(m.op("Relu", "r", in(m.op("Pad", "pad", in("x", m.ints("pads", 0, 0, 0, 0, 0, 0, 0, 0))))))
		wantGraph(t, m.lower(t), node{arch.OpInput, "input", nil, arch.Image(2, 5, 5)}, node{arch.OpReLU, "r", []int{0}, arch.Image(2, 5, 5)})
	})
	for _, c := range []struct {
		name   string
		build  func(m *model, x string) string
		node   string
		op     string
		reason string
	}{
		{"nonzero value", func(m *model, x string) string {
			return m.op("Pad", "pad", in(x, m.ints("pads", pads...), m.floats("v", []int64{}, []float64{1.5})))
		}, "pad", "Pad", "constant value 1.5"},
		{"reflect", func(m *model, x string) string {
			return m.op("Pad", "pad", in(x, m.ints("pads", pads...)), stringAttr("mode", "reflect"))
		}, "pad", "Pad", `mode "reflect"`},
		{"channels", func(m *model, x string) string {
			return m.op("Pad", "pad", in(x, m.ints("pads", 0, 1, 0, 0, 0, 0, 0, 0)))
		}, "pad", "Pad", "channels"},
		{"before a max pooling", func(m *model, x string) string {
			return m.op("MaxPool", "pool", in(m.op("Pad", "pad", in(x, m.ints("pads", pads...)))), intsAttr("kernel_shape", 3, 3))
		}, "pool", "MaxPool", "max pooling"},
		{"before a pooling excluding its own pads", func(m *model, x string) string {
			return m.op("AveragePool", "pool", in(m.op("Pad", "pad", in(x, m.ints("pads", pads...)))), intsAttr("kernel_shape", 3, 3), intsAttr("pads", 1, 1, 1, 1))
		}, "pool", "AveragePool", "ambiguous"},
		{"before a relu", func(m *model, x string) string {
			return m.op("Relu", "relu", in(m.op("Pad", "pad", in(x, m.ints("pads", pads...)))))
		}, "relu", "Relu", "reads the Pad"},
	} {
		m := newModel(13, -1, 2, 5, 5)
		r := m.op("Relu", "r", in("x"))
		m.output(c.build(m, r))
		lm := m.lower(t)
		wantUnsupported(t, lm, lower.Unsupported{Node: c.node, Op: c.op, Reason: c.reason})
		wantGraph(t, lm, node{arch.OpInput, "input", nil, arch.Image(2, 5, 5)}, node{arch.OpReLU, "r", []int{0}, arch.Image(2, 5, 5)})
	}
}

func TestShapeOps(t *testing.T) {
	w := seq(6, 1, 1)
	t.Run("identity gap flatten dropout constant", func(t *testing.T) {
		m := newModel(13, -1, 3, 4, 5)
		h := m.op("Identity", "id", in("x"))
		h = m.op("GlobalAveragePool", "gap", in(h))
		h = m.op("Flatten", "flat", in(h))
		m.node("Dropout", "drop", in(h, m.floats("ratio", []int64{}, []float64{0.5})), []string{"d", "mask"})
		wc := m.op("Constant", "wc", nil, tensorAttr("value", floatTensor("wv", []int64{2, 3}, 1, -1, 2, -2, 3, -3)))
		y := m.op("Gemm", "fc", in("d", wc), intAttr("transB", 1))
		m.output(y)
		lm := m.lower(t)
		wantGraph(t, lm, node{arch.OpInput, "input", nil, arch.Image(3, 4, 5)}, node{arch.OpGAP, "gap", []int{0}, arch.Flat(3)},
			node{arch.OpDense, "fc", []int{1}, arch.Flat(2)})
		wantParams(t, lm, 2, []float64{1, -1, 2, -2, 3, -3}, nil)
		wantTensors(t, lm, lower.Tensor{Name: "ratio", Node: "", Role: lower.RoleOther, Shape: []int{}, Values: []float64{0.5}, GraphNode: -1})
		if lm.Output != y {
			t.Errorf("output %q", lm.Output)
		}
	})
	for _, c := range []struct {
		name  string
		dims  []int64
		shape []int64
	}{
		{"[0, -1]", []int64{-1, 3, 4, 5}, []int64{0, -1}},
		{"[-1, F] symbolic batch", []int64{-1, 3, 4, 5}, []int64{-1, 60}},
		{"[N, -1]", []int64{2, 3, 4, 5}, []int64{2, -1}},
		{"[-1, F]", []int64{2, 3, 4, 5}, []int64{-1, 60}},
	} {
		m := newModel(14, c.dims...)
		m.output(m.op("Reshape", "rs", in(m.op("Relu", "r", in("x")), m.ints("shape", c.shape...))))
		wantGraph(t, m.lower(t), node{arch.OpInput, "input", nil, arch.Image(3, 4, 5)}, node{arch.OpReLU, "r", []int{0}, arch.Image(3, 4, 5)},
			node{arch.OpFlatten, "rs", []int{1}, arch.Flat(60)})
	}
	t.Run("reshape keeping the layout", func(t *testing.T) {
		m := newModel(14, -1, 3, 4, 5)
		m.output(m.op("Relu", "r", in(m.op("Reshape", "rs", in("x", m.ints("shape", 0, 3, 4, 5))))))
		wantGraph(t, m.lower(t), node{arch.OpInput, "input", nil, arch.Image(3, 4, 5)}, node{arch.OpReLU, "r", []int{0}, arch.Image(3, 4, 5)})
	})
	for _, c := range []struct {
		name   string
		build  func(m *model, x string) string
		node   string
		reason string
	}{
		{"reshape changing the batch", func(m *model, x string) string {
			return m.op("Reshape", "rs", in(x, m.ints("shape", -1, 30)))
		}, "rs", "reshapes"},
		{"reshape to another layout", func(m *model, x string) string {
			return m.op("Reshape", "rs", in(x, m.ints("shape", 0, 3, 20)))
		}, "rs", "reshapes"},
		{"flatten at axis 2", func(m *model, x string) string {
			return m.op("Flatten", "flat", in(x), intAttr("axis", 2))
		}, "flat", "axis 2"},
		{"dropout in training mode", func(m *model, x string) string {
			tm := m.op("Constant", "tm", nil, tensorAttr("value", intTensor("one", 1)))
			return m.op("Dropout", "drop", in(x, m.floats("ratio", []int64{}, []float64{0.5}), tm))
		}, "drop", "training_mode"},
		{"dropout's mask read", func(m *model, x string) string {
			m.node("Dropout", "drop", in(x), []string{"d", "mask"})
			return m.op("Add", "add", in("d", "mask"))
		}, "drop", "mask"},
	} {
		m := newModel(14, -1, 3, 4, 5)
		m.output(c.build(m, m.op("Relu", "r", in("x"))))
		lm := m.lower(t)
		if len(lm.Unsupported) == 0 || lm.Unsupported[0].Node != c.node || !strings.Contains(lm.Unsupported[0].Reason, c.reason) {
			t.Errorf("%s: unsupported %q, want %s first with a reason containing %q", c.name, lm.Unsupported, c.node, c.reason)
		}
		if len(lm.Graph.Nodes) != 2 {
			t.Errorf("%s: %d nodes, want the input and the relu", c.name, len(lm.Graph.Nodes))
		}
	}
	t.Run("constant subgraph", func(t *testing.T) {
		// PyTorch's old exports transpose a Linear's weight in the graph:
		// Transpose(Cast(W [3, 2])) read by MatMul is W^T [2, 3] stored [in, out].
		m := newModel(9, -1, 2)
		wt := m.op("Transpose", "tr", in(m.op("Cast", "cast", in(m.floats("W", []int64{3, 2}, w)), intAttr("to", 1))))
		m.output(m.op("MatMul", "mm", in("x", wt)))
		lm := m.lower(t)
		// The [in 2, out 3] matrix is W^T, so the [out, in] weight is W.
		wantParams(t, lm, 1, w, nil)
		if tw := lm.Tensors[0]; tw.Role != lower.RoleWeight || tw.Node != "mm" || tw.GraphNode != 1 || tw.FanIn != 2 || tw.FanOut != 3 {
			t.Errorf("tensor %+v: want the weight of mm", tw)
		}
	})
}

// bnFold returns a layer's weights (out rows of per values) and biases
// after a batch norm folded into it: w*gamma/sqrt(var+eps) and
// (b-mean)*gamma/sqrt(var+eps)+beta.
func bnFold(w, b, gamma, beta, mean, variance []float64, eps float64) ([]float64, []float64) {
	per := len(w) / len(gamma)
	fw, fb := make([]float64, len(w)), make([]float64, len(gamma))
	for c := range gamma {
		s := gamma[c] / math.Sqrt(variance[c]+eps)
		for i := range per {
			fw[c*per+i] = w[c*per+i] * s
		}
		bc := 0.0
		if b != nil {
			bc = b[c]
		}
		fb[c] = (bc-mean[c])*s + beta[c]
	}
	return fw, fb
}

// batchNorm adds a BatchNormalization of x with its four parameters, named
// gamma, beta, mean and var.
func (m *model) batchNorm(x string, gamma, beta, mean, variance []float64, attrs ...*onnxpb.AttributeProto) string {
	d := []int64{int64(len(gamma))}
	return m.op("BatchNormalization", "bn", in(x, m.floats("gamma", d, gamma), m.floats("beta", d, beta),
		m.floats("mean", d, mean), m.floats("var", d, variance)), attrs...)
}

func TestBatchNorm(t *testing.T) {
	gamma, beta, mean, variance := []float64{1.5, -0.75}, []float64{0.25, 2}, []float64{0.1, -3}, []float64{0.5, 4}
	const eps = float32(1e-3)
	wantBN := func(t *testing.T, lm *lower.Model, id, stats int) {
		t.Helper()
		for i, role := range []string{lower.RoleScale, lower.RoleShift, lower.RoleRunningMean, lower.RoleRunningVar} {
			ts := lm.Tensors[len(lm.Tensors)-4+i]
			owner := id
			if i >= 2 {
				owner = stats
			}
			if ts.Role != role || ts.Node != "bn" || ts.Op != "BatchNormalization" || ts.GraphNode != owner || ts.FanIn != 0 || ts.FanOut != 0 {
				t.Errorf("tensor %+v: want role %s of node %d", ts, role, owner)
			}
		}
	}
	t.Run("folded into a conv", func(t *testing.T) {
		w, b := seq(8, 1, 0.5), []float64{0.5, -1}
		m := newModel(14, -1, 1, 3, 3)
		c := m.op("Conv", "conv", in("x", m.floats("W", []int64{2, 1, 2, 2}, w), m.floats("B", []int64{2}, b)))
		m.output(m.op("Relu", "relu", in(m.batchNorm(c, gamma, beta, mean, variance, floatAttr("epsilon", eps)))))
		lm := m.lower(t)
		wantGraph(t, lm, node{arch.OpInput, "input", nil, arch.Image(1, 3, 3)}, node{arch.OpConv, "conv", []int{0}, arch.Image(2, 2, 2)},
			node{arch.OpReLU, "relu", []int{1}, arch.Image(2, 2, 2)})
		fw, fb := bnFold(w, b, gamma, beta, mean, variance, float64(eps))
		if p := lm.Params[1]; !near(p.Weight, fw) || !near(p.Bias, fb) {
			t.Errorf("params %v %v, want %v %v", p.Weight, p.Bias, fw, fb)
		}
		wantBN(t, lm, 1, 1)
		wantNote(t, lm, "BatchNormalization bn", "folded into conv")
	})
	t.Run("folded into a dense layer", func(t *testing.T) {
		w := seq(6, 0.5, 0.25)
		m := newModel(14, -1, 3)
		h := m.op("Gemm", "fc", in("x", m.floats("W", []int64{2, 3}, w)), intAttr("transB", 1))
		m.output(m.batchNorm(h, gamma, beta, mean, variance)) // default epsilon 1e-5
		lm := m.lower(t)
		wantGraph(t, lm, node{arch.OpInput, "input", nil, arch.Flat(3)}, node{arch.OpDense, "fc", []int{0}, arch.Flat(2)})
		fw, fb := bnFold(w, nil, gamma, beta, mean, variance, float64(float32(1e-5)))
		if p := lm.Params[1]; !near(p.Weight, fw) || !near(p.Bias, fb) {
			t.Errorf("params %v %v, want %v %v", p.Weight, p.Bias, fw, fb)
		}
		wantBN(t, lm, 1, 1)
	})
	t.Run("input with two readers: an affine node", func(t *testing.T) {
		w := seq(4, 0.5, 0.25)
		m := newModel(14, -1, 2)
		h := m.op("Gemm", "fc", in("x", m.floats("W", []int64{2, 2}, w)), intAttr("transB", 1))
		r := m.op("Relu", "relu", in(m.batchNorm(h, gamma, beta, mean, variance, floatAttr("epsilon", eps))))
		m.output(m.op("Add", "join", in(r, h)))
		lm := m.lower(t)
		wantGraph(t, lm, node{arch.OpInput, "input", nil, arch.Flat(2)}, node{arch.OpDense, "fc", []int{0}, arch.Flat(2)},
			node{arch.OpAffine, "bn", []int{1}, arch.Flat(2)}, node{arch.OpReLU, "relu", []int{2}, arch.Flat(2)},
			node{arch.OpAdd, "join", []int{3, 1}, arch.Flat(2)})
		wantParams(t, lm, 1, w, nil)
		scale, shift := bnFold([]float64{1, 1}, nil, gamma, beta, mean, variance, float64(eps))
		if p := lm.Params[2]; !near(p.Weight, scale) || !near(p.Bias, shift) {
			t.Errorf("affine params %v %v, want %v %v", p.Weight, p.Bias, scale, shift)
		}
		wantBN(t, lm, 2, 2)
	})
	for _, c := range []struct {
		name    string
		opset   int64
		attrs   []*onnxpb.AttributeProto
		outputs []string
	}{
		{"training_mode=1", 15, attrs(intAttr("training_mode", 1), floatAttr("epsilon", eps)), []string{"y"}},
		{"training_mode=1 with unread statistics", 15, attrs(intAttr("training_mode", 1), floatAttr("epsilon", eps)), []string{"y", "rm", "rv"}},
		{"opset 9 with statistics", 9, attrs(floatAttr("epsilon", eps)), []string{"y", "rm", "rv", "sm", "sv"}},
		{"opset 6 is_test=0", 6, attrs(intAttr("is_test", 0), floatAttr("epsilon", eps)), []string{"y"}},
	} {
		m := newModel(c.opset, -1, 2, 3, 3)
		r := m.op("Relu", "r", in("x"))
		d := []int64{2}
		m.node("BatchNormalization", "bn", in(r, m.floats("gamma", d, gamma), m.floats("beta", d, beta), m.floats("mean", d, mean), m.floats("var", d, variance)),
			c.outputs, c.attrs...)
		m.output("y")
		lm := m.lower(t)
		wantGraph(t, lm, node{arch.OpInput, "input", nil, arch.Image(2, 3, 3)}, node{arch.OpReLU, "r", []int{0}, arch.Image(2, 3, 3)},
			node{arch.OpNorm, "bn/normalize", []int{1}, arch.Image(2, 3, 3)}, node{arch.OpAffine, "bn", []int{2}, arch.Image(2, 3, 3)})
		if n := lm.Graph.Nodes[2]; n.Norm != arch.NormBatch || n.Epsilon != float64(eps) {
			t.Errorf("%s: norm %q epsilon %g, want %q %g", c.name, n.Norm, n.Epsilon, arch.NormBatch, float64(eps))
		}
		wantParams(t, lm, 3, gamma, beta)
		wantBN(t, lm, 3, 2)
		wantNote(t, lm, "bn", "training mode")
	}
	t.Run("opset 6 is_test=1 folds", func(t *testing.T) {
		m := newModel(6, -1, 2)
		h := m.op("Gemm", "fc", in("x", m.floats("W", []int64{2, 2}, seq(4, 1, 1))), intAttr("transB", 1))
		m.output(m.batchNorm(h, gamma, beta, mean, variance, intAttr("is_test", 1)))
		if lm := m.lower(t); len(lm.Graph.Nodes) != 2 {
			t.Errorf("%d nodes, want the batch norm folded:\n%s", len(lm.Graph.Nodes), describe(lm))
		}
	})
}

func TestConstantsAndSqueeze(t *testing.T) {
	t.Run("1-D pooling through Unsqueeze and Squeeze", func(t *testing.T) {
		for _, opset := range []int64{11, 13} {
			m := newModel(opset, -1, 2, 6)
			axes := func(name string, x string) string {
				if opset < 13 {
					return m.op(name, name, in(x), intsAttr("axes", 3))
				}
				return m.op(name, name, in(x, m.ints(name+".axes", -1)))
			}
			h := axes("Unsqueeze", m.op("Relu", "r", in("x")))
			h = m.op("MaxPool", "pool", in(h), intsAttr("kernel_shape", 2, 1))
			m.output(m.op("Flatten", "flat", in(axes("Squeeze", h))))
			wantGraph(t, m.lower(t), node{arch.OpInput, "input", nil, arch.Image(2, 6, 1)}, node{arch.OpReLU, "r", []int{0}, arch.Image(2, 6, 1)},
				node{arch.OpMaxPool, "pool", []int{1}, arch.Image(2, 5, 1)}, node{arch.OpFlatten, "flat", []int{2}, arch.Flat(10)})
		}
	})
	t.Run("Squeeze after global pooling", func(t *testing.T) {
		m := newModel(11, -1, 2, 3, 3)
		h := m.op("Squeeze", "sq", in(m.op("GlobalAveragePool", "gap", in("x"))), intsAttr("axes", 2, 3))
		m.output(m.op("Gemm", "fc", in(h, m.floats("W", []int64{1, 2}, []float64{1, 2})), intAttr("transB", 1)))
		wantGraph(t, m.lower(t), node{arch.OpInput, "input", nil, arch.Image(2, 3, 3)}, node{arch.OpGAP, "gap", []int{0}, arch.Flat(2)},
			node{arch.OpDense, "fc", []int{1}, arch.Flat(1)})
	})
	t.Run("Constant forms", func(t *testing.T) {
		m := newModel(11, -1, 2)
		shape := m.op("Constant", "shape", nil, &onnxpb.AttributeProto{Name: proto.String("value_ints"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{2, 2}})
		w := m.op("Reshape", "wr", in(m.floats("W", []int64{4}, []float64{1, 2, 3, 4}), shape))
		h := m.op("Gemm", "fc", in("x", w), intAttr("transB", 1))
		b := m.op("Constant", "b", nil, &onnxpb.AttributeProto{Name: proto.String("value_floats"), Type: onnxpb.AttributeProto_FLOATS.Enum(), Floats: []float32{0.5, -0.5}})
		h = m.op("Add", "add", in(h, m.op("Unsqueeze", "bu", in(b), intsAttr("axes", 0))))
		three := m.op("Constant", "three", nil, &onnxpb.AttributeProto{Name: proto.String("value_int"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(3)})
		h = m.op("Mul", "eta", in(m.op("Cast", "c", in(three), intAttr("to", 1)), h))
		quarter := m.op("Constant", "quarter", nil, floatAttr("value_float", 0.25))
		m.output(m.op("Mul", "eta2", in(h, quarter)))
		lm := m.lower(t)
		wantGraph(t, lm, node{arch.OpInput, "input", nil, arch.Flat(2)}, node{arch.OpDense, "fc", []int{0}, arch.Flat(2)},
			node{arch.OpScale, "eta", []int{1}, arch.Flat(2)}, node{arch.OpScale, "eta2", []int{2}, arch.Flat(2)})
		wantParams(t, lm, 1, []float64{1, 2, 3, 4}, []float64{0.5, -0.5})
		if n := lm.Graph.Nodes; n[2].Eta != 3 || n[3].Eta != 0.25 {
			t.Errorf("etas %g and %g, want 3 and 0.25", n[2].Eta, n[3].Eta)
		}
		wantTensors(t, lm, lower.Tensor{Name: "W", Node: "fc", Op: "Gemm", Role: lower.RoleWeight, Shape: []int{4}, FanIn: 2, FanOut: 2, Values: []float64{1, 2, 3, 4}, GraphNode: 1})
	})
	t.Run("Transpose of a conv kernel", func(t *testing.T) {
		// A kernel stored [kh 3, kw 2, cin 1, cout 2] and transposed by
		// perm [3, 2, 0, 1] to ONNX's [cout, cin, kh, kw].
		stored := seq(12, 1, 1)
		want := make([]float64, 12)
		for o := range 2 {
			for i := range 3 {
				for j := range 2 {
					want[(o*3+i)*2+j] = stored[(i*2+j)*2+o]
				}
			}
		}
		m := newModel(14, -1, 1, 4, 4)
		k := m.op("Transpose", "tr", in(m.floats("K", []int64{3, 2, 1, 2}, stored)), intsAttr("perm", 3, 2, 0, 1))
		m.output(m.op("Conv", "conv", in("x", k)))
		lm := m.lower(t)
		wantGraph(t, lm, node{arch.OpInput, "input", nil, arch.Image(1, 4, 4)}, node{arch.OpConv, "conv", []int{0}, arch.Image(2, 2, 3)})
		wantParams(t, lm, 1, want, nil)
	})
	t.Run("Cast of the activation", func(t *testing.T) {
		m := newModel(14, -1, 2)
		h := m.op("Cast", "c64", in(m.op("Relu", "r", in("x"))), intAttr("to", 11))
		m.output(m.op("Relu", "r2", in(m.op("Cast", "cint", in(h), intAttr("to", 7)))))
		lm := m.lower(t)
		wantUnsupported(t, lm, lower.Unsupported{Node: "cint", Op: "Cast", Reason: "int64"})
		if lm.Output != h {
			t.Errorf("output %q, want %q", lm.Output, h)
		}
	})
}
