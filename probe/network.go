package probe

import (
	"math"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/tensor"
	"github.com/initscope/initscope/weightinit"
)

// The network sampler draws a real network per sample, in float32, and
// pushes the pair [x, u] through it: x the fixed input, u a random unit
// tangent. Every layer computes W [x u] as one product of two columns (two
// products for a convolution, one per im2col matrix), masks both columns
// with x's ReLU pattern and routes u through x's max-pooling choices, so u
// ends as J u, the input-output Jacobian applied to u.
//
// A pair buffer holds x in its first half and u in its second. Each half's
// stored root mean square is kept within [2^-32, 2^32] and its true scale
// carried separately as a float64 logarithm (scales), so lengths that
// explode or vanish over many layers never overflow float32 and log(M_j) is
// exact to float32 rounding. This is legitimate because every layer is
// positively homogeneous in x once the bias is scaled along (see addBias)
// and linear in u.

// scales are the natural logarithms of the factors by which the stored
// halves of a pair buffer must be multiplied to give the true x and u.
// -Inf stands for an all-zero half.
type scales struct{ x, u float64 }

// netLayer is one layer of the network sampler, with its laws resolved.
type netLayer struct {
	arch.Layer
	weights weightinit.Sampler
	bias    weightinit.Sampler
	hasBias bool
	logBias float64    // log of the bias's standard deviation
	module  []netLayer // a residual block's module
}

// blockFloats bounds the number of weights drawn at once for a dense layer,
// so that a block of rows stays in the core's cache between its generation
// and its product.
const blockFloats = 1 << 15

// netPlan is a net with its laws resolved and the buffer sizes one worker needs.
type netPlan struct {
	layers              []netLayer
	input               []float32 // the input at unit root mean square
	inputScale          float64   // log of the input's root mean square
	maxAct, maxMod      int       // largest activation at the top level and inside modules
	maxWeights, maxBias int
	maxCols             int
	outSize             int
}

// newNetPlan resolves the laws of every layer of net and scales the input
// x to unit root mean square.
func newNetPlan(net *arch.Net, init weightinit.Init, x []float64) *netPlan {
	p := &netPlan{maxAct: net.Input.Size()}
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
	for _, l := range net.Layers {
		nl := p.resolve(l, init)
		for _, m := range l.Module {
			nl.module = append(nl.module, p.resolve(m, init))
			p.maxMod = max(p.maxMod, m.Out.Size())
		}
		p.layers = append(p.layers, nl)
		p.maxAct = max(p.maxAct, l.Out.Size())
	}
	p.outSize = net.Output().Size()
	return p
}

// resolve builds one layer's fillers and records the buffers it needs.
func (p *netPlan) resolve(l arch.Layer, init weightinit.Init) netLayer {
	nl := netLayer{Layer: l}
	if !l.HasWeights() {
		return nl
	}
	fi, fo := l.FanIn(), l.FanOut()
	nl.weights = init.Weight.Sampler(fi, fo)
	if !init.Bias.IsZero() {
		nl.bias = init.Bias.Sampler(fi, fo)
		nl.hasBias = true
		nl.logBias = 0.5 * math.Log(init.Bias.Variance(fi, fo))
	}
	switch l.Kind {
	case arch.Dense:
		p.maxWeights = max(p.maxWeights, denseBlockRows(l)*fi)
	case arch.Conv:
		p.maxWeights = max(p.maxWeights, l.Channels*fi)
		p.maxCols = max(p.maxCols, fi*l.Out.H*l.Out.W)
	}
	p.maxBias = max(p.maxBias, l.Width())
	return nl
}

// denseBlockRows is the number of weight rows a dense layer draws at once.
func denseBlockRows(l arch.Layer) int {
	return min(l.Units, max(1, blockFloats/l.FanIn()))
}

// workFloats is the number of float32 values one worker allocates.
func (p *netPlan) workFloats() int {
	return 4*p.maxAct + 4*p.maxMod + p.maxWeights + p.maxBias + p.maxCols
}

// netWorker runs the network sampler for one goroutine: its buffers are
// reused from sample to sample.
type netWorker struct {
	plan      *netPlan
	pcg       pcg
	cur, next []float32 // pair buffers of the top-level layers
	m1, m2    []float32 // pair buffers inside a residual module
	weights   []float32
	bias      []float32
	cols      []float32
}

// newNetWorker allocates one goroutine's buffers for plan p.
func newNetWorker(p *netPlan) *netWorker {
	return &netWorker{
		plan:    p,
		cur:     make([]float32, 2*p.maxAct),
		next:    make([]float32, 2*p.maxAct),
		m1:      make([]float32, 2*p.maxMod),
		m2:      make([]float32, 2*p.maxMod),
		weights: make([]float32, p.maxWeights),
		bias:    make([]float32, p.maxBias),
		cols:    make([]float32, p.maxCols),
	}
}

