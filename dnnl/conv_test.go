package dnnl

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// requireOneDNN skips the test when oneDNN cannot be loaded, unless
// INITSCOPE_REQUIRE_ONEDNN is set (as CI sets it where libdnnl2 is
// installed), in which case it fails.
func requireOneDNN(t testing.TB) {
	t.Helper()
	if ok, why := Available(); !ok {
		if os.Getenv("INITSCOPE_REQUIRE_ONEDNN") != "" {
			t.Fatalf("INITSCOPE_REQUIRE_ONEDNN is set but %s", why)
		}
		t.Skipf("skipped: %s (set INITSCOPE_REQUIRE_ONEDNN=1 to make this a failure)", why)
	}
}

// direct is a convolution computed in float64 by its definition, each
// output with the sum of the magnitudes of its terms, the scale of its
// float32 rounding error.
type direct struct {
	s                  ConvShape
	oh, ow             int
	y, dx, dw, db      []float64
	yAbs, dxAbs, dwAbs []float64
	dbAbs              []float64
}

// newDirect computes the forward pass of x, w, b and, from dy, the
// backward passes. dy is taken as the gradient after the rectification
// if the shape has one: it is masked where the output is zero, as a
// caller of BackwardData and BackwardWeights masks it.
func newDirect(s ConvShape, x, w, b, dy []float32) *direct {
	d := &direct{s: s, oh: s.OutH(), ow: s.OutW()}
	nx, nw, _, ny := s.sizes()
	d.y, d.yAbs = make([]float64, ny), make([]float64, ny)
	d.dx, d.dxAbs = make([]float64, nx), make([]float64, nx)
	d.dw, d.dwAbs = make([]float64, nw), make([]float64, nw)
	d.db, d.dbAbs = make([]float64, s.OutC), make([]float64, s.OutC)
	d.taps(func(yi, xi, wi int) {
		t := float64(x[xi]) * float64(w[wi])
		d.y[yi] += t
		d.yAbs[yi] += math.Abs(t)
	})
	for yi := range d.y {
		if s.Bias {
			o := yi / (d.oh * d.ow) % s.OutC
			d.y[yi] += float64(b[o])
			d.yAbs[yi] += math.Abs(float64(b[o]))
		}
	}
	g := make([]float64, ny) // dy, masked
	for yi := range g {
		g[yi] = float64(dy[yi])
		if s.ReLU && d.y[yi] <= 0 {
			g[yi] = 0
		}
		if s.ReLU {
			d.y[yi] = max(d.y[yi], 0)
		}
		if s.Bias {
			o := yi / (d.oh * d.ow) % s.OutC
			d.db[o] += g[yi]
			d.dbAbs[o] += math.Abs(g[yi])
		}
	}
	d.taps(func(yi, xi, wi int) {
		t := g[yi] * float64(w[wi])
		d.dx[xi] += t
		d.dxAbs[xi] += math.Abs(t)
		t = g[yi] * float64(x[xi])
		d.dw[wi] += t
		d.dwAbs[wi] += math.Abs(t)
	})
	return d
}

// taps calls f with the indices of the output, input and kernel value of
// every term of the convolution (taps in the padding are skipped).
func (d *direct) taps(f func(yi, xi, wi int)) {
	s := d.s
	cinG, coutG := s.InC/s.Groups, s.OutC/s.Groups
	for n := range s.Batch {
		for o := range s.OutC {
			g := o / coutG
			for i := range d.oh {
				for j := range d.ow {
					yi := ((n*s.OutC+o)*d.oh+i)*d.ow + j
					for c := range cinG {
						for kh := range s.KH {
							r := i*s.StrideH - s.PadTop + kh*s.DilationH
							if r < 0 || r >= s.InH {
								continue
							}
							for kw := range s.KW {
								q := j*s.StrideW - s.PadLeft + kw*s.DilationW
								if q < 0 || q >= s.InW {
									continue
								}
								xi := ((n*s.InC+g*cinG+c)*s.InH+r)*s.InW + q
								wi := ((o*cinG+c)*s.KH+kh)*s.KW + kw
								f(yi, xi, wi)
							}
						}
					}
				}
			}
		}
	}
}

