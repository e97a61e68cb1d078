// Package theory computes what the finite-width laws of Hanin & Rolnick (2018)
// predict for a ReLU net at initialization, layer by layer, without sampling:
// the mean of the normalized squared length M_j = ||act_j||^2 / n_j (FM1), its
// second moment and the exact mean and variance of log M_j (FM2), the
// probability that some layer is dead, the expected empirical variance of the
// lengths across layers, the moments of the input-output Jacobian, and the
// verdicts and advice built on them. The formulas are those of
// shared/THEORY.md; every number says whether it is exact, and a number that
// has no closed form is Unknown (JSON null), never a guess.
//
// # Exactness
//
// The mean E[M_j] is exact for every symmetric weight and bias law in dense
// layers (THEORY 2), in conv layers whose taps cover every input pixel equally
// often (1x1 kernels at stride 1; otherwise zero padding, strides and
// dilations make it an estimate that assumes spatially uniform energy), in
// residual blocks whose module ends linear (THEORY 5), and in ResNet v1
// blocks with a projection shortcut, whatever their module's end (the cross
// term vanishes), halved exactly by a ReLU after the join when the module
// ends linear. Blocks whose module ends in a ReLU on an identity skip, and
// ReLUs after other joins, get bounds (see block in residual.go for the
// derivations). Each dense or conv node may have its own law
// (Options.Nodes), as a trained or imported model's layers do.
//
// Affine nodes (an eval-mode batch norm) with the mean squares of their
// scales and shifts given multiply E[M] by mean(s^2) and add mean(t^2),
// exactly after a dense or conv layer (see affineLayer in affine.go); a
// training-mode batch norm sets E[M] to about 1. Other normalizations and
// parts of a graph that are no known layer get a row of nulls with the
// reason, and everything downstream that depends on them is null too:
// measure those with probe.
//
// Second moments and log moments are exact for Gaussian weights with zero (or,
// for second moments, Gaussian) biases in dense layers: the ratios
// R_j = M_j / M_{j-1} are then independent, R_j = (c_j/n_j) chi^2_{K_j} with
// K_j ~ Binomial(n_j, 1/2) (THEORY 3.1). Other laws add the kurtosis term of
// THEORY 3.2 with an estimated ||x||_4^4/||x||_2^4, and conv layers use their
// channel count as effective width: both are marked approximate.
//
// # Large and small numbers
//
// Exploding and vanishing nets are computed in log space throughout. Every
// ratio comes with its base-10 logarithm (log10_mean_ratio,
// log10_second_moment_ratio, ...), which stays finite; the ratio itself is
// +Inf (JSON null) only when it exceeds the float64 range, about 1e308.
package theory

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/initscope/initscope/num"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/weightinit"
)

// Options says how the net is initialized and what input it sees.
type Options struct {
	// Init is the weight and bias law.
	Init weightinit.Init
	// M0 is ||x||^2/n0 of the fixed input. It is needed when biases are
	// nonzero (their contribution is measured against it); with zero biases
	// every ratio is independent of it and 0 means "not given".
	M0 float64
	// InputL4 is ||x||_4^4/||x||_2^4 of the input, used by the kurtosis term
	// of the first layer for non-Gaussian weights. 0 means unknown: the
	// spread-out value 6/n0 of a ReLU-like vector is used instead.
	InputL4 float64
	// Nodes holds what is known of single nodes' parameters, by node ID
	// (arch.Node.ID, the principal node of a layer): the law of a dense
	// or conv node whose weights differ from Init, the moments of an
	// affine node's scales and shifts.
	Nodes map[int]NodeParams
}

// NodeParams is what is known of one node's parameters when they differ from Options.Init.
type NodeParams struct {
	// Init is the weight and bias law of a dense or conv node (nil: Options.Init).
	Init *weightinit.Init
	// ScaleSquare and ShiftSquare are the mean squares of an affine node's per-channel scale and shift; Known says they are given.
	ScaleSquare, ShiftSquare float64
	Known                    bool
}

// initOf returns the weight and bias law of node id: its own, or Init.
func (opt Options) initOf(id int) weightinit.Init {
	if p := opt.Nodes[id]; p.Init != nil {
		return *p.Init
	}
	return opt.Init
}

