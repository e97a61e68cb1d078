package lower

import (
	"fmt"
	"math"
	"slices"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/onnx"
)

// The handlers of the windowed ops: the geometry of Conv and pooling, and
// the Pad that PyTorch puts before an AveragePool.

// windowInput returns the first input of a Conv or pooling node, which
// must be an [N, C, H, W] or [N, C, L] activation, and the zero padding of
// a Pad node it reads through, if any.
func (l *lowering) windowInput(n *onnx.Node) (value, *pendingPad, error) {
	x, err := l.activation(n, 0)
	if err != nil {
		return value{}, nil, err
	}
	var pad *pendingPad
	if p, ok := l.pads[n.Inputs[0]]; ok {
		pad = &p
	}
	switch len(x.shape) {
	case 3, 4:
	case 5:
		return value{}, nil, unsupported("input %q of shape %v: 3-D convolutions and pooling are not supported", n.Inputs[0], x.shape)
	default:
		return value{}, nil, unsupported("input %q of shape %v: want [N, C, H, W] or [N, C, L]", n.Inputs[0], x.shape)
	}
	if !l.b.Shape(x.node).Spatial {
		return value{}, nil, unsupported("input %q is a vector (after global pooling): a window over it is not supported", n.Inputs[0])
	}
	return x, pad, nil
}

// geometry reads the window attributes of a Conv or pooling node over x
// whose kernel has the given spatial size, adding a Pad's padding.
func (l *lowering) geometry(n *onnx.Node, x value, kernel []int, pad *pendingPad) (arch.Geometry, error) {
	rank := len(x.shape) - 2
	var g arch.Geometry
	k, err := l.ints(n, "kernel_shape", toInt64(kernel), rank)
	if err != nil {
		return g, err
	}
	if !slices.Equal(k, toInt64(kernel)) {
		return g, fmt.Errorf("kernel_shape %v: the weight's kernel is %v", k, kernel)
	}
	strides, err := l.ints(n, "strides", fill(rank, 1), rank)
	if err != nil {
		return g, err
	}
	dil, err := l.ints(n, "dilations", fill(rank, 1), rank)
	if err != nil {
		return g, err
	}
	pads, err := l.ints(n, "pads", fill(2*rank, 0), 2*rank)
	if err != nil {
		return g, err
	}
	autoPad, err := n.String("auto_pad", "NOTSET")
	if err != nil {
		return g, err
	}
	in := []int64{x.shape[2]}
	if rank == 2 {
		in = append(in, x.shape[3])
	}
	switch autoPad {
	case "NOTSET", "":
	case "VALID":
		pads = fill(2*rank, 0)
	case "SAME_UPPER", "SAME_LOWER":
		for i := range rank {
			out := (in[i] + strides[i] - 1) / strides[i]
			total := max(0, (out-1)*strides[i]+(k[i]-1)*dil[i]+1-in[i])
			lo := total / 2
			if autoPad == "SAME_LOWER" {
				lo = total - total/2
			}
			pads[i], pads[rank+i] = lo, total-lo
		}
	default:
		return g, fmt.Errorf("auto_pad %q: want NOTSET, VALID, SAME_UPPER or SAME_LOWER", autoPad)
	}
	for _, v := range slices.Concat(k, strides, dil, pads) {
		if v < 0 || v > math.MaxInt32 {
			return g, fmt.Errorf("window attribute value %d: must be in [0, %d]", v, math.MaxInt32)
		}
	}
	g = arch.Geometry{KH: int(k[0]), KW: 1, SH: int(strides[0]), SW: 1, DH: int(dil[0]), DW: 1,
		Top: int(pads[0]), Bottom: int(pads[rank]), Groups: 1}
	if rank == 2 {
		g.KW, g.SW, g.DW, g.Left, g.Right = int(k[1]), int(strides[1]), int(dil[1]), int(pads[1]), int(pads[3])
	}
	if pad != nil {
		g.Top, g.Left, g.Bottom, g.Right = g.Top+pad.top, g.Left+pad.left, g.Bottom+pad.bottom, g.Right+pad.right
		l.note("Pad %s (zeros) merged into %s", pad.name, n.Name)
	}
	return g, nil
}

// ints reads an integer list attribute that must have want entries.
func (l *lowering) ints(n *onnx.Node, name string, def []int64, want int) ([]int64, error) {
	v, err := n.Ints(name, def)
	if err != nil {
		return nil, err
	}
	if len(v) != want {
		return nil, fmt.Errorf("attribute %s %v: want %d values", name, v, want)
	}
	return slices.Clone(v), nil
}

