package probe

import (
	"fmt"
	"math"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/tensor"
	"github.com/initscope/initscope/weightinit"
)

// The network sampler draws a real network per sample, in float32, and runs
// its graph node by node on the pair [x, u]: x the fixed input, u a random
// unit tangent. A dense node computes W [x u] as one product of two
// columns, a conv node as two products with the unfolded images; a ReLU
// masks both halves with x's pattern and max pooling routes u through x's
// choices, so u ends as J u, the input-output Jacobian applied to u.
//
// A pair buffer holds x in its first half and u in its second. Each half's
// stored root mean square is kept within [2^-32, 2^32] and its true scale
// carried separately as a float64 logarithm (scales), so lengths that
// explode or vanish over many layers never overflow float32 and log(M_j) is
// exact to float32 rounding. This is legitimate because every node is
// positively homogeneous in x once the bias is scaled along (see addBias)
// and linear in u. For the same reason weights and biases are drawn at unit
// scale (their law at nominal variance 1) and their standard deviation is
// carried as a logarithm too, so that a law whose standard deviation lies
// outside float32's range (normal:1e-90, normal:1e90) is sampled as
// exactly as any other.
//
// Node outputs live in slots, pair buffers reused once their last reader
// has run. A scale or flatten node writes nothing: its output is its
// input's slot read with another log factor (ln eta for a scale). A ReLU
// or an add whose input's slot has no other reader left writes in place.

// scales are the natural logarithms of the factors by which the stored
// halves of a pair buffer must be multiplied to give the true x and u.
// -Inf stands for an all-zero half.
type scales struct{ x, u float64 }

// blockFloats bounds the number of weights drawn at once for a dense node,
// so that a block of rows stays in the core's cache between its generation
// and its product.
const blockFloats = 1 << 15

// gemmThreads is the number of goroutines each worker's products may use:
// one, since the workers already keep every core busy.
const gemmThreads = 1

// step is one node of the graph as the network sampler runs it.
type step struct {
	*arch.Node
	// slot holds the node's output; its true values are the slot's, times
	// e^logEta (the product of the etas of the scale nodes it reads through).
	slot   int
	logEta float64
	// measure says the node's output is measured: it ends a layer (whose
	// row entry it gives, layer >= 0), or a node other than a ReLU reads it
	// and so needs it within the stored range.
	measure bool
	layer   int
	// The laws of a dense or conv node at unit scale, the logs of the
	// factors that give their true values (the laws' nominal standard
	// deviations), and the weight rows a dense node draws at once.
	weights   weightinit.Sampler
	bias      weightinit.Sampler
	hasBias   bool
	logWeight float64
	logBias   float64
	rows      int
}

// netPlan is a graph with its laws resolved, its slots assigned, and the
// buffer sizes one worker needs.
type netPlan struct {
	steps               []step
	slotFloats          []int     // the size of each slot
	input               []float32 // the input at unit root mean square
	inputScale          float64   // log of the input's root mean square
	maxWeights, maxBias int
	maxCols             int
}

// newNetPlan resolves the laws of every node of g, assigns the slots and
// scales the input x to unit root mean square. layers are g's layers,
// whose last nodes give the rows. It fails, naming the node, on a node the
// sampler cannot run.
func newNetPlan(g *arch.Graph, layers []arch.Layer, init weightinit.Init, x []float64) (*netPlan, error) {
	p := &netPlan{steps: make([]step, len(g.Nodes))}
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	rms := math.Sqrt(ss / float64(len(x)))
	p.inputScale = math.Log(rms)
	p.input = make([]float32, len(x))
	for i, v := range x {
		p.input[i] = float32(v / rms)
	}
	for i := range g.Nodes {
		p.steps[i] = step{Node: &g.Nodes[i], layer: -1}
	}
	for j, l := range layers {
		p.steps[l.Nodes[len(l.Nodes)-1]].layer = j
	}
	cons := g.Consumers()
	a := slotAllocator{plan: p}
	p.steps[0].slot = a.get(2*g.Input().Size(), len(cons[0]))
	for i := 1; i < len(g.Nodes); i++ {
		st := &p.steps[i]
		if err := checkNode(g, st); err != nil {
			return nil, err
		}
		a.assign(st, len(cons[i]))
		st.measure = st.layer >= 0
		if st.Op != arch.OpScale && st.Op != arch.OpFlatten {
			for _, c := range cons[i] {
				st.measure = st.measure || g.Nodes[c].Op != arch.OpReLU
			}
		}
		if st.HasWeights() {
			p.resolve(st, init)
		}
	}
	return p, nil
}