// The verdicts.
const (
	// OK: the failure mode does not occur.
	OK = "ok"
	// Vanishing: FM1, E[M_d] is far below M_0.
	Vanishing = "vanishing"
	// Exploding: FM1, E[M_d] is far above M_0.
	Exploding = "exploding"
	// Warning: FM2, the fluctuations are large enough to slow training.
	Warning = "warning"
	// Failing: FM2, the length of the output is dominated by its fluctuations.
	Failing = "failing"
)

// The kinds of value of Prediction.DeadBound.
const (
	// BoundExact: the value is exact.
	BoundExact = "exact"
	// BoundLower: the true value is at least this.
	BoundLower = "lower"
	// BoundUpper: the true value is at most this.
	BoundUpper = "upper"
	// BoundApproximate: the value is neither exact nor a bound.
	BoundApproximate = "approximate"
)

// deadNotes explain the kinds of Prediction.DeadBound that are not exact.
var deadNotes = map[string]string{
	BoundLower:       "a lower bound: discrete weights put mass at a pre-activation of exactly 0, which leaves a unit off",
	BoundUpper:       "an upper bound: a conv channel is dead only if it is off at every position",
	BoundApproximate: "approximate: conv layers (an upper bound) meet discrete weights (a lower bound), so neither bound holds",
}

// combineBounds is the kind of a probability of no dead layer that is the
// product of factors of kinds a and b.
func combineBounds(a, b string) string {
	switch {
	case a == BoundExact || a == b:
		return b
	case b == BoundExact:
		return a
	}
	return BoundApproximate
}

// Prediction is everything the theory says about one net under one
// initialization. Its JSON form is the contract of `initscope predict
// --format json`.
type Prediction struct {
	// Net is the net as it was given (arch.Graph.Source), or in the compact
	// grammar when it was built otherwise.
	Net string `json:"net"`
	// Init names the initialization, WeightLaw and BiasLaw spell its laws.
	Init      string `json:"init"`
	WeightLaw string `json:"weight_law"`
	BiasLaw   string `json:"bias_law"`
	// M0 is ||x||^2/n0 of the input the ratios refer to (Unknown when not
	// given and not needed).
	M0 num.Number `json:"m0"`
	// InputL4 is the ||x||_4^4/||x||_2^4 used for the first layer.
	InputL4 num.Number `json:"input_l4"`
	// Depth is the number of ReLU layers, those inside residual modules and
	// after residual joins included (arch.Graph.ReLULayers).
	Depth int `json:"depth"`
	// Beta is the sum of 1/width over the ReLU layers: units for dense
	// layers, output channels for conv layers (THEORY 4), and the stream
	// width for each ReLU layer inside a residual module or after a
	// residual join. For residual nets
	// Beta overstates the fluctuations, which the scale eta damps: their FM2
	// verdict uses the per-block second moments instead (see FM2).
	Beta float64 `json:"beta"`
	// DeadProbability is P(some plain ReLU layer has every unit off at
	// initialization) = 1 - prod_j (1 - 2^-n_j). ReLU layers inside
	// residual modules are left out: a dead module leaves the stream.
	// DeadBound says what kind of value it is (see DeadBound's values).
	DeadProbability num.Number `json:"dead_probability"`
	// DeadExact says whether DeadProbability is exact (DeadBound is
	// BoundExact).
	DeadExact bool `json:"dead_exact"`
	// DeadBound is BoundExact for dense layers whose pre-activations have
	// a continuous law (P(unit off | input) = 1/2 exactly); BoundLower when
	// they are discrete (Rademacher weights with zero or Rademacher biases:
	// a pre-activation of exactly 0 leaves its unit off, so a layer is dead
	// with probability at least 2^-n); BoundUpper for conv layers with
	// continuous laws (a channel is dead only if it is off at every
	// position); BoundApproximate where bounds of both directions meet.
	DeadBound string `json:"dead_bound"`
	// DeadNote says in words why DeadProbability is not exact ("" when it
	// is).
	DeadNote string `json:"dead_note,omitempty"`
	// Layers has one entry per layer of the net, in order.
	Layers []Layer `json:"layers"`
	// FM1 is the verdict on the mean length.
	FM1 FM1 `json:"fm1"`
	// FM2 is the verdict on the fluctuations.
	FM2 FM2 `json:"fm2"`
	// EmpiricalVariance is E[Var_hat[M]] across the ReLU layers (THEORY 3.1).
	EmpiricalVariance EmpiricalVariance `json:"empirical_variance"`
	// Jacobian holds the moments of one entry of the input-output Jacobian.
	Jacobian Jacobian `json:"jacobian"`
}

