package nn

import (
	"fmt"
	"math"
	"slices"
	"unsafe"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/tensor"
)

// op computes one node of a graph (or a weighted node and the ReLU fused
// with it) over mini-batches. It owns the buffers it returns and reuses
// them from one step to the next.
type op[T tensor.Float] interface {
	// forward computes the output for batch samples from in, the outputs
	// of the node's inputs. It may keep them for backward, so they must
	// not change until backward has returned.
	forward(in [][]T, batch int) []T
	// backward takes dy, the gradient of the loss with respect to the last
	// forward's output, adds the parameters' gradients to their Grad (see
	// [Param.ZeroGrad]) and, if dx is not nil, sets dx[i] to the gradient
	// with respect to input i. It may return dy itself as an input
	// gradient; it writes to dy only if overwrites says so.
	backward(dy []T, dx [][]T)
	// overwrites reports whether backward may write to dy.
	overwrites() bool
	// params lists the op's parameters, nil if it has none.
	params() []*Param[T]
}

// Model runs a network graph on mini-batches: Forward runs the nodes in
// the graph's (topological) order, Backward runs them in reverse,
// accumulating the gradient of a node that several nodes read (the fork
// of a residual block). A dense or conv node whose only reader is a ReLU
// runs fused with it: the rectification happens in the pass that adds the
// bias, and the ReLU node costs nothing; likewise a scale node that only
// an add reads is applied in the add's pass.
//
// A model is not safe for concurrent use; its Forward and Backward use up
// to Threads goroutines.
type Model[T tensor.Float] struct {
	graph     *arch.Graph
	threads   int
	steps     []step[T]
	params    []*Param[T]
	trainable []bool    // per node: a parameter lies at or before it
	out       [][]T     // per node, its output in the last Forward
	grad      []slot[T] // per node, its output gradient during Backward
	batch     int       // of the last Forward
	sum       axpyTask[T]
}

// step is one op as the model runs it.
type step[T tensor.Float] struct {
	// node is the ID of the node whose output the op computes: the ReLU's
	// for a fused pair.
	node   int
	inputs []int
	op     op[T]
	// in and dx hold the inputs' activations and gradients of one call.
	in, dx [][]T
}

// slot is the gradient of one node's output during Backward.
type slot[T tensor.Float] struct {
	g []T
	// shared says g is also another node's gradient (an add hands its
	// gradient to both of its inputs), so adding to it or overwriting it
	// would corrupt the other.
	shared bool
	// own is the node's buffer for a gradient it must not share.
	own []T
}

// NewModel returns a model of the graph with all weights and biases, and
// the affine nodes' scales and shifts, zero, whose passes use up to
// threads goroutines (threads < 1 counts as 1). It fails, naming the node,
// if a node is one the executor does not support (normalizations other
// than batch normalization) or is inconsistent with its inputs.
func NewModel[T tensor.Float](g *arch.Graph, threads int) (*Model[T], error) {
	if g == nil || len(g.Nodes) < 2 {
		return nil, fmt.Errorf("nn: the graph has no node after the input")
	}
	if err := checkGraph(g); err != nil {
		return nil, err
	}
	m := &Model[T]{
		graph: g, threads: max(threads, 1),
		trainable: make([]bool, len(g.Nodes)),
		out:       make([][]T, len(g.Nodes)),
		grad:      make([]slot[T], len(g.Nodes)),
	}
	readers := g.Consumers()
	fused := make([]bool, len(g.Nodes)) // ReLU nodes run by their weighted node's op
	for id := 1; id < len(g.Nodes); id++ {
		n := &g.Nodes[id]
		for _, in := range n.Inputs {
			m.trainable[id] = m.trainable[id] || m.trainable[in]
		}
		m.trainable[id] = m.trainable[id] || n.Params() > 0
		if fused[id] || n.Op == arch.OpScale && absorbed(g, readers, id) {
			continue
		}
		st := step[T]{node: id, inputs: n.Inputs}
		f := fusion{scaled: 1, eta: 1}
		switch {
		case n.HasWeights() && len(readers[id]) == 1 && g.Nodes[readers[id][0]].Op == arch.OpReLU:
			// The ReLU reads this node only: run the pair as one op, whose
			// output is the ReLU's.
			f.relu = true
			st.node = readers[id][0]
			fused[st.node] = true
		case n.Op == arch.OpAdd:
			if k := scaledInput(g, readers, id); k >= 0 {
				// Read the scale node's input, and scale it here.
				s := &g.Nodes[n.Inputs[k]]
				st.inputs = slices.Clone(n.Inputs)
				st.inputs[k] = s.Inputs[0]
				f.scaled, f.eta = k, s.Eta
			}
		}
		op, err := newOp[T](n, f, m.threads)
		if err != nil {
			return nil, fmt.Errorf("nn: node %q (%s): %w", n.Name, n.Op, err)
		}
		st.op = op
		st.in, st.dx = make([][]T, len(n.Inputs)), make([][]T, len(n.Inputs))
		m.steps = append(m.steps, st)
		m.params = append(m.params, op.params()...)
	}
	return m, nil
}