// compare fails the test where got differs from want by more than a
// float32 rounding of the terms: 1e-5 of the sum of their magnitudes.
func compare(t *testing.T, what string, got []float32, want, abs []float64) {
	t.Helper()
	bad := 0
	for i := range want {
		if tol := 1e-5*abs[i] + 1e-30; math.Abs(float64(got[i])-want[i]) > tol {
			if bad < 3 {
				t.Errorf("%s[%d] = %g, want %g (tolerance %.3g)", what, i, got[i], want[i], tol)
			}
			bad++
		}
	}
	if bad > 3 {
		t.Errorf("%s: %d values of %d out of tolerance", what, bad, len(want))
	}
}

func randoms(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// randomShape draws a valid geometry: up to 3 samples of up to 13×13
// pixels, plain, grouped or depthwise, rectangular kernels, strides,
// dilations and asymmetric pads, with or without bias and ReLU.
func randomShape(rng *rand.Rand) ConvShape {
	for {
		s := ConvShape{
			Batch: 1 + rng.IntN(3), InH: 1 + rng.IntN(13), InW: 1 + rng.IntN(13),
			KH: 1 + rng.IntN(5), KW: 1 + rng.IntN(5),
			StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1,
			PadTop: rng.IntN(4), PadLeft: rng.IntN(4), PadBottom: rng.IntN(4), PadRight: rng.IntN(4),
			Bias: rng.IntN(2) == 0, ReLU: rng.IntN(2) == 0, Threads: 1 + rng.IntN(2),
		}
		if rng.IntN(2) == 0 {
			s.StrideH, s.StrideW = 1+rng.IntN(3), 1+rng.IntN(3)
		}
		if rng.IntN(2) == 0 {
			s.DilationH, s.DilationW = 1+rng.IntN(3), 1+rng.IntN(3)
		}
		cinG, coutG := 1+rng.IntN(4), 1+rng.IntN(4)
		switch rng.IntN(3) {
		case 0:
			s.Groups = 1
		case 1:
			s.Groups = 2 + rng.IntN(3)
		default: // depthwise, with a channel multiplier
			s.Groups, cinG = 2+rng.IntN(15), 1
		}
		s.InC, s.OutC = s.Groups*cinG, s.Groups*coutG
		if s.check() == nil {
			return s
		}
	}
}

// checkShape runs the three passes of shape s on random values and
// compares them with the direct convolution.
func checkShape(t *testing.T, rng *rand.Rand, s ConvShape) {
	t.Helper()
	c, err := NewConv(s)
	if err != nil {
		t.Fatalf("NewConv(%s): %v", s, err)
	}
	defer c.Close()
	nx, nw, nb, ny := s.sizes()
	x, w, b, dy := randoms(rng, nx), randoms(rng, nw), randoms(rng, nb), randoms(rng, ny)
	want := newDirect(s, x, w, b, dy)
	y := make([]float32, ny)
	if err := c.Forward(x, w, b, y); err != nil {
		t.Fatal(err)
	}
	compare(t, s.String()+" y", y, want.y, want.yAbs)
	if s.ReLU { // the caller's masking
		for i := range dy {
			if y[i] == 0 {
				dy[i] = 0
			}
		}
	}
	dx := make([]float32, nx)
	if err := c.BackwardData(dy, w, dx); err != nil {
		t.Fatal(err)
	}
	compare(t, s.String()+" dx", dx, want.dx, want.dxAbs)
	dw, db := make([]float32, nw), make([]float32, nb)
	if err := c.BackwardWeights(x, dy, dw, db); err != nil {
		t.Fatal(err)
	}
	compare(t, s.String()+" dw", dw, want.dw, want.dwAbs)
	if s.Bias {
		compare(t, s.String()+" db", db, want.db, want.dbAbs)
	}
}

// TestRandomGeometries checks the three passes on 50 random geometries.
func TestRandomGeometries(t *testing.T) {
	requireOneDNN(t)
	rng := rand.New(rand.NewPCG(11, 1))
	kinds := map[string]int{}
	for range 50 {
		s := randomShape(rng)
		switch {
		case s.Groups == s.InC && s.Groups > 1:
			kinds["depthwise"]++
		case s.Groups > 1:
			kinds["grouped"]++
		}
		if s.DilationH > 1 || s.DilationW > 1 {
			kinds["dilated"]++
		}
		if s.StrideH > 1 || s.StrideW > 1 {
			kinds["strided"]++
		}
		if s.KH != s.KW {
			kinds["rectangular"]++
		}
		if s.PadTop != s.PadBottom || s.PadLeft != s.PadRight {
			kinds["asymmetric pads"]++
		}
		checkShape(t, rng, s)
	}
	t.Logf("geometries drawn: %v", kinds)
}

// TestWorkloadShapes checks the convolutions of the benchmark networks,
// where oneDNN picks its blocked layouts and reorders.
func TestWorkloadShapes(t *testing.T) {
	requireOneDNN(t)
	rng := rand.New(rand.NewPCG(11, 2))
	for _, s := range []ConvShape{
		{Batch: 8, InC: 1, InH: 28, InW: 28, OutC: 32},
		{Batch: 8, InC: 32, InH: 28, InW: 28, OutC: 32},
		{Batch: 8, InC: 16, InH: 14, InW: 14, OutC: 16, Threads: 2},
		{Batch: 4, InC: 64, InH: 9, InW: 9, OutC: 48, StrideH: 2, StrideW: 2, Groups: 4},
	} {
		s.KH, s.KW, s.StrideH, s.StrideW = 3, 3, max(s.StrideH, 1), max(s.StrideW, 1)
		s.DilationH, s.DilationW, s.Groups = 1, 1, max(s.Groups, 1)
		s.PadTop, s.PadLeft, s.PadBottom, s.PadRight = 1, 1, 1, 1
		s.Bias, s.ReLU = true, true
		checkShape(t, rng, s)
	}
}

// TestOtherThread creates a Conv on an OS thread that then ends, and runs
// it on another: oneDNN's own scratchpad is thread-local, and a
// goroutine moves between OS threads.
func TestOtherThread(t *testing.T) {
	requireOneDNN(t)
	rng := rand.New(rand.NewPCG(11, 3))
	for range 5 {
		s := randomShape(rng)
		var c *Conv
		var err error
		done := make(chan struct{})
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			c, err = NewConv(s)
			close(done)
		}()
		<-done
		if err != nil {
			t.Fatal(err)
		}
		nx, nw, nb, ny := s.sizes()
		x, w, b, y := randoms(rng, nx), randoms(rng, nw), randoms(rng, nb), make([]float32, ny)
		runtime.GC()
		if err := c.Forward(x, w, b, y); err != nil {
			t.Fatal(err)
		}
		want := newDirect(s, x, w, b, make([]float32, ny))
		compare(t, s.String()+" y", y, want.y, want.yAbs)
		c.Close()
	}
}