// Layer is the prediction after one layer of the net. Ratios are relative to
// the input: E[M_j]/M_0 and E[M_j^2]/M_0^2. Log moments are those of
// ln(M_j/M_0), conditioned on no dead layer, cumulative up to this layer.
type Layer struct {
	// Index is the layer's 1-based position in the net.
	Index int `json:"index"`
	// Kind is relu or linear (dense layers), conv-relu or conv-linear,
	// affine or affine-relu (a per-channel affine node), maxpool, avgpool,
	// gap, flatten, residual, norm (a normalization) or other (a part of
	// the graph that is no known layer).
	Kind string `json:"kind"`
	// Spec is the layer in the compact grammar.
	Spec string `json:"spec"`
	// Out is the shape of the layer's output.
	Out string `json:"out"`
	// Width is the width for the fluctuation theory: units, output channels,
	// or the stream width of a residual block; 0 for layers without one.
	Width int `json:"width"`
	// FanIn is the fan-in of the layer's weights (of its module's for a
	// residual block); 0 without weights.
	FanIn int `json:"fan_in"`
	// Eta is the residual scale (residual blocks only).
	Eta num.Number `json:"eta"`
	// WeightVar and BiasVar are the realised variances of one weight and one
	// bias (truncation included); C is c_j = fan_in * WeightVar.
	WeightVar num.Number `json:"weight_var"`
	BiasVar   num.Number `json:"bias_var"`
	C         num.Number `json:"c"`
	// Kurtosis is E[w^4]/E[w^2]^2 of the weight law.
	Kurtosis num.Number `json:"kurtosis"`
	// Gain is the factor by which the layer multiplies E[M] when the biases
	// are zero: c/2 for a ReLU layer, c for a linear one, 1 + g eta^2 for a
	// residual block whose module ends linear, c_P + g eta^2 for a block
	// with a projection shortcut (halved by a ReLU after a linear module
	// end), mean(s^2) for an affine node (halved by a ReLU after it). It
	// is Unknown for pooling, normalization and unrecognized layers, for
	// affine nodes without a law, and for blocks with bounds only, which have GainLower and
	// GainUpper instead (a GainLower of 0 means no lower bound is known). The product of the gains is FM1's signal gain.
	Gain      num.Number `json:"gain"`
	GainLower num.Number `json:"gain_lower"`
	GainUpper num.Number `json:"gain_upper"`
	// MeanFactor is E[M_j]/E[M_{j-1}], biases included; Unknown where only
	// bounds (MeanFactorLower, MeanFactorUpper) are known.
	MeanFactor      num.Number `json:"mean_factor"`
	MeanFactorLower num.Number `json:"mean_factor_lower"`
	MeanFactorUpper num.Number `json:"mean_factor_upper"`
	// MeanExact says whether the mean factor and the mean ratio are exact.
	MeanExact bool `json:"mean_exact"`
	// MeanRatio is E[M_j]/M_0 and Log10MeanRatio its log10; where only
	// bounds are known, MeanRatio is Unknown and the bounds are in
	// Log10MeanRatioLower and Log10MeanRatioUpper.
	MeanRatio           num.Number `json:"mean_ratio"`
	Log10MeanRatio      num.Number `json:"log10_mean_ratio"`
	Log10MeanRatioLower num.Number `json:"log10_mean_ratio_lower"`
	Log10MeanRatioUpper num.Number `json:"log10_mean_ratio_upper"`
	// SecondMomentRatio is E[M_j^2]/M_0^2, with its log10.
	SecondMomentRatio      num.Number `json:"second_moment_ratio"`
	Log10SecondMomentRatio num.Number `json:"log10_second_moment_ratio"`
	// SecondMomentExact says whether the second moment is exact.
	SecondMomentExact bool `json:"second_moment_exact"`
	// LogMean and LogVar are E and Var of ln(M_j/M_0). LogVar is an upper
	// bound when biases are nonzero (LogVarUpperBound).
	LogMean          num.Number `json:"log_mean"`
	LogVar           num.Number `json:"log_var"`
	LogVarUpperBound bool       `json:"log_var_upper_bound"`
	// LogVarStep is this layer's own contribution to LogVar, Var[ln R_j];
	// for a residual block it is ln(E[R^2]/E[R]^2) of the block ratio, the
	// largest over the admissible stream shapes when the module ends in a
	// ReLU. The FM2 statistic sums it over ReLU layers and residual blocks.
	LogVarStep num.Number `json:"log_var_step"`
	// LogExact says whether LogMean and LogVar are exact.
	LogExact bool `json:"log_exact"`
	// Exact says whether both the second moment and the log moments are exact.
	Exact bool `json:"exact"`
	// DeadProbability is P(some plain ReLU layer up to here is dead).
	DeadProbability num.Number `json:"dead_probability"`
	// Notes say what is approximate about this layer and why.
	Notes []string `json:"notes,omitempty"`
}

