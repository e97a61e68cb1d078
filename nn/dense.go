package nn

import (
	"fmt"

	"github.com/initscope/initscope/tensor"
)

// elemGrain is the least number of elements worth handing to another
// goroutine in an elementwise pass: below it, the hand-off costs more than
// the work.
const elemGrain = 1 << 14

// Dense is a fully connected layer, y = x·Wᵀ + b, with W shaped out×in as in
// PyTorch's nn.Linear.
type Dense[T tensor.Float] struct {
	in, out int
	// W is the weight (out×in), B the bias (out).
	W, B *Param[T]

	relu  bool // the last Forward applied a fused ReLU
	x     []T
	batch int
	y, dx []T
	fwd   biasReLU[T]
	bwd   denseBackward[T]
}

// NewDense returns a dense layer from in to out features, with zero weights
// and biases.
func NewDense[T tensor.Float](in, out int) (*Dense[T], error) {
	if in < 1 || out < 1 {
		return nil, fmt.Errorf("dense layer %d->%d: widths must be >= 1", in, out)
	}
	return &Dense[T]{
		in: in, out: out,
		W: newParam[T](Weight, in, out, out, in),
		B: newParam[T](Bias, in, out, out),
	}, nil
}

// InShape is the input vector's shape.
func (d *Dense[T]) InShape() Shape { return Vec(d.in) }

// OutShape is the output vector's shape.
func (d *Dense[T]) OutShape() Shape { return Vec(d.out) }

// Params returns the weight and the bias.
func (d *Dense[T]) Params() []*Param[T] { return []*Param[T]{d.W, d.B} }

// Forward computes y = x·Wᵀ + b.
func (d *Dense[T]) Forward(x []T, batch int) []T { return d.forward(x, batch, false) }

// forwardReLU computes y = max(0, x·Wᵀ + b) for NewSequential's fusion.
func (d *Dense[T]) forwardReLU(x []T, batch int) []T { return d.forward(x, batch, true) }

func (d *Dense[T]) forward(x []T, batch int, relu bool) []T {
	d.x, d.batch, d.relu = x, batch, relu
	d.y = grow(d.y, batch*d.out)
	tensor.Gemm(false, true, batch, d.out, d.in, 1, x, d.in, d.W.Data, d.in, 0, d.y, d.out)
	d.fwd = biasReLU[T]{y: d.y, bias: d.B.Data, relu: relu}
	tensor.Parallel(batch, elemGrain/d.out+1, &d.fwd)
	return d.y
}

// Backward accumulates dW += dzᵀ·x and db += Σ dz, where dz is dy masked by
// the fused ReLU if any, and returns dx = dz·W.
func (d *Dense[T]) Backward(dy []T, needInput bool) []T {
	d.bwd = denseBackward[T]{dy: dy, y: d.y, db: d.B.Grad, rows: d.batch, relu: d.relu, overwrite: d.B.gradBeta() == 0}
	tensor.Parallel(d.out, elemGrain/d.batch+1, &d.bwd)
	tensor.Gemm(true, false, d.out, d.in, d.batch, 1, dy, d.out, d.x, d.in, d.W.gradBeta(), d.W.Grad, d.in)
	if !needInput {
		return nil
	}
	d.dx = grow(d.dx, d.batch*d.in)
	tensor.Gemm(false, false, d.batch, d.in, d.out, 1, dy, d.out, d.W.Data, d.in, 0, d.dx, d.in)
	return d.dx
}

// biasReLU adds bias to every row of y and, if relu is set, rectifies.
// Its range runs over rows.
type biasReLU[T tensor.Float] struct {
	y, bias []T
	relu    bool
}

func (t *biasReLU[T]) Range(lo, hi int) {
	n := len(t.bias)
	for r := lo; r < hi; r++ {
		addBias(t.y[r*n:(r+1)*n], t.bias, t.relu)
	}
}

// addBias adds bias elementwise to row, and rectifies if relu is set.
func addBias[T tensor.Float](row, bias []T, relu bool) {
	axpy(row, row, bias, 1)
	if relu {
		addReLU(row, row, 0)
	}
}

// denseBackward masks dy (rows × len(db)) where the fused ReLU was off and
// sums its rows into db. Its range runs over columns, so that each part
// owns its slice of db.
type denseBackward[T tensor.Float] struct {
	dy, y, db []T
	rows      int
	relu      bool
	overwrite bool // db holds stale values (ZeroGrad): write, do not add
}

func (t *denseBackward[T]) Range(lo, hi int) {
	n := len(t.db)
	db := t.db[lo:hi]
	if t.overwrite {
		clear(db)
	}
	for r := range t.rows {
		g := t.dy[r*n+lo : r*n+hi]
		if t.relu {
			maskReLU(g, t.y[r*n+lo:r*n+hi])
		}
		axpy(db, db, g, 1)
	}
}
