package reproduce

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/data"
	"github.com/initscope/initscope/experiment"
	"github.com/initscope/initscope/probe"
	"github.com/initscope/initscope/theory"
	"github.com/initscope/initscope/train"
	"github.com/initscope/initscope/weightinit"
)

// The task kinds a Runner knows.
const (
	KindPredict = "predict"
	KindProbe   = "probe"
	KindTrain   = "train"
)

// Kinds lists the task kinds a Runner knows.
var Kinds = []string{KindPredict, KindProbe, KindTrain}

// Defaults of the optional params (see the package documentation).
const (
	DefaultSamples = 1000
	DefaultBatch   = 128
	DefaultTarget  = 0.2
	DefaultSeed    = 1
)

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
	switch t.Kind {
	case KindPredict:
		r.compute.RLock()
		res, err = r.predict(t)
		r.compute.RUnlock()
	case KindProbe:
		r.compute.RLock()
		res, err = r.probe(ctx, t)
		r.compute.RUnlock()
	case KindTrain:
		res, err = r.train(ctx, t)
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
func (p *params) fail(name, format string, a ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("param %q: "+format, append([]any{name}, a...)...)
	}
}

// has reports whether the task sets the param.
func (p *params) has(name string) bool {
	_, ok := p.t.Params[name]
	return ok
}

// text returns a string param, or def when it is not set; required params
// have def "" and required true.
func (p *params) text(name, def string, required bool) string {
	if !p.has(name) {
		if required {
			p.fail(name, "missing: %s tasks need it (see the reproduce package documentation)", p.t.Kind)
		}
		return def
	}
	s, err := p.t.Text(name)
	if err != nil && p.err == nil {
		p.err = err
	}
	return s
}

// float returns a numeric param, or def when it is not set.
func (p *params) float(name string, def float64, required bool) float64 {
	if !p.has(name) {
		if required {
			p.fail(name, "missing: %s tasks need it (see the reproduce package documentation)", p.t.Kind)
		}
		return def
	}
	v, err := p.t.Float(name)
	if err != nil && p.err == nil {
		p.err = err
	}
	return v
}

// count returns a non-negative integer param, or def when it is not set.
func (p *params) count(name string, def int) int {
	if !p.has(name) {
		return def
	}
	v, err := p.t.Int(name)
	if err != nil && p.err == nil {
		p.err = err
	}
	if v < 0 {
		p.fail(name, "%d: want an integer >= 0", v)
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
		p.fail(name, "%v: want true or false", p.t.Params[name])
	}
	return b
}

// net reads the params every kind shares: arch, init and bias.
func (p *params) net() (*arch.Net, weightinit.Init) {
	spec := p.text("arch", "", true)
	initName := p.text("init", "", true)
	bias := p.text("bias", "", false)
	if p.err != nil {
		return nil, weightinit.Init{}
	}
	net, err := arch.Parse(spec)
	if err != nil {
		p.fail("arch", "%v", err)
		return nil, weightinit.Init{}
	}
	in, err := weightinit.ParseInit(initName)
	if err != nil {
		p.fail("init", "%v", err)
		return nil, weightinit.Init{}
	}
	if bias != "" {
		if in.Bias, err = weightinit.ParseLaw(bias); err != nil {
			p.fail("bias", "%v", err)
		}
	}
	return net, in
}

// fixedInput is the input a prediction or a probe refers to.
type fixedInput struct {
	name   string
	x      []float64
	m0, l4 float64 // ||x||^2/n0 and ||x||_4^4/||x||_2^4
}

