package arch

import (
	"fmt"
	"strings"
)

// Kind names what a Layer is: the parts of a Graph that the theory has laws
// for and that reports show as one row.
type Kind string

// The layer kinds.
const (
	Dense         Kind = "dense"    // a dense node, and the ReLU after it if any
	Conv          Kind = "conv"     // a conv node, and the ReLU after it if any
	MaxPool       Kind = "maxpool"  // max pooling
	AvgPool       Kind = "avgpool"  // average pooling
	GlobalAvgPool Kind = "gap"      // average over all positions, C x H x W -> C
	Flatten       Kind = "flatten"  // C x H x W -> C*H*W
	Residual      Kind = "residual" // skip(x) + eta * module(x), then a ReLU if PostReLU
	Norm          Kind = "norm"     // a normalization (batch norm or a placeholder)
	Affine        Kind = "affine"   // a per-channel affine node, and the ReLU after it if any
	// Other is a part of the graph with none of the shapes above (a ReLU
	// that follows no weighted node, a join that is not a residual block):
	// the theory has no law for it and says so.
	Other Kind = "other"
)

// Layer is a layer as a user thinks of it, recognized in a Graph: a
// weighted or affine node with its ReLU, a pooling, flatten or
// normalization node, or a residual block, the subgraph from a fork to the
// add that joins its two paths.
// Layers partition the graph's nodes after the input, in order.
type Layer struct {
	Kind Kind
	// Node is the layer's principal node: the dense, conv or affine node
	// of a layer with a ReLU, the add of a residual block, the node itself
	// otherwise (the first node of an Other layer).
	Node *Node
	// Nodes are the IDs of all of the layer's nodes, in order.
	Nodes []int
	// ReLU says a weighted or affine layer's node is followed by a ReLU.
	ReLU bool
	// Module is a residual block's branch N: its weighted layers, in order.
	Module []Layer
	// Shortcut is the skip path's weighted layers: none for the identity,
	// one linear layer for a projection (ResNet v1's downsampling block).
	Shortcut []Layer
	// Eta is the scale of a residual branch (1 without a scale node), and
	// Block and Blocks its place l in its group of blocks and the group's
	// size L (0 when unknown).
	Eta           float64
	Block, Blocks int
	// PostReLU says a ReLU follows the residual join (ResNet v1).
	PostReLU bool
	// In and Out are the shapes the layer reads and writes.
	In, Out Shape
}

// Name is the name of the layer's principal node.
func (l *Layer) Name() string { return l.Node.Name }

// HasWeights reports whether the layer is a dense or conv layer.
func (l *Layer) HasWeights() bool { return l.Kind == Dense || l.Kind == Conv }

// FanIn is the fan-in of a weighted layer's weights, of the first module
// layer's for a residual block; 0 otherwise.
func (l *Layer) FanIn() int {
	if l.Kind == Residual {
		return l.Module[0].FanIn()
	}
	return l.Node.FanIn()
}

// FanOut is the fan-out of a weighted layer's weights (PyTorch's
// convention); 0 otherwise.
func (l *Layer) FanOut() int { return l.Node.FanOut() }

// Width is the layer's width for the fluctuation theory: the units of a
// dense layer, the output channels of a conv layer and the stream's
// channels for a residual block; 0 otherwise.
func (l *Layer) Width() int {
	if l.Kind == Residual {
		return l.Out.C
	}
	return l.Node.Width()
}

// Window is the geometry of a conv or pooling layer.
func (l *Layer) Window() *Window { return &l.Node.Window }

// Params is the number of weights and biases of the layer, module and
// shortcut included.
func (l *Layer) Params() int {
	n := l.Node.Params()
	for i := range l.Module {
		n += l.Module[i].Params()
	}
	for i := range l.Shortcut {
		n += l.Shortcut[i].Params()
	}
	return n
}

