package nn

import (
	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/tensor"
)

// pool is a max or average pooling node (max pooling if max is set) over
// the windows of w, which have no padding (PyTorch's nn.MaxPool2d and
// nn.AvgPool2d without padding).
type pool[T tensor.Float] struct {
	w       arch.Window
	max     bool
	threads int
	argmax  []int32 // per output value, the index of the maximum in its input plane
	y, dx   []T
	pass    poolPass[T]
}

func (p *pool[T]) params() []*Param[T] { return nil }

func (p *pool[T]) overwrites() bool { return false }

// forward returns each window's maximum or mean.
func (p *pool[T]) forward(in [][]T, batch int) []T {
	p.y = grow(p.y, batch*p.w.Out.Size())
	if p.max {
		p.argmax = grow(p.argmax, len(p.y))
	}
	p.pass = poolPass[T]{pool: p, x: in[0]}
	tensor.Parallel(p.threads, batch*p.w.In.C, p.grain(), &p.pass)
	return p.y
}

// backward routes each output gradient to its window's maximum, or spreads
// it evenly over its window.
func (p *pool[T]) backward(dy []T, dx [][]T) {
	if dx == nil {
		return
	}
	batch := len(dy) / p.w.Out.Size()
	p.dx = grow(p.dx, batch*p.w.In.Size())
	p.pass = poolPass[T]{pool: p, dy: dy}
	tensor.Parallel(p.threads, batch*p.w.In.C, p.grain(), &p.pass)
	dx[0] = p.dx
}

// grain is the least number of planes worth a goroutine.
func (p *pool[T]) grain() int { return elemGrain/(p.w.In.H*p.w.In.W) + 1 }

// poolPass is a forward pass (x set) or backward pass (dy set) of a pooling
// layer. Its range runs over (sample, channel) planes.
type poolPass[T tensor.Float] struct {
	pool  *pool[T]
	x, dy []T
}

func (t *poolPass[T]) Range(lo, hi int) {
	p := t.pool
	w := &p.w
	pin, pout := w.In.H*w.In.W, w.Out.H*w.Out.W
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
		scale := 1 / T(w.KH*w.KH)
		for oh := range w.Out.H {
			for ow, g := range dy[oh*w.Out.W:][:w.Out.W] {
				g *= scale
				start := w.Corner(oh, ow)
				for i := range w.KH {
					row := dx[start+i*w.In.W:][:w.KH]
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
func (p *pool[T]) forwardPlane(x, y []T, arg []int32) {
	k, s, inW, outW := p.w.KH, p.w.SH, p.w.In.W, p.w.Out.W
	for oh := range p.w.Out.H {
		ys := y[oh*outW:][:outW]
		var args []int32
		if p.max {
			args = arg[oh*outW:][:outW]
		}
		base := p.w.Corner(oh, 0)
		for ow := range ys {
			ys[ow] = x[base+ow*s]
			if p.max {
				args[ow] = int32(base + ow*s)
			}
		}
		for i := range k {
			for j := range k {
				if i == 0 && j == 0 {
					continue
				}
				off := base + i*inW + j
				if !p.max {
					for ow := range ys {
						ys[ow] += x[off+ow*s]
					}
					continue
				}
				for ow := range ys {
					at := off + ow*s
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
			scale := 1 / T(k*k)
			for ow := range ys {
				ys[ow] *= scale
			}
		}
	}
}

// gap is a global average pooling node: the mean of each channel over the
// whole image, C×H×W to a vector of C values (PyTorch's
// nn.AdaptiveAvgPool2d(1) followed by a flatten).
type gap[T tensor.Float] struct {
	in      arch.Shape
	threads int
	y, dx   []T
	pass    gapPass[T]
}

func (g *gap[T]) params() []*Param[T] { return nil }

func (g *gap[T]) overwrites() bool { return false }

// forward averages each plane.
func (g *gap[T]) forward(in [][]T, batch int) []T {
	g.y = grow(g.y, batch*g.in.C)
	g.pass = gapPass[T]{g: g, x: in[0]}
	tensor.Parallel(g.threads, len(g.y), elemGrain/(g.in.H*g.in.W)+1, &g.pass)
	return g.y
}

// backward spreads each gradient evenly over its plane.
func (g *gap[T]) backward(dy []T, dx [][]T) {
	if dx == nil {
		return
	}
	g.dx = grow(g.dx, len(dy)*g.in.H*g.in.W)
	g.pass = gapPass[T]{g: g, dy: dy}
	tensor.Parallel(g.threads, len(dy), elemGrain/(g.in.H*g.in.W)+1, &g.pass)
	dx[0] = g.dx
}

// gapPass is a forward pass (x set) or backward pass (dy set) of global
// average pooling. Its range runs over (sample, channel) planes.
type gapPass[T tensor.Float] struct {
	g     *gap[T]
	x, dy []T
}

func (t *gapPass[T]) Range(lo, hi int) {
	n := t.g.in.H * t.g.in.W
	scale := 1 / T(n)
	for q := lo; q < hi; q++ {
		if t.dy == nil {
			var sum T
			for _, v := range t.x[q*n:][:n] {
				sum += v
			}
			t.g.y[q] = sum * scale
			continue
		}
		d := t.g.dx[q*n:][:n]
		for i := range d {
			d[i] = t.dy[q] * scale
		}
	}
}
