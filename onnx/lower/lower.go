// Package lower turns a decoded ONNX model (package onnx) into initscope's
// network graph (arch.Graph) and the parameter tensors of its nodes, so
// that the theory, the executors and the auditor read a PyTorch export like
// any other net.
//
// It lowers Gemm (transA, transB, alpha, beta), MatMul with a constant
// [in, out] weight, Add of a bias (folded into the layer before it when
// that layer has no other reader) or of two activations (a residual join),
// Mul by a constant scalar (a branch scale), Conv (strides, pads,
// auto_pad, dilations, groups; 1-D convolutions as 1-column images), Relu,
// MaxPool and AveragePool (pads, dilations, count_include_pad, and
// PyTorch's Pad + AveragePool pair), GlobalAveragePool, Flatten, Reshape to
// flat, Identity, Dropout (inference), Constant, and BatchNormalization: in
// inference mode folded into the conv or dense layer it follows, as PyTorch
// does, or a per-channel affine node; in training mode a batch
// normalization followed by its affine part. Constant subgraphs
// (Transpose, Cast, Identity, Unsqueeze, Squeeze, Reshape of initializers)
// are evaluated. Anything else stops the graph: the graph ends before the
// first op it cannot lower, and every such op is listed by node name and
// op in Model.Unsupported, so that nothing is skipped silently.
//
// Activations map to arch shapes without their batch dimension: [N, F] is
// a vector of F, [N, C, H, W] a C x H x W feature map and [N, C, L] a C x L
// x 1 map (so 1-D convolutions and pooling are 2-D ones with one column).
package lower

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/onnx"
)

// Model is an ONNX model lowered to a network graph.
type Model struct {
	// Graph is the network, from the model's input to its output, or to
	// the last node before the first op that could not be lowered.
	Graph *arch.Graph
	// Params holds, by node ID of Graph, the parameters of dense, conv and
	// affine nodes in nn's layouts: a dense weight [out, in], a conv
	// kernel [Cout, Cin/groups, KH, KW], an affine node's scales in
	// Weight and shifts in Bias. Bias is nil for a layer without one.
	Params map[int]Params
	// Tensors lists every floating-point initializer of the model, in file
	// order, with the role its reader gives it.
	Tensors []Tensor
	// Unsupported lists the nodes that could not be lowered, in model
	// order; empty when Graph is the whole model.
	Unsupported []Unsupported
	// Notes say what the lowering did that a reader should know: batch
	// norms folded into the layer before them, a final softmax left out,
	// pads merged into a pooling.
	Notes []string
	// Input is the model's input: its name and ONNX shape (-1 for a
	// symbolic dimension such as the batch).
	Input onnx.ValueInfo
	// Output is the name of the ONNX value Graph's output node computes.
	Output string
}

// Params are the parameter values of one node (see Model.Params).
type Params struct {
	Weight, Bias []float64
}

// The roles of Tensor.
const (
	RoleWeight      = "weight"       // a dense or conv weight
	RoleBias        = "bias"         // a dense or conv bias, or a bias added after a layer
	RoleScale       = "scale"        // a batch norm's scale (gamma)
	RoleShift       = "shift"        // a batch norm's shift (beta)
	RoleRunningMean = "running_mean" // a batch norm's running mean
	RoleRunningVar  = "running_var"  // a batch norm's running variance
	RoleOther       = "other"        // read by an op that gives it no parameter role
)

