package dnnl

import (
	"errors"
	"fmt"
	"runtime"
)

// ConvShape is the geometry of a 2-D convolution (a cross-correlation, as
// in PyTorch), batch size included, in the conventions of initscope's
// arch package: dilation 1 is a dense kernel (oneDNN counts one less),
// and the padding of each side is given on its own.
type ConvShape struct {
	// Batch is the number of samples.
	Batch int
	// InC, InH and InW are the input's channels, rows and columns.
	InC, InH, InW int
	// OutC is the number of output channels.
	OutC int
	// KH and KW are the kernel's rows and columns.
	KH, KW int
	// StrideH and StrideW are the strides (>= 1).
	StrideH, StrideW int
	// DilationH and DilationW are the dilations (>= 1; 1 is a dense
	// kernel).
	DilationH, DilationW int
	// PadTop, PadLeft, PadBottom and PadRight are the zero padding of
	// each side (>= 0).
	PadTop, PadLeft, PadBottom, PadRight int
	// Groups splits the channels into groups that see only their own
	// inputs (1: a full convolution; InC: a depthwise one). It must
	// divide InC and OutC.
	Groups int
	// Bias adds a bias per output channel in Forward, and has
	// BackwardWeights compute its gradient.
	Bias bool
	// ReLU rectifies Forward's output, inside oneDNN's kernel.
	ReLU bool
	// Threads is the number of threads the primitives run on (< 1 counts
	// as 1).
	Threads int
}

// OutH is the number of output rows.
func (s ConvShape) OutH() int {
	return (s.InH+s.PadTop+s.PadBottom-(s.KH-1)*s.DilationH-1)/s.StrideH + 1
}

// OutW is the number of output columns.
func (s ConvShape) OutW() int {
	return (s.InW+s.PadLeft+s.PadRight-(s.KW-1)*s.DilationW-1)/s.StrideW + 1
}

// String describes the shape in a line: "64x1x28x28 -> 32 k3x3 s1x1 d1x1
// p1,1,1,1 g1 bias relu".
func (s ConvShape) String() string {
	str := fmt.Sprintf("%dx%dx%dx%d -> %d k%dx%d s%dx%d d%dx%d p%d,%d,%d,%d g%d",
		s.Batch, s.InC, s.InH, s.InW, s.OutC, s.KH, s.KW, s.StrideH, s.StrideW,
		s.DilationH, s.DilationW, s.PadTop, s.PadLeft, s.PadBottom, s.PadRight, s.Groups)
	if s.Bias {
		str += " bias"
	}
	if s.ReLU {
		str += " relu"
	}
	return str
}

// check returns an error if the shape is not a valid convolution.
func (s ConvShape) check() error {
	for _, v := range []struct {
		name  string
		value int
	}{
		{"batch", s.Batch}, {"input channels", s.InC}, {"input rows", s.InH}, {"input columns", s.InW},
		{"output channels", s.OutC}, {"kernel rows", s.KH}, {"kernel columns", s.KW},
		{"row stride", s.StrideH}, {"column stride", s.StrideW},
		{"row dilation", s.DilationH}, {"column dilation", s.DilationW}, {"groups", s.Groups},
	} {
		if v.value < 1 {
			return fmt.Errorf("%s %d: want at least 1", v.name, v.value)
		}
	}
	if min(s.PadTop, s.PadLeft, s.PadBottom, s.PadRight) < 0 {
		return errors.New("negative padding")
	}
	if s.InC%s.Groups != 0 || s.OutC%s.Groups != 0 {
		return fmt.Errorf("%d groups do not divide %d input and %d output channels", s.Groups, s.InC, s.OutC)
	}
	if s.InH+s.PadTop+s.PadBottom < (s.KH-1)*s.DilationH+1 || s.InW+s.PadLeft+s.PadRight < (s.KW-1)*s.DilationW+1 {
		return errors.New("the kernel is larger than the padded input")
	}
	return nil
}

// sizes returns the number of values of the input, kernel, bias (0
// without one) and output.
func (s ConvShape) sizes() (x, w, b, y int) {
	x = s.Batch * s.InC * s.InH * s.InW
	w = s.OutC * s.InC / s.Groups * s.KH * s.KW
	if s.Bias {
		b = s.OutC
	}
	y = s.Batch * s.OutC * s.OutH() * s.OutW()
	return x, w, b, y
}

