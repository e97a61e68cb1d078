package reproduce

import (
	"fmt"
	"sort"
	"strings"

	"github.com/initscope/initscope/experiment"
	"github.com/initscope/initscope/task"
)

// Scale selects the size of the figures' grids.
type Scale string

// The scales.
const (
	// Full is the reproduction of the paper: the grids of the figures,
	// 10 independent runs (paired seeds) per training point, enough to
	// decide every claim's interval.
	Full Scale = "full"
	// Quick is a reduced grid with 3 runs per point that finishes all three
	// figures in minutes on two cores. Its tasks are a subset of Full's
	// (same hyperparameters, same seeds), so a full run in the same
	// directory reuses them.
	Quick Scale = "quick"
	// Tiny is a smoke test of the whole pipeline in seconds: two or three
	// points per axis, one run, a few training steps. Its numbers mean
	// nothing.
	Tiny Scale = "tiny"
)

// pick returns the value for the scale.
func pick[T any](s Scale, full, quick, tiny T) T {
	switch s {
	case Quick:
		return quick
	case Tiny:
		return tiny
	}
	return full
}

// Config says which version of the figures to build.
type Config struct {
	// Scale is the size of the grids; "" means Full.
	Scale Scale
	// Runs is the number of independent initializations (seeds 1..Runs)
	// per training point; 0 means the scale's default (Full 10, Quick 3,
	// Tiny 1).
	Runs int
	// ImageData is the data set of Figure 3's residual nets ("" means
	// mnist); the paper's is cifar10, which needs its files.
	ImageData string
}

// runs returns the number of runs per training point.
func (c Config) runs() int {
	if c.Runs > 0 {
		return c.Runs
	}
	return pick(c.Scale, 10, 3, 1)
}

// hyperparams is one set of training hyperparameters: every training run of
// a figure uses the same, whatever the initialization or architecture.
type hyperparams struct {
	// Data is the data set.
	Data string
	// Optimizer is sgd or adam; LR its learning rate and Momentum the SGD
	// momentum.
	Optimizer    string
	LR, Momentum float64
	// Batch is the mini-batch size.
	Batch int
	// Epochs is the cap: a run that has not reached Target test accuracy
	// after that many passes over the training set did not reach it.
	Epochs float64
	// Target is the test accuracy to reach (the paper's 20%).
	Target float64
	// EvalEvery is the number of steps between evaluations, on the first
	// EvalSamples test images: the resolution of the epochs to the target.
	EvalEvery, EvalSamples int
}

// paperTraining is the hyperparameter set of all three figures (see the
// package documentation for how it was chosen).
var paperTraining = hyperparams{
	Data: "mnist", Optimizer: "sgd", LR: 0.003, Momentum: 0.9, Batch: 128,
	Epochs: 3, Target: 0.2, EvalEvery: 10, EvalSamples: 1000,
}

// training returns the figures' hyperparameters at the scale: Tiny trains
// for a few steps and evaluates on few images.
func (c Config) training(data string) hyperparams {
	h := paperTraining
	if data != "" {
		h.Data = data
	}
	if c.Scale == Tiny {
		h.Epochs, h.EvalEvery, h.EvalSamples = 0.02, 3, 200
	}
	return h
}

// params are the fixed params of a training sweep; runs stop at the target.
func (h hyperparams) params() map[string]any {
	return map[string]any{
		"data": h.Data, "optimizer": h.Optimizer, "lr": h.LR, "momentum": h.Momentum,
		"batch": h.Batch, "epochs": h.Epochs, "target": h.Target,
		"eval_every": h.EvalEvery, "eval_samples": h.EvalSamples, "stop_at_target": true,
	}
}

// probeParams are the fixed params of a figure's probe sweep: test image 0
// of the data set as the fixed input (as in the paper), the exact sampler
// where it applies, seed 1.
func probeParams(data string, samples int) map[string]any {
	return map[string]any{"input": data + ":0", "samples": samples, "method": "auto", "seed": 1}
}

