package arch

import "fmt"

// Geometry is how a window moves over a feature map: its kernel size,
// strides, dilations and padding along each axis, and, for a convolution,
// the number of channel groups. The fc:/net: grammars only make square
// windows with equal padding on every side (Square); model files (ONNX)
// give the rest.
type Geometry struct {
	// KH and KW are the kernel's rows and columns (>= 1).
	KH, KW int
	// SH and SW are the strides (>= 1).
	SH, SW int
	// DH and DW are the dilations (>= 1; 1 is a dense kernel): tap t of a
	// window sits t*D positions after its first.
	DH, DW int
	// Top, Left, Bottom and Right are the padding (>= 0): zeros for a
	// convolution and an average, ignored positions for a maximum.
	Top, Left, Bottom, Right int
	// Groups splits a convolution's channels into groups that see only
	// their own inputs (1: a full convolution; In.C for a depthwise one).
	// Pooling has 1.
	Groups int
	// ExcludePad makes an average pooling divide by the number of taps
	// that lie inside the input (PyTorch's count_include_pad=False, ONNX's
	// default) instead of by KH*KW.
	ExcludePad bool
}

// Square returns the geometry of a kernel x kernel window with the same
// stride and padding along both axes, no dilation and one group.
func Square(kernel, stride, pad int) Geometry {
	return Geometry{KH: kernel, KW: kernel, SH: stride, SW: stride, DH: 1, DW: 1,
		Top: pad, Left: pad, Bottom: pad, Right: pad, Groups: 1}
}

// IsSquare reports whether g is a Square geometry, the kind the spec
// grammar can write.
func (g Geometry) IsSquare() bool { return g == Square(g.KH, g.SH, g.Top) }

// extentH and extentW are the input rows and columns one window spans.
func (g Geometry) extentH() int { return (g.KH-1)*g.DH + 1 }
func (g Geometry) extentW() int { return (g.KW-1)*g.DW + 1 }

// check validates the geometry's numbers for an input of shape in with
// outChannels output channels.
func (g Geometry) check(in Shape, outChannels int) error {
	switch {
	case !in.Spatial:
		return fmt.Errorf("input %s is a vector: this layer needs a c x h x w feature map", in)
	case g.KH < 1 || g.KW < 1:
		return fmt.Errorf("kernel %dx%d: must be >= 1", g.KH, g.KW)
	case g.SH < 1 || g.SW < 1:
		return fmt.Errorf("stride %dx%d: must be >= 1", g.SH, g.SW)
	case g.DH < 1 || g.DW < 1:
		return fmt.Errorf("dilation %dx%d: must be >= 1", g.DH, g.DW)
	case g.KH > maxSize || g.KW > maxSize || g.DH > maxSize || g.DW > maxSize || g.SH > maxSize || g.SW > maxSize:
		return fmt.Errorf("kernel %dx%d, stride %dx%d, dilation %dx%d: sizes above %d are not supported", g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, maxSize)
	case g.Groups < 1:
		return fmt.Errorf("groups %d: must be >= 1", g.Groups)
	case in.C%g.Groups != 0 || outChannels%g.Groups != 0:
		return fmt.Errorf("groups %d: must divide the %d input and %d output channels", g.Groups, in.C, outChannels)
	}
	for _, p := range [][2]int{{g.Top, g.extentH()}, {g.Bottom, g.extentH()}, {g.Left, g.extentW()}, {g.Right, g.extentW()}} {
		if p[0] < 0 || p[0] >= p[1] {
			return fmt.Errorf("pad %d: must be in [0, %d], less than the window's extent %d (pads %d,%d,%d,%d top, left, bottom, right)",
				p[0], p[1]-1, p[1], g.Top, g.Left, g.Bottom, g.Right)
		}
	}
	if in.H+g.Top+g.Bottom < g.extentH() || in.W+g.Left+g.Right < g.extentW() {
		return fmt.Errorf("a %dx%d window (dilation %dx%d) with pads %d,%d,%d,%d does not fit the %dx%d input",
			g.KH, g.KW, g.DH, g.DW, g.Top, g.Left, g.Bottom, g.Right, in.H, in.W)
	}
	if g.KH > maxSize/g.KW || g.KH*g.KW > maxSize/(in.C/g.Groups) {
		return fmt.Errorf("kernel %dx%d over %d channels is larger than the %d values supported", g.KH, g.KW, in.C/g.Groups, maxSize)
	}
	return nil
}

