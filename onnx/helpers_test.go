package onnx

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/initscope/initscope/onnx/onnxpb"
)

// modelProto returns a model of IR version ir importing opset of the
// default domain, whose graph has a Gemm node (transB=1, alpha 0.5) reading
// input x [-1 (batch), 3] and the initializers, writing y.
func modelProto(ir, opset int64, inits ...*onnxpb.TensorProto) *onnxpb.ModelProto {
	gemm := &onnxpb.NodeProto{
		Name:   proto.String("gemm0"),
		OpType: proto.String("Gemm"),
		Input:  []string{"x", "w", "b"},
		Output: []string{"y"},
		Attribute: []*onnxpb.AttributeProto{
			{Name: proto.String("transB"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(1)},
			{Name: proto.String("alpha"), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(0.5)},
		},
	}
	return &onnxpb.ModelProto{
		IrVersion:       proto.Int64(ir),
		ProducerName:    proto.String("test"),
		ProducerVersion: proto.String("1.0"),
		Graph: &onnxpb.GraphProto{
			Name:        proto.String("g"),
			Node:        []*onnxpb.NodeProto{gemm},
			Initializer: inits,
			Input:       []*onnxpb.ValueInfoProto{valueInfoProto("x", Float32, -1, 3)},
			Output:      []*onnxpb.ValueInfoProto{valueInfoProto("y", Float32, -1, 2)},
		},
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(opset)}},
	}
}

// valueInfoProto returns a tensor value of type dt with the given dims,
// -1 for a symbolic "batch".
func valueInfoProto(name string, dt DataType, dims ...int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		dim := &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}}
		if d < 0 {
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}
		}
		shape.Dim = append(shape.Dim, dim)
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(dt)), Shape: shape}}},
	}
}

// tensorProto returns a tensor of type dt and the given dims, without
// values.
func tensorProto(name string, dt DataType, dims ...int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(dt)), Dims: dims}
}

// float32Raw returns the raw_data of float32 values.
func float32Raw(vs ...float32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// weights returns the initializers w [2, 3] and b [2] of modelProto's
// Gemm, in raw_data.
func weights() []*onnxpb.TensorProto {
	w := tensorProto("w", Float32, 2, 3)
	w.RawData = float32Raw(1, -2, 0.5, 0.25, 3, -1)
	b := tensorProto("b", Float32, 2)
	b.RawData = float32Raw(0.125, -0.125)
	return []*onnxpb.TensorProto{w, b}
}

// marshal serializes m.
func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeTensor decodes p as the initializer "w" of a model, resolving
// external data in dir.
func decodeTensor(t testing.TB, p *onnxpb.TensorProto, dir string) (*Tensor, error) {
	t.Helper()
	p.Name = proto.String("w")
	m, err := Decode(marshal(t, modelProto(8, 14, p)), dir)
	if err != nil {
		return nil, err
	}
	return m.Graph.Initializer("w"), nil
}

// wantErr fails t unless err is an error of one line containing each of
// parts.
func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("error of several lines: %q", msg)
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error %q does not contain %q", msg, p)
		}
	}
}

// consistent fails t unless each tensor of m holds Size() values, in the
// field of its type.
func consistent(t testing.TB, ts ...*Tensor) {
	t.Helper()
	for _, x := range ts {
		if len(x.Float)+len(x.Int) != x.Size() {
			t.Fatalf("tensor %q %v: %d floats and %d ints, want %d values", x.Name, x.Dims, len(x.Float), len(x.Int), x.Size())
		}
	}
}
