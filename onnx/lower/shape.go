package lower

import (
	"fmt"
	"slices"

	"github.com/initscope/initscope/onnx"
)

// The handlers of the ops without parameters: ReLU, the ops that only
// reshape or pass on an activation, the constants and what is computed
// from them, and a final softmax.

// relu lowers a rectifier.
func (l *lowering) relu(n *onnx.Node) error {
	x, err := l.activation(n, 0)
	if err != nil {
		return err
	}
	id, err := l.b.ReLU(n.Name, x.node)
	if err != nil {
		return err
	}
	l.setActivation(n, id, x.shape)
	return nil
}

// flatten lowers Flatten with axis 1: [N, ...] -> [N, features].
func (l *lowering) flatten(n *onnx.Node) error {
	x, err := l.activation(n, 0)
	if err != nil {
		return err
	}
	axis, err := n.Int("axis", 1)
	if err != nil {
		return err
	}
	if axis < 0 {
		axis += int64(len(x.shape))
	}
	if axis != 1 {
		return unsupported("axis %d: only flattening everything after the batch (axis 1) is supported", axis)
	}
	return l.toFlat(n, x)
}

// toFlat makes the node's output x flattened to [N, features]: a flatten
// node for a feature map, x itself for a vector.
func (l *lowering) toFlat(n *onnx.Node, x value) error {
	s := l.b.Shape(x.node)
	shape := []int64{x.shape[0], int64(s.Size())}
	if !s.Spatial {
		l.values[n.Outputs[0]] = value{node: x.node, shape: shape}
		return nil
	}
	id, err := l.b.Flatten(n.Name, x.node)
	if err != nil {
		return err
	}
	l.setActivation(n, id, shape)
	return nil
}

// reshape lowers a Reshape of an activation to [N, features] (a flatten)
// or to a shape with the same layout, and evaluates one of a constant.
func (l *lowering) reshape(n *onnx.Node) error {
	x, err := l.operand(n, 0)
	if err != nil {
		return err
	}
	t, ok, err := l.constantInput(n, 1)
	if err != nil {
		return err
	}
	if !ok || t.Int == nil {
		return unsupported("the target shape is not a constant integer tensor (a shape computed from the activation, as x.view(x.size(0), -1) exports, is not supported: use torch.flatten(x, 1))")
	}
	if x.node < 0 {
		shape, err := resolveShape(t.Int, x.konst.Dims)
		if err != nil {
			return err
		}
		c := *x.konst
		c.Dims = shape
		l.aliases[n.Outputs[0]] = n.Inputs[0]
		l.setConstant(n, &c)
		return nil
	}
	return l.relayout(n, x, t.Int)
}

// relayout gives the node's output x under a new ONNX shape: a flatten
// when the shape is [N, features], x itself when the shape keeps x's arch
// shape; anything else is unsupported.
func (l *lowering) relayout(n *onnx.Node, x value, target []int64) error {
	dims := make([]int, len(x.shape))
	for i, d := range x.shape {
		dims[i] = int(d)
	}
	batch := dims[0]
	if batch < 0 {
		dims[0] = 1 // a symbolic batch: sizes per sample are what matters
	}
	shape, err := resolveShape(target, dims)
	if err != nil {
		return err
	}
	s := l.b.Shape(x.node)
	keepsBatch := len(shape) > 0 && (shape[0] == dims[0] || target[0] == 0)
	if len(shape) == 2 && keepsBatch && shape[1] == s.Size() {
		return l.toFlat(n, x)
	}
	out := make([]int64, len(shape))
	for i, d := range shape {
		out[i] = int64(d)
	}
	if keepsBatch {
		out[0] = x.shape[0]
		if as, err := archShape(out); err == nil && as == s {
			l.values[n.Outputs[0]] = value{node: x.node, shape: out}
			return nil
		}
	}
	return unsupported("reshapes %v to %v: only to [batch, features] or to a shape with the same layout", x.shape, target)
}

// resolveShape applies ONNX Reshape's rules (0 copies a dimension, -1 is
// inferred) to a target shape for an input of shape dims.
func resolveShape(target []int64, dims []int) ([]int, error) {
	size := 1
	for _, d := range dims {
		size *= d
	}
	out := make([]int, len(target))
	infer, known := -1, 1
	for i, d := range target {
		switch {
		case d == 0 && i < len(dims):
			out[i] = dims[i]
		case d == -1 && infer < 0:
			infer = i
			continue
		case d < 1 || d > int64(size):
			return nil, fmt.Errorf("shape %v: dimension %d is %d for an input of %d values", target, i, d, size)
		default:
			out[i] = int(d)
		}
		known *= out[i]
	}
	if infer >= 0 {
		if known == 0 || size%known != 0 {
			return nil, fmt.Errorf("shape %v: cannot infer the -1 dimension for an input of %d values", target, size)
		}
		out[infer] = size / known
		known = size
	}
	if known != size {
		return nil, fmt.Errorf("shape %v has %d values: the input has %d", target, known, size)
	}
	return out, nil
}