// sample draws network index of the stream seed and writes its row:
// log(M_j/M_0) for every layer, then log(||J u||^2/||u||^2) for a unit u
// drawn uniformly on the sphere.
func (w *netWorker) sample(seed, index uint64, row []float64) {
	w.run(seed, index, row)
}

// run is sample, returning the output pair buffer and its scales as well:
// the output is e^s.x times its first half, J u e^s.u times its second. The
// PCG stream gives the n0 normal draws of u first, then each layer's
// weights (row-major, as PyTorch lays them out) and biases, in order.
func (w *netWorker) run(seed, index uint64, row []float64) ([]float32, scales) {
	w.pcg.Seed(seed, index)
	p := w.plan
	n0 := len(p.input)
	a, b := w.cur, w.next
	copy(a, p.input)
	tan := a[n0 : 2*n0]
	for i := range tan {
		tan[i] = float32(w.pcg.Normal())
	}
	// Scale the drawn tangent to a unit vector: e^(2 s.u) ||tan||^2 = 1.
	su, ms := measure(tan, 0)
	s := scales{x: p.inputScale, u: su - 0.5*(ms+math.Log(float64(n0)))}
	var m scales
	for j := range p.layers {
		l := &p.layers[j]
		s, m = w.forward(l, a[:2*l.In.Size()], b[:2*l.Out.Size()], s)
		row[j] = m.x - 2*p.inputScale
		a, b = b, a
	}
	row[len(p.layers)] = m.u + math.Log(float64(p.outSize))
	return a[:2*p.outSize], s
}

// forward applies layer l to the pair buffer in, writes the pair buffer out
// and returns its scales and the logs of the true mean squares of x and u.
func (w *netWorker) forward(l *netLayer, in, out []float32, s scales) (scales, scales) {
	switch l.Kind {
	case arch.Dense:
		s = w.dense(l, in, out, s)
	case arch.Conv:
		s = w.conv(l, in, out, s)
	case arch.MaxPool:
		maxPool(l.Layer, in, out)
	case arch.AvgPool:
		avgPool(l.Layer, in, out)
	case arch.GlobalAvgPool:
		globalAvgPool(l.Layer, in, out)
	case arch.Flatten:
		copy(out, in)
	case arch.Residual:
		s = w.residual(l, in, out, s)
	}
	n := len(out) / 2
	var m scales
	s.x, m.x = measure(out[:n], s.x)
	s.u, m.u = measure(out[n:], s.u)
	return s, m
}

// dense computes W [x u] a block of weight rows at a time, so that each
// block is multiplied while it is still in cache.
func (w *netWorker) dense(l *netLayer, in, out []float32, s scales) scales {
	nin, nout := l.In.Size(), l.Units
	rows := denseBlockRows(l.Layer)
	for r0 := 0; r0 < nout; r0 += rows {
		r := min(rows, nout-r0)
		blk := w.weights[:r*nin]
		l.weights.Fill(&w.pcg, blk)
		tensor.Sgemm(false, true, 2, r, nin, 1, in, nin, blk, nin, 0, out[r0:], nout)
	}
	return w.finish(l, out, 1, s)
}

// conv computes the convolution of x and of u as two products of the
// Cout x (Cin k k) kernel matrix with their im2col matrices.
func (w *netWorker) conv(l *netLayer, in, out []float32, s scales) scales {
	k, p, c := l.FanIn(), l.Out.H*l.Out.W, l.Channels
	kernel := w.weights[:c*k]
	l.weights.Fill(&w.pcg, kernel)
	nin, nout := l.In.Size(), l.Out.Size()
	cols := w.cols[:k*p]
	for h := range 2 {
		im2col(l.Layer, in[h*nin:(h+1)*nin], cols)
		tensor.Sgemm(false, false, c, p, k, 1, kernel, k, cols, p, 0, out[h*nout:(h+1)*nout], p)
	}
	return w.finish(l, out, p, s)
}

// finish draws and adds the bias to x (one value per unit or channel,
// repeated over the positions of a channel) and applies the ReLU to x,
// masking u with the same pattern.
func (w *netWorker) finish(l *netLayer, out []float32, positions int, s scales) scales {
	n := len(out) / 2
	x, u := out[:n], out[n:]
	if l.hasBias {
		b := w.bias[:l.Width()]
		l.bias.Fill(&w.pcg, b)
		s.x = addBias(x, s.x, b, l.logBias, positions)
	}
	if l.ReLU {
		relu(x, u)
	}
	return s
}

// residual computes x + eta N(x) and u + eta J_N u.
func (w *netWorker) residual(l *netLayer, in, out []float32, s scales) scales {
	n := len(in) / 2
	m1 := w.m1[:2*l.module[0].Out.Size()]
	m2 := w.m2[:2*n]
	s1, _ := w.forward(&l.module[0], in, m1, s)
	s2, _ := w.forward(&l.module[1], m1, m2, s1)
	le := math.Log(l.Eta)
	return scales{
		x: addScaled(out[:n], in[:n], s.x, m2[:n], le+s2.x),
		u: addScaled(out[n:], in[n:], s.u, m2[n:], le+s2.u),
	}
}
