package train

import (
	"context"
	"testing"
)

// The protocol benchmarks time training under the reproduction's protocol
// (reproduce's Figures 1 and 2): MNIST, SGD with momentum 0.9, lr 0.003,
// batch 128, an evaluation on the first 1000 test images every 10 steps.

// protocolConfig is a run of spec, initialized by init, under the
// reproduction's protocol for the given epochs, on the default 2 threads.
func protocolConfig(b testing.TB, spec, init string, epochs float64) Config {
	return Config{
		Net: mustNet(b, spec), Init: mustInit(b, init), Optimizer: "sgd", LR: 0.003, Momentum: 0.9,
		Batch: 128, Epochs: epochs, EvalEvery: 10, EvalSamples: 1000, Seed: 1,
	}
}

// BenchmarkProtocolStep times one training step, and a tenth of an
// evaluation, of the nets the reproduction trains most: an op is a step,
// and every tenth op also evaluates, so that ns/op is the protocol's cost
// per step and allocs/op its steady-state allocations. pytorch-default at
// depth 100 is the case whose backward gradients decay below float32's
// normal range. Each run uses one thread, as reproduce runs its training
// tasks (one task per CPU).
func BenchmarkProtocolStep(b *testing.B) {
	for _, c := range []struct{ name, spec, init string }{
		{"fc784-100x50-10/he-normal", "fc:784-100x50-10", "he-normal"},
		{"fc784-100x100-10/he-normal", "fc:784-100x100-10", "he-normal"},
		{"fc784-100x100-10/pytorch-default", "fc:784-100x100-10", "pytorch-default"},
		{"fc784-20x100-10/pytorch-default", "fc:784-20x100-10", "pytorch-default"},
		{"fc784-20x100-10/lecun-normal", "fc:784-20x100-10", "lecun-normal"},
	} {
		b.Run(c.name, func(b *testing.B) {
			tr, te := loadMNIST(b)
			cfg := protocolConfig(b, c.spec, c.init, 1)
			cfg.Threads = 1
			t, err := newTrainer(cfg, tr, te)
			if err != nil {
				b.Fatal(err)
			}
			batch := make([]int, t.cfg.Batch)
			next := 0
			step := func(i int) {
				for k := range batch {
					batch[k] = (next + k*7919) % tr.Len()
				}
				next++
				t.step(batch)
				if i%t.cfg.EvalEvery == t.cfg.EvalEvery-1 {
					t.accuracy(t.model)
				}
			}
			for i := range 2 * t.cfg.EvalEvery { // size the buffers, settle the weights
				step(i)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				step(i)
				i++
			}
		})
	}
}

// BenchmarkEpochDeepNarrow is bench/train_step.sh's workload (e): one
// whole epoch (469 steps) of fc:784-100x50-10, He-normal, under the
// reproduction's protocol, its 47 evaluations included, as Run does it.
func BenchmarkEpochDeepNarrow(b *testing.B) {
	tr, te := loadMNIST(b)
	cfg := protocolConfig(b, "fc:784-100x50-10", "he-normal", 1)
	for b.Loop() {
		res, err := Run(context.Background(), cfg, tr, te, nil)
		if err != nil {
			b.Fatal(err)
		}
		if res.Steps != 469 || len(res.Evals) != 47 {
			b.Fatalf("%d steps, %d evaluations: want 469 and 47", res.Steps, len(res.Evals))
		}
	}
}
