package nn

import (
	"math"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/tensor"
)

// pool is a max or average pooling node (max pooling if max is set) over
// the windows of w, of any geometry with one group (PyTorch's
// nn.MaxPool2d and nn.AvgPool2d, ONNX's MaxPool and AveragePool). Max
// pooling ignores the padding (as if it held -inf) and, on ties, keeps
// the first maximum in row-major order of the window. Average pooling
// counts the padding as zeros and divides by kh·kw, or, with ExcludePad,
// by the number of taps inside the input. checkNode has made sure every
// window holds at least one input.
type pool[T tensor.Float] struct {
	w       arch.Window
	max     bool
	threads int
	// inv is, per output position of a plane, the factor of an average:
	// 1 over its divisor.
	inv    []T
	argmax []int32 // per output value, the index of the maximum in its input plane
	y, dx  []T
	pass   poolPass[T]
}

// newPool returns the op of pooling node n.
func newPool[T tensor.Float](n *arch.Node, threads int) *pool[T] {
	p := &pool[T]{w: n.Window, max: n.Op == arch.OpMaxPool, threads: threads}
	if p.max {
		return p
	}
	w := &p.w
	rows, cols := tapCounts(w.Rows, w.Out.H), tapCounts(w.Cols, w.Out.W)
	p.inv = make([]T, w.Out.H*w.Out.W)
	for oh := range w.Out.H {
		for ow := range w.Out.W {
			div := w.KH * w.KW
			if w.ExcludePad {
				div = rows[oh] * cols[ow]
			}
			p.inv[oh*w.Out.W+ow] = 1 / T(div)
		}
	}
	return p
}

// tapCounts returns, for each of out output positions along an axis, the
// number of kernel taps whose valid range (arch.Window's Rows or Cols)
// holds it: the taps of its window that fall inside the input.
func tapCounts(valid [][2]int, out int) []int {
	n := make([]int, out)
	for _, r := range valid {
		for o := r[0]; o < r[1]; o++ {
			n[o]++
		}
	}
	return n
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
// it over the taps of its window that lie inside the input, each getting
// its share of the average.
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
		p.spreadPlane(dy, dx)
	}
}

// spreadPlane adds to the input gradient dx of one plane each output
// gradient of dy times its average's factor, at every tap of its window
// inside the input.
func (p *pool[T]) spreadPlane(dy, dx []T) {
	w := &p.w
	for oh := range w.Out.H {
		g := dy[oh*w.Out.W:][:w.Out.W]
		inv := p.inv[oh*w.Out.W:][:w.Out.W]
		for ki, rows := range w.Rows {
			if oh < rows[0] || oh >= rows[1] {
				continue
			}
			row := dx[w.InputRow(oh, ki)*w.In.W:][:w.In.W]
			for kj, cols := range w.Cols {
				c0 := w.InputCol(0, kj)
				for ow := cols[0]; ow < cols[1]; ow++ {
					row[ow*w.SW+c0] += g[ow] * inv[ow]
				}
			}
		}
	}
}

// forwardPlane pools one input plane x into y, recording the maxima's
// positions in arg for max pooling. For each row of outputs it sweeps the
// window's taps one by one, in row-major order, over the outputs whose
// tap lies inside the input, so that consecutive steps are independent and
// the unpredictable comparisons need no branches.
func (p *pool[T]) forwardPlane(x, y []T, arg []int32) {
	w := &p.w
	outW := w.Out.W
	for oh := range w.Out.H {
		ys := y[oh*outW:][:outW]
		var args []int32
		if p.max {
			args = arg[oh*outW:][:outW]
			for ow := range ys {
				ys[ow], args[ow] = T(math.Inf(-1)), -1
			}
		} else {
			clear(ys)
		}
		for ki, rows := range w.Rows {
			if oh < rows[0] || oh >= rows[1] {
				continue
			}
			base := w.InputRow(oh, ki) * w.In.W
			for kj, cols := range w.Cols {
				off := base + w.InputCol(0, kj)
				if p.max {
					maxTap(x, ys[:cols[1]], args[:cols[1]], cols[0], off, w.SW)
					continue
				}
				for ow := cols[0]; ow < cols[1]; ow++ {
					ys[ow] += x[off+ow*w.SW]
				}
			}
		}
		if !p.max {
			for ow, f := range p.inv[oh*outW:][:outW] {
				ys[ow] *= f
			}
		}
	}
}

// maxTap takes, for outputs ow from lo to len(ys), the input x[off +
// ow·stride] as the maximum ys[ow] if it is larger, or if no input was
// taken yet (args[ow] < 0), recording its index in args.
func maxTap[T tensor.Float](x, ys []T, args []int32, lo, off, stride int) {
	for ow := lo; ow < len(ys); ow++ {
		at := off + ow*stride
		v := x[at]
		var take int32
		if v > ys[ow] || args[ow] < 0 {
			take = 1
		}
		args[ow] += (int32(at) - args[ow]) * take
		ys[ow] = max(ys[ow], v)
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
