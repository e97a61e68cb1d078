package nn

import (
	"fmt"
	"sync/atomic"

	"github.com/initscope/initscope/tensor"
)

// Conv2d is a 2-D convolution (cross-correlation, as in PyTorch) with a
// square kernel, a stride and zero padding, computed by matrix products:
// the inputs are unfolded (im2col) into a K×N matrix, K = Cin·k·k kernel
// taps by N output pixels, and multiplied by the Cout×K kernel matrix.
//
// The batch is cut into chunks whose unfolded matrix fits in a core's L2
// cache, which up to [tensor.Threads] goroutines take one at a time: a
// goroutine that the OS holds back (as on a loaded machine) does fewer.
// Each chunk's parameter gradients go to their own slot and are summed in
// chunk order, so the result does not depend on who did which chunk.
// Backward unfolds each chunk again rather than keep the whole batch's
// matrix, tens of megabytes to write to memory and read back. The input
// gradient of a stride-1 convolution is itself a convolution, of the
// output gradient with the flipped, transposed kernel, and is computed as
// one: unfolding copies contiguous runs where folding a K×N gradient back
// (col2im) scatter-adds every entry. Other strides use col2im.
type Conv2d[T tensor.Float] struct {
	geom convGeom
	// back is the geometry of the input gradient as a convolution of the
	// output gradient, for stride 1 and padding < k; zero otherwise.
	back convGeom
	// W is the kernel (Cout×Cin×k×k), B the bias (Cout).
	W, B *Param[T]

	relu    bool // the last Forward applied a fused ReLU
	batch   int
	x       []T
	y, dx   []T
	flipped []T // the transposed, flipped kernel, Cin×Cout·k·k
	chunk   int // samples per chunk
	workers []convScratch[T]
	next    atomic.Int64 // the next chunk to take
	// grads holds, per chunk, the kernel and bias gradients as a
	// (taps+1)×Cout matrix: the kernel's transposed (OpenBLAS computes it
	// faster that way round), then the bias's, as the product of the
	// output gradient with a row of ones appended to the unfolded inputs.
	grads []T
	pass  convPass[T]
}

// convGeom is the geometry of a convolution: kernel k×k, stride and
// padding, from in to out.
type convGeom struct {
	in, out        Shape
	k, stride, pad int
	// rows[ki] and cols[kj] are the output rows and columns [lo, hi) whose
	// input position under kernel tap (ki, kj) is inside the image.
	rows, cols [][2]int
}

func newConvGeom(in, out Shape, k, stride, pad int) convGeom {
	g := convGeom{in: in, out: out, k: k, stride: stride, pad: pad}
	for tap := range k {
		g.rows = append(g.rows, validRange(out.H, in.H, stride, pad, tap))
		g.cols = append(g.cols, validRange(out.W, in.W, stride, pad, tap))
	}
	return g
}

// taps is the number of rows of the unfolded matrix: Cin·k·k.
func (g *convGeom) taps() int { return g.in.C * g.k * g.k }

// convScratch is the scratch space of one goroutine: an unfolded chunk
// and its product with a kernel.
type convScratch[T tensor.Float] struct {
	cols, prod []T
}

// chunkBudget is the most values an unfolded chunk may hold: 256 KB of
// float32, an eighth of a core's L2 cache, so that the chunk, its product
// and the images it comes from stay there (measured: a 1 MB budget costs
// the residual benchmark a third more time).
const chunkBudget = 1 << 16

// NewConv2d returns a convolution of in with outChannels kernels of size
// kernel×kernel, stride stride and pad zeros on each border, with zero
// weights and biases. The output size is (H+2·pad-kernel)/stride+1 by the
// same for W.
func NewConv2d[T tensor.Float](in Shape, outChannels, kernel, stride, pad int) (*Conv2d[T], error) {
	switch {
	case !in.valid():
		return nil, fmt.Errorf("conv2d: input shape %v: dimensions must be >= 1", in)
	case outChannels < 1:
		return nil, fmt.Errorf("conv2d: %d output channels: must be >= 1", outChannels)
	case kernel < 1 || stride < 1 || pad < 0:
		return nil, fmt.Errorf("conv2d: kernel %d, stride %d, padding %d: want kernel >= 1, stride >= 1, padding >= 0", kernel, stride, pad)
	case in.H+2*pad < kernel || in.W+2*pad < kernel:
		return nil, fmt.Errorf("conv2d: kernel %d larger than the padded %d×%d input", kernel, in.H+2*pad, in.W+2*pad)
	}
	out := Shape{C: outChannels, H: (in.H+2*pad-kernel)/stride + 1, W: (in.W+2*pad-kernel)/stride + 1}
	c := &Conv2d[T]{
		geom: newConvGeom(in, out, kernel, stride, pad),
		W:    newParam[T](Weight, in.C*kernel*kernel, outChannels*kernel*kernel, outChannels, in.C, kernel, kernel),
		B:    newParam[T](Bias, in.C*kernel*kernel, outChannels*kernel*kernel, outChannels),
	}
	if stride == 1 && pad < kernel {
		c.back = newConvGeom(out, in, kernel, 1, kernel-1-pad)
	}
	// Size chunks for the larger of the forward unfolding and the backward
	// one (Cout·k² × Hin·Win per sample).
	perSample := max(c.geom.taps()*out.H*out.W, outChannels*kernel*kernel*in.H*in.W)
	c.chunk = max(1, chunkBudget/perSample)
	return c, nil
}

