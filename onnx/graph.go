package onnx

import (
	"fmt"

	"github.com/initscope/initscope/onnx/onnxpb"
)

// decoder converts protobuf messages to this package's types.
type decoder struct {
	// dir is the folder external data is resolved in; "" refuses it.
	dir string
	// unchecked counts the bytes of decoded values not yet checked
	// against the memory limits (see decoder.reserve); nil checks every
	// tensor.
	unchecked *int64
}

// graph decodes a main graph: its values, initializers and nodes.
func (d decoder) graph(p *onnxpb.GraphProto) (Graph, error) {
	g := Graph{Name: p.GetName()}
	if n := len(p.GetSparseInitializer()); n > 0 {
		return Graph{}, fmt.Errorf("graph %q: %d sparse initializers: sparse tensors are not supported", g.Name, n)
	}
	var err error
	if g.Inputs, err = valueInfos("input", p.GetInput()); err != nil {
		return Graph{}, err
	}
	if g.Outputs, err = valueInfos("output", p.GetOutput()); err != nil {
		return Graph{}, err
	}
	if err := d.initializers(&g, p.GetInitializer()); err != nil {
		return Graph{}, err
	}
	g.Nodes = make([]Node, len(p.GetNode()))
	for i, n := range p.GetNode() {
		if g.Nodes[i], err = d.node(n); err != nil {
			return Graph{}, fmt.Errorf("node %d: %w", i, err)
		}
	}
	return g, nil
}

// initializers decodes the initializers of g, which must have distinct
// names.
func (d decoder) initializers(g *Graph, ps []*onnxpb.TensorProto) error {
	g.Initializers = make([]*Tensor, len(ps))
	g.byName = make(map[string]*Tensor, len(ps))
	for i, p := range ps {
		t, err := d.tensor(p)
		if err != nil {
			return fmt.Errorf("initializer %d: %w", i, err)
		}
		if g.byName[t.Name] != nil {
			return fmt.Errorf("initializer %d: name %q used twice: initializer names must be distinct", i, t.Name)
		}
		g.Initializers[i], g.byName[t.Name] = t, t
	}
	return nil
}

// valueInfos decodes the graph inputs or outputs ps; what says which.
func valueInfos(what string, ps []*onnxpb.ValueInfoProto) ([]ValueInfo, error) {
	vs := make([]ValueInfo, len(ps))
	for i, p := range ps {
		v, err := valueInfo(p)
		if err != nil {
			return nil, fmt.Errorf("graph %s %d %q: %w", what, i, p.GetName(), err)
		}
		vs[i] = v
	}
	return vs, nil
}

// valueInfo decodes the name, element type and shape of a value.
func valueInfo(p *onnxpb.ValueInfoProto) (ValueInfo, error) {
	v := ValueInfo{Name: p.GetName()}
	tt := p.GetType().GetTensorType()
	if tt == nil {
		return v, nil
	}
	v.Type = DataType(tt.GetElemType())
	if tt.GetShape() == nil {
		return v, nil
	}
	v.Shape = make([]int64, len(tt.GetShape().GetDim()))
	for i, dim := range tt.GetShape().GetDim() {
		v.Shape[i] = -1
		if dv, ok := dim.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok {
			if dv.DimValue < 0 {
				return ValueInfo{}, fmt.Errorf("dim %d is %d: dims must be >= 0", i, dv.DimValue)
			}
			v.Shape[i] = dv.DimValue
		}
	}
	return v, nil
}

// node decodes a node and its attributes, which must have distinct names.
func (d decoder) node(p *onnxpb.NodeProto) (Node, error) {
	n := Node{
		Name:    p.GetName(),
		Op:      p.GetOpType(),
		Domain:  p.GetDomain(),
		Inputs:  p.GetInput(),
		Outputs: p.GetOutput(),
		Attrs:   make(map[string]Attr, len(p.GetAttribute())),
	}
	if n.Op == "" {
		return Node{}, fmt.Errorf("no op_type: every node needs one")
	}
	for _, ap := range p.GetAttribute() {
		name := ap.GetName()
		if _, dup := n.Attrs[name]; dup {
			return Node{}, fmt.Errorf("%s: attribute %q given twice: want each once", n.label(), name)
		}
		a, err := d.attr(ap)
		if err != nil {
			return Node{}, fmt.Errorf("%s: attribute %q: %w", n.label(), name, err)
		}
		n.Attrs[name] = a
	}
	return n, nil
}

// attr decodes an attribute's value; it keeps only the kind of those it
// does not decode (graphs, sparse tensors, type protos, lists of tensors
// or graphs).
func (d decoder) attr(p *onnxpb.AttributeProto) (Attr, error) {
	a := Attr{Kind: AttrKind(p.GetType())}
	switch a.Kind {
	case AttrFloat:
		a.Float = p.GetF()
	case AttrInt:
		a.Int = p.GetI()
	case AttrString:
		a.Str = string(p.GetS())
	case AttrFloats:
		a.Floats = p.GetFloats()
	case AttrInts:
		a.Ints = p.GetInts()
	case AttrStrings:
		a.Strings = make([]string, len(p.GetStrings()))
		for i, s := range p.GetStrings() {
			a.Strings[i] = string(s)
		}
	case AttrTensor:
		if p.GetT() == nil {
			return Attr{}, fmt.Errorf("of type tensor but holds none")
		}
		t, err := d.tensor(p.GetT())
		if err != nil {
			return Attr{}, err
		}
		a.Tensor = t
	case AttrUndefined:
		return Attr{}, fmt.Errorf("no type, or one this ONNX version does not know: want float, int, string, tensor, graph, ... (ONNX's AttributeType)")
	}
	return a, nil
}
