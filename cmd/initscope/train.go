package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strings"

	"github.com/initscope/initscope/data"
	"github.com/initscope/initscope/nn"
	"github.com/initscope/initscope/task"
	"github.com/initscope/initscope/tensor"
	"github.com/initscope/initscope/train"
)

// trainFlagNames maps the fields of train.Config to the flags that set them.
var trainFlagNames = map[string]string{
	"Net": "arch", "Init": "init", "Optimizer": "optimizer", "LR": "lr",
	"Momentum": "momentum", "WeightDecay": "weight-decay", "Batch": "batch",
	"Epochs": "epochs", "TargetAcc": "target-acc", "EvalEvery": "eval-every",
	"StopAtTarget": "stop-at-target", "EvalSamples": "eval-samples",
}

func runTrain(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("train", "--arch SPEC --init PRESET --lr LR [--data mnist|fashion-mnist|cifar10] [--data-dir DIR] [--epochs E] [--batch B] [--optimizer sgd|adam] [--momentum M] [--weight-decay W] [--target-acc A] [--eval-every STEPS] [--eval-samples N] [--stop-at-target] [--seed S] [--bias LAW] [--format text|json]")
	archText := fs.String("arch", "", "the net: fc:784-100x20-10, net:1x28x28,conv16k3,gap,dense10 or JSON (see arch.Parse); a fully connected net sees the images flattened")
	initText := fs.String("init", "", "weight initialization: a preset (see initscope inits) or FAMILY:VARIANCE such as normal:2/fan_in")
	biasText := fs.String("bias", "", "bias law overriding the preset's: zero or FAMILY:VARIANCE such as uniform:1/3/fan_in")
	dataName := fs.String("data", task.DefaultData, "data set: "+strings.Join(data.Names(), ", "))
	dataDir := fs.String("data-dir", "", "directory of the data set's files (default: where initscope finds them; cifar10 needs one)")
	var cfg train.Config
	fs.Float64Var(&cfg.Epochs, "epochs", task.DefaultEpochs, "cap on the training, in epochs (may be fractional)")
	fs.IntVar(&cfg.Batch, "batch", task.DefaultBatch, "mini-batch size")
	fs.StringVar(&cfg.Optimizer, "optimizer", task.DefaultOptimizer, "optimizer: "+strings.Join(train.Optimizers, " or ")+" (PyTorch's semantics)")
	fs.Float64Var(&cfg.LR, "lr", 0, "learning rate (required), e.g. 0.01 for sgd, 1e-3 for adam")
	fs.Float64Var(&cfg.Momentum, "momentum", 0, "SGD momentum")
	fs.Float64Var(&cfg.WeightDecay, "weight-decay", 0, "L2 weight decay")
	fs.Float64Var(&cfg.TargetAcc, "target-acc", task.DefaultTarget, "test accuracy whose first evaluation reaching it gives epochs_to_target (0: none)")
	fs.IntVar(&cfg.EvalEvery, "eval-every", 0, "steps between evaluations (0: once per epoch); the run is also evaluated where it stops")
	fs.IntVar(&cfg.EvalSamples, "eval-samples", 0, "test images each evaluation uses, the first ones of the test set (0: all)")
	fs.BoolVar(&cfg.StopAtTarget, "stop-at-target", false, "end the run at the first evaluation that reaches --target-acc")
	fs.Uint64Var(&cfg.Seed, "seed", task.DefaultSeed, "random seed of the initialization and of the order of the examples")
	format := fs.addFormat("text", "json")
	if code, ok := fs.parse(args, stdout, stderr); !ok {
		return code
	}
	if err := checkFormat(*format, "text", "json"); err != nil {
		return fail(stderr, "train", exitUsage, "%v", err)
	}
	if err := trainConfig(&cfg, *archText, *initText, *biasText, *dataName); err != nil {
		return fail(stderr, "train", exitUsage, "%v", err)
	}
	if err := tensor.Init(); err != nil {
		return fail(stderr, "train", exitFail, "%v", err)
	}
	if err := nn.InitConv(); err != nil {
		return fail(stderr, "train", exitFail, "%v", err)
	}
	trainSet, testSet, err := data.Load(*dataName, *dataDir)
	if err != nil {
		return fail(stderr, "train", exitFail, "%v", err)
	}
	if err := configFlagErr(cfg.ValidateData(trainSet, testSet)); err != nil {
		return fail(stderr, "train", exitFor(err), "%v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	text := *format == "text"
	rows := io.Discard // where each evaluation's row goes
	switch {
	case text:
		rows = stdout
	case newProgress(stderr) != nil:
		rows = stderr // JSON keeps stdout for the result; a terminal sees the rows
	}
	ew := &errWriter{w: rows}
	if text {
		writeTrainHeader(ew, cfg.Describe(trainSet, testSet), trainSet.Info)
	}
	ew.printf("%8s %8s %11s %9s\n", "epoch", "step", "train loss", "test acc")
	res, err := train.Run(ctx, cfg, trainSet, testSet, func(e train.Eval) {
		ew.printf("%8.3f %8d %11.4g %9.4f\n", e.Epoch, e.Step, e.TrainLoss, e.TestAccuracy)
		if text && ew.err != nil {
			cancel() // the report cannot be written: stop training
		}
	})
	if err != nil && res == nil {
		return fail(stderr, "train", exitFail, "%v", err)
	}
	var werr error
	if text {
		writeTrainSummary(ew, res)
		werr = ew.err
	} else {
		werr = writeJSON(stdout, res)
	}
	if werr != nil {
		return fail(stderr, "train", exitFail, "writing the output: %v", werr)
	}
	if err != nil {
		return fail(stderr, "train", exitFail, "interrupted at step %d (epoch %.3f): %v", res.Steps, res.Epochs, err)
	}
	return exitOK
}

// trainConfig completes cfg from the net, init and data flags (resolved by
// task.ResolveNet, as a sweep's train tasks are) and checks it against the
// data set, without reading any data file. Its errors are usage errors that
// name a flag.
func trainConfig(cfg *train.Config, archText, initText, biasText, dataName string) error {
	var err error
	cfg.Net, cfg.Init, err = task.ResolveNet(task.Spec{Arch: archText, Init: initText, Bias: biasText, Data: dataName})
	if err != nil {
		return specFlagErr(err)
	}
	info, err := data.Describe(dataName)
	if err != nil {
		return flagErr("data", err)
	}
	if cfg.LR == 0 {
		return flagErr("lr", errors.New("missing: give a learning rate, e.g. 0.01 for sgd or 1e-3 for adam"))
	}
	return configFlagErr(cfg.Validate(info))
}

// configFlagErr turns a *train.ConfigError into a usage error about the
// flag that sets the field; it returns other errors as they are.
func configFlagErr(err error) error {
	var ce *train.ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	return flagErr(trainFlagNames[ce.Field], errors.New(ce.Msg))
}

// writeTrainHeader describes the run before it starts.
func writeTrainHeader(ew *errWriter, s train.Setup, info data.Info) {
	ew.printf("net:    %s, %d parameters\n", s.Arch, s.Params)
	ew.printf("init:   %s: weights %s, biases %s; seed %d\n", s.Init, s.WeightLaw, s.BiasLaw, s.Seed)
	ew.printf("data:   %s, %d training images of %dx%dx%d, %d classes, pixels in [0,1]\n", s.Data, s.TrainSize, info.C, info.H, info.W, info.Classes)
	opt := s.Optimizer
	if s.Optimizer == "sgd" {
		opt += fmt.Sprintf(" (momentum %g)", s.Momentum)
	}
	ew.printf("train:  %s, lr %g, weight decay %g, batch %d (%d steps an epoch), at most %g epochs\n", opt, s.LR, s.WeightDecay, s.Batch, s.StepsPerEpoch, s.Epochs)
	every := "every epoch"
	switch {
	case s.EvalEvery == 1:
		every = "every step"
	case s.EvalEvery > 1:
		every = fmt.Sprintf("every %d steps", s.EvalEvery)
	}
	target := ""
	if s.TargetAcc > 0 {
		target = fmt.Sprintf("; target %s test accuracy", percent(s.TargetAcc))
	}
	ew.printf("eval:   %s and at the end, on the first %d test images%s\n", every, s.EvalSamples, target)
	ew.printf("BLAS:   %s, %d threads\n", tensor.Backend(), s.Threads)
	ew.printf("conv:   %s\n\n", nn.ConvBackend())
}

// writeTrainSummary says how the run ended.
func writeTrainSummary(ew *errWriter, res *train.Result) {
	s := res.Setup
	ew.printf("\n")
	if s.TargetAcc > 0 {
		target := percent(s.TargetAcc) + " test accuracy"
		switch {
		case res.ReachedTarget:
			ew.printf("reached %s at epoch %.3f (step %d)\n", target, *res.EpochsToTarget, *res.StepsToTarget)
		case res.Stop == train.StopCap:
			ew.printf("did not reach %s within the cap of %g epochs\n", target, s.Epochs)
		case res.Stop == train.StopDiverged:
			ew.printf("did not reach %s before diverging\n", target)
		default:
			ew.printf("had not reached %s when interrupted\n", target)
		}
	}
	if res.Diverged {
		ew.printf("diverged at epoch %.3f: %s; the run stopped there\n", res.Epochs, res.Divergence)
	}
	if res.FinalTestAccuracy != nil {
		acc := *res.FinalTestAccuracy
		se := math.Sqrt(acc * (1 - acc) / float64(s.EvalSamples))
		ew.printf("final test accuracy %s ± %s (binomial SE) on %d test images\n", percent(acc), percent(se), s.EvalSamples)
	}
	ew.printf("%d steps, %.3f epochs in %.2f s; BLAS %s; conv %s\n", res.Steps, res.Epochs, res.Seconds, res.Backend, res.ConvBackend)
}

// percent writes a fraction as a percentage: 0.2 as 20%, 0.93571 as 93.57%.
func percent(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", 100*f), "0"), ".") + "%"
}
