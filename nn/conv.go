package nn

import (
	"sync/atomic"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/tensor"
)

// conv is a conv node: a 2-D convolution (cross-correlation, as in
// PyTorch) of any arch.Geometry (rectangular kernel, per-axis strides and
// dilations, asymmetric zero padding, channel groups), plus a bias,
// rectified if relu is set. It is computed by matrix products: the inputs
// are unfolded (im2col, arch.Unfold) into a Cin·kh·kw × N matrix of kernel
// taps by N output pixels, whose block of rows g (Taps() = Cin/groups·kh·kw
// rows) is multiplied by the block g of the Cout × Taps() kernel matrix,
// the Cout/groups kernels of group g: one product per group.
//
// The batch is cut into chunks whose unfolded matrix fits in a core's L2
// cache, which up to threads goroutines take one at a time: a goroutine
// that the OS holds back (as on a loaded machine) does fewer. Each chunk's
// parameter gradients go to their own slot and are summed in chunk order,
// so the result does not depend on who did which chunk. Backward unfolds
// each chunk again rather than keep the whole batch's matrix, tens of
// megabytes to write to memory and read back. The input gradient of a
// stride-1 convolution is itself a convolution, of the output gradient
// with the flipped, transposed kernel (same groups and dilations, the
// padding (k-1)·d less the forward padding), and is computed as one:
// unfolding copies contiguous runs where folding a gradient matrix back
// (col2im, arch.Fold) scatter-adds every entry. Other strides use
// arch.Fold.
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
	flipped []T // the flipped kernel of each group, Cin × Cout/groups·kh·kw
	chunk   int // samples per chunk
	workers []convScratch[T]
	next    atomic.Int64 // the next chunk to take
	// grads holds, per chunk, the kernel and bias gradients as a
	// (Taps()+1)×Cout matrix: the kernel's transposed (OpenBLAS computes
	// it faster that way round), then the bias's, as the product of the
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
func newConv[T tensor.Float](n *arch.Node, relu bool, threads int) *conv[T] {
	w := n.Window
	c := &conv[T]{
		win: w, relu: relu, threads: threads,
		w: newParam[T](n, Weight, w.Out.C, w.In.C/w.Groups, w.KH, w.KW),
		b: newParam[T](n, Bias, w.Out.C),
	}
	if back, ok := backWindow(&w); ok {
		c.back = &back
	}
	c.chunk = chunkSamples(&w)
	return c
}

// backWindow returns the geometry of the input gradient of window w as a
// convolution of the output gradient with the flipped kernel: stride 1,
// the same kernel size, dilations and groups, and on each side the padding
// (k-1)·d less the forward padding of that side (input row i reads output
// rows i + top - t·d, t the tap). It reports false for strides above 1,
// and for kernels too large for arch.NewWindow.
func backWindow(w *arch.Window) (arch.Window, bool) {
	if w.SH != 1 || w.SW != 1 {
		return arch.Window{}, false
	}
	eh, ew := (w.KH-1)*w.DH, (w.KW-1)*w.DW
	g := arch.Geometry{KH: w.KH, KW: w.KW, SH: 1, SW: 1, DH: w.DH, DW: w.DW,
		Top: eh - w.Top, Left: ew - w.Left, Bottom: eh - w.Bottom, Right: ew - w.Right, Groups: w.Groups}
	back, err := arch.NewWindow(w.Out, w.In.C, g)
	return back, err == nil
}

