package audit

import (
	"fmt"
	"math"
	"slices"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/limits"
	"github.com/initscope/initscope/nn"
	"github.com/initscope/initscope/num"
	"github.com/initscope/initscope/onnx/lower"
	"github.com/initscope/initscope/weightinit"
)

// Measurement is what the model's weights do to a fixed input, and what
// redraws of them from their fitted laws do.
type Measurement struct {
	// Input names the input, Batch the number of samples in it.
	Input string `json:"input"`
	Batch int    `json:"batch"`
	// Samples is the number of redraws, Seed their seed.
	Samples int    `json:"samples"`
	Seed    uint64 `json:"seed"`
	// Layers has one entry per layer, as the prediction's layers.
	Layers []LayerMeasure `json:"layers"`
}

// LayerMeasure is one layer's measured lengths. Ratios are M_j/M_0 of one
// input, averaged over the batch; logs are natural.
type LayerMeasure struct {
	// Index and Name are the layer's, as in the report's nodes.
	Index int    `json:"index"`
	Name  string `json:"name"`
	// Log10Ratio is log10 of M_j/M_0 with the model's own weights.
	Log10Ratio num.Number `json:"log10_ratio"`
	// MeanRatio and MeanRatioSE are E[M_j/M_0] over the redraws and its
	// standard error, Log10MeanRatio its log10 (finite where the mean
	// overflows).
	MeanRatio      num.Number `json:"mean_ratio"`
	MeanRatioSE    num.Number `json:"mean_ratio_se"`
	Log10MeanRatio num.Number `json:"log10_mean_ratio"`
	// LogMean and LogVar are the mean and variance of ln(M_j/M_0) over the
	// redraws that are not dead (M_j > 0).
	LogMean num.Number `json:"log_mean"`
	LogVar  num.Number `json:"log_var"`
	// Dead counts the redraws with M_j = 0.
	Dead int `json:"dead"`
	// Quantile is the fraction of redraws whose ln(M_j/M_0) lies below the
	// model's own (ties count half): where this draw sits among them.
	Quantile num.Number `json:"quantile"`
}

// NewModel returns the float64 batched executor of lm's graph with lm's
// parameters loaded, running on threads goroutines.
func NewModel(lm *lower.Model, threads int) (*nn.Model[float64], error) {
	m, err := nn.NewModel[float64](lm.Graph, threads)
	if err != nil {
		return nil, err
	}
	for _, p := range m.Params() {
		src, ok := lm.Params[p.Node]
		if !ok {
			return nil, fmt.Errorf("node %q: no parameters in the model", lm.Graph.Nodes[p.Node].Name)
		}
		v := src.Weight
		if p.Role == nn.Bias || p.Role == nn.Shift {
			v = src.Bias
		}
		switch {
		case v == nil && (p.Role == nn.Bias || p.Role == nn.Shift):
			clear(p.Data)
		case len(v) != len(p.Data):
			return nil, fmt.Errorf("parameter %s: %d values for a tensor of shape %v", p.Name, len(v), p.Shape)
		default:
			copy(p.Data, v)
		}
	}
	return m, nil
}

// measure runs the model's own weights on the input, then opt.Samples
// redraws from the fitted laws.
func measure(lm *lower.Model, laws nodeLawSet, opt Options) (*Measurement, error) {
	g := lm.Graph
	n0 := g.Input().Size()
	if len(opt.Input) == 0 {
		return nil, fmt.Errorf("measure: no input")
	}
	batch := len(opt.Input) / n0
	est := nn.Estimate(g, batch, opt.Threads)
	if err := limits.Check(fmt.Sprintf("the forward pass of a batch of %d in float64", batch), int64(8*(2*est.Params+est.Buffers))); err != nil {
		return nil, err
	}
	m, err := NewModel(lm, opt.Threads)
	if err != nil {
		return nil, err
	}
	layers := g.Layers()
	ends := make([]int, len(layers))
	for i, l := range layers {
		ends[i] = l.Nodes[len(l.Nodes)-1]
	}
	m0 := sampleLogM(opt.Input, batch)
	own := logRatios(m, opt.Input, batch, ends, m0)
	out := &Measurement{Input: opt.InputName, Batch: batch, Samples: opt.Samples, Seed: opt.Seed}
	draws := make([][]float64, opt.Samples) // by redraw, by layer: ln(M_j/M_0)
	for s := range opt.Samples {
		if err := redraw(m, g, laws, opt.Seed, uint64(s)); err != nil {
			return nil, err
		}
		draws[s] = logRatios(m, opt.Input, batch, ends, m0)
	}
	for i, l := range layers {
		lm := LayerMeasure{Index: i + 1, Name: l.Node.Name, Log10Ratio: num.Number(own[i] / math.Ln10),
			MeanRatio: num.Unknown, MeanRatioSE: num.Unknown, Log10MeanRatio: num.Unknown,
			LogMean: num.Unknown, LogVar: num.Unknown, Quantile: num.Unknown}
		if opt.Samples > 0 {
			col := make([]float64, opt.Samples)
			for s := range col {
				col[s] = draws[s][i]
			}
			summarize(&lm, col, own[i])
		}
		out.Layers = append(out.Layers, lm)
	}
	return out, nil
}

