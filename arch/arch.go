// Package arch describes network architectures as one network graph (Graph):
// a directed acyclic graph of typed nodes (input, dense, conv, relu, add,
// scale, pooling, flatten, normalization placeholders) with the shape,
// fan-in and fan-out of every node. The fc: and net: spec grammars and the
// JSON form lower to it (Parse, Build), as other front ends (model files)
// can through a Builder; Layers recognizes in any graph the layers and
// residual blocks the theory has laws for. The package also owns the layer
// geometry (Window: output shapes, im2col windows, pooling windows) that
// both executors share. Invalid nets are rejected with an error that names
// the offending item and field.
package arch

import "fmt"

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
