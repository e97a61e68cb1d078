// Package nn is a small neural-network library: layers with forward and
// backward passes over mini-batches, a softmax cross-entropy loss, and the
// SGD and Adam optimizers, enough to train the fully connected,
// convolutional and residual ReLU networks that initscope studies.
//
// Everything is generic over the element type: float32 for training, and
// float64 so that tests can check every backward pass against finite
// differences with the very code that trains. Tensors are flat slices,
// sample-major, images in NCHW order (sample, channel, row, column). Matrix
// products go through [tensor.Gemm].
//
// A [Layer] owns the buffers it returns and reuses them from one step to
// the next, so a training loop allocates nothing once the first step has
// sized them. Layers do not initialize their weights: [Param] describes each
// weight tensor and bias (role, fan-in, fan-out, owning layer) so that an
// initialization package can fill them.
package nn

import (
	"fmt"

	"github.com/initscope/initscope/tensor"
)

// Shape is the shape of one sample: C channels of H×W pixels. A vector of n
// features has shape {n, 1, 1}, see [Vec].
type Shape struct {
	C, H, W int
}

// Vec is the shape of a vector of n features.
func Vec(n int) Shape { return Shape{C: n, H: 1, W: 1} }

// Size is the number of values in one sample.
func (s Shape) Size() int { return s.C * s.H * s.W }

// String writes a vector shape as its length and an image shape as C×H×W.
func (s Shape) String() string {
	if s.H == 1 && s.W == 1 {
		return fmt.Sprint(s.C)
	}
	return fmt.Sprintf("%d×%d×%d", s.C, s.H, s.W)
}

// valid reports whether every dimension is at least 1.
func (s Shape) valid() bool { return s.C >= 1 && s.H >= 1 && s.W >= 1 }

// Layer is one differentiable stage of a network.
type Layer[T tensor.Float] interface {
	// InShape is the shape of one input sample.
	InShape() Shape
	// OutShape is the shape of one output sample.
	OutShape() Shape
	// Forward computes the outputs for batch samples x, laid out one after
	// the other (len(x) == batch*InShape().Size()). The result is a buffer
	// the layer owns, valid until its next Forward. The layer may keep x for
	// Backward, so x must not change until Backward has returned.
	Forward(x []T, batch int) []T
	// Backward takes the gradient of the loss with respect to the outputs
	// of the last Forward, adds the gradients of the parameters to their
	// Grad (see [Param.ZeroGrad]) and, if needInput is set, returns the
	// gradient with respect to the inputs (otherwise nil). It may overwrite
	// dy, and may return it as the input gradient.
	Backward(dy []T, needInput bool) []T
	// Params lists the layer's parameters, nil if it has none.
	Params() []*Param[T]
}

// Role says what a parameter is for.
type Role int

const (
	// Weight is a weight matrix or convolution kernel.
	Weight Role = iota
	// Bias is an additive bias.
	Bias
)

// String names the role as PyTorch's parameter names do.
func (r Role) String() string {
	if r == Bias {
		return "bias"
	}
	return "weight"
}

// Param is one trainable tensor and its gradient.
type Param[T tensor.Float] struct {
	// Name is the parameter's path in the network, in the style of PyTorch's
	// state_dict: "0.weight", "3.module.2.bias".
	Name string
	// Role says whether this is a weight or a bias.
	Role Role
	// Layer is the index, in the outermost [Sequential], of the layer that
	// owns the parameter (for a parameter inside a residual block, the
	// block's index).
	Layer int
	// Shape is the tensor's shape: out×in for a dense weight, like
	// PyTorch's; Cout×Cin×kh×kw for a convolution kernel; out for a bias.
	Shape []int
	// FanIn and FanOut are the fan-in and fan-out of the layer, as PyTorch
	// computes them: in and out for a dense layer, Cin·kh·kw and Cout·kh·kw
	// for a convolution. A bias carries its layer's values.
	FanIn, FanOut int
	// Data holds the values, Grad the gradient of the loss; both have the
	// product of Shape's entries as length.
	Data, Grad []T

	// stale is set by ZeroGrad: Grad holds old values that the next
	// Backward overwrites instead of adding to.
	stale bool
}

// newParam allocates a parameter of the given shape.
func newParam[T tensor.Float](role Role, fanIn, fanOut int, shape ...int) *Param[T] {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &Param[T]{Name: role.String(), Role: role, Shape: shape, FanIn: fanIn, FanOut: fanOut, Data: make([]T, n), Grad: make([]T, n)}
}

// ZeroGrad zeroes the gradient, lazily: the next Backward writes Grad
// instead of adding to it, which costs nothing, where clearing it would
// cost a pass over memory (PyTorch's zero_grad(set_to_none=True) makes the
// same trade). Until then Grad holds the old values.
func (p *Param[T]) ZeroGrad() { p.stale = true }

// gradBeta returns the factor by which a backward pass scales the current
// Grad before adding to it: 0 after ZeroGrad, 1 otherwise. It clears the
// ZeroGrad mark, so each parameter must call it exactly once per Backward.
func (p *Param[T]) gradBeta() T {
	if p.stale {
		p.stale = false
		return 0
	}
	return 1
}

// grow returns buf resliced to length n, reallocated only if its capacity
// is too small.
func grow[T any](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, n)
	}
	return buf[:n]
}

// reluFuser is a layer that can rectify its own output in the pass that
// adds its bias, saving a ReLU layer's two passes over memory. Its Backward
// masks the gradient if the last forward pass was rectified.
type reluFuser[T tensor.Float] interface {
	forwardReLU(x []T, batch int) []T
}
