package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/data"
	"github.com/initscope/initscope/weightinit"
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
// returns (exitUsage, false). Positional arguments are usage errors.
func (fs *flags) parse(args []string, stdout, stderr io.Writer) (code int, ok bool) {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stdout, "usage: initscope %s %s\n\nflags:\n", fs.cmd, fs.usage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		return exitOK, false
	}
	if err != nil {
		return fail(stderr, fs.cmd, exitUsage, "%v (see initscope %s -h)", err, fs.cmd), false
	}
	if fs.NArg() > 0 {
		return fail(stderr, fs.cmd, exitUsage, "unexpected argument %q: every input is a flag (see initscope %s -h)", fs.Arg(0), fs.cmd), false
	}
	return exitOK, true
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
	fs.StringVar(&f.input, "input", "", "the fixed input: mnist:K or fashion-mnist:K (test image K, pixels in [0,1]), ones, or gaussian (fixed seed); default mnist:0 for 784-value inputs, gaussian otherwise")
	return f
}

// setup is what the net flags resolve to.
type setup struct {
	net  *arch.Net
	init weightinit.Init
	in   input
}

// input is the fixed input the predictions refer to.
type input struct {
	// Name says where it came from: mnist:0, ones, gaussian, or "m0" when
	// only --m0 was given.
	Name string
	// X is the input itself (nil with --m0).
	X []float64
	// M0 is ||x||^2/n0; L4 is ||x||_4^4/||x||_2^4 (0 when unknown).
	M0, L4 float64
}

// resolve parses the net flags. Usage errors are *flagError; a failure to
// read an input's data is any other error.
func (f *netFlags) resolve() (setup, error) {
	var s setup
	if f.arch == "" {
		return s, flagErr("arch", errors.New("missing: give a net such as fc:784-100x20-10"))
	}
	net, err := arch.Parse(f.arch)
	if err != nil {
		return s, flagErr("arch", err)
	}
	s.net = net
	if f.init == "" {
		return s, flagErr("init", fmt.Errorf("missing: give a preset (%s) or a law such as normal:2/fan_in", strings.Join(presetNames(), ", ")))
	}
	if s.init, err = weightinit.ParseInit(f.init); err != nil {
		return s, flagErr("init", err)
	}
	if f.bias != "" {
		b, err := weightinit.ParseLaw(f.bias)
		if err != nil {
			return s, flagErr("bias", err)
		}
		s.init.Bias = b
	}
	s.in, err = f.resolveInput(net.Input.Size())
	return s, err
}

func (f *netFlags) resolveInput(size int) (input, error) {
	if f.m0 != "" {
		if f.input != "" {
			return input{}, flagErr("m0", errors.New("give --m0 or --input, not both"))
		}
		v, err := strconv.ParseFloat(f.m0, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			return input{}, flagErr("m0", fmt.Errorf("%q: want a finite number > 0", f.m0))
		}
		return input{Name: "m0", M0: v}, nil
	}
	name := f.input
	if name == "" {
		name = "gaussian"
		if size == 784 {
			name = "mnist:0"
		}
	}
	x, err := loadInput(name, size)
	if err != nil {
		if f.input == "" {
			err = fmt.Errorf("%w (the default input for a 784-value net; --input ones or --m0 needs no data)", err)
		}
		return input{}, err
	}
	in := input{Name: name, X: x}
	if in.M0, in.L4 = data.InputMoments(x); in.M0 == 0 {
		return input{}, flagErr("input", fmt.Errorf("%q is all zeros: its length M0 is 0", name))
	}
	return in, nil
}

// loadInput returns the input called name, of size values, as
// data.FixedInput does. Errors about the name are *flagError; a data set that
// cannot be read is any other error.
func loadInput(name string, size int) ([]float64, error) {
	x, err := data.FixedInput(name, "", size)
	var ie *data.InputError
	switch {
	case errors.As(err, &ie):
		return nil, flagErr("input", err)
	case err != nil:
		return nil, fmt.Errorf("--input %s: %v", name, err)
	}
	return x, nil
}

// presetNames lists the presets by name.
func presetNames() []string {
	var names []string
	for _, p := range weightinit.Presets() {
		names = append(names, p.Name)
	}
	return names
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