// Tensor is one floating-point initializer of the model.
type Tensor struct {
	// Name is the initializer's name (PyTorch's parameter name, such as
	// layers.0.weight, or a generated one, such as onnx::Conv_123, for a
	// tensor the exporter computed).
	Name string
	// Node and Op are the name and op of the first node that reads it
	// (PyTorch's module path, such as /layers/layers.0/Gemm), empty if no
	// node does.
	Node, Op string
	// Role is what the tensor is to that node (RoleWeight, ...).
	Role string
	// Shape is the tensor's shape as stored.
	Shape []int
	// FanIn and FanOut are a weight's fans as PyTorch computes them for
	// the module's weight (torch.nn.init._calculate_fan_in_and_fan_out):
	// fan_in counts the layer's inputs also where the file stores the
	// weight transposed, [in, out] (MatMul, Gemm with transB=0). A bias
	// carries its layer's; 0 for other roles.
	FanIn, FanOut int
	// Values are the tensor's values.
	Values []float64
	// GraphNode is the ID in Model.Graph of the node the tensor belongs
	// to, -1 if it is not part of the graph.
	GraphNode int
}

// Unsupported is an ONNX node that could not be lowered.
type Unsupported struct {
	// Node and Op are the node's name and op.
	Node, Op string
	// Reason says why.
	Reason string
}

// String writes the node as "/blocks/blocks.0/Erf (Erf): reason".
func (u Unsupported) String() string { return fmt.Sprintf("%s (%s): %s", u.Node, u.Op, u.Reason) }

// value is an ONNX value during lowering: an activation computed by a
// builder node, or a constant.
type value struct {
	node  int     // builder node ID; -1 for a constant
	shape []int64 // ONNX shape, batch first (-1 when symbolic)
	konst *onnx.Tensor
}

// lowering is the state of one Lower call.
type lowering struct {
	m       *onnx.Model
	b       *arch.Builder
	values  map[string]value
	readers map[string]int // ONNX readers of each value (graph outputs count)
	params  map[int]Params // by builder node ID
	tensors map[string]*Tensor
	out     *Model
	// pads holds the padding of a Pad node waiting for the pooling or
	// convolution that reads it, by the Pad's output name.
	pads map[string]pendingPad
	// aliases maps the output of an Identity or Cast of a constant to its
	// input, so that a shared initializer gets the role of its readers.
	aliases map[string]string
	// made is the ONNX value each builder node was made for: a bias or a
	// batch norm folds into a layer only when it reads that value and is
	// its only reader.
	made map[int]string
	last int // the most recent activation node
}

// pendingPad is a zero Pad whose reader takes over its padding.
type pendingPad struct {
	from                     value
	name                     string
	top, left, bottom, right int
}

// errUnsupported marks an op the lowering cannot handle: the graph stops
// there.
type errUnsupported struct{ reason string }

func (e errUnsupported) Error() string { return e.reason }

func unsupported(format string, a ...any) error {
	return errUnsupported{fmt.Sprintf(format, a...)}
}

// Lower lowers m. It fails only when no part of the model can be lowered
// at all (no single activation input, an input of an unsupported rank, or
// an unsupported op right at the input); a model with unsupported ops
// further on lowers up to the first of them, listed in Unsupported. It
// names m's unnamed nodes (Op_index) and escapes unprintable characters
// in names and ops, in m itself, so that every message can name them.
func Lower(m *onnx.Model) (*Model, error) {
	l := &lowering{
		m: m, values: map[string]value{}, readers: map[string]int{}, params: map[int]Params{},
		tensors: map[string]*Tensor{}, pads: map[string]pendingPad{},
		aliases: map[string]string{}, made: map[int]string{},
		out: &Model{Params: map[int]Params{}},
	}
	if err := l.start(); err != nil {
		return nil, err
	}
	stopped := false
	var after []*onnx.Node // supported nodes left out because they follow the stop
	for i := range m.Graph.Nodes {
		n := &m.Graph.Nodes[i]
		n.Name, n.Op = printable(n.Name), printable(n.Op)
		if n.Name == "" {
			n.Name = fmt.Sprintf("%s_%d", n.Op, i)
		}
		if stopped {
			if r := l.knownOp(n); r != "" {
				l.out.Unsupported = append(l.out.Unsupported, Unsupported{Node: n.Name, Op: n.Op, Reason: r})
			} else {
				after = append(after, n)
			}
			l.useAfterStop(n)
			continue
		}
		if err := l.node(n); err != nil {
			if u, ok := err.(errUnsupported); ok {
				l.out.Unsupported = append(l.out.Unsupported, Unsupported{Node: n.Name, Op: n.Op, Reason: u.reason})
				stopped = true
				continue
			}
			if strings.HasPrefix(err.Error(), "node ") { // an attribute error names the node
				return nil, err
			}
			return nil, fmt.Errorf("node %s (%s): %w", n.Name, n.Op, err)
		}
	}
	if len(after) > 0 {
		l.note("%d nodes after the first unsupported one are left out of the graph, although their ops are supported: %s (from %s to %s)",
			len(after), countOps(after), after[0].Name, after[len(after)-1].Name)
	}
	if err := l.finish(stopped); err != nil {
		return nil, err
	}
	return l.out, nil
}

