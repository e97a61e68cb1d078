package lower

import (
	"fmt"
	"math"
	"slices"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/onnx"
)

// The handlers of the layers with parameters: Gemm, MatMul, Conv, and the
// bias and batch norm that fold into them.

// gemm lowers Y = alpha A' B' + beta C with A the activation.
func (l *lowering) gemm(n *onnx.Node) error {
	x, err := l.flatActivation(n)
	if err != nil {
		return err
	}
	transA, err := n.Int("transA", 0)
	if err != nil {
		return err
	}
	if transA != 0 {
		return unsupported("transA=%d: the activation must be the untransposed first factor", transA)
	}
	transB, err := n.Int("transB", 0)
	if err != nil {
		return err
	}
	alpha, err := n.Float("alpha", 1)
	if err != nil {
		return err
	}
	beta, err := n.Float("beta", 1)
	if err != nil {
		return err
	}
	w, err := l.requiredConstant(n, 1, "B")
	if err != nil {
		return err
	}
	in := int(x.shape[1])
	weight, out, err := denseWeight(w, in, transB != 0)
	if err != nil {
		return err
	}
	scaleAll(weight, float64(alpha))
	c, hasBias, err := l.constantInput(n, 2)
	if err != nil {
		return err
	}
	var bias []float64
	if hasBias {
		if bias, err = broadcastChannel(c, 2, out, "C"); err != nil {
			return err
		}
		scaleAll(bias, float64(beta))
	}
	return l.dense(n, x, weight, bias, in, out, w, c)
}

// matmul lowers Y = A B with A the activation and B a constant [in, out]
// weight.
func (l *lowering) matmul(n *onnx.Node) error {
	x, err := l.flatActivation(n)
	if err != nil {
		return err
	}
	w, err := l.requiredConstant(n, 1, "B")
	if err != nil {
		return err
	}
	in := int(x.shape[1])
	weight, out, err := denseWeight(w, in, false)
	if err != nil {
		return err
	}
	return l.dense(n, x, weight, nil, in, out, w, nil)
}

// dense adds a dense node with its parameters and the roles of the
// tensors they came from (c may be nil).
func (l *lowering) dense(n *onnx.Node, x value, weight, bias []float64, in, out int, w, c *onnx.Tensor) error {
	id, err := l.b.Dense(n.Name, x.node, out)
	if err != nil {
		return err
	}
	l.params[id] = Params{Weight: weight, Bias: bias}
	l.use(n, l.source(w.Name), RoleWeight, id, in, out)
	if c != nil {
		l.use(n, l.source(c.Name), RoleBias, id, in, out)
	}
	l.setActivation(n, id, []int64{x.shape[0], int64(out)})
	return nil
}

// flatActivation returns the first input of n, which must be an activation
// of shape [N, features], or [N, 1, features] (one token, as a Linear on a
// 3-D input exports), which is the same data and lowers as [N, features].
func (l *lowering) flatActivation(n *onnx.Node) (value, error) {
	x, err := l.activation(n, 0)
	if err != nil {
		return value{}, err
	}
	if len(x.shape) == 3 && x.shape[1] == 1 {
		if s := l.b.Shape(x.node); s.Spatial {
			id, err := l.b.Flatten(n.Name+"/tokens", x.node)
			if err != nil {
				return value{}, err
			}
			x.node = id
		}
		x.shape = []int64{x.shape[0], x.shape[2]}
		l.note("%s reads %q as [batch, 1 token, features]: lowered as [batch, features]", n.Name, n.Inputs[0])
	}
	if len(x.shape) != 2 {
		return value{}, unsupported("input %q of shape %v: a dense layer needs a [batch, features] activation (token or spatial dimensions before a dense layer are not supported)", n.Inputs[0], x.shape)
	}
	return x, nil
}

// requiredConstant returns input i of n, a constant that must be there.
func (l *lowering) requiredConstant(n *onnx.Node, i int, what string) (*onnx.Tensor, error) {
	t, ok, err := l.constantInput(n, i)
	if err != nil {
		return nil, err
	}
	if !ok || t.Float == nil {
		return nil, fmt.Errorf("input %d (%s) must be a floating-point constant", i, what)
	}
	return t, nil
}

// denseWeight returns w, stored [out, in] when transposed and [in, out]
// otherwise, as an [out, in] matrix, and out.
func denseWeight(w *onnx.Tensor, in int, transposed bool) ([]float64, int, error) {
	if len(w.Dims) != 2 {
		return nil, 0, fmt.Errorf("weight %q of shape %v: want a matrix", w.Name, w.Dims)
	}
	rows, cols := w.Dims[0], w.Dims[1]
	if transposed {
		if cols != in {
			return nil, 0, fmt.Errorf("weight %q of shape %v (transposed): want %d columns, the input's features", w.Name, w.Dims, in)
		}
		return slices.Clone(w.Float), rows, nil
	}
	if rows != in {
		return nil, 0, fmt.Errorf("weight %q of shape %v: want %d rows, the input's features", w.Name, w.Dims, in)
	}
	out := make([]float64, rows*cols)
	for i := range rows {
		for j := range cols {
			out[j*rows+i] = w.Float[i*cols+j]
		}
	}
	return out, cols, nil
}