// identity passes its input on.
func (l *lowering) identity(n *onnx.Node) error {
	x, err := l.operand(n, 0)
	if err != nil {
		return err
	}
	if x.node < 0 {
		l.aliases[n.Outputs[0]] = n.Inputs[0]
		c := *x.konst
		l.setConstant(n, &c)
		return nil
	}
	l.values[n.Outputs[0]] = x
	return nil
}

// dropout passes its input on, as at inference; a mask output that is
// read, or training mode, is unsupported.
func (l *lowering) dropout(n *onnx.Node) error {
	if len(n.Outputs) > 1 && n.Outputs[1] != "" && l.readers[n.Outputs[1]] > 0 {
		return unsupported("a node reads its mask output: dropout in training mode is not supported")
	}
	if t, ok, err := l.constantInput(n, 2); err != nil || ok && t.Size() == 1 && (t.Int != nil && t.Int[0] != 0) {
		if err != nil {
			return err
		}
		return unsupported("training_mode is true: dropout in training mode is not supported")
	}
	return l.identity(n)
}

// constant evaluates a Constant node.
func (l *lowering) constant(n *onnx.Node) error {
	a, ok := n.Attrs["value"]
	switch {
	case ok && a.Kind == onnx.AttrTensor && a.Tensor != nil:
		c := *a.Tensor
		l.setConstant(n, &c)
	case n.Attrs["value_float"].Kind == onnx.AttrFloat:
		l.setConstant(n, &onnx.Tensor{Type: onnx.Float32, Float: []float64{float64(n.Attrs["value_float"].Float)}})
	case n.Attrs["value_floats"].Kind == onnx.AttrFloats:
		f := n.Attrs["value_floats"].Floats
		v := make([]float64, len(f))
		for i, x := range f {
			v[i] = float64(x)
		}
		l.setConstant(n, &onnx.Tensor{Dims: []int{len(v)}, Type: onnx.Float32, Float: v})
	case n.Attrs["value_int"].Kind == onnx.AttrInt:
		l.setConstant(n, &onnx.Tensor{Type: onnx.Int64, Int: []int64{n.Attrs["value_int"].Int}})
	case n.Attrs["value_ints"].Kind == onnx.AttrInts:
		v := slices.Clone(n.Attrs["value_ints"].Ints)
		l.setConstant(n, &onnx.Tensor{Dims: []int{len(v)}, Type: onnx.Int64, Int: v})
	default:
		return unsupported("a Constant without a dense value, value_float(s) or value_int(s) attribute")
	}
	return nil
}

// transpose evaluates the transpose of a constant (PyTorch's export of a
// bias-free Linear at old opsets transposes the weight in the graph).
func (l *lowering) transpose(n *onnx.Node) error {
	t, ok, err := l.constantInput(n, 0)
	if err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("input 0 is missing")
		}
		return err
	}
	rank := len(t.Dims)
	def := make([]int64, rank)
	for i := range def {
		def[i] = int64(rank - 1 - i)
	}
	perm, err := n.Ints("perm", def)
	if err != nil {
		return err
	}
	out, err := permute(t, perm)
	if err != nil {
		return err
	}
	l.aliases[n.Outputs[0]] = n.Inputs[0]
	l.setConstant(n, out)
	return nil
}

// permute returns t with its axes permuted.
func permute(t *onnx.Tensor, perm []int64) (*onnx.Tensor, error) {
	rank := len(t.Dims)
	seen := make([]bool, rank)
	for _, p := range perm {
		if p < 0 || p >= int64(rank) || seen[p] {
			return nil, fmt.Errorf("perm %v: not a permutation of the %d axes", perm, rank)
		}
		seen[p] = true
	}
	if len(perm) != rank {
		return nil, fmt.Errorf("perm %v: not a permutation of the %d axes", perm, rank)
	}
	dims := make([]int, rank)
	for i, p := range perm {
		dims[i] = t.Dims[p]
	}
	// strides of the input, then for each output index its input offset.
	stride := make([]int, rank)
	s := 1
	for i := rank - 1; i >= 0; i-- {
		stride[i] = s
		s *= t.Dims[i]
	}
	out := &onnx.Tensor{Dims: dims, Type: t.Type}
	n := t.Size()
	if t.Float != nil {
		out.Float = make([]float64, n)
	} else {
		out.Int = make([]int64, n)
	}
	idx := make([]int, rank)
	for k := range n {
		off := 0
		for i, p := range perm {
			off += idx[i] * stride[p]
		}
		if t.Float != nil {
			out.Float[k] = t.Float[off]
		} else {
			out.Int[k] = t.Int[off]
		}
		for i := rank - 1; i >= 0; i-- {
			if idx[i]++; idx[i] < dims[i] {
				break
			}
			idx[i] = 0
		}
	}
	return out, nil
}

