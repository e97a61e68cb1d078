package nn

import (
	"math"

	"github.com/initscope/initscope/tensor"
)

// Optimizer updates parameters from their gradients.
type Optimizer interface {
	// Step applies one update.
	Step()
}

// segment is a piece of one parameter, [lo, hi) of param p: optimizers
// split the parameters into segments of similar size to share a step out
// among goroutines.
type segment struct{ p, lo, hi int }

// segmentSize is the most elements a segment holds.
const segmentSize = 1 << 14

// segmented is the parameter list of an optimizer, cut into segments.
type segmented[T tensor.Float] struct {
	params []*Param[T]
	segs   []segment
	grain  int // segments per part, so that a part holds about elemGrain elements
}

func newSegmented[T tensor.Float](params []*Param[T]) segmented[T] {
	s := segmented[T]{params: params}
	total := 0
	for i, p := range params {
		for lo := 0; lo < len(p.Data); lo += segmentSize {
			s.segs = append(s.segs, segment{p: i, lo: lo, hi: min(lo+segmentSize, len(p.Data))})
		}
		total += len(p.Data)
	}
	s.grain = len(s.segs)*elemGrain/max(total, 1) + 1
	return s
}

// state allocates one zeroed buffer per parameter, for optimizer state.
func (s *segmented[T]) state() [][]T {
	bufs := make([][]T, len(s.params))
	for i, p := range s.params {
		bufs[i] = make([]T, len(p.Data))
	}
	return bufs
}

// SGD is stochastic gradient descent with momentum and weight decay, with
// PyTorch's semantics (torch.optim.SGD, no dampening, no Nesterov): the
// decay is added to the gradient, g = grad + WeightDecay·p; then the
// velocity v = Momentum·v + g (starting from zero); then p -= LR·v. A
// velocity of magnitude below 2^-100 is flushed to zero, which changes no
// weight above about 2^-70 (see the backward pass of the ReLU).
type SGD[T tensor.Float] struct {
	// LR is the learning rate, Momentum the momentum factor, WeightDecay the
	// L2 penalty coefficient. They may be changed between steps.
	LR, Momentum, WeightDecay float64
	// Threads is the most goroutines a step uses (< 1 counts as 1): a
	// training loop gives its optimizer its model's Threads.
	Threads int

	segmented[T]
	velocity [][]T
	step     sgdStep[T]
}

// NewSGD returns an SGD optimizer for params.
func NewSGD[T tensor.Float](params []*Param[T], lr, momentum, weightDecay float64) *SGD[T] {
	o := &SGD[T]{LR: lr, Momentum: momentum, WeightDecay: weightDecay, segmented: newSegmented(params)}
	o.velocity = o.state()
	return o
}

// Step updates every parameter from its gradient.
func (o *SGD[T]) Step() {
	o.step = sgdStep[T]{o: o, lr: T(o.LR), mu: T(o.Momentum), wd: T(o.WeightDecay)}
	tensor.Parallel(o.Threads, len(o.segs), o.grain, &o.step)
}

// sgdStep is one SGD step, with its hyper-parameters in T. Its range runs
// over segments.
type sgdStep[T tensor.Float] struct {
	o          *SGD[T]
	lr, mu, wd T
}

func (t *sgdStep[T]) Range(lo, hi int) {
	for _, s := range t.o.segs[lo:hi] {
		p := t.o.params[s.p]
		sgdUpdate(p.Data[s.lo:s.hi], p.Grad[s.lo:s.hi], t.o.velocity[s.p][s.lo:s.hi], t.lr, t.mu, t.wd)
	}
}

// Adam is the Adam optimizer with PyTorch's semantics (torch.optim.Adam,
// amsgrad off): with g = grad + WeightDecay·p (L2 decay, not AdamW's),
// m = β1·m + (1-β1)·g, v = β2·v + (1-β2)·g², and at step t
// p -= LR/(1-β1ᵗ) · m / (√v/√(1-β2ᵗ) + Eps).
type Adam[T tensor.Float] struct {
	// LR is the learning rate; Beta1, Beta2 the decay rates of the moment
	// estimates; Eps the term that keeps the denominator positive;
	// WeightDecay the L2 penalty coefficient. They may be changed between
	// steps.
	LR, Beta1, Beta2, Eps, WeightDecay float64
	// Threads is the most goroutines a step uses (< 1 counts as 1): a
	// training loop gives its optimizer its model's Threads.
	Threads int

	segmented[T]
	t    int
	m, v [][]T
	step adamStep[T]
}

// NewAdam returns an Adam optimizer for params with PyTorch's defaults:
// β1 = 0.9, β2 = 0.999, Eps = 1e-8, no weight decay.
func NewAdam[T tensor.Float](params []*Param[T], lr float64) *Adam[T] {
	o := &Adam[T]{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, segmented: newSegmented(params)}
	o.m, o.v = o.state(), o.state()
	return o
}

// Step updates every parameter from its gradient.
func (o *Adam[T]) Step() {
	o.t++
	bias1 := 1 - math.Pow(o.Beta1, float64(o.t))
	bias2 := 1 - math.Pow(o.Beta2, float64(o.t))
	o.step = adamStep[T]{
		o:  o,
		b1: T(o.Beta1), b2: T(o.Beta2), c1: T(1 - o.Beta1), c2: T(1 - o.Beta2),
		stepSize: T(o.LR / bias1), invBias2: T(1 / math.Sqrt(bias2)),
		eps: T(o.Eps), wd: T(o.WeightDecay),
	}
	tensor.Parallel(o.Threads, len(o.segs), o.grain, &o.step)
}

// adamStep is one Adam step, with its constants in T. Its range runs over
// segments.
type adamStep[T tensor.Float] struct {
	o                                           *Adam[T]
	b1, b2, c1, c2, stepSize, invBias2, eps, wd T
}

func (t *adamStep[T]) Range(lo, hi int) {
	for _, s := range t.o.segs[lo:hi] {
		p := t.o.params[s.p]
		adamUpdate(p.Data[s.lo:s.hi], p.Grad[s.lo:s.hi], t.o.m[s.p][s.lo:s.hi], t.o.v[s.p][s.lo:s.hi],
			t.b1, t.b2, t.c1, t.c2, t.stepSize, t.invBias2, t.eps, t.wd)
	}
}
