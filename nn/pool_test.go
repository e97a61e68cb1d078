package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/initscope/initscope/arch"
)

// poolCases are pooling windows of every geometry: padding (ignored by
// the maximum, counted or excluded by the average), dilations,
// rectangular and asymmetric windows, per-axis strides.
var poolCases = []struct {
	op  arch.Op
	in  arch.Shape
	geo arch.Geometry
}{
	{arch.OpMaxPool, arch.Image(2, 6, 5), arch.Square(2, 2, 0)},
	{arch.OpMaxPool, arch.Image(2, 7, 6), arch.Square(3, 2, 1)},
	{arch.OpMaxPool, arch.Image(2, 6, 7), geometry(2, 2, 1, 1, 2, 2, 0, 0, 0, 0, 1)},
	{arch.OpMaxPool, arch.Image(1, 7, 8), geometry(3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1)},
	{arch.OpMaxPool, arch.Image(2, 5, 7), geometry(2, 3, 1, 2, 1, 1, 0, 1, 1, 2, 1)},
	{arch.OpAvgPool, arch.Image(2, 6, 5), arch.Square(2, 2, 0)},
	{arch.OpAvgPool, arch.Image(2, 5, 6), arch.Square(3, 1, 1)},
	{arch.OpAvgPool, arch.Image(2, 5, 6), exclude(arch.Square(3, 1, 1))},
	{arch.OpAvgPool, arch.Image(2, 7, 6), exclude(arch.Square(3, 2, 1))},
	{arch.OpAvgPool, arch.Image(2, 5, 7), geometry(2, 3, 1, 2, 1, 1, 0, 1, 1, 2, 1)},
	{arch.OpAvgPool, arch.Image(2, 5, 7), exclude(geometry(2, 3, 1, 2, 1, 1, 0, 1, 1, 2, 1))},
	{arch.OpAvgPool, arch.Image(1, 7, 8), exclude(geometry(3, 3, 2, 1, 2, 2, 2, 1, 2, 3, 1))},
	{arch.OpMaxPool, arch.Image(3, 1, 9), geometry(1, 3, 1, 2, 1, 1, 0, 1, 0, 1, 1)},
}

func exclude(g arch.Geometry) arch.Geometry {
	g.ExcludePad = true
	return g
}

// poolModels returns a model of each pooling case, and its name.
func poolModels() (models []*Model[float64], names []string) {
	for _, c := range poolCases {
		models = append(models, build(c.in, func(b *arch.Builder) (int, error) { return b.Pool("pool", c.op, 0, c.geo) }))
		names = append(names, fmt.Sprintf("%s/%v/%s", c.op, c.in, c.geo))
	}
	return models, names
}

func TestGradientsPoolGeometry(t *testing.T) {
	models, names := poolModels()
	for i, m := range models {
		t.Run(names[i], func(t *testing.T) { checkGradients(t, m, 3, 8) })
	}
}

// directPool is the textbook pooling of PyTorch and ONNX, the reference
// for the pool op's forward pass: the input under tap (ki, kj) at output
// (oh, ow) is at row oh·SH - Top + ki·DH, column ow·SW - Left + kj·DW;
// a maximum takes the largest of those inside the image (the padding is
// -inf), an average sums them and divides by kh·kw, or by their number
// when the padding is excluded.
func directPool(w arch.Window, max bool, x []float64, batch int) []float64 {
	in, out := w.In, w.Out
	y := make([]float64, batch*out.Size())
	for q := range batch * in.C {
		plane := x[q*in.H*in.W:][:in.H*in.W]
		for oh := range out.H {
			for ow := range out.W {
				best, sum, inside := math.Inf(-1), 0.0, 0
				for ki := range w.KH {
					for kj := range w.KW {
						ih, iw := oh*w.SH-w.Top+ki*w.DH, ow*w.SW-w.Left+kj*w.DW
						if ih < 0 || ih >= in.H || iw < 0 || iw >= in.W {
							continue
						}
						v := plane[ih*in.W+iw]
						best, sum, inside = math.Max(best, v), sum+v, inside+1
					}
				}
				div := float64(w.KH * w.KW)
				if w.ExcludePad {
					div = float64(inside)
				}
				v := sum / div
				if max {
					v = best
				}
				y[(q*out.H+oh)*out.W+ow] = v
			}
		}
	}
	return y
}

func TestPoolForwardMatchesDirect(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	models, names := poolModels()
	for i, m := range models {
		const batch = 3
		n := &m.Graph().Nodes[1]
		x := make([]float64, batch*n.In.Size())
		randFill(rng, x, 1)
		got, want := m.Forward(x, batch), directPool(n.Window, n.Op == arch.OpMaxPool, x, batch)
		for j := range want {
			if math.Abs(got[j]-want[j]) > 1e-14 {
				t.Fatalf("%s: y[%d] = %v, direct pooling %v", names[i], j, got[j], want[j])
			}
		}
	}
}

// TestMaxPoolTies checks that, on ties, the gradient goes to the first
// maximum of the window in row-major order, as PyTorch routes it; and that
// a window whose inputs are all -inf routes it to one of them, not to
// the padding.
func TestMaxPoolTies(t *testing.T) {
	m := build(arch.Image(1, 2, 3), func(b *arch.Builder) (int, error) {
		return b.Pool("pool", arch.OpMaxPool, 0, geometry(2, 2, 1, 1, 1, 1, 1, 1, 0, 0, 1))
	})
	inf := math.Inf(-1)
	x := []float64{
		inf, 5, 5,
		inf, 5, 1,
	}
	y := m.Forward(x, 1)
	want := []float64{inf, 5, 5, inf, 5, 5}
	if fmt.Sprint(y) != fmt.Sprint(want) {
		t.Fatalf("forward %v, want %v", y, want)
	}
	dx := m.Backward([]float64{1, 10, 100, 1000, 10000, 100000}, true)
	// Output (0,0) sees x[0] only; (1,0) x[0] and x[3], both -inf: x[0]
	// takes both gradients. Outputs (0,1), (0,2), (1,1) and (1,2) see x[1]
	// first among their 5s: it takes all four.
	if wantDx := []float64{1001, 110110, 0, 0, 0, 0}; fmt.Sprint(dx) != fmt.Sprint(wantDx) {
		t.Errorf("input gradient %v, want %v", dx, wantDx)
	}
}