// useAfterStop gives the parameters of a node after the stop their roles
// and PyTorch's fans, so that their statistics are reported like the
// others' (outside the graph): the weight and bias of a Gemm, MatMul or
// Conv, the four tensors of a BatchNormalization.
func (l *lowering) useAfterStop(n *onnx.Node) {
	in := func(k int) string {
		if k < len(n.Inputs) {
			return l.source(n.Inputs[k])
		}
		return ""
	}
	switch n.Op {
	case "Gemm", "MatMul", "Conv":
		w, ok := l.tensors[in(1)]
		if !ok || len(w.Shape) < 2 {
			return
		}
		fanIn, fanOut := TorchFans(w.Shape)
		transB, _ := n.Int("transB", 0)
		if n.Op == "MatMul" || n.Op == "Gemm" && transB == 0 { // stored [in, out]
			fanIn, fanOut = fanOut, fanIn
		}
		l.use(n, in(1), RoleWeight, -1, fanIn, fanOut)
		if n.Op != "MatMul" {
			l.use(n, in(2), RoleBias, -1, fanIn, fanOut)
		}
	case "BatchNormalization":
		for k, role := range []string{RoleScale, RoleShift, RoleRunningMean, RoleRunningVar} {
			l.use(n, in(k+1), role, -1, 0, 0)
		}
	}
}

// TorchFans returns the fans PyTorch computes for a weight of this shape,
// [out, in, k...] (torch.nn.init._calculate_fan_in_and_fan_out); 0, 0
// below rank 2.
func TorchFans(shape []int) (fanIn, fanOut int) {
	if len(shape) < 2 {
		return 0, 0
	}
	field := 1
	for _, d := range shape[2:] {
		field *= d
	}
	return shape[1] * field, shape[0] * field
}

// countOps writes how many of the nodes have each op, in order of first
// appearance: "Add x3, Gemm x1".
func countOps(nodes []*onnx.Node) string {
	var ops []string
	count := map[string]int{}
	for _, n := range nodes {
		if count[n.Op] == 0 {
			ops = append(ops, n.Op)
		}
		count[n.Op]++
	}
	for i, op := range ops {
		ops[i] = fmt.Sprintf("%s x%d", op, count[op])
	}
	return strings.Join(ops, ", ")
}

// knownOp returns why node n, met after the graph stopped, cannot be
// lowered, or "" if its op is one Lower supports (it is then left out
// only because it comes after the stop).
func (l *lowering) knownOp(n *onnx.Node) string {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return fmt.Sprintf("op of domain %q: only the standard ai.onnx ops are supported", n.Domain)
	}
	if _, ok := handlers[n.Op]; ok {
		return ""
	}
	return unsupportedOp(n.Op)
}

// unsupportedOp says why an op is not lowered.
func unsupportedOp(op string) string {
	if why, ok := knownUnsupported[op]; ok {
		return why
	}
	return "this op is not supported: the theory and the executors know ReLU networks of dense, conv, pooling, residual and batch-norm layers"
}

