package nn

import (
	"math"
	"testing"
)

// The expected values are PyTorch 1.13's, from
//
//	p = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
//	opt = torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)  # etc.
//	for g in grads: p.grad = torch.tensor(g); opt.step(); print(p)
//
// and can be followed by hand; for SGD, the first element:
// step 1: d = 0.5 + 0.01·1 = 0.51, v = 0.51, p = 1 - 0.1·0.51 = 0.949;
// step 2: d = 0.5 + 0.01·0.949 = 0.50949, v = 0.9·0.51 + 0.50949 = 0.96849,
// p = 0.949 - 0.096849 = 0.852151. For Adam at step 1, m = 0.05,
// v = 0.00025, p = 1 - (0.1/0.1)·0.05/(√0.00025/√0.001 + 1e-8) = 0.900000002.
var optimGrads = [][2]float64{{0.5, -0.25}, {0.5, 1.5}, {-1, 0}}

// optimCase is an optimizer configuration and PyTorch's parameters after
// each step of optimGrads.
type optimCase struct {
	name                                   string
	adam                                   bool
	lr, momentum, decay, beta1, beta2, eps float64
	want                                   [][2]float64
}

var optimCases = []optimCase{
	{name: "sgd momentum decay", lr: 0.1, momentum: 0.9, decay: 0.01,
		want: [][2]float64{{0.949, -1.973}, {0.852151, -2.096727}, {0.864134749, -2.205984573}}},
	{name: "sgd plain", lr: 0.1,
		want: [][2]float64{{0.95, -1.975}, {0.9, -2.125}, {1, -2.125}}},
	{name: "adam defaults", adam: true, lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8,
		want: [][2]float64{{0.900000002, -1.9000000039999998}, {0.8000000040000006, -1.9623918700665635}, {0.8075649369687123, -2.010620963266182}}},
	{name: "adam decay", adam: true, lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-3, decay: 0.1,
		want: [][2]float64{{0.9900166389351082, -1.9900221729490022}, {0.9800341770719881, -1.995376615017101}, {0.9802560021962313, -1.998197717830942}}},
}

// vecParam returns a parameter of n values, zero.
func vecParam[T float32 | float64](n int) *Param[T] {
	return &Param[T]{Shape: []int{n}, Data: make([]T, n), Grad: make([]T, n)}
}

// newOptimizer returns the optimizer of c, on 2 threads.
func newOptimizer[T float32 | float64](c optimCase, params []*Param[T]) Optimizer {
	if !c.adam {
		o := NewSGD(params, c.lr, c.momentum, c.decay)
		o.Threads = 2
		return o
	}
	o := NewAdam(params, c.lr)
	o.Threads = 2
	if o.Beta1 != 0.9 || o.Beta2 != 0.999 || o.Eps != 1e-8 || o.WeightDecay != 0 {
		panic("NewAdam does not set PyTorch's defaults")
	}
	o.Beta1, o.Beta2, o.Eps, o.WeightDecay = c.beta1, c.beta2, c.eps, c.decay
	return o
}

// TestOptimizersMatchPyTorch runs each optimizer on a parameter made of
// many copies of the pair (1, -2), long enough to be cut into segments
// shared among goroutines, so that every copy must follow PyTorch's path.
func TestOptimizersMatchPyTorch(t *testing.T) {
	const copies = 3*segmentSize/2 + 1
	for _, c := range optimCases {
		t.Run(c.name, func(t *testing.T) {
			p := vecParam[float64](2 * copies)
			for i := range copies {
				p.Data[2*i], p.Data[2*i+1] = 1, -2
			}
			opt := newOptimizer(c, []*Param[float64]{p, vecParam[float64](3)})
			for step, g := range optimGrads {
				for i := range copies {
					p.Grad[2*i], p.Grad[2*i+1] = g[0], g[1]
				}
				opt.Step()
				for i, v := range p.Data {
					if want := c.want[step][i%2]; math.Abs(v-want) > 1e-12 {
						t.Fatalf("step %d: p[%d] = %.15g, PyTorch %.15g", step+1, i, v, want)
					}
				}
			}
		})
	}
}

func TestOptimizersFloat32(t *testing.T) {
	for _, c := range optimCases {
		p := vecParam[float32](2)
		p.Data[0], p.Data[1] = 1, -2
		opt := newOptimizer(c, []*Param[float32]{p})
		for step, g := range optimGrads {
			p.Grad[0], p.Grad[1] = float32(g[0]), float32(g[1])
			opt.Step()
			for i, v := range p.Data {
				if want := c.want[step][i]; math.Abs(float64(v)-want) > 1e-6 {
					t.Errorf("%s step %d: p[%d] = %v, PyTorch %v", c.name, step+1, i, v, want)
				}
			}
		}
	}
}
