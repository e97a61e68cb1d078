// Package train trains the nets that arch describes, initialized by
// weightinit, on the image data sets of package data, and measures whether
// and how fast training starts: the test accuracy over time and the epochs
// to a target accuracy (Hanin & Rolnick 2018 use 20%).
//
// A run is deterministic for a fixed seed on a given BLAS backend: the
// initialization and the order of the examples come from their own PCG
// streams (see InitStream and ShuffleStream), and every parallel pass of nn
// splits its work the same way. A run uses Config.Threads threads
// (DefaultThreads, 2, unless set). On one, training and evaluations run on
// one goroutine. On more, a net large enough for it (see dataParts) trains
// data-parallel: each batch is cut into one contiguous block of rows per
// thread, each block runs forward and backward on a replica of the model
// (nn.NewReplica: the weights shared, the gradients its own) on a
// goroutine of its own, and the gradients are summed before one optimizer
// step; evaluations share out their images the same way. Its results
// differ from one thread's by the order of float32 sums only. Otherwise
// training runs on one goroutine with the matrix products, elementwise
// passes and optimizer steps on the threads, and evaluations run beside
// it on a copy of the weights.
package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/data"
	"github.com/initscope/initscope/nn"
	"github.com/initscope/initscope/tensor"
)

// Eval is one evaluation of a run.
type Eval struct {
	// Epoch is where the run stands, in passes over the training set:
	// examples seen / training-set size.
	Epoch float64 `json:"epoch"`
	// Step is the number of optimizer steps taken.
	Step int `json:"step"`
	// TrainLoss is the mean training loss (cross-entropy) of the steps
	// since the previous evaluation.
	TrainLoss float64 `json:"train_loss"`
	// TestAccuracy is the fraction of the evaluated test images classified
	// correctly.
	TestAccuracy float64 `json:"test_accuracy"`
}

// Why a run stopped (Result.Stop).
const (
	StopCap      = "cap"      // it trained Config.Epochs epochs
	StopTarget   = "target"   // it reached TargetAcc with StopAtTarget set
	StopDiverged = "diverged" // the training loss diverged (see DivergenceFactor)
	StopCanceled = "canceled" // its context was canceled
)

// Setup echoes what a run did, for reports.
type Setup struct {
	// Arch is the net as given (or in the compact grammar); Params its
	// number of trainable scalars.
	Arch   string `json:"arch"`
	Params int    `json:"params"`
	// Init names the initialization; WeightLaw and BiasLaw are its laws.
	Init      string `json:"init"`
	WeightLaw string `json:"weight_law"`
	BiasLaw   string `json:"bias_law"`
	// Data names the data set; TrainSize is its number of training images,
	// EvalSamples the number of test images each evaluation uses.
	Data        string `json:"data"`
	TrainSize   int    `json:"train_size"`
	EvalSamples int    `json:"eval_samples"`
	// The optimization, as in Config.
	Optimizer    string  `json:"optimizer"`
	LR           float64 `json:"lr"`
	Momentum     float64 `json:"momentum"`
	WeightDecay  float64 `json:"weight_decay"`
	Batch        int     `json:"batch"`
	Epochs       float64 `json:"epochs"`
	TargetAcc    float64 `json:"target_acc"`
	EvalEvery    int     `json:"eval_every"`
	StopAtTarget bool    `json:"stop_at_target"`
	Seed         uint64  `json:"seed"`
	// LogitScale is Config.LogitScale (omitted when 1).
	LogitScale float64 `json:"logit_scale,omitempty"`
	// StepsPerEpoch is the number of mini-batches in an epoch.
	StepsPerEpoch int `json:"steps_per_epoch"`
	// Threads is the number of threads the run used.
	Threads int `json:"threads"`
}

