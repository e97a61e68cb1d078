package train

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/data"
	"github.com/initscope/initscope/tensor"
)

// MNIST is decoded once per test binary.
var mnist struct {
	once        sync.Once
	train, test *data.Dataset
	err         error
}

// loadMNIST returns the MNIST splits; tests must not modify them.
func loadMNIST(t testing.TB) (train, test *data.Dataset) {
	t.Helper()
	mnist.once.Do(func() { mnist.train, mnist.test, mnist.err = data.Load("mnist", "") })
	if mnist.err != nil {
		t.Fatal(mnist.err)
	}
	return mnist.train, mnist.test
}

// head returns a view of the first n images of d.
func head(d *data.Dataset, n int) *data.Dataset {
	h := *d
	h.Images, h.Labels = d.Images[:n*d.Size()], d.Labels[:n]
	return &h
}

// synthetic returns n random 1x4x4 images of 3 classes, the class being
// the quarter of the image (of the first three) with the largest sum.
func synthetic(n int, split data.Split, seed uint64) *data.Dataset {
	r := rand.New(rand.NewPCG(seed, 99))
	d := &data.Dataset{
		Info:  data.Info{Name: "synthetic", C: 1, H: 4, W: 4, Classes: 3},
		Split: split, Images: make([]float32, n*16), Labels: make([]int, n),
	}
	for i := range n {
		img := d.Images[i*16 : (i+1)*16]
		var sums [3]float32
		for j := range img {
			img[j] = float32(r.Float64())
			if q := j / 4; q < 3 {
				sums[q] += img[j]
			}
		}
		for c := range sums {
			if sums[c] > sums[d.Labels[i]] {
				d.Labels[i] = c
			}
		}
	}
	return d
}

// syntheticConfig is a small MLP on the synthetic data.
func syntheticConfig(t *testing.T) Config {
	return Config{
		Net: mustNet(t, "fc:16-8-3"), Init: mustInit(t, "he-normal"),
		Optimizer: "sgd", LR: 0.1, Momentum: 0.9, Batch: 32, Epochs: 2, Seed: 3,
	}
}

