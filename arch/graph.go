package arch

import (
	"fmt"
	"math"
	"strings"
)

// Op names what a node of a Graph computes.
type Op string

// The node operations.
const (
	OpInput   Op = "input"   // the net's input
	OpDense   Op = "dense"   // fully connected: y = W x + b
	OpConv    Op = "conv"    // 2-D convolution (cross-correlation) with zero padding, plus bias
	OpAffine  Op = "affine"  // y = a_c x + b_c per channel, with a and b given (an eval-mode batch norm)
	OpReLU    Op = "relu"    // max(x, 0)
	OpAdd     Op = "add"     // the sum of two activations of one shape (a residual join)
	OpScale   Op = "scale"   // eta * x, a residual branch's scale
	OpMaxPool Op = "maxpool" // max over windows (padding ignored)
	OpAvgPool Op = "avgpool" // average over windows (padding counted as zeros unless excluded)
	OpGAP     Op = "gap"     // global average pooling, C x H x W -> C
	OpFlatten Op = "flatten" // C x H x W -> C*H*W
	// OpNorm is a normalization, its kind in Node.Norm: NormBatch
	// normalizes each channel by its mean and variance over the batch and
	// its positions (a batch norm in training mode, whose affine part is a
	// separate affine node); other kinds are placeholders no executor or
	// law handles yet, and each says so.
	OpNorm Op = "norm"
)

// Node is one operation of a Graph. Only the fields of its Op are set.
type Node struct {
	// ID is the node's index in Graph.Nodes.
	ID int
	// Op is what the node computes.
	Op Op
	// Name identifies the node in reports: "3" for the third layer of a
	// spec, "5.branch.1" inside a residual block, or a front end's own
	// name (an ONNX model keeps PyTorch's module paths).
	Name string
	// Inputs are the IDs of the nodes whose outputs this node reads, all
	// smaller than ID (two for add, none for the input, one otherwise).
	Inputs []int
	// In is the shape of the first input (the input node has none); Out is
	// the shape of the node's output.
	In, Out Shape
	// Window is the geometry of a conv or pooling node.
	Window Window
	// Eta is a scale node's factor; Block and Blocks are its 1-based place
	// l in its group of residual blocks and the group's size L, the
	// variables of an eta schedule (0 when unknown).
	Eta           float64
	Block, Blocks int
	// Norm is the kind of a normalization node (NormBatch, or a
	// placeholder such as layernorm), Epsilon the constant added to its
	// variance.
	Norm    string
	Epsilon float64
}

// NormBatch is the kind of a batch normalization node.
const NormBatch = "batchnorm"

// HasWeights reports whether the node has a weight tensor.
func (n *Node) HasWeights() bool { return n.Op == OpDense || n.Op == OpConv }

// FanIn is the number of inputs that feed one output unit: the input width
// of a dense node, C_in/groups * k_h * k_w for a conv node, 0 for nodes
// without weights.
func (n *Node) FanIn() int {
	switch n.Op {
	case OpDense:
		return n.In.Size()
	case OpConv:
		return n.Window.Taps()
	}
	return 0
}

// FanOut is the number of outputs each input feeds, with PyTorch's
// convention: the output width of a dense node, C_out * k_h * k_w for a
// conv node, 0 for nodes without weights.
func (n *Node) FanOut() int {
	switch n.Op {
	case OpDense:
		return n.Out.C
	case OpConv:
		return n.Out.C * n.Window.KH * n.Window.KW
	}
	return 0
}

// Width is the node's width for the fluctuation theory: the units of a
// dense node, the output channels of a conv node (weights are shared across
// positions); 0 for nodes without weights.
func (n *Node) Width() int {
	if n.HasWeights() {
		return n.Out.C
	}
	return 0
}

// Params is the number of weights and biases of the node, or of an affine
// node's scales and shifts.
func (n *Node) Params() int {
	if n.Op == OpAffine {
		return 2 * n.Out.C
	}
	if !n.HasWeights() {
		return 0
	}
	return n.FanIn()*n.Width() + n.Width()
}

// String describes the node: its name, op and output shape.
func (n *Node) String() string {
	return fmt.Sprintf("%s %s -> %s", n.Name, n.Op, n.Out)
}

