package task

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/initscope/initscope/data"
	"github.com/initscope/initscope/experiment"
	"github.com/initscope/initscope/probe"
	"github.com/initscope/initscope/train"
)

// The task kinds a Runner knows.
const (
	KindPredict = "predict"
	KindProbe   = "probe"
	KindTrain   = "train"
)

// Kinds lists the task kinds a Runner knows.
var Kinds = []string{KindPredict, KindProbe, KindTrain}

// checks are the kinds' checks: each reads every param its kind reads (the
// same reading the Runner does, so that KindSpecs can list them) and checks
// the task as far as that needs no data set.
var checks = map[string]func(p *params) error{
	KindPredict: func(p *params) error { return p.checkNet(p.spec()) },
	KindProbe: func(p *params) error {
		a := p.probeArgs()
		return p.checkNet(a.spec)
	},
	KindTrain: func(p *params) error {
		_, _, err := p.trainArgs()
		return err
	},
}

// KindSpecs describes the kinds a Runner runs for experiment.Sweep.Validate:
// the params each reads (see the package documentation) and a check of a
// task that reads no data set: the params' types, the required ones, the
// net, the initialization and a training run's settings.
func KindSpecs() map[string]experiment.Kind {
	specs := map[string]experiment.Kind{}
	for kind, check := range checks {
		p := &params{t: experiment.Task{Kind: kind}, read: map[string]bool{}}
		_ = check(p) // reads every param of the kind, reporting the required ones missing
		names := make([]string, 0, len(p.read))
		for name := range p.read {
			names = append(names, name)
		}
		sort.Strings(names)
		specs[kind] = experiment.Kind{Params: names, Check: func(t experiment.Task) error { return check(&params{t: t}) }}
	}
	return specs
}

// trainParams maps the fields of train.Config to the params that set them.
var trainParams = map[string]string{
	"Net": "arch", "Init": "init", "Optimizer": "optimizer", "LR": "lr",
	"Momentum": "momentum", "WeightDecay": "weight_decay", "Batch": "batch",
	"Epochs": "epochs", "TargetAcc": "target", "EvalEvery": "eval_every",
	"EvalSamples": "eval_samples", "StopAtTarget": "stop_at_target", "Seed": "seed",
	"LogitScale": "logit_scale",
}

// Runner runs tasks of the kinds predict, probe and train (their params are
// in the package documentation) and returns their results as JSON: a
// PredictResult, a ProbeResult or a train.Result. Its Run method is an
// experiment.Runner. A Runner is safe for concurrent use: each task holds
// as many of the machine's CPUs (runtime.NumCPU, which follows the
// process's CPU affinity, as under Slurm) as it keeps busy, and waits
// until they are free: a training task its TrainThreads, a probe all of
// them, a prediction none. Training tasks thus run side by side, one per
// CPU with the default of one thread each. Each data set is loaded once
// and shared by every task of the process.
type Runner struct {
	// DataDirs maps a data set name (as data.Load takes it) to the directory
	// to read it from; data sets not listed are found where data.Load looks
	// by default.
	DataDirs map[string]string
	// ProbeWorkers is the number of goroutines a probe task uses; 0 means
	// one per CPU.
	ProbeWorkers int
	// TrainThreads is the number of threads of every training task; 0
	// means DefaultTrainThreads. A training run's numbers depend on its
	// thread count (partial sums are added in another order), never on
	// how many tasks run beside it: keep it fixed for a sweep.
	TrainThreads int

	cpus   cpuSlots
	loadMu sync.Mutex
	sets   map[string]loaded
}

// loaded is a data set's two splits.
type loaded struct{ train, test *data.Dataset }