// scaledInput returns which input (0 or 1) of add node a is a scale node
// that a alone reads, whose factor the add's op then applies itself (the
// scale node costs nothing): the second if both are, -1 if neither.
func scaledInput(g *arch.Graph, readers [][]int, a int) int {
	for k := 1; k >= 0; k-- {
		if in := g.Nodes[a].Inputs[k]; g.Nodes[in].Op == arch.OpScale && len(readers[in]) == 1 {
			return k
		}
	}
	return -1
}

// absorbed reports whether scale node s runs inside the add that reads
// it (see scaledInput).
func absorbed(g *arch.Graph, readers [][]int, s int) bool {
	r := readers[s]
	if len(r) != 1 || g.Nodes[r[0]].Op != arch.OpAdd {
		return false
	}
	k := scaledInput(g, readers, r[0])
	return k >= 0 && g.Nodes[r[0]].Inputs[k] == s
}

// fusion is what an op absorbs of the nodes around it.
type fusion struct {
	// relu says a dense or conv op rectifies its output for the ReLU node
	// that alone reads it.
	relu bool
	// An add op multiplies its input scaled by eta, for the scale node
	// that it alone reads (1 and 1 when there is none).
	scaled int
	eta    float64
}

// newOp returns the op of node n, with the fusion f.
func newOp[T tensor.Float](n *arch.Node, f fusion, threads int) (op[T], error) {
	switch n.Op {
	case arch.OpDense:
		return newDense[T](n, f.relu, threads), nil
	case arch.OpConv:
		return newConv[T](n, f.relu, threads)
	case arch.OpMaxPool, arch.OpAvgPool:
		return newPool[T](n, threads), nil
	case arch.OpAffine:
		return newAffine[T](n, threads), nil
	case arch.OpGAP:
		return &gap[T]{in: n.In, threads: threads}, nil
	case arch.OpFlatten:
		return flatten[T]{}, nil
	case arch.OpReLU:
		return &rectifier[T]{threads: threads}, nil
	case arch.OpScale:
		return &scale[T]{eta: T(n.Eta), threads: threads}, nil
	case arch.OpAdd:
		return &add[T]{scaled: f.scaled, eta: T(f.eta), threads: threads}, nil
	case arch.OpNorm:
		if n.Norm == arch.NormBatch {
			return newBatchNorm[T](n, threads), nil
		}
		return nil, fmt.Errorf("%s normalization is not supported: the executor runs %s only", n.Norm, arch.NormBatch)
	}
	return nil, unsupported(n.Op)
}

// unsupported is the error of an operation the executor does not know.
func unsupported(op arch.Op) error { return fmt.Errorf("operation %q is not supported", op) }

// checkGraph checks what the executor relies on in a graph that may have
// been assembled by hand rather than by arch.Builder: the input node first,
// each node's inputs before it and of the shapes it expects, its output
// shape the one its op computes, and every node but the last read by
// another.
func checkGraph(g *arch.Graph) error {
	if in := &g.Nodes[0]; in.Op != arch.OpInput || len(in.Inputs) != 0 || in.Out.C < 1 || in.Out.H < 1 || in.Out.W < 1 {
		return fmt.Errorf("nn: node 0 must be the input, with a shape of sizes >= 1; it is %s", in)
	}
	readers := g.Consumers()
	for id := 1; id < len(g.Nodes); id++ {
		n := &g.Nodes[id]
		if err := checkNode(g, id); err != nil {
			return fmt.Errorf("nn: node %q (%s): %w", n.Name, n.Op, err)
		}
		if id < len(g.Nodes)-1 && len(readers[id]) == 0 {
			return fmt.Errorf("nn: node %q (%s): its output is never used; only the last node may be an output", n.Name, n.Op)
		}
	}
	return nil
}