// Conv is the forward, backward-data and backward-weights primitives of
// one convolution shape. Its methods take the caller's buffers, which
// must have exactly the shape's sizes: images in NCHW order, kernels
// Cout × Cin/groups × KH × KW (PyTorch's layout, which is oneDNN's goihw
// for groups > 1), biases of Cout values. A Conv is not safe for
// concurrent use. Close releases its oneDNN objects; an unreachable Conv
// releases them too, later.
type Conv struct {
	shape                    ConvShape
	res                      *resources
	fwd, bwdData, bwdWeights pass
	impl                     string
	// ws holds the blocked copies and the scratchpad: need bytes, the
	// scratchpad at scratchOffset; own says the Conv made it.
	ws                  *Workspace
	own                 bool
	need, scratchOffset uintptr
	scratch             uintptr // the scratchpad's memory object, 0 if none
	pin                 runtime.Pinner
	argv                [16]uintptr // the arguments of a C call (see sys)
}

// NewConv creates the primitives of a convolution of shape s. oneDNN
// chooses the kernels, and their memory layouts: the blocked layouts of
// its fastest kernels (nChw8c and the like) are used through reorders
// from and to the caller's plain buffers, into a workspace of the Conv's
// own. It returns an error if oneDNN is not available, if s is not a
// valid shape, or if oneDNN refuses it (an error wrapping a [Status]).
func NewConv(s ConvShape) (*Conv, error) {
	c, err := NewConvShared(s, new(Workspace))
	if err == nil {
		c.own = true
	}
	return c, err
}

// NewConvShared is NewConv with the blocked copies and the scratchpad in
// ws, which Convs that never run at the same time can share.
func NewConvShared(s ConvShape, ws *Workspace) (*Conv, error) {
	l, err := load()
	if err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("dnnl: convolution %s: %w", s, err)
	}
	c := &Conv{shape: s, res: &resources{lib: l}, ws: ws}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c.setThreads()
	if err := c.build(); err != nil {
		c.res.release()
		return nil, fmt.Errorf("dnnl: convolution %s: %w", s, err)
	}
	runtime.AddCleanup(c, (*resources).release, c.res)
	return c, nil
}

// Shape returns the shape the primitives were created for.
func (c *Conv) Shape() ConvShape { return c.shape }

// Impl names the kernels oneDNN chose, for the forward, backward-data and
// backward-weights passes: "jit:avx512_core, jit:avx512_core, gemm:jit".
func (c *Conv) Impl() string { return c.impl }

// Forward sets y to the convolution of x with the kernels w, plus the
// bias b (nil without one), rectified if the shape says so.
func (c *Conv) Forward(x, w, b, y []float32) error {
	nx, nw, nb, ny := c.shape.sizes()
	if err := checkLens("Forward", []int{len(x), len(w), len(b), len(y)}, []int{nx, nw, nb, ny}); err != nil {
		return err
	}
	return c.run(&c.fwd, [4][]float32{x, w, b, y})
}

// BackwardData sets dx to the gradient of the loss with respect to the
// input, from dy, its gradient with respect to the output (before the
// rectification: the caller masks dy where a rectified output is zero),
// and the kernels w.
func (c *Conv) BackwardData(dy, w, dx []float32) error {
	nx, nw, _, ny := c.shape.sizes()
	if err := checkLens("BackwardData", []int{len(dy), len(w), len(dx)}, []int{ny, nw, nx}); err != nil {
		return err
	}
	return c.run(&c.bwdData, [4][]float32{dy, w, dx})
}

// BackwardWeights sets dw and db (nil without a bias) to the gradients
// of the loss with respect to the kernels and the bias, from the input x
// and dy, the gradient with respect to the output before rectification.
// It overwrites them: a caller accumulating gradients adds them itself.
func (c *Conv) BackwardWeights(x, dy, dw, db []float32) error {
	nx, nw, nb, ny := c.shape.sizes()
	if err := checkLens("BackwardWeights", []int{len(x), len(dy), len(dw), len(db)}, []int{nx, ny, nw, nb}); err != nil {
		return err
	}
	return c.run(&c.bwdWeights, [4][]float32{x, dy, dw, db})
}

// Close releases the primitives, and the workspace if the Conv made it.
// Methods called after it fail.
func (c *Conv) Close() {
	c.res.release()
	if c.own {
		c.ws.Close()
	}
}

// checkLens returns an error naming the first buffer whose length is not
// the one wanted.
func checkLens(method string, got, want []int) error {
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("dnnl: Conv.%s: argument %d has %d values, want %d", method, i+1, got[i], want[i])
		}
	}
	return nil
}
