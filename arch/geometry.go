package arch

import "fmt"

// Window is the geometry of a square window moved over a feature map, the
// one copy shared by the theory and both executors: a convolution (Out.C
// output channels) or a pooling layer (Out.C = In.C). Output positions are
// (H + 2 Pad - Kernel) / Stride + 1 along each axis.
type Window struct {
	In, Out             Shape
	Kernel, Stride, Pad int
	// Rows[t] and Cols[t] are the output rows and columns [lo, hi) whose
	// input position o*Stride - Pad + t under kernel tap t lies inside the
	// input.
	Rows, Cols [][2]int
}

// NewWindow returns the geometry of a kernel x kernel window with the
// given stride and zero padding over in, producing outChannels channels.
func NewWindow(in Shape, outChannels, kernel, stride, pad int) (Window, error) {
	switch {
	case !in.Spatial:
		return Window{}, fmt.Errorf("input %s is a vector: this layer needs a c x h x w feature map", in)
	case kernel < 1:
		return Window{}, fmt.Errorf("kernel %d: must be >= 1", kernel)
	case stride < 1:
		return Window{}, fmt.Errorf("stride %d: must be >= 1", stride)
	case pad < 0 || pad >= kernel:
		return Window{}, fmt.Errorf("pad %d: must be in [0, kernel-1 = %d]", pad, kernel-1)
	case in.H+2*pad < kernel || in.W+2*pad < kernel:
		return Window{}, fmt.Errorf("kernel %d with pad %d does not fit the %dx%d input", kernel, pad, in.H, in.W)
	case kernel > maxSize/kernel/in.C:
		return Window{}, fmt.Errorf("kernel %d: a %dx%d window over %d channels is larger than the %d values supported", kernel, kernel, kernel, in.C, maxSize)
	}
	w := Window{In: in, Kernel: kernel, Stride: stride, Pad: pad}
	w.Out = Image(outChannels, windowOut(in.H, kernel, stride, pad), windowOut(in.W, kernel, stride, pad))
	for t := range kernel {
		w.Rows = append(w.Rows, validRange(w.Out.H, in.H, stride, pad, t))
		w.Cols = append(w.Cols, validRange(w.Out.W, in.W, stride, pad, t))
	}
	return w, nil
}

// windowOut is the output length of a window of size k, stride s and padding p over n.
func windowOut(n, k, s, p int) int { return (n+2*p-k)/s + 1 }

// validRange returns the output positions [lo, hi) along one axis of out
// positions whose input position o*stride - pad + tap lies in [0, size).
func validRange(out, size, stride, pad, tap int) [2]int {
	lo := 0
	if first := pad - tap; first > 0 {
		lo = (first + stride - 1) / stride
	}
	last := size - 1 + pad - tap // the largest valid o*stride
	if last < 0 {
		return [2]int{0, 0}
	}
	hi := min(out, last/stride+1)
	return [2]int{min(lo, hi), hi}
}

// Taps is the number of inputs under one window: In.C * Kernel * Kernel,
// the fan-in of a convolution and the rows of its unfolded input.
func (w *Window) Taps() int { return w.In.C * w.Kernel * w.Kernel }

// Corner returns the index, in one input channel plane, of the top left
// input of the window at output position (oh, ow) when there is no padding;
// the window's rows start every In.W values from there.
func (w *Window) Corner(oh, ow int) int { return oh*w.Stride*w.In.W + ow*w.Stride }

// Float is the element type of the unfolding functions.
type Float interface{ ~float32 | ~float64 }

// Unfold fills cols, a Taps() x (samples * Out.H * Out.W) row-major
// matrix, from the samples C x H x W images in x (im2col): row
// (c*k + ki)*k + kj holds, for every output position of every sample, the
// input under kernel tap (ki, kj) of channel c, or zero in the padding.
func Unfold[T Float](w *Window, cols, x []T, samples int) {
	in, out, s := w.In, w.Out, w.Stride
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
					if s == 1 && out.W == in.W {
						// Consecutive output rows read consecutive input
						// rows: copy the whole run, then zero what fell
						// in the padding, mostly single values.
						first, last := hLo*out.W+wLo, (hHi-1)*out.W+wHi
						shift := (ki-w.Pad)*in.W + kj - w.Pad
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
						src := plane[(oh*s-w.Pad+ki)*in.W:][:in.W]
						clear(d[:wLo])
						clear(d[wHi:])
						for ow := wLo; ow < wHi; ow++ {
							d[ow] = src[ow*s-w.Pad+kj]
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
	in, out, s := w.In, w.Out, w.Stride
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
					for oh := rows[0]; oh < rows[1]; oh++ {
						grad := src[oh*out.W:][:out.W]
						d := plane[(oh*s-w.Pad+ki)*in.W:][:in.W]
						for ow := cr[0]; ow < cr[1]; ow++ {
							d[ow*s-w.Pad+kj] += grad[ow]
						}
					}
				}
			}
		}
	}
}
