// Package task runs one measurement of a net at initialization or in
// training from its params: a prediction of the theory, a Monte Carlo probe
// or a training run. Its Runner runs the tasks of every sweep (the paper's
// figures and users' own sweep files), and its Resolve turns the names of a
// net, an initialization and an input into the objects the measurements
// take, with the same defaults for the CLI's flags and the tasks' params.
//
// # Task kinds and their params
//
// A Runner runs three kinds of task (experiment.Task). Every kind reads:
//
//	arch   the net, as arch.Parse reads it: fc:784-100x20-10, net:784,dense32,resdense32x10:eta=0.9^l,dense10, or JSON (required)
//	init   a weightinit preset (he-normal, lecun-normal, pytorch-default, ...) or a law such as normal:2/fan_in (required)
//	bias   a bias law overriding the preset's, e.g. zero or uniform:1/3/fan_in (optional)
//
// predict: theory.Predict for the net; the result is a PredictResult. It reads
//
//	input  the fixed input: ones, gaussian (standard normal entries, fixed seed) or DATASET:K, test image K
//	       of mnist, fashion-mnist or cifar10; only its M_0 and ||x||_4 matter. Default: test image 0 of the
//	       data param's data set if the task has one, else mnist:0 for nets of 784 inputs, else gaussian
//
// probe: Monte Carlo at initialization (probe.Run, probe.Compare); the
// result is a ProbeResult, the theory beside every measurement. It reads
// input as predict does, and
//
//	samples  independent initializations (default 1000)
//	method   auto (default: the exact O(depth) sampler for Gaussian fully connected nets with zero
//	         biases, real networks otherwise), exact or network
//	seed     sample i draws from the PCG stream (seed, i) (default 1)
//
// train: trains the net (train.Run); the result is a train.Result. It reads
//
//	data            mnist (default), fashion-mnist or cifar10 (cifar10 needs Runner.DataDirs, --data-dir)
//	lr              learning rate (required)
//	epochs          the cap, in passes over the training set; may be fractional (default 1)
//	optimizer       sgd (default) or adam
//	momentum        SGD momentum (default 0)
//	weight_decay    L2 penalty (default 0)
//	batch           mini-batch size (default 128)
//	target          test accuracy to reach, e.g. 0.2 (default 0.2; 0 for none)
//	eval_every      steps between evaluations (default 0: once per epoch): the resolution of the epochs to the target
//	eval_samples    test images per evaluation, the first ones (default 0: all)
//	stop_at_target  end the run at the first evaluation that reaches the target (default false)
//	seed            initialization and example order (default 1)
//	logit_scale     factor on the initial weights of the last layer, the logits (default 1)
//
// The defaults are the Default constants, which `initscope predict`,
// `probe` and `train` share for their flags of the same meaning. The
// optimizer defaults to SGD because SGD is what the theory speaks to: Adam
// rescales each weight's step by its gradient's size and so partly undoes
// a vanishing or exploding signal (FM1).
//
// A Runner ignores params its kind does not read. A sweep is checked before
// it runs (KindSpecs, experiment.Sweep.Validate): each of its params must be
// read by at least one of its kinds, so that one sweep may mix kinds, each
// ignoring the others' params, while a misspelled param (momentun) is an
// error listing the params each kind reads. Params no kind reads are labels
// only when the sweep declares them (labels: [depth, width]): they are kept
// with each task and its results (the figures group by them: depth, width,
// profile, schedule, blocks) and are part of the task's id, so declaring
// them changes no id. The echo of the settings in each result (e.g.
// train.Result.Setup) shows what was used.
package task
