package serve

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/initscope/initscope/num"
	"github.com/initscope/initscope/task"
	"github.com/initscope/initscope/theory"
	"github.com/initscope/initscope/weightinit"
)

// Design is a net, its initialization and its input, as the CLI's --arch,
// --init, --bias, --input and --m0 take them.
type Design struct {
	Arch  string `json:"arch"`
	Init  string `json:"init"`
	Bias  string `json:"bias,omitempty"`
	Input string `json:"input,omitempty"`
	M0    string `json:"m0,omitempty"`
}

// spec is the design as task.Resolve reads it.
func (d Design) spec() task.Spec {
	return task.Spec{Arch: d.Arch, Init: d.Init, Bias: d.Bias, Input: d.Input, M0: d.M0}
}

// inputKey identifies a resolved input: inputs are read once (a data set's
// test image takes milliseconds to read) and kept.
type inputKey struct {
	input, m0 string
	size      int
}

// maxInputs bounds the inputs kept; the cache is emptied when it is full.
const maxInputs = 64

// resolve resolves a design as the CLI does (task.Resolve), reading each
// input once. Errors are *task.SpecError for values that cannot be used.
func (s *Server) resolve(d Design) (*task.Setup, error) {
	net, init, err := task.ResolveNet(d.spec())
	if err != nil {
		return nil, err
	}
	key := inputKey{d.Input, d.M0, net.Input().Size()}
	s.inputMu.Lock()
	in, ok := s.inputs[key]
	s.inputMu.Unlock()
	if ok {
		return &task.Setup{Net: net, Init: init, Input: in}, nil
	}
	setup, err := task.Resolve(d.spec())
	if err != nil {
		return nil, err
	}
	s.inputMu.Lock()
	if len(s.inputs) >= maxInputs {
		clear(s.inputs)
	}
	s.inputs[key] = setup.Input
	s.inputMu.Unlock()
	return setup, nil
}

// designError turns an error of resolve or Predict into the page's error:
// a *task.SpecError names its field as the CLI's flag ("--arch: ...") and,
// for the net, where the wrong item is.
func designError(d Design, err error) (int, apiError) {
	var se *task.SpecError
	if !errors.As(err, &se) {
		return http.StatusInternalServerError, apiError{Error: oneLine(err.Error())}
	}
	e := apiError{Error: oneLine("--" + se.Error()), Field: se.Field}
	if se.Field == "arch" {
		if start, end, ok := locateSpecError(d.Arch, se.Err.Error()); ok {
			e.Span = &[2]int{utf16Len(d.Arch[:start]), utf16Len(d.Arch[:end])}
		}
	}
	return http.StatusBadRequest, e
}

// DesignResult is the answer to /api/predict: the prediction per layer,
// the verdicts with their advice, and the advice as edits of the design.
type DesignResult struct {
	// Net, Init, WeightLaw and BiasLaw are the prediction's.
	Net       string `json:"net"`
	Init      string `json:"init"`
	WeightLaw string `json:"weight_law"`
	BiasLaw   string `json:"bias_law"`
	// Input describes the fixed input, as predict's text report does.
	Input string `json:"input"`
	// Depth counts the ReLU layers, Beta is the sum of 1/width over them.
	Depth int     `json:"depth"`
	Beta  float64 `json:"beta"`
	// DeadProbability is P(some plain ReLU layer is dead), DeadExact says
	// whether it is exact.
	DeadProbability num.Number `json:"dead_probability"`
	DeadExact       bool       `json:"dead_exact"`
	// Layers has one entry per layer.
	Layers []DesignLayer `json:"layers"`
	// FM1 and FM2 are the verdicts.
	FM1 Card `json:"fm1"`
	FM2 Card `json:"fm2"`
	// Fixes are the advice applied to the design, each a design to try.
	Fixes []Fix `json:"fixes"`
	// ServerMS is the time the server took, in milliseconds.
	ServerMS float64 `json:"server_ms"`
}