// Graph is a validated network: a directed acyclic graph of typed nodes in
// topological order. Nodes[0] is the input; the last node is the output,
// and every other node feeds at least one later node. Every front end (the
// fc: and net: grammars, JSON, model files) lowers to a Graph, and every
// consumer (theory, Monte Carlo, training) reads one.
type Graph struct {
	// Nodes are the operations, each after all of its inputs.
	Nodes []Node
	// Source is the text the graph was parsed from, for reports.
	Source string
}

// Input is the shape of the net's input.
func (g *Graph) Input() Shape { return g.Nodes[0].Out }

// Output is the shape of the net's output.
func (g *Graph) Output() Shape { return g.Nodes[len(g.Nodes)-1].Out }

// Params is the number of trainable scalars in the net.
func (g *Graph) Params() int {
	c := 0
	for i := range g.Nodes {
		c += g.Nodes[i].Params()
	}
	return c
}

// ReLULayers counts the ReLU nodes, those inside residual branches included.
func (g *Graph) ReLULayers() int { return g.count(OpReLU) }

// ResidualBlocks counts the residual joins (add nodes).
func (g *Graph) ResidualBlocks() int { return g.count(OpAdd) }

func (g *Graph) count(op Op) int {
	c := 0
	for i := range g.Nodes {
		if g.Nodes[i].Op == op {
			c++
		}
	}
	return c
}

// Consumers returns, for every node, the IDs of the nodes that read it, in
// increasing order.
func (g *Graph) Consumers() [][]int {
	out := make([][]int, len(g.Nodes))
	for i := range g.Nodes {
		for _, in := range g.Nodes[i].Inputs {
			out[in] = append(out[in], i)
		}
	}
	return out
}

// String writes the graph in the compact grammar when it has the shape of
// a spec (Layers recognizes every part of it), one item per layer with
// consecutive identical layers folded into a repeat count; otherwise it
// lists the nodes.
func (g *Graph) String() string {
	layers := g.Layers()
	items := []string{g.Input().String()}
	for i := 0; i < len(layers); {
		if layers[i].Kind == Other {
			return g.nodeList()
		}
		s := layers[i].String()
		j := i + 1
		for j < len(layers) && layers[j].String() == s {
			j++
		}
		if j-i > 1 {
			s = foldRepeat(s, j-i)
		}
		items = append(items, s)
		i = j
	}
	return "net:" + strings.Join(items, ",")
}

// nodeList writes the graph as a list of nodes with their inputs.
func (g *Graph) nodeList() string {
	parts := make([]string, len(g.Nodes))
	for i := range g.Nodes {
		n := &g.Nodes[i]
		parts[i] = fmt.Sprintf("%d:%s%v", n.ID, n.Op, n.Inputs)
	}
	return "graph:" + strings.Join(parts, ",")
}

// foldRepeat inserts a repeat count "xK" before the options of an item.
func foldRepeat(item string, k int) string {
	head, opts, found := strings.Cut(item, ":")
	if !found {
		return fmt.Sprintf("%sx%d", head, k)
	}
	return fmt.Sprintf("%sx%d:%s", head, k, opts)
}

// Builder assembles a Graph node by node, checking each node's inputs and
// computing its shapes, so that a front end cannot build an invalid graph.
// Each method returns the new node's ID.
type Builder struct {
	g Graph
}

// NewBuilder starts a graph whose input has shape in.
func NewBuilder(in Shape) (*Builder, error) {
	for _, v := range []int{in.C, in.H, in.W} {
		if v < 1 {
			return nil, fmt.Errorf("input %s: sizes must be >= 1", in)
		}
	}
	if in.Size() > maxSize {
		return nil, fmt.Errorf("input %s: %d values is more than the %d supported", in, in.Size(), maxSize)
	}
	if !in.Spatial && (in.H != 1 || in.W != 1) {
		return nil, fmt.Errorf("input %s: a flat vector has H = W = 1", in)
	}
	b := &Builder{}
	b.g.Nodes = []Node{{ID: 0, Op: OpInput, Name: "input", Out: in}}
	return b, nil
}

