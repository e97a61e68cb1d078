package onnx

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Node is one operator application of a graph.
type Node struct {
	// Name is the node's name; it may be empty.
	Name string
	// Op is the operator ("Conv", "Gemm", "Relu") and Domain its domain,
	// "" or "ai.onnx" for ONNX's own operators.
	Op, Domain string
	// Inputs and Outputs name the values the node reads and writes; an
	// empty name is an optional input or output left out.
	Inputs, Outputs []string
	// Attrs are the node's attributes by name.
	Attrs map[string]Attr
}

// AttrKind is the kind of an attribute's value, numbered as ONNX's
// AttributeProto.AttributeType.
type AttrKind int

// The kinds of attribute values. Only the kinds Float, Int, String, Tensor,
// Floats, Ints and Strings carry their value in Attr.
const (
	AttrUndefined     AttrKind = 0
	AttrFloat         AttrKind = 1
	AttrInt           AttrKind = 2
	AttrString        AttrKind = 3
	AttrTensor        AttrKind = 4
	AttrGraph         AttrKind = 5
	AttrFloats        AttrKind = 6
	AttrInts          AttrKind = 7
	AttrStrings       AttrKind = 8
	AttrTensors       AttrKind = 9
	AttrGraphs        AttrKind = 10
	AttrSparseTensor  AttrKind = 11
	AttrSparseTensors AttrKind = 12
	AttrTypeProto     AttrKind = 13
	AttrTypeProtos    AttrKind = 14
)

// attrKindNames are the names of the kinds, by number.
var attrKindNames = []string{
	"undefined", "float", "int", "string", "tensor", "graph", "floats", "ints", "strings",
	"tensors", "graphs", "sparse tensor", "sparse tensors", "type proto", "type protos",
}

// String names the kind: "float", "ints", "sparse tensor".
func (k AttrKind) String() string {
	if k >= 0 && int(k) < len(attrKindNames) {
		return attrKindNames[k]
	}
	return "AttrKind(" + strconv.Itoa(int(k)) + ")"
}

// Attr is an attribute of a node: its kind and the field that kind uses.
type Attr struct {
	// Kind says which of the fields below holds the value.
	Kind AttrKind
	// Int, Float and Str hold a single int, float or string.
	Int   int64
	Float float32
	Str   string
	// Ints, Floats and Strings hold a list.
	Ints    []int64
	Floats  []float32
	Strings []string
	// Tensor holds a tensor (the value of a Constant node).
	Tensor *Tensor
}

// Int returns the int attribute name, or def if the node has none. An
// attribute of another kind is an error naming the node.
func (n *Node) Int(name string, def int64) (int64, error) {
	a, ok, err := n.attr(name, AttrInt)
	if !ok {
		return def, err
	}
	return a.Int, nil
}

// Ints returns the ints attribute name, or def if the node has none. An
// attribute of another kind is an error naming the node.
func (n *Node) Ints(name string, def []int64) ([]int64, error) {
	a, ok, err := n.attr(name, AttrInts)
	if !ok {
		return def, err
	}
	return a.Ints, nil
}

// Float returns the float attribute name, or def if the node has none. An
// attribute of another kind is an error naming the node.
func (n *Node) Float(name string, def float32) (float32, error) {
	a, ok, err := n.attr(name, AttrFloat)
	if !ok {
		return def, err
	}
	return a.Float, nil
}

// Floats returns the floats attribute name, or def if the node has none.
// An attribute of another kind is an error naming the node.
func (n *Node) Floats(name string, def []float32) ([]float32, error) {
	a, ok, err := n.attr(name, AttrFloats)
	if !ok {
		return def, err
	}
	return a.Floats, nil
}

// String returns the string attribute name, or def if the node has none.
// An attribute of another kind is an error naming the node. (It is not a
// fmt.Stringer.)
func (n *Node) String(name, def string) (string, error) {
	a, ok, err := n.attr(name, AttrString)
	if !ok {
		return def, err
	}
	return a.Str, nil
}

// Tensor returns the tensor attribute name, or nil if the node has none.
// An attribute of another kind is an error naming the node.
func (n *Node) Tensor(name string) (*Tensor, error) {
	a, _, err := n.attr(name, AttrTensor)
	return a.Tensor, err
}

// attr returns the attribute name and whether the node has it with kind
// want; an error if it has it with another kind.
func (n *Node) attr(name string, want AttrKind) (Attr, bool, error) {
	a, ok := n.Attrs[name]
	if !ok {
		return Attr{}, false, nil
	}
	if a.Kind != want {
		return Attr{}, false, fmt.Errorf("%s: attribute %q is of kind %s: want %s", n.label(), name, a.Kind, want)
	}
	return a, true, nil
}

// label names the node in errors: `node "conv1" (Conv)`, or `a Conv node
// without a name`; an op other than letters, digits and '_' is quoted, so
// that the error stays on one line.
func (n *Node) label() string {
	op := n.Op
	if strings.ContainsFunc(op, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' }) {
		op = strconv.Quote(op)
	}
	if n.Name == "" {
		return fmt.Sprintf("a %s node without a name", op)
	}
	return fmt.Sprintf("node %q (%s)", n.Name, op)
}