// DesignLayer is one layer's prediction, the numbers the chart and the
// table show. Logs are of M_j/M_0: Log10Mean = log10 E[M_j]/M_0 (or its
// bounds Log10Lower, Log10Upper), LogMean and LogSD the mean and standard
// deviation of ln(M_j/M_0).
type DesignLayer struct {
	Index      int        `json:"index"`
	Kind       string     `json:"kind"`
	Spec       string     `json:"spec"`
	Width      int        `json:"width"`
	FanIn      int        `json:"fan_in"`
	C          num.Number `json:"c"`
	MeanFactor num.Number `json:"mean_factor"`
	Log10Mean  num.Number `json:"log10_mean"`
	Log10Lower num.Number `json:"log10_lower"`
	Log10Upper num.Number `json:"log10_upper"`
	LogMean    num.Number `json:"log_mean"`
	LogSD      num.Number `json:"log_sd"`
	// LogSDUpper says LogSD is an upper bound.
	LogSDUpper bool `json:"log_sd_upper"`
	// Exact is all (mean, second moment and log moments exact), mean (the
	// mean only), bounds or no, as predict's table writes it.
	Exact string   `json:"exact"`
	Notes []string `json:"notes,omitempty"`
}

// Card is a verdict with its one-line summary and its advice.
type Card struct {
	Verdict string   `json:"verdict"`
	Certain bool     `json:"certain"`
	Summary string   `json:"summary"`
	Advice  []string `json:"advice"`
}

func (s *Server) handlePredict(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var d Design
	if code, err := s.readJSON(w, r, &d); err != nil {
		writeError(w, code, err)
		return
	}
	res, code, e := s.predict(d)
	if res == nil {
		writeJSON(w, code, e)
		return
	}
	res.ServerMS = float64(time.Since(start).Microseconds()) / 1000
	writeJSON(w, http.StatusOK, res)
}

// predict resolves d and runs the theory on it.
func (s *Server) predict(d Design) (*DesignResult, int, apiError) {
	setup, err := s.resolve(d)
	if err != nil {
		code, e := designError(d, err)
		return nil, code, e
	}
	p, err := setup.Predict()
	if err != nil {
		// As the CLI, a net the theory refuses is a usage error of no one flag.
		return nil, http.StatusBadRequest, apiError{Error: oneLine(err.Error())}
	}
	res := &DesignResult{
		Net: p.Net, Init: p.Init, WeightLaw: p.WeightLaw, BiasLaw: p.BiasLaw,
		Input: describeInput(setup.Input), Depth: p.Depth, Beta: p.Beta,
		DeadProbability: p.DeadProbability, DeadExact: p.DeadExact,
		Layers: designLayers(p.Layers),
		FM1:    card(p.FM1.Verdict, p.FM1.Certain, p.FM1.Summary, p.FM1.Advice),
		FM2:    card(p.FM2.Verdict, p.FM2.UnknownLayers == 0, p.FM2.Summary, p.FM2.Advice),
		Fixes:  fixes(d, p),
	}
	return res, http.StatusOK, apiError{}
}

func card(verdict string, certain bool, summary string, a theory.Advice) Card {
	advice := a.Text
	if advice == nil {
		advice = []string{}
	}
	return Card{Verdict: verdict, Certain: certain, Summary: summary, Advice: advice}
}

// designLayers picks the chart's and the table's numbers from the
// prediction.
func designLayers(ls []theory.Layer) []DesignLayer {
	out := make([]DesignLayer, len(ls))
	for i, l := range ls {
		sd := num.Unknown
		if l.LogVar.Known() {
			sd = num.Number(math.Sqrt(float64(l.LogVar)))
		}
		out[i] = DesignLayer{
			Index: l.Index, Kind: l.Kind, Spec: l.Spec, Width: l.Width, FanIn: l.FanIn,
			C: l.C, MeanFactor: l.MeanFactor,
			Log10Mean: l.Log10MeanRatio, Log10Lower: l.Log10MeanRatioLower, Log10Upper: l.Log10MeanRatioUpper,
			LogMean: l.LogMean, LogSD: sd, LogSDUpper: l.LogVarUpperBound,
			Exact: l.Exactness(), Notes: l.Notes,
		}
	}
	return out
}