// input resolves the fixed input: the input param (as data.FixedInput reads
// it: ones, gaussian or DATASET:K, test image K of a data set), else test image 0 of the data param's data set, else
// mnist:0 for a net with 784 inputs.
func (r *Runner) input(p *params, net *arch.Net) fixedInput {
	name := p.text("input", "", false)
	if name == "" && p.has("data") {
		name = p.text("data", "", false) + ":0"
	}
	if name == "" && net.Input.Size() == 784 {
		name = "mnist:0"
	}
	if p.err != nil {
		return fixedInput{}
	}
	if name == "" {
		p.fail("input", "missing: the net takes %d values: give input: DATASET:K (test image K)", net.Input.Size())
		return fixedInput{}
	}
	set, _, _ := strings.Cut(name, ":")
	x, err := data.FixedInput(name, r.DataDirs[set], net.Input.Size())
	if err != nil {
		p.fail("input", "%v", err)
		return fixedInput{}
	}
	in := fixedInput{name: name, x: x}
	if in.m0, in.l4 = data.InputMoments(x); in.m0 == 0 {
		p.fail("input", "%s is all zeros: its length M0 is 0", name)
		return fixedInput{}
	}
	return in
}

// predictFor runs the theory for the task's net, init and input.
func (r *Runner) predictFor(p *params) (*theory.Prediction, *arch.Net, weightinit.Init, fixedInput, error) {
	net, init := p.net()
	if p.err != nil {
		return nil, nil, init, fixedInput{}, p.err
	}
	in := r.input(p, net)
	if p.err != nil {
		return nil, nil, init, in, p.err
	}
	pred, err := theory.Predict(net, theory.Options{Init: init, M0: in.m0, InputL4: in.l4})
	return pred, net, init, in, err
}

func (r *Runner) predict(t experiment.Task) (*PredictResult, error) {
	p := &params{t: t}
	pred, net, _, in, err := r.predictFor(p)
	if err != nil {
		return nil, err
	}
	return newPredictResult(pred, net, in.name), nil
}

func (r *Runner) probe(ctx context.Context, t experiment.Task) (*ProbeResult, error) {
	p := &params{t: t}
	samples := p.count("samples", DefaultSamples)
	method := p.text("method", string(probe.Auto), false)
	seed := p.count("seed", DefaultSeed)
	pred, net, init, in, err := r.predictFor(p)
	if err != nil {
		return nil, err
	}
	m, err := probe.ParseMethod(method)
	if err != nil {
		return nil, fmt.Errorf("param \"method\": %v", err)
	}
	res, err := probe.Run(ctx, probe.Options{
		Net: net, Init: init, Input: in.x, Samples: samples,
		Seed: uint64(seed), Method: m, Workers: r.ProbeWorkers,
	})
	if err != nil {
		return nil, err
	}
	rep, err := probe.Compare(res, pred)
	if err != nil {
		return nil, err
	}
	return newProbeResult(rep, net, in.name), nil
}

func (r *Runner) train(ctx context.Context, t experiment.Task) (*train.Result, error) {
	p := &params{t: t}
	net, init := p.net()
	set := p.text("data", "", true)
	cfg := train.Config{
		Net: net, Init: init,
		Optimizer:    p.text("optimizer", "sgd", false),
		LR:           p.float("lr", 0, true),
		Momentum:     p.float("momentum", 0, false),
		WeightDecay:  p.float("weight_decay", 0, false),
		Batch:        p.count("batch", DefaultBatch),
		Epochs:       p.float("epochs", 0, true),
		TargetAcc:    p.float("target", DefaultTarget, false),
		EvalEvery:    p.count("eval_every", 0),
		EvalSamples:  p.count("eval_samples", 0),
		StopAtTarget: p.boolean("stop_at_target", false),
		Seed:         uint64(p.count("seed", DefaultSeed)),
	}
	if p.err != nil {
		return nil, p.err
	}
	trainSet, testSet, err := r.dataset(set)
	if err != nil {
		return nil, fmt.Errorf("param \"data\": %v", err)
	}
	r.compute.Lock()
	defer r.compute.Unlock()
	res, err := train.Run(ctx, cfg, trainSet, testSet, nil)
	if err != nil {
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

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
