package onnx

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/initscope/initscope/onnx/onnxpb"
)

// attrProto returns an attribute of the given type; set fills its value.
func attrProto(name string, typ onnxpb.AttributeProto_AttributeType, set func(*onnxpb.AttributeProto)) *onnxpb.AttributeProto {
	a := &onnxpb.AttributeProto{Name: proto.String(name), Type: typ.Enum()}
	if set != nil {
		set(a)
	}
	return a
}

// nodeModel returns modelProto's model with one more node, "conv1" (Conv),
// carrying attrs.
func nodeModel(name string, attrs ...*onnxpb.AttributeProto) *onnxpb.ModelProto {
	p := modelProto(8, 14, weights()...)
	p.Graph.Node = append(p.Graph.Node, &onnxpb.NodeProto{
		Name: proto.String(name), OpType: proto.String("Conv"), Domain: proto.String("ai.onnx"),
		Input: []string{"y", "", "w"}, Output: []string{"z"}, Attribute: attrs,
	})
	return p
}

// decodeNode decodes nodeModel's model and returns its Conv node.
func decodeNode(t *testing.T, name string, attrs ...*onnxpb.AttributeProto) *Node {
	t.Helper()
	m, err := Decode(marshal(t, nodeModel(name, attrs...)), "")
	if err != nil {
		t.Fatal(err)
	}
	return &m.Graph.Nodes[1]
}

// allKinds returns an attribute of each kind.
func allKinds() []*onnxpb.AttributeProto {
	c := tensorProto("c", Int64, 2)
	c.Int64Data = []int64{7, -7}
	return []*onnxpb.AttributeProto{
		attrProto("group", onnxpb.AttributeProto_INT, func(a *onnxpb.AttributeProto) { a.I = proto.Int64(-4) }),
		attrProto("pads", onnxpb.AttributeProto_INTS, func(a *onnxpb.AttributeProto) { a.Ints = []int64{0, 1, 2, 3} }),
		attrProto("epsilon", onnxpb.AttributeProto_FLOAT, func(a *onnxpb.AttributeProto) { a.F = proto.Float32(1e-5) }),
		attrProto("scales", onnxpb.AttributeProto_FLOATS, func(a *onnxpb.AttributeProto) { a.Floats = []float32{0.5, -2} }),
		attrProto("auto_pad", onnxpb.AttributeProto_STRING, func(a *onnxpb.AttributeProto) { a.S = []byte("SAME_UPPER") }),
		attrProto("names", onnxpb.AttributeProto_STRINGS, func(a *onnxpb.AttributeProto) { a.Strings = [][]byte{[]byte("a"), []byte("bc")} }),
		attrProto("value", onnxpb.AttributeProto_TENSOR, func(a *onnxpb.AttributeProto) { a.T = c }),
		attrProto("body", onnxpb.AttributeProto_GRAPH, func(a *onnxpb.AttributeProto) { a.G = &onnxpb.GraphProto{Name: proto.String("b")} }),
		attrProto("ts", onnxpb.AttributeProto_TENSORS, func(a *onnxpb.AttributeProto) { a.Tensors = []*onnxpb.TensorProto{c} }),
		attrProto("sparse", onnxpb.AttributeProto_SPARSE_TENSOR, nil),
		attrProto("tp", onnxpb.AttributeProto_TYPE_PROTO, nil),
		attrProto("zero", onnxpb.AttributeProto_INT, nil),
	}
}

