package train

import (
	"fmt"
	"math"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/data"
	"github.com/initscope/initscope/weightinit"
)

// Config is one training run.
type Config struct {
	// Net is the network to train; Init draws its weights and biases.
	Net  *arch.Graph
	Init weightinit.Init
	// Optimizer is "sgd" (with Momentum and WeightDecay, PyTorch's SGD) or
	// "adam" (PyTorch's Adam, β = (0.9, 0.999), ε = 1e-8, L2 WeightDecay).
	Optimizer string
	// LR is the learning rate; Momentum the SGD momentum (0 for Adam);
	// WeightDecay the L2 penalty.
	LR, Momentum, WeightDecay float64
	// Batch is the mini-batch size. Each epoch visits the training set once
	// in a fresh random order; its last batch may be smaller.
	Batch int
	// Epochs caps the run, in passes over the training set; it may be
	// fractional (0.5 stops after the batch that reaches half of it).
	Epochs float64
	// TargetAcc is the test accuracy to reach, in [0, 1]; 0 means none.
	TargetAcc float64
	// EvalEvery is the number of steps between evaluations; 0 evaluates at
	// the end of every epoch. The run is also evaluated where it stops.
	EvalEvery int
	// StopAtTarget ends the run at the first evaluation that reaches
	// TargetAcc (for sweeps that only need the epochs to target).
	StopAtTarget bool
	// EvalSamples is the number of test images each evaluation uses, the
	// first ones of the test set; 0 uses them all.
	EvalSamples int
	// Seed selects the initialization and the order of the examples (see
	// InitStream and ShuffleStream).
	Seed uint64
	// LogitScale multiplies the initial weights of the net's last weighted
	// layer (the logits) after Initialize: 1/sqrt(E[M]/M_0) of the layer's
	// input undoes a mean length that the body multiplies (FM1 at the
	// logits) without touching the body. 0 means 1.
	LogitScale float64
	// Threads is the number of goroutines the run's matrix products,
	// elementwise passes and optimizer steps use; 0 means DefaultThreads.
	Threads int
}

// DefaultThreads is the number of threads a run uses when Config.Threads
// is 0: two, measured best on the 2-core machines initscope was tuned on
// (see DESIGN.md).
const DefaultThreads = 2

// threads is the number of threads the run uses.
func (c *Config) threads() int {
	if c.Threads == 0 {
		return DefaultThreads
	}
	return c.Threads
}

// Optimizers lists the values Config.Optimizer accepts.
var Optimizers = []string{"sgd", "adam"}

// ConfigError is an invalid Config, or a Config that does not fit the data:
// Field names the Config field at fault.
type ConfigError struct {
	// Field is the name of the Config field, e.g. "LR".
	Field string
	// Msg says what is wrong with it and what would be right.
	Msg string
}

// Error writes "train: FIELD: MSG".
func (e *ConfigError) Error() string { return "train: " + e.Field + ": " + e.Msg }

