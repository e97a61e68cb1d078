package nn

import (
	"fmt"

	"github.com/initscope/initscope/tensor"
)

// window is the geometry of a pooling layer: kh×kw windows moved by sh
// rows and sw columns over each channel, without padding.
type window struct {
	in, out        Shape
	kh, kw, sh, sw int
}

func newWindow(name string, in Shape, kernel, stride int) (window, error) {
	switch {
	case !in.valid():
		return window{}, fmt.Errorf("%s: input shape %v: dimensions must be >= 1", name, in)
	case kernel < 1 || stride < 1:
		return window{}, fmt.Errorf("%s: kernel %d, stride %d: both must be >= 1", name, kernel, stride)
	case kernel > in.H || kernel > in.W:
		return window{}, fmt.Errorf("%s: kernel %d larger than the %d×%d input", name, kernel, in.H, in.W)
	}
	out := Shape{C: in.C, H: (in.H-kernel)/stride + 1, W: (in.W-kernel)/stride + 1}
	return window{in: in, out: out, kh: kernel, kw: kernel, sh: stride, sw: stride}, nil
}

// InShape is the input image's shape.
func (w *window) InShape() Shape { return w.in }

// OutShape is the output image's shape.
func (w *window) OutShape() Shape { return w.out }

// pool2d is a pooling layer: max pooling if max is set, else averaging.
type pool2d[T tensor.Float] struct {
	window
	max    bool
	argmax []int32 // per output value, the index of the maximum in its input plane
	y, dx  []T
	pass   poolPass[T]
}

// MaxPool2d takes the maximum over each kernel×kernel window (PyTorch's
// nn.MaxPool2d without padding).
type MaxPool2d[T tensor.Float] struct{ pool2d[T] }

// AvgPool2d averages each window (PyTorch's nn.AvgPool2d without padding).
type AvgPool2d[T tensor.Float] struct{ pool2d[T] }

// NewMaxPool2d returns a max-pooling layer over kernel×kernel windows with
// the given stride.
func NewMaxPool2d[T tensor.Float](in Shape, kernel, stride int) (*MaxPool2d[T], error) {
	w, err := newWindow("max pooling", in, kernel, stride)
	if err != nil {
		return nil, err
	}
	return &MaxPool2d[T]{pool2d[T]{window: w, max: true}}, nil
}

// NewAvgPool2d returns an average-pooling layer over kernel×kernel windows
// with the given stride.
func NewAvgPool2d[T tensor.Float](in Shape, kernel, stride int) (*AvgPool2d[T], error) {
	w, err := newWindow("average pooling", in, kernel, stride)
	if err != nil {
		return nil, err
	}
	return &AvgPool2d[T]{pool2d[T]{window: w}}, nil
}

// NewGlobalAvgPool returns the layer that averages each channel over the
// whole image, turning C×H×W into a vector of C values (PyTorch's
// nn.AdaptiveAvgPool2d(1) followed by a flatten).
func NewGlobalAvgPool[T tensor.Float](in Shape) (*AvgPool2d[T], error) {
	if !in.valid() {
		return nil, fmt.Errorf("global average pooling: input shape %v: dimensions must be >= 1", in)
	}
	w := window{in: in, out: Vec(in.C), kh: in.H, kw: in.W, sh: in.H, sw: in.W}
	return &AvgPool2d[T]{pool2d[T]{window: w}}, nil
}

// Params returns nil: pooling has no parameters.
func (p *pool2d[T]) Params() []*Param[T] { return nil }

// Forward returns each window's maximum or mean.
func (p *pool2d[T]) Forward(x []T, batch int) []T {
	p.y = grow(p.y, batch*p.out.Size())
	if p.max {
		p.argmax = grow(p.argmax, len(p.y))
	}
	p.pass = poolPass[T]{pool: p, x: x}
	tensor.Parallel(batch*p.in.C, elemGrain/(p.in.H*p.in.W)+1, &p.pass)
	return p.y
}

// Backward routes each output gradient to its window's maximum, or spreads
// it evenly over its window.
func (p *pool2d[T]) Backward(dy []T, needInput bool) []T {
	if !needInput {
		return nil
	}
	batch := len(dy) / p.out.Size()
	p.dx = grow(p.dx, batch*p.in.Size())
	p.pass = poolPass[T]{pool: p, dy: dy}
	tensor.Parallel(batch*p.in.C, elemGrain/(p.in.H*p.in.W)+1, &p.pass)
	return p.dx
}

// poolPass is a forward pass (x set) or backward pass (dy set) of a pooling
// layer. Its range runs over (sample, channel) planes.
type poolPass[T tensor.Float] struct {
	pool  *pool2d[T]
	x, dy []T
}

func (t *poolPass[T]) Range(lo, hi int) {
	p := t.pool
	pin, pout := p.in.H*p.in.W, p.out.H*p.out.W
	for q := lo; q < hi; q++ {
		var arg []int32
		if p.max {
			arg = p.argmax[q*pout:][:pout]
		}
		if t.dy == nil {
			p.forwardPlane(t.x[q*pin:][:pin], p.y[q*pout:][:pout], arg)
			continue
		}
		dx, dy := p.dx[q*pin:][:pin], t.dy[q*pout:][:pout]
		clear(dx)
		if p.max {
			for o, g := range dy {
				dx[arg[o]] += g
			}
			continue
		}
		scale := 1 / T(p.kh*p.kw)
		for oh := range p.out.H {
			for ow, g := range dy[oh*p.out.W:][:p.out.W] {
				g *= scale
				start := oh*p.sh*p.in.W + ow*p.sw
				for i := range p.kh {
					row := dx[start+i*p.in.W:][:p.kw]
					for j := range row {
						row[j] += g
					}
				}
			}
		}
	}
}

// forwardPlane pools one input plane x into y, recording the maxima's
// positions in arg for max pooling. For each row of outputs it sweeps the
// window offsets one by one over the whole row, so that consecutive steps
// are independent and the unpredictable comparisons need no branches.
func (p *pool2d[T]) forwardPlane(x, y []T, arg []int32) {
	kh, kw, sh, sw, inW, outW := p.kh, p.kw, p.sh, p.sw, p.in.W, p.out.W
	for oh := range p.out.H {
		ys := y[oh*outW:][:outW]
		var args []int32
		if p.max {
			args = arg[oh*outW:][:outW]
		}
		base := oh * sh * inW
		for ow := range ys {
			ys[ow] = x[base+ow*sw]
			if p.max {
				args[ow] = int32(base + ow*sw)
			}
		}
		for i := range kh {
			for j := range kw {
				if i == 0 && j == 0 {
					continue
				}
				off := base + i*inW + j
				if !p.max {
					for ow := range ys {
						ys[ow] += x[off+ow*sw]
					}
					continue
				}
				for ow := range ys {
					at := off + ow*sw
					v := x[at]
					var above int32
					if v > ys[ow] {
						above = 1
					}
					args[ow] += (int32(at) - args[ow]) * above
					ys[ow] = max(ys[ow], v)
				}
			}
		}
		if !p.max {
			scale := 1 / T(kh*kw)
			for ow := range ys {
				ys[ow] *= scale
			}
		}
	}
}