// TestAttributes checks each getter on an attribute of its kind, on a
// missing attribute (the default) and on one of another kind (an error
// naming the node, the attribute and both kinds).
func TestAttributes(t *testing.T) {
	n := decodeNode(t, "conv1", allKinds()...)
	if n.Op != "Conv" || n.Domain != "ai.onnx" || !slices.Equal(n.Inputs, []string{"y", "", "w"}) || len(n.Attrs) != 12 {
		t.Fatalf("node %+v: want Conv in ai.onnx reading y, \"\", w with 12 attributes", n)
	}
	label := `node "conv1" (Conv): attribute `

	i, err := n.Int("group", 1)
	check(t, "Int", i == -4 && err == nil, i, err)
	i, err = n.Int("zero", 1)
	check(t, "Int of an unset int", i == 0 && err == nil, i, err)
	i, err = n.Int("missing", 9)
	check(t, "Int default", i == 9 && err == nil, i, err)
	_, err = n.Int("epsilon", 0)
	wantErr(t, err, label+`"epsilon" is of kind float: want int`)

	is, err := n.Ints("pads", nil)
	check(t, "Ints", slices.Equal(is, []int64{0, 1, 2, 3}) && err == nil, is, err)
	is, err = n.Ints("missing", []int64{1, 1})
	check(t, "Ints default", slices.Equal(is, []int64{1, 1}) && err == nil, is, err)
	_, err = n.Ints("group", nil)
	wantErr(t, err, label+`"group" is of kind int: want ints`)

	f, err := n.Float("epsilon", 0)
	check(t, "Float", f == float32(1e-5) && err == nil, f, err)
	f, err = n.Float("missing", 0.5)
	check(t, "Float default", f == 0.5 && err == nil, f, err)
	_, err = n.Float("scales", 0)
	wantErr(t, err, label+`"scales" is of kind floats: want float`)

	fs, err := n.Floats("scales", nil)
	check(t, "Floats", slices.Equal(fs, []float32{0.5, -2}) && err == nil, fs, err)
	fs, err = n.Floats("missing", []float32{3})
	check(t, "Floats default", slices.Equal(fs, []float32{3}) && err == nil, fs, err)
	_, err = n.Floats("pads", nil)
	wantErr(t, err, label+`"pads" is of kind ints: want floats`)

	s, err := n.String("auto_pad", "NOTSET")
	check(t, "String", s == "SAME_UPPER" && err == nil, s, err)
	s, err = n.String("missing", "NOTSET")
	check(t, "String default", s == "NOTSET" && err == nil, s, err)
	_, err = n.String("names", "")
	wantErr(t, err, label+`"names" is of kind strings: want string`)

	c, err := n.Tensor("value")
	check(t, "Tensor", c != nil && c.Name == "c" && slices.Equal(c.Int, []int64{7, -7}) && err == nil, c, err)
	c, err = n.Tensor("missing")
	check(t, "Tensor missing", c == nil && err == nil, c, err)
	_, err = n.Tensor("body")
	wantErr(t, err, label+`"body" is of kind graph: want tensor`)
	_, err = n.Int("value", 0)
	wantErr(t, err, label+`"value" is of kind tensor: want int`)
	_, err = n.Float("auto_pad", 0)
	wantErr(t, err, label+`"auto_pad" is of kind string: want float`)

	if a := n.Attrs["names"]; a.Kind != AttrStrings || !slices.Equal(a.Strings, []string{"a", "bc"}) {
		t.Errorf("names %+v: want strings a, bc", a)
	}
	for name, kind := range map[string]AttrKind{"body": AttrGraph, "ts": AttrTensors, "sparse": AttrSparseTensor, "tp": AttrTypeProto} {
		if a := n.Attrs[name]; a.Kind != kind || a.Tensor != nil || a.Ints != nil {
			t.Errorf("%s %+v: want kind %s and no value", name, a, kind)
		}
	}

	unnamed := decodeNode(t, "", attrProto("axis", onnxpb.AttributeProto_INT, nil))
	_, err = unnamed.Floats("axis", nil)
	wantErr(t, err, `a Conv node without a name: attribute "axis" is of kind int: want floats`)
}

// check fails t with the values got unless ok.
func check(t *testing.T, what string, ok bool, got ...any) {
	t.Helper()
	if !ok {
		t.Errorf("%s: got %v", what, got)
	}
}