func configErr(field, format string, a ...any) error {
	return &ConfigError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Validate checks the configuration and that the net fits images and
// classes as info describes them: a net whose input is an image must take
// exactly C×H×W images; a net with a flat input takes the images flattened
// (784 values for MNIST); the net's output must have one logit per class;
// and a run with batches of one fits in the memory the process may use
// (see ValidateData). Its errors are *ConfigError.
func (c *Config) Validate(info data.Info) error {
	switch {
	case c.Net == nil || len(c.Net.Nodes) < 2:
		return configErr("Net", "missing: give a net such as fc:784-100-10")
	case c.Init.Weight.IsZero():
		return configErr("Init", "weight law %s is all zeros: every ReLU unit would stay identical", c.Init.Weight)
	case c.Optimizer != "sgd" && c.Optimizer != "adam":
		return configErr("Optimizer", "%q: want sgd or adam", c.Optimizer)
	case !finite(c.LR) || c.LR <= 0:
		return configErr("LR", "%g: want a finite number > 0", c.LR)
	case !(c.Momentum >= 0 && c.Momentum < 1):
		return configErr("Momentum", "%g: want a number in [0, 1)", c.Momentum)
	case c.Momentum != 0 && c.Optimizer != "sgd":
		return configErr("Momentum", "%g: momentum applies to sgd only (Adam's beta1 = 0.9 plays its part)", c.Momentum)
	case !finite(c.WeightDecay) || c.WeightDecay < 0:
		return configErr("WeightDecay", "%g: want a finite number >= 0", c.WeightDecay)
	case c.Batch < 1:
		return configErr("Batch", "%d: want a batch size >= 1", c.Batch)
	case !finite(c.Epochs) || c.Epochs <= 0:
		return configErr("Epochs", "%g: want a finite number of epochs > 0 (it may be fractional, e.g. 0.5)", c.Epochs)
	case !(c.TargetAcc >= 0 && c.TargetAcc <= 1):
		return configErr("TargetAcc", "%g: want a test accuracy in [0, 1] (0: no target)", c.TargetAcc)
	case c.EvalEvery < 0:
		return configErr("EvalEvery", "%d: want a number of steps >= 1, or 0 for once per epoch", c.EvalEvery)
	case c.EvalSamples < 0:
		return configErr("EvalSamples", "%d: want a number of test images >= 1, or 0 for the whole test set", c.EvalSamples)
	case c.StopAtTarget && c.TargetAcc == 0:
		return configErr("StopAtTarget", "there is no target to stop at: set TargetAcc too")
	case !finite(c.LogitScale) || c.LogitScale < 0:
		return configErr("LogitScale", "%g: want a finite factor > 0, or 0 for 1", c.LogitScale)
	case c.Threads < 0:
		return configErr("Threads", "%d: want a number of threads >= 1, or 0 for %d", c.Threads, DefaultThreads)
	}
	in, out := c.Net.Input(), c.Net.Output()
	image := arch.Image(info.C, info.H, info.W)
	if in.Spatial && in != image || !in.Spatial && in.Size() != image.Size() {
		return configErr("Net", "the net's input %s does not fit %s images of %s: give input %s (or %d for a fully connected net, which sees the image flattened)",
			in, info.Name, image, image, image.Size())
	}
	if out.Size() != info.Classes {
		return configErr("Net", "the net's output %s does not fit the %d classes of %s: its last layer needs %d units", out, info.Classes, info.Name, info.Classes)
	}
	return c.checkMemory(1, info.Size(), 0)
}

// ValidateData checks the data sets and the configuration against them:
// Validate with the training set's Info, test images like the training
// images, labels among the classes, EvalSamples no more than the test
// images, and an estimate of the memory the run allocates no more than
// the process may use (package limits: its cgroup's limit, ulimit -v,
// physical memory), which refuses Batch when a batch of one would fit and
// Net when it would not. Configuration errors are *ConfigError.
func (c *Config) ValidateData(trainSet, testSet *data.Dataset) error {
	if trainSet == nil {
		return fmt.Errorf("train: no training set")
	}
	info := trainSet.Info
	if err := checkData(trainSet, info, "training"); err != nil {
		return err
	}
	if err := checkData(testSet, info, "test"); err != nil {
		return err
	}
	if err := c.Validate(info); err != nil {
		return err
	}
	if c.EvalSamples > testSet.Len() {
		return configErr("EvalSamples", "%d: the %s test set has %d images", c.EvalSamples, info.Name, testSet.Len())
	}
	return c.checkMemory(c.batchFor(trainSet, testSet), info.Size(), trainSet.Len())
}

// checkData checks that a data set is whole and fits info: images of the
// same shape, labels among its classes.
func checkData(d *data.Dataset, info data.Info, role string) error {
	switch {
	case d == nil || d.Len() == 0:
		return fmt.Errorf("train: the %s set is empty", role)
	case d.C != info.C || d.H != info.H || d.W != info.W || d.Classes != info.Classes:
		return fmt.Errorf("train: the %s set has %dx%dx%d images of %d classes, the training set %dx%dx%d of %d",
			role, d.C, d.H, d.W, d.Classes, info.C, info.H, info.W, info.Classes)
	case len(d.Images) != d.Len()*d.Size():
		return fmt.Errorf("train: the %s set has %d values for %d images of %d", role, len(d.Images), d.Len(), d.Size())
	}
	for i, l := range d.Labels {
		if l < 0 || l >= d.Classes {
			return fmt.Errorf("train: label %d of %s image %d is not a class (0..%d)", l, role, i, d.Classes-1)
		}
	}
	return nil
}
