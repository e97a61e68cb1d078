// Package arch describes network architectures: fully connected, convolutional
// and residual ReLU nets. It parses the compact spec grammar and the JSON form,
// computes every layer's shape, fan-in and fan-out, and rejects invalid nets
// with an error that names the offending field.
package arch

import (
	"fmt"
	"strings"
)

// Shape is the shape of the activation that flows between layers: a flat
// vector of C features (Spatial false, H = W = 1) or a C x H x W feature map.
type Shape struct {
	C, H, W int
	Spatial bool
}

// Flat returns the shape of a flat vector of n features.
func Flat(n int) Shape { return Shape{C: n, H: 1, W: 1} }

// Image returns the shape of a c x h x w feature map.
func Image(c, h, w int) Shape { return Shape{C: c, H: h, W: w, Spatial: true} }

// Size is the number of scalars in the activation.
func (s Shape) Size() int { return s.C * s.H * s.W }

// String writes the shape as "784" (flat) or "1x28x28" (feature map).
func (s Shape) String() string {
	if !s.Spatial {
		return fmt.Sprint(s.C)
	}
	return fmt.Sprintf("%dx%dx%d", s.C, s.H, s.W)
}

// Kind names what a layer does.
type Kind string

// The layer kinds.
const (
	Dense         Kind = "dense"    // fully connected: y = W x + b
	Conv          Kind = "conv"     // 2-D convolution with zero padding
	MaxPool       Kind = "maxpool"  // max pooling
	AvgPool       Kind = "avgpool"  // average pooling
	GlobalAvgPool Kind = "gap"      // average over all positions, C x H x W -> C
	Flatten       Kind = "flatten"  // C x H x W -> C*H*W
	Residual      Kind = "residual" // x + eta * module(x)
)

// Layer is one layer of a net, with its shapes filled in by Build. Only the
// fields that belong to its Kind are set.
type Layer struct {
	Kind Kind
	// ReLU says a dense or conv layer is followed by a ReLU (false: linear).
	ReLU bool
	// Units is the output width of a dense layer.
	Units int
	// Channels is the number of output channels of a conv layer.
	Channels int
	// Kernel and Stride describe a conv or pooling window (square); Pad is a
	// conv layer's zero padding.
	Kernel, Stride, Pad int
	// Module is the residual branch: two dense or two conv layers, the first
	// with a ReLU, the last with or without one.
	Module []Layer
	// Eta is the residual branch's scale.
	Eta float64
	// Block is the 1-based index of a residual block within its group, and
	// Blocks the size of that group (l and L of the eta schedule).
	Block, Blocks int
	// In and Out are the shapes the layer reads and writes.
	In, Out Shape
}

// FanIn is the number of inputs that feed one output unit: the input width of
// a dense layer, C_in * k * k for a conv layer, 0 for layers without weights.
func (l Layer) FanIn() int {
	switch l.Kind {
	case Dense:
		return l.In.Size()
	case Conv:
		return l.In.C * l.Kernel * l.Kernel
	}
	return 0
}

// FanOut is the number of outputs each input feeds, with PyTorch's convention:
// the output width of a dense layer, C_out * k * k for a conv layer, 0 for
// layers without weights.
func (l Layer) FanOut() int {
	switch l.Kind {
	case Dense:
		return l.Units
	case Conv:
		return l.Channels * l.Kernel * l.Kernel
	}
	return 0
}

// HasWeights reports whether the layer has a weight tensor of its own.
func (l Layer) HasWeights() bool { return l.Kind == Dense || l.Kind == Conv }

// Width is the layer's width for the fluctuation theory: the units of a dense
// layer, the output channels of a conv layer (weights are shared across
// positions) and the stream's channels for a residual block; 0 otherwise.
func (l Layer) Width() int {
	switch l.Kind {
	case Dense:
		return l.Units
	case Conv:
		return l.Channels
	case Residual:
		return l.Out.C
	}
	return 0
}

// Params is the number of weights and biases in the layer, module included.
func (l Layer) Params() int {
	switch l.Kind {
	case Dense, Conv:
		return l.FanIn()*l.Width() + l.Width()
	case Residual:
		n := 0
		for _, m := range l.Module {
			n += m.Params()
		}
		return n
	}
	return 0
}

// String describes the layer in the compact spec grammar (one layer, no repeat).
func (l Layer) String() string {
	act := ":linear"
	if l.ReLU {
		act = ":relu"
	}
	switch l.Kind {
	case Dense:
		return fmt.Sprintf("dense%d%s", l.Units, act)
	case Conv:
		return fmt.Sprintf("conv%dk%ds%dp%d%s", l.Channels, l.Kernel, l.Stride, l.Pad, act)
	case MaxPool, AvgPool:
		return fmt.Sprintf("%s%ds%d", l.Kind, l.Kernel, l.Stride)
	case Residual:
		end := "linear"
		if l.Module[len(l.Module)-1].ReLU {
			end = "relu"
		}
		m := l.Module[0]
		if m.Kind == Dense {
			return fmt.Sprintf("resdense%d:eta=%g:end=%s", m.Units, l.Eta, end)
		}
		return fmt.Sprintf("resconv%dk%d:eta=%g:end=%s", m.Channels, m.Kernel, l.Eta, end)
	}
	return string(l.Kind)
}

// Net is a validated network: an input shape and layers whose shapes chain.
type Net struct {
	Input  Shape
	Layers []Layer
	// Source is the text the net was parsed from, for reports.
	Source string
}

// Output is the shape of the net's output.
func (n *Net) Output() Shape {
	if len(n.Layers) == 0 {
		return n.Input
	}
	return n.Layers[len(n.Layers)-1].Out
}

// ReLULayers counts the ReLU layers, those inside residual modules included.
func (n *Net) ReLULayers() int {
	c := 0
	for _, l := range n.Layers {
		if l.ReLU {
			c++
		}
		for _, m := range l.Module {
			if m.ReLU {
				c++
			}
		}
	}
	return c
}

// ResidualBlocks counts the residual blocks.
func (n *Net) ResidualBlocks() int {
	c := 0
	for _, l := range n.Layers {
		if l.Kind == Residual {
			c++
		}
	}
	return c
}

// Params is the number of trainable scalars in the net.
func (n *Net) Params() int {
	c := 0
	for _, l := range n.Layers {
		c += l.Params()
	}
	return c
}

// String writes the net in the compact grammar, one layer per item, with
// consecutive identical layers folded into a repeat count.
func (n *Net) String() string {
	items := []string{n.Input.String()}
	for i := 0; i < len(n.Layers); {
		s := n.Layers[i].String()
		j := i + 1
		for j < len(n.Layers) && n.Layers[j].String() == s {
			j++
		}
		if j-i > 1 {
			s = foldRepeat(s, j-i)
		}
		items = append(items, s)
		i = j
	}
	return "net:" + strings.Join(items, ",")
}

// foldRepeat inserts a repeat count "xK" before the options of an item.
func foldRepeat(item string, k int) string {
	head, opts, found := strings.Cut(item, ":")
	if !found {
		return fmt.Sprintf("%sx%d", head, k)
	}
	return fmt.Sprintf("%sx%d:%s", head, k, opts)
}