// String describes the layer in the compact spec grammar (one layer, no
// repeat).
func (l *Layer) String() string {
	act := ":linear"
	if l.ReLU {
		act = ":relu"
	}
	w := l.Node.Window
	switch l.Kind {
	case Dense:
		return fmt.Sprintf("dense%d%s", l.Out.C, act)
	case Conv:
		if !w.IsSquare() {
			return fmt.Sprintf("conv%d(%s)%s", l.Out.C, w.Geometry, act)
		}
		return fmt.Sprintf("conv%dk%ds%dp%d%s", l.Out.C, w.KH, w.SH, w.Top, act)
	case MaxPool, AvgPool:
		if w.Geometry != Square(w.KH, w.SH, 0) {
			return fmt.Sprintf("%s(%s)", l.Kind, w.Geometry)
		}
		return fmt.Sprintf("%s%ds%d", l.Kind, w.KH, w.SH)
	case GlobalAvgPool, Flatten:
		return string(l.Kind)
	case Residual:
		return l.residualString()
	case Norm:
		return fmt.Sprintf("norm(%s)", l.Node.Norm)
	case Affine:
		if l.ReLU {
			return "affine:relu"
		}
		return "affine"
	}
	return fmt.Sprintf("other(nodes %d-%d)", l.Nodes[0], l.Nodes[len(l.Nodes)-1])
}

func (l *Layer) residualString() string {
	end := "linear"
	if l.Module[len(l.Module)-1].ReLU {
		end = "relu"
	}
	m := l.Module[0]
	var head string
	if m.Kind == Dense {
		head = fmt.Sprintf("resdense%d", m.Out.C)
	} else {
		head = fmt.Sprintf("resconv%dk%d", m.Out.C, m.Node.Window.KH)
		if s := m.Node.Window.SH; s != 1 {
			head += fmt.Sprintf("s%d", s)
		}
	}
	s := fmt.Sprintf("%s:eta=%s:end=%s", head, FormatEta(l.Eta), end)
	if len(l.Shortcut) > 0 {
		s += ":shortcut=proj"
	}
	if l.PostReLU {
		s += ":post=relu"
	}
	return s
}

// Layers recognizes the graph's layers, in order. Every node after the
// input belongs to exactly one layer; parts of the graph that are no
// layer the theory knows become Other layers, so the result always covers
// the whole graph.
func (g *Graph) Layers() []Layer {
	r := recognizer{g: g, cons: g.Consumers()}
	var out []Layer
	cur, i := 0, 1
	for i < len(g.Nodes) {
		l := r.layerAt(cur, i)
		out = append(out, l)
		cur = l.Nodes[len(l.Nodes)-1]
		i = cur + 1
	}
	return out
}

// recognizer finds layers in a graph.
type recognizer struct {
	g    *Graph
	cons [][]int
}

// only reports whether node id is read by node next alone, through its
// first input.
func (r *recognizer) only(id, next int) bool {
	return next < len(r.g.Nodes) && len(r.cons[id]) == 1 && r.cons[id][0] == next &&
		len(r.g.Nodes[next].Inputs) == 1
}

// layerAt recognizes the layer that starts at node i and reads node cur.
func (r *recognizer) layerAt(cur, i int) Layer {
	if len(r.cons[cur]) > 1 {
		return r.block(cur, i)
	}
	return r.single(cur, i, i+1)
}

// single recognizes the layer of node i, which reads node cur; next is the
// node that may be its ReLU.
func (r *recognizer) single(cur, i, next int) Layer {
	n := &r.g.Nodes[i]
	l := Layer{Node: n, Nodes: []int{i}, In: n.In, Out: n.Out, Eta: 1}
	if len(n.Inputs) != 1 || n.Inputs[0] != cur {
		l.Kind = Other
		return l
	}
	switch n.Op {
	case OpDense:
		l.Kind = Dense
	case OpConv:
		l.Kind = Conv
	case OpAffine:
		l.Kind = Affine
	case OpMaxPool:
		l.Kind = MaxPool
	case OpAvgPool:
		l.Kind = AvgPool
	case OpGAP:
		l.Kind = GlobalAvgPool
	case OpFlatten:
		l.Kind = Flatten
	case OpNorm:
		l.Kind = Norm
	default:
		l.Kind = Other
	}
	if (l.HasWeights() || l.Kind == Affine) && next >= 0 && r.only(i, next) && r.g.Nodes[next].Op == OpReLU {
		l.ReLU = true
		l.Nodes = append(l.Nodes, next)
	}
	return l
}