// checkNode checks node id's inputs and shapes.
func checkNode(g *arch.Graph, id int) error {
	n := &g.Nodes[id]
	want := 1
	if n.Op == arch.OpAdd {
		want = 2
	}
	if len(n.Inputs) != want {
		return fmt.Errorf("%d inputs, want %d", len(n.Inputs), want)
	}
	for _, in := range n.Inputs {
		if in < 0 || in >= id {
			return fmt.Errorf("input %d is not an earlier node", in)
		}
		if g.Nodes[in].Out != n.In {
			return fmt.Errorf("input %d has shape %s, the node expects %s", in, g.Nodes[in].Out, n.In)
		}
	}
	out := n.In
	switch n.Op {
	case arch.OpDense:
		out = arch.Flat(n.Out.C)
	case arch.OpConv, arch.OpMaxPool, arch.OpAvgPool:
		w, err := checkWindow(n)
		if err != nil {
			return err
		}
		out = w.Out
	case arch.OpGAP:
		out = arch.Flat(n.In.C)
	case arch.OpFlatten:
		out = arch.Flat(n.In.Size())
	case arch.OpScale:
		if math.IsNaN(n.Eta) || math.IsInf(n.Eta, 0) {
			return fmt.Errorf("eta %v: must be finite", n.Eta)
		}
	case arch.OpReLU, arch.OpAdd, arch.OpNorm, arch.OpAffine:
	default:
		return unsupported(n.Op)
	}
	if n.Out != out || out.Size() < 1 {
		return fmt.Errorf("output shape %s, but its op computes %s", n.Out, out)
	}
	return nil
}

// checkWindow checks the window of conv or pooling node n against its
// geometry, and returns the window that geometry gives: for pooling, one
// group, the channels kept, and no window that holds only padding.
func checkWindow(n *arch.Node) (arch.Window, error) {
	w, err := arch.NewWindow(n.In, n.Out.C, n.Window.Geometry)
	switch {
	case err != nil:
		return w, err
	case n.Window.In != w.In || n.Window.Out != w.Out || !slices.Equal(n.Window.Rows, w.Rows) || !slices.Equal(n.Window.Cols, w.Cols):
		return w, fmt.Errorf("its window is not the geometry of its kernel, strides, dilations and padding")
	case n.Op == arch.OpConv:
		return w, nil
	case w.Groups != 1 || w.Out.C != w.In.C:
		return w, fmt.Errorf("window %s: pooling has one group and keeps the %d channels, not %d", w.Geometry, w.In.C, w.Out.C)
	}
	for _, axis := range []struct {
		name      string
		valid     [][2]int
		positions int
	}{{"row", w.Rows, w.Out.H}, {"column", w.Cols, w.Out.W}} {
		if o := slices.Index(tapCounts(axis.valid, axis.positions), 0); o >= 0 {
			return w, fmt.Errorf("window %s over %s: the windows of output %s %d lie in the padding only; use less padding", w.Geometry, w.In, axis.name, o)
		}
	}
	return w, nil
}

// Graph returns the graph the model runs.
func (m *Model[T]) Graph() *arch.Graph { return m.graph }

// Threads is the most goroutines a pass of the model uses.
func (m *Model[T]) Threads() int { return m.threads }

// Params returns the parameters in node order: for each dense or conv node
// of the graph, in the order of Graph().Nodes, its weight then its bias;
// for each affine node, its scale then its shift.
// For the graphs arch builds from a spec, that is layer by layer from the
// input, and inside a residual block the branch's layers before the
// projection shortcut.
func (m *Model[T]) Params() []*Param[T] { return m.params }

// ZeroGrad zeroes the gradients of all parameters (lazily, see
// [Param.ZeroGrad]).
func (m *Model[T]) ZeroGrad() {
	for _, p := range m.params {
		p.ZeroGrad()
	}
}