// chunkSamples is the number of samples in a chunk of window w: as many
// as fit chunkBudget in the larger of the forward unfolding and the
// backward one (Cout·kh·kw × Hin·Win per sample), at least one.
func chunkSamples(w *arch.Window) int {
	perSample := max(w.UnfoldRows()*w.Out.H*w.Out.W, w.Out.C*w.KH*w.KW*w.In.H*w.In.W)
	return max(1, chunkBudget/perSample)
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

// flipKernel fills flipped with the kernels of the input gradient as a
// convolution (see backWindow): in each group, input and output channels
// swapped, rows and columns reversed.
func (c *conv[T]) flipKernel() {
	w := &c.win
	kk := w.KH * w.KW
	cinG, coutG := w.In.C/w.Groups, w.Out.C/w.Groups
	c.flipped = grow(c.flipped, len(c.w.Data))
	for co := range w.Out.C {
		g, o := co/coutG, co%coutG
		for ci := range cinG {
			src := c.w.Data[(co*cinG+ci)*kk:][:kk]
			dst := c.flipped[((g*cinG+ci)*coutG+o)*kk:][:kk]
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
	s.cols = grow(s.cols, w.UnfoldRows()*n)
	arch.Unfold(w, s.cols, c.x[b0*w.In.Size():b1*w.In.Size()], b1-b0)
	s.prod = grow(s.prod, w.Out.C*n)
	groupGemm(c.threads, w.Groups, w.Out.C/w.Groups, n, w.Taps(), c.w.Data, s.cols, s.prod)
	scatterPlanes(s.prod, c.y[b0*w.Out.Size():b1*w.Out.Size()], c.b.Data, w.Out.C, w.Out.H*w.Out.W, c.relu)
}

// groupGemm sets c = a·b for each of groups blocks: the m×n block g of c
// (rows g·m to (g+1)·m) is the m×k block g of a times the k×n block g of
// b. All three are row-major and contiguous.
func groupGemm[T tensor.Float](threads, groups, m, n, k int, a, b, c []T) {
	for g := range groups {
		tensor.Gemm(threads, false, false, m, n, k, 1, a[g*m*k:], k, b[g*k*n:], n, 0, c[g*m*n:], n)
	}
}

// backwardChunk sets the kernel and bias gradients of chunk ch, samples
// [b0, b1), and computes their input gradients if needInput.
func (c *conv[T]) backwardChunk(s *convScratch[T], ch int, dy []T, b0, b1 int, needInput bool) {
	w := &c.win
	rows, n := w.UnfoldRows(), (b1-b0)*w.Out.H*w.Out.W
	dy = dy[b0*w.Out.Size() : b1*w.Out.Size()]
	s.prod = grow(s.prod, w.Out.C*n)
	gatherPlanes(dy, c.y[b0*w.Out.Size():b1*w.Out.Size()], s.prod, w.Out.C, w.Out.H*w.Out.W, c.relu)
	s.cols = grow(s.cols, (rows+1)*n)
	arch.Unfold(w, s.cols, c.x[b0*w.In.Size():b1*w.In.Size()], b1-b0)
	ones := s.cols[rows*n:][:n]
	for i := range ones {
		ones[i] = 1
	}
	size := (w.Taps() + 1) * w.Out.C
	c.paramGrads(s, c.grads[ch*size:][:size], n)
	if !needInput {
		return
	}
	dx := c.dx[b0*w.In.Size() : b1*w.In.Size()]
	if back := c.back; back != nil {
		// dy, masked in place by gatherPlanes, convolved with the flipped
		// kernel.
		nIn := (b1 - b0) * w.In.H * w.In.W
		s.cols = grow(s.cols, back.UnfoldRows()*nIn)
		arch.Unfold(back, s.cols, dy, b1-b0)
		s.prod = grow(s.prod, w.In.C*nIn)
		groupGemm(c.threads, w.Groups, w.In.C/w.Groups, nIn, back.Taps(), c.flipped, s.cols, s.prod)
		scatterPlanes(s.prod, dx, nil, w.In.C, w.In.H*w.In.W, false)
		return
	}
	// dcols = Wᵀ·G, group by group, folded back onto the input.
	taps, coutG := w.Taps(), w.Out.C/w.Groups
	for g := range w.Groups {
		tensor.Gemm(c.threads, true, false, taps, n, coutG, 1, c.w.Data[g*coutG*taps:], taps, s.prod[g*coutG*n:], n, 0, s.cols[g*taps*n:], n)
	}
	arch.Fold(w, s.cols, dx, b1-b0)
}

// paramGrads sets grads, a (Taps()+1)×Cout matrix, to the kernel and bias
// gradients of a chunk of n output pixels: with G the output gradient in
// s.prod (Cout×n) and the unfolded inputs in s.cols (a row of ones after
// them), [dWᵀ; dbᵀ] = [cols; 1…1]·Gᵀ, group by group. With one group the
// row of ones follows the taps, and one product gives both.
func (c *conv[T]) paramGrads(s *convScratch[T], grads []T, n int) {
	w := &c.win
	taps, cout, coutG := w.Taps(), w.Out.C, w.Out.C/w.Groups
	rows := taps
	if w.Groups == 1 {
		rows++
	}
	for g := range w.Groups {
		tensor.Gemm(c.threads, false, true, rows, coutG, n, 1, s.cols[g*taps*n:], n, s.prod[g*coutG*n:], n, 0, grads[g*coutG:], cout)
	}
	if w.Groups > 1 {
		tensor.Gemm(c.threads, false, true, 1, cout, n, 1, s.cols[w.UnfoldRows()*n:], n, s.prod, n, 0, grads[taps*cout:], cout)
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