// Result is the outcome of a run.
type Result struct {
	// Evals lists the evaluations in order (empty, not nil, if there was
	// none).
	Evals []Eval `json:"evals"`
	// EpochsToTarget is the epoch of the first evaluation whose test
	// accuracy reached TargetAcc; nil (JSON null) if none did or there was
	// no target.
	EpochsToTarget *float64 `json:"epochs_to_target"`
	// StepsToTarget is the step of that evaluation, nil when it is.
	StepsToTarget *int `json:"steps_to_target"`
	// ReachedTarget says whether EpochsToTarget is set.
	ReachedTarget bool `json:"reached_target"`
	// Diverged says the training loss diverged (see DivergenceFactor),
	// which ended the run (at step Steps, epoch Epochs); Divergence then
	// says how, in one line.
	Diverged   bool   `json:"diverged"`
	Divergence string `json:"divergence,omitempty"`
	// Backend names the BLAS backend (tensor.Backend), ConvBackend that of
	// the convolutions (nn.ConvBackend).
	Backend     string `json:"backend"`
	ConvBackend string `json:"conv_backend"`
	// Seconds is the wall time of the run: building, initialization,
	// training and evaluations, not loading the data.
	Seconds float64 `json:"seconds"`
	// Stop says why the run ended: StopCap, StopTarget, StopDiverged or
	// StopCanceled.
	Stop string `json:"stop"`
	// Steps is the number of training batches run (the diverging one
	// included); Epochs the examples they held / training-set size.
	Steps  int     `json:"steps"`
	Epochs float64 `json:"epochs"`
	// FinalTestAccuracy is the test accuracy of the last evaluation, nil if
	// there was none.
	FinalTestAccuracy *float64 `json:"final_test_accuracy"`
	// Setup echoes the configuration.
	Setup Setup `json:"setup"`
}

// Run trains cfg.Net, initialized from cfg.Init with cfg.Seed, on trainSet
// and evaluates it on testSet as cfg says, calling progress (if not nil)
// after each evaluation. Evaluation is inference alone, in batches of
// cfg.Batch (of cfg.Batch over the threads, per thread, in a
// data-parallel run: see the package doc); on more than one thread
// without data parallelism it runs on a copy of the weights, on a
// goroutine of its own, while training goes on, and is recorded (and
// progress called) when the next one is due or the run ends. The results
// are those of a run that waits for each evaluation: steps taken beyond
// an evaluation that stops the run at its target are not counted. A
// diverging training loss (see DivergenceFactor) ends the run
// with Diverged set; the evaluations before it stand. Run first checks cfg
// and the data with ValidateData; configuration errors are *ConfigError.
// If ctx is canceled, Run stops after the current step and returns the
// result so far (Stop StopCanceled) together with ctx.Err().
func Run(ctx context.Context, cfg Config, trainSet, testSet *data.Dataset, progress func(Eval)) (*Result, error) {
	start := time.Now()
	t, err := newTrainer(cfg, trainSet, testSet)
	if err != nil {
		return nil, err
	}
	defer t.close()
	res := &Result{Evals: []Eval{}, Backend: tensor.Backend(), ConvBackend: nn.ConvBackend(), Setup: cfg.Describe(trainSet, testSet)}
	err = t.loop(ctx, res, progress)
	res.Seconds = time.Since(start).Seconds()
	return res, err
}

// trainer holds the state of one run.
type trainer struct {
	cfg         Config
	train, test *data.Dataset
	evalSamples int
	model       *nn.Model[float32]
	opt         nn.Optimizer
	loss        nn.SoftmaxCrossEntropy[float32]
	x           []float32 // the current batch's images
	y           []int     // and labels
	// dp runs the steps and evaluations of a data-parallel run; nil
	// otherwise.
	dp *dataParallel
	// async, on runs of more than one thread that are not data-parallel,
	// evaluates a copy of the weights while training goes on; nil
	// otherwise.
	async *asyncEval
}

// asyncEval is an evaluation on a copy of the weights, on a goroutine of
// its own: the training's second thread does the evaluations, which then
// cost the training nothing, and every 10 steps of the reproduction's
// protocol is a fifth of its arithmetic.
type asyncEval struct {
	model   *nn.Model[float32] // the copy, on one thread
	e       Eval               // the evaluation running, its accuracy to come
	running bool
	done    chan float64 // the accuracy
}