// perChannel returns a constant that holds one value per channel of c
// channels (shapes [c], [1, c], [c, 1, 1], [1, c, 1, 1], ...), or a single
// value broadcast to all of them.
func perChannel(t *onnx.Tensor, c int, what string) ([]float64, error) {
	if t.Float == nil {
		return nil, fmt.Errorf("%s %q is of type %s: want a floating-point constant", what, t.Name, t.Type)
	}
	if t.Size() == 1 {
		out := make([]float64, c)
		for i := range out {
			out[i] = t.Float[0]
		}
		return out, nil
	}
	if t.Size() != c {
		return nil, unsupported("%s %q of shape %v: want %d values, one per channel (other broadcasts are not supported)", what, t.Name, t.Dims, c)
	}
	return slices.Clone(t.Float), nil
}

// broadcastChannel returns a constant that ONNX's broadcasting against an
// activation of the given rank makes one value per channel (axis 1) of c
// channels, or a single value: its dims, aligned to the activation's last
// ones, are all 1 but the channel axis's.
func broadcastChannel(t *onnx.Tensor, rank, c int, what string) ([]float64, error) {
	for i, d := range t.Dims {
		if axis := rank - len(t.Dims) + i; d != 1 && (axis != 1 || d != c) {
			return nil, unsupported("%s %q of shape %v broadcasts along axis %d of the [batch, %d, ...] activation: only one value per channel (axis 1) or a single value is supported", what, t.Name, t.Dims, axis, c)
		}
	}
	return perChannel(t, c, what)
}

func scaleAll(v []float64, a float64) {
	if a == 1 {
		return
	}
	for i := range v {
		v[i] *= a
	}
}

// conv lowers a convolution of an [N, C, H, W] or [N, C, L] activation.
func (l *lowering) conv(n *onnx.Node) error {
	x, pad, err := l.windowInput(n)
	if err != nil {
		return err
	}
	w, err := l.requiredConstant(n, 1, "W")
	if err != nil {
		return err
	}
	if len(w.Dims) != len(x.shape) {
		return fmt.Errorf("weight %q of shape %v for an input of shape %v: want rank %d", w.Name, w.Dims, x.shape, len(x.shape))
	}
	group, err := n.Int("group", 1)
	if err != nil {
		return err
	}
	if group < 1 || group > math.MaxInt32 {
		return fmt.Errorf("group %d: must be >= 1", group)
	}
	g, err := l.geometry(n, x, w.Dims[2:], pad)
	if err != nil {
		return err
	}
	g.Groups = int(group)
	cin := int(x.shape[1])
	if w.Dims[1]*g.Groups != cin {
		return fmt.Errorf("weight %q of shape %v with %d groups: want %d input channels per group (%d channels)", w.Name, w.Dims, g.Groups, cin/g.Groups, cin)
	}
	cout := w.Dims[0]
	id, err := l.b.Conv(n.Name, x.node, cout, g)
	if err != nil {
		return err
	}
	c, hasBias, err := l.constantInput(n, 2)
	if err != nil {
		return err
	}
	p := Params{Weight: slices.Clone(w.Float)}
	if hasBias {
		if p.Bias, err = perChannel(c, cout, "bias B"); err != nil {
			return err
		}
	}
	l.params[id] = p
	node := l.b.Node(id)
	l.use(n, l.source(w.Name), RoleWeight, id, node.FanIn(), node.FanOut())
	if hasBias {
		l.use(n, l.source(c.Name), RoleBias, id, node.FanIn(), node.FanOut())
	}
	l.setActivation(n, id, l.spatialShape(x, id))
	return nil
}

// spatialShape is the ONNX shape of builder node id's output, of the same
// rank as x.
func (l *lowering) spatialShape(x value, id int) []int64 {
	s := l.b.Shape(id)
	if len(x.shape) == 3 {
		return []int64{x.shape[0], int64(s.C), int64(s.H)}
	}
	return []int64{x.shape[0], int64(s.C), int64(s.H), int64(s.W)}
}

// operands returns the two inputs of a binary op.
func (l *lowering) operands(n *onnx.Node) (a, b value, err error) {
	if len(n.Inputs) != 2 {
		return a, b, fmt.Errorf("%d inputs: want 2", len(n.Inputs))
	}
	if a, err = l.operand(n, 0); err != nil {
		return a, b, err
	}
	b, err = l.operand(n, 1)
	return a, b, err
}

