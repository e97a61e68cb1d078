package task

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// trainParams maps the fields of train.Config to the params that set them.
var trainParams = map[string]string{
	"Net": "arch", "Init": "init", "Optimizer": "optimizer", "LR": "lr",
	"Momentum": "momentum", "WeightDecay": "weight_decay", "Batch": "batch",
	"Epochs": "epochs", "TargetAcc": "target", "EvalEvery": "eval_every",
	"EvalSamples": "eval_samples", "StopAtTarget": "stop_at_target", "Seed": "seed",
}

// Runner runs tasks of the kinds predict, probe and train (their params are
// in the package documentation) and returns their results as JSON: a
// PredictResult, a ProbeResult or a train.Result. Its Run method is an
// experiment.Runner. A Runner is safe for concurrent use: training tasks,
// which keep both BLAS threads busy, run one at a time and never beside a
// probe; predict and probe tasks run side by side. Each data set is loaded
// once and shared by every task of the process.
type Runner struct {
	// DataDirs maps a data set name (as data.Load takes it) to the directory
	// to read it from; data sets not listed are found where data.Load looks
	// by default.
	DataDirs map[string]string
	// ProbeWorkers is the number of goroutines a probe task uses; 0 means
	// one per CPU.
	ProbeWorkers int

	compute sync.RWMutex // train holds it exclusively, predict and probe shared
	loadMu  sync.Mutex
	sets    map[string]loaded
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
		r.compute.RLock()
		res, err = r.predict(p)
		r.compute.RUnlock()
	case KindProbe:
		r.compute.RLock()
		res, err = r.probe(ctx, p)
		r.compute.RUnlock()
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
}

// fail records an error about param name.
func (p *params) fail(name string, err error) {
	if p.err == nil {
		p.err = fmt.Errorf("param %q: %w", name, err)
	}
}

// has reports whether the task sets the param.
func (p *params) has(name string) bool {
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

// spec reads the params that name the net, its initialization, the input
// and the data set.
func (p *params) spec(dirs map[string]string) Spec {
	return Spec{
		Arch: p.text("arch", ""), Init: p.text("init", ""), Bias: p.text("bias", ""),
		Input: p.text("input", ""), Data: p.text("data", ""), DataDirs: dirs,
	}
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

// setup resolves the task's net, initialization and input.
func (r *Runner) setup(p *params) (*Setup, error) {
	spec := p.spec(r.DataDirs)
	if p.err != nil {
		return nil, p.err
	}
	s, err := Resolve(spec)
	return s, specError(err)
}

func (r *Runner) predict(p *params) (*PredictResult, error) {
	s, err := r.setup(p)
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
	samples := p.count("samples", DefaultSamples)
	method := p.text("method", string(DefaultMethod))
	seed := p.count("seed", DefaultSeed)
	s, err := r.setup(p)
	if err != nil {
		return nil, err
	}
	m, err := probe.ParseMethod(method)
	if err != nil {
		return nil, fmt.Errorf("param \"method\": %w", err)
	}
	pred, err := s.Predict()
	if err != nil {
		return nil, err
	}
	res, err := probe.Run(ctx, probe.Options{
		Net: s.Net, Init: s.Init, Input: s.Input.X, Samples: samples,
		Seed: uint64(seed), Method: m, Workers: r.ProbeWorkers,
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
	spec := p.spec(r.DataDirs)
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
	}
	if p.err != nil {
		return nil, p.err
	}
	var err error
	if cfg.Net, cfg.Init, err = ResolveNet(spec); err != nil {
		return nil, specError(err)
	}
	trainSet, testSet, err := r.dataset(spec.dataSet())
	if err != nil {
		return nil, fmt.Errorf("param \"data\": %w", err)
	}
	r.compute.Lock()
	defer r.compute.Unlock()
	res, err := train.Run(ctx, cfg, trainSet, testSet, nil)
	var ce *train.ConfigError
	switch {
	case errors.As(err, &ce):
		return nil, fmt.Errorf("param %q: %s", trainParams[ce.Field], ce.Msg)
	case err != nil:
		return nil, err
	}
	return res, nil
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