// add appends a node reading from, after checking that from exists.
func (b *Builder) add(n Node, from ...int) (int, error) {
	for _, f := range from {
		if f < 0 || f >= len(b.g.Nodes) {
			return 0, fmt.Errorf("node %q: input %d does not exist", n.Name, f)
		}
	}
	if len(b.g.Nodes) >= maxNodes {
		return 0, fmt.Errorf("more than %d nodes", maxNodes)
	}
	n.ID = len(b.g.Nodes)
	n.Inputs = from
	if len(from) > 0 {
		n.In = b.g.Nodes[from[0]].Out
	}
	b.g.Nodes = append(b.g.Nodes, n)
	return n.ID, nil
}

// Shape returns the output shape of node id.
func (b *Builder) Shape(id int) Shape { return b.g.Nodes[id].Out }

// Node returns node id as built so far (read only: the builder owns it).
func (b *Builder) Node(id int) *Node { return &b.g.Nodes[id] }

// Dense adds a fully connected node of the given width.
func (b *Builder) Dense(name string, from, units int) (int, error) {
	in := b.g.Nodes[from].Out
	if units < 1 {
		return 0, fmt.Errorf("width %d: widths must be >= 1", units)
	}
	if in.Spatial {
		return 0, fmt.Errorf("input %s is a feature map: put flatten or gap before a dense layer", in)
	}
	if units > maxSize || in.Size()*units > maxSize*4 {
		return 0, fmt.Errorf("width %d: a %dx%d weight matrix is larger than supported (%d entries)", units, units, in.Size(), maxSize*4)
	}
	return b.add(Node{Op: OpDense, Name: name, Out: Flat(units)}, from)
}

// Conv adds a convolution with the given output channels and geometry.
func (b *Builder) Conv(name string, from, channels int, g Geometry) (int, error) {
	if channels < 1 {
		return 0, fmt.Errorf("channels %d: must be >= 1", channels)
	}
	w, err := NewWindow(b.g.Nodes[from].Out, channels, g)
	if err != nil {
		return 0, err
	}
	if w.Out.Size() > maxSize || channels > maxSize/w.Taps() {
		return 0, fmt.Errorf("channels %d: output %s is larger than supported", channels, w.Out)
	}
	return b.add(Node{Op: OpConv, Name: name, Out: w.Out, Window: w}, from)
}

// Pool adds a max or average pooling node (op OpMaxPool or OpAvgPool)
// with the given geometry (one group).
func (b *Builder) Pool(name string, op Op, from int, g Geometry) (int, error) {
	if op != OpMaxPool && op != OpAvgPool {
		return 0, fmt.Errorf("pooling op %q: must be maxpool or avgpool", op)
	}
	if g.Groups != 1 {
		return 0, fmt.Errorf("pooling %q: groups %d: pooling has one group", name, g.Groups)
	}
	in := b.g.Nodes[from].Out
	w, err := NewWindow(in, in.C, g)
	if err != nil {
		return 0, err
	}
	return b.add(Node{Op: op, Name: name, Out: w.Out, Window: w}, from)
}

// GlobalAvgPool adds a node averaging each channel over its positions.
func (b *Builder) GlobalAvgPool(name string, from int) (int, error) {
	in := b.g.Nodes[from].Out
	if !in.Spatial {
		return 0, fmt.Errorf("input %s is a vector: gap needs a c x h x w feature map", in)
	}
	return b.add(Node{Op: OpGAP, Name: name, Out: Flat(in.C)}, from)
}

// Flatten adds a node flattening a feature map into a vector (a vector
// passes unchanged).
func (b *Builder) Flatten(name string, from int) (int, error) {
	return b.add(Node{Op: OpFlatten, Name: name, Out: Flat(b.g.Nodes[from].Out.Size())}, from)
}

// ReLU adds a rectifier.
func (b *Builder) ReLU(name string, from int) (int, error) {
	return b.add(Node{Op: OpReLU, Name: name, Out: b.g.Nodes[from].Out}, from)
}