// redraw fills every weight and bias of m from its node's fitted law,
// with the stream (seed, index): weights then biases, node by node.
// Affine nodes keep the model's values.
func redraw(m *nn.Model[float64], g *arch.Graph, laws nodeLawSet, seed, index uint64) error {
	r := weightinit.NewStream(seed, index)
	for _, p := range m.Params() {
		if p.Role != nn.Weight && p.Role != nn.Bias {
			continue
		}
		in, ok := laws.inits[p.Node]
		if !ok {
			return fmt.Errorf("node %q: no fitted law", g.Nodes[p.Node].Name)
		}
		law := in.Weight
		if p.Role == nn.Bias {
			law = in.Bias
		}
		if law.IsZero() {
			clear(p.Data)
			continue
		}
		smp := law.Sampler(p.FanIn, p.FanOut)
		for i := range p.Data {
			p.Data[i] = smp.Rand(r)
		}
	}
	return nil
}

// logRatios runs m on the batch x and returns, for each layer end node,
// ln of M_j/M_0 averaged over the samples (m0 holds each sample's ln M_0).
// A value that left float64's range gives +Inf.
func logRatios(m *nn.Model[float64], x []float64, batch int, ends []int, m0 []float64) []float64 {
	m.Forward(x, batch)
	out := make([]float64, len(ends))
	for i, id := range ends {
		y := m.NodeOutput(id)
		logs := sampleLogM(y, batch)
		for s := range logs {
			logs[s] -= m0[s]
		}
		out[i] = logMeanExp(logs)
	}
	return out
}

// sampleLogM returns ln(||y_s||^2/n) for each of the batch samples of y,
// computed with a scale so that no square overflows; +Inf if a value is
// not finite, -Inf for an all-zero sample.
func sampleLogM(y []float64, batch int) []float64 {
	n := len(y) / batch
	out := make([]float64, batch)
	for s := range batch {
		v := y[s*n : (s+1)*n]
		var big float64
		for _, e := range v {
			big = max(big, math.Abs(e))
		}
		switch {
		case math.IsNaN(big) || math.IsInf(big, 0):
			out[s] = math.Inf(1)
			continue
		case big == 0:
			out[s] = math.Inf(-1)
			continue
		}
		var ss float64
		for _, e := range v {
			ss += (e / big) * (e / big)
		}
		out[s] = 2*math.Log(big) + math.Log(ss/float64(n))
	}
	return out
}

// logMeanExp is ln of the mean of e^l over l.
func logMeanExp(l []float64) float64 {
	t := slices.Max(l)
	if math.IsInf(t, 0) {
		return t
	}
	var s float64
	for _, v := range l {
		s += math.Exp(v - t)
	}
	return t + math.Log(s/float64(len(l)))
}

// summarize fills the redraw statistics of one layer from its ln ratios
// over the redraws, and the quantile of the model's own value.
func summarize(lm *LayerMeasure, logs []float64, own float64) {
	n := float64(len(logs))
	var below float64
	var live []float64
	for _, v := range logs {
		switch {
		case v < own:
			below++
		case v == own:
			below += 0.5
		}
		if math.IsInf(v, -1) {
			lm.Dead++
		} else {
			live = append(live, v)
		}
	}
	lm.Quantile = num.Number(below / n)
	// E[ratio] and its standard error, from logs, scaled by the largest.
	t := slices.Max(logs)
	if math.IsInf(t, 0) {
		lm.Log10MeanRatio = num.Number(t)
		return
	}
	var s1, s2 float64
	for _, v := range logs {
		e := math.Exp(v - t)
		s1 += e
		s2 += e * e
	}
	mean := s1 / n
	lm.Log10MeanRatio = num.Number((t + math.Log(mean)) / math.Ln10)
	lm.MeanRatio = num.Number(math.Exp(t) * mean)
	if n > 1 {
		v := (s2/n - mean*mean) * n / (n - 1)
		lm.MeanRatioSE = num.Number(math.Exp(t) * math.Sqrt(max(v, 0)/n))
	}
	if len(live) > 0 {
		var a float64
		for _, v := range live {
			a += v
		}
		a /= float64(len(live))
		var q float64
		for _, v := range live {
			q += (v - a) * (v - a)
		}
		lm.LogMean = num.Number(a)
		if len(live) > 1 {
			lm.LogVar = num.Number(q / float64(len(live)-1))
		}
	}
}