// knownUnsupported explains the ops people most often meet.
var knownUnsupported = map[string]string{
	"Erf":                "part of GELU (x/2 (1 + erf(x/sqrt 2))): the laws here are for ReLU networks",
	"Sigmoid":            "a sigmoid inside the net: the laws here are for ReLU networks",
	"Tanh":               "a tanh inside the net: the laws here are for ReLU networks",
	"Softmax":            "a softmax inside the net (a final one is left out with a note)",
	"LogSoftmax":         "a log-softmax inside the net (a final one is left out with a note)",
	"LayerNormalization": "layer normalization is not supported",
	"ReduceMean":         "a reduction, as in a decomposed LayerNorm: layer normalization is not supported",
	"Pow":                "a power, as in a decomposed LayerNorm: layer normalization is not supported",
	"Sqrt":               "a square root, as in a decomposed LayerNorm: layer normalization is not supported",
	"Div":                "a division of activations, as in a decomposed LayerNorm or attention",
	"Sub":                "a subtraction of activations, as in a decomposed LayerNorm",
	"LeakyRelu":          "leaky ReLU: the laws here are for ReLU (use torch.nn.ReLU)",
	"PRelu":              "PReLU: the laws here are for ReLU",
	"Elu":                "ELU: the laws here are for ReLU",
	"Selu":               "SELU: the laws here are for ReLU",
	"ConvTranspose":      "transposed convolutions are not supported",
	"Gather":             "an embedding or index lookup is not supported",
	"Concat":             "concatenation of activations is not supported",
}

// start records the model's input, its constants and the readers of every
// value.
func (l *lowering) start() error {
	g := &l.m.Graph
	for _, t := range g.Initializers {
		l.values[t.Name] = value{node: -1, konst: t}
		if t.Float != nil {
			tt := &Tensor{Name: t.Name, Shape: slices.Clone(t.Dims), Values: t.Float, GraphNode: -1, Role: RoleOther}
			l.tensors[t.Name] = tt
			l.out.Tensors = append(l.out.Tensors, *tt)
		}
	}
	var inputs []onnx.ValueInfo
	for _, in := range g.Inputs {
		if g.Initializer(in.Name) == nil {
			inputs = append(inputs, in)
		}
	}
	if len(inputs) != 1 {
		names := make([]string, len(inputs))
		for i, in := range inputs {
			names[i] = in.Name
		}
		return fmt.Errorf("the model has %d inputs %q that are not initializers: the audit needs exactly one (the network's input)", len(inputs), names)
	}
	if len(g.Outputs) == 0 {
		return fmt.Errorf("the model has no outputs: the audit needs one")
	}
	in := inputs[0]
	l.out.Input = in
	shape, err := archShape(in.Shape)
	if err != nil {
		return fmt.Errorf("input %q: %w", in.Name, err)
	}
	if l.b, err = arch.NewBuilder(shape); err != nil {
		return fmt.Errorf("input %q: %w", in.Name, err)
	}
	l.values[in.Name] = value{node: 0, shape: in.Shape}
	for _, n := range g.Nodes {
		for _, name := range n.Inputs {
			l.readers[name]++
		}
	}
	for _, o := range g.Outputs {
		l.readers[o.Name]++
	}
	return nil
}

// archShape maps an ONNX activation shape, batch first, to an arch shape.
func archShape(s []int64) (arch.Shape, error) {
	size := int64(1)
	for i, d := range s[min(1, len(s)):] {
		if d < 1 || d > math.MaxInt32 {
			return arch.Shape{}, fmt.Errorf("shape %v: dimension %d is %d: a known size >= 1 is needed (only the batch may be symbolic)", s, i+1, d)
		}
		if size *= d; size > math.MaxInt32 { // before C*H*W can overflow
			return arch.Shape{}, fmt.Errorf("shape %v: more than %d values per sample", s, math.MaxInt32)
		}
	}
	switch len(s) {
	case 2:
		return arch.Flat(int(s[1])), nil
	case 3:
		return arch.Image(int(s[1]), int(s[2]), 1), nil
	case 4:
		return arch.Image(int(s[1]), int(s[2]), int(s[3])), nil
	}
	return arch.Shape{}, fmt.Errorf("shape %v: rank %d: supported are [N, features], [N, C, L] and [N, C, H, W]", s, len(s))
}

