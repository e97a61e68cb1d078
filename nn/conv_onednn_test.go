package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/dnnl"
)

// requireOneDNN skips the test when oneDNN cannot be loaded, unless
// INITSCOPE_REQUIRE_ONEDNN is set, in which case it fails.
func requireOneDNN(t testing.TB) {
	t.Helper()
	if ok, why := dnnl.Available(); !ok {
		if os.Getenv("INITSCOPE_REQUIRE_ONEDNN") != "" {
			t.Fatalf("INITSCOPE_REQUIRE_ONEDNN is set but %s", why)
		}
		t.Skipf("skipped: %s (set INITSCOPE_REQUIRE_ONEDNN=1 to make this a failure)", why)
	}
}

// setConvBackend puts the conv ops of m on oneDNN or on im2col + GEMM,
// whatever INITSCOPE_CONV chose.
func setConvBackend(t testing.TB, m *Model[float32], onednn bool) {
	t.Helper()
	for _, st := range m.steps {
		c, ok := st.op.(*conv[float32])
		if !ok {
			continue
		}
		c.dnn = nil
		if onednn {
			dnn, err := newDNNConv(&c.win, c.relu, c.threads)
			if err != nil {
				t.Fatal(err)
			}
			c.dnn = dnn
		}
	}
}

// workspaceBytes is the memory that the model's conv ops on oneDNN hold
// outside Go's heap.
func workspaceBytes(m *Model[float32]) int {
	n := 0
	for _, st := range m.steps {
		if c, ok := st.op.(*conv[float32]); ok && c.dnn != nil {
			for _, wk := range c.dnn.workers {
				n += wk.ws.Bytes()
			}
		}
	}
	return n
}