// cast evaluates the cast of a constant to a float or integer type and
// passes an activation cast to float32 or float64 on.
func (l *lowering) cast(n *onnx.Node) error {
	x, err := l.operand(n, 0)
	if err != nil {
		return err
	}
	to, err := n.Int("to", 0)
	if err != nil {
		return err
	}
	isFloat := to == int64(onnx.Float32) || to == int64(onnx.Float64) || to == int64(onnx.Float16) || to == int64(onnx.BFloat16)
	if x.node >= 0 {
		if to != int64(onnx.Float32) && to != int64(onnx.Float64) {
			return unsupported("casts the activation to %s", onnx.DataType(to))
		}
		l.values[n.Outputs[0]] = x
		return nil
	}
	c := *x.konst
	c.Type = onnx.DataType(to)
	switch {
	case isFloat && c.Float == nil:
		c.Float = make([]float64, len(c.Int))
		for i, v := range c.Int {
			c.Float[i] = float64(v)
		}
		c.Int = nil
	case !isFloat && c.Int == nil:
		c.Int = make([]int64, len(c.Float))
		for i, v := range c.Float {
			c.Int[i] = int64(v)
		}
		c.Float = nil
	}
	l.aliases[n.Outputs[0]] = n.Inputs[0]
	l.setConstant(n, &c)
	return nil
}

// unsqueeze and squeeze insert or remove axes of size 1: evaluated on a
// constant; on an activation, passed on when the layout stays the same
// (as [N, C, L] <-> [N, C, L, 1] around a 1-D pooling) or flattened.
func (l *lowering) unsqueeze(n *onnx.Node) error { return l.squeezeOrNot(n, true) }

func (l *lowering) squeeze(n *onnx.Node) error { return l.squeezeOrNot(n, false) }

func (l *lowering) squeezeOrNot(n *onnx.Node, insert bool) error {
	x, err := l.operand(n, 0)
	if err != nil {
		return err
	}
	axes, err := l.axes(n)
	if err != nil {
		return err
	}
	var dims []int64
	if x.node >= 0 {
		dims = slices.Clone(x.shape)
	} else {
		dims = toInt64(x.konst.Dims)
	}
	out, err := squeezeDims(dims, axes, insert)
	if err != nil {
		return err
	}
	if x.node < 0 {
		c := *x.konst
		c.Dims = make([]int, len(out))
		for i, d := range out {
			c.Dims[i] = int(d)
		}
		l.aliases[n.Outputs[0]] = n.Inputs[0]
		l.setConstant(n, &c)
		return nil
	}
	return l.relayout(n, x, out)
}

// axes reads the axes of Squeeze and Unsqueeze: an attribute before opset
// 13, an input from it.
func (l *lowering) axes(n *onnx.Node) ([]int64, error) {
	if l.m.Opset < 13 {
		return n.Ints("axes", nil)
	}
	t, ok, err := l.constantInput(n, 1)
	if err != nil || !ok {
		return nil, err
	}
	if t.Int == nil {
		return nil, fmt.Errorf("input 1 (axes) must be an integer constant")
	}
	return t.Int, nil
}

// squeezeDims inserts (or removes) axes of size 1 at the given positions;
// removing with no axes removes every axis of size 1.
func squeezeDims(dims, axes []int64, insert bool) ([]int64, error) {
	rank := len(dims)
	if insert {
		rank += len(axes)
	}
	at := make(map[int64]bool, len(axes))
	for _, a := range axes {
		if a < 0 {
			a += int64(rank)
		}
		if a < 0 || a >= int64(rank) || at[a] {
			return nil, fmt.Errorf("axes %v: out of range or repeated for rank %d", axes, rank)
		}
		at[a] = true
	}
	var out []int64
	if insert {
		k := 0
		for i := range rank {
			if at[int64(i)] {
				out = append(out, 1)
			} else {
				out = append(out, dims[k])
				k++
			}
		}
		return out, nil
	}
	for i, d := range dims {
		if len(axes) == 0 && d == 1 || at[int64(i)] {
			if d != 1 {
				return nil, fmt.Errorf("axes %v: axis %d has size %d, not 1", axes, i, d)
			}
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

// softmax leaves out a Softmax or LogSoftmax whose output is the model's
// output (the audit judges the logits) and refuses one inside the net.
func (l *lowering) softmax(n *onnx.Node) error {
	x, err := l.activation(n, 0)
	if err != nil {
		return err
	}
	if !l.isGraphOutput(n.Outputs[0]) || l.readers[n.Outputs[0]] != 1 {
		return unsupported("%s", knownUnsupported[n.Op])
	}
	l.values[n.Outputs[0]] = x
	l.note("the final %s %s is left out: the audit judges the logits", n.Op, n.Name)
	return nil
}
