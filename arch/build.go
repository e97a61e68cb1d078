package arch

import (
	"fmt"
)

// Spec is the declarative form of a net, shared by the compact grammar and the
// JSON form: an input shape and a list of layer items, each possibly repeated.
type Spec struct {
	// Input is the input shape: [n] for a flat vector, [c, h, w] for an image.
	Input []int `json:"input"`
	// Layers are the items after the input, in order.
	Layers []LayerSpec `json:"layers"`
}

// LayerSpec is one item of a Spec. Type selects the layer; the other fields
// apply to the types listed beside them.
type LayerSpec struct {
	// Type is dense, conv, maxpool, avgpool, gap, flatten or residual.
	Type string `json:"type"`
	// Units is the width of a dense layer or of a dense residual module.
	Units int `json:"units,omitempty"`
	// Channels is the output channels of a conv layer.
	Channels int `json:"channels,omitempty"`
	// Kernel is the window size of conv, pooling and conv residual modules.
	Kernel int `json:"kernel,omitempty"`
	// Stride of conv and pooling (default 1 for conv, the kernel for pooling).
	Stride *int `json:"stride,omitempty"`
	// Pad is the zero padding of a conv layer (default kernel/2; pooling takes none).
	Pad *int `json:"pad,omitempty"`
	// Activation of dense and conv layers: relu or linear. Default relu,
	// except the net's last layer, which defaults to linear (the logits).
	Activation string `json:"activation,omitempty"`
	// Repeat is how many consecutive copies of a layer, or how many blocks of
	// a residual group (default 1).
	Repeat int `json:"repeat,omitempty"`
	// Module is the residual module's kind: dense or conv.
	Module string `json:"module,omitempty"`
	// Eta is the residual schedule (see ParseSchedule), default "1".
	Eta string `json:"eta,omitempty"`
	// End is how a residual module ends: relu (default, the paper's setting) or linear.
	End string `json:"end,omitempty"`
}

// Errors from Build and the parsers name the item with its 1-based position.
func itemErr(i int, ls LayerSpec, format string, a ...any) error {
	return fmt.Errorf("layer item %d (%s): %s", i+1, ls.Type, fmt.Sprintf(format, a...))
}

// Build validates a Spec and computes every layer's shapes.
func Build(s Spec) (*Net, error) {
	in, err := inputShape(s.Input)
	if err != nil {
		return nil, err
	}
	if len(s.Layers) == 0 {
		return nil, fmt.Errorf("layers: a net needs at least one layer after the input")
	}
	net := &Net{Input: in}
	cur := in
	for i, ls := range s.Layers {
		rep := ls.Repeat
		if rep == 0 {
			rep = 1
		}
		if rep < 0 {
			return nil, itemErr(i, ls, "repeat %d: must be >= 1", ls.Repeat)
		}
		if rep > maxLayers {
			return nil, itemErr(i, ls, "repeat %d: at most %d layers are supported", rep, maxLayers)
		}
		last := i == len(s.Layers)-1
		var etas []float64
		if ls.Type == "residual" {
			if etas, err = ParseSchedule(orDefault(ls.Eta, "1"), rep); err != nil {
				return nil, itemErr(i, ls, "eta: %v", err)
			}
		}
		for r := 0; r < rep; r++ {
			l, err := buildLayer(ls, cur, last && r == rep-1)
			if err != nil {
				if rep > 1 {
					return nil, itemErr(i, ls, "copy %d of %d: %v", r+1, rep, err)
				}
				return nil, itemErr(i, ls, "%v", err)
			}
			if l.Kind == Residual {
				l.Eta, l.Block, l.Blocks = etas[r], r+1, rep
			}
			net.Layers = append(net.Layers, l)
			if len(net.Layers) > maxLayers {
				return nil, fmt.Errorf("layers: more than %d layers", maxLayers)
			}
			cur = l.Out
		}
	}
	return net, nil
}

// maxLayers bounds the depth of a net (and so the memory a typo could ask for).
const maxLayers = 100000

