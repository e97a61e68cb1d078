package nn

import (
	"sync/atomic"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/tensor"
)

// conv is a conv node: a 2-D convolution (cross-correlation, as in
// PyTorch) with a square kernel, a stride and zero padding, plus a bias,
// rectified if relu is set. It is computed by matrix products: the inputs
// are unfolded (im2col, arch.Unfold) into a K×N matrix, K = Cin·k·k kernel
// taps by N output pixels, and multiplied by the Cout×K kernel matrix.
//
// The batch is cut into chunks whose unfolded matrix fits in a core's L2
// cache, which up to threads goroutines take one at a time: a goroutine
// that the OS holds back (as on a loaded machine) does fewer. Each chunk's
// parameter gradients go to their own slot and are summed in chunk order,
// so the result does not depend on who did which chunk. Backward unfolds
// each chunk again rather than keep the whole batch's matrix, tens of
// megabytes to write to memory and read back. The input gradient of a
// stride-1 convolution is itself a convolution, of the output gradient
// with the flipped, transposed kernel, and is computed as one: unfolding
// copies contiguous runs where folding a K×N gradient back (col2im,
// arch.Fold) scatter-adds every entry. Other strides use arch.Fold.
type conv[T tensor.Float] struct {
	win arch.Window
	// back is the geometry of the input gradient as a convolution of the
	// output gradient, for stride 1; nil otherwise.
	back    *arch.Window
	relu    bool
	threads int
	w, b    *Param[T]

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

// newConv returns the op of conv node n, whose window checkGraph has
// checked.
func newConv[T tensor.Float](n *arch.Node, relu bool, threads int) (*conv[T], error) {
	w := n.Window
	in, out, k := w.In, w.Out, w.KH
	c := &conv[T]{
		win: w, relu: relu, threads: threads,
		w: newParam[T](n, Weight, out.C, in.C, k, k),
		b: newParam[T](n, Bias, out.C),
	}
	if w.SH == 1 {
		back, err := arch.NewWindow(out, in.C, arch.Square(k, 1, k-1-w.Top))
		if err != nil {
			return nil, err
		}
		c.back = &back
	}
	// Size chunks for the larger of the forward unfolding and the backward
	// one (Cout·k² × Hin·Win per sample).
	perSample := max(w.Taps()*out.H*out.W, out.C*k*k*in.H*in.W)
	c.chunk = max(1, chunkBudget/perSample)
	return c, nil
}

func (c *conv[T]) params() []*Param[T] { return []*Param[T]{c.w, c.b} }

func (c *conv[T]) overwrites() bool { return c.relu }

// forward computes the convolution plus bias, rectified if relu is set.
func (c *conv[T]) forward(in [][]T, batch int) []T {
	c.x, c.batch = in[0], batch
	c.y = grow(c.y, batch*c.win.Out.Size())
	c.run(convPass[T]{c: c})
	return c.y
}

// backward adds the kernel and bias gradients to theirs and sets the input
// gradient.
func (c *conv[T]) backward(dy []T, dx [][]T) {
	taps, cout := c.win.Taps(), c.win.Out.C
	c.grads = grow(c.grads, c.chunks()*(taps+1)*cout)
	if dx != nil {
		c.dx = grow(c.dx, c.batch*c.win.In.Size())
		if c.back != nil {
			c.flipKernel()
		}
	}
	c.run(convPass[T]{c: c, dy: dy, needInput: dx != nil})
	// Sum the chunks' gradients, in chunk order, into the first's; then
	// add them, transposed, to the parameters'.
	size := (taps + 1) * cout
	sum := c.grads[:size]
	for ch := 1; ch < c.chunks(); ch++ {
		axpy(sum, sum, c.grads[ch*size:][:size], 1)
	}
	if c.w.gradBeta() == 0 {
		clear(c.w.Grad)
	}
	if c.b.gradBeta() == 0 {
		clear(c.b.Grad)
	}
	for co := range cout {
		dw := c.w.Grad[co*taps:][:taps]
		for k := range dw {
			dw[k] += sum[k*cout+co]
		}
	}
	axpy(c.b.Grad, c.b.Grad, sum[taps*cout:], 1)
	if dx != nil {
		dx[0] = c.dx
	}
}

// flipKernel fills flipped with the kernel for the input gradient: input
// and output channels swapped, rows and columns reversed.
func (c *conv[T]) flipKernel() {
	cin, cout, kk := c.win.In.C, c.win.Out.C, c.win.KH*c.win.KW
	c.flipped = grow(c.flipped, len(c.w.Data))
	for co := range cout {
		for ci := range cin {
			src := c.w.Data[(co*cin+ci)*kk:][:kk]
			dst := c.flipped[(ci*cout+co)*kk:][:kk]
			for i, v := range src {
				dst[kk-1-i] = v
			}
		}
	}
}

// chunks is the number of chunks in the batch.
func (c *conv[T]) chunks() int { return (c.batch + c.chunk - 1) / c.chunk }

// run has up to threads goroutines run pass on the chunks.
func (c *conv[T]) run(pass convPass[T]) {
	n := min(c.threads, c.chunks())
	for len(c.workers) < n {
		c.workers = append(c.workers, convScratch[T]{})
	}
	c.next.Store(0)
	c.pass = pass
	tensor.Parallel(c.threads, n, 1, &c.pass)
}

// convPass is a forward pass (dy nil) or backward pass over the batch. Its
// range runs over goroutines' scratch spaces, each of which takes chunks
// until none is left.
type convPass[T tensor.Float] struct {
	c         *conv[T]
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
func (c *conv[T]) forwardChunk(s *convScratch[T], b0, b1 int) {
	w := &c.win
	n := (b1 - b0) * w.Out.H * w.Out.W
	s.cols = grow(s.cols, w.Taps()*n)
	arch.Unfold(w, s.cols, c.x[b0*w.In.Size():b1*w.In.Size()], b1-b0)
	s.prod = grow(s.prod, w.Out.C*n)
	tensor.Gemm(c.threads, false, false, w.Out.C, n, w.Taps(), 1, c.w.Data, w.Taps(), s.cols, n, 0, s.prod, n)
	scatterPlanes(s.prod, c.y[b0*w.Out.Size():b1*w.Out.Size()], c.b.Data, w.Out.C, w.Out.H*w.Out.W, c.relu)
}

// backwardChunk sets the kernel and bias gradients of chunk ch, samples
// [b0, b1), and computes their input gradients if needInput.
func (c *conv[T]) backwardChunk(s *convScratch[T], ch int, dy []T, b0, b1 int, needInput bool) {
	w := &c.win
	taps, n := w.Taps(), (b1-b0)*w.Out.H*w.Out.W
	dy = dy[b0*w.Out.Size() : b1*w.Out.Size()]
	// With G the output gradient as a Cout×n matrix:
	// [dWᵀ; dbᵀ] += [cols; 1…1]·Gᵀ.
	s.prod = grow(s.prod, w.Out.C*n)
	gatherPlanes(dy, c.y[b0*w.Out.Size():b1*w.Out.Size()], s.prod, w.Out.C, w.Out.H*w.Out.W, c.relu)
	s.cols = grow(s.cols, (taps+1)*n)
	arch.Unfold(w, s.cols, c.x[b0*w.In.Size():b1*w.In.Size()], b1-b0)
	ones := s.cols[taps*n:]
	for i := range ones {
		ones[i] = 1
	}
	size := (taps + 1) * w.Out.C
	tensor.Gemm(c.threads, false, true, taps+1, w.Out.C, n, 1, s.cols, n, s.prod, n, 0, c.grads[ch*size:][:size], w.Out.C)
	if !needInput {
		return
	}
	dx := c.dx[b0*w.In.Size() : b1*w.In.Size()]
	if back := c.back; back != nil {
		// dy, masked in place by gatherPlanes, convolved with the flipped
		// kernel.
		nIn := (b1 - b0) * w.In.H * w.In.W
		s.cols = grow(s.cols, back.Taps()*nIn)
		arch.Unfold(back, s.cols, dy, b1-b0)
		s.prod = grow(s.prod, w.In.C*nIn)
		tensor.Gemm(c.threads, false, false, w.In.C, nIn, back.Taps(), 1, c.flipped, back.Taps(), s.cols, nIn, 0, s.prod, nIn)
		scatterPlanes(s.prod, dx, nil, w.In.C, w.In.H*w.In.W, false)
		return
	}
	// dcols = Wᵀ·G, folded back onto the input.
	tensor.Gemm(c.threads, true, false, taps, n, w.Out.C, 1, c.w.Data, taps, s.prod, n, 0, s.cols, n)
	arch.Fold(w, s.cols, dx, b1-b0)
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
