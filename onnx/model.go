package onnx

import (
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/initscope/initscope/limits"
	"github.com/initscope/initscope/onnx/onnxpb"
)

// The IR versions and default-domain opsets this package reads.
const (
	MinIRVersion = 3
	MaxIRVersion = 9
	MinOpset     = 6
	MaxOpset     = 18
)

// MaxFileBytes is the most a model or tensor file may hold: 2 GiB,
// protobuf's limit on a message. Larger models keep their weights in
// external data, which has no such limit.
const MaxFileBytes = 2 << 30

// Model is an ONNX model.
type Model struct {
	// IRVersion is the ONNX IR version the file declares.
	IRVersion int64
	// Opset is the opset version of the default domain ("" or "ai.onnx").
	Opset int64
	// Opsets maps each domain the model imports, as the file names it, to
	// its opset version; the default domain is there too.
	Opsets map[string]int64
	// Producer and ProducerVersion name the program that wrote the file
	// ("pytorch", "1.13.1").
	Producer, ProducerVersion string
	// Graph is the model's main graph.
	Graph Graph
	// Path is the file the model was read from; "" for Decode.
	Path string
}

// Graph is the main graph of a model.
type Graph struct {
	// Name is the graph's name.
	Name string
	// Nodes are the graph's nodes in file order (ONNX requires a
	// topological order).
	Nodes []Node
	// Inputs and Outputs are the graph's inputs and outputs. Inputs may
	// include initializers, as IR version 3 requires.
	Inputs, Outputs []ValueInfo
	// Initializers are the graph's constant tensors (its weights), in file
	// order, with distinct names.
	Initializers []*Tensor

	byName map[string]*Tensor // Initializers by name, when decoded
}

// Initializer returns the initializer called name, or nil if there is
// none.
func (g *Graph) Initializer(name string) *Tensor {
	if g.byName != nil {
		return g.byName[name]
	}
	for _, t := range g.Initializers {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// ValueInfo is a named input or output of a graph.
type ValueInfo struct {
	// Name is the value's name, as nodes refer to it.
	Name string
	// Type is its element type; Undefined for a value that is not a tensor
	// (a sequence, map or optional) or whose type is not given.
	Type DataType
	// Shape is its shape, -1 for a symbolic or unknown dimension ("batch");
	// empty for a scalar and nil where the file gives no shape.
	Shape []int64
}

// Read reads the ONNX model at path, a regular file of at most
// MaxFileBytes, and the external data it refers to, which is resolved in
// the folder of path. Errors name path.
func Read(path string) (*Model, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	m, err := decode(path, data, filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	m.Path = path
	return m, nil
}

// Decode decodes the bytes of an ONNX model, resolving external data in
// the folder dir; dir "" refuses a model with external data. Errors begin
// with "onnx model".
func Decode(data []byte, dir string) (*Model, error) {
	return decode("onnx model", data, dir)
}

// ReadTensor reads the file at path holding one serialized TensorProto
// (input_0.pb, output_0.pb of ONNX's test data), a regular file of at most
// MaxFileBytes. External data is resolved in the folder of path. Errors
// name path.
func ReadTensor(path string) (*Tensor, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	var p onnxpb.TensorProto
	if err := proto.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s: not a serialized ONNX tensor: %v", path, err)
	}
	t, err := decoder{dir: filepath.Dir(path)}.tensor(&p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// readFile reads the model or tensor file at path after checking that the
// process has the memory to hold it twice: as read and decoded.
func readFile(path string) ([]byte, error) {
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		what := fmt.Sprintf("%s: %s read and decoded", path, limits.Bytes(fi.Size()))
		if err := limits.Check(what, 2*min(fi.Size(), MaxFileBytes)); err != nil {
			return nil, err
		}
	}
	return limits.ReadFile(path, MaxFileBytes)
}

// decode decodes a model, naming it name in errors.
func decode(name string, data []byte, dir string) (*Model, error) {
	m, err := decodeModel(data, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

// decodeModel decodes and checks a model.
func decodeModel(data []byte, dir string) (*Model, error) {
	var p onnxpb.ModelProto
	if err := proto.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("not an ONNX model: %v", err)
	}
	ir := p.GetIrVersion()
	if ir < MinIRVersion || ir > MaxIRVersion {
		return nil, fmt.Errorf("IR version %d: supported %d to %d", ir, MinIRVersion, MaxIRVersion)
	}
	opsets, opset, err := readOpsets(p.GetOpsetImport())
	if err != nil {
		return nil, err
	}
	if p.GetGraph() == nil {
		return nil, fmt.Errorf("no graph: an ONNX model needs one")
	}
	g, err := decoder{dir: dir, unchecked: new(int64)}.graph(p.GetGraph())
	if err != nil {
		return nil, err
	}
	return &Model{
		IRVersion:       ir,
		Opset:           opset,
		Opsets:          opsets,
		Producer:        p.GetProducerName(),
		ProducerVersion: p.GetProducerVersion(),
		Graph:           g,
	}, nil
}

// readOpsets returns the opset of each imported domain and that of the
// default domain, which must be imported once, with a supported version.
func readOpsets(ps []*onnxpb.OperatorSetIdProto) (map[string]int64, int64, error) {
	opsets := make(map[string]int64, len(ps))
	var opset int64
	found := false
	for _, p := range ps {
		domain, v := p.GetDomain(), p.GetVersion()
		if _, dup := opsets[domain]; dup {
			return nil, 0, fmt.Errorf("opset_import: domain %q imported twice: want each once", domain)
		}
		opsets[domain] = v
		if domain != "" && domain != "ai.onnx" {
			continue
		}
		if found {
			return nil, 0, fmt.Errorf(`opset_import: the default domain imported as both "" and "ai.onnx": want one`)
		}
		opset, found = v, true
	}
	if !found {
		return nil, 0, fmt.Errorf(`opset_import: no opset for the default domain ("" or "ai.onnx"): supported %d to %d`, MinOpset, MaxOpset)
	}
	if opset < MinOpset || opset > MaxOpset {
		return nil, 0, fmt.Errorf("opset %d of the default domain: supported %d to %d", opset, MinOpset, MaxOpset)
	}
	return opsets, opset, nil
}