// block recognizes a residual block forking at node cur: the nodes from i
// to the first node j after which only j's output leaves the block, which
// must be an add of two paths from cur, then a ReLU after it if one
// follows. Anything else is an Other layer over the same nodes.
func (r *recognizer) block(cur, i int) Layer {
	in := map[int]bool{cur: true}
	j := i
	for ; j < len(r.g.Nodes); j++ {
		for _, p := range r.g.Nodes[j].Inputs {
			if !in[p] {
				return r.other(i, j)
			}
		}
		in[j] = true
		if r.closed(in, j) {
			break
		}
	}
	if j == len(r.g.Nodes) {
		j--
	}
	add := &r.g.Nodes[j]
	l := Layer{Kind: Other, Node: add, Nodes: span(i, j), In: r.g.Nodes[cur].Out, Out: add.Out, Eta: 1}
	if add.Op != OpAdd {
		return l
	}
	a, okA := r.path(cur, add.Inputs[0])
	b, okB := r.path(cur, add.Inputs[1])
	if !okA || !okB || len(a)+len(b) != j-i {
		return l
	}
	// The branch is the path with the scale node, else the longer one.
	if scaled(r.g, b) || (!scaled(r.g, a) && len(b) > len(a)) {
		a, b = b, a
	}
	if scaled(r.g, a) {
		s := &r.g.Nodes[a[len(a)-1]]
		l.Eta, l.Block, l.Blocks = s.Eta, s.Block, s.Blocks
		a = a[:len(a)-1]
	}
	module, ok := r.chain(cur, a)
	if !ok || len(module) == 0 {
		return l
	}
	shortcut, ok := r.chain(cur, b)
	if !ok {
		return l
	}
	l.Kind, l.Module, l.Shortcut = Residual, module, shortcut
	if r.only(j, j+1) && r.g.Nodes[j+1].Op == OpReLU {
		l.PostReLU = true
		l.Nodes = append(l.Nodes, j+1)
		l.Out = r.g.Nodes[j+1].Out
	}
	return l
}

// closed reports whether, of the nodes in the set, only j is read outside it.
func (r *recognizer) closed(in map[int]bool, j int) bool {
	for id := range in {
		for _, c := range r.cons[id] {
			if !in[c] && id != j {
				return false
			}
		}
	}
	return len(r.cons[j]) == 0 || !in[r.cons[j][0]]
}

// other is an Other layer over nodes i..j.
func (r *recognizer) other(i, j int) Layer {
	n := &r.g.Nodes[i]
	return Layer{Kind: Other, Node: n, Nodes: span(i, j), In: n.In, Out: r.g.Nodes[j].Out, Eta: 1}
}

// path follows single-input nodes back from end to cur and returns them in
// order (none when end is cur); ok is false if the path meets a node with
// several inputs or one read by another node too.
func (r *recognizer) path(cur, end int) (ids []int, ok bool) {
	for id := end; id != cur; {
		n := &r.g.Nodes[id]
		if len(n.Inputs) != 1 || len(r.cons[id]) != 1 {
			return nil, false
		}
		ids = append(ids, id)
		id = n.Inputs[0]
	}
	for a, b := 0, len(ids)-1; a < b; a, b = a+1, b-1 {
		ids[a], ids[b] = ids[b], ids[a]
	}
	return ids, true
}

// chain recognizes a path from cur as weighted layers; ok is false if it
// holds anything else.
func (r *recognizer) chain(cur int, ids []int) (layers []Layer, ok bool) {
	for k := 0; k < len(ids); {
		next := -1
		if k+1 < len(ids) {
			next = ids[k+1]
		}
		l := r.single(cur, ids[k], next)
		if !l.HasWeights() {
			return nil, false
		}
		layers = append(layers, l)
		k += len(l.Nodes)
		cur = l.Nodes[len(l.Nodes)-1]
	}
	return layers, true
}

// scaled reports whether a path ends in a scale node.
func scaled(g *Graph, ids []int) bool { return len(ids) > 0 && g.Nodes[ids[len(ids)-1]].Op == OpScale }

// span lists the integers i..j.
func span(i, j int) []int {
	s := make([]int, 0, j-i+1)
	for k := i; k <= j; k++ {
		s = append(s, k)
	}
	return s
}

// Describe lists the layers, one per line, with their nodes: what a user
// reads to see how a front end's net was understood.
func (g *Graph) Describe() string {
	var b strings.Builder
	for i, l := range g.Layers() {
		fmt.Fprintf(&b, "%d\t%s\t%s -> %s\t", i+1, l.String(), l.In, l.Out)
		for k, id := range l.Nodes {
			if k > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%s:%s", g.Nodes[id].Name, g.Nodes[id].Op)
		}
		b.WriteString("\n")
	}
	return b.String()
}
