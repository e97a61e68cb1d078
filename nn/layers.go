package nn

import (
	"github.com/initscope/initscope/tensor"
)

// The ops without parameters that move no windows: the rectifier (when no
// weighted node absorbs it), the residual scale and join, and flattening.

// rectifier is a ReLU node, max(0, x) elementwise.
type rectifier[T tensor.Float] struct {
	threads int
	y       []T
	fwd     reluForward[T]
	bwd     reluBackward[T]
}

func (r *rectifier[T]) params() []*Param[T] { return nil }

func (r *rectifier[T]) overwrites() bool { return true }

// forward returns max(0, x).
func (r *rectifier[T]) forward(in [][]T, batch int) []T {
	x := in[0]
	r.y = grow(r.y, len(x))
	r.fwd = reluForward[T]{x: x, y: r.y}
	tensor.Parallel(r.threads, len(x), elemGrain, &r.fwd)
	return r.y
}

// backward zeroes dy where the input was not positive, in place, and hands
// it back.
func (r *rectifier[T]) backward(dy []T, dx [][]T) {
	if dx == nil {
		return
	}
	r.bwd = reluBackward[T]{dy: dy, y: r.y}
	tensor.Parallel(r.threads, len(dy), elemGrain, &r.bwd)
	dx[0] = dy
}

type reluForward[T tensor.Float] struct{ x, y []T }

func (t *reluForward[T]) Range(lo, hi int) { addReLU(t.y[lo:hi], t.x[lo:hi], 0) }

type reluBackward[T tensor.Float] struct{ dy, y []T }

func (t *reluBackward[T]) Range(lo, hi int) { maskReLU(t.dy[lo:hi], t.y[lo:hi]) }

// scale is a scale node, eta·x: the factor of a residual branch.
type scale[T tensor.Float] struct {
	eta     T
	threads int
	y, dx   []T
	task    axpyTask[T]
}

func (s *scale[T]) params() []*Param[T] { return nil }

func (s *scale[T]) overwrites() bool { return false }

// forward returns eta·x.
func (s *scale[T]) forward(in [][]T, batch int) []T {
	s.y = grow(s.y, len(in[0]))
	s.task = axpyTask[T]{dst: s.y, a: s.eta, y: in[0]}
	tensor.Parallel(s.threads, len(s.y), elemGrain, &s.task)
	return s.y
}

// backward sets dx = eta·dy, in a buffer of its own: an add hands the
// same gradient to the skip path.
func (s *scale[T]) backward(dy []T, dx [][]T) {
	if dx == nil {
		return
	}
	s.dx = grow(s.dx, len(dy))
	s.task = axpyTask[T]{dst: s.dx, a: s.eta, y: dy}
	tensor.Parallel(s.threads, len(dy), elemGrain, &s.task)
	dx[0] = s.dx
}

// add is an add node, the sum of its two inputs (a residual join), with
// input scaled multiplied by eta: the factor of the scale node it absorbs,
// or 1.
type add[T tensor.Float] struct {
	scaled  int
	eta     T
	threads int
	y, dx   []T
	task    axpyTask[T]
}

func (a *add[T]) params() []*Param[T] { return nil }

func (a *add[T]) overwrites() bool { return false }

// forward returns x + eta·y, y the scaled input.
func (a *add[T]) forward(in [][]T, batch int) []T {
	a.y = grow(a.y, len(in[0]))
	a.task = axpyTask[T]{dst: a.y, x: in[1-a.scaled], a: a.eta, y: in[a.scaled]}
	tensor.Parallel(a.threads, len(a.y), elemGrain, &a.task)
	return a.y
}

// backward hands dy to the unscaled input, and to the scaled one eta·dy,
// in a buffer of its own unless eta is 1.
func (a *add[T]) backward(dy []T, dx [][]T) {
	if dx == nil {
		return
	}
	dx[1-a.scaled], dx[a.scaled] = dy, dy
	if a.eta == 1 {
		return
	}
	a.dx = grow(a.dx, len(dy))
	a.task = axpyTask[T]{dst: a.dx, a: a.eta, y: dy}
	tensor.Parallel(a.threads, len(dy), elemGrain, &a.task)
	dx[a.scaled] = a.dx
}

// flatten is a flatten node: C×H×W to a vector of its C·H·W values, in
// NCHW order (PyTorch's nn.Flatten). It moves no data.
type flatten[T tensor.Float] struct{}

func (flatten[T]) params() []*Param[T] { return nil }

func (flatten[T]) overwrites() bool { return false }

// forward returns x itself.
func (flatten[T]) forward(in [][]T, batch int) []T { return in[0] }

// backward hands dy back.
func (flatten[T]) backward(dy []T, dx [][]T) {
	if dx != nil {
		dx[0] = dy
	}
}
