package task

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/initscope/initscope/experiment"
	"github.com/initscope/initscope/probe"
	"github.com/initscope/initscope/train"
)

// mustTask builds a task or fails the test.
func mustTask(t *testing.T, kind string, params map[string]any) experiment.Task {
	t.Helper()
	task, err := experiment.NewTask(kind, params)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// runTask runs one task and decodes its result into v.
func runTask(t *testing.T, r *Runner, task experiment.Task, v any) {
	t.Helper()
	b, err := r.Run(context.Background(), task)
	if err != nil {
		t.Fatalf("%s: %v", task, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: result %s: %v", task, b, err)
	}
}

func TestRunnerPredict(t *testing.T) {
	var res PredictResult
	runTask(t, &Runner{}, mustTask(t, KindPredict, map[string]any{
		"arch": "fc:784-8x3-10", "init": "lecun-normal", "input": "mnist:0", "depth": 3, // depth: a label
	}), &res)
	if res.Net != "fc:784-8x3-10" || res.Init != "lecun-normal" || res.Input != "mnist:0" {
		t.Errorf("echo: net %q init %q input %q", res.Net, res.Init, res.Input)
	}
	if len(res.Layers) != 4 || res.OutputLayer != 3 || res.Depth != 3 || math.Abs(res.Beta-3.0/8) > 1e-12 {
		t.Fatalf("layers %d, output %d, depth %d, beta %g: want 4, 3, 3, 0.375", len(res.Layers), res.OutputLayer, res.Depth, res.Beta)
	}
	out, err := res.Output()
	if err != nil {
		t.Fatal(err)
	}
	// LeCun: each ReLU layer halves E[M] (the first one too: c = 1 with fan-in 784).
	if want := 3 * math.Log10(0.5); math.Abs(float64(out.Log10MeanRatio)-want) > 1e-9 || !out.MeanExact {
		t.Errorf("log10 E[M_3]/M_0 = %v (exact %v), want %v exactly", out.Log10MeanRatio, out.MeanExact, want)
	}
	if !(res.M0 > 0) || res.FM1 == "" || res.FM2 == "" {
		t.Errorf("m0 %v, fm1 %q, fm2 %q", res.M0, res.FM1, res.FM2)
	}
	// A net that takes no MNIST image sees the gaussian input by default.
	runTask(t, &Runner{}, mustTask(t, KindPredict, map[string]any{"arch": "fc:100-8-10", "init": "he-normal"}), &res)
	if res.Input != "gaussian" || len(res.Layers) != 2 {
		t.Errorf("default input %q, %d layers", res.Input, len(res.Layers))
	}
}

func TestRunnerProbe(t *testing.T) {
	r := &Runner{ProbeWorkers: 2}
	for _, c := range []struct {
		init, method string
		want         probe.Method
	}{{"he-normal", "auto", probe.Exact}, {"he-uniform", "auto", probe.Network}, {"he-normal", "network", probe.Network}} {
		var res ProbeResult
		runTask(t, r, mustTask(t, KindProbe, map[string]any{
			"arch": "fc:784-16x4-10", "init": c.init, "samples": 400, "method": c.method, "seed": 7,
		}), &res)
		if res.Method != c.want || res.Samples != 400 || res.Seed != 7 || res.Input != "mnist:0" || len(res.Layers) != 5 {
			t.Fatalf("%s %s: method %s samples %d seed %d input %s layers %d", c.init, c.method, res.Method, res.Samples, res.Seed, res.Input, len(res.Layers))
		}
		out, err := res.Output()
		if err != nil {
			t.Fatal(err)
		}
		// He: E[M_4]/M_0 = 1 exactly; the measurement must agree within 5 SE.
		if z := (float64(out.MeanRatio) - 1) / float64(out.MeanRatioSE); math.Abs(z) > 5 || math.Abs(float64(out.Theory.MeanRatio)-1) > 1e-12 {
			t.Errorf("%s %s: E[M_4]/M_0 = %v ± %v, theory %v", c.init, c.method, out.MeanRatio, out.MeanRatioSE, out.Theory.MeanRatio)
		}
	}
}

func TestRunnerTrain(t *testing.T) {
	var res train.Result
	runTask(t, &Runner{}, mustTask(t, KindTrain, map[string]any{
		"arch": "fc:784-16x2-10", "init": "he-normal", "data": "mnist", "lr": 0.01, "momentum": 0.9,
		"batch": 64, "epochs": 0.01, "eval_every": 3, "eval_samples": 100, "seed": 3, "target": 0.5,
	}), &res)
	s := res.Setup
	if s.Data != "mnist" || s.LR != 0.01 || s.Momentum != 0.9 || s.Batch != 64 || s.Epochs != 0.01 || s.EvalEvery != 3 ||
		s.EvalSamples != 100 || s.Seed != 3 || s.TargetAcc != 0.5 || s.Optimizer != "sgd" || s.StopAtTarget {
		t.Errorf("setup does not echo the params: %+v", s)
	}
	if len(res.Evals) == 0 || res.Steps == 0 {
		t.Errorf("no training: %d evals, %d steps", len(res.Evals), res.Steps)
	}
}

func TestRunnerErrors(t *testing.T) {
	r := &Runner{}
	for _, c := range []struct {
		kind   string
		params map[string]any
		want   string
	}{
		{"fit", map[string]any{"arch": "fc:784-8-10"}, `unknown kind "fit"`},
		{KindPredict, map[string]any{"init": "he-normal"}, `param "arch": missing`},
		{KindPredict, map[string]any{"arch": "fc:784-8-10"}, `param "init": missing`},
		{KindPredict, map[string]any{"arch": "fc:784-0-10", "init": "he-normal"}, `param "arch"`},
		{KindPredict, map[string]any{"arch": "fc:784-8-10", "init": "he-norml"}, `param "init"`},
		{KindPredict, map[string]any{"arch": "fc:100-8-10", "init": "he-normal", "input": "mnist:0"}, "has 784 values but the net's input"},
		{KindPredict, map[string]any{"arch": "fc:784-8-10", "init": "he-normal", "input": "mnist"}, "DATASET:K with DATASET one of"},
		{KindProbe, map[string]any{"arch": "fc:784-8-10", "init": "he-normal", "method": "magic"}, `param "method"`},
		{KindProbe, map[string]any{"arch": "fc:784-8-10", "init": "he-normal", "samples": 2.5}, `want an integer`},
		{KindTrain, map[string]any{"arch": "fc:784-8-10", "init": "he-normal", "data": "mnist", "epochs": 1}, `param "lr": missing`},
		{KindTrain, map[string]any{"arch": "fc:784-8-10", "init": "he-normal", "lr": 0.1, "momentum": 1.5}, `param "momentum": 1.5: want a number in [0, 1)`},
		{KindTrain, map[string]any{"arch": "fc:784-8-10", "init": "he-normal", "data": "mnist", "lr": "fast", "epochs": 1}, `want a number`},
		{KindTrain, map[string]any{"arch": "fc:784-8-10", "init": "he-normal", "data": "mnist", "lr": 0.1, "epochs": 1, "stop_at_target": "yes"}, `want true or false`},
		{KindTrain, map[string]any{"arch": "fc:784-8-10", "init": "he-normal", "data": "imagenet", "lr": 0.1, "epochs": 1}, `param "data"`},
		{KindTrain, map[string]any{"arch": "fc:784-8-10", "init": "he-normal", "data": "mnist", "lr": 0.1, "eval_samples": 20000}, `param "eval_samples"`},
	} {
		_, err := r.Run(context.Background(), mustTask(t, c.kind, c.params))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: error %v, want one containing %q", c.kind, c.params, err, c.want)
		}
	}
}

// TestOldResultsDecode reads results in the form earlier versions stored
// (per-layer theory cut down to a few fields, the input beside the report):
// they decode, with the fields they lack zero.
func TestOldResultsDecode(t *testing.T) {
	rec := experiment.Record{ID: "x", Kind: KindProbe, Status: experiment.StatusDone, Result: []byte(`{"net":"fc:784-8-10","input":"mnist:0",
		"m0":0.1,"output_layer":1,"depth":1,"beta":0.125,"samples":10,"seed":1,"method":"exact","backend":"none",
		"layers":[{"index":1,"kind":"relu","mean_ratio":1.5,"mean_ratio_se":0.1,"log10_mean_ratio":0.176,"log_mean":0.3,
		"log_mean_se":0.01,"log_var":0.2,"log_var_se":0.01,"dead_fraction":0,"heavy_tail":false,"z":{"mean_ratio":1},
		"theory":{"index":1,"kind":"relu","width":8,"mean_ratio":1,"log10_mean_ratio":0,"log10_mean_ratio_lower":null,
		"log10_mean_ratio_upper":null,"mean_exact":true,"log10_second_moment_ratio":0.1,"log_mean":0.2,"log_var":0.3,"log_exact":true}}],
		"empirical_variance":{"mean":1,"se":0.1},"jacobian":{"mean":1,"se":0.1},"flags":[]}`)}
	var r ProbeResult
	if err := rec.Decode(&r); err != nil {
		t.Fatal(err)
	}
	out, err := r.Output()
	if err != nil || r.Input != "mnist:0" || out.MeanRatio != 1.5 || out.Theory.Width != 8 || !out.Theory.MeanExact || out.Theory.LogVar != 0.3 {
		t.Errorf("decoded %+v (output %+v, %v)", r, out, err)
	}
	if d := Describe(rec); !strings.Contains(d, "log10 mean M_out/M0 = +0.18") {
		t.Errorf("Describe: %q", d)
	}
}

// TestKindSpecs checks the params each kind reads, as KindSpecs finds them
// by reading, against the package documentation's lists, and that Check
// finds, before any data set is read, what running would find.
func TestKindSpecs(t *testing.T) {
	specs := KindSpecs()
	for kind, want := range map[string][]string{
		KindPredict: {"arch", "bias", "data", "init", "input"},
		KindProbe:   {"arch", "bias", "data", "init", "input", "method", "samples", "seed"},
		KindTrain: {"arch", "batch", "bias", "data", "epochs", "eval_every", "eval_samples", "init", "logit_scale", "lr", "momentum",
			"optimizer", "seed", "stop_at_target", "target", "weight_decay"},
	} {
		if got := specs[kind].Params; !reflect.DeepEqual(got, want) {
			t.Errorf("%s reads %v, want %v", kind, got, want)
		}
	}
	if len(specs) != len(Kinds) {
		t.Errorf("%d kinds, want %v", len(specs), Kinds)
	}
	for _, c := range []struct {
		kind   string
		params map[string]any
		want   string // "" for none
	}{
		{KindPredict, map[string]any{"arch": "fc:784-8-10", "init": "he-normal", "depth": 3}, ""},
		{KindPredict, map[string]any{"init": "he-normal"}, `param "arch": missing`},
		{KindPredict, map[string]any{"arch": "fc:784-8-10", "init": "he-norml"}, `param "init"`},
		{KindPredict, map[string]any{"arch": "fc:784-8-10", "init": "he-normal", "data": "imagenet"}, `param "data"`},
		{KindProbe, map[string]any{"arch": "fc:784-8-10", "init": "he-normal", "method": "magic"}, `param "method"`},
		{KindProbe, map[string]any{"arch": "fc:784-8-10", "init": "he-normal", "samples": -1}, `param "samples"`},
		{KindProbe, map[string]any{"arch": "fc:784-8-10", "init": "he-normal", "seed": "one"}, `param "seed"`},
		{KindTrain, map[string]any{"arch": "fc:784-8-10", "init": "he-normal", "lr": 0.1}, ""},
		{KindTrain, map[string]any{"arch": "fc:784-8-10", "init": "he-normal"}, `param "lr": missing`},
		{KindTrain, map[string]any{"arch": "fc:784-8-10", "init": "he-normal", "lr": 0.1, "optimizer": "adam", "momentum": 0.9}, `param "momentum"`},
		{KindTrain, map[string]any{"arch": "fc:784-8-12", "init": "he-normal", "lr": 0.1}, `param "arch": the net's output`},
		{KindTrain, map[string]any{"arch": "fc:784-8-10", "init": "he-normal", "lr": 0.1, "stop_at_target": 1}, `param "stop_at_target"`},
	} {
		err := specs[c.kind].Check(mustTask(t, c.kind, c.params))
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s %v: Check: %v, want %q", c.kind, c.params, err, c.want)
		}
	}
}