// maxSize bounds any one activation's size.
const maxSize = 1 << 28

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func inputShape(in []int) (Shape, error) {
	for _, v := range in {
		if v < 1 {
			return Shape{}, fmt.Errorf("input %v: sizes must be >= 1", in)
		}
	}
	var s Shape
	switch len(in) {
	case 1:
		s = Flat(in[0])
	case 3:
		s = Image(in[0], in[1], in[2])
	default:
		return Shape{}, fmt.Errorf("input %v: give n (a vector) or c x h x w (an image)", in)
	}
	if s.Size() > maxSize {
		return Shape{}, fmt.Errorf("input %v: %d values is more than the %d supported", in, s.Size(), maxSize)
	}
	return s, nil
}

func activation(ls LayerSpec, last bool) (bool, error) {
	switch ls.Activation {
	case "":
		return !last, nil
	case "relu":
		return true, nil
	case "linear":
		return false, nil
	}
	return false, fmt.Errorf("activation %q: must be relu or linear", ls.Activation)
}

func intOr(p *int, d int) int {
	if p == nil {
		return d
	}
	return *p
}

// unused reports fields set on a layer type that does not read them.
func unused(ls LayerSpec, allowed ...string) error {
	set := map[string]bool{
		"units":      ls.Units != 0,
		"channels":   ls.Channels != 0,
		"kernel":     ls.Kernel != 0,
		"stride":     ls.Stride != nil,
		"pad":        ls.Pad != nil,
		"activation": ls.Activation != "",
		"module":     ls.Module != "",
		"eta":        ls.Eta != "",
		"end":        ls.End != "",
	}
	for _, a := range allowed {
		delete(set, a)
	}
	for _, f := range []string{"units", "channels", "kernel", "stride", "pad", "activation", "module", "eta", "end"} {
		if set[f] {
			return fmt.Errorf("field %s does not apply to a %s layer", f, ls.Type)
		}
	}
	return nil
}

func buildLayer(ls LayerSpec, in Shape, last bool) (Layer, error) {
	switch ls.Type {
	case "dense":
		if err := unused(ls, "units", "activation"); err != nil {
			return Layer{}, err
		}
		relu, err := activation(ls, last)
		if err != nil {
			return Layer{}, err
		}
		return denseLayer(ls.Units, relu, in)
	case "conv":
		if err := unused(ls, "channels", "kernel", "stride", "pad", "activation"); err != nil {
			return Layer{}, err
		}
		relu, err := activation(ls, last)
		if err != nil {
			return Layer{}, err
		}
		return convLayer(ls.Channels, ls.Kernel, intOr(ls.Stride, 1), intOr(ls.Pad, ls.Kernel/2), relu, in)
	case "maxpool", "avgpool":
		if err := unused(ls, "kernel", "stride"); err != nil {
			return Layer{}, err
		}
		return poolLayer(Kind(ls.Type), ls.Kernel, intOr(ls.Stride, ls.Kernel), in)
	case "gap":
		if err := unused(ls); err != nil {
			return Layer{}, err
		}
		if !in.Spatial {
			return Layer{}, fmt.Errorf("input %s is a vector: gap needs a c x h x w feature map", in)
		}
		return Layer{Kind: GlobalAvgPool, In: in, Out: Flat(in.C)}, nil
	case "flatten":
		if err := unused(ls); err != nil {
			return Layer{}, err
		}
		return Layer{Kind: Flatten, In: in, Out: Flat(in.Size())}, nil
	case "residual":
		if err := unused(ls, "module", "units", "channels", "kernel", "eta", "end"); err != nil {
			return Layer{}, err
		}
		return residualLayer(ls, in)
	case "":
		return Layer{}, fmt.Errorf("type missing: must be one of dense, conv, maxpool, avgpool, gap, flatten, residual")
	}
	return Layer{}, fmt.Errorf("type %q: must be one of dense, conv, maxpool, avgpool, gap, flatten, residual", ls.Type)
}

func denseLayer(units int, relu bool, in Shape) (Layer, error) {
	if units < 1 {
		return Layer{}, fmt.Errorf("width %d: widths must be >= 1", units)
	}
	if in.Spatial {
		return Layer{}, fmt.Errorf("input %s is a feature map: put flatten or gap before a dense layer", in)
	}
	if units > maxSize || in.Size()*units > maxSize*4 {
		return Layer{}, fmt.Errorf("width %d: a %dx%d weight matrix is larger than supported (%d entries)", units, units, in.Size(), maxSize*4)
	}
	return Layer{Kind: Dense, Units: units, ReLU: relu, In: in, Out: Flat(units)}, nil
}