// String writes the geometry compactly: "3x3 s1 p1" for a square window,
// with the dilation, asymmetric padding and groups when they are not the
// defaults.
func (g Geometry) String() string {
	s := fmt.Sprintf("%dx%d s%d", g.KH, g.KW, g.SH)
	if g.SW != g.SH {
		s = fmt.Sprintf("%dx%d s%dx%d", g.KH, g.KW, g.SH, g.SW)
	}
	if g.Top == g.Left && g.Top == g.Bottom && g.Top == g.Right {
		s += fmt.Sprintf(" p%d", g.Top)
	} else {
		s += fmt.Sprintf(" p%d,%d,%d,%d", g.Top, g.Left, g.Bottom, g.Right)
	}
	if g.DH != 1 || g.DW != 1 {
		s += fmt.Sprintf(" d%dx%d", g.DH, g.DW)
	}
	if g.Groups != 1 {
		s += fmt.Sprintf(" g%d", g.Groups)
	}
	if g.ExcludePad {
		s += " exclude-pad"
	}
	return s
}

// Window is the geometry of a window moved over a feature map, the one
// copy shared by the theory and both executors: a convolution (Out.C
// output channels) or a pooling layer (Out.C = In.C). Output positions
// along each axis are (n + pads - extent) / stride + 1, extent being
// (kernel-1)*dilation + 1.
type Window struct {
	Geometry
	In, Out Shape
	// Rows[t] and Cols[t] are the output rows and columns [lo, hi) whose
	// input position o*stride - pad + t*dilation under kernel tap t lies
	// inside the input.
	Rows, Cols [][2]int
}

// NewWindow returns the window of geometry g over in, producing
// outChannels channels.
func NewWindow(in Shape, outChannels int, g Geometry) (Window, error) {
	if err := g.check(in, outChannels); err != nil {
		return Window{}, err
	}
	w := Window{Geometry: g, In: in}
	w.Out = Image(outChannels, windowOut(in.H, g.extentH(), g.SH, g.Top+g.Bottom), windowOut(in.W, g.extentW(), g.SW, g.Left+g.Right))
	for t := range g.KH {
		w.Rows = append(w.Rows, validRange(w.Out.H, in.H, g.SH, g.Top, t*g.DH))
	}
	for t := range g.KW {
		w.Cols = append(w.Cols, validRange(w.Out.W, in.W, g.SW, g.Left, t*g.DW))
	}
	return w, nil
}

// windowOut is the output length of a window of extent e, stride s and
// total padding p over n.
func windowOut(n, e, s, p int) int { return (n+p-e)/s + 1 }

// validRange returns the output positions [lo, hi) along one axis of out
// positions whose input position o*stride - pad + offset lies in [0, size).
func validRange(out, size, stride, pad, offset int) [2]int {
	lo := 0
	if first := pad - offset; first > 0 {
		lo = (first + stride - 1) / stride
	}
	last := size - 1 + pad - offset // the largest valid o*stride
	if last < 0 {
		return [2]int{0, 0}
	}
	hi := min(out, last/stride+1)
	return [2]int{min(lo, hi), hi}
}

// Taps is the number of inputs under one window of one group:
// In.C/Groups * KH * KW, the fan-in of a convolution.
func (w *Window) Taps() int { return w.In.C / w.Groups * w.KH * w.KW }