// Scale adds a node multiplying by eta in [0, MaxEta], the l-th of L in
// its schedule (block and blocks; 0 when unknown).
func (b *Builder) Scale(name string, from int, eta float64, block, blocks int) (int, error) {
	if err := checkEta(eta); err != nil {
		return 0, fmt.Errorf("node %q: %v", name, err)
	}
	return b.add(Node{Op: OpScale, Name: name, Out: b.g.Nodes[from].Out, Eta: eta, Block: block, Blocks: blocks}, from)
}

// Add adds the sum of two activations of the same shape.
func (b *Builder) Add(name string, x, y int) (int, error) {
	if x == y {
		return 0, fmt.Errorf("add %q: the two inputs are the same node", name)
	}
	if x < 0 || y < 0 || x >= len(b.g.Nodes) || y >= len(b.g.Nodes) {
		return 0, fmt.Errorf("add %q: input %d or %d does not exist", name, x, y)
	}
	sx, sy := b.g.Nodes[x].Out, b.g.Nodes[y].Out
	if sx != sy {
		return 0, fmt.Errorf("add %q: shapes %s and %s differ", name, sx, sy)
	}
	return b.add(Node{Op: OpAdd, Name: name, Out: sx}, x, y)
}

// Norm adds a normalization of the given kind (NormBatch, or a
// placeholder such as layernorm) with the given epsilon, which keeps the
// shape.
func (b *Builder) Norm(name string, from int, kind string, epsilon float64) (int, error) {
	if !(epsilon >= 0) || math.IsInf(epsilon, 1) {
		return 0, fmt.Errorf("norm %q: epsilon %g: must be finite and >= 0", name, epsilon)
	}
	return b.add(Node{Op: OpNorm, Name: name, Out: b.g.Nodes[from].Out, Norm: kind, Epsilon: epsilon}, from)
}

// Affine adds a per-channel affine map y = a_c x + b_c, whose scales and
// shifts the front end gives with the graph (an eval-mode batch norm).
func (b *Builder) Affine(name string, from int) (int, error) {
	return b.add(Node{Op: OpAffine, Name: name, Out: b.g.Nodes[from].Out}, from)
}

// Graph returns the graph with the last node added as its output. It fails
// if some other node's output is never read.
func (b *Builder) Graph() (*Graph, error) {
	g := b.g
	if len(g.Nodes) < 2 {
		return nil, fmt.Errorf("layers: a net needs at least one layer after the input")
	}
	cons := g.Consumers()
	for i := range len(g.Nodes) - 1 {
		if len(cons[i]) == 0 {
			return nil, fmt.Errorf("node %q (%s): its output is never used; only the last node may be an output", g.Nodes[i].Name, g.Nodes[i].Op)
		}
	}
	return &g, nil
}

// Prefix returns the graph of node out and the nodes it depends on, with
// out as the output, renumbered in their order, and for every node of
// the builder its ID in that graph (-1 for the nodes left out). A front
// end that stops at an op it cannot lower keeps what comes before it
// this way, however many branches were left dangling.
func (b *Builder) Prefix(out int) (*Graph, []int, error) {
	if out < 1 || out >= len(b.g.Nodes) {
		return nil, nil, fmt.Errorf("output node %d: want a node after the input, 1 to %d", out, len(b.g.Nodes)-1)
	}
	need := make([]bool, out+1)
	need[out], need[0] = true, true
	for i := out; i > 0; i-- {
		if need[i] {
			for _, in := range b.g.Nodes[i].Inputs {
				need[in] = true
			}
		}
	}
	ids := make([]int, len(b.g.Nodes))
	g := Graph{Source: b.g.Source}
	for i := range b.g.Nodes {
		ids[i] = -1
		if i > out || !need[i] {
			continue
		}
		n := b.g.Nodes[i]
		n.ID = len(g.Nodes)
		n.Inputs = make([]int, len(n.Inputs))
		for k, in := range b.g.Nodes[i].Inputs {
			n.Inputs[k] = ids[in]
		}
		ids[i] = n.ID
		g.Nodes = append(g.Nodes, n)
	}
	return &g, ids, nil
}

// maxNodes bounds the size of a graph (and so the memory a typo could ask for).
const maxNodes = 1 << 20