func mustRun(t *testing.T, cfg Config, trainSet, testSet *data.Dataset) *Result {
	t.Helper()
	res, err := Run(context.Background(), cfg, trainSet, testSet, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestValidate(t *testing.T) {
	info, err := data.Describe("mnist")
	if err != nil {
		t.Fatal(err)
	}
	good := Config{
		Net: mustNet(t, "fc:784-10-10"), Init: mustInit(t, "he-normal"),
		Optimizer: "sgd", LR: 0.1, Batch: 8, Epochs: 1,
	}
	if err := good.Validate(info); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, c := range []struct {
		field string
		edit  func(*Config)
		says  string
	}{
		{"Net", func(c *Config) { c.Net = nil }, "missing"},
		{"Net", func(c *Config) { c.Net = mustNet(t, "net:1x32x32,conv4k3,gap,dense10") }, "1x28x28"},
		{"Net", func(c *Config) { c.Net = mustNet(t, "net:3x28x28,conv4k3,gap,dense10") }, "1x28x28"},
		{"Net", func(c *Config) { c.Net = mustNet(t, "fc:100-10") }, "784"},
		{"Net", func(c *Config) { c.Net = mustNet(t, "fc:784-100-5") }, "10 classes"},
		{"Init", func(c *Config) { c.Init.Weight.Rule.C = 0 }, "zero"},
		{"Optimizer", func(c *Config) { c.Optimizer = "rmsprop" }, "sgd or adam"},
		{"LR", func(c *Config) { c.LR = 0 }, "> 0"},
		{"LR", func(c *Config) { c.LR = -1 }, "> 0"},
		{"LR", func(c *Config) { c.LR = math.NaN() }, "> 0"},
		{"LR", func(c *Config) { c.LR = math.Inf(1) }, "finite"},
		{"Momentum", func(c *Config) { c.Momentum = 1 }, "[0, 1)"},
		{"Momentum", func(c *Config) { c.Momentum = math.NaN() }, "[0, 1)"},
		{"Momentum", func(c *Config) { c.Optimizer, c.Momentum = "adam", 0.9 }, "sgd only"},
		{"WeightDecay", func(c *Config) { c.WeightDecay = -1e-4 }, ">= 0"},
		{"Batch", func(c *Config) { c.Batch = 0 }, ">= 1"},
		{"Epochs", func(c *Config) { c.Epochs = 0 }, "> 0"},
		{"Epochs", func(c *Config) { c.Epochs = math.Inf(1) }, "finite"},
		{"TargetAcc", func(c *Config) { c.TargetAcc = 1.5 }, "[0, 1]"},
		{"TargetAcc", func(c *Config) { c.TargetAcc = -0.1 }, "[0, 1]"},
		{"TargetAcc", func(c *Config) { c.TargetAcc = math.NaN() }, "[0, 1]"},
		{"EvalEvery", func(c *Config) { c.EvalEvery = -1 }, "0 for once per epoch"},
		{"EvalSamples", func(c *Config) { c.EvalSamples = -1 }, "whole test set"},
		{"StopAtTarget", func(c *Config) { c.StopAtTarget = true }, "TargetAcc"},
		{"Threads", func(c *Config) { c.Threads = -1 }, ">= 1, or 0 for 2"},
	} {
		cfg := good
		cfg.Init = mustInit(t, "he-normal")
		c.edit(&cfg)
		err := cfg.Validate(info)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != c.field || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: got %v, want a ConfigError about %s saying %q", c.field, err, c.field, c.says)
		}
	}
}

func TestRunErrors(t *testing.T) {
	cfg := syntheticConfig(t)
	tr, te := synthetic(64, data.Train, 1), synthetic(32, data.Test, 2)
	var ce *ConfigError
	bad := cfg
	bad.EvalSamples = 33
	if _, err := Run(context.Background(), bad, tr, te, nil); !errors.As(err, &ce) || ce.Field != "EvalSamples" {
		t.Errorf("EvalSamples beyond the test set: %v", err)
	}
	bad = cfg
	bad.Batch = 0
	if _, err := Run(context.Background(), bad, tr, te, nil); !errors.As(err, &ce) || ce.Field != "Batch" {
		t.Errorf("batch 0: %v", err)
	}
	b, err := arch.NewBuilder(arch.Flat(16))
	if err != nil {
		t.Fatal(err)
	}
	fc, err := b.Dense("fc", 0, 3)
	if err == nil {
		_, err = b.Norm("bn", fc, "layernorm", 1e-5)
	}
	norm, err2 := b.Graph()
	if err != nil || err2 != nil {
		t.Fatal(err, err2)
	}
	bad = cfg
	bad.Net = norm
	if _, err := Run(context.Background(), bad, tr, te, nil); !errors.As(err, &ce) || ce.Field != "Net" || !strings.Contains(err.Error(), `node "bn" (norm)`) {
		t.Errorf("a net with a normalization node: %v", err)
	}
	other := synthetic(32, data.Test, 2)
	other.Classes = 4
	badLabel := synthetic(32, data.Test, 2)
	badLabel.Labels[5] = 3
	for name, c := range map[string]struct{ tr, te *data.Dataset }{
		"no training set":    {nil, te},
		"no test set":        {tr, nil},
		"empty training set": {head(tr, 0), te},
		"other classes":      {tr, other},
		"label out of range": {tr, badLabel},
	} {
		if _, err := Run(context.Background(), cfg, c.tr, c.te, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestEpochs checks the step and epoch accounting, with and without
// EvalEvery, and that the run stops at a fractional cap.
func TestEpochs(t *testing.T) {
	tr, te := synthetic(100, data.Train, 1), synthetic(50, data.Test, 2)
	type point struct {
		epoch float64
		step  int
	}
	for _, c := range []struct {
		epochs float64
		every  int
		want   []point
	}{
		// 100 examples in batches of 32: 4 steps an epoch, the last of 4.
		{2, 0, []point{{1, 4}, {2, 8}}},
		{0.5, 0, []point{{0.64, 2}}},
		{2, 3, []point{{0.96, 3}, {1.64, 6}, {2, 8}}},
		{1.1, 4, []point{{1, 4}, {1.32, 5}}},
	} {
		cfg := syntheticConfig(t)
		cfg.Epochs, cfg.EvalEvery = c.epochs, c.every
		res := mustRun(t, cfg, tr, te)
		var got []point
		for _, e := range res.Evals {
			got = append(got, point{math.Round(e.Epoch*1e9) / 1e9, e.Step})
		}
		last := c.want[len(c.want)-1]
		if !reflect.DeepEqual(got, c.want) || res.Steps != last.step || res.Stop != StopCap || res.Setup.StepsPerEpoch != 4 {
			t.Errorf("epochs %g, every %d: evals at %v, %d steps, stop %s; want %v", c.epochs, c.every, got, res.Steps, res.Stop, c.want)
		}
	}
}

// TestTrainLoss checks that an evaluation's training loss is the mean over
// the steps since the previous one, and that evaluating changes nothing.
func TestTrainLoss(t *testing.T) {
	tr, te := synthetic(100, data.Train, 1), synthetic(50, data.Test, 2)
	cfg := syntheticConfig(t)
	cfg.EvalEvery = 1
	each := mustRun(t, cfg, tr, te)
	cfg.EvalEvery = 3
	grouped := mustRun(t, cfg, tr, te)
	if len(each.Evals) != 8 || len(grouped.Evals) != 3 {
		t.Fatalf("%d and %d evaluations, want 8 and 3", len(each.Evals), len(grouped.Evals))
	}
	for k, g := range grouped.Evals {
		lo, hi := 3*k, min(3*k+3, 8)
		var sum float64
		for _, e := range each.Evals[lo:hi] {
			sum += e.TrainLoss
		}
		if want := sum / float64(hi-lo); math.Abs(g.TrainLoss-want) > 1e-12 {
			t.Errorf("evaluation %d: train loss %g, want the mean of steps %d..%d, %g", k, g.TrainLoss, lo+1, hi, want)
		}
		if g.TestAccuracy != each.Evals[hi-1].TestAccuracy {
			t.Errorf("evaluation %d: test accuracy %g, but %g when evaluated every step", k, g.TestAccuracy, each.Evals[hi-1].TestAccuracy)
		}
	}
}

func TestTarget(t *testing.T) {
	tr, te := synthetic(400, data.Train, 1), synthetic(200, data.Test, 2)
	cfg := syntheticConfig(t)
	cfg.Epochs, cfg.EvalEvery, cfg.TargetAcc = 20, 5, 0.7
	res := mustRun(t, cfg, tr, te)
	if !res.ReachedTarget || res.EpochsToTarget == nil || res.StepsToTarget == nil {
		t.Fatalf("the synthetic task did not reach 70%%: %+v", res.Evals)
	}
	first := slices.IndexFunc(res.Evals, func(e Eval) bool { return e.TestAccuracy >= 0.7 })
	if e := res.Evals[first]; *res.EpochsToTarget != e.Epoch || *res.StepsToTarget != e.Step {
		t.Errorf("epochs to target %g (step %d), want the first evaluation at 70%%: %+v", *res.EpochsToTarget, *res.StepsToTarget, e)
	}
	if res.Stop != StopCap || len(res.Evals) != 20*13/5 {
		t.Errorf("without StopAtTarget: stop %s after %d evaluations, want cap after %d", res.Stop, len(res.Evals), 20*13/5)
	}
	cfg.StopAtTarget = true
	stopped := mustRun(t, cfg, tr, te)
	if stopped.Stop != StopTarget || len(stopped.Evals) != first+1 || !reflect.DeepEqual(stopped.Evals, res.Evals[:first+1]) {
		t.Errorf("with StopAtTarget: stop %s after %d evaluations, want target after %d", stopped.Stop, len(stopped.Evals), first+1)
	}
	cfg.StopAtTarget, cfg.TargetAcc, cfg.Epochs = false, 1, 1
	never := mustRun(t, cfg, tr, te)
	if never.ReachedTarget || never.EpochsToTarget != nil || never.StepsToTarget != nil {
		t.Errorf("target 100%%: reached %v at %v", never.ReachedTarget, never.EpochsToTarget)
	}
	b, err := json.Marshal(never)
	if err != nil || !strings.Contains(string(b), `"epochs_to_target":null`) {
		t.Errorf("JSON of an unreached target: %s, %v", b, err)
	}
}

// TestCancel cancels a run from the progress of its first evaluation: on
// one thread that is at step 2; on two, where the evaluation of step 2 runs
// beside training and is recorded when the next one is due, at step 4,
// whose evaluation the run records before it stops.
func TestCancel(t *testing.T) {
	tr, te := synthetic(100, data.Train, 1), synthetic(50, data.Test, 2)
	cfg := syntheticConfig(t)
	cfg.EvalEvery = 2
	for threads, steps := range map[int]int{1: 2, 2: 4} {
		cfg.Threads = threads
		ctx, cancel := context.WithCancel(context.Background())
		res, err := Run(ctx, cfg, tr, te, func(Eval) { cancel() })
		if !errors.Is(err, context.Canceled) || res == nil || res.Stop != StopCanceled || res.Steps != steps || len(res.Evals) != steps/2 {
			t.Errorf("%d threads, canceled after the first evaluation: err %v, result %+v", threads, err, res)
		}
	}
}

// TestThreads checks that a run uses, and reports, the threads it is given.
func TestThreads(t *testing.T) {
	tr, te := synthetic(64, data.Train, 1), synthetic(32, data.Test, 2)
	cfg := syntheticConfig(t)
	for threads, want := range map[int]int{0: DefaultThreads, 1: 1, 3: 3} {
		cfg.Threads = threads
		if got := mustRun(t, cfg, tr, te).Setup.Threads; got != want {
			t.Errorf("Threads %d: the run reports %d threads, want %d", threads, got, want)
		}
	}
}

// TestDiverged checks that a huge learning rate stops the run as diverged,
// keeps a target reached before, and leaves no NaN for JSON.
func TestDiverged(t *testing.T) {
	tr, te := loadMNIST(t)
	cfg := Config{
		Net: mustNet(t, "fc:784-100-10"), Init: mustInit(t, "he-normal"),
		Optimizer: "sgd", LR: 1e20, Batch: 64, Epochs: 1, EvalEvery: 1, EvalSamples: 500,
	}
	for _, target := range []float64{0.05, 0.99} {
		cfg.TargetAcc = target
		res := mustRun(t, cfg, head(tr, 6400), te)
		if !res.Diverged || res.Stop != StopDiverged || res.Steps >= 100 {
			t.Fatalf("lr 1e20: diverged %v, stop %s after %d steps", res.Diverged, res.Stop, res.Steps)
		}
		if len(res.Evals) != res.Steps-1 {
			t.Errorf("%d evaluations before diverging at step %d, want one per finished step", len(res.Evals), res.Steps)
		}
		// Any net classifies 5% of the test images right: the target was
		// reached at the first evaluation, before the run diverged.
		if reached := target < 0.5; res.ReachedTarget != reached || (res.EpochsToTarget != nil) != reached {
			t.Errorf("target %g: reached %v, epochs %v", target, res.ReachedTarget, res.EpochsToTarget)
		}
		if _, err := json.Marshal(res); err != nil { // NaN and ±Inf do not marshal
			t.Errorf("JSON of a diverged run: %v", err)
		}
	}
}

// TestDivergedFinite checks that a loss blown up far beyond chance, but
// finite, stops the run as diverged, with SGD and with Adam, while the
// same net at a sane learning rate does not diverge.
func TestDivergedFinite(t *testing.T) {
	tr, te := loadMNIST(t)
	for _, c := range []struct {
		optimizer string
		lr        float64
		diverges  bool
	}{
		{"adam", 10, true}, {"adam", 1, true}, {"sgd", 10, true}, {"sgd", 100, true},
		{"adam", 1e-3, false}, {"sgd", 0.1, false},
	} {
		cfg := Config{
			Net: mustNet(t, "fc:784-100-10"), Init: mustInit(t, "he-normal"),
			Optimizer: c.optimizer, LR: c.lr, Batch: 64, Epochs: 0.1, EvalEvery: 10, EvalSamples: 200, Seed: 1,
		}
		res := mustRun(t, cfg, head(tr, 6400), te)
		if res.Diverged != c.diverges || (res.Stop == StopDiverged) != c.diverges || (res.Divergence != "") != c.diverges {
			t.Errorf("%s lr %g: diverged %v, stop %s, %q; want diverged %v", c.optimizer, c.lr, res.Diverged, res.Stop, res.Divergence, c.diverges)
			continue
		}
		if c.diverges && !strings.Contains(res.Divergence, "100 x max(ln 10") {
			t.Errorf("%s lr %g: divergence %q does not give the bound", c.optimizer, c.lr, res.Divergence)
		}
		for _, e := range res.Evals {
			if e.TrainLoss > DivergenceFactor*math.Log(10) {
				t.Errorf("%s lr %g: an evaluation reports a mean training loss of %g without diverging", c.optimizer, c.lr, e.TrainLoss)
			}
		}
	}
	for _, c := range []struct {
		loss, first float64
		want        bool
	}{
		{math.NaN(), 2.3, true}, {math.Inf(1), 2.3, true}, {1e21, 2.3, true}, {231, 2.3, true}, {229, 2.3, false},
		{3, math.NaN(), false}, {1e5, 1e4, false}, {1.1e6, 1e4, true},
	} {
		if got := diverged(c.loss, c.first, 10) != ""; got != c.want {
			t.Errorf("loss %g after a first loss %g: diverged %v, want %v", c.loss, c.first, got, c.want)
		}
	}
}

// TestMLPMNIST trains fc:784-100-10 with Adam for one epoch: PyTorch gets
// about 94% test accuracy from this recipe.
func TestMLPMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: trains on all of MNIST for an epoch")
	}
	tr, te := loadMNIST(t)
	cfg := Config{
		Net: mustNet(t, "fc:784-100-10"), Init: mustInit(t, "he-normal"),
		Optimizer: "adam", LR: 1e-3, Batch: 128, Epochs: 1, TargetAcc: 0.9, Seed: 1,
	}
	res := mustRun(t, cfg, tr, te)
	t.Logf("test accuracy %.4f after %d steps in %.2f s (%s)", *res.FinalTestAccuracy, res.Steps, res.Seconds, res.Backend)
	if !res.ReachedTarget || *res.FinalTestAccuracy < 0.9 || res.Diverged || len(res.Evals) != 1 {
		t.Errorf("fc:784-100-10, one epoch: test accuracy %v, want >= 90%%", *res.FinalTestAccuracy)
	}
	if e := res.Evals[0]; e.Epoch != 1 || e.Step != 469 || !(e.TrainLoss > 0.1 && e.TrainLoss < 1) {
		t.Errorf("evaluation %+v: want epoch 1, step 469, a mean training loss in (0.1, 1)", e)
	}
}

// TestFM1 shows the paper's first failure mode on MNIST: a deep plain net
// (30 ReLU layers of 64 units) with LeCun's variance 1/fan-in, whose
// activations shrink by half a layer, fails to reach 20% test accuracy
// within a quarter epoch of SGD where He's 2/fan-in reaches it in a few
// tens of steps, for each of three seeds, with the same hyper-parameters.
// Measured (OpenBLAS and gonum alike, seeds 1-10): He reaches 20% within
// 20-60 steps; LeCun stays at 12.6% (the commonest class) and first reaches
// 20% after 600-900 steps, or not within 2 epochs.
func TestFM1(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: six quarter-epoch runs of a 30-layer net on MNIST")
	}
	tr, te := loadMNIST(t)
	for seed := uint64(1); seed <= 3; seed++ {
		cfg := Config{
			Net: mustNet(t, "fc:784-64x30-10"), Optimizer: "sgd", LR: 0.01, Momentum: 0.9,
			Batch: 128, Epochs: 0.25, TargetAcc: 0.2, EvalEvery: 10, EvalSamples: 1000, Seed: seed,
		}
		cfg.Init, cfg.StopAtTarget = mustInit(t, "he-normal"), true
		he := mustRun(t, cfg, tr, te)
		cfg.Init, cfg.StopAtTarget = mustInit(t, "lecun-normal"), false
		lecun := mustRun(t, cfg, tr, te)
		t.Logf("seed %d: he-normal reached 20%% at step %v; lecun-normal best %.3f within %d steps",
			seed, deref(he.StepsToTarget), best(lecun), lecun.Steps)
		if !he.ReachedTarget || *he.StepsToTarget > 80 {
			t.Errorf("seed %d: he-normal did not reach 20%% within 80 steps: %+v", seed, he.Evals)
		}
		if lecun.ReachedTarget || lecun.Diverged || lecun.Stop != StopCap {
			t.Errorf("seed %d: lecun-normal reached 20%% (stop %s): %+v", seed, lecun.Stop, lecun.Evals)
		}
	}
}

func deref(p *int) any {
	if p == nil {
		return "never"
	}
	return *p
}

func best(res *Result) float64 {
	b := 0.0
	for _, e := range res.Evals {
		b = max(b, e.TestAccuracy)
	}
	return b
}

// TestDeterministic checks that a run is a function of its seed on the
// pure-Go backend: a fully connected and a conv residual net, each trained
// twice, give identical evaluations. On another backend it reruns itself in
// a child process with INITSCOPE_BLAS=gonum.
func TestDeterministic(t *testing.T) {
	if !strings.HasPrefix(tensor.Backend(), "gonum") {
		if os.Getenv(tensor.EnvBackend) == "gonum" {
			t.Fatalf("%s=gonum but the backend is %s", tensor.EnvBackend, tensor.Backend())
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestDeterministic$", "-test.v")
		cmd.Env = append(os.Environ(), tensor.EnvBackend+"=gonum")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestDeterministic") {
			t.Fatalf("on gonum: %v\n%s", err, out)
		}
		return
	}
	tr, te := loadMNIST(t)
	for _, c := range []struct{ spec, opt string }{
		{"fc:784-64x3-10", "adam"},
		{"net:1x28x28,conv8k3s2,resconv8k3x2:eta=0.5,resconv16k3s2:shortcut=proj:post=relu,maxpool2,avgpool2s1,conv8k3,gap,dense10", "sgd"},
	} {
		cfg := Config{
			Net: mustNet(t, c.spec), Init: mustInit(t, "pytorch-default"), Optimizer: c.opt,
			LR: 0.01, Batch: 32, Epochs: 1, EvalEvery: 8, EvalSamples: 100, Seed: 9,
		}
		a := mustRun(t, cfg, head(tr, 640), te)
		b := mustRun(t, cfg, head(tr, 640), te)
		if len(a.Evals) != 3 || !reflect.DeepEqual(a.Evals, b.Evals) {
			t.Errorf("%s: two runs of seed 9 differ:\n%+v\n%+v", c.spec, a.Evals, b.Evals)
		}
		cfg.Seed = 10
		if other := mustRun(t, cfg, head(tr, 640), te); reflect.DeepEqual(a.Evals, other.Evals) {
			t.Errorf("%s: seeds 9 and 10 gave the same run", c.spec)
		}
	}
}