func fill(n int, v int64) []int64 {
	s := make([]int64, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func toInt64(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// pool lowers MaxPool and AveragePool.
func (l *lowering) pool(n *onnx.Node) error {
	x, pad, err := l.windowInput(n)
	if err != nil {
		return err
	}
	op := arch.OpMaxPool
	if n.Op == "AveragePool" {
		op = arch.OpAvgPool
	}
	if pad != nil && op == arch.OpMaxPool {
		return unsupported("reads the zero Pad %s: zero padding before a max pooling is not supported (use the pooling's own padding)", pad.name)
	}
	for _, o := range n.Outputs[1:] {
		if o != "" && l.readers[o] > 0 {
			return unsupported("a node reads its indices output %q", o)
		}
	}
	rank := len(x.shape) - 2
	k, err := n.Ints("kernel_shape", nil)
	if err != nil {
		return err
	}
	if len(k) != rank {
		return fmt.Errorf("kernel_shape %v: want %d values", k, rank)
	}
	kernel := make([]int, rank)
	for i, v := range k {
		if v < 1 || v > math.MaxInt32 {
			return fmt.Errorf("kernel_shape %v: sizes must be >= 1", k)
		}
		kernel[i] = int(v)
	}
	g, err := l.geometry(n, x, kernel, nil)
	if err != nil {
		return err
	}
	own := g.Top+g.Left+g.Bottom+g.Right > 0
	if op == arch.OpAvgPool {
		include, err := n.Int("count_include_pad", 0)
		if err != nil {
			return err
		}
		g.ExcludePad = own && include == 0
		if pad != nil && g.ExcludePad {
			return unsupported("reads the zero Pad %s and pads itself with count_include_pad=0: the divisor is ambiguous", pad.name)
		}
	}
	if pad != nil {
		g.Top, g.Left, g.Bottom, g.Right = g.Top+pad.top, g.Left+pad.left, g.Bottom+pad.bottom, g.Right+pad.right
		if pad.top+pad.left+pad.bottom+pad.right > 0 {
			l.note("Pad %s (zeros) merged into %s, counted in its averages (PyTorch's count_include_pad=True)", pad.name, n.Name)
		}
	}
	if err := l.ceilMode(n, x, g); err != nil {
		return err
	}
	id, err := l.b.Pool(n.Name, op, x.node, g)
	if err != nil {
		return err
	}
	l.setActivation(n, id, l.spatialShape(x, id))
	return nil
}

// ceilMode refuses ceil_mode=1 where rounding up would change the output
// size.
func (l *lowering) ceilMode(n *onnx.Node, x value, g arch.Geometry) error {
	c, err := n.Int("ceil_mode", 0)
	if err != nil || c == 0 {
		return err
	}
	axes := [][4]int{{int(x.shape[2]), g.Top + g.Bottom, (g.KH-1)*g.DH + 1, g.SH}}
	if len(x.shape) == 4 {
		axes = append(axes, [4]int{int(x.shape[3]), g.Left + g.Right, (g.KW-1)*g.DW + 1, g.SW})
	}
	for _, a := range axes {
		if span := a[0] + a[1] - a[2]; span >= 0 && span%a[3] != 0 {
			return unsupported("ceil_mode=1 rounds the output size up here: not supported")
		}
	}
	return nil
}

// gap lowers GlobalAveragePool: C x H x W -> C, kept as [N, C, 1, 1] (or
// [N, C, 1]) for the ONNX shapes that follow.
func (l *lowering) gap(n *onnx.Node) error {
	x, _, err := l.windowInput(n)
	if err != nil {
		return err
	}
	id, err := l.b.GlobalAvgPool(n.Name, x.node)
	if err != nil {
		return err
	}
	shape := []int64{x.shape[0], x.shape[1], 1, 1}[:len(x.shape)]
	l.setActivation(n, id, shape)
	return nil
}

// pad records a zero Pad of the spatial axes for the Conv or pooling that
// reads it (PyTorch's AvgPool2d(padding, count_include_pad=True) exports
// as Pad + AveragePool). A Pad of all zeros passes its input on.
func (l *lowering) pad(n *onnx.Node) error {
	x, err := l.activation(n, 0)
	if err != nil {
		return err
	}
	mode, err := n.String("mode", "constant")
	if err != nil {
		return err
	}
	if mode != "constant" {
		return unsupported("mode %q: only constant (zero) padding is supported", mode)
	}
	pads, value, err := l.padValues(n)
	if err != nil {
		return err
	}
	rank := len(x.shape)
	if len(pads) != 2*rank {
		return fmt.Errorf("pads %v: want %d values for an input of rank %d", pads, 2*rank, rank)
	}
	if slices.ContainsFunc(pads, func(p int64) bool { return p < 0 || p > math.MaxInt32 }) {
		return unsupported("pads %v: negative padding (cropping) is not supported", pads)
	}
	if pads[0] != 0 || pads[1] != 0 || pads[rank] != 0 || pads[rank+1] != 0 {
		return unsupported("pads %v: padding the batch or the channels is not supported", pads)
	}
	if all := !slices.ContainsFunc(pads, func(p int64) bool { return p != 0 }); all {
		l.values[n.Outputs[0]] = x
		return nil
	}
	if value != 0 {
		return unsupported("constant value %g: only zero padding is supported", value)
	}
	if rank != 3 && rank != 4 {
		return unsupported("pads an input of rank %d: only feature maps", rank)
	}
	p := pendingPad{from: x, name: n.Name, top: int(pads[2]), bottom: int(pads[rank+2])}
	if rank == 4 {
		p.left, p.right = int(pads[3]), int(pads[rank+3])
	}
	l.pads[n.Outputs[0]] = p
	return nil
}

// padValues reads a Pad's pads and constant value: attributes before
// opset 11, inputs from it.
func (l *lowering) padValues(n *onnx.Node) ([]int64, float64, error) {
	if l.m.Opset < 11 {
		pads, err := n.Ints("pads", nil)
		if err != nil {
			return nil, 0, err
		}
		v, err := n.Float("value", 0)
		return pads, float64(v), err
	}
	t, ok, err := l.constantInput(n, 1)
	if err != nil {
		return nil, 0, err
	}
	if !ok || t.Int == nil {
		return nil, 0, fmt.Errorf("input 1 (pads) must be an integer constant")
	}
	c, ok, err := l.constantInput(n, 2)
	if err != nil || !ok {
		return t.Int, 0, err
	}
	switch {
	case c.Size() != 1:
		return nil, 0, fmt.Errorf("input 2 (constant_value) of shape %v: want a scalar", c.Dims)
	case c.Float != nil:
		return t.Int, c.Float[0], nil
	}
	return t.Int, float64(c.Int[0]), nil
}