// add lowers the sum of two activations (a residual join) or of an
// activation and a constant (a bias).
func (l *lowering) add(n *onnx.Node) error {
	a, b, err := l.operands(n)
	if err != nil {
		return err
	}
	switch {
	case a.node >= 0 && b.node >= 0:
		if !slices.Equal(a.shape[1:], b.shape[1:]) {
			return unsupported("adds activations of shapes %v and %v: broadcasting is not supported", a.shape, b.shape)
		}
		id, err := l.b.Add(n.Name, a.node, b.node)
		if err != nil {
			return err
		}
		l.setActivation(n, id, a.shape)
		return nil
	case a.node < 0 && b.node < 0:
		return unsupported("adds two constants")
	case a.node < 0:
		return l.addBias(n, b, n.Inputs[1], a.konst)
	}
	return l.addBias(n, a, n.Inputs[0], b.konst)
}

// addBias lowers x + c, c a constant with one value per channel: folded
// into the layer that computes x when this node is that layer's only
// reader, otherwise an affine node.
func (l *lowering) addBias(n *onnx.Node, x value, name string, c *onnx.Tensor) error {
	channels := int(x.shape[1])
	shift, err := broadcastChannel(c, len(x.shape), channels, "constant")
	if err != nil {
		return err
	}
	if id, ok := l.foldable(x, name); ok {
		p := l.params[id]
		if p.Bias == nil {
			p.Bias = make([]float64, channels)
		}
		for i, v := range shift {
			p.Bias[i] += v
		}
		l.params[id] = p
		node := l.b.Node(id)
		l.use(n, l.source(c.Name), RoleBias, id, node.FanIn(), node.FanOut())
		l.values[n.Outputs[0]] = value{node: id, shape: x.shape}
		l.made[id] = n.Outputs[0]
		return nil
	}
	return l.affine(n, x, ones(channels), shift, nil, c)
}

// foldable reports whether the activation x, read as the ONNX value name,
// is the output of a dense or conv node that nothing else reads, so that a
// bias or a batch norm can fold into its parameters; it returns the node.
func (l *lowering) foldable(x value, name string) (int, bool) {
	if x.node <= 0 || l.made[x.node] != name || l.readers[name] != 1 {
		return 0, false
	}
	op := l.b.Node(x.node).Op
	return x.node, op == arch.OpDense || op == arch.OpConv
}