func newTrainer(cfg Config, trainSet, testSet *data.Dataset) (*trainer, error) {
	if err := cfg.ValidateData(trainSet, testSet); err != nil {
		return nil, err
	}
	if err := tensor.Init(); err != nil {
		return nil, err
	}
	if err := nn.InitConv(); err != nil {
		return nil, err
	}
	rows := min(cfg.Batch, trainSet.Len()) // the most a step holds
	parts := cfg.dataParts(rows)
	modelThreads := cfg.threads()
	if parts > 1 {
		modelThreads = 1 // each replica runs on a thread of its own
	}
	model, err := nn.NewModel[float32](cfg.Net, modelThreads)
	if err != nil {
		return nil, configErr("Net", "%v", err)
	}
	if err := Initialize(model, cfg.Init, cfg.Seed); err != nil {
		return nil, err
	}
	if cfg.LogitScale != 0 {
		scaleLogits(model, float32(cfg.LogitScale))
	}
	t := &trainer{
		cfg: cfg, train: trainSet, test: testSet, model: model,
		evalSamples: cfg.Describe(trainSet, testSet).EvalSamples,
	}
	if parts > 1 {
		if t.dp, err = newDataParallel(t, parts, rows); err != nil {
			return nil, err
		}
	} else {
		t.x, t.y = make([]float32, rows*trainSet.Size()), make([]int, rows)
	}
	if cfg.threads() > 1 && parts == 1 {
		evalModel, err := nn.NewModel[float32](cfg.Net, 1)
		if err != nil {
			return nil, configErr("Net", "%v", err)
		}
		t.async = &asyncEval{model: evalModel, done: make(chan float64, 1)}
	}
	switch cfg.Optimizer {
	case "sgd":
		sgd := nn.NewSGD(model.Params(), cfg.LR, cfg.Momentum, cfg.WeightDecay)
		sgd.Threads = cfg.threads()
		t.opt = sgd
	default:
		adam := nn.NewAdam(model.Params(), cfg.LR)
		adam.WeightDecay, adam.Threads = cfg.WeightDecay, cfg.threads()
		t.opt = adam
	}
	return t, nil
}

// close stops the goroutines of a data-parallel run.
func (t *trainer) close() {
	if t.dp != nil {
		t.dp.close()
	}
}

// Describe returns the Setup that a run of c on these data sets reports;
// it assumes ValidateData accepts them.
func (c *Config) Describe(trainSet, testSet *data.Dataset) Setup {
	arch := c.Net.Source
	if arch == "" {
		arch = c.Net.String()
	}
	evalSamples := c.EvalSamples
	if evalSamples == 0 {
		evalSamples = testSet.Len()
	}
	return Setup{
		Arch: arch, Params: c.Net.Params(),
		Init: c.Init.Name, WeightLaw: c.Init.Weight.String(), BiasLaw: c.Init.Bias.String(),
		Data: trainSet.Name, TrainSize: trainSet.Len(), EvalSamples: evalSamples,
		Optimizer: c.Optimizer, LR: c.LR, Momentum: c.Momentum, WeightDecay: c.WeightDecay,
		Batch: c.Batch, Epochs: c.Epochs, TargetAcc: c.TargetAcc, EvalEvery: c.EvalEvery,
		StopAtTarget: c.StopAtTarget, Seed: c.Seed, LogitScale: c.LogitScale,
		StepsPerEpoch: (trainSet.Len() + c.Batch - 1) / c.Batch, Threads: c.threads(),
	}
}

// loop trains until the cap, the target (with StopAtTarget), divergence or
// cancellation, filling res.
func (t *trainer) loop(ctx context.Context, res *Result, progress func(Eval)) error {
	n := t.train.Len()
	budget := t.cfg.Epochs * float64(n) // examples to train on
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	shuffle := rand.New(rand.NewPCG(t.cfg.Seed, ShuffleStream))
	var lossSum float64
	var lossSteps int
	var first float64 // the first step's loss
	for epoch := 0; ; epoch++ {
		shuffle.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		for lo := 0; lo < n; lo += t.cfg.Batch {
			if err := ctx.Err(); err != nil {
				if t.settle(res, progress) {
					return nil
				}
				res.Stop = StopCanceled
				return err
			}
			hi := min(lo+t.cfg.Batch, n)
			loss := t.step(order[lo:hi])
			res.Steps++
			seen := epoch*n + hi
			res.Epochs = float64(seen) / float64(n)
			if res.Steps == 1 {
				first = loss
			}
			if why := diverged(loss, first, t.train.Classes); why != "" {
				if t.settle(res, progress) {
					return nil
				}
				res.Diverged, res.Stop = true, StopDiverged
				res.Divergence = fmt.Sprintf("the training loss at step %d was %s", res.Steps, why)
				return nil
			}
			lossSum += loss
			lossSteps++
			atCap := float64(seen) >= budget
			due := t.cfg.EvalEvery == 0 && hi == n || t.cfg.EvalEvery > 0 && res.Steps%t.cfg.EvalEvery == 0
			if !due && !atCap {
				continue
			}
			if t.settle(res, progress) {
				return nil
			}
			e := Eval{Epoch: res.Epochs, Step: res.Steps, TrainLoss: lossSum / float64(lossSteps)}
			lossSum, lossSteps = 0, 0
			if t.async != nil && !atCap {
				t.async.start(t, e)
				continue
			}
			e.TestAccuracy = t.evaluate()
			if t.record(res, e, progress) {
				return nil
			}
			if atCap {
				res.Stop = StopCap
				return nil
			}
		}
	}
}

