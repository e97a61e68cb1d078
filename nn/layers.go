package nn

import (
	"fmt"

	"github.com/initscope/initscope/tensor"
)

// ReLU is the rectifier max(0, x), elementwise. [NewSequential] fuses a
// ReLU into a Dense or Conv2d layer right before it.
type ReLU[T tensor.Float] struct {
	shape Shape
	y     []T
	fwd   reluForward[T]
	bwd   reluBackward[T]
}

// NewReLU returns a rectifier for samples of the given shape.
func NewReLU[T tensor.Float](shape Shape) *ReLU[T] { return &ReLU[T]{shape: shape} }

// InShape is the sample shape.
func (r *ReLU[T]) InShape() Shape { return r.shape }

// OutShape is the sample shape.
func (r *ReLU[T]) OutShape() Shape { return r.shape }

// Params returns nil: a ReLU has no parameters.
func (r *ReLU[T]) Params() []*Param[T] { return nil }

// Forward returns max(0, x).
func (r *ReLU[T]) Forward(x []T, batch int) []T {
	r.y = grow(r.y, len(x))
	r.fwd = reluForward[T]{x: x, y: r.y}
	tensor.Parallel(len(x), elemGrain, &r.fwd)
	return r.y
}

// Backward zeroes dy where the input was not positive, in place, and
// returns it.
func (r *ReLU[T]) Backward(dy []T, needInput bool) []T {
	if !needInput {
		return nil
	}
	r.bwd = reluBackward[T]{dy: dy, y: r.y}
	tensor.Parallel(len(dy), elemGrain, &r.bwd)
	return dy
}

type reluForward[T tensor.Float] struct{ x, y []T }

func (t *reluForward[T]) Range(lo, hi int) { addReLU(t.y[lo:hi], t.x[lo:hi], 0) }

type reluBackward[T tensor.Float] struct{ dy, y []T }

func (t *reluBackward[T]) Range(lo, hi int) { maskReLU(t.dy[lo:hi], t.y[lo:hi]) }

// Flatten turns an image into a vector of its C·H·W values, in NCHW order
// (PyTorch's nn.Flatten). It moves no data.
type Flatten[T tensor.Float] struct{ in Shape }

// NewFlatten returns a flattening layer for samples of shape in.
func NewFlatten[T tensor.Float](in Shape) *Flatten[T] { return &Flatten[T]{in: in} }

// InShape is the image shape.
func (f *Flatten[T]) InShape() Shape { return f.in }

// OutShape is the vector shape.
func (f *Flatten[T]) OutShape() Shape { return Vec(f.in.Size()) }

// Params returns nil: flattening has no parameters.
func (f *Flatten[T]) Params() []*Param[T] { return nil }

// Forward returns x itself.
func (f *Flatten[T]) Forward(x []T, batch int) []T { return x }

// Backward returns dy itself.
func (f *Flatten[T]) Backward(dy []T, needInput bool) []T {
	if !needInput {
		return nil
	}
	return dy
}

// Residual is a residual block, out = x + Eta·module(x), the scaled
// residual connection of Hanin & Rolnick's analysis. The module maps its
// input shape to itself; typically two dense or convolutional layers with a
// ReLU between them.
type Residual[T tensor.Float] struct {
	// Eta scales the residual branch.
	Eta    float64
	module Layer[T]
	params []*Param[T]
	y, g   []T
	task   axpyTask[T]
}

// NewResidual wraps module, which must map its input shape to itself, in a
// residual connection scaled by eta. It renames the module's parameters
// "module.NAME".
func NewResidual[T tensor.Float](module Layer[T], eta float64) (*Residual[T], error) {
	if module.InShape() != module.OutShape() {
		return nil, fmt.Errorf("residual block: module maps %v to %v; it must keep the shape", module.InShape(), module.OutShape())
	}
	params := module.Params()
	for _, p := range params {
		p.Name = "module." + p.Name
	}
	return &Residual[T]{Eta: eta, module: module, params: params}, nil
}

// InShape is the sample shape.
func (r *Residual[T]) InShape() Shape { return r.module.InShape() }

// OutShape is the sample shape.
func (r *Residual[T]) OutShape() Shape { return r.module.OutShape() }

// Params returns the module's parameters.
func (r *Residual[T]) Params() []*Param[T] { return r.params }

// Forward returns x + Eta·module(x).
func (r *Residual[T]) Forward(x []T, batch int) []T {
	m := r.module.Forward(x, batch)
	r.y = grow(r.y, len(x))
	r.task = axpyTask[T]{dst: r.y, x: x, a: T(r.Eta), y: m}
	tensor.Parallel(len(x), elemGrain, &r.task)
	return r.y
}

// Backward back-propagates Eta·dy through the module and returns
// dy + (its input gradient).
func (r *Residual[T]) Backward(dy []T, needInput bool) []T {
	r.g = grow(r.g, len(dy))
	r.task = axpyTask[T]{dst: r.g, a: T(r.Eta), y: dy}
	tensor.Parallel(len(dy), elemGrain, &r.task)
	dm := r.module.Backward(r.g, needInput)
	if !needInput {
		return nil
	}
	r.task = axpyTask[T]{dst: dy, x: dy, a: 1, y: dm}
	tensor.Parallel(len(dy), elemGrain, &r.task)
	return dy
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