// describeInput says what the input is, as predict's text report does.
func describeInput(in task.Input) string {
	if in.X == nil {
		return fmt.Sprintf("M0 = ||x||^2/n0 = %.4g (given)", in.M0)
	}
	return fmt.Sprintf("%s: M0 = ||x||^2/n0 = %.4g", in.Name, in.M0)
}

// Meta is the answer to /api/meta: what the page offers and the limits in
// force.
type Meta struct {
	Presets  []Preset  `json:"presets"`
	Examples []Example `json:"examples"`
	// Inputs are the named inputs the page suggests.
	Inputs []string `json:"inputs"`
	// Biases are bias laws the page suggests.
	Biases []string `json:"biases"`
	Limits Limits   `json:"limits"`
	// Results says whether a results directory was given.
	Results bool   `json:"results"`
	Version string `json:"version"`
}

// Preset is an initialization preset as `initscope inits` lists it.
type Preset struct {
	Name    string `json:"name"`
	Weights string `json:"weights"`
	Biases  string `json:"biases"`
	About   string `json:"about"`
}

// Example is a design the page offers one click away.
type Example struct {
	Label string `json:"label"`
	Design
}

// Limits are the server's limits, for the page to state.
type Limits struct {
	MaxBody      int64   `json:"max_body"`
	MaxUpload    int64   `json:"max_upload"`
	TimeoutS     float64 `json:"timeout_s"`
	ProbeTimeout float64 `json:"probe_timeout_s"`
	MaxProbes    int     `json:"max_probes"`
	MaxAudits    int     `json:"max_audits"`
	MaxSamples   int     `json:"max_samples"`
}

// examples are the page's example designs: the README's, each showing one
// failure mode or its cure.
var examples = []Example{
	{"50-layer MLP, PyTorch default (FM1 vanishing)", Design{Arch: "fc:784-100x50-10", Init: "pytorch-default"}},
	{"50-layer MLP, He normal", Design{Arch: "fc:784-100x50-10", Init: "he-normal"}},
	{"100 layers of width 32 (FM2 failing)", Design{Arch: "fc:784-32x100-10", Init: "he-normal"}},
	{"100 layers of width 512 (FM2 ok)", Design{Arch: "fc:784-512x100-10", Init: "he-normal"}},
	{"residual, eta = 1 (exploding)", Design{Arch: "net:784,dense100,resdense100x50:eta=1:end=linear,dense10", Init: "he-normal"}},
	{"residual, eta = 0.5^l", Design{Arch: "net:784,dense100,resdense100x50:eta=0.5^l:end=linear,dense10", Init: "he-normal"}},
	{"CNN on 1x28x28", Design{Arch: "net:1x28x28,conv16k3x8,maxpool2,conv32k3x8,gap,dense10", Init: "he-normal"}},
	{"ResNet v1 blocks", Design{Arch: "net:784,resdense256:shortcut=proj:end=linear:post=relu,resdense256x4:end=linear:post=relu:eta=0.5,dense10", Init: "he-normal", M0: "1"}},
}

func (s *Server) handleMeta(w http.ResponseWriter, r *http.Request) {
	m := Meta{
		Examples: examples,
		Inputs:   []string{task.DefaultData + ":0", "fashion-mnist:0", "ones", "gaussian"},
		Biases:   []string{"zero", "uniform:1/3/fan_in", "normal:0.01"},
		Limits: Limits{
			MaxBody: s.cfg.MaxBody, MaxUpload: s.cfg.MaxUpload,
			TimeoutS: s.cfg.Timeout.Seconds(), ProbeTimeout: s.cfg.ProbeTimeout.Seconds(),
			MaxProbes: s.cfg.MaxProbes, MaxAudits: s.cfg.MaxAudits, MaxSamples: s.cfg.MaxSamples,
		},
		Results: s.results != nil,
		Version: s.cfg.Version,
	}
	for _, p := range weightinit.Presets() {
		m.Presets = append(m.Presets, Preset{Name: p.Name, Weights: p.Weight.String(), Biases: p.Bias.String(), About: p.About})
	}
	writeJSON(w, http.StatusOK, m)
}
