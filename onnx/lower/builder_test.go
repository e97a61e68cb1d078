package lower_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/onnx"
	"github.com/initscope/initscope/onnx/lower"
	"github.com/initscope/initscope/onnx/onnxpb"
)

// model builds an ONNX model as protobuf messages, the way an exporter
// writes one, for the tests to marshal, decode with onnx.Decode and lower.
type model struct {
	opset   int64
	nodes   []*onnxpb.NodeProto
	inits   []*onnxpb.TensorProto
	inputs  []*onnxpb.ValueInfoProto
	outputs []*onnxpb.ValueInfoProto
}

// newModel starts a model of the given opset whose input x has the given
// dims, -1 for a symbolic batch; no dims gives an input without a shape.
func newModel(opset int64, dims ...int64) *model {
	m := &model{opset: opset}
	m.input("x", dims...)
	return m
}

// input adds a graph input of type float32.
func (m *model) input(name string, dims ...int64) {
	m.inputs = append(m.inputs, valueInfo(name, dims))
}

// valueInfo returns a float32 value of the given dims (-1: "batch"); nil
// dims give no shape.
func valueInfo(name string, dims []int64) *onnxpb.ValueInfoProto {
	tt := &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnx.Float32))}
	if dims != nil {
		tt.Shape = &onnxpb.TensorShapeProto{}
		for _, d := range dims {
			dim := &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}}
			if d < 0 {
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}
			}
			tt.Shape.Dim = append(tt.Shape.Dim, dim)
		}
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}}}
}

// floats adds a float64 initializer (double_data, so that the values the
// tests compare are exact) and returns its name.
func (m *model) floats(name string, dims []int64, vals []float64) string {
	m.inits = append(m.inits, &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnx.Float64)), Dims: dims, DoubleData: vals})
	return name
}

// ints adds a 1-D int64 initializer and returns its name.
func (m *model) ints(name string, vals ...int64) string {
	m.inits = append(m.inits, intTensor(name, vals...))
	return name
}

// intTensor returns a 1-D int64 tensor.
func intTensor(name string, vals ...int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnx.Int64)), Dims: []int64{int64(len(vals))}, Int64Data: vals}
}

// floatTensor returns a float32 tensor.
func floatTensor(name string, dims []int64, vals ...float32) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnx.Float32)), Dims: dims, FloatData: vals}
}

// node adds a node of the standard domain writing the outputs.
func (m *model) node(op, name string, inputs []string, outputs []string, attrs ...*onnxpb.AttributeProto) {
	m.nodes = append(m.nodes, &onnxpb.NodeProto{Name: proto.String(name), OpType: proto.String(op), Input: inputs, Output: outputs, Attribute: attrs})
}

// op adds a node with one output, named after the node.
func (m *model) op(op, name string, inputs []string, attrs ...*onnxpb.AttributeProto) string {
	m.node(op, name, inputs, []string{name + ".out"}, attrs...)
	return name + ".out"
}

// output adds graph outputs.
func (m *model) output(names ...string) {
	for _, n := range names {
		m.outputs = append(m.outputs, &onnxpb.ValueInfoProto{Name: proto.String(n)})
	}
}

// bytes marshals the model.
func (m *model) bytes(t testing.TB) []byte {
	t.Helper()
	p := &onnxpb.ModelProto{
		IrVersion:    proto.Int64(8),
		ProducerName: proto.String("lower_test"),
		Graph: &onnxpb.GraphProto{
			Name: proto.String("g"), Node: m.nodes, Initializer: m.inits, Input: m.inputs, Output: m.outputs,
		},
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(m.opset)}},
	}
	b, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lowerErr decodes and lowers the model; decoding must succeed.
func (m *model) lowerErr(t testing.TB) (*lower.Model, error) {
	t.Helper()
	om, err := onnx.Decode(m.bytes(t), "")
	if err != nil {
		t.Fatal(err)
	}
	return lower.Lower(om)
}

// lower decodes and lowers the model, which must lower, and validates the
// result.
func (m *model) lower(t testing.TB) *lower.Model {
	t.Helper()
	lm, err := m.lowerErr(t)
	if err != nil {
		t.Fatalf("Lower: %v", err)
	}
	if err := validate(lm); err != nil {
		t.Fatalf("invalid lowering: %v\n%s", err, describe(lm))
	}
	return lm
}

// The attribute constructors.