// checkNode returns an error naming node st of g if the sampler cannot run
// it: an op it does not know, or inputs that do not match the node.
func checkNode(g *arch.Graph, st *step) error {
	want := 1
	switch st.Op {
	case arch.OpDense, arch.OpConv, arch.OpReLU, arch.OpScale, arch.OpMaxPool, arch.OpAvgPool, arch.OpGAP, arch.OpFlatten:
	case arch.OpAdd:
		want = 2
	case arch.OpNorm:
		return fmt.Errorf("node %q (norm %s): normalization is not supported by the Monte Carlo yet", st.Name, st.Norm)
	case arch.OpAffine:
		return fmt.Errorf("node %q (affine): per-channel affine maps are not supported by the Monte Carlo yet", st.Name)
	default:
		return fmt.Errorf("node %q (%s): the Monte Carlo cannot run this op", st.Name, st.Op)
	}
	if (st.Op == arch.OpConv || st.Op == arch.OpMaxPool || st.Op == arch.OpAvgPool) && !st.Window.IsSquare() {
		return fmt.Errorf("node %q (%s): window %s: only square windows with equal padding, no dilation and one group are supported", st.Name, st.Op, st.Window.Geometry)
	}
	if len(st.Inputs) != want {
		return fmt.Errorf("node %q (%s): %d inputs, want %d", st.Name, st.Op, len(st.Inputs), want)
	}
	for _, in := range st.Inputs {
		if in < 0 || in >= st.ID || g.Nodes[in].Out.Size() != st.In.Size() {
			return fmt.Errorf("node %q (%s): input %d is not an earlier node of shape %s", st.Name, st.Op, in, st.In)
		}
	}
	return nil
}

// resolve builds a weighted node's unit-scale samplers and records the
// buffers it needs.
func (p *netPlan) resolve(st *step, init weightinit.Init) {
	fi, fo := st.FanIn(), st.FanOut()
	st.weights, st.logWeight = init.Weight.Family.NewSampler(1), logSD(init.Weight.Rule, fi, fo)
	if !init.Bias.IsZero() {
		st.bias, st.logBias = init.Bias.Family.NewSampler(1), logSD(init.Bias.Rule, fi, fo)
		st.hasBias = true
	}
	if st.Op == arch.OpDense {
		st.rows = min(st.Width(), max(1, blockFloats/fi))
		p.maxWeights = max(p.maxWeights, st.rows*fi)
	} else {
		p.maxWeights = max(p.maxWeights, st.Width()*fi)
		p.maxCols = max(p.maxCols, fi*st.Out.H*st.Out.W)
	}
	p.maxBias = max(p.maxBias, st.Width())
}

// logSD returns the logarithm of the nominal standard deviation of a rule
// at these fans, the factor between a law's draws at variance 1 and at the
// rule's variance: finite for every finite C > 0, even where the variance
// itself overflows float64 (C near its limit over fan_avg).
func logSD(r weightinit.Rule, fanIn, fanOut int) float64 {
	if v := r.Variance(fanIn, fanOut); !math.IsInf(v, 1) {
		return 0.5 * math.Log(v)
	}
	quarter := weightinit.Rule{C: r.C / 4, Fan: r.Fan}
	return 0.5 * (math.Log(quarter.Variance(fanIn, fanOut)) + math.Log(4))
}

// slotAllocator assigns the slots of a plan, node by node, counting the
// reads still pending on each slot.
type slotAllocator struct {
	plan *netPlan
	refs []int // reads pending on each slot
	free []int // slots with none, last freed first
}

// get returns a slot for a pair buffer of n floats with the given number
// of pending reads.
func (a *slotAllocator) get(n, reads int) int {
	p := a.plan
	var s int
	if k := len(a.free); k > 0 {
		s, a.free = a.free[k-1], a.free[:k-1]
	} else {
		s = len(p.slotFloats)
		p.slotFloats = append(p.slotFloats, 0)
		a.refs = append(a.refs, 0)
	}
	p.slotFloats[s] = max(p.slotFloats[s], n)
	a.refs[s] = reads
	return s
}