// InShape is the input image's shape.
func (c *Conv2d[T]) InShape() Shape { return c.geom.in }

// OutShape is the output image's shape.
func (c *Conv2d[T]) OutShape() Shape { return c.geom.out }

// Params returns the kernel and the bias.
func (c *Conv2d[T]) Params() []*Param[T] { return []*Param[T]{c.W, c.B} }

// Forward computes the convolution plus bias.
func (c *Conv2d[T]) Forward(x []T, batch int) []T { return c.forward(x, batch, false) }

// forwardReLU computes the rectified convolution for NewSequential's fusion.
func (c *Conv2d[T]) forwardReLU(x []T, batch int) []T { return c.forward(x, batch, true) }

func (c *Conv2d[T]) forward(x []T, batch int, relu bool) []T {
	c.x, c.batch, c.relu = x, batch, relu
	c.y = grow(c.y, batch*c.geom.out.Size())
	c.run(convPass[T]{c: c})
	return c.y
}

// Backward adds the kernel and bias gradients to theirs and returns the
// input gradient.
func (c *Conv2d[T]) Backward(dy []T, needInput bool) []T {
	c.grads = grow(c.grads, c.chunks()*(c.geom.taps()+1)*c.geom.out.C)
	if needInput {
		c.dx = grow(c.dx, c.batch*c.geom.in.Size())
		if c.back.k > 0 {
			c.flipKernel()
		}
	}
	c.run(convPass[T]{c: c, dy: dy, needInput: needInput})
	// Sum the chunks' gradients, in chunk order, into the first's; then
	// add them, transposed, to the parameters'.
	taps, cout := c.geom.taps(), c.geom.out.C
	size := (taps + 1) * cout
	sum := c.grads[:size]
	for ch := 1; ch < c.chunks(); ch++ {
		axpy(sum, sum, c.grads[ch*size:][:size], 1)
	}
	if c.W.gradBeta() == 0 {
		clear(c.W.Grad)
	}
	if c.B.gradBeta() == 0 {
		clear(c.B.Grad)
	}
	for co := range cout {
		dw := c.W.Grad[co*taps:][:taps]
		for k := range dw {
			dw[k] += sum[k*cout+co]
		}
	}
	axpy(c.B.Grad, c.B.Grad, sum[taps*cout:], 1)
	if !needInput {
		return nil
	}
	return c.dx
}

// flipKernel fills flipped with the kernel for the input gradient: input
// and output channels swapped, rows and columns reversed.
func (c *Conv2d[T]) flipKernel() {
	cin, cout, kk := c.geom.in.C, c.geom.out.C, c.geom.k*c.geom.k
	c.flipped = grow(c.flipped, len(c.W.Data))
	for co := range cout {
		for ci := range cin {
			src := c.W.Data[(co*cin+ci)*kk:][:kk]
			dst := c.flipped[(ci*cout+co)*kk:][:kk]
			for i, v := range src {
				dst[kk-1-i] = v
			}
		}
	}
}

// chunks is the number of chunks in the batch.
func (c *Conv2d[T]) chunks() int { return (c.batch + c.chunk - 1) / c.chunk }

// run has up to tensor.Threads() goroutines run pass on the chunks.
func (c *Conv2d[T]) run(pass convPass[T]) {
	n := min(tensor.Threads(), c.chunks())
	for len(c.workers) < n {
		c.workers = append(c.workers, convScratch[T]{})
	}
	c.next.Store(0)
	c.pass = pass
	tensor.Parallel(n, 1, &c.pass)
}

