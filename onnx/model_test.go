package onnx

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/initscope/initscope/onnx/onnxpb"
)

// opsetID returns an opset_import entry.
func opsetID(domain string, version int64) *onnxpb.OperatorSetIdProto {
	return &onnxpb.OperatorSetIdProto{Domain: proto.String(domain), Version: proto.Int64(version)}
}

// TestVersions checks the IR versions and default-domain opsets accepted
// (IR 3 to 9, opset 6 to 18) and refused just outside them, and the rules
// on opset_import: one default domain, "" or "ai.onnx", each domain once.
func TestVersions(t *testing.T) {
	tests := []struct {
		name    string
		ir      int64
		opsets  []*onnxpb.OperatorSetIdProto
		opset   int64    // the default domain's opset, when accepted
		wantErr []string // parts of the error; nil if accepted
	}{
		{"IR 3", 3, []*onnxpb.OperatorSetIdProto{opsetID("", 14)}, 14, nil},
		{"IR 9", 9, []*onnxpb.OperatorSetIdProto{opsetID("", 14)}, 14, nil},
		{"IR 2", 2, []*onnxpb.OperatorSetIdProto{opsetID("", 14)}, 0, []string{"onnx model: IR version 2: supported 3 to 9"}},
		{"IR 10", 10, []*onnxpb.OperatorSetIdProto{opsetID("", 14)}, 0, []string{"IR version 10: supported 3 to 9"}},
		{"IR 0 (absent)", 0, []*onnxpb.OperatorSetIdProto{opsetID("", 14)}, 0, []string{"IR version 0"}},
		{"opset 6", 7, []*onnxpb.OperatorSetIdProto{opsetID("", 6)}, 6, nil},
		{"opset 18", 8, []*onnxpb.OperatorSetIdProto{opsetID("", 18)}, 18, nil},
		{"opset 5", 7, []*onnxpb.OperatorSetIdProto{opsetID("", 5)}, 0, []string{"opset 5 of the default domain: supported 6 to 18"}},
		{"opset 19", 7, []*onnxpb.OperatorSetIdProto{opsetID("", 19)}, 0, []string{"opset 19 of the default domain: supported 6 to 18"}},
		{"ai.onnx alias", 7, []*onnxpb.OperatorSetIdProto{opsetID("ai.onnx", 13)}, 13, nil},
		{"other domains too", 7, []*onnxpb.OperatorSetIdProto{opsetID("com.microsoft", 1), opsetID("", 11), opsetID("ai.onnx.ml", 99)}, 11, nil},
		{"no opset_import", 7, nil, 0, []string{"opset_import", "no opset for the default domain", "supported 6 to 18"}},
		{"only another domain", 7, []*onnxpb.OperatorSetIdProto{opsetID("com.microsoft", 14)}, 0, []string{"no opset for the default domain"}},
		{"domain twice", 7, []*onnxpb.OperatorSetIdProto{opsetID("", 14), opsetID("", 14)}, 0, []string{`opset_import: domain "" imported twice`}},
		{"other domain twice", 7, []*onnxpb.OperatorSetIdProto{opsetID("", 14), opsetID("x", 1), opsetID("x", 2)}, 0, []string{`domain "x" imported twice`}},
		{"both default names", 7, []*onnxpb.OperatorSetIdProto{opsetID("", 14), opsetID("ai.onnx", 14)}, 0, []string{`both "" and "ai.onnx"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := modelProto(tc.ir, 14, weights()...)
			p.OpsetImport = tc.opsets
			if tc.ir == 0 {
				p.IrVersion = nil
			}
			m, err := Decode(marshal(t, p), "")
			if tc.wantErr != nil {
				wantErr(t, err, tc.wantErr...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.IRVersion != tc.ir || m.Opset != tc.opset || len(m.Opsets) != len(tc.opsets) {
				t.Errorf("IR %d, opset %d, opsets %v: want %d, %d, %d domains", m.IRVersion, m.Opset, m.Opsets, tc.ir, tc.opset, len(tc.opsets))
			}
			for _, o := range tc.opsets {
				if m.Opsets[o.GetDomain()] != o.GetVersion() {
					t.Errorf("opsets %v: want %q at %d", m.Opsets, o.GetDomain(), o.GetVersion())
				}
			}
		})
	}
}

// TestDecodeModel checks everything Decode reads from modelProto's model:
// producer, graph name, values with their types and shapes, the node, and
// the initializers.
func TestDecodeModel(t *testing.T) {
	m, err := Decode(marshal(t, modelProto(8, 14, weights()...)), "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Producer != "test" || m.ProducerVersion != "1.0" || m.Path != "" || m.Graph.Name != "g" {
		t.Errorf("producer %q %q, path %q, graph %q: want test 1.0, \"\", g", m.Producer, m.ProducerVersion, m.Path, m.Graph.Name)
	}
	in, out := m.Graph.Inputs, m.Graph.Outputs
	if len(in) != 1 || in[0].Name != "x" || in[0].Type != Float32 || !slices.Equal(in[0].Shape, []int64{-1, 3}) {
		t.Errorf("inputs %+v: want x float32 [-1 3]", in)
	}
	if len(out) != 1 || out[0].Name != "y" || !slices.Equal(out[0].Shape, []int64{-1, 2}) {
		t.Errorf("outputs %+v: want y [-1 2]", out)
	}
	if len(m.Graph.Nodes) != 1 {
		t.Fatalf("%d nodes, want 1", len(m.Graph.Nodes))
	}
	n := m.Graph.Nodes[0]
	if n.Name != "gemm0" || n.Op != "Gemm" || n.Domain != "" || !slices.Equal(n.Inputs, []string{"x", "w", "b"}) || !slices.Equal(n.Outputs, []string{"y"}) {
		t.Errorf("node %+v: want gemm0 Gemm x,w,b -> y", n)
	}
	w, b := m.Graph.Initializer("w"), m.Graph.Initializer("b")
	if w == nil || b == nil || m.Graph.Initializer("x") != nil {
		t.Fatalf("initializers w %v, b %v, x %v: want w and b only", w, b, m.Graph.Initializer("x"))
	}
	if !slices.Equal(w.Dims, []int{2, 3}) || w.Type != Float32 || !slices.Equal(w.Float, []float64{1, -2, 0.5, 0.25, 3, -1}) || w.Int != nil {
		t.Errorf("w %+v: want float32 [2 3] 1 -2 0.5 0.25 3 -1", w)
	}
	if !slices.Equal(b.Float, []float64{0.125, -0.125}) || b.Size() != 2 {
		t.Errorf("b %+v: want 0.125 -0.125", b)
	}
	if !slices.Equal(m.Graph.Initializers, []*Tensor{w, b}) {
		t.Errorf("initializers %v: want w, b in file order", m.Graph.Initializers)
	}
	// A Graph built by hand, without the decoder's index, finds them too.
	g := Graph{Initializers: m.Graph.Initializers}
	if g.Initializer("b") != b || g.Initializer("z") != nil {
		t.Errorf("Initializer on a graph built by hand: want b and nil")
	}
}

// TestValueInfo checks the types and shapes of graph inputs: a scalar, no
// shape, a value that is not a tensor, and a negative dim refused.
func TestValueInfo(t *testing.T) {
	p := modelProto(8, 14, weights()...)
	scalar := valueInfoProto("s", Int64)
	noShape := valueInfoProto("n", Float16)
	noShape.Type.GetTensorType().Shape = nil
	seq := &onnxpb.ValueInfoProto{Name: proto.String("q"), Type: &onnxpb.TypeProto{
		Value: &onnxpb.TypeProto_SequenceType{SequenceType: &onnxpb.TypeProto_Sequence{}}}}
	p.Graph.Input = append(p.Graph.Input, scalar, noShape, seq)
	m, err := Decode(marshal(t, p), "")
	if err != nil {
		t.Fatal(err)
	}
	in := m.Graph.Inputs
	if in[1].Type != Int64 || in[1].Shape == nil || len(in[1].Shape) != 0 {
		t.Errorf("scalar %+v: want int64, empty shape", in[1])
	}
	if in[2].Type != Float16 || in[2].Shape != nil {
		t.Errorf("no shape %+v: want float16, nil shape", in[2])
	}
	if in[3].Type != Undefined || in[3].Shape != nil || in[3].Name != "q" {
		t.Errorf("sequence %+v: want q, undefined, nil shape", in[3])
	}

	p = modelProto(8, 14, weights()...)
	p.Graph.Output = append(p.Graph.Output, valueInfoProto("z", Float32, 2, -3))
	p.Graph.Output[1].Type.GetTensorType().Shape.Dim[1].Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: -3}
	_, err = Decode(marshal(t, p), "")
	wantErr(t, err, `graph output 1 "z": dim 1 is -3: dims must be >= 0`)
}

// TestGraphErrors checks the errors of malformed models and graphs.
func TestGraphErrors(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(p *onnxpb.ModelProto)
		errors []string
	}{
		{"no graph", func(p *onnxpb.ModelProto) { p.Graph = nil }, []string{"onnx model: no graph"}},
		{"duplicate initializer", func(p *onnxpb.ModelProto) {
			p.Graph.Initializer[1].Name = proto.String("w")
		}, []string{`initializer 1: name "w" used twice`}},
		{"sparse initializer", func(p *onnxpb.ModelProto) {
			p.Graph.SparseInitializer = []*onnxpb.SparseTensorProto{{}}
		}, []string{`graph "g": 1 sparse initializers: sparse tensors are not supported`}},
		{"node without op", func(p *onnxpb.ModelProto) {
			p.Graph.Node = append(p.Graph.Node, &onnxpb.NodeProto{Name: proto.String("n")})
		}, []string{"node 1: no op_type"}},
		{"bad initializer", func(p *onnxpb.ModelProto) {
			p.Graph.Initializer[1].RawData = nil
		}, []string{`initializer 1: tensor "b": no values: float32 [2] needs 2`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := modelProto(8, 14, weights()...)
			tc.edit(p)
			_, err := Decode(marshal(t, p), "")
			wantErr(t, err, tc.errors...)
		})
	}
	for _, b := range [][]byte{{0xff}, []byte("not a model at all"), {0x0a, 0x05, 1}} {
		_, err := Decode(b, "")
		wantErr(t, err, "onnx model: not an ONNX model")
	}
}

// TestRead checks Read and ReadTensor on files, and that their errors name
// the file.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.onnx")
	writeFile(t, path, marshal(t, modelProto(8, 14, weights()...)))
	m, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.Path != path || len(m.Graph.Initializers) != 2 {
		t.Errorf("path %q, %d initializers: want %q, 2", m.Path, len(m.Graph.Initializers), path)
	}

	x := tensorProto("x", Float64, 2)
	x.DoubleData = []float64{1.5, -0.25}
	xpath := filepath.Join(dir, "input_0.pb")
	writeFile(t, xpath, marshal(t, x))
	got, err := ReadTensor(xpath)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "x" || got.Type != Float64 || !slices.Equal(got.Float, []float64{1.5, -0.25}) {
		t.Errorf("tensor %+v: want x float64 1.5 -0.25", got)
	}

	bad := filepath.Join(dir, "bad.pb")
	writeFile(t, bad, []byte{0xff, 0xff})
	_, err = ReadTensor(bad)
	wantErr(t, err, bad, "not a serialized ONNX tensor")
	_, err = Read(bad)
	wantErr(t, err, bad, "not an ONNX model")
	x.DoubleData = nil
	writeFile(t, xpath, marshal(t, x))
	_, err = ReadTensor(xpath)
	wantErr(t, err, xpath, `tensor "x": no values`)
	_, err = Read(filepath.Join(dir, "missing.onnx"))
	wantErr(t, err, "missing.onnx")
	_, err = Read(dir)
	wantErr(t, err, dir, "not a regular file")
	_, err = ReadTensor(dir)
	wantErr(t, err, dir, "not a regular file")
}

// writeFile writes b to path.
func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// smallModels returns the committed models of at most 200 KB: those of
// ../testdata/models and of testdata.
func smallModels(t testing.TB) []string {
	var small []string
	for _, pattern := range []string{"../testdata/models/*.onnx", "testdata/*.onnx"} {
		paths, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			if fi, err := os.Stat(p); err == nil && fi.Size() < 200<<10 {
				small = append(small, p)
			}
		}
	}
	if len(small) < 10 {
		t.Fatalf("%d committed models of at most 200 KB, want at least 10", len(small))
	}
	return small
}

// TestCommittedModels reads every committed model, checking what
// ../testdata/models/MANIFEST.md says of a few.
func TestCommittedModels(t *testing.T) {
	paths, err := filepath.Glob("../testdata/models/*.onnx")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no models in ../testdata/models (%v)", err)
	}
	byName := map[string]*Model{}
	for _, p := range paths {
		m, err := Read(p)
		if err != nil {
			t.Error(err)
			continue
		}
		consistent(t, m.Graph.Initializers...)
		byName[filepath.Base(p)] = m
	}
	for _, c := range []struct {
		file      string
		ir, opset int64
		ops       []string
	}{
		{"cnn_padpool_opset10.onnx", 5, 10, []string{"Conv", "Relu", "Pad", "AveragePool", "GlobalAveragePool", "Flatten", "Gemm"}},
		{"cnn_padpool.onnx", 7, 14, []string{"Conv", "Relu", "Constant", "Pad", "AveragePool", "GlobalAveragePool", "Flatten", "Gemm"}},
		{"mlp_matmul.onnx", 7, 14, []string{"MatMul", "Add", "Relu", "MatMul"}},
	} {
		m := byName[c.file]
		if m == nil {
			t.Errorf("%s: not read", c.file)
			continue
		}
		var ops []string
		for _, n := range m.Graph.Nodes {
			ops = append(ops, n.Op)
		}
		if m.IRVersion != c.ir || m.Opset != c.opset || !slices.Equal(ops, c.ops) {
			t.Errorf("%s: IR %d, opset %d, ops %v: want %d, %d, %v", c.file, m.IRVersion, m.Opset, ops, c.ir, c.opset, c.ops)
		}
	}
	// The same weights in raw_data, float_data, float16 and external data.
	raw, typed, ext, half := byName["mlp20_kaiming.onnx"], byName["mlp20_kaiming_typed.onnx"],
		byName["mlp20_kaiming_external.onnx"], byName["mlp20_kaiming_fp16.onnx"]
	if raw == nil || typed == nil || ext == nil || half == nil {
		t.Fatal("mlp20_kaiming variants not read")
	}
	for _, w := range raw.Graph.Initializers {
		for _, other := range []*Model{typed, ext} {
			o := other.Graph.Initializer(w.Name)
			if o == nil || !slices.Equal(o.Dims, w.Dims) || !slices.Equal(o.Float, w.Float) {
				t.Errorf("%s: initializer %q differs from mlp20_kaiming.onnx's", other.Path, w.Name)
			}
		}
		h := half.Graph.Initializer(w.Name)
		if h == nil || h.Type != Float16 || !slices.Equal(h.Dims, w.Dims) {
			t.Errorf("%s: initializer %q: want float16 of dims %v", half.Path, w.Name, w.Dims)
			continue
		}
		for i, v := range w.Float {
			// Rounding to float16 errs by at most half a unit in the last
			// place: 2^-11 relative, or 2^-25 among the subnormals.
			if d := h.Float[i] - v; d*d > max(v*v*0x1p-22, 0x1p-50) {
				t.Fatalf("%s: %q[%d] = %g, want %g rounded to float16", half.Path, w.Name, i, h.Float[i], v)
			}
		}
	}
}
