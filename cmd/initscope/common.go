package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/initscope/initscope/task"
)

// Exit codes shared by every subcommand.
const (
	exitOK    = 0
	exitFail  = 1 // the run failed (missing data, I/O)
	exitUsage = 2 // the command line is wrong
)

// oneLine folds an error message onto one line, so that every failure is
// exactly one line on stderr.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// fail writes "initscope CMD: MESSAGE" on one line to stderr and returns code.
func fail(stderr io.Writer, cmd string, code int, format string, a ...any) int {
	fmt.Fprintf(stderr, "initscope %s: %s\n", cmd, oneLine(fmt.Sprintf(format, a...)))
	return code
}

// flagError is a usage error that names the flag it is about.
type flagError struct {
	flag string
	err  error
}

func (e *flagError) Error() string { return "--" + e.flag + ": " + e.err.Error() }

// flagErr wraps err as a usage error about --name.
func flagErr(name string, err error) error { return &flagError{name, err} }

// flags is a subcommand's flag set, with the name and usage line that
// -h prints.
type flags struct {
	*flag.FlagSet
	cmd, usage string
	// operands is how many positional arguments the command takes (a
	// model file); they may come first or after the flags. operandList
	// holds them after parse.
	operands    int
	operandList []string
}

// newFlags returns the flag set of subcommand cmd, whose usage line (after
// "initscope cmd") is usage. The flag package itself prints nothing: parse
// does the reporting, in one line.
func newFlags(cmd, usage string) *flags {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flags{FlagSet: fs, cmd: cmd, usage: usage}
}

// parse parses args. On -h it prints the usage and the flags to stdout and
// returns (exitOK, false); on a usage error it prints one line to stderr and
// returns (exitUsage, false). Positional arguments beyond fs.operands are
// usage errors; the operands may precede the flags (Operands returns them).
func (fs *flags) parse(args []string, stdout, stderr io.Writer) (code int, ok bool) {
	var lead []string
	for len(lead) < fs.operands && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		lead, args = append(lead, args[0]), args[1:]
	}
	err := fs.Parse(args)
	if err == nil {
		fs.operandList = append(lead, fs.Args()...)
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stdout, "usage: initscope %s %s\n\nflags:\n", fs.cmd, fs.usage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		return exitOK, false
	}
	if err != nil {
		return fail(stderr, fs.cmd, exitUsage, "%s (see initscope %s -h)", flagPackageError(err), fs.cmd), false
	}
	if len(fs.operandList) > fs.operands {
		if fs.operands == 0 {
			return fail(stderr, fs.cmd, exitUsage, "unexpected argument %q: every input is a flag (see initscope %s -h)", fs.operandList[0], fs.cmd), false
		}
		return fail(stderr, fs.cmd, exitUsage, "unexpected argument %q: give one model file, flags before or after it (see initscope %s -h)", fs.operandList[fs.operands], fs.cmd), false
	}
	return exitOK, true
}

// flagPackageError rewrites an error of the flag package in this CLI's
// terms: flags written --name, as the usage shows them.
func flagPackageError(err error) string {
	return strings.NewReplacer("for flag -", "for --", "not defined: -", "not defined: --", "argument: -", "argument: --").Replace(err.Error())
}

// addFormat adds --format with the allowed values, the first the default.
func (fs *flags) addFormat(allowed ...string) *string {
	return fs.String("format", allowed[0], "output format: "+strings.Join(allowed, ", "))
}

// checkFormat checks a --format value.
func checkFormat(value string, allowed ...string) error {
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	return flagErr("format", fmt.Errorf("%q: want %s", value, strings.Join(allowed, " or ")))
}

// netFlags are the flags that say which net, initialization and input a
// subcommand works on: --arch, --init, --bias, --m0 and --input.
type netFlags struct {
	arch, init, bias, m0, input string
}

// addNetFlags registers the net flags.
func (fs *flags) addNetFlags() *netFlags {
	f := &netFlags{}
	fs.StringVar(&f.arch, "arch", "", "the net: fc:784-100x20-10, net:1x28x28,conv16k3,gap,dense10, or the JSON form")
	fs.StringVar(&f.init, "init", "", "weight initialization: a preset (see initscope inits) or FAMILY:VARIANCE such as normal:2/fan_in")
	fs.StringVar(&f.bias, "bias", "", "bias law overriding the preset's: zero or FAMILY:VARIANCE such as uniform:1/3/fan_in")
	fs.StringVar(&f.m0, "m0", "", "M0 = ||x||^2/n0 of the input, instead of --input")
	fs.StringVar(&f.input, "input", "", "the fixed input: mnist:K or fashion-mnist:K (test image K, pixels in [0,1]), ones, or gaussian (fixed seed); default "+task.DefaultData+":0 for 784-value inputs, gaussian otherwise")
	return f
}

// resolve resolves the net flags with task.Resolve, the defaults a sweep's
// tasks have too. Usage errors are *flagError; a failure to read an input's
// data is any other error.
func (f *netFlags) resolve() (*task.Setup, error) {
	s, err := task.Resolve(task.Spec{Arch: f.arch, Init: f.init, Bias: f.bias, Input: f.input, M0: f.m0})
	return s, specFlagErr(err)
}

// specFlagErr turns a *task.SpecError into a usage error about the flag of
// the same name; it returns other errors as they are.
func specFlagErr(err error) error {
	var se *task.SpecError
	if errors.As(err, &se) {
		return flagErr(se.Field, se.Err)
	}
	return err
}

// exitFor maps an error to the exit code it calls for.
func exitFor(err error) int {
	var fe *flagError
	if errors.As(err, &fe) {
		return exitUsage
	}
	return exitFail
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// errWriter keeps the first write error, so that a report is written with
// plain printf calls and checked once.
type errWriter struct {
	w   io.Writer
	err error
}

// Write writes b unless an earlier write failed.
func (e *errWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(b)
	e.err = err
	return n, err
}

// printf formats to the writer.
func (e *errWriter) printf(format string, a ...any) { fmt.Fprintf(e, format, a...) }
