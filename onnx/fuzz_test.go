package onnx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/initscope/initscope/onnx/onnxpb"
)

// fuzzDir is the folder the fuzzer resolves external data in: it holds
// external.bin, the data of testdata/external.onnx.
const fuzzDir = "testdata"

// seedModels returns models that exercise the reader: the committed models
// of at most 200 KB, and modelProto's model with external data, attributes
// of every kind and each storage of values.
func seedModels(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{}
	for _, p := range smallModels(t) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		seeds[p] = b
	}
	seeds["modelProto"] = marshal(t, modelProto(3, 6, weights()...))
	seeds["nodeModel"] = marshal(t, nodeModel("conv1", allKinds()...))
	f16 := withTyped(tensorProto("h", Float16, 3, 4), func(p *onnxpb.TensorProto) {
		for _, b := range f16Bits {
			p.Int32Data = append(p.Int32Data, int32(b))
		}
	})
	ext := withExternal(tensorProto("e", Float64, 3), "external.bin", "offset", "0", "length", "24")
	u32 := withTyped(tensorProto("u", Uint32, 2), func(p *onnxpb.TensorProto) { p.Uint64Data = []uint64{0, 1} })
	bf := withRaw(tensorProto("bf", BFloat16, 8), rawLE(2, bf16Bits...))
	seeds["types"] = marshal(t, modelProto(9, 18, append(weights(), f16, ext, u32, bf)...))
	return seeds
}

// FuzzDecode checks that Decode never panics, that its errors are one
// line, and that a model it accepts is consistent: supported versions,
// distinct initializers found by name, each tensor holding the values its
// dims announce in the field of its type.
func FuzzDecode(f *testing.F) {
	for _, b := range seedModels(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b, fuzzDir)
		oneLine(t, err)
		if err != nil {
			return
		}
		checkModel(t, m)
		// Without a folder, the same model decodes, or its external data
		// is refused.
		m, err = Decode(b, "")
		if err != nil && !strings.Contains(err.Error(), "without a folder to resolve it in") {
			t.Fatalf("decoded in %s, but without a folder: %v", fuzzDir, err)
		}
		if err == nil {
			checkModel(t, m)
		}
	})
}

// oneLine fails t if err is an error of several lines, or empty.
func oneLine(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if msg := err.Error(); msg == "" || strings.Contains(msg, "\n") {
		t.Fatalf("error %q: want one non-empty line", msg)
	}
}

// checkModel checks the invariants of a model Decode accepted.
func checkModel(t *testing.T, m *Model) {
	t.Helper()
	if m.IRVersion < MinIRVersion || m.IRVersion > MaxIRVersion || m.Opset < MinOpset || m.Opset > MaxOpset {
		t.Fatalf("IR version %d, opset %d: unsupported, yet accepted", m.IRVersion, m.Opset)
	}
	if v, ok := m.Opsets[""]; !ok || v != m.Opset {
		if v, ok := m.Opsets["ai.onnx"]; !ok || v != m.Opset {
			t.Fatalf("opsets %v: no default domain at opset %d", m.Opsets, m.Opset)
		}
	}
	tensors := m.Graph.Initializers
	for _, x := range m.Graph.Initializers {
		if m.Graph.Initializer(x.Name) != x {
			t.Fatalf("initializer %q: not found by its name", x.Name)
		}
	}
	for _, n := range m.Graph.Nodes {
		if n.Op == "" {
			t.Fatalf("node %q without op", n.Name)
		}
		for _, a := range n.Attrs {
			if a.Tensor != nil {
				tensors = append(tensors, a.Tensor)
			}
		}
	}
	for _, x := range tensors {
		checkTensor(t, x)
	}
}

// checkTensor checks that x has dims >= 0 and the values they announce, in
// the field of its type.
func checkTensor(t *testing.T, x *Tensor) {
	t.Helper()
	for _, d := range x.Dims {
		if d < 0 {
			t.Fatalf("tensor %q: dims %v", x.Name, x.Dims)
		}
	}
	k, ok := kinds[x.Type]
	if !ok || (x.Float != nil) != (k.float != nil) || (x.Int != nil) == (k.float != nil) {
		t.Fatalf("tensor %q of type %s: Float %v, Int %v", x.Name, x.Type, x.Float != nil, x.Int != nil)
	}
	consistent(t, x)
}

// TestTruncated decodes every prefix of models, or one prefix in step of
// the larger ones: each must fail with one line, or decode to a consistent
// model (a prefix ending between two fields is a valid message).
func TestTruncated(t *testing.T) {
	seeds := seedModels(t)
	for name, b := range seeds {
		step := 1
		if len(b) > 20000 {
			step = len(b)/500 + 1 // about 500 prefixes, some at odd lengths
		}
		for n := 0; n <= len(b); n += step {
			decodeChecked(t, name, b[:n])
		}
	}
}

// TestCorrupted decodes models with a byte replaced by 0x00, 0xff and its
// complement: each byte of the smallest models, every step-th byte of the
// others (each tensor decoded checks the memory limits, reading files of
// /proc and /sys for about 0.2 ms).
func TestCorrupted(t *testing.T) {
	seeds := seedModels(t)
	for _, c := range []struct {
		name string
		step int
	}{{"modelProto", 1}, {"nodeModel", 1}, {"types", 3}, {"testdata/types.onnx", 197}, {"testdata/external.onnx", 181}} {
		b := seeds[c.name]
		if b == nil {
			t.Fatalf("no seed %q", c.name)
		}
		corrupt(t, c.name, b, c.step)
	}
}

// corrupt decodes b with every step-th byte in turn replaced.
func corrupt(t *testing.T, name string, b []byte, step int) {
	c := make([]byte, len(b))
	for i := 0; i < len(b); i += step {
		for _, v := range []byte{0, 0xff, ^b[i]} {
			copy(c, b)
			c[i] = v
			decodeChecked(t, name, c)
		}
	}
}

// decodeChecked decodes b in fuzzDir and checks the error or the model.
func decodeChecked(t *testing.T, name string, b []byte) {
	t.Helper()
	m, err := Decode(b, fuzzDir)
	if err != nil {
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "onnx model: ") {
			t.Fatalf("%s, %d bytes: error %q: want one line beginning \"onnx model: \"", name, len(b), msg)
		}
		return
	}
	checkModel(t, m)
}

// TestFuzzSeedsRead checks that the seeds are valid models, so that the
// fuzzer starts from models that reach the tensors.
func TestFuzzSeedsRead(t *testing.T) {
	for name, b := range seedModels(t) {
		if filepath.Base(name) == "mlp20_kaiming_external.onnx" {
			continue // its data lies in ../testdata/models
		}
		if _, err := Decode(b, fuzzDir); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