// record adds evaluation e to res and calls progress, and reports whether
// the run stops there, having reached the target with StopAtTarget: it
// then sets res.Stop, and res.Steps and res.Epochs back to e's (training
// may have gone on while e ran).
func (t *trainer) record(res *Result, e Eval, progress func(Eval)) bool {
	res.Evals = append(res.Evals, e)
	res.FinalTestAccuracy = &e.TestAccuracy
	if !res.ReachedTarget && t.cfg.TargetAcc > 0 && e.TestAccuracy >= t.cfg.TargetAcc {
		res.ReachedTarget, res.EpochsToTarget, res.StepsToTarget = true, &e.Epoch, &e.Step
	}
	if progress != nil {
		progress(e)
	}
	if res.ReachedTarget && t.cfg.StopAtTarget {
		res.Stop, res.Steps, res.Epochs = StopTarget, e.Step, e.Epoch
		return true
	}
	return false
}

// settle waits for the evaluation running beside training, if any, and
// records it; it reports whether the run stops there (see record).
func (t *trainer) settle(res *Result, progress func(Eval)) bool {
	a := t.async
	if a == nil || !a.running {
		return false
	}
	a.running = false
	e := a.e
	e.TestAccuracy = <-a.done
	return t.record(res, e, progress)
}

// start copies the weights of t's model and evaluates them on a goroutine
// of its own, as e.
func (a *asyncEval) start(t *trainer, e Eval) {
	params := a.model.Params()
	for i, p := range t.model.Params() {
		copy(params[i].Data, p.Data)
	}
	a.e, a.running = e, true
	go func() { a.done <- t.accuracy(a.model) }()
}

// DivergenceFactor defines divergence: a run diverges at the first step
// whose mean batch loss is NaN, infinite, or above DivergenceFactor times
// the larger of ln(classes) (the loss of a uniform guess) and the first
// step's loss. Such a model gives the right class a probability below
// classes^-100 on average (e^-230 for 10 classes, against 1/10 for a
// guess) and is far worse than where it started: no optimizer recovers
// from there in practice, while a net that starts with a large loss
// (exploding activations) is not called diverged for starting there.
const DivergenceFactor = 100

// diverged says why a step's loss counts as diverged, given the first
// step's loss and the number of classes, or "" when it does not.
func diverged(loss, first float64, classes int) string {
	chance := math.Log(float64(classes))
	switch limit := DivergenceFactor * math.Max(chance, first); {
	case !finite(loss):
		return fmt.Sprint(loss)
	case loss > limit:
		return fmt.Sprintf("%.3g, above %.3g = %d x max(ln %d = %.3g, the first step's loss %.3g)", loss, limit, DivergenceFactor, classes, chance, first)
	}
	return ""
}

// step trains on the examples with the given indices and returns the
// batch's mean loss. It takes no optimizer step if the loss is not finite.
func (t *trainer) step(indices []int) float64 {
	if t.dp != nil {
		return t.dp.step(t, indices)
	}
	b, size := len(indices), t.train.Size()
	x, y := t.x[:b*size], t.y[:b]
	for k, i := range indices {
		copy(x[k*size:(k+1)*size], t.train.Pixels(i))
		y[k] = t.train.Labels[i]
	}
	t.model.ZeroGrad()
	loss, grad := t.loss.Loss(t.model.Forward(x, b), y, t.train.Classes)
	if !finite(loss) {
		return loss
	}
	t.model.Backward(grad, false)
	t.opt.Step()
	return loss
}

