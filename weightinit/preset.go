package weightinit

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Init is a complete initialization: a law for weights and one for biases.
type Init struct {
	// Name is the preset name, or the text the init was parsed from.
	Name string
	// Weight is the weight law.
	Weight Law
	// Bias is the bias law (Zero for none).
	Bias Law
	// About says where the preset comes from, for `initscope inits`.
	About string
}

// FM1Factor is the factor c_j/2 by which a ReLU layer multiplies the mean
// squared length E[M], for a layer with the given fans and zero biases.
func (in Init) FM1Factor(fanIn, fanOut int) float64 {
	return float64(fanIn) * in.Weight.Variance(fanIn, fanOut) / 2
}

var presets = map[string]Init{
	"he-normal": {Weight: Law{Normal, Rule{2, FanIn}}, Bias: Law{Family: Zero},
		About: "He et al. 2015; torch.nn.init.kaiming_normal_"},
	"he-uniform": {Weight: Law{Uniform, Rule{2, FanIn}}, Bias: Law{Family: Zero},
		About: "He et al. 2015; torch.nn.init.kaiming_uniform_"},
	"he-truncated": {Weight: Law{TruncNormal, Rule{2, FanIn}}, Bias: Law{Family: Zero},
		About: "Keras he_normal in 2018: normal cut at 2 sd, variance not corrected"},
	"he-truncated-corrected": {Weight: Law{TruncNormalCorrected, Rule{2, FanIn}}, Bias: Law{Family: Zero},
		About: "Keras he_normal since 2.2.3: cut at 2 sd, rescaled to 2/fan_in"},
	"he-rademacher": {Weight: Law{Rademacher, Rule{2, FanIn}}, Bias: Law{Family: Zero},
		About: "+-sqrt(2/fan_in): the smallest kurtosis at He variance"},
	"lecun-normal": {Weight: Law{Normal, Rule{1, FanIn}}, Bias: Law{Family: Zero},
		About: "LeCun et al. 1998; Keras lecun_normal (untruncated here)"},
	"lecun-uniform": {Weight: Law{Uniform, Rule{1, FanIn}}, Bias: Law{Family: Zero},
		About: "LeCun et al. 1998; Keras lecun_uniform"},
	"glorot-normal": {Weight: Law{Normal, Rule{1, FanAvg}}, Bias: Law{Family: Zero},
		About: "Glorot & Bengio 2010; torch.nn.init.xavier_normal_"},
	"glorot-uniform": {Weight: Law{Uniform, Rule{1, FanAvg}}, Bias: Law{Family: Zero},
		About: "Glorot & Bengio 2010; torch.nn.init.xavier_uniform_"},
	"xavier2": {Weight: Law{Normal, Rule{2, FanAvg}}, Bias: Law{Family: Zero},
		About: "twice Glorot's variance, 4/(fan_in+fan_out)"},
	"pytorch-default": {Weight: Law{Uniform, Rule{1.0 / 3, FanIn}}, Bias: Law{Uniform, Rule{1.0 / 3, FanIn}},
		About: "torch.nn.Linear/Conv2d default: U(+-1/sqrt(fan_in)) weights and biases"},
	"keras-default": {Weight: Law{Uniform, Rule{1, FanAvg}}, Bias: Law{Family: Zero},
		About: "Keras Dense/Conv2D default: glorot_uniform weights, zero biases"},
}

// Presets returns the named presets, sorted by name.
func Presets() []Init {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Init, len(names))
	for i, n := range names {
		out[i] = presets[n]
		out[i].Name = n
	}
	return out
}

// ParseInit reads a preset name or a weight law in ParseLaw's syntax (then the
// biases are zero).
func ParseInit(s string) (Init, error) {
	s = strings.TrimSpace(s)
	if p, ok := presets[s]; ok {
		p.Name = s
		return p, nil
	}
	if !strings.Contains(s, ":") {
		names := make([]string, 0, len(presets))
		for _, p := range Presets() {
			names = append(names, p.Name)
		}
		return Init{}, fmt.Errorf("%q: not a preset (%s) nor a law FAMILY:VARIANCE such as normal:2/fan_in", s, strings.Join(names, ", "))
	}
	w, err := ParseLaw(s)
	if err != nil {
		return Init{}, err
	}
	if w.Family == Zero {
		return Init{}, fmt.Errorf("%q: all-zero weights make every ReLU unit identical; give a non-zero law", s)
	}
	return Init{Name: s, Weight: w, Bias: Law{Family: Zero}}, nil
}

// ParseLaw reads FAMILY:VARIANCE or zero, where FAMILY is one of Families
// and VARIANCE is C/fan_in, C/fan_out, C/fan_avg (variance 2C/(fan_in+fan_out))
// or a plain C for a fixed variance. C is a number or a fraction P/Q, e.g.
// uniform:1/3/fan_in is PyTorch's U(+-1/sqrt(fan_in)).
func ParseLaw(s string) (Law, error) {
	s = strings.TrimSpace(s)
	if s == string(Zero) || s == "none" {
		return Law{Family: Zero}, nil
	}
	fam, v, ok := strings.Cut(s, ":")
	f := Family(fam)
	if !ok || !f.Valid() || f == Zero {
		return Law{}, fmt.Errorf("law %q: want FAMILY:VARIANCE with FAMILY one of normal, uniform, truncnormal, truncnormal-corrected, rademacher (or zero)", s)
	}
	r, err := parseRule(v)
	if err != nil {
		return Law{}, fmt.Errorf("law %q: %v", s, err)
	}
	return Law{Family: f, Rule: r}, nil
}

func parseRule(v string) (Rule, error) {
	r := Rule{Fan: FanFixed}
	c := v
	for _, f := range []Fan{FanIn, FanOut, FanAvg} {
		if strings.HasSuffix(v, "/"+string(f)) {
			r.Fan, c = f, strings.TrimSuffix(v, "/"+string(f))
		}
	}
	num, den, frac := strings.Cut(c, "/")
	p, err := strconv.ParseFloat(num, 64)
	q := 1.0
	if err == nil && frac {
		q, err = strconv.ParseFloat(den, 64)
	}
	r.C = p / q
	if err != nil || math.IsNaN(r.C) || math.IsInf(r.C, 0) || r.C < 0 || q <= 0 {
		return Rule{}, fmt.Errorf("variance %q: want C/fan_in, C/fan_out, C/fan_avg or C, with C a number or fraction >= 0 (e.g. 2/fan_in, 1/3/fan_in, 0.01)", v)
	}
	return r, nil
}