// TestSharedWorkspace runs two Convs of a layer, for two batch sizes,
// in one workspace, in turns, and after the workspace was freed.
func TestSharedWorkspace(t *testing.T) {
	requireOneDNN(t)
	rng := rand.New(rand.NewPCG(11, 4))
	ws := new(Workspace)
	s := ConvShape{InC: 16, InH: 10, InW: 10, OutC: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1,
		DilationH: 1, DilationW: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 1, Bias: true, Threads: 2}
	var convs []*Conv
	for _, batch := range []int{8, 3} {
		s.Batch = batch
		c, err := NewConvShared(s, ws)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		convs = append(convs, c)
	}
	if ws.Bytes() == 0 {
		t.Fatalf("the workspace is empty; the kernels %s use blocked layouts", convs[0].Impl())
	}
	for round := range 3 {
		if round == 2 {
			ws.Close()
		}
		for _, c := range convs {
			s := c.Shape()
			nx, nw, nb, ny := s.sizes()
			x, w, b, y := randoms(rng, nx), randoms(rng, nw), randoms(rng, nb), make([]float32, ny)
			if err := c.Forward(x, w, b, y); err != nil {
				t.Fatal(err)
			}
			want := newDirect(s, x, w, b, make([]float32, ny))
			compare(t, s.String()+" y", y, want.y, want.yAbs)
		}
	}
}