// read counts one read of slot s done, freeing s after its last.
func (a *slotAllocator) read(s int) {
	if a.refs[s]--; a.refs[s] == 0 {
		a.free = append(a.free, s)
	}
}

// assign chooses the slot of node st, whose output has the given number of
// readers: its input's for a scale or flatten node, and for a ReLU or an
// add whose input's slot has no other reader left; otherwise a free one,
// taken before the inputs' reads are counted, so that a node never writes
// over what it reads unless it works in place.
func (a *slotAllocator) assign(st *step, readers int) {
	steps := a.plan.steps
	in := &steps[st.Inputs[0]]
	switch st.Op {
	case arch.OpScale, arch.OpFlatten:
		st.slot, st.logEta = in.slot, in.logEta
		if st.Op == arch.OpScale {
			st.logEta += math.Log(st.Eta)
		}
		a.refs[st.slot] += readers - 1
		return
	case arch.OpReLU:
		st.logEta = in.logEta
		if a.refs[in.slot] == 1 {
			st.slot, a.refs[in.slot] = in.slot, readers
			return
		}
	case arch.OpAdd:
		sa, sb := in.slot, steps[st.Inputs[1]].slot
		switch {
		case sa == sb && a.refs[sa] == 2, sa != sb && a.refs[sa] == 1:
			a.read(sb)
			st.slot, a.refs[sa] = sa, readers
			return
		case sa != sb && a.refs[sb] == 1:
			a.read(sa)
			st.slot, a.refs[sb] = sb, readers
			return
		}
	}
	st.slot = a.get(2*st.Out.Size(), readers)
	for _, id := range st.Inputs {
		a.read(steps[id].slot)
	}
}

// workFloats is the number of float32 values one worker allocates.
func (p *netPlan) workFloats() int {
	n := p.maxWeights + p.maxBias + p.maxCols
	for _, s := range p.slotFloats {
		n += s
	}
	return n
}

// netWorker runs the network sampler for one goroutine: its buffers are
// reused from sample to sample.
type netWorker struct {
	plan    *netPlan
	stream  weightinit.Stream
	slots   [][]float32 // the pair buffers
	scale   []scales    // each slot's log factors
	weights []float32
	bias    []float32
	cols    []float32
	// trace, if not nil, is called after each node has run with its output
	// and log factors (tests compare every node with a reference).
	trace func(id int, v []float32, s scales)
}

// newNetWorker allocates one goroutine's buffers for plan p.
func newNetWorker(p *netPlan) *netWorker {
	w := &netWorker{
		plan:    p,
		scale:   make([]scales, len(p.slotFloats)),
		weights: make([]float32, p.maxWeights),
		bias:    make([]float32, p.maxBias),
		cols:    make([]float32, p.maxCols),
	}
	for _, n := range p.slotFloats {
		w.slots = append(w.slots, make([]float32, n))
	}
	return w
}

// sample draws network index of the stream seed and writes its row:
// log(M_j/M_0) for every layer, then log(||J u||^2/||u||^2) for a unit u
// drawn uniformly on the sphere. The stream gives the n0 normal draws of u
// first, then each weighted node's weights (row-major, as PyTorch lays them
// out) and biases, in node order.
func (w *netWorker) sample(seed, index uint64, row []float64) {
	w.stream.Seed(seed, index)
	p := w.plan
	n0 := len(p.input)
	in := w.output(&p.steps[0])
	copy(in, p.input)
	tan := in[n0:]
	for i := range tan {
		tan[i] = float32(w.stream.Normal())
	}
	// Scale the drawn tangent to a unit vector: e^(2 s.u) ||tan||^2 = 1.
	su, ms := measure(tan, 0)
	w.scale[p.steps[0].slot] = scales{x: p.inputScale, u: su - 0.5*(ms+math.Log(float64(n0)))}
	if w.trace != nil {
		w.trace(0, in, w.scale[p.steps[0].slot])
	}
	var m scales
	for i := 1; i < len(p.steps); i++ {
		st := &p.steps[i]
		w.exec(st)
		if st.measure {
			s, v := &w.scale[st.slot], w.output(st)
			n := len(v) / 2
			s.x, m.x = measure(v[:n], s.x)
			s.u, m.u = measure(v[n:], s.u)
			if st.layer >= 0 {
				row[st.layer] = m.x + 2*st.logEta - 2*p.inputScale
			}
		}
		if w.trace != nil {
			v, s := w.value(i)
			w.trace(i, v, s)
		}
	}
	last := &p.steps[len(p.steps)-1]
	row[len(row)-1] = m.u + 2*last.logEta + math.Log(float64(last.Out.Size()))
}