// evaluate returns the test accuracy of the model as it stands: shared
// out among the replicas of a data-parallel run, on the trainer's
// goroutine otherwise.
func (t *trainer) evaluate() float64 {
	if t.dp != nil {
		return t.dp.accuracy(t)
	}
	return t.accuracy(t.model)
}

// accuracy classifies the first evalSamples test images with model, in
// batches of the training batch size, and returns the fraction it gets
// right. It reads only what no step changes.
func (t *trainer) accuracy(model *nn.Model[float32]) float64 {
	return float64(t.correct(model, 0, t.evalSamples, t.cfg.Batch)) / float64(t.evalSamples)
}

// correct classifies test images lo to hi-1 with model, in batches of at
// most batch, and returns how many it gets right.
func (t *trainer) correct(model *nn.Model[float32], lo, hi, batch int) int {
	size, classes := t.test.Size(), t.test.Classes
	correct := 0
	for ; lo < hi; lo += batch {
		end := min(lo+batch, hi)
		logits := model.Forward(t.test.Images[lo*size:end*size], end-lo)
		for r, label := range t.test.Labels[lo:end] {
			if argmax(logits[r*classes:(r+1)*classes]) == label {
				correct++
			}
		}
	}
	return correct
}

// argmax returns the index of the largest value, the first one on ties; NaN
// is never the largest.
func argmax(v []float32) int {
	best := 0
	top := float32(math.Inf(-1))
	for i, x := range v {
		if x > top {
			best, top = i, x
		}
	}
	return best
}

// dpMinMACs is the least work, in multiply-adds of a forward pass, that a
// block of a data-parallel step must hold: below it, waking the other
// goroutines and summing the gradients cost more than the step saves.
const dpMinMACs = 1 << 20

// dataParts returns the number of blocks, one per thread, that a
// data-parallel run cuts batches of rows samples into, or 1 when the run
// is not data-parallel: on one thread; with fewer than two rows; for a
// net with batch normalization, whose statistics over a block are not the
// batch's; and for a net whose forward pass over a block is less than
// dpMinMACs multiply-adds.
func (c *Config) dataParts(rows int) int {
	parts := min(c.threads(), rows)
	if parts < 2 {
		return 1
	}
	macs := 0.0 // of a forward pass of one sample
	for i := range c.Net.Nodes {
		n := &c.Net.Nodes[i]
		if n.Op == arch.OpNorm {
			return 1
		}
		if n.HasWeights() {
			macs += float64(n.FanIn()) * float64(n.Out.Size())
		}
	}
	if macs*float64(rows/parts) < dpMinMACs {
		return 1
	}
	return parts
}

// dataParallel runs the steps and evaluations of a data-parallel run:
// part 0 on the trainer's model on the trainer's goroutine, each other
// part on a replica on a goroutine of its own, started once and woken by a
// job per step or evaluation. The goroutines are not locked to OS threads:
// waking a locked one took about 1 ms against 0.1 ms (fc:784-100x50-10,
// batch 128, 2 threads: 5.9 against 4.5 ms per step).
type dataParallel struct {
	parts []*part
	sum   *nn.GradSum[float32]
	done  chan struct{} // one value per job a worker finishes
}

// part is one block of a data-parallel run: its model, its loss and its
// block's images and labels, and what its last job found.
type part struct {
	model *nn.Model[float32]
	loss  nn.SoftmaxCrossEntropy[float32]
	x     []float32
	y     []int
	// rows is the most images an evaluation runs through the model at
	// once: the batch size over the number of parts, rounded up.
	rows int
	jobs chan job // nil for part 0
	// The last job's result: the part's loss weighted by its share of the
	// batch, or the number of test images it classified correctly.
	weighted float64
	correct  int
}

// job is one part's share of a step (indices, of a batch of batch
// images) or of an evaluation (eval set, test images lo to hi-1).
type job struct {
	indices []int
	batch   int
	eval    bool
	lo, hi  int
}

