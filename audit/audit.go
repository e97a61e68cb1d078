// Package audit judges a real model, its graph and its actual weights, by
// the paper's criteria: the statistics of every weight tensor and the law
// each matches, the theory's per-layer prediction from the actual c values
// and widths, the FM1 and FM2 verdicts with advice phrased for PyTorch, and
// optionally a measurement: the model's own weights run forward on a fixed
// input, and the same model redrawn from its fitted laws many times, to
// show where this draw sits among them.
//
// The model comes lowered to a network graph (package onnx/lower for ONNX
// files, or a spec whose layers a safetensors file fills).
package audit

import (
	"fmt"
	"math"
	"strings"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/num"
	"github.com/initscope/initscope/onnx/lower"
	"github.com/initscope/initscope/theory"
	"github.com/initscope/initscope/weightinit"
)

// Options say what to measure.
type Options struct {
	// Input is a batch of fixed inputs, one after the other, each of the
	// graph's input size, and InputName says what it is. It gives M_0
	// (which biases need) and the input of the measurements.
	Input     []float64
	InputName string
	// Measure says to run the model's weights forward on Input.
	Measure bool
	// Samples is the number of redraws of every weight and bias tensor
	// from its fitted law (0 for none), Seed their seed.
	Samples int
	Seed    uint64
	// Threads is the number of goroutines of the forward passes (>= 1).
	Threads int
}

// Report is the audit of one model. Its JSON form is the contract of
// `initscope audit --format json`: predict's fields (net, layers, fm1,
// fm2, ...) at the top level, and the audit's own beside them.
type Report struct {
	// Model is the file the model came from; Format what it is (onnx,
	// safetensors).
	Model  string `json:"model"`
	Format string `json:"format"`
	// Producer, IRVersion and Opset describe an ONNX file (empty or 0 for
	// other formats).
	Producer  string `json:"producer,omitempty"`
	IRVersion int64  `json:"ir_version,omitempty"`
	Opset     int64  `json:"opset,omitempty"`
	// Params is the number of parameters of the lowered graph.
	Params int `json:"params"`
	// Prediction is the theory's prediction from the fitted per-layer
	// laws, nil when no layer could be lowered.
	*theory.Prediction
	// Tensors are the statistics of every floating-point tensor.
	Tensors []TensorStat `json:"tensors"`
	// Nodes names the layers of Prediction.Layers after the model's nodes,
	// with the actual c values and what was measured.
	Nodes []NodeAudit `json:"nodes"`
	// Unsupported lists the ops the graph stops at, Notes what the lowering
	// did.
	Unsupported []lower.Unsupported `json:"unsupported"`
	Notes       []string            `json:"notes"`
	// Measurement is the forward pass of the model's own weights and the
	// redraws, nil when not asked for.
	Measurement *Measurement `json:"measurement,omitempty"`
	// PyTorch is the advice as PyTorch code and words, for the layers
	// named.
	PyTorch []string `json:"pytorch_advice"`
}

// NodeAudit is one layer of the prediction, named after the model's node.
type NodeAudit struct {
	// Index is the layer's 1-based position, as in the prediction's layers.
	Index int `json:"index"`
	// Name is the model's name for the layer's main node (an ONNX node
	// name such as /layers/layers.3/Gemm), Module the PyTorch module path
	// it implies (layers.3), Kind the prediction's kind.
	Name   string `json:"name"`
	Module string `json:"module"`
	Kind   string `json:"kind"`
	// C is c = fan_in Var(W) of the layer's actual weights (Unknown for
	// layers without), Gain its factor on E[M] predicted by the theory.
	C          num.Number `json:"c"`
	MeanFactor num.Number `json:"mean_factor"`
	// Log10MeanRatio, LogMean and LogVar are the theory's prediction for
	// E[M_j]/M_0 and ln(M_j/M_0), copied from the layer's row.
	Log10MeanRatio num.Number `json:"log10_mean_ratio"`
	LogMean        num.Number `json:"log_mean"`
	LogVar         num.Number `json:"log_var"`
}

