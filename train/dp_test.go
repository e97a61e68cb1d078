package train

import (
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/nn"
	"github.com/initscope/initscope/tensor"
)

// dpCases are the data-parallel checks' nets: fully connected (SGD with
// momentum) and convolutional with residual blocks (Adam), each at a batch
// whose blocks hold enough work for data parallelism on 2 and 3 threads.
var dpCases = []struct {
	spec, opt string
	batch     int
}{
	{"fc:784-64x3-10", "sgd", 64},
	{"net:1x28x28,conv8k3s2,resconv8k3x2:eta=0.5,gap,dense10", "adam", 32},
}

// dpConfig is a run of case c on threads threads.
func dpConfig(t *testing.T, spec, opt string, batch, threads int) Config {
	cfg := Config{
		Net: mustNet(t, spec), Init: mustInit(t, "he-normal"), Optimizer: opt, LR: 0.05,
		Batch: batch, Epochs: 1, EvalEvery: 4, EvalSamples: 100, Seed: 4, Threads: threads,
	}
	if opt == "sgd" {
		cfg.Momentum = 0.9
	} else {
		cfg.LR = 1e-3
	}
	return cfg
}

// relDiff is ‖a − b‖ / ‖b‖.
func relDiff(a, b []float32) float64 {
	var d, n float64
	for i := range b {
		e := float64(a[i]) - float64(b[i])
		d += e * e
		n += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(d / max(n, 1e-300))
}

// TestDataParallelSteps checks that a few steps of data-parallel training
// on 2 and 3 threads (blocks of 32 and 21-22 samples, 16 and 10-11) give
// the weights that one thread gives, to float32 rounding: the change of
// every parameter over 6 steps within 1e-4 of one thread's (relative;
// weights are rounded to 6e-8 of their size at every step, changes of
// 1e-3 of it are thus known to about 1e-5), and the step losses within
// 1e-6; and that a step allocates nothing (on average over 20 steps,
// rounded down: a garbage collection may empty the pools of tensor) but on
// the pure-Go backend, whose products allocate.
func TestDataParallelSteps(t *testing.T) {
	tr, te := loadMNIST(t)
	for _, c := range dpCases {
		var want [][]float32 // one thread's changes
		var wantLoss []float64
		var start [][]float32
		for _, threads := range []int{1, 2, 3} {
			tn, err := newTrainer(dpConfig(t, c.spec, c.opt, c.batch, threads), tr, te)
			if err != nil {
				t.Fatal(err)
			}
			defer tn.close()
			if parts := 0; tn.dp != nil {
				parts = len(tn.dp.parts)
				if parts != threads {
					t.Fatalf("%s, %d threads: %d parts", c.spec, threads, parts)
				}
			} else if threads > 1 {
				t.Fatalf("%s, %d threads: not data-parallel", c.spec, threads)
			}
			params := tn.model.Params()
			if threads == 1 {
				for _, p := range params {
					start = append(start, append([]float32(nil), p.Data...))
				}
			}
			batch := make([]int, c.batch)
			var losses []float64
			for s := range 6 {
				for k := range batch {
					batch[k] = (s*c.batch + k*7919) % tr.Len()
				}
				losses = append(losses, tn.step(batch))
			}
			for i, p := range params {
				change := make([]float32, len(p.Data))
				for j, v := range p.Data {
					change[j] = v - start[i][j]
				}
				if threads == 1 {
					want = append(want, change)
					continue
				}
				if d := relDiff(change, want[i]); d > 1e-4 {
					t.Errorf("%s, %d threads: %s changed by %.2g (relative) otherwise than on one thread", c.spec, threads, p.Name, d)
				}
			}
			if threads == 1 {
				wantLoss = losses
				continue
			}
			for s, l := range losses {
				if math.Abs(l-wantLoss[s]) > 1e-6*wantLoss[s] {
					t.Errorf("%s, %d threads: loss %.9g at step %d, one thread %.9g", c.spec, threads, l, s+1, wantLoss[s])
				}
			}
			if gonum := strings.HasPrefix(tensor.Backend(), "gonum"); gonum {
				continue // gonum's products allocate
			}
			if a := testing.AllocsPerRun(20, func() { tn.step(batch) }); a != 0 {
				t.Errorf("%s, %d threads: %.0f allocations per step, want 0", c.spec, threads, a)
			}
		}
	}
}

// TestDataParallelRun checks whole runs on 2 and 3 threads against one
// thread: the same steps, epochs and evaluations, training losses to 1e-5
// (relative) and test accuracies to one of the 100 images evaluated
// (shared out as 50/50 and 33/33/34); and a diverging run stops at the
// same step.
func TestDataParallelRun(t *testing.T) {
	tr, te := loadMNIST(t)
	tr = head(tr, 640)
	for _, c := range dpCases {
		for _, lr := range []float64{0, 1e20} {
			var want *Result
			for _, threads := range []int{1, 2, 3} {
				cfg := dpConfig(t, c.spec, c.opt, c.batch, threads)
				if lr != 0 {
					cfg.LR = lr
				}
				res := mustRun(t, cfg, tr, te)
				if threads == 1 {
					want = res
					continue
				}
				if res.Steps != want.Steps || res.Epochs != want.Epochs || res.Stop != want.Stop || len(res.Evals) != len(want.Evals) {
					t.Errorf("%s, lr %g, %d threads: %d steps, epoch %g, stop %s, %d evaluations; one thread: %d, %g, %s, %d",
						c.spec, cfg.LR, threads, res.Steps, res.Epochs, res.Stop, len(res.Evals), want.Steps, want.Epochs, want.Stop, len(want.Evals))
					continue
				}
				for i, e := range res.Evals {
					w := want.Evals[i]
					if e.Step != w.Step || e.Epoch != w.Epoch || math.Abs(e.TrainLoss-w.TrainLoss) > 1e-5*w.TrainLoss || math.Abs(e.TestAccuracy-w.TestAccuracy) > 0.0101 {
						t.Errorf("%s, lr %g, %d threads: evaluation %+v, one thread %+v", c.spec, cfg.LR, threads, e, w)
					}
				}
			}
			if lr != 0 && want.Stop != StopDiverged {
				t.Errorf("%s, lr %g: the run stopped: %s, want %s", c.spec, lr, want.Stop, StopDiverged)
			}
		}
	}
}

// TestDataParts checks which runs are data-parallel, and in how many
// blocks.
func TestDataParts(t *testing.T) {
	for _, c := range []struct {
		spec          string
		threads, rows int
		want          int
		why           string
	}{
		{"fc:784-100x50-10", 1, 128, 1, "one thread"},
		{"fc:784-100x50-10", 0, 128, 2, "the default threads"},
		{"fc:784-100x50-10", 4, 128, 4, "four threads"},
		{"fc:784-100x50-10", 4, 30, 4, "fewer rows than threads"},
		{"fc:784-1000x3-10", 4, 3, 3, "fewer rows than threads"},
		{"fc:784-100x50-10", 2, 1, 1, "one row"},
		{"fc:16-8-3", 2, 32, 1, "too little work"},
	} {
		cfg := Config{Net: mustNet(t, c.spec), Threads: c.threads}
		if got := cfg.dataParts(c.rows); got != c.want {
			t.Errorf("%s (%s): %d parts, want %d", c.spec, c.why, got, c.want)
		}
	}
	// fc:784-300-10 with batch normalization before the ReLU, and without.
	for _, norm := range []bool{true, false} {
		b, err := arch.NewBuilder(arch.Flat(784))
		if err != nil {
			t.Fatal(err)
		}
		id, err := b.Dense("fc", 0, 300)
		if err == nil && norm {
			id, err = b.Norm("bn", id, arch.NormBatch, 1e-5)
		}
		if err == nil {
			id, err = b.ReLU("relu", id)
		}
		if err == nil {
			_, err = b.Dense("out", id, 10)
		}
		g, err2 := b.Graph()
		if err != nil || err2 != nil {
			t.Fatal(err, err2)
		}
		cfg := Config{Net: g, Threads: 2}
		if got, want := cfg.dataParts(128), map[bool]int{true: 1, false: 2}[norm]; got != want {
			t.Errorf("fc:784-300-10, batch normalization %v: %d parts, want %d", norm, got, want)
		}
	}
}

// TestFootprintDataParallel checks the memory estimate of a data-parallel
// run against what its trainer holds after a step and an evaluation,
// measured on the heap, as nn's TestEstimate checks nn.Estimate: not
// below it (but for small structs) and not more than twice it. On 4
// threads a net whose weights dominate must count the replicas' gradients:
// the estimate of a run that is not data-parallel undercounts it.
func TestFootprintDataParallel(t *testing.T) {
	tr, te := loadMNIST(t)
	for _, c := range []struct {
		spec  string
		batch int
	}{
		{"fc:784-300x3-10", 64},
		{"net:1x28x28,conv8k3s2,resconv8k3x2:eta=0.5,gap,dense10", 64},
	} {
		cfg := dpConfig(t, c.spec, "sgd", c.batch, 4)
		cfg.EvalSamples = 1000
		if cfg.dataParts(c.batch) != 4 {
			t.Fatalf("%s: not data-parallel in 4 blocks", c.spec)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		tn, err := newTrainer(cfg, tr, te)
		if err != nil {
			t.Fatal(err)
		}
		batch := make([]int, c.batch)
		for k := range batch {
			batch[k] = k
		}
		tn.step(batch)
		tn.evaluate()
		runtime.GC()
		runtime.ReadMemStats(&after)
		got := float64(after.HeapAlloc) - float64(before.HeapAlloc)
		f := cfg.footprint(cfg.batchFor(tr, te), tr.Size(), tr.Len())
		want := f.total() - 8*float64(tr.Len()) // the order of the training set comes with the run's loop
		if got > 1.01*want+1<<16 || want > 2*got {
			t.Errorf("%s, batch %d, 4 threads: allocated %.0f bytes, estimated %.0f", c.spec, c.batch, got, want)
		}
		s := nn.Estimate(cfg.Net, c.batch, 4)
		if single := 4 * (5*s.Params + 2*s.Buffers); got <= single && c.spec[:3] == "fc:" {
			t.Errorf("%s: allocated %.0f bytes, no more than a run without data parallelism is estimated at (%.0f): the check cannot tell", c.spec, got, single)
		}
		tn.close()
		runtime.KeepAlive(tn)
	}
}