// describe labels a sweep's description with the scale it was planned at.
func (c Config) describe(text string) string {
	scale := c.Scale
	if scale == "" {
		scale = Full
	}
	return fmt.Sprintf("%s (%s scale)", text, scale)
}

// figure is one of the paper's figures: its sweeps and the code that turns
// their results into CSV summaries, plots and checked claims.
type figure struct {
	// name is the figure's id (fig1), the prefix of its sweeps' names.
	name string
	// sweeps returns its grids for a configuration.
	sweeps func(c Config) ([]*experiment.Sweep, error)
	// render aggregates the results, writes its files and checks its claims.
	render func(fd *figureData, out *outputs) ([]section, error)
}

// figures are the paper's figures, in order.
var figures = []figure{fig1, fig2, fig3, predictive}

// FigureNames lists the figures reproduce knows: fig1, fig2, fig3 and
// predictive (the zoo).
func FigureNames() []string {
	names := make([]string, len(figures))
	for i, f := range figures {
		names[i] = f.name
	}
	return names
}

// Plan returns the sweeps of the named figures ("all" names every figure),
// in order: each figure's theory and probe sweeps, then its training sweep.
func Plan(names []string, c Config) ([]*experiment.Sweep, error) {
	if c.Runs < 0 {
		return nil, fmt.Errorf("runs %d: want >= 1", c.Runs)
	}
	switch c.Scale {
	case "", Full, Quick, Tiny:
	default:
		return nil, fmt.Errorf("scale %q: want full, quick or tiny", c.Scale)
	}
	want := map[string]bool{}
	for _, n := range names {
		if n == "all" {
			for _, f := range figures {
				want[f.name] = true
			}
			continue
		}
		if figureNamed(n) == nil {
			return nil, fmt.Errorf("figure %q: want %s or all", n, strings.Join(FigureNames(), ", "))
		}
		want[n] = true
	}
	if len(want) == 0 {
		return nil, fmt.Errorf("no figure: name %s or all", strings.Join(FigureNames(), ", "))
	}
	var out []*experiment.Sweep
	for _, f := range figures {
		if !want[f.name] {
			continue
		}
		s, err := f.sweeps(c)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", f.name, err)
		}
		out = append(out, s...)
	}
	return out, nil
}

// figureNamed returns the figure called name, or nil.
func figureNamed(name string) *figure {
	for i := range figures {
		if figures[i].name == name {
			return &figures[i]
		}
	}
	return nil
}

// figureOf returns the figure a sweep belongs to by its name (fig1-train
// belongs to fig1), or nil for a sweep of the user's own.
func figureOf(sweepName string) *figure {
	prefix, _, ok := strings.Cut(sweepName, "-")
	if !ok {
		return nil
	}
	return figureNamed(prefix)
}

// newSweep assembles a sweep and checks it against the task kinds; labels
// are its params that no kind reads (the figures group by them).
func newSweep(name, description string, kinds []string, fixed map[string]any, derived map[string]string, labels []string, axes ...experiment.Axis) (*experiment.Sweep, error) {
	s := &experiment.Sweep{Name: name, Description: description, Kinds: kinds, Fixed: fixed, Derived: derived, Labels: labels, Axes: axes}
	if err := s.Validate(task.KindSpecs()); err != nil {
		return nil, err
	}
	return s, nil
}

// values is an axis of listed values.
func values[T any](name string, vs ...T) experiment.Axis {
	return experiment.Axis{Name: name, Values: anys(vs)}
}

// seeds is the axis of the training seeds 1..runs.
func seeds(runs int) experiment.Axis {
	return experiment.Axis{Name: "seed", Range: []int{1, runs + 1}}
}

// anys converts a slice to []any.
func anys[T any](vs []T) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// merge returns the union of maps (later ones win).
func merge(ms ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// sortedInts returns the distinct values, sorted.
func sortedInts(vs []int) []int {
	seen := map[int]bool{}
	var out []int
	for _, v := range vs {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Ints(out)
	return out
}