// TestAttrKindNames checks the names of attribute kinds and element types,
// numbered as in onnx.proto.
func TestAttrKindNames(t *testing.T) {
	for k, want := range map[AttrKind]string{
		AttrUndefined: "undefined", AttrFloat: "float", AttrTensor: "tensor", AttrStrings: "strings",
		AttrSparseTensors: "sparse tensors", AttrTypeProtos: "type protos", 15: "AttrKind(15)", -1: "AttrKind(-1)",
	} {
		if k.String() != want {
			t.Errorf("AttrKind(%d) = %q, want %q", int(k), k.String(), want)
		}
	}
	for dt, want := range map[DataType]string{
		Float32: "float32", Float16: "float16", Float64: "float64", BFloat16: "bfloat16", Bool: "bool",
		Uint32: "uint32", Float8E5M2FNUZ: "float8e5m2fnuz", 21: "DataType(21)", -3: "DataType(-3)",
	} {
		if dt.String() != want {
			t.Errorf("DataType(%d) = %q, want %q", int(dt), dt.String(), want)
		}
	}
	// The numbers of onnx.proto's enums, by name.
	for name, dt := range map[string]DataType{"FLOAT": Float32, "FLOAT16": Float16, "DOUBLE": Float64, "BFLOAT16": BFloat16, "UINT32": Uint32, "BOOL": Bool, "INT8": Int8} {
		if v := onnxpb.TensorProto_DataType_value[name]; DataType(v) != dt {
			t.Errorf("onnx.proto's %s is %d, want %d", name, v, int(dt))
		}
	}
	for name, k := range map[string]AttrKind{"FLOAT": AttrFloat, "INTS": AttrInts, "GRAPHS": AttrGraphs, "SPARSE_TENSOR": AttrSparseTensor, "TYPE_PROTOS": AttrTypeProtos} {
		if v := onnxpb.AttributeProto_AttributeType_value[name]; AttrKind(v) != k {
			t.Errorf("onnx.proto's attribute type %s is %d, want %d", name, v, int(k))
		}
	}
}

// TestNodeErrors checks the errors of malformed attributes.
func TestNodeErrors(t *testing.T) {
	tests := []struct {
		name   string
		attrs  []*onnxpb.AttributeProto
		errors []string
	}{
		{"attribute twice", []*onnxpb.AttributeProto{
			attrProto("group", onnxpb.AttributeProto_INT, nil), attrProto("group", onnxpb.AttributeProto_INTS, nil),
		}, []string{`node 1: node "conv1" (Conv): attribute "group" given twice: want each once`}},
		{"no type", []*onnxpb.AttributeProto{{Name: proto.String("group"), I: proto.Int64(2)}},
			[]string{`node 1: node "conv1" (Conv): attribute "group": no type`}},
		{"tensor without one", []*onnxpb.AttributeProto{attrProto("value", onnxpb.AttributeProto_TENSOR, nil)},
			[]string{`attribute "value": of type tensor but holds none`}},
		{"bad tensor", []*onnxpb.AttributeProto{attrProto("value", onnxpb.AttributeProto_TENSOR, func(a *onnxpb.AttributeProto) {
			a.T = withRaw(tensorProto("c", Float32, 2), make([]byte, 4))
		})}, []string{`attribute "value": tensor "c": raw_data holds 4 bytes: float32 [2] needs 8`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(marshal(t, nodeModel("conv1", tc.attrs...)), "")
			wantErr(t, err, append([]string{"onnx model: "}, tc.errors...)...)
		})
	}
	// An op that is not a name is quoted, keeping the error on one line.
	p := nodeModel("", attrProto("a", onnxpb.AttributeProto_INT, nil), attrProto("a", onnxpb.AttributeProto_INT, nil))
	p.Graph.Node[1].OpType = proto.String("Co\nnv")
	_, err := Decode(marshal(t, p), "")
	wantErr(t, err, `node 1: a "Co\nnv" node without a name: attribute "a" given twice`)
	p.Graph.Node[1].Name = proto.String("c")
	_, err = Decode(marshal(t, p), "")
	wantErr(t, err, `node 1: node "c" ("Co\nnv"): attribute "a" given twice`)
}