// windowOut is the output length of a window of size k, stride s and padding p over n.
func windowOut(n, k, s, p int) int { return (n+2*p-k)/s + 1 }

func checkWindow(k, s, p int, in Shape) error {
	if !in.Spatial {
		return fmt.Errorf("input %s is a vector: this layer needs a c x h x w feature map", in)
	}
	if k < 1 {
		return fmt.Errorf("kernel %d: must be >= 1", k)
	}
	if s < 1 {
		return fmt.Errorf("stride %d: must be >= 1", s)
	}
	if p < 0 || p >= k {
		return fmt.Errorf("pad %d: must be in [0, kernel-1 = %d]", p, k-1)
	}
	if in.H+2*p < k || in.W+2*p < k {
		return fmt.Errorf("kernel %d with pad %d does not fit the %dx%d input", k, p, in.H, in.W)
	}
	return nil
}

func convLayer(ch, k, s, p int, relu bool, in Shape) (Layer, error) {
	if ch < 1 {
		return Layer{}, fmt.Errorf("channels %d: must be >= 1", ch)
	}
	if err := checkWindow(k, s, p, in); err != nil {
		return Layer{}, err
	}
	out := Image(ch, windowOut(in.H, k, s, p), windowOut(in.W, k, s, p))
	if out.Size() > maxSize || ch*in.C*k*k > maxSize {
		return Layer{}, fmt.Errorf("channels %d: output %s is larger than supported", ch, out)
	}
	return Layer{Kind: Conv, Channels: ch, Kernel: k, Stride: s, Pad: p, ReLU: relu, In: in, Out: out}, nil
}

func poolLayer(kind Kind, k, s int, in Shape) (Layer, error) {
	if err := checkWindow(k, s, 0, in); err != nil {
		return Layer{}, err
	}
	out := Image(in.C, windowOut(in.H, k, s, 0), windowOut(in.W, k, s, 0))
	return Layer{Kind: kind, Kernel: k, Stride: s, In: in, Out: out}, nil
}

func residualLayer(ls LayerSpec, in Shape) (Layer, error) {
	var endReLU bool
	switch ls.End {
	case "", "relu":
		endReLU = true
	case "linear":
	default:
		return Layer{}, fmt.Errorf("end %q: must be relu or linear", ls.End)
	}
	var a, b Layer
	var err error
	switch ls.Module {
	case "dense":
		if ls.Channels != 0 || ls.Kernel != 0 {
			return Layer{}, fmt.Errorf("a dense module takes units, not channels or kernel")
		}
		if in.Spatial {
			return Layer{}, fmt.Errorf("input %s is a feature map: a dense residual module needs a vector (flatten first)", in)
		}
		if ls.Units != 0 && ls.Units != in.C {
			return Layer{}, fmt.Errorf("units %d: a residual module must keep the stream's width %d", ls.Units, in.C)
		}
		if a, err = denseLayer(in.C, true, in); err == nil {
			b, err = denseLayer(in.C, endReLU, in)
		}
	case "conv":
		if ls.Units != 0 {
			return Layer{}, fmt.Errorf("a conv module takes channels and kernel, not units")
		}
		if !in.Spatial {
			return Layer{}, fmt.Errorf("input %s is a vector: a conv residual module needs a c x h x w feature map", in)
		}
		if ls.Channels != 0 && ls.Channels != in.C {
			return Layer{}, fmt.Errorf("channels %d: a residual module must keep the stream's %d channels", ls.Channels, in.C)
		}
		if ls.Kernel%2 == 0 {
			return Layer{}, fmt.Errorf("kernel %d: a conv residual module needs an odd kernel (same padding keeps the shape)", ls.Kernel)
		}
		if a, err = convLayer(in.C, ls.Kernel, 1, ls.Kernel/2, true, in); err == nil {
			b, err = convLayer(in.C, ls.Kernel, 1, ls.Kernel/2, endReLU, in)
		}
	default:
		return Layer{}, fmt.Errorf("module %q: must be dense or conv", ls.Module)
	}
	if err != nil {
		return Layer{}, err
	}
	return Layer{Kind: Residual, Module: []Layer{a, b}, In: in, Out: in}, nil
}