// TestTrainScheduleInvariant runs the same training tasks one after
// another and all at once on one Runner: their results must be the same,
// whatever runs beside them, and each uses DefaultTrainThreads.
func TestTrainScheduleInvariant(t *testing.T) {
	var tasks []experiment.Task
	for seed := 1; seed <= 3; seed++ {
		tasks = append(tasks, mustTask(t, KindTrain, map[string]any{
			"arch": "fc:784-32x3-10", "init": "he-normal", "data": "mnist", "lr": 0.01, "momentum": 0.9,
			"batch": 64, "epochs": 0.02, "eval_every": 5, "eval_samples": 200, "seed": seed,
		}))
	}
	strip := func(b json.RawMessage) train.Result {
		var res train.Result
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatal(err)
		}
		res.Seconds = 0
		return res
	}
	r := &Runner{}
	alone := make([]train.Result, len(tasks))
	for i, task := range tasks {
		b, err := r.Run(context.Background(), task)
		if err != nil {
			t.Fatal(err)
		}
		alone[i] = strip(b)
		if alone[i].Setup.Threads != DefaultTrainThreads {
			t.Errorf("task %d ran on %d threads, want %d", i, alone[i].Setup.Threads, DefaultTrainThreads)
		}
	}
	together := make([]json.RawMessage, len(tasks))
	errs := make(chan error, len(tasks))
	for i, task := range tasks {
		go func() {
			var err error
			together[i], err = r.Run(context.Background(), task)
			errs <- err
		}()
	}
	for range tasks {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i := range tasks {
		if got := strip(together[i]); !reflect.DeepEqual(got, alone[i]) {
			t.Errorf("task %d: run beside others it gives %+v, alone %+v", i, got.Evals, alone[i].Evals)
		}
	}
}