// Run measures one task. Its errors name the task and the param at fault.
func (r *Runner) Run(ctx context.Context, t experiment.Task) (json.RawMessage, error) {
	var res any
	var err error
	p := &params{t: t}
	switch t.Kind {
	case KindPredict:
		res, err = r.predict(p)
	case KindProbe:
		n := r.cpus.acquire(runtime.NumCPU())
		res, err = r.probe(ctx, p)
		r.cpus.release(n)
	case KindTrain:
		res, err = r.train(ctx, p)
	default:
		return nil, fmt.Errorf("task %s: unknown kind %q: want %s", t.ID, t.Kind, strings.Join(Kinds, ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", t.Kind, t.ID, err)
	}
	return json.Marshal(res)
}

// params reads a task's params, keeping the first error.
type params struct {
	t   experiment.Task
	err error
	// read, if not nil, records the name of each param asked for.
	read map[string]bool
}

// fail records an error about param name.
func (p *params) fail(name string, err error) {
	if p.err == nil {
		p.err = fmt.Errorf("param %q: %w", name, err)
	}
}

// has reports whether the task sets the param. Every accessor asks it.
func (p *params) has(name string) bool {
	if p.read != nil {
		p.read[name] = true
	}
	_, ok := p.t.Params[name]
	return ok
}

// keep records err, an error from an experiment.Task accessor, which names
// the param itself.
func (p *params) keep(err error) {
	if err != nil && p.err == nil {
		p.err = err
	}
}

// text returns a string param, or def when it is not set.
func (p *params) text(name, def string) string {
	if !p.has(name) {
		return def
	}
	s, err := p.t.Text(name)
	p.keep(err)
	return s
}

// float returns a numeric param, or def when it is not set; a required
// param that is not set is an error.
func (p *params) float(name string, def float64, required bool) float64 {
	if !p.has(name) {
		if required {
			p.fail(name, fmt.Errorf("missing: %s tasks need it (see the task package documentation)", p.t.Kind))
		}
		return def
	}
	v, err := p.t.Float(name)
	p.keep(err)
	return v
}

// count returns a non-negative integer param, or def when it is not set.
func (p *params) count(name string, def int) int {
	if !p.has(name) {
		return def
	}
	v, err := p.t.Int(name)
	p.keep(err)
	if v < 0 {
		p.fail(name, fmt.Errorf("%d: want an integer >= 0", v))
	}
	return v
}

// boolean returns a boolean param, or def when it is not set.
func (p *params) boolean(name string, def bool) bool {
	if !p.has(name) {
		return def
	}
	b, ok := p.t.Params[name].(bool)
	if !ok {
		p.fail(name, fmt.Errorf("%v: want true or false", p.t.Params[name]))
	}
	return b
}

// netSpec reads the params that name the net, its initialization and the
// data set.
func (p *params) netSpec() Spec {
	return Spec{Arch: p.text("arch", ""), Init: p.text("init", ""), Bias: p.text("bias", ""), Data: p.text("data", "")}
}

// spec reads the params of netSpec and the input.
func (p *params) spec() Spec {
	s := p.netSpec()
	s.Input = p.text("input", "")
	return s
}

// checkNet returns the params' first error, else whether s's net,
// initialization and data set resolve.
func (p *params) checkNet(s Spec) error {
	if p.err != nil {
		return p.err
	}
	_, _, err := ResolveNet(s)
	return specError(err)
}

// probeArgs are the params of a probe task.
type probeArgs struct {
	spec          Spec
	samples, seed int
	method        probe.Method
}

// probeArgs reads the params of a probe task.
func (p *params) probeArgs() probeArgs {
	a := probeArgs{spec: p.spec(), samples: p.count("samples", DefaultSamples), seed: p.count("seed", DefaultSeed)}
	method := p.text("method", string(DefaultMethod))
	m, err := probe.ParseMethod(method)
	if err != nil {
		p.fail("method", err)
	}
	a.method = m
	return a
}

// trainArgs reads the params of a train task and checks them: the net,
// its initialization and the settings, against the data set's description.
func (p *params) trainArgs() (Spec, train.Config, error) {
	spec := p.netSpec()
	cfg := train.Config{
		Optimizer:    p.text("optimizer", DefaultOptimizer),
		LR:           p.float("lr", 0, true),
		Momentum:     p.float("momentum", 0, false),
		WeightDecay:  p.float("weight_decay", 0, false),
		Batch:        p.count("batch", DefaultBatch),
		Epochs:       p.float("epochs", DefaultEpochs, false),
		TargetAcc:    p.float("target", DefaultTarget, false),
		EvalEvery:    p.count("eval_every", 0),
		EvalSamples:  p.count("eval_samples", 0),
		StopAtTarget: p.boolean("stop_at_target", false),
		Seed:         uint64(p.count("seed", DefaultSeed)),
		LogitScale:   p.float("logit_scale", 0, false),
	}
	if p.err != nil {
		return spec, cfg, p.err
	}
	var err error
	if cfg.Net, cfg.Init, err = ResolveNet(spec); err != nil {
		return spec, cfg, specError(err)
	}
	info, err := data.Describe(spec.dataSet())
	if err != nil {
		return spec, cfg, fmt.Errorf("param \"data\": %w", err)
	}
	return spec, cfg, trainError(cfg.Validate(info))
}

// trainError returns err with a *train.ConfigError turned into an error
// about the param that sets its field.
func trainError(err error) error {
	var ce *train.ConfigError
	if errors.As(err, &ce) {
		return fmt.Errorf("param %q: %s", trainParams[ce.Field], ce.Msg)
	}
	return err
}

// specError returns err with a *SpecError turned into an error about the
// param of the same name.
func specError(err error) error {
	var se *SpecError
	if errors.As(err, &se) {
		return fmt.Errorf("param %q: %w", se.Field, se.Err)
	}
	return err
}

// setup resolves the net, initialization and input of spec, read from p.
func (r *Runner) setup(p *params, spec Spec) (*Setup, error) {
	if p.err != nil {
		return nil, p.err
	}
	spec.DataDirs = r.DataDirs
	s, err := Resolve(spec)
	return s, specError(err)
}

func (r *Runner) predict(p *params) (*PredictResult, error) {
	s, err := r.setup(p, p.spec())
	if err != nil {
		return nil, err
	}
	pred, err := s.Predict()
	if err != nil {
		return nil, err
	}
	return newPredictResult(pred, s), nil
}

func (r *Runner) probe(ctx context.Context, p *params) (*ProbeResult, error) {
	a := p.probeArgs()
	s, err := r.setup(p, a.spec)
	if err != nil {
		return nil, err
	}
	pred, err := s.Predict()
	if err != nil {
		return nil, err
	}
	res, err := probe.Run(ctx, probe.Options{
		Net: s.Net, Init: s.Init, Input: s.Input.X, Samples: a.samples,
		Seed: uint64(a.seed), Method: a.method, Workers: r.ProbeWorkers,
	})
	if err != nil {
		return nil, err
	}
	rep, err := probe.Compare(res, pred)
	if err != nil {
		return nil, err
	}
	rep.Input = s.Input.Name
	return newProbeResult(rep, s), nil
}

func (r *Runner) train(ctx context.Context, p *params) (*train.Result, error) {
	spec, cfg, err := p.trainArgs()
	if err != nil {
		return nil, err
	}
	trainSet, testSet, err := r.dataset(spec.dataSet())
	if err != nil {
		return nil, fmt.Errorf("param \"data\": %w", err)
	}
	cfg.Threads = r.TrainThreads
	if cfg.Threads == 0 {
		cfg.Threads = DefaultTrainThreads
	}
	defer r.cpus.release(r.cpus.acquire(cfg.Threads))
	res, err := train.Run(ctx, cfg, trainSet, testSet, nil)
	if err != nil {
		return nil, trainError(err)
	}
	return res, nil
}

// DefaultTrainThreads is the thread count of a sweep's training tasks: one,
// so that a machine runs one task per CPU, which on the small nets of the
// paper's figures does more work per second than one task on every CPU.
const DefaultTrainThreads = 1

// cpuSlots counts the CPUs that running tasks hold.
type cpuSlots struct {
	mu   sync.Mutex
	cond sync.Cond
	held int
}

// acquire waits until n CPUs are free (at most runtime.NumCPU: a task
// asking for more gets the whole machine), holds them, and returns how
// many it holds, for release.
func (c *cpuSlots) acquire(n int) int {
	total := runtime.NumCPU()
	n = min(max(n, 1), total)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cond.L == nil {
		c.cond.L = &c.mu
	}
	for c.held+n > total {
		c.cond.Wait()
	}
	c.held += n
	return n
}

// release frees n CPUs that acquire returned.
func (c *cpuSlots) release(n int) {
	c.mu.Lock()
	c.held -= n
	c.mu.Unlock()
	c.cond.Broadcast()
}

// dataset returns the named data set, loading it on first use.
func (r *Runner) dataset(name string) (*data.Dataset, *data.Dataset, error) {
	r.loadMu.Lock()
	defer r.loadMu.Unlock()
	if s, ok := r.sets[name]; ok {
		return s.train, s.test, nil
	}
	tr, te, err := data.Load(name, r.DataDirs[name])
	if err != nil {
		return nil, nil, err
	}
	if r.sets == nil {
		r.sets = map[string]loaded{}
	}
	r.sets[name] = loaded{tr, te}
	return tr, te, nil
}