// convPass is a forward pass (dy nil) or backward pass over the batch. Its
// range runs over goroutines' scratch spaces, each of which takes chunks
// until none is left.
type convPass[T tensor.Float] struct {
	c         *Conv2d[T]
	dy        []T
	needInput bool
}

func (t *convPass[T]) Range(lo, hi int) {
	c := t.c
	for i := lo; i < hi; i++ {
		for {
			ch := int(c.next.Add(1)) - 1
			if ch >= c.chunks() {
				break
			}
			b0, b1 := ch*c.chunk, min((ch+1)*c.chunk, c.batch)
			if t.dy == nil {
				c.forwardChunk(&c.workers[i], b0, b1)
			} else {
				c.backwardChunk(&c.workers[i], ch, t.dy, b0, b1, t.needInput)
			}
		}
	}
}

// forwardChunk computes the outputs of samples [b0, b1).
func (c *Conv2d[T]) forwardChunk(s *convScratch[T], b0, b1 int) {
	g := &c.geom
	n := (b1 - b0) * g.out.H * g.out.W
	s.cols = unfold(g, s.cols, c.x[b0*g.in.Size():b1*g.in.Size()], b1-b0)
	s.prod = grow(s.prod, g.out.C*n)
	tensor.Gemm(false, false, g.out.C, n, g.taps(), 1, c.W.Data, g.taps(), s.cols, n, 0, s.prod, n)
	scatterPlanes(s.prod, c.y[b0*g.out.Size():b1*g.out.Size()], c.B.Data, g.out.C, g.out.H*g.out.W, c.relu)
}

// backwardChunk sets the kernel and bias gradients of chunk ch, samples
// [b0, b1), and computes their input gradients if needInput.
func (c *Conv2d[T]) backwardChunk(s *convScratch[T], ch int, dy []T, b0, b1 int, needInput bool) {
	g := &c.geom
	n := (b1 - b0) * g.out.H * g.out.W
	dy = dy[b0*g.out.Size() : b1*g.out.Size()]
	// With G the output gradient as a Cout×n matrix:
	// [dWᵀ; dbᵀ] += [cols; 1…1]·Gᵀ.
	s.prod = grow(s.prod, g.out.C*n)
	gatherPlanes(dy, c.y[b0*g.out.Size():b1*g.out.Size()], s.prod, g.out.C, g.out.H*g.out.W, c.relu)
	s.cols = grow(s.cols, (g.taps()+1)*n)
	unfold(g, s.cols, c.x[b0*g.in.Size():b1*g.in.Size()], b1-b0)
	ones := s.cols[g.taps()*n:]
	for i := range ones {
		ones[i] = 1
	}
	size := (g.taps() + 1) * g.out.C
	tensor.Gemm(false, true, g.taps()+1, g.out.C, n, 1, s.cols, n, s.prod, n, 0, c.grads[ch*size:][:size], g.out.C)
	if !needInput {
		return
	}
	dx := c.dx[b0*g.in.Size() : b1*g.in.Size()]
	if back := &c.back; back.k > 0 {
		// dy, masked in place by gatherPlanes, convolved with the flipped
		// kernel.
		nIn := (b1 - b0) * g.in.H * g.in.W
		s.cols = unfold(back, s.cols, dy, b1-b0)
		s.prod = grow(s.prod, g.in.C*nIn)
		tensor.Gemm(false, false, g.in.C, nIn, back.taps(), 1, c.flipped, back.taps(), s.cols, nIn, 0, s.prod, nIn)
		scatterPlanes(s.prod, dx, nil, g.in.C, g.in.H*g.in.W, false)
		return
	}
	// dcols = Wᵀ·G, folded back onto the input.
	tensor.Gemm(true, false, g.taps(), n, g.out.C, 1, c.W.Data, g.taps(), s.prod, n, 0, s.cols, n)
	col2im(g, s.cols, dx, b1-b0)
}

// validRange returns the output positions [lo, hi) along one axis of
// length out whose input position o·stride - pad + tap falls inside
// [0, size).
func validRange(out, size, stride, pad, tap int) [2]int {
	lo := 0
	if first := pad - tap; first > 0 {
		lo = (first + stride - 1) / stride
	}
	last := size - 1 + pad - tap // the largest valid o·stride
	if last < 0 {
		return [2]int{0, 0}
	}
	hi := min(out, last/stride+1)
	return [2]int{min(lo, hi), hi}
}

