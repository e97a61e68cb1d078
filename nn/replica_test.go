package nn

import (
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/tensor"
)

// replicaNets are the nets of the data-parallel checks: dense layers fused
// with their ReLUs, and conv layers with residual blocks (identity and
// projection shortcuts, a scale the join absorbs) and pooling.
var replicaNets = []string{
	"net:6,dense8,dense8,dense3",
	"net:3x8x8,conv4k3,resconv8k3s2:shortcut=proj:post=relu,resconv8k3x2:eta=0.5,maxpool2s1,gap,dense3",
}

// replicas returns n replicas of m, each on one thread.
func replicas[T tensor.Float](t *testing.T, m *Model[T], n int) []*Model[T] {
	t.Helper()
	var rs []*Model[T]
	for range n {
		r, err := NewReplica(m, 1)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return rs
}

// parallelBackward cuts a batch of batch samples x into one contiguous
// block per model (m, then the replicas), runs each block's Forward and
// Backward on its model, concurrently, each model on a goroutine of its
// own, with the loss's gradient that grad returns for the output of block
// i, rows lo to hi-1; then it adds the replicas' gradients to m's.
// A model whose block is empty runs nothing.
func parallelBackward[T tensor.Float](t *testing.T, m *Model[T], reps []*Model[T], x []T, batch int, grad func(y []T, i, lo, hi int) []T) {
	t.Helper()
	models := append([]*Model[T]{m}, reps...)
	k, in := len(models), m.Graph().Input().Size()
	var wg sync.WaitGroup
	for i, model := range models {
		lo, hi := i*batch/k, (i+1)*batch/k
		model.ZeroGrad()
		if lo == hi {
			continue
		}
		wg.Go(func() {
			y := model.Forward(x[lo*in:hi*in], hi-lo)
			model.Backward(grad(y, i, lo, hi), false)
		})
	}
	wg.Wait()
	sum, err := NewGradSum(m, reps...)
	if err != nil {
		t.Fatal(err)
	}
	sum.Threads = 2
	sum.Add()
}

// TestReplicaGradients checks the gradient of data parallelism in float64
// against central finite differences of L = Σ r·y over the whole batch,
// run on m alone: the summed gradients of the blocks must be the whole
// batch's. Three models share batches of 7 samples (blocks of 2, 2 and 3)
// and of 2 (one block empty, whose model adds nothing).
func TestReplicaGradients(t *testing.T) {
	for _, spec := range replicaNets {
		for _, batch := range []int{7, 2} {
			m := model[float64](spec)
			reps := replicas(t, m, 2)
			rng := rand.New(rand.NewPCG(uint64(batch), 11))
			x := make([]float64, batch*m.Graph().Input().Size())
			randFill(rng, x, 1)
			for _, p := range m.Params() {
				randFill(rng, p.Data, 1/math.Sqrt(float64(max(p.FanIn, 1))))
			}
			out := m.Graph().Output().Size()
			r := make([]float64, batch*out)
			randFill(rng, r, 1)
			parallelBackward(t, m, reps, x, batch, func(_ []float64, _, lo, hi int) []float64 {
				return append([]float64(nil), r[lo*out:hi*out]...)
			})
			loss := func() float64 { return dot(r, m.Forward(x, batch)) }
			for _, p := range m.Params() {
				analytic := append([]float64(nil), p.Grad...)
				for i := range p.Data {
					old := p.Data[i]
					p.Data[i] = old + fdStep
					up := loss()
					p.Data[i] = old - fdStep
					down := loss()
					p.Data[i] = old
					numeric := (up - down) / (2 * fdStep)
					if err := math.Abs(numeric - analytic[i]); err > fdTol*max(1, math.Abs(numeric)) {
						t.Errorf("%s, batch %d: %s[%d]: data-parallel backward %.10g, finite difference %.10g", spec, batch, p.Name, i, analytic[i], numeric)
					}
				}
			}
		}
	}
}

// TestReplicaMatchesOneModel checks a data-parallel step in float32, as a
// training loop takes it, against one model on the whole batch: the mean
// cross-entropy over 37 samples, cut into blocks of 12, 12 and 13 whose
// losses' gradients are scaled by their share of the batch, must give
// every parameter's gradient to float32 rounding (relative 1e-5), and the
// weighted block losses the batch's loss.
func TestReplicaMatchesOneModel(t *testing.T) {
	const batch = 37
	for _, spec := range replicaNets {
		one, dp := model[float32](spec), model[float32](spec)
		heInit(one.Params(), 3)
		heInit(dp.Params(), 3)
		reps := replicas(t, dp, 2)
		rng := rand.New(rand.NewPCG(4, 4))
		in, classes := one.Graph().Input().Size(), one.Graph().Output().Size()
		x := make([]float32, batch*in)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		labels := make([]int, batch)
		for i := range labels {
			labels[i] = rng.IntN(classes)
		}

		var ce SoftmaxCrossEntropy[float32]
		one.ZeroGrad()
		want, g := ce.Loss(one.Forward(x, batch), labels, classes)
		one.Backward(g, false)

		losses := make([]SoftmaxCrossEntropy[float32], 3)
		weighted := make([]float64, 3)
		parallelBackward(t, dp, reps, x, batch, func(y []float32, i, lo, hi int) []float32 {
			share := float64(hi-lo) / batch
			loss, g := losses[i].Loss(y, labels[lo:hi], classes)
			weighted[i] = share * loss
			for i := range g {
				g[i] *= float32(share)
			}
			return g
		})
		// float32 rounding: a backend may compute a block's logits in
		// another order than the whole batch's (oneDNN chunks by batch size).
		if got := weighted[0] + weighted[1] + weighted[2]; math.Abs(got-want) > 1e-6*want {
			t.Errorf("%s: the blocks' weighted losses sum to %.15g, the batch's loss is %.15g", spec, got, want)
		}
		for i, p := range dp.Params() {
			if d := relDiff(p.Grad, one.Params()[i].Grad); d > 1e-5 {
				t.Errorf("%s: %s: the data-parallel gradient is %.2g away from one model's (relative), want <= 1e-5", spec, p.Name, d)
			}
		}
	}
}

// TestReplicaShares checks what a replica shares with its model: the
// values (a change made through the model shows in the replica's
// forward pass), not the gradients.
func TestReplicaShares(t *testing.T) {
	m := model[float64]("fc:3-4-2")
	r := replicas(t, m, 1)[0]
	x := []float64{1, -2, 0.5}
	for i, p := range m.Params() {
		q := r.Params()[i]
		if &q.Data[0] != &p.Data[0] || &q.Grad[0] == &p.Grad[0] || q.Name != p.Name {
			t.Fatalf("%s: the replica's %s shares values %v, gradients %v; want values only",
				p.Name, q.Name, &q.Data[0] == &p.Data[0], &q.Grad[0] == &p.Grad[0])
		}
		for j := range p.Data {
			p.Data[j] = 0.1 * float64(i+j)
		}
	}
	want := append([]float64(nil), m.Forward(x, 1)...)
	for i, v := range r.Forward(x, 1) {
		if v != want[i] {
			t.Fatalf("the replica computes %v, the model %v", r.Forward(x, 1), want)
		}
	}
}

// TestGradSumZeroed checks that GradSum honours ZeroGrad: a model whose
// gradients were zeroed and not written since takes the replicas' sum, a
// zeroed replica adds nothing, and a replica's gradients count as zeroed
// once added (a second Add changes nothing).
func TestGradSumZeroed(t *testing.T) {
	m := model[float64]("fc:2-2")
	reps := replicas(t, m, 2)
	x := []float64{1, 2}
	run := func(model *Model[float64]) {
		model.ZeroGrad()
		model.Forward(x, 1)
		model.Backward([]float64{1, -1}, false)
	}
	want := []float64{1, 2, -1, -2} // dW = dyᵀ·x
	run(reps[0])
	m.ZeroGrad()
	reps[1].ZeroGrad()
	sum := must(NewGradSum(m, reps...))
	sum.Add()
	sum.Add()
	if w := m.Params()[0].Grad; !sameFloats(w, want) {
		t.Errorf("zeroed model, one replica run: weight gradient %v, want %v", w, want)
	}
	run(m)
	run(reps[0])
	run(reps[1])
	sum.Add()
	if w := m.Params()[0].Grad; !sameFloats(w, []float64{3, 6, -3, -6}) {
		t.Errorf("all three run: weight gradient %v, want 3 x %v", w, want)
	}
}

// sameFloats reports whether a and b are equal element for element.
func sameFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestGradSumRefusesOtherGraphs checks that NewGradSum refuses a model
// of another graph, even one of the same shape.
func TestGradSumRefusesOtherGraphs(t *testing.T) {
	m := model[float32]("fc:3-4-2")
	other := must(NewModel[float32](must(arch.Parse("fc:3-4-2")), 1))
	if _, err := NewGradSum(m, other); err == nil || !strings.Contains(err.Error(), "NewReplica") {
		t.Errorf("a model of another graph: got %v, want an error that points to NewReplica", err)
	}
}