// finish chooses the output, keeps what it depends on and fills the
// model's graph, parameters and tensors.
func (l *lowering) finish(stopped bool) error {
	out := l.last
	if !stopped {
		name := l.m.Graph.Outputs[0].Name
		v, ok := l.values[name]
		if pad, isPad := l.pads[name]; isPad {
			return fmt.Errorf("output %q is written by the zero padding %s, which no convolution or pooling reads: a padding on its own is not supported", name, pad.name)
		}
		if !ok || v.node < 0 {
			return fmt.Errorf("output %q is not an activation of the input", name)
		}
		out = v.node
		l.out.Output = name
		if len(l.m.Graph.Outputs) > 1 {
			l.note("the model has %d outputs: the audit follows the first, %q", len(l.m.Graph.Outputs), name)
		}
	}
	if out == 0 {
		if stopped {
			return fmt.Errorf("node %s: nothing before the first unsupported op to audit", l.out.Unsupported[0])
		}
		return fmt.Errorf("the model's output is its input (%s): no layer to audit", strings.Join(l.out.Notes, "; "))
	}
	if stopped {
		l.out.Output = l.lastName(out)
	}
	g, ids, err := l.b.Prefix(out)
	if err != nil {
		return err
	}
	g.Source = l.m.Path
	l.out.Graph = g
	for id, p := range l.params {
		if ids[id] >= 0 {
			l.out.Params[ids[id]] = p
		}
	}
	for i := range l.out.Tensors {
		t := &l.out.Tensors[i]
		*t = *l.tensors[t.Name]
		if t.GraphNode >= 0 {
			t.GraphNode = ids[t.GraphNode]
		}
	}
	return nil
}

// lastName returns the last value, in node order, that holds builder node
// id's output: the one the first unsupported op read, or the one a bias or
// batch norm folded into node id writes.
func (l *lowering) lastName(id int) string {
	name := ""
	for _, n := range l.m.Graph.Nodes {
		for _, o := range n.Outputs {
			if v, ok := l.values[o]; ok && v.node == id {
				name = o
			}
		}
	}
	return name
}

// note records a note on the lowering.
func (l *lowering) note(format string, a ...any) {
	l.out.Notes = append(l.out.Notes, fmt.Sprintf(format, a...))
}

// handler lowers one op.
type handler func(l *lowering, n *onnx.Node) error

// handlers are the supported ops.
var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		"Gemm": (*lowering).gemm, "MatMul": (*lowering).matmul, "Conv": (*lowering).conv,
		"Add": (*lowering).add, "Mul": (*lowering).mul, "Relu": (*lowering).relu,
		"MaxPool": (*lowering).pool, "AveragePool": (*lowering).pool, "GlobalAveragePool": (*lowering).gap,
		"Flatten": (*lowering).flatten, "Reshape": (*lowering).reshape,
		"Identity": (*lowering).identity, "Dropout": (*lowering).dropout, "Constant": (*lowering).constant,
		"Pad": (*lowering).pad, "BatchNormalization": (*lowering).batchNorm,
		"Transpose": (*lowering).transpose, "Cast": (*lowering).cast,
		"Unsqueeze": (*lowering).unsqueeze, "Squeeze": (*lowering).squeeze,
		"Softmax": (*lowering).softmax, "LogSoftmax": (*lowering).softmax,
	}
}