// Run audits the lowered model lm. format and path describe where it came
// from.
func Run(lm *lower.Model, path, format string, opt Options) (*Report, error) {
	if opt.Threads < 1 {
		opt.Threads = 1
	}
	r := &Report{Model: path, Format: format, Unsupported: lm.Unsupported, Notes: lm.Notes,
		Tensors: []TensorStat{}, Nodes: []NodeAudit{}}
	if r.Unsupported == nil {
		r.Unsupported = []lower.Unsupported{}
	}
	if r.Notes == nil {
		r.Notes = []string{}
	}
	fits := map[int]fitPair{}
	for _, t := range lm.Tensors {
		s := statOf(t)
		r.Tensors = append(r.Tensors, s)
		if t.GraphNode >= 0 {
			p := fits[t.GraphNode]
			switch t.Role {
			case lower.RoleWeight:
				p.weight = &r.Tensors[len(r.Tensors)-1]
			case lower.RoleBias:
				p.bias = &r.Tensors[len(r.Tensors)-1]
			}
			fits[t.GraphNode] = p
		}
	}
	if lm.Graph == nil {
		return r, nil
	}
	g := lm.Graph
	r.Params = g.Params()
	laws, err := nodeLaws(g, lm.Params)
	if err != nil {
		return nil, err
	}
	m0, l4, err := inputMoments(opt.Input, g.Input().Size())
	if err != nil {
		return nil, err
	}
	p, err := theory.Predict(g, theory.Options{Init: fittedDefault, M0: m0, InputL4: l4, Nodes: laws.theory})
	if err != nil {
		return nil, fmt.Errorf("theory: %w", err)
	}
	p.Init, p.WeightLaw, p.BiasLaw = "fitted", "fitted per layer (see tensors)", "fitted per layer (see tensors)"
	r.Prediction = p
	r.Nodes = nodeAudits(g, p, laws)
	if opt.Measure || opt.Samples > 0 {
		if r.Measurement, err = measure(lm, laws, opt); err != nil {
			return nil, err
		}
	}
	r.PyTorch = pytorchAdvice(r, g, laws)
	return r, nil
}

// fitPair are the weight and bias statistics of one graph node.
type fitPair struct{ weight, bias *TensorStat }

// fittedDefault is the init the theory falls back on for nodes without a
// fitted law; every weighted node has one, so it only passes validation.
var fittedDefault = weightinit.Init{Name: "fitted", Weight: weightinit.Law{Family: weightinit.Normal, Rule: weightinit.Rule{C: 2, Fan: weightinit.FanIn}},
	Bias: weightinit.Law{Family: weightinit.Zero}}

// inputMoments returns M_0 = ||x||^2/n0 averaged over the batch x of
// samples of size n, and ||x||_4^4/||x||_2^4 of the first sample; 0, 0
// without an input.
func inputMoments(x []float64, n int) (m0, l4 float64, err error) {
	if len(x) == 0 {
		return 0, 0, nil
	}
	if len(x)%n != 0 {
		return 0, 0, fmt.Errorf("input: %d values is not a whole number of samples of %d", len(x), n)
	}
	var s2, s4 float64
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, 0, fmt.Errorf("input: value %d is %v: want finite values", i, v)
		}
		s2 += v * v
		if i < n {
			s4 += v * v * v * v
		}
	}
	m0 = s2 / float64(len(x))
	if m0 == 0 {
		return 0, 0, fmt.Errorf("input: all zeros: its length M0 is 0")
	}
	var first float64
	for _, v := range x[:n] {
		first += v * v
	}
	if first > 0 {
		l4 = s4 / (first * first)
	}
	return m0, l4, nil
}

// ModulePath returns the PyTorch module path an exported node name
// implies: /layers/layers.3/Gemm -> layers.3, /blocks/blocks.0/conv1/Conv
// -> blocks.0.conv1, /layer2/layer2.0/down/down.0/Conv -> layer2.0.down.0
// (a scope that extends the one before it, as a Sequential's child
// "down.0" extends "down", replaces it). A name without scopes is returned
// as it is.
func ModulePath(node string) string {
	if !strings.HasPrefix(node, "/") {
		return node
	}
	scopes := strings.Split(strings.TrimPrefix(node, "/"), "/")
	var path []string
	for _, s := range scopes[:len(scopes)-1] {
		if k := len(path) - 1; k >= 0 && strings.HasPrefix(s, path[k]+".") {
			path[k] = s
		} else {
			path = append(path, s)
		}
	}
	if len(path) == 0 {
		return node
	}
	return strings.Join(path, ".")
}

// nodeAudits names the prediction's layers after their main nodes.
func nodeAudits(g *arch.Graph, p *theory.Prediction, laws nodeLawSet) []NodeAudit {
	out := []NodeAudit{}
	for i, l := range g.Layers() {
		row := p.Layers[i]
		a := NodeAudit{Index: i + 1, Name: l.Node.Name, Module: ModulePath(l.Node.Name), Kind: row.Kind, C: num.Unknown,
			MeanFactor: row.MeanFactor, Log10MeanRatio: row.Log10MeanRatio, LogMean: row.LogMean, LogVar: row.LogVar}
		if f, ok := laws.fits[l.Node.ID]; ok {
			a.C = num.Number(f.C)
		}
		out = append(out, a)
	}
	return out
}
