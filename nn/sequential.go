package nn

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/initscope/initscope/tensor"
)

// Sequential chains layers, each feeding the next; it is itself a [Layer],
// so it can be a residual block's module. A Dense or Conv2d layer directly
// followed by a ReLU runs fused with it: the rectification happens in the
// pass that adds the bias, and the ReLU layer is skipped. Layers keep their
// own behaviour when called directly.
type Sequential[T tensor.Float] struct {
	layers []Layer[T]
	steps  []seqStep[T]
	params []*Param[T]
}

// seqStep is one layer as the chain runs it: with fused set, through its
// rectified forward pass.
type seqStep[T tensor.Float] struct {
	layer Layer[T]
	fused reluFuser[T]
}

// NewSequential chains the layers, checking that each one's output shape is
// the next one's input shape. It prefixes the names of the layers'
// parameters with their index ("2.weight") and sets their Layer index, so a
// Sequential built last, around the others, numbers them as the network's
// layers.
func NewSequential[T tensor.Float](layers ...Layer[T]) (*Sequential[T], error) {
	if len(layers) == 0 {
		return nil, errors.New("sequential: no layers")
	}
	s := &Sequential[T]{layers: layers}
	for i, l := range layers {
		if i > 0 && layers[i-1].OutShape() != l.InShape() {
			return nil, fmt.Errorf("sequential: layer %d outputs shape %v but layer %d takes %v", i-1, layers[i-1].OutShape(), i, l.InShape())
		}
		for _, p := range l.Params() {
			p.Name = strconv.Itoa(i) + "." + p.Name
			p.Layer = i
			s.params = append(s.params, p)
		}
	}
	for i := 0; i < len(layers); i++ {
		st := seqStep[T]{layer: layers[i]}
		if f, ok := layers[i].(reluFuser[T]); ok && i+1 < len(layers) {
			if _, ok := layers[i+1].(*ReLU[T]); ok {
				st.fused = f
				i++
			}
		}
		s.steps = append(s.steps, st)
	}
	return s, nil
}

// Layers returns the layers as given to NewSequential.
func (s *Sequential[T]) Layers() []Layer[T] { return s.layers }

// InShape is the first layer's input shape.
func (s *Sequential[T]) InShape() Shape { return s.layers[0].InShape() }

// OutShape is the last layer's output shape.
func (s *Sequential[T]) OutShape() Shape { return s.layers[len(s.layers)-1].OutShape() }

// Params returns every layer's parameters, in layer order.
func (s *Sequential[T]) Params() []*Param[T] { return s.params }

// ZeroGrad zeroes the gradients of all parameters (lazily, see
// [Param.ZeroGrad]).
func (s *Sequential[T]) ZeroGrad() {
	for _, p := range s.params {
		p.ZeroGrad()
	}
}

// Forward runs the chain on batch samples and returns the last layer's
// output. It panics if len(x) is not batch times the input size.
func (s *Sequential[T]) Forward(x []T, batch int) []T {
	if batch < 1 || len(x) != batch*s.InShape().Size() {
		panic(fmt.Sprintf("nn: Forward of %d values as %d samples of shape %v", len(x), batch, s.InShape()))
	}
	for _, st := range s.steps {
		if st.fused != nil {
			x = st.fused.forwardReLU(x, batch)
		} else {
			x = st.layer.Forward(x, batch)
		}
	}
	return x
}

// Backward runs the chain backwards from dy, the gradient with respect to
// the last Forward's output, accumulating parameter gradients; the input
// gradient is computed, and returned, only if needInput is set.
func (s *Sequential[T]) Backward(dy []T, needInput bool) []T {
	for i := len(s.steps) - 1; i >= 0; i-- {
		dy = s.steps[i].layer.Backward(dy, i > 0 || needInput)
	}
	return dy
}