// output returns the pair buffer that node st writes.
func (w *netWorker) output(st *step) []float32 {
	return w.slots[st.slot][:2*st.Out.Size()]
}

// value returns the output pair buffer of node id and its log factors.
func (w *netWorker) value(id int) ([]float32, scales) {
	st := &w.plan.steps[id]
	s := w.scale[st.slot]
	return w.output(st), scales{s.x + st.logEta, s.u + st.logEta}
}

// exec runs node st, setting its slot's log factors.
func (w *netWorker) exec(st *step) {
	in, s := w.value(st.Inputs[0])
	out := w.output(st)
	switch st.Op {
	case arch.OpDense:
		w.dense(st, in, out, s)
	case arch.OpConv:
		w.conv(st, in, out, s)
	case arch.OpReLU:
		if src := w.plan.steps[st.Inputs[0]].slot; src != st.slot {
			copy(out, in)
			w.scale[st.slot] = w.scale[src]
		}
		n := len(out) / 2
		relu(out[:n], out[n:])
	case arch.OpAdd:
		b, sb := w.value(st.Inputs[1])
		n := len(out) / 2
		w.scale[st.slot] = scales{
			x: addScaled(out[:n], in[:n], s.x, b[:n], sb.x),
			u: addScaled(out[n:], in[n:], s.u, b[n:], sb.u),
		}
	case arch.OpMaxPool, arch.OpAvgPool:
		pool(st.Node, in, out)
		w.scale[st.slot] = s
	case arch.OpGAP:
		globalAvgPool(st.In, in, out)
		w.scale[st.slot] = s
	}
}

// dense computes W [x u] a block of weight rows at a time, so that each
// block is multiplied while it is still in cache, then adds the bias. s
// are the log factors of the input.
func (w *netWorker) dense(st *step, in, out []float32, s scales) {
	nin, nout := st.In.Size(), st.Out.Size()
	for r0 := 0; r0 < nout; r0 += st.rows {
		r := min(st.rows, nout-r0)
		blk := w.weights[:r*nin]
		st.weights.Fill(&w.stream, blk)
		tensor.Sgemm(gemmThreads, false, true, 2, r, nin, 1, in, nin, blk, nin, 0, out[r0:], nout)
	}
	w.finish(st, out, 1, s)
}

// conv computes the convolution of x and of u as two products of the
// Cout x (Cin k k) kernel matrix with their unfolded images, then adds the
// bias.
func (w *netWorker) conv(st *step, in, out []float32, s scales) {
	win := &st.Window
	k, p, c := win.Taps(), win.Out.H*win.Out.W, win.Out.C
	kernel := w.weights[:c*k]
	st.weights.Fill(&w.stream, kernel)
	nin, nout := win.In.Size(), win.Out.Size()
	cols := w.cols[:k*p]
	for h := range 2 {
		arch.Unfold(win, cols, in[h*nin:(h+1)*nin], 1)
		tensor.Sgemm(gemmThreads, false, false, c, p, k, 1, kernel, k, cols, p, 0, out[h*nout:(h+1)*nout], p)
	}
	w.finish(st, out, p, s)
}

// finish carries the weights' scale into the log factors s of the input,
// draws and adds the bias to x, one value per unit or channel repeated
// over the positions of a channel, and sets the log factors of st's slot.
func (w *netWorker) finish(st *step, out []float32, positions int, s scales) {
	s.x += st.logWeight
	s.u += st.logWeight
	if st.hasBias {
		b := w.bias[:st.Width()]
		st.bias.Fill(&w.stream, b)
		s.x = addBias(out[:len(out)/2], s.x, b, st.logBias, positions)
	}
	w.scale[st.slot] = s
}
