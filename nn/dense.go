package nn

import (
	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/tensor"
)

// dense is a fully connected node, y = x·Wᵀ + b, with W shaped out×in as
// in PyTorch's nn.Linear, rectified if relu is set.
type dense[T tensor.Float] struct {
	in, out int
	relu    bool
	threads int
	w, b    *Param[T]

	x     []T
	batch int
	y, dx []T
	fwd   biasReLU[T]
	bwd   denseBackward[T]
}

func newDense[T tensor.Float](n *arch.Node, relu bool, threads int) *dense[T] {
	in, out := n.In.Size(), n.Out.C
	return &dense[T]{
		in: in, out: out, relu: relu, threads: threads,
		w: newParam[T](n, Weight, out, in),
		b: newParam[T](n, Bias, out),
	}
}

func (d *dense[T]) params() []*Param[T] { return []*Param[T]{d.w, d.b} }

func (d *dense[T]) overwrites() bool { return d.relu }

// forward computes y = x·Wᵀ + b, rectified if relu is set.
func (d *dense[T]) forward(in [][]T, batch int) []T {
	x := in[0]
	d.x, d.batch = x, batch
	d.y = grow(d.y, batch*d.out)
	tensor.Gemm(d.threads, false, true, batch, d.out, d.in, 1, x, d.in, d.w.Data, d.in, 0, d.y, d.out)
	d.fwd = biasReLU[T]{y: d.y, bias: d.b.Data, relu: d.relu}
	tensor.Parallel(d.threads, batch, elemGrain/d.out+1, &d.fwd)
	return d.y
}

// backward accumulates dW += dzᵀ·x and db += Σ dz, where dz is dy masked
// in place by the ReLU if any, and sets dx = dz·W.
func (d *dense[T]) backward(dy []T, dx [][]T) {
	d.bwd = denseBackward[T]{dy: dy, y: d.y, db: d.b.Grad, rows: d.batch, relu: d.relu, overwrite: d.b.gradBeta() == 0}
	tensor.Parallel(d.threads, d.out, elemGrain/d.batch+1, &d.bwd)
	tensor.Gemm(d.threads, true, false, d.out, d.in, d.batch, 1, dy, d.out, d.x, d.in, d.w.gradBeta(), d.w.Grad, d.in)
	if dx == nil {
		return
	}
	d.dx = grow(d.dx, d.batch*d.in)
	tensor.Gemm(d.threads, false, false, d.batch, d.in, d.out, 1, dy, d.out, d.w.Data, d.in, 0, d.dx, d.in)
	dx[0] = d.dx
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