// UnfoldRows is the number of rows of the unfolded input (Unfold):
// In.C * KH * KW, the taps of every group, group after group.
func (w *Window) UnfoldRows() int { return w.In.C * w.KH * w.KW }

// InputRow returns the input row under kernel row tap ki at output row oh
// (possibly outside [0, In.H) in the padding); InputCol likewise.
func (w *Window) InputRow(oh, ki int) int { return oh*w.SH - w.Top + ki*w.DH }

// InputCol returns the input column under kernel column tap kj at output
// column ow (possibly outside [0, In.W) in the padding).
func (w *Window) InputCol(ow, kj int) int { return ow*w.SW - w.Left + kj*w.DW }

// Float is the element type of the unfolding functions.
type Float interface{ ~float32 | ~float64 }

// Unfold fills cols, an UnfoldRows() x (samples * Out.H * Out.W)
// row-major matrix, from the samples C x H x W images in x (im2col): row
// (c*KH + ki)*KW + kj holds, for every output position of every sample,
// the input under kernel tap (ki, kj) of channel c, or zero in the
// padding. The rows of group g are the contiguous block g*Taps() to
// (g+1)*Taps().
func Unfold[T Float](w *Window, cols, x []T, samples int) {
	in, out := w.In, w.Out
	p := out.H * out.W
	n := samples * p
	for b := range samples {
		row := 0
		for ci := range in.C {
			plane := x[(b*in.C+ci)*in.H*in.W:][:in.H*in.W]
			for ki, rows := range w.Rows {
				hLo, hHi := rows[0], rows[1]
				for kj, cr := range w.Cols {
					wLo, wHi := cr[0], cr[1]
					dst := cols[row*n+b*p:][:p]
					row++
					if hLo == hHi || wLo == wHi {
						clear(dst)
						continue
					}
					if w.SH == 1 && w.SW == 1 && out.W == in.W {
						// Consecutive output rows read consecutive input
						// rows: copy the whole run, then zero what fell
						// in the padding, mostly single values.
						first, last := hLo*out.W+wLo, (hHi-1)*out.W+wHi
						shift := w.InputRow(0, ki)*in.W + w.InputCol(0, kj)
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
					c0 := w.InputCol(0, kj)
					for oh := hLo; oh < hHi; oh++ {
						d := dst[oh*out.W:][:out.W]
						src := plane[w.InputRow(oh, ki)*in.W:][:in.W]
						clear(d[:wLo])
						clear(d[wHi:])
						for ow := wLo; ow < wHi; ow++ {
							d[ow] = src[ow*w.SW+c0]
						}
					}
				}
			}
		}
	}
}

// Fold is the adjoint of Unfold (col2im): it sets dx, the gradient of the
// samples input images, to the sum of the entries of the unfolded gradient
// cols copied from each position.
func Fold[T Float](w *Window, cols, dx []T, samples int) {
	in, out := w.In, w.Out
	p := out.H * out.W
	n := samples * p
	clear(dx[:samples*in.Size()])
	for b := range samples {
		row := 0
		for ci := range in.C {
			plane := dx[(b*in.C+ci)*in.H*in.W:][:in.H*in.W]
			for ki, rows := range w.Rows {
				for kj, cr := range w.Cols {
					src := cols[row*n+b*p:][:p]
					row++
					c0 := w.InputCol(0, kj)
					for oh := rows[0]; oh < rows[1]; oh++ {
						grad := src[oh*out.W:][:out.W]
						d := plane[w.InputRow(oh, ki)*in.W:][:in.W]
						for ow := cr[0]; ow < cr[1]; ow++ {
							d[ow*w.SW+c0] += grad[ow]
						}
					}
				}
			}
		}
	}
}

// Corner returns the index, in one input channel plane, of the top left
// input of the window at output position (oh, ow) of a window without
// padding or dilation; the window's rows start every In.W values from
// there.
func (w *Window) Corner(oh, ow int) int { return oh*w.SH*w.In.W + ow*w.SW }