// Forward runs the graph on batch samples, laid out one after the other,
// and returns the output node's values, in a buffer the model owns, valid
// until its next Forward. The model keeps x for Backward: it must not
// change until then. Forward panics if len(x) is not batch times the input
// size.
func (m *Model[T]) Forward(x []T, batch int) []T {
	if in := m.graph.Input(); batch < 1 || len(x) != batch*in.Size() {
		panic(fmt.Sprintf("nn: Forward of %d values as %d samples of shape %v", len(x), batch, in))
	}
	m.out[0], m.batch = x, batch
	for s := range m.steps {
		st := &m.steps[s]
		for i, in := range st.inputs {
			st.in[i] = m.out[in]
		}
		m.out[st.node] = st.op.forward(st.in, batch)
	}
	return m.out[len(m.out)-1]
}

// NodeOutput returns the values node id of the graph computed in the last
// Forward (the input itself for node 0), batch samples one after the
// other, in a buffer the model owns, valid until its next Forward. It is
// nil before the first Forward and for a node the model runs fused with
// its reader: a dense or conv node whose only reader is a ReLU (read the
// ReLU's output) and a scale node its add applies. It panics if id is not
// a node of the graph.
func (m *Model[T]) NodeOutput(id int) []T { return m.out[id] }

// Backward runs the graph backwards from dy, the gradient with respect to
// the last Forward's output, and adds the parameters' gradients to their
// Grad. It may overwrite dy. It computes, and returns, the gradient with
// respect to the input only if needInput is set (otherwise nil), in a
// buffer valid until the next Backward. It panics if there was no Forward
// or len(dy) is not the size of its output.
func (m *Model[T]) Backward(dy []T, needInput bool) []T {
	if out := m.graph.Output(); m.batch == 0 || len(dy) != m.batch*out.Size() {
		panic(fmt.Sprintf("nn: Backward of %d values after a Forward of %d samples of shape %v", len(dy), m.batch, out))
	}
	for i := range m.grad {
		m.grad[i].g, m.grad[i].shared = nil, false
	}
	m.grad[len(m.grad)-1].g = dy
	wanted := func(node int) bool { return needInput || m.trainable[node] }
	for s := len(m.steps) - 1; s >= 0; s-- {
		st := &m.steps[s]
		if !wanted(st.node) {
			continue
		}
		sl := &m.grad[st.node]
		if sl.shared && st.op.overwrites() {
			sl.own = grow(sl.own, len(sl.g))
			copy(sl.own, sl.g)
			sl.g, sl.shared = sl.own, false
		}
		var dx [][]T
		for _, in := range st.inputs {
			if wanted(in) {
				dx = st.dx
				clear(dx)
			}
		}
		st.op.backward(sl.g, dx)
		for i, in := range st.inputs {
			if dx == nil || !wanted(in) {
				continue
			}
			shared := sl.shared && same(dx[i], sl.g)
			for j := range dx {
				shared = shared || j != i && same(dx[i], dx[j])
			}
			m.accumulate(in, dx[i], shared)
		}
	}
	if !needInput {
		return nil
	}
	return m.grad[0].g
}

// same reports whether two gradients are the same buffer.
func same[T any](a, b []T) bool { return unsafe.SliceData(a) == unsafe.SliceData(b) }

// accumulate adds g, a gradient of node's output, to the node's slot.
func (m *Model[T]) accumulate(node int, g []T, shared bool) {
	sl := &m.grad[node]
	switch {
	case sl.g == nil:
		sl.g, sl.shared = g, shared
		return
	case sl.shared:
		// Sum into the node's own buffer, leaving the shared one alone.
		sl.own = grow(sl.own, len(g))
		m.sum = axpyTask[T]{dst: sl.own, x: sl.g, a: 1, y: g}
		sl.g, sl.shared = sl.own, false
	default:
		m.sum = axpyTask[T]{dst: sl.g, x: sl.g, a: 1, y: g}
	}
	tensor.Parallel(m.threads, len(g), elemGrain, &m.sum)
}

// axpyTask computes dst = x + a·y elementwise, or dst = a·y if x is nil.
type axpyTask[T tensor.Float] struct {
	dst, x, y []T
	a         T
}

func (t *axpyTask[T]) Range(lo, hi int) {
	var x []T
	if t.x != nil {
		x = t.x[lo:hi]
	}
	axpy(t.dst[lo:hi], x, t.y[lo:hi], t.a)
}
