// Package nn is the batched executor of initscope's network graphs: a
// [Model] runs an [arch.Graph] over mini-batches, forward and backward, with
// a softmax cross-entropy loss and the SGD and Adam optimizers, enough to
// train the fully connected, convolutional and residual ReLU networks that
// initscope studies.
//
// Everything is generic over the element type: float32 for training, and
// float64 so that tests can check every backward pass against finite
// differences with the very code that trains. Tensors are flat slices,
// sample-major, images in NCHW order (sample, channel, row, column). Matrix
// products go through [tensor.Gemm]; the layer geometry (output shapes,
// im2col windows, pooling windows) is arch's, shared with the Monte Carlo
// sampler.
//
// A model owns the buffers it returns and reuses them from one step to the
// next, so a training loop allocates nothing once the first step has sized
// them. A model does not initialize its weights: [Param] describes each
// weight tensor and bias (role, fan-in, fan-out, owning node) so that an
// initialization package can fill them. The number of goroutines a model
// or an optimizer uses is its own: there is no process-wide setting.
package nn

import (
	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/tensor"
)

// Role says what a parameter is for.
type Role int

const (
	// Weight is a weight matrix or convolution kernel.
	Weight Role = iota
	// Bias is an additive bias.
	Bias
	// Scale is the per-channel factor a of an affine node, y = a·x + b
	// (PyTorch's BatchNorm calls it weight).
	Scale
	// Shift is the per-channel term b of an affine node (PyTorch's
	// BatchNorm calls it bias).
	Shift
)

// String names the role: "weight" and "bias" as PyTorch's parameter names
// do; an affine node's "scale" and "shift", which PyTorch's BatchNorm
// names weight and bias, so that a parameter's role is known from its
// name alone.
func (r Role) String() string {
	switch r {
	case Bias:
		return "bias"
	case Scale:
		return "scale"
	case Shift:
		return "shift"
	}
	return "weight"
}

// Param is one trainable tensor and its gradient.
type Param[T tensor.Float] struct {
	// Name is the owning node's name and the role, in the style of
	// PyTorch's state_dict: "1.weight", "3.branch.2.bias".
	Name string
	// Role says whether this is a weight, a bias, or an affine node's
	// scale or shift.
	Role Role
	// Node is the ID, in the graph, of the dense, conv or affine node that
	// owns the parameter.
	Node int
	// Shape is the tensor's shape: out×in for a dense weight, like
	// PyTorch's; Cout×(Cin/groups)×kh×kw for a convolution kernel; out for
	// a bias; channels for a scale or shift.
	Shape []int
	// FanIn and FanOut are the fan-in and fan-out of the node, as PyTorch
	// computes them (arch.Node's FanIn and FanOut): in and out for a dense
	// node, (Cin/groups)·kh·kw and Cout·kh·kw for a convolution, 0 for an
	// affine node. A bias carries its node's values.
	FanIn, FanOut int
	// Data holds the values, Grad the gradient of the loss; both have the
	// product of Shape's entries as length.
	Data, Grad []T

	// stale is set by ZeroGrad: Grad holds old values that the next
	// Backward overwrites instead of adding to.
	stale bool
}

// newParam allocates the parameter of node n with the given role and
// shape.
func newParam[T tensor.Float](n *arch.Node, role Role, shape ...int) *Param[T] {
	size := 1
	for _, d := range shape {
		size *= d
	}
	return &Param[T]{Name: n.Name + "." + role.String(), Role: role, Node: n.ID, Shape: shape,
		FanIn: n.FanIn(), FanOut: n.FanOut(), Data: make([]T, size), Grad: make([]T, size)}
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

// elemGrain is the least number of elements worth handing to another
// goroutine in an elementwise pass: below it, the hand-off costs more than
// the work.
const elemGrain = 1 << 14