// unfold grows cols to the taps × samples·Hout·Wout matrix of the samples
// images x and fills it (im2col): row (ci·k+ki)·k+kj holds, for every
// output pixel of every sample, the input value under kernel tap (ki, kj)
// of channel ci, or zero in the padding.
func unfold[T tensor.Float](g *convGeom, cols, x []T, samples int) []T {
	in, out, s := g.in, g.out, g.stride
	p := out.H * out.W
	n := samples * p
	cols = grow(cols, g.taps()*n)
	for b := range samples {
		row := 0
		for ci := range in.C {
			plane := x[(b*in.C+ci)*in.H*in.W:][:in.H*in.W]
			for ki, rows := range g.rows {
				hLo, hHi := rows[0], rows[1]
				for kj, cols1 := range g.cols {
					wLo, wHi := cols1[0], cols1[1]
					dst := cols[row*n+b*p:][:p]
					row++
					if hLo == hHi || wLo == wHi {
						clear(dst)
						continue
					}
					if s == 1 && out.W == in.W {
						// Consecutive output rows read consecutive input
						// rows: copy the whole run, then zero what fell
						// in the padding, mostly single values.
						first, last := hLo*out.W+wLo, (hHi-1)*out.W+wHi
						shift := (ki-g.pad)*in.W + kj - g.pad
						copy(dst[first:last], plane[first+shift:])
						clear(dst[:first])
						clear(dst[last:])
						// The gaps: the last out.W-wHi columns of a row
						// and the first wLo of the next, a few values.
						// (An index loop: the compiler would turn a range
						// loop into a call to memclr.)
						gap := out.W - (wHi - wLo)
						for i := hLo*out.W + wHi; i < last; i += out.W {
							for j := i; j < i+gap; j++ {
								dst[j] = 0
							}
						}
						continue
					}
					clear(dst[:hLo*out.W])
					clear(dst[hHi*out.W:])
					for oh := hLo; oh < hHi; oh++ {
						d := dst[oh*out.W:][:out.W]
						src := plane[(oh*s-g.pad+ki)*in.W:][:in.W]
						clear(d[:wLo])
						clear(d[wHi:])
						for ow := wLo; ow < wHi; ow++ {
							d[ow] = src[ow*s-g.pad+kj]
						}
					}
				}
			}
		}
	}
	return cols
}

// col2im is the adjoint of unfold: it sets dx, the gradient of the samples
// input images, to the sum of the entries of the unfolded gradient cols
// copied from each position.
func col2im[T tensor.Float](g *convGeom, cols, dx []T, samples int) {
	in, out, s := g.in, g.out, g.stride
	p := out.H * out.W
	n := samples * p
	clear(dx[:samples*in.Size()])
	for b := range samples {
		row := 0
		for ci := range in.C {
			plane := dx[(b*in.C+ci)*in.H*in.W:][:in.H*in.W]
			for ki, rows := range g.rows {
				for kj, cols1 := range g.cols {
					src := cols[row*n+b*p:][:p]
					row++
					for oh := rows[0]; oh < rows[1]; oh++ {
						grad := src[oh*out.W:][:out.W]
						d := plane[(oh*s-g.pad+ki)*in.W:][:in.W]
						for ow := cols1[0]; ow < cols1[1]; ow++ {
							d[ow*s-g.pad+kj] += grad[ow]
						}
					}
				}
			}
		}
	}
}

// scatterPlanes moves a channels × samples·pixels product into the NCHW
// images y, adding the bias if there is one and rectifying if relu is set.
func scatterPlanes[T tensor.Float](prod, y, bias []T, channels, pixels int, relu bool) {
	n := len(y) / channels // samples·pixels
	for q := range len(y) / pixels {
		b, ch := q/channels, q%channels
		dst := y[q*pixels:][:pixels]
		src := prod[ch*n+b*pixels:][:pixels]
		switch {
		case bias == nil:
			copy(dst, src)
		case relu:
			addReLU(dst, src, bias[ch])
		default:
			b := bias[ch]
			for i, v := range src {
				dst[i] = v + b
			}
		}
	}
}

// gatherPlanes is the adjoint of scatterPlanes without bias: it moves the
// gradient dy of NCHW images, masked in place where the rectified output y
// is zero if relu is set, into the channels × samples·pixels matrix prod.
func gatherPlanes[T tensor.Float](dy, y, prod []T, channels, pixels int, relu bool) {
	n := len(dy) / channels
	for q := range len(dy) / pixels {
		b, ch := q/channels, q%channels
		g := dy[q*pixels:][:pixels]
		if relu {
			maskReLU(g, y[q*pixels:][:pixels])
		}
		copy(prod[ch*n+b*pixels:][:pixels], g)
	}
}