// validate checks the options against the net.
func (opt Options) validate(g *arch.Graph) error {
	if g == nil || len(g.Nodes) < 2 {
		return fmt.Errorf("net: no layers")
	}
	if err := opt.checkNodes(g); err != nil {
		return err
	}
	if opt.usesInit(g) {
		if err := checkInit(opt.Init); err != nil {
			return err
		}
	}
	if math.IsNaN(opt.M0) || math.IsInf(opt.M0, 0) || opt.M0 < 0 {
		return fmt.Errorf("M0 %v: must be finite and >= 0", opt.M0)
	}
	if b := opt.Init.Bias; opt.usesInit(g) && !b.IsZero() && opt.M0 == 0 {
		return fmt.Errorf("M0: the biases are nonzero (%s), so E[M] depends on the input: give M0 = ||x||^2/n0 > 0", b)
	}
	if math.IsNaN(opt.InputL4) || opt.InputL4 < 0 || opt.InputL4 > 1 {
		return fmt.Errorf("InputL4 %v: ||x||_4^4/||x||_2^4 lies in (0, 1]; 0 means unknown", opt.InputL4)
	}
	return opt.checkVariances(g)
}

// checkInit checks that a weight and bias law is one the theory handles.
func checkInit(in weightinit.Init) error {
	w, b := in.Weight, in.Bias
	if !w.Family.Valid() || w.IsZero() {
		return fmt.Errorf("weight law %q: want a nonzero symmetric law", w)
	}
	if !b.Family.Valid() {
		return fmt.Errorf("bias law %q: unknown family", b)
	}
	for _, r := range []struct {
		what string
		rule weightinit.Rule
	}{{"weight", w.Rule}, {"bias", b.Rule}} {
		if math.IsNaN(r.rule.C) || math.IsInf(r.rule.C, 0) || r.rule.C < 0 {
			return fmt.Errorf("%s variance %v: must be finite and >= 0", r.what, r.rule.C)
		}
	}
	return nil
}

// usesInit reports whether some dense or conv node of g has no law of its
// own in Nodes, so that Init applies to it. (A net without such nodes
// counts as using it: Init is then checked as before Nodes existed.)
func (opt Options) usesInit(g *arch.Graph) bool {
	weighted := false
	for i := range g.Nodes {
		if g.Nodes[i].HasWeights() {
			weighted = true
			if opt.Nodes[i].Init == nil {
				return true
			}
		}
	}
	return !weighted
}