func intAttr(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func intsAttr(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func floatAttr(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func stringAttr(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

func tensorAttr(name string, v *onnxpb.TensorProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: v}
}

// in lists node inputs.
func in(names ...string) []string { return names }

// seq returns n distinct values, exact in binary: start, start+step, ...
// with every other one negated.
func seq(n int, start, step float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = start + step*float64(i)
		if i%2 == 1 {
			v[i] = -v[i]
		}
	}
	return v
}

// validate checks what every lowering must satisfy: a graph whose nodes
// read only earlier nodes with consistent shapes, all feeding the output;
// parameters of the right sizes for exactly the dense, conv and affine
// nodes; tensors whose values match their shape and whose node exists.
func validate(m *lower.Model) error {
	g := m.Graph
	if g == nil || len(g.Nodes) < 2 {
		return fmt.Errorf("want a graph of at least 2 nodes, have %v", g)
	}
	if g.Nodes[0].Op != arch.OpInput || len(g.Nodes[0].Inputs) != 0 {
		return fmt.Errorf("node 0 is %v: want the input", g.Nodes[0].Op)
	}
	for i := range g.Nodes {
		if err := validNode(g, i); err != nil {
			return fmt.Errorf("node %d %q (%s): %w", i, g.Nodes[i].Name, g.Nodes[i].Op, err)
		}
	}
	for i, c := range g.Consumers()[:len(g.Nodes)-1] {
		if len(c) == 0 {
			return fmt.Errorf("node %d %q: nothing reads it", i, g.Nodes[i].Name)
		}
	}
	for id, p := range m.Params {
		if id < 0 || id >= len(g.Nodes) {
			return fmt.Errorf("params of node %d: no such node", id)
		}
		if err := validParams(&g.Nodes[id], p); err != nil {
			return fmt.Errorf("node %d %q (%s): %w", id, g.Nodes[id].Name, g.Nodes[id].Op, err)
		}
	}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		if _, ok := m.Params[i]; (n.HasWeights() || n.Op == arch.OpAffine) && !ok {
			return fmt.Errorf("node %d %q (%s) has no params", i, n.Name, n.Op)
		}
	}
	for _, t := range m.Tensors {
		if t.GraphNode < -1 || t.GraphNode >= len(g.Nodes) {
			return fmt.Errorf("tensor %q: graph node %d does not exist", t.Name, t.GraphNode)
		}
		size := 1
		for _, d := range t.Shape {
			size *= d
		}
		if len(t.Values) != size {
			return fmt.Errorf("tensor %q of shape %v has %d values", t.Name, t.Shape, len(t.Values))
		}
	}
	for _, u := range m.Unsupported {
		if u.Node == "" || u.Op == "" || u.Reason == "" || strings.Contains(u.String(), "\n") {
			return fmt.Errorf("unsupported entry %q", u.String())
		}
	}
	if m.Output == "" {
		return fmt.Errorf("no output name")
	}
	return nil
}

// maxValues bounds an activation's size as arch does.
const maxValues = 1 << 28

// validNode checks node i of g: its inputs, its shapes and its window.
func validNode(g *arch.Graph, i int) error {
	n := &g.Nodes[i]
	if n.ID != i {
		return fmt.Errorf("ID %d", n.ID)
	}
	want := 1
	switch n.Op {
	case arch.OpInput:
		want = 0
	case arch.OpAdd:
		want = 2
	}
	if len(n.Inputs) != want {
		return fmt.Errorf("%d inputs, want %d", len(n.Inputs), want)
	}
	for _, in := range n.Inputs {
		if in < 0 || in >= i {
			return fmt.Errorf("input %d does not precede it", in)
		}
	}
	if want > 0 && n.In != g.Nodes[n.Inputs[0]].Out {
		return fmt.Errorf("In %v, but its input's Out is %v", n.In, g.Nodes[n.Inputs[0]].Out)
	}
	if s := n.Out; s.C < 1 || s.H < 1 || s.W < 1 || s.C > maxValues/s.H/s.W {
		return fmt.Errorf("output shape %v", s)
	}
	switch n.Op {
	case arch.OpConv, arch.OpMaxPool, arch.OpAvgPool:
		if n.Window.In != n.In || n.Window.Out != n.Out {
			return fmt.Errorf("window %v -> %v for node %v -> %v", n.Window.In, n.Window.Out, n.In, n.Out)
		}
		if w := n.Window; n.Op == arch.OpConv && n.FanIn() != n.In.C/w.Groups*w.KH*w.KW {
			return fmt.Errorf("fan-in %d of a %dx%d kernel over %d channels in %d groups", n.FanIn(), w.KH, w.KW, n.In.C, w.Groups)
		}
	case arch.OpNorm:
		if n.Norm != arch.NormBatch {
			return fmt.Errorf("norm %q", n.Norm)
		}
	}
	return nil
}

// validParams checks that node n's parameters have its sizes.
func validParams(n *arch.Node, p lower.Params) error {
	var weights, biases int
	switch n.Op {
	case arch.OpDense, arch.OpConv:
		weights, biases = n.Params()-n.Width(), n.Width()
		if p.Bias == nil {
			biases = 0
		}
	case arch.OpAffine:
		weights, biases = n.Out.C, n.Out.C
	default:
		return fmt.Errorf("params for a node without any")
	}
	if len(p.Weight) != weights || len(p.Bias) != biases {
		return fmt.Errorf("%d weights and %d biases, want %d and %d", len(p.Weight), len(p.Bias), weights, biases)
	}
	return nil
}

// describe writes a lowering for failure messages.
func describe(m *lower.Model) string {
	var b strings.Builder
	if m.Graph != nil {
		for _, n := range m.Graph.Nodes {
			fmt.Fprintf(&b, "  %d %s %s %v %v -> %v %v\n", n.ID, n.Name, n.Op, n.Inputs, n.In, n.Out, n.Window.Geometry)
		}
	}
	for _, u := range m.Unsupported {
		fmt.Fprintf(&b, "  unsupported %s\n", u)
	}
	for _, s := range m.Notes {
		fmt.Fprintf(&b, "  note %s\n", s)
	}
	return b.String()
}

// near reports whether a and b agree to a relative 1e-12.
func near(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-12*math.Max(1, math.Abs(b[i])) {
			return false
		}
	}
	return true
}