// node lowers one ONNX node.
func (l *lowering) node(n *onnx.Node) error {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return unsupported("op of domain %q: only the standard ai.onnx ops are supported", n.Domain)
	}
	h, ok := handlers[n.Op]
	if !ok {
		return unsupported("%s", unsupportedOp(n.Op))
	}
	for _, name := range n.Inputs {
		if _, ok := l.pads[name]; ok && n.Op != "AveragePool" && n.Op != "Conv" && n.Op != "MaxPool" {
			return unsupported("reads the Pad %q, which only a Conv or pooling can take over", l.pads[name].name)
		}
	}
	if len(n.Outputs) == 0 {
		return fmt.Errorf("no outputs")
	}
	return h(l, n)
}

// input returns the node's i-th input value; a missing optional input
// ("" or past the end) gives ok false.
func (l *lowering) input(n *onnx.Node, i int) (value, bool, error) {
	if i >= len(n.Inputs) || n.Inputs[i] == "" {
		return value{}, false, nil
	}
	v, ok := l.values[n.Inputs[i]]
	if !ok {
		if p, ok := l.pads[n.Inputs[i]]; ok {
			return p.from, true, nil
		}
		return value{}, false, fmt.Errorf("input %q is not computed by an earlier node", n.Inputs[i])
	}
	return v, true, nil
}

// operand returns the node's i-th input, an activation or a constant,
// which must be there.
func (l *lowering) operand(n *onnx.Node, i int) (value, error) {
	v, ok, err := l.input(n, i)
	if err == nil && !ok {
		err = fmt.Errorf("input %d is missing", i)
	}
	return v, err
}

// activation returns the node's i-th input, which must be an activation.
func (l *lowering) activation(n *onnx.Node, i int) (value, error) {
	v, ok, err := l.input(n, i)
	switch {
	case err != nil:
		return value{}, err
	case !ok:
		return value{}, fmt.Errorf("input %d is missing", i)
	case v.node < 0:
		return value{}, unsupported("input %q is a constant where an activation is expected", n.Inputs[i])
	}
	return v, nil
}

// constantInput returns the node's i-th input, which must be a constant;
// ok is false when the optional input is absent.
func (l *lowering) constantInput(n *onnx.Node, i int) (*onnx.Tensor, bool, error) {
	v, ok, err := l.input(n, i)
	switch {
	case err != nil || !ok:
		return nil, false, err
	case v.node >= 0:
		return nil, false, unsupported("input %q is an activation where a constant is expected (weights computed from activations are not supported)", n.Inputs[i])
	}
	return v.konst, true, nil
}

// setActivation records node id's output as the node's first output.
func (l *lowering) setActivation(n *onnx.Node, id int, shape []int64) {
	l.values[n.Outputs[0]] = value{node: id, shape: shape}
	if _, ok := l.made[id]; !ok {
		l.made[id] = n.Outputs[0]
	}
	l.last = id
}

// setConstant records a constant as the node's first output.
func (l *lowering) setConstant(n *onnx.Node, t *onnx.Tensor) {
	t.Name = n.Outputs[0]
	l.values[n.Outputs[0]] = value{node: -1, konst: t}
}

// use marks initializer name as read by node n in the given role, owned
// by builder node id (-1 for none), with the given fans.
func (l *lowering) use(n *onnx.Node, name, role string, id, fanIn, fanOut int) {
	t, ok := l.tensors[name]
	if !ok || t.Node != "" {
		return
	}
	t.Node, t.Op, t.Role, t.GraphNode = n.Name, n.Op, role, id
	t.FanIn, t.FanOut = fanIn, fanOut
}

// source returns the initializer a constant input comes from, following
// Identity and Cast nodes the lowering evaluated (their outputs keep the
// initializer's values), or the input's own name.
func (l *lowering) source(name string) string {
	for range 64 {
		s, ok := l.aliases[name]
		if !ok {
			break
		}
		name = s
	}
	return name
}

// printable returns s with its unprintable characters escaped as Go
// writes them (\n, \x1a), so that a name from the file cannot break a
// report's or an error's line.
func printable(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