// TestRunAllocatesNothing: executing a Conv allocates nothing.
func TestRunAllocatesNothing(t *testing.T) {
	requireOneDNN(t)
	s := ConvShape{Batch: 2, InC: 4, InH: 6, InW: 6, OutC: 8, KH: 3, KW: 3, StrideH: 1, StrideW: 1,
		DilationH: 1, DilationW: 1, Groups: 1, Bias: true, ReLU: true, Threads: 2}
	c, err := NewConv(s)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nx, nw, nb, ny := s.sizes()
	x, w, b, y := make([]float32, nx), make([]float32, nw), make([]float32, nb), make([]float32, ny)
	dx, dw, db := make([]float32, nx), make([]float32, nw), make([]float32, nb)
	if n := testing.AllocsPerRun(20, func() {
		if c.Forward(x, w, b, y) != nil || c.BackwardData(y, w, dx) != nil || c.BackwardWeights(x, y, dw, db) != nil {
			t.Fatal("a pass failed")
		}
	}); n != 0 {
		t.Errorf("a step allocates %v times, want 0", n)
	}
}

// TestChannelBlock: 16 on a CPU with AVX-512 (unless DNNL_MAX_CPU_ISA
// holds oneDNN below it), 8 otherwise.
func TestChannelBlock(t *testing.T) {
	requireOneDNN(t)
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Skip(err)
	}
	want := 8
	if slices.Contains(strings.Fields(string(info)), "avx512f") && os.Getenv("DNNL_MAX_CPU_ISA") == "" {
		want = 16
	}
	if got := ChannelBlock(); got != want {
		t.Errorf("ChannelBlock() = %d, want %d", got, want)
	}
}

// TestErrors: bad shapes and buffers are errors, as is a closed Conv.
func TestErrors(t *testing.T) {
	requireOneDNN(t)
	ok := ConvShape{Batch: 1, InC: 2, InH: 4, InW: 4, OutC: 2, KH: 3, KW: 3, StrideH: 1, StrideW: 1,
		DilationH: 1, DilationW: 1, Groups: 1}
	for _, tc := range []struct {
		name string
		edit func(*ConvShape)
		want string
	}{
		{"zero batch", func(s *ConvShape) { s.Batch = 0 }, "batch 0"},
		{"zero dilation", func(s *ConvShape) { s.DilationW = 0 }, "column dilation 0"},
		{"negative pad", func(s *ConvShape) { s.PadLeft = -1 }, "negative padding"},
		{"groups", func(s *ConvShape) { s.Groups = 3 }, "3 groups do not divide"},
		{"kernel too large", func(s *ConvShape) { s.KH = 5 }, "larger than the padded input"},
	} {
		s := ok
		tc.edit(&s)
		if _, err := NewConv(s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewConv error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
	c, err := NewConv(ok)
	if err != nil {
		t.Fatal(err)
	}
	x, w, y := make([]float32, 32), make([]float32, 36), make([]float32, 8)
	if err := c.Forward(x, w, nil, y[:7]); err == nil || !strings.Contains(err.Error(), "argument 4 has 7 values, want 8") {
		t.Errorf("short output: error %v", err)
	}
	if err := c.Forward(x, w, make([]float32, 2), y); err == nil || !strings.Contains(err.Error(), "argument 3 has 2 values, want 0") {
		t.Errorf("a bias without one in the shape: error %v", err)
	}
	if err := c.Forward(x, w, nil, y); err != nil {
		t.Errorf("Forward: %v", err)
	}
	c.Close()
	c.Close()
	if err := c.Forward(x, w, nil, y); !errors.Is(err, errClosed) {
		t.Errorf("Forward after Close: error %v", err)
	}
}
