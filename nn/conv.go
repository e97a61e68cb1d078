package nn

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/dnnl"
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
//
// A float32 conv runs on oneDNN instead when [ConvBackend] says so (see
// dnnConv).
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
	// dnn runs the op on oneDNN; nil when it runs on im2col + GEMM. mask
	// then rectifies the output gradient.
	dnn  *dnnConv
	mask reluBackward[T]
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
// checked: on oneDNN if T is float32 and [ConvBackend] says so (from
// dnnMinChannels input channels on unless INITSCOPE_CONV=onednn), unless
// oneDNN refuses the geometry, which is an error if INITSCOPE_CONV is
// onednn and otherwise leaves the op on im2col (and ConvBackend says so).
func newConv[T tensor.Float](n *arch.Node, relu bool, threads int) (op[T], error) {
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
	if _, f32 := asF32(c.b.Data); f32 && convOnOneDNN(&w) {
		dnn, err := newDNNConv(&w, relu, threads)
		if err != nil {
			if err = refused(err); err != nil {
				return nil, err
			}
		}
		c.dnn = dnn
	}
	return c, nil
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
	if c.dnn != nil {
		x, _ := asF32(c.x)
		w, _ := asF32(c.w.Data)
		b, _ := asF32(c.b.Data)
		if y, _ := asF32(c.y); c.dnn.forward(x, w, b, y, batch) {
			return c.y
		}
		c.dnn = nil // oneDNN failed: ConvBackend says why
	}
	c.run(convPass[T]{c: c})
	return c.y
}

