package arch

import (
	"fmt"
	"strconv"
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
// apply to the types listed beside them. A nil number or an empty string is
// a field not given, which takes its default; a number that is given must
// be >= 1 (pad >= 0) whatever the field: 0 never stands for the default.
type LayerSpec struct {
	// Type is dense, conv, maxpool, avgpool, gap, flatten or residual.
	Type string `json:"type"`
	// Units is the width of a dense layer (required) or of a dense
	// residual module (default: the stream's width).
	Units *int `json:"units,omitempty"`
	// Channels is the output channels of a conv layer (required) or of a
	// conv residual module (default: the stream's channels).
	Channels *int `json:"channels,omitempty"`
	// Kernel is the window size of conv, pooling and conv residual modules
	// (required).
	Kernel *int `json:"kernel,omitempty"`
	// Stride of conv, pooling and conv residual modules with a projection
	// shortcut (default 1 for conv, the kernel for pooling).
	Stride *int `json:"stride,omitempty"`
	// Pad is the zero padding of a conv layer (default kernel/2; pooling takes none).
	Pad *int `json:"pad,omitempty"`
	// Activation of dense and conv layers: relu or linear. Default relu,
	// except the net's last layer, which defaults to linear (the logits).
	Activation string `json:"activation,omitempty"`
	// Repeat is how many consecutive copies of a layer, or how many blocks of
	// a residual group (default 1).
	Repeat *int `json:"repeat,omitempty"`
	// Module is the residual module's kind: dense or conv.
	Module string `json:"module,omitempty"`
	// Eta is the residual schedule (see ParseSchedule), default "1".
	Eta string `json:"eta,omitempty"`
	// End is how a residual module ends: relu (default, the paper's setting) or linear.
	End string `json:"end,omitempty"`
	// Shortcut is a residual block's skip path: identity (default) or proj,
	// a linear projection (dense, or a 1x1 conv with the module's stride)
	// that lets the block change the width, as in ResNet v1's
	// downsampling blocks.
	Shortcut string `json:"shortcut,omitempty"`
	// Post is what follows a residual join: none (default) or relu, the
	// ReLU after the add of ResNet v1.
	Post string `json:"post,omitempty"`
}

// Errors from Build and the parsers name the item with its 1-based position.
func itemErr(i int, ls LayerSpec, format string, a ...any) error {
	return fmt.Errorf("layer item %d (%s): %s", i+1, ls.Type, fmt.Sprintf(format, a...))
}

// Build validates a Spec and lowers it to a Graph. Nodes are named by
// their layer's 1-based position: "3" and "3.relu" for a dense or conv
// layer, "5.branch.1", "5.scale", "5.shortcut", "5.add" and "5.relu"
// inside a residual block.
func Build(s Spec) (*Graph, error) {
	in, err := inputShape(s.Input)
	if err != nil {
		return nil, err
	}
	if len(s.Layers) == 0 {
		return nil, fmt.Errorf("layers: a net needs at least one layer after the input")
	}
	b, err := NewBuilder(in)
	if err != nil {
		return nil, err
	}
	cur, layer := 0, 0
	for i, ls := range s.Layers {
		if err := ls.checkNumbers(); err != nil {
			return nil, itemErr(i, ls, "%v", err)
		}
		rep := intOr(ls.Repeat, 1)
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
			layer++
			if layer > maxLayers {
				return nil, fmt.Errorf("layers: more than %d layers", maxLayers)
			}
			it := item{b: b, spec: ls, name: strconv.Itoa(layer), last: last && r == rep-1}
			if etas != nil {
				it.eta, it.block, it.blocks = etas[r], r+1, rep
			}
			if cur, err = it.lower(cur); err != nil {
				if rep > 1 {
					return nil, itemErr(i, ls, "copy %d of %d: %v", r+1, rep, err)
				}
				return nil, itemErr(i, ls, "%v", err)
			}
		}
	}
	return b.Graph()
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

func intOr(p *int, d int) int {
	if p == nil {
		return d
	}
	return *p
}

// checkNumbers rejects a number field that is given with a value that
// means nothing: every count and size must be >= 1, a pad >= 0.
func (ls LayerSpec) checkNumbers() error {
	for _, f := range []struct {
		name string
		v    *int
		min  int
	}{{"units", ls.Units, 1}, {"channels", ls.Channels, 1}, {"kernel", ls.Kernel, 1}, {"stride", ls.Stride, 1}, {"pad", ls.Pad, 0}, {"repeat", ls.Repeat, 1}} {
		if f.v != nil && *f.v < f.min {
			return fmt.Errorf("%s %d: must be >= %d", f.name, *f.v, f.min)
		}
	}
	return nil
}

// required returns a number field that the layer type needs.
func required(field string, v *int, what string) (int, error) {
	if v == nil {
		return 0, fmt.Errorf("%s missing: %s", field, what)
	}
	return *v, nil
}

// unused reports fields set on a layer type that does not read them.
func unused(ls LayerSpec, allowed ...string) error {
	set := map[string]bool{
		"units":      ls.Units != nil,
		"channels":   ls.Channels != nil,
		"kernel":     ls.Kernel != nil,
		"stride":     ls.Stride != nil,
		"pad":        ls.Pad != nil,
		"activation": ls.Activation != "",
		"module":     ls.Module != "",
		"eta":        ls.Eta != "",
		"end":        ls.End != "",
		"shortcut":   ls.Shortcut != "",
		"post":       ls.Post != "",
	}
	for _, a := range allowed {
		delete(set, a)
	}
	for _, f := range []string{"units", "channels", "kernel", "stride", "pad", "activation", "module", "eta", "end", "shortcut", "post"} {
		if set[f] {
			return fmt.Errorf("field %s does not apply to a %s layer", f, ls.Type)
		}
	}
	return nil
}

// item lowers one copy of a spec item into the graph.
type item struct {
	b    *Builder
	spec LayerSpec
	name string
	// last says this is the net's last layer (linear by default).
	last bool
	// eta, block and blocks place a residual block in its schedule.
	eta           float64
	block, blocks int
}

// relu reads the activation of a dense or conv item.
func (it item) relu() (bool, error) {
	switch it.spec.Activation {
	case "":
		return !it.last, nil
	case "relu":
		return true, nil
	case "linear":
		return false, nil
	}
	return false, fmt.Errorf("activation %q: must be relu or linear", it.spec.Activation)
}

// withReLU adds a ReLU named name+".relu" after node id if relu is set,
// and returns the last node.
func (it item) withReLU(name string, id int, relu bool, err error) (int, error) {
	if err != nil || !relu {
		return id, err
	}
	return it.b.ReLU(name+".relu", id)
}

// lower adds the item's nodes after node cur and returns the last one.
func (it item) lower(cur int) (int, error) {
	ls, b := it.spec, it.b
	switch ls.Type {
	case "dense":
		if err := unused(ls, "units", "activation"); err != nil {
			return 0, err
		}
		units, err := required("units", ls.Units, "a dense layer needs its width, units >= 1")
		if err != nil {
			return 0, err
		}
		relu, err := it.relu()
		if err != nil {
			return 0, err
		}
		id, err := b.Dense(it.name, cur, units)
		return it.withReLU(it.name, id, relu, err)
	case "conv":
		if err := unused(ls, "channels", "kernel", "stride", "pad", "activation"); err != nil {
			return 0, err
		}
		ch, err := required("channels", ls.Channels, "a conv layer needs its output channels, channels >= 1")
		if err != nil {
			return 0, err
		}
		k, err := required("kernel", ls.Kernel, "a conv layer needs its kernel size, kernel >= 1")
		if err != nil {
			return 0, err
		}
		relu, err := it.relu()
		if err != nil {
			return 0, err
		}
		id, err := b.Conv(it.name, cur, ch, Square(k, intOr(ls.Stride, 1), intOr(ls.Pad, k/2)))
		return it.withReLU(it.name, id, relu, err)
	case "maxpool", "avgpool":
		if err := unused(ls, "kernel", "stride"); err != nil {
			return 0, err
		}
		k, err := required("kernel", ls.Kernel, "a pooling layer needs its window size, kernel >= 1")
		if err != nil {
			return 0, err
		}
		return b.Pool(it.name, Op(ls.Type), cur, Square(k, intOr(ls.Stride, k), 0))
	case "gap":
		if err := unused(ls); err != nil {
			return 0, err
		}
		return b.GlobalAvgPool(it.name, cur)
	case "flatten":
		if err := unused(ls); err != nil {
			return 0, err
		}
		return b.Flatten(it.name, cur)
	case "residual":
		if err := unused(ls, "module", "units", "channels", "kernel", "stride", "eta", "end", "shortcut", "post"); err != nil {
			return 0, err
		}
		return it.residual(cur)
	case "":
		return 0, fmt.Errorf("type missing: must be one of dense, conv, maxpool, avgpool, gap, flatten, residual")
	}
	return 0, fmt.Errorf("type %q: must be one of dense, conv, maxpool, avgpool, gap, flatten, residual", ls.Type)
}

// choice reads an option that takes one of two values, the first the default.
func choice(field, v, def, alt string) (bool, error) {
	switch v {
	case "", def:
		return false, nil
	case alt:
		return true, nil
	}
	return false, fmt.Errorf("%s %q: must be %s or %s", field, v, def, alt)
}

// residual lowers a residual block: skip(x) + eta * N(x), with N two dense
// or conv layers, the first with a ReLU, then a ReLU if post=relu.
func (it item) residual(cur int) (int, error) {
	ls, b := it.spec, it.b
	linearEnd, err := choice("end", ls.End, "relu", "linear")
	if err != nil {
		return 0, err
	}
	proj, err := choice("shortcut", ls.Shortcut, "identity", "proj")
	if err != nil {
		return 0, err
	}
	post, err := choice("post", ls.Post, "none", "relu")
	if err != nil {
		return 0, err
	}
	in := b.Shape(cur)
	var branch, skip int
	switch ls.Module {
	case "dense":
		branch, skip, err = it.denseModule(cur, in, !linearEnd, proj)
	case "conv":
		branch, skip, err = it.convModule(cur, in, !linearEnd, proj)
	default:
		return 0, fmt.Errorf("module %q: must be dense or conv", ls.Module)
	}
	if err != nil {
		return 0, err
	}
	scaled, err := b.Scale(it.name+".scale", branch, it.eta, it.block, it.blocks)
	if err != nil {
		return 0, err
	}
	id, err := b.Add(it.name+".add", skip, scaled)
	return it.withReLU(it.name, id, post, err)
}

// denseModule adds a dense module (and a projection shortcut if proj) and
// returns the ends of the branch and of the skip path.
func (it item) denseModule(cur int, in Shape, endReLU, proj bool) (branch, skip int, err error) {
	ls, b := it.spec, it.b
	if ls.Channels != nil || ls.Kernel != nil || ls.Stride != nil {
		return 0, 0, fmt.Errorf("a dense module takes units, not channels, kernel or stride")
	}
	if in.Spatial {
		return 0, 0, fmt.Errorf("input %s is a feature map: a dense residual module needs a vector (flatten first)", in)
	}
	units := intOr(ls.Units, in.C)
	if units != in.C && !proj {
		return 0, 0, fmt.Errorf("units %d: a residual module must keep the stream's width %d (or take a projection shortcut, shortcut=proj)", units, in.C)
	}
	n1, n2 := it.name+".branch.1", it.name+".branch.2"
	first, err := b.Dense(n1, cur, units)
	first, err = it.withReLU(n1, first, true, err)
	if err == nil {
		branch, err = b.Dense(n2, first, units)
		branch, err = it.withReLU(n2, branch, endReLU, err)
	}
	skip = cur
	if err == nil && proj {
		skip, err = b.Dense(it.name+".shortcut", cur, units)
	}
	return branch, skip, err
}

// convModule adds a conv module (and a projection shortcut if proj) and
// returns the ends of the branch and of the skip path.
func (it item) convModule(cur int, in Shape, endReLU, proj bool) (branch, skip int, err error) {
	ls, b := it.spec, it.b
	if ls.Units != nil {
		return 0, 0, fmt.Errorf("a conv module takes channels and kernel, not units")
	}
	if !in.Spatial {
		return 0, 0, fmt.Errorf("input %s is a vector: a conv residual module needs a c x h x w feature map", in)
	}
	k, err := required("kernel", ls.Kernel, "a conv residual module needs an odd kernel size")
	if err != nil {
		return 0, 0, err
	}
	ch, stride := intOr(ls.Channels, in.C), intOr(ls.Stride, 1)
	if ch != in.C && !proj {
		return 0, 0, fmt.Errorf("channels %d: a residual module must keep the stream's %d channels (or take a projection shortcut, shortcut=proj)", ch, in.C)
	}
	if stride != 1 && !proj {
		return 0, 0, fmt.Errorf("stride %d: an identity shortcut needs stride 1 (a strided block takes shortcut=proj)", stride)
	}
	if k%2 == 0 {
		return 0, 0, fmt.Errorf("kernel %d: a conv residual module needs an odd kernel (same padding keeps the shape)", k)
	}
	n1, n2 := it.name+".branch.1", it.name+".branch.2"
	first, err := b.Conv(n1, cur, ch, Square(k, stride, k/2))
	first, err = it.withReLU(n1, first, true, err)
	if err == nil {
		branch, err = b.Conv(n2, first, ch, Square(k, 1, k/2))
		branch, err = it.withReLU(n2, branch, endReLU, err)
	}
	skip = cur
	if err == nil && proj {
		skip, err = b.Conv(it.name+".shortcut", cur, ch, Square(1, stride, 0))
	}
	return branch, skip, err
}