// newDataParallel returns the data parallelism of t's run in parts blocks
// of at most rows training images, and starts its goroutines.
func newDataParallel(t *trainer, parts, rows int) (*dataParallel, error) {
	d := &dataParallel{done: make(chan struct{}, parts)}
	block := (rows + parts - 1) / parts
	models := make([]*nn.Model[float32], parts-1)
	for i := range parts {
		p := &part{model: t.model, x: make([]float32, block*t.train.Size()), y: make([]int, block),
			rows: (t.cfg.Batch + parts - 1) / parts}
		if i > 0 {
			m, err := nn.NewReplica(t.model, 1)
			if err != nil {
				return nil, configErr("Net", "%v", err)
			}
			p.model, p.jobs, models[i-1] = m, make(chan job, 1), m
		}
		d.parts = append(d.parts, p)
	}
	sum, err := nn.NewGradSum(t.model, models...)
	if err != nil {
		return nil, err
	}
	sum.Threads = t.cfg.threads()
	d.sum = sum
	for _, p := range d.parts[1:] {
		go p.serve(t, d.done)
	}
	return d, nil
}

// close ends the goroutines and waits until they have.
func (d *dataParallel) close() {
	for _, p := range d.parts[1:] {
		close(p.jobs)
	}
	for range d.parts[1:] {
		<-d.done
	}
}

// serve runs p's jobs until its channel is closed, signaling done after
// each and once more on its way out.
func (p *part) serve(t *trainer, done chan<- struct{}) {
	for j := range p.jobs {
		p.run(t, j)
		done <- struct{}{}
	}
	done <- struct{}{}
}

// share hands each part but the first its share of n items (contiguous,
// in order) as the job cut(lo, hi), runs the first share on this
// goroutine, and waits for the others.
func (d *dataParallel) share(t *trainer, n int, cut func(lo, hi int) job) {
	k := len(d.parts)
	for i := 1; i < k; i++ {
		d.parts[i].jobs <- cut(i*n/k, (i+1)*n/k)
	}
	d.parts[0].run(t, cut(0, n/k))
	for range k - 1 {
		<-d.done
	}
}

// step trains on the examples with the given indices, a block per part,
// and returns the batch's mean loss; it takes no optimizer step if the
// loss is not finite.
func (d *dataParallel) step(t *trainer, indices []int) float64 {
	d.share(t, len(indices), func(lo, hi int) job { return job{indices: indices[lo:hi], batch: len(indices)} })
	var loss float64
	for _, p := range d.parts {
		loss += p.weighted
	}
	if !finite(loss) {
		return loss
	}
	d.sum.Add()
	t.opt.Step()
	return loss
}

// accuracy classifies the first evalSamples test images, a contiguous
// share per part, and returns the fraction classified correctly.
func (d *dataParallel) accuracy(t *trainer) float64 {
	d.share(t, t.evalSamples, func(lo, hi int) job { return job{eval: true, lo: lo, hi: hi} })
	correct := 0
	for _, p := range d.parts {
		correct += p.correct
	}
	return float64(correct) / float64(t.evalSamples)
}

// run does one job: an evaluation of its test images, or forward and
// backward on its block of a batch, with the loss's gradient scaled by
// the block's share of the batch, so that the sum of the parts'
// gradients is the gradient of the batch's mean loss. A part with an
// empty block, or whose loss is not finite, leaves its gradients zeroed.
func (p *part) run(t *trainer, j job) {
	if j.eval {
		p.correct = t.correct(p.model, j.lo, j.hi, p.rows)
		return
	}
	p.model.ZeroGrad()
	p.weighted = 0
	n, size := len(j.indices), t.train.Size()
	if n == 0 {
		return
	}
	x, y := p.x[:n*size], p.y[:n]
	for k, i := range j.indices {
		copy(x[k*size:(k+1)*size], t.train.Pixels(i))
		y[k] = t.train.Labels[i]
	}
	loss, grad := p.loss.Loss(p.model.Forward(x, n), y, t.train.Classes)
	share := float64(n) / float64(j.batch)
	p.weighted = share * loss
	if !finite(loss) {
		return
	}
	for i := range grad {
		grad[i] *= float32(share)
	}
	p.model.Backward(grad, false)
}