// backward adds the kernel and bias gradients to theirs and sets the input
// gradient.
func (c *conv[T]) backward(dy []T, dx [][]T) {
	if c.dnn != nil {
		c.dnnBackward(dy, dx)
		return
	}
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

// EnvConv is the environment variable that selects the backend of float32
// convolutions: "auto" (or empty: oneDNN if it loads, else im2col + GEMM),
// "onednn" (oneDNN or an error) or "im2col".
const EnvConv = "INITSCOPE_CONV"

// convChoice is the process's choice of convolution backend, made once.
var convChoice struct {
	once sync.Once
	// onednn says float32 convolutions run on oneDNN; strict, that
	// INITSCOPE_CONV=onednn asked for it, so that a geometry oneDNN
	// refuses is an error.
	onednn, strict bool
	label          string
	err            error

	mu      sync.Mutex
	refused int    // the ops that oneDNN refused
	first   string // why it refused the first
}

// InitConv selects the backend of float32 convolutions as INITSCOPE_CONV
// asks, loading oneDNN if needed. It returns an error if the variable
// holds an unknown value or asks for oneDNN where it cannot be loaded
// (Debian package libdnnl2); im2col + GEMM then runs, and [ConvBackend]
// says that it is a fallback and why. The choice is made once per
// process: later calls return the first call's result. Commands should
// call InitConv at start-up and report its error; a model created without
// it gets the same choice, or the same fallback. Float64 convolutions
// always run on im2col + GEMM: oneDNN has no float64 convolutions on CPUs.
func InitConv() error {
	ch := &convChoice
	ch.once.Do(func() {
		ch.onednn, ch.strict, ch.label, ch.err = selectConv(os.Getenv(EnvConv), dnnl.Available)
	})
	return ch.err
}

// selectConv returns the choice that value of INITSCOPE_CONV makes, with
// available saying whether oneDNN loads and describing it or why not: on
// oneDNN or not, strictly (value "onednn"), its label for ConvBackend,
// and the error of a bad value or of oneDNN asked for and missing.
func selectConv(value string, available func() (bool, string)) (onednn, strict bool, label string, err error) {
	const im2col = "im2col + GEMM"
	switch value {
	case "", "auto":
		ok, desc := available()
		if !ok {
			return false, false, im2col + " (" + desc + ")", nil
		}
		return true, false, fmt.Sprintf("%s, %s below %d input channels", desc, im2col, dnnMinChannels), nil
	case "onednn":
		ok, desc := available()
		if ok {
			return true, true, desc, nil
		}
		err = fmt.Errorf("%s=onednn: %s (or set %s=im2col)", EnvConv, desc, EnvConv)
	case "im2col":
		return false, false, im2col, nil
	default:
		err = fmt.Errorf("%s=%q: want auto, onednn or im2col", EnvConv, value)
	}
	return false, false, im2col + " (the fallback: " + err.Error() + ")", err
}

// ConvBackend names the backend of float32 convolutions, for example
// "onednn 2.6.3 (OpenMP), im2col + GEMM below 8 input channels" or
// "im2col + GEMM", with the reason when it is a fallback; when oneDNN
// refused some convolutions, which then ran on im2col + GEMM, it says how
// many and why it refused the first. Float64 convolutions always run on
// im2col + GEMM. It calls InitConv.
func ConvBackend() string {
	InitConv()
	ch := &convChoice
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.refused == 0 {
		return ch.label
	}
	return fmt.Sprintf("%s; im2col + GEMM for %d convolutions it refused (the first: %s)", ch.label, ch.refused, ch.first)
}

// convOnOneDNN reports whether a float32 convolution of window w runs on
// oneDNN, if oneDNN accepts it: all do if INITSCOPE_CONV=onednn, those of
// dnnMinChannels input channels and more if oneDNN runs by default.
func convOnOneDNN(w *arch.Window) bool {
	InitConv()
	return convChoice.onednn && (convChoice.strict || w.In.C >= dnnMinChannels)
}

// refused takes oneDNN's refusal of a conv op at its creation: the error
// itself if INITSCOPE_CONV=onednn asked for oneDNN, else nil once noted
// for ConvBackend (the op then runs on im2col + GEMM).
func refused(err error) error {
	if convChoice.strict {
		return fmt.Errorf("%s=onednn: %w", EnvConv, err)
	}
	noteRefusal(err)
	return nil
}

// noteRefusal counts an op that oneDNN refused, for ConvBackend.
func noteRefusal(err error) {
	ch := &convChoice
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.refused == 0 {
		ch.first = err.Error()
	}
	ch.refused++
}

// dnnMinChannels is the fewest input channels of a convolution that runs
// on oneDNN when INITSCOPE_CONV is auto. Below it, oneDNN's forward
// kernel writes a blocked output that must be reordered back, and its
// backward kernels are GEMM-based on plain layouts (see package dnnl):
// im2col + GEMM made the first layers of the benchmark nets faster, and
// their steps 5% faster (AVX2, 2 threads).
const dnnMinChannels = 8

// dnnChunk is the most samples that a oneDNN primitive takes. The batch
// runs in chunks of at most dnnChunk samples (see also dnnSplit); this
// bounds the buffers of oneDNN's blocked layouts (about a chunk's inputs
// and outputs per thread and op) and the number of batch sizes to create
// primitives for.
const dnnChunk = 128

// dnnSplit is the number of chunks per thread that a batch is cut into
// (when they hold under dnnChunk samples): a goroutine that the OS holds
// back (as on a loaded machine) then does fewer, where with one chunk per
// thread the others would wait for it. Half-size chunks cost about 4% more
// per sample on one thread (oneDNN on AVX2, 16 against 32 samples).
const dnnSplit = 2

// dnnCached is the number of chunk sizes whose primitives a goroutine of
// an op keeps: enough for training's batch, and the last batch of an
// epoch and of an evaluation.
const dnnCached = 4

// dnnConv runs a float32 conv op on oneDNN (package dnnl), its primitives
// single-threaded: up to threads goroutines take the batch's chunks, as
// the im2col path does, each with primitives of its own for each chunk
// size, created on first use (oneDNN compiles kernels for each shape) and
// kept for the last dnnCached sizes, with their blocked copies and
// scratchpads in one workspace per goroutine. (oneDNN's own threads,
// OpenMP's, would form a team per OS thread that calls it, and Go moves
// goroutines between OS threads: idle teams spinning beside the working
// one made a step several times slower.) The bias and the ReLU are fused
// into the forward primitive. Each chunk's parameter gradients go to a
// slot of their own, summed in chunk order into dw and db, so that the
// result does not depend on which goroutine did which chunk, and so that
// a failure (of oneDNN's memory, say) leaves the parameters' gradients
// untouched for im2col + GEMM to compute.
type dnnConv struct {
	shape   dnnl.ConvShape // of one sample, on one thread
	threads int
	workers []dnnWorker

	// The current pass.
	batch, chunk  int
	next          atomic.Int64 // the next chunk to take
	x, w, b, y    []float32    // forward
	dy, dx        []float32    // backward (dx nil when not needed)
	bwd           bool         // the pass is backward
	grads, dw, db []float32    // per-chunk kernel and bias gradients; their sums
	task          dnnTask
}

// dnnWorker is one goroutine's primitives, by chunk size (the most recent
// last), their workspace, and its error in the current pass.
type dnnWorker struct {
	convs []*dnnl.Conv
	ws    *dnnl.Workspace
	err   error
}

// newDNNConv returns the oneDNN primitives of window w, relu fused,
// running on up to threads goroutines, or oneDNN's refusal.
func newDNNConv(w *arch.Window, relu bool, threads int) (*dnnConv, error) {
	d := &dnnConv{threads: max(threads, 1), shape: dnnl.ConvShape{
		Batch: 1, InC: w.In.C, InH: w.In.H, InW: w.In.W, OutC: w.Out.C,
		KH: w.KH, KW: w.KW, StrideH: w.SH, StrideW: w.SW, DilationH: w.DH, DilationW: w.DW,
		PadTop: w.Top, PadLeft: w.Left, PadBottom: w.Bottom, PadRight: w.Right,
		Groups: w.Groups, Bias: true, ReLU: relu, Threads: 1,
	}}
	d.workers = make([]dnnWorker, d.threads)
	for i := range d.workers {
		d.workers[i].ws = new(dnnl.Workspace)
	}
	d.task.d = d
	// One sample: oneDNN accepts or refuses the geometry now, when a
	// refusal can still fail NewModel.
	if _, err := d.workers[0].get(d.shape, 1); err != nil {
		return nil, err
	}
	return d, nil
}

// get returns the worker's primitives for chunks of n samples of shape s.
func (wk *dnnWorker) get(s dnnl.ConvShape, n int) (*dnnl.Conv, error) {
	for _, c := range wk.convs {
		if c.Shape().Batch == n {
			return c, nil
		}
	}
	s.Batch = n
	c, err := dnnl.NewConvShared(s, wk.ws)
	if err != nil {
		return nil, err
	}
	if len(wk.convs) == dnnCached {
		wk.convs[0].Close()
		wk.convs = append(wk.convs[:0], wk.convs[1:]...)
	}
	wk.convs = append(wk.convs, c)
	return c, nil
}

// sizes returns the number of values of an input, of an output, of the
// kernel and of the bias.
func (d *dnnConv) sizes() (in, out, w, b int) {
	s := &d.shape
	return s.InC * s.InH * s.InW, s.OutC * s.OutH() * s.OutW(), s.OutC * s.InC / s.Groups * s.KH * s.KW, s.OutC
}

// chunks is the number of chunks in the batch.
func (d *dnnConv) chunks() int { return (d.batch + d.chunk - 1) / d.chunk }

// split cuts a batch into chunks: dnnSplit per thread, or more of
// dnnChunk samples.
func (d *dnnConv) split(batch int) {
	d.batch = batch
	d.chunk = min(dnnChunk, (batch+dnnSplit*d.threads-1)/(dnnSplit*d.threads))
}

// run has up to threads goroutines run the current pass over the batch's
// chunks, and returns the first error of a worker.
func (d *dnnConv) run() error {
	d.next.Store(0)
	n := min(d.threads, d.chunks())
	tensor.Parallel(d.threads, n, 1, &d.task)
	var err error
	for i := range n {
		if err == nil {
			err = d.workers[i].err
		}
		d.workers[i].err = nil
	}
	return err
}

// dnnTask runs the current pass of a dnnConv; its range runs over
// workers, each of which takes chunks until none is left.
type dnnTask struct{ d *dnnConv }

func (t *dnnTask) Range(lo, hi int) {
	d := t.d
	for i := lo; i < hi; i++ {
		wk := &d.workers[i]
		for wk.err == nil {
			ch := int(d.next.Add(1)) - 1
			if ch >= d.chunks() {
				break
			}
			wk.err = d.runChunk(wk, ch)
		}
	}
}

// runChunk runs the current pass on chunk ch with the worker's primitives.
func (d *dnnConv) runChunk(wk *dnnWorker, ch int) error {
	in, out, nw, nb := d.sizes()
	b0, b1 := ch*d.chunk, min((ch+1)*d.chunk, d.batch)
	c, err := wk.get(d.shape, b1-b0)
	if err != nil {
		return err
	}
	x := d.x[b0*in : b1*in]
	if !d.bwd {
		return c.Forward(x, d.w, d.b, d.y[b0*out:b1*out])
	}
	dy := d.dy[b0*out : b1*out]
	if d.dx != nil {
		if err := c.BackwardData(dy, d.w, d.dx[b0*in:b1*in]); err != nil {
			return err
		}
	}
	g := d.grads[ch*(nw+nb):][:nw+nb]
	return c.BackwardWeights(x, dy, g[:nw], g[nw:])
}

// forward sets y to the rectified convolution of x plus the bias. It
// reports false, the failure noted for ConvBackend, if oneDNN fails.
func (d *dnnConv) forward(x, w, b, y []float32, batch int) bool {
	d.x, d.w, d.b, d.y, d.bwd = x, w, b, y, false
	d.split(batch)
	if err := d.run(); err != nil {
		noteRefusal(err)
		return false
	}
	return true
}

// backward sets d.dw and d.db to the parameter gradients and, if dx is
// not nil, dx to the input gradient, from the output gradient dy (masked
// where the ReLU's output is zero) and the last forward's input x.
func (d *dnnConv) backward(x, w, dy, dx []float32, batch int) error {
	_, _, nw, nb := d.sizes()
	d.x, d.w, d.dy, d.dx, d.bwd = x, w, dy, dx, true
	d.split(batch)
	d.grads = grow(d.grads, d.chunks()*(nw+nb))
	if err := d.run(); err != nil {
		return err
	}
	d.dw, d.db = grow(d.dw, nw), grow(d.db, nb)
	copy(d.dw, d.grads[:nw])
	copy(d.db, d.grads[nw:nw+nb])
	for ch := 1; ch < d.chunks(); ch++ {
		g := d.grads[ch*(nw+nb):][:nw+nb]
		axpy(d.dw, d.dw, g[:nw], 1)
		axpy(d.db, d.db, g[nw:], 1)
	}
	return nil
}

// dnnBackward is backward on oneDNN; if oneDNN fails, it notes why for
// ConvBackend and runs backward on im2col + GEMM from then on.
func (c *conv[T]) dnnBackward(dy []T, dx [][]T) {
	if c.relu {
		c.mask = reluBackward[T]{dy: dy, y: c.y}
		tensor.Parallel(c.threads, len(dy), elemGrain, &c.mask)
	}
	var dx32 []float32
	if dx != nil {
		c.dx = grow(c.dx, c.batch*c.win.In.Size())
		dx32, _ = asF32(c.dx)
	}
	x, _ := asF32(c.x)
	w, _ := asF32(c.w.Data)
	g, _ := asF32(dy)
	if err := c.dnn.backward(x, w, g, dx32, c.batch); err != nil {
		noteRefusal(err)
		c.dnn = nil
		c.backward(dy, dx)
		return
	}
	for _, p := range []struct {
		param *Param[T]
		grad  []float32
	}{{c.w, c.dnn.dw}, {c.b, c.dnn.db}} {
		dst, _ := asF32(p.param.Grad)
		if p.param.gradBeta() == 0 {
			copy(dst, p.grad)
		} else {
			axpy(dst, dst, p.grad, 1)
		}
	}
	if dx != nil {
		dx[0] = c.dx
	}
}
