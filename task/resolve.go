package task

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/data"
	"github.com/initscope/initscope/probe"
	"github.com/initscope/initscope/theory"
	"github.com/initscope/initscope/weightinit"
)

// The defaults of the optional params, which the CLI's flags share (see the
// package documentation).
const (
	// DefaultData is the data set a train task uses, and the one whose test
	// image 0 is the default input of a net that takes its images.
	DefaultData = "mnist"
	// DefaultSamples, DefaultMethod and DefaultSeed set up a probe.
	DefaultSamples = 1000
	DefaultMethod  = probe.Auto
	DefaultSeed    = 1
	// DefaultOptimizer, DefaultBatch, DefaultEpochs and DefaultTarget set up
	// a training run; DefaultSeed seeds it too.
	DefaultOptimizer = "sgd"
	DefaultBatch     = 128
	DefaultEpochs    = 1.0
	DefaultTarget    = 0.2
)

// Spec names a net, its initialization and the fixed input that
// predictions and probes refer to, as text: the CLI's flags and a task's
// params of the same names.
type Spec struct {
	// Arch is the net as arch.Parse reads it (required).
	Arch string
	// Init is a weightinit preset or law (required); Bias, when set,
	// replaces its bias law.
	Init, Bias string
	// Input names the fixed input as data.FixedInput reads it; M0 gives
	// instead only its length ||x||^2/n0, as a number. At most one may be
	// set; with neither, the input is test image 0 of Data when Data is
	// set, else test image 0 of DefaultData when the net takes its images,
	// else "gaussian".
	Input, M0 string
	// Data is the data set the task trains on.
	Data string
	// DataDirs maps a data set's name to the directory to read it from;
	// data sets not listed are read from where data.Load looks by default.
	DataDirs map[string]string
}

// dataSet is the data set a train task uses: Data, else DefaultData.
func (s Spec) dataSet() string {
	if s.Data == "" {
		return DefaultData
	}
	return s.Data
}

// SpecError is a Spec field whose value cannot be used: a usage error
// about the flag or param of the same name.
type SpecError struct {
	// Field is the field's name in lower case: arch, init, bias, input,
	// m0 or data.
	Field string
	// Err says what is wrong and what would be right.
	Err error
}

// Error writes "FIELD: ERR".
func (e *SpecError) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *SpecError) Unwrap() error { return e.Err }

// specErr returns a *SpecError about field.
func specErr(field, format string, a ...any) error {
	return &SpecError{Field: field, Err: fmt.Errorf(format, a...)}
}

// Setup is what a Spec resolves to.
type Setup struct {
	// Net is the network, Init its initialization.
	Net  *arch.Graph
	Init weightinit.Init
	// Input is the fixed input.
	Input Input
}

// Input is the fixed input that predictions and probes refer to.
type Input struct {
	// Name says what it is: a data.FixedInput name (mnist:0, ones,
	// gaussian), or "m0" when only its length was given.
	Name string
	// X is the input itself; nil when only its length was given.
	X []float64
	// M0 is ||x||^2/n0; L4 is ||x||_4^4/||x||_2^4, 0 when unknown.
	M0, L4 float64
}

// ResolveNet parses the net, the initialization and the bias law of s, and
// checks s.Data's name. Its errors are *SpecError.
func ResolveNet(s Spec) (*arch.Graph, weightinit.Init, error) {
	info, err := data.Describe(s.dataSet())
	if err != nil {
		return nil, weightinit.Init{}, &SpecError{"data", err}
	}
	if s.Arch == "" {
		return nil, weightinit.Init{}, specErr("arch", "missing: give a net such as fc:%d-100-%d", info.Size(), info.Classes)
	}
	net, err := arch.Parse(s.Arch)
	if err != nil {
		return nil, weightinit.Init{}, &SpecError{"arch", err}
	}
	if s.Init == "" {
		return nil, weightinit.Init{}, specErr("init", "missing: give a preset (%s) or a law such as normal:2/fan_in", strings.Join(presetNames(), ", "))
	}
	init, err := weightinit.ParseInit(s.Init)
	if err != nil {
		return nil, weightinit.Init{}, &SpecError{"init", err}
	}
	if s.Bias != "" {
		if init.Bias, err = weightinit.ParseLaw(s.Bias); err != nil {
			return nil, weightinit.Init{}, &SpecError{"bias", err}
		}
	}
	return net, init, nil
}

// Resolve resolves the net, the initialization and the fixed input of s,
// reading the input's data set if it needs one. A value that cannot be used
// gives a *SpecError; a data set that cannot be read, another error.
func Resolve(s Spec) (*Setup, error) {
	net, init, err := ResolveNet(s)
	if err != nil {
		return nil, err
	}
	in, err := resolveInput(s, net.Input().Size())
	if err != nil {
		return nil, err
	}
	return &Setup{Net: net, Init: init, Input: in}, nil
}

// resolveInput resolves the fixed input of s for a net of size inputs.
func resolveInput(s Spec, size int) (Input, error) {
	if s.M0 != "" {
		if s.Input != "" {
			return Input{}, specErr("m0", "give m0 or input, not both")
		}
		v, err := strconv.ParseFloat(s.M0, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			return Input{}, specErr("m0", "%q: want a finite number > 0", s.M0)
		}
		return Input{Name: "m0", M0: v}, nil
	}
	name, why := s.Input, ""
	if name == "" {
		name, why = defaultInput(s.Data, size)
	}
	set, _, _ := strings.Cut(name, ":")
	x, err := data.FixedInput(name, s.DataDirs[set], size)
	var ie *data.InputError
	switch {
	case errors.As(err, &ie):
		return Input{}, specErr("input", "%v%s", err, why)
	case err != nil:
		return Input{}, fmt.Errorf("input %s%s: %v", name, why, err)
	}
	in := Input{Name: name, X: x}
	if in.M0, in.L4 = data.InputMoments(x); in.M0 == 0 {
		return Input{}, specErr("input", "%q is all zeros: its length M0 is 0", name)
	}
	return in, nil
}

// DefaultInput names the fixed input of a net of size inputs when none is
// given and no data set is named: test image 0 of DefaultData when the net
// takes its images, else gaussian. predict, probe, audit and the explorer
// share it.
func DefaultInput(size int) string {
	name, _ := defaultInput("", size)
	return name
}

// defaultInput names the input of a net of size inputs when none is given,
// and says why it is the default.
func defaultInput(set string, size int) (name, why string) {
	if set != "" {
		return set + ":0", fmt.Sprintf(" (the default: test image 0 of the data set %s)", set)
	}
	if info, err := data.Describe(DefaultData); err == nil && info.Size() == size {
		return DefaultData + ":0", fmt.Sprintf(" (the default for a net of %d inputs; ones or gaussian need no data)", size)
	}
	return "gaussian", ""
}

// presetNames lists the initialization presets by name.
func presetNames() []string {
	var names []string
	for _, p := range weightinit.Presets() {
		names = append(names, p.Name)
	}
	return names
}

// Predict returns the theory's prediction for the setup.
func (s *Setup) Predict() (*theory.Prediction, error) {
	return theory.Predict(s.Net, theory.Options{Init: s.Init, M0: s.Input.M0, InputL4: s.Input.L4})
}