// checkNodes checks Nodes against the net: every ID is a node of g, laws
// are given for dense and conv nodes only and are valid (with M0 given
// when their biases are nonzero), and moments for affine nodes only, finite
// and >= 0. It checks the nodes in order of ID, so that the first error is
// always the same.
func (opt Options) checkNodes(g *arch.Graph) error {
	for _, id := range slices.Sorted(maps.Keys(opt.Nodes)) {
		p := opt.Nodes[id]
		if id < 0 || id >= len(g.Nodes) {
			return fmt.Errorf("node parameters for node %d: the net has nodes 0 to %d", id, len(g.Nodes)-1)
		}
		n := &g.Nodes[id]
		if p.Init != nil {
			if !n.HasWeights() {
				return fmt.Errorf("node %q (%s): a weight law is given, but the node has no weights", n.Name, n.Op)
			}
			if err := checkInit(*p.Init); err != nil {
				return fmt.Errorf("node %q: %v", n.Name, err)
			}
			if b := p.Init.Bias; !b.IsZero() && opt.M0 == 0 {
				return fmt.Errorf("node %q: M0: the biases are nonzero (%s), so E[M] depends on the input: give M0 = ||x||^2/n0 > 0", n.Name, b)
			}
		}
		if p.Known && n.Op != arch.OpAffine {
			return fmt.Errorf("node %q (%s): scale and shift moments are given, but the node is not affine", n.Name, n.Op)
		}
		if !p.Known && (p.ScaleSquare != 0 || p.ShiftSquare != 0) {
			return fmt.Errorf("node %q: scale and shift moments %g, %g are set but Known is false", n.Name, p.ScaleSquare, p.ShiftSquare)
		}
		for _, v := range []struct {
			what string
			x    float64
		}{{"scale", p.ScaleSquare}, {"shift", p.ShiftSquare}} {
			if math.IsNaN(v.x) || math.IsInf(v.x, 0) || v.x < 0 {
				return fmt.Errorf("node %q: mean square of the %s %v: must be finite and >= 0", n.Name, v.what, v.x)
			}
		}
	}
	return nil
}

// checkVariances refuses laws whose variance for some weighted node float64
// cannot hold: a weight variance that underflows to 0 or overflows, a bias
// variance that overflows. (Everything computed from the variances is in
// logs, so any variance float64 holds gives finite logs.)
func (opt Options) checkVariances(g *arch.Graph) error {
	for i := range g.Nodes {
		n := &g.Nodes[i]
		if !n.HasWeights() {
			continue
		}
		fi, fo := n.FanIn(), n.FanOut()
		in := opt.initOf(n.ID)
		for _, l := range []struct {
			what string
			law  weightinit.Law
		}{{"weight", in.Weight}, {"bias", in.Bias}} {
			if l.law.IsZero() {
				continue
			}
			v := l.law.Variance(fi, fo)
			if v == 0 && l.what == "weight" || math.IsInf(v, 0) {
				return fmt.Errorf("%s law %s: the variance of node %q (fan_in %d, fan_out %d) is %g, beyond float64's range: give a variance between about 1e-300 and 1e300",
					l.what, l.law, n.Name, fi, fo, v)
			}
		}
	}
	return nil
}

// Predict computes the prediction for the net g under opt, walking its layers
// (arch.Graph.Layers) in topological order. It returns an error, never a
// panic, when the options do not fit the net.
func Predict(g *arch.Graph, opt Options) (*Prediction, error) {
	if err := opt.validate(g); err != nil {
		return nil, err
	}
	w := newWalker(g, opt)
	p := &Prediction{
		Net:       g.Source,
		Init:      opt.Init.Name,
		WeightLaw: opt.Init.Weight.String(),
		BiasLaw:   opt.Init.Bias.String(),
		M0:        num.Unknown,
		InputL4:   num.Number(w.l4),
		Depth:     g.ReLULayers(),
	}
	if p.Net == "" {
		p.Net = g.String()
	}
	if opt.M0 > 0 {
		p.M0 = num.Number(opt.M0)
	}
	for i, l := range g.Layers() {
		p.Layers = append(p.Layers, w.step(i, l))
	}
	p.Beta = w.beta
	p.DeadProbability = w.deadProbability()
	p.DeadBound, p.DeadNote = w.deadBound, deadNotes[w.deadBound]
	p.DeadExact = w.deadBound == BoundExact
	p.FM1 = w.fm1()
	p.FM2 = w.fm2()
	p.EmpiricalVariance = w.empiricalVariance()
	p.Jacobian = w.jacobian()
	return p, nil
}

// Exactness says in one word what is exact about the layer's prediction,
// as predict's table and the explorer write it: "all" (mean and log
// moments), "mean", "bounds" (bounds on the mean only) or "no".
func (l Layer) Exactness() string {
	switch {
	case l.MeanExact && l.Exact:
		return "all"
	case l.MeanExact:
		return "mean"
	case l.MeanFactorLower.Known():
		return "bounds"
	}
	return "no"
}