func ones(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

// affine adds an affine node y = scale_c x + shift_c with the roles of the
// tensors the values came from (either may be nil).
func (l *lowering) affine(n *onnx.Node, x value, scale, shift []float64, st, sh *onnx.Tensor) error {
	id, err := l.b.Affine(n.Name, x.node)
	if err != nil {
		return err
	}
	l.params[id] = Params{Weight: scale, Bias: shift}
	if st != nil {
		l.use(n, l.source(st.Name), RoleScale, id, 0, 0)
	}
	if sh != nil {
		l.use(n, l.source(sh.Name), RoleShift, id, 0, 0)
	}
	l.setActivation(n, id, x.shape)
	return nil
}

// mul lowers the product of an activation and a constant: a scale node
// for a nonnegative scalar (a residual branch's eta), an affine node for
// a negative scalar or one value per channel.
func (l *lowering) mul(n *onnx.Node) error {
	a, b, err := l.operands(n)
	if err != nil {
		return err
	}
	if a.node < 0 {
		a, b = b, a
	}
	if a.node < 0 || b.node >= 0 {
		return unsupported("multiplies two activations or two constants: only an activation times a constant is supported")
	}
	c := b.konst
	if c.Float == nil {
		return fmt.Errorf("constant %q is of type %s: want floating point", c.Name, c.Type)
	}
	if c.Size() == 1 && c.Float[0] >= 0 && c.Float[0] <= arch.MaxEta {
		id, err := l.b.Scale(n.Name, a.node, c.Float[0], 0, 0)
		if err != nil {
			return err
		}
		l.use(n, l.source(c.Name), RoleOther, id, 0, 0)
		l.setActivation(n, id, a.shape)
		return nil
	}
	scale, err := broadcastChannel(c, len(a.shape), int(a.shape[1]), "constant")
	if err != nil {
		return err
	}
	return l.affine(n, a, scale, make([]float64, len(scale)), c, nil)
}

// batchNorm lowers a BatchNormalization: in inference mode an affine map
// per channel, folded into the layer before it when it is that layer's
// only reader (as PyTorch's exporter folds it into a conv); in training
// mode a batch normalization followed by the affine map of its scale and
// shift.
func (l *lowering) batchNorm(n *onnx.Node) error {
	x, err := l.activation(n, 0)
	if err != nil {
		return err
	}
	channels := int(x.shape[1])
	var ts [4]*onnx.Tensor
	var vs [4][]float64
	for i, what := range []string{"scale", "B", "mean", "var"} {
		if ts[i], err = l.requiredConstant(n, i+1, what); err != nil {
			return err
		}
		if vs[i], err = perChannel(ts[i], channels, what); err != nil {
			return err
		}
	}
	eps, err := n.Float("epsilon", 1e-5)
	if err != nil {
		return err
	}
	training, err := l.trainingMode(n)
	if err != nil {
		return err
	}
	if training {
		return l.batchNormTraining(n, x, float64(eps), ts, vs)
	}
	scale, shift := make([]float64, channels), make([]float64, channels)
	for c := range channels {
		if v := vs[3][c] + float64(eps); !(v > 0) {
			return fmt.Errorf("channel %d: running variance %g plus epsilon %g is not positive", c, vs[3][c], eps)
		}
		scale[c] = vs[0][c] / math.Sqrt(vs[3][c]+float64(eps))
		shift[c] = vs[1][c] - vs[2][c]*scale[c]
	}
	id, ok := l.foldable(x, n.Inputs[0])
	if !ok {
		if err := l.affine(n, x, scale, shift, ts[0], ts[1]); err != nil {
			return err
		}
		id = l.last
	} else {
		l.foldScale(id, scale, shift)
		l.values[n.Outputs[0]] = value{node: id, shape: x.shape}
		l.made[id] = n.Outputs[0]
		l.note("BatchNormalization %s (inference mode) folded into %s, as PyTorch folds it when exporting a conv: the statistics of that layer are those of the folded weights", n.Name, l.b.Node(id).Name)
		l.use(n, l.source(ts[0].Name), RoleScale, id, 0, 0)
		l.use(n, l.source(ts[1].Name), RoleShift, id, 0, 0)
	}
	l.use(n, l.source(ts[2].Name), RoleRunningMean, id, 0, 0)
	l.use(n, l.source(ts[3].Name), RoleRunningVar, id, 0, 0)
	return nil
}

// foldScale multiplies output channel c of dense or conv node id by
// scale[c] and then adds shift[c].
func (l *lowering) foldScale(id int, scale, shift []float64) {
	p := l.params[id]
	w := slices.Clone(p.Weight)
	per := len(w) / len(scale)
	for c, a := range scale {
		scaleAll(w[c*per:(c+1)*per], a)
	}
	b := make([]float64, len(scale))
	for c := range b {
		if p.Bias != nil {
			b[c] = p.Bias[c] * scale[c]
		}
		b[c] += shift[c]
	}
	l.params[id] = Params{Weight: w, Bias: b}
}

// trainingMode says whether a BatchNormalization normalizes by the batch:
// training_mode=1 from opset 14, is_test=0 before opset 7, and in
// between, running statistics among its outputs.
func (l *lowering) trainingMode(n *onnx.Node) (bool, error) {
	switch opset := l.m.Opset; {
	case opset >= 14:
		t, err := n.Int("training_mode", 0)
		return t != 0, err
	case opset < 7:
		t, err := n.Int("is_test", 0)
		return t == 0, err
	}
	outputs := 0
	for _, o := range n.Outputs {
		if o != "" {
			outputs++
		}
	}
	return outputs > 1, nil
}

// batchNormTraining lowers a training-mode batch norm: the normalization
// by the batch's statistics, then the affine map of its scale and shift.
// Its running statistics (extra outputs) must have no reader.
func (l *lowering) batchNormTraining(n *onnx.Node, x value, eps float64, ts [4]*onnx.Tensor, vs [4][]float64) error {
	for _, o := range n.Outputs[1:] {
		if o != "" && l.readers[o] > 0 && !l.isGraphOutput(o) {
			return unsupported("a node reads its running statistics %q: only the normalized output is supported", o)
		}
	}
	id, err := l.b.Norm(n.Name+"/normalize", x.node, arch.NormBatch, eps)
	if err != nil {
		return err
	}
	l.use(n, l.source(ts[2].Name), RoleRunningMean, id, 0, 0)
	l.use(n, l.source(ts[3].Name), RoleRunningVar, id, 0, 0)
	l.note("BatchNormalization %s is in training mode: it normalizes by the statistics of the batch it sees", n.Name)
	return l.affine(n, value{node: id, shape: x.shape}, vs[0], vs[1], ts[0], ts[1])
}

// isGraphOutput reports whether name is one of the model's outputs.
func (l *lowering) isGraphOutput(name string) bool {
	for _, o := range l.m.Graph.Outputs {
		if o.Name == name {
			return true
		}
	}
	return false
}