// relDiff is ‖a − b‖ / ‖b‖.
func relDiff[A, B float32 | float64](a []A, b []B) float64 {
	var d, n float64
	for i := range b {
		e := float64(a[i]) - float64(b[i])
		d += e * e
		n += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(d / max(n, 1e-300))
}

// backendNets are nets whose convolutions cover what oneDNN's kernels
// tell apart: one input channel (plain backward passes), 8 and more
// (blocked layouts), strides, dilation, groups, depthwise, rectangular
// kernels and asymmetric padding (built by hand), residual blocks.
func backendNets() map[string]*arch.Graph {
	nets := map[string]*arch.Graph{
		"convNet": must(arch.Parse(convNet)),
		"resConv": must(arch.Parse(resConv)),
		"strided": must(arch.Parse("net:3x17x15,conv16k3s2,conv24k3,maxpool2,flatten,dense10")),
	}
	b := must(arch.NewBuilder(arch.Image(8, 12, 11)))
	x := must(b.Conv("grouped", 0, 12, geometry(3, 2, 1, 2, 2, 1, 2, 0, 1, 1, 4)))
	x = must(b.ReLU("relu", x))
	x = must(b.Conv("depthwise", x, 12, geometry(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 12)))
	x = must(b.ReLU("relu2", x))
	x = must(b.Flatten("flatten", x))
	must(b.Dense("dense", x, 10))
	nets["geometries"] = must(b.Graph())
	return nets
}

// TestConvBackendsAgree runs float32 models of the same weights with
// their convolutions on oneDNN and on im2col + GEMM, and a float64 model
// (im2col, checked against finite differences by TestGradientsConv), on
// the same batch, at a size below dnnChunk and one above, twice without
// zeroing the gradients between the steps: outputs, input gradients and
// parameter gradients agree to float32 rounding.
func TestConvBackendsAgree(t *testing.T) {
	requireOneDNN(t)
	for name, g := range backendNets() {
		for _, batch := range []int{5, dnnChunk + 3} {
			t.Run(fmt.Sprintf("%s/batch%d", name, batch), func(t *testing.T) {
				compareBackends(t, g, batch)
			})
		}
	}
}

// compareBackends is TestConvBackendsAgree on one net and batch size.
func compareBackends(t *testing.T, g *arch.Graph, batch int) {
	dnn, im2col := must(NewModel[float32](g, 2)), must(NewModel[float32](g, 2))
	ref := must(NewModel[float64](g, 2))
	setConvBackend(t, dnn, true)
	setConvBackend(t, im2col, false)
	heInit(dnn.Params(), 3)
	for i, p := range dnn.Params() {
		for j, v := range p.Data {
			im2col.Params()[i].Data[j] = v
			ref.Params()[i].Data[j] = float64(v)
		}
	}
	rng := rand.New(rand.NewPCG(4, 5))
	x := make([]float32, batch*g.Input().Size())
	x64 := make([]float64, len(x))
	for i := range x {
		x[i] = float32(rng.NormFloat64())
		x64[i] = float64(x[i])
	}
	dy := make([]float32, batch*g.Output().Size())
	dy64 := make([]float64, len(dy))
	for i := range dy {
		dy[i] = float32(rng.NormFloat64())
		dy64[i] = float64(dy[i])
	}
	const tol = 1e-4
	for _, m := range []*Model[float32]{dnn, im2col} {
		m.ZeroGrad()
	}
	ref.ZeroGrad()
	for step := range 2 { // the second adds to the first's gradients
		want := ref.Forward(x64, batch)
		wantDx := ref.Backward(append([]float64(nil), dy64...), true)
		for _, m := range []*Model[float32]{dnn, im2col} {
			what := "im2col"
			if m == dnn {
				what = "oneDNN"
			}
			y := m.Forward(x, batch)
			if d := relDiff(y, want); d > tol {
				t.Errorf("step %d: %s output differs by %.2g", step, what, d)
			}
			if d := relDiff(m.Backward(append([]float32(nil), dy...), true), wantDx); d > tol {
				t.Errorf("step %d: %s input gradient differs by %.2g", step, what, d)
			}
			for i, p := range m.Params() {
				if d := relDiff(p.Grad, ref.Params()[i].Grad); d > tol {
					t.Errorf("step %d: %s gradient of %s differs by %.2g", step, what, p.Name, d)
				}
			}
		}
	}
	for _, st := range dnn.steps {
		if c, ok := st.op.(*conv[float32]); ok && c.dnn == nil {
			t.Errorf("a conv op left oneDNN: %s", ConvBackend())
		}
	}
}

// TestSelectConv checks each value of INITSCOPE_CONV with oneDNN
// present and absent.
func TestSelectConv(t *testing.T) {
	present := func() (bool, string) { return true, "onednn 2.6.3 (OpenMP)" }
	absent := func() (bool, string) { return false, "oneDNN: cannot load libdnnl.so.2" }
	for _, c := range []struct {
		value          string
		available      func() (bool, string)
		onednn, strict bool
		label, err     string
	}{
		{"", present, true, false, "onednn 2.6.3 (OpenMP), im2col + GEMM below 8 input channels", ""},
		{"auto", present, true, false, "onednn 2.6.3 (OpenMP), im2col + GEMM below 8 input channels", ""},
		{"", absent, false, false, "im2col + GEMM (oneDNN: cannot load libdnnl.so.2)", ""},
		{"onednn", present, true, true, "onednn 2.6.3 (OpenMP)", ""},
		{"onednn", absent, false, false, "im2col + GEMM (the fallback: INITSCOPE_CONV=onednn: oneDNN: cannot load libdnnl.so.2 (or set INITSCOPE_CONV=im2col))",
			"INITSCOPE_CONV=onednn: oneDNN: cannot load libdnnl.so.2 (or set INITSCOPE_CONV=im2col)"},
		{"im2col", present, false, false, "im2col + GEMM", ""},
		{"gemm", present, false, false, `im2col + GEMM (the fallback: INITSCOPE_CONV="gemm": want auto, onednn or im2col)`,
			`INITSCOPE_CONV="gemm": want auto, onednn or im2col`},
	} {
		onednn, strict, label, err := selectConv(c.value, c.available)
		errText := ""
		if err != nil {
			errText = err.Error()
		}
		if onednn != c.onednn || strict != c.strict || label != c.label || errText != c.err {
			t.Errorf("selectConv(%q): %v, %v, %q, %q; want %v, %v, %q, %q", c.value, onednn, strict, label, errText, c.onednn, c.strict, c.label, c.err)
		}
	}
	if _, _, _, err := selectConv("im2col", func() (bool, string) { panic("loaded oneDNN for im2col") }); err != nil {
		t.Error(err)
	}
}

// TestConvBackendReportsRefusals: an op that oneDNN refuses is counted,
// with the first reason, or is an error where oneDNN was asked for.
func TestConvBackendReportsRefusals(t *testing.T) {
	InitConv()
	strict, count, first := convChoice.strict, convChoice.refused, convChoice.first
	defer func() { convChoice.strict, convChoice.refused, convChoice.first = strict, count, first }()
	convChoice.strict, convChoice.refused = false, 0
	for _, err := range []error{errors.New("first reason"), errors.New("second reason")} {
		if e := refused(err); e != nil {
			t.Errorf("refused, not strict: %v", e)
		}
	}
	if got := ConvBackend(); !strings.HasSuffix(got, "; im2col + GEMM for 2 convolutions it refused (the first: first reason)") {
		t.Errorf("ConvBackend() = %q", got)
	}
	convChoice.strict = true
	if e := refused(dnnl.StatusUnimplemented); e == nil || e.Error() != "INITSCOPE_CONV=onednn: dnnl_unimplemented" || !errors.Is(e, dnnl.StatusUnimplemented) {
		t.Errorf("refused, strict: %v", e)
	}
}
