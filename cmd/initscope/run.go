package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"strings"
)

// commands maps each subcommand to its entry point, which parses its own
// flags from args, writes results to stdout and diagnostics to stderr, and
// returns the exit code (exitOK, exitFail or exitUsage). A new subcommand
// adds one line here and one in summaries.
var commands = map[string]func(args []string, stdout, stderr io.Writer) int{
	"predict":   runPredict,
	"audit":     runAudit,
	"probe":     runProbe,
	"train":     runTrain,
	"inits":     runInits,
	"version":   runVersion,
	"reproduce": runReproduce,
	"sweep":     runSweep,
	"serve":     runServe,
}

// summaries describes each subcommand in one line for the usage text.
var summaries = map[string]string{
	"predict":   "exact predictions per layer, FM1/FM2 verdicts and advice, from the theory alone",
	"audit":     "judge a real model (ONNX export, or safetensors with --arch) from its actual weights: tensor laws, verdicts, PyTorch advice",
	"probe":     "Monte Carlo at initialization: measured lengths, fluctuations and Jacobian beside the theory",
	"train":     "train the net on MNIST, Fashion-MNIST or CIFAR-10: test accuracy over time, epochs to a target accuracy",
	"inits":     "the initialization presets, their laws and FM1 factors",
	"version":   "print the version",
	"reproduce": "re-run the paper's Figures 1-3 and the predictive zoo (theory, Monte Carlo, training) as sweeps: plots, CSV and report.html with each claim decided from intervals",
	"sweep":     "run your own grids of predict/probe/train tasks, locally, as a Slurm job array or a Kubernetes Indexed Job, and collect them",
	"serve":     "a local web explorer: the theory as you type, probes streamed live, model audits and results directories, in the browser",
}

// version is set at link time with -ldflags "-X main.version=v1.2.3"; when it
// is not, the module version from the build info is used.
var version = ""

// run dispatches args to a subcommand and returns the exit code. Every
// command writes its stdout through one writer that keeps the first write
// error, so that no output is lost unnoticed: a run that succeeded but
// could not write all of its output (a full disk, a closed pipe) exits
// exitFail with one line on stderr. A command that failed has reported its
// own error already.
func run(args []string, stdout, stderr io.Writer) int {
	out := &errWriter{w: stdout}
	code := dispatch(args, out, stderr)
	if out.err != nil && code == exitOK {
		return fail(stderr, commandName(args), exitFail, "writing the output: %v", out.err)
	}
	return code
}

// commandName names the command args run, as its error lines do:
// "predict", "sweep slurm".
func commandName(args []string) string {
	switch {
	case len(args) == 0 || strings.HasPrefix(args[0], "-"):
		return "help"
	case args[0] == "sweep" && len(args) > 1 && sweepCommands[args[1]] != nil:
		return "sweep " + args[1]
	}
	return args[0]
}

// dispatch runs the subcommand args name and returns its exit code.
func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 {
			if cmd, ok := commands[rest[0]]; ok {
				return cmd([]string{"-h"}, stdout, stderr)
			}
		}
		usage(stdout)
		return exitOK
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "initscope: unknown command %q: want one of %s (see initscope help)\n", name, strings.Join(commandNames(), ", "))
		return exitUsage
	}
	return cmd(rest, stdout, stderr)
}

func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "initscope: will this deep ReLU net start training? (Hanin & Rolnick, NeurIPS 2018)\n\nusage: initscope COMMAND [flags]\n\ncommands:\n")
	for _, n := range commandNames() {
		fmt.Fprintf(w, "  %-10s %s\n", n, summaries[n])
	}
	fmt.Fprintf(w, "\nRun initscope COMMAND -h for a command's flags.\n")
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", "")
	if code, ok := fs.parse(args, stdout, stderr); !ok {
		return code
	}
	v, goVersion := version, "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if v == "" {
			v = bi.Main.Version
		}
	}
	if v == "" {
		v = "(devel)"
	}
	fmt.Fprintf(stdout, "initscope %s (%s)\n", v, goVersion)
	return exitOK
}
