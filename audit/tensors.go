package audit

import (
	"math"

	"github.com/initscope/initscope/num"
	"github.com/initscope/initscope/onnx/lower"
	"github.com/initscope/initscope/weightinit"
)

// TensorStat is the statistics of one floating-point tensor of the model
// and the law it matches.
type TensorStat struct {
	// Name is the tensor's name, Node and Module the node that reads it and
	// its PyTorch module path, Role what it is to that node (weight, bias,
	// scale, shift, running_mean, running_var, other).
	Name   string `json:"name"`
	Node   string `json:"node"`
	Module string `json:"module"`
	Role   string `json:"role"`
	// Shape is the tensor's shape; FanIn and FanOut its fans by PyTorch's
	// convention (a bias carries its layer's; 0 for other roles).
	Shape  []int `json:"shape"`
	FanIn  int   `json:"fan_in"`
	FanOut int   `json:"fan_out"`
	// N is the number of values, NonFinite how many are NaN or infinite
	// (left out of the statistics).
	N         int `json:"n"`
	NonFinite int `json:"non_finite"`
	// Mean and MeanSE are the empirical mean and its standard error, Std
	// the standard deviation.
	Mean   num.Number `json:"mean"`
	MeanSE num.Number `json:"mean_se"`
	Std    num.Number `json:"std"`
	// C is fan_in * Var(values) with its 95% confidence interval [CLow,
	// CHigh] (Unknown without a fan-in): 2 is He's, 1/3 PyTorch's default.
	C     num.Number `json:"c"`
	CLow  num.Number `json:"c_low"`
	CHigh num.Number `json:"c_high"`
	// Kurtosis is E[(w-mean)^4]/Var^2 with its standard error: 3 normal,
	// 1.8 uniform, 2.37 normal truncated at 2 sd.
	Kurtosis   num.Number `json:"kurtosis"`
	KurtosisSE num.Number `json:"kurtosis_se"`
	// Law is the family whose shape fits best (normal, uniform,
	// truncnormal, rademacher; zero or constant for a constant tensor), KS
	// its Kolmogorov-Smirnov distance and KSCritical the 5% critical value:
	// the fit is rejected when KS > KSCritical.
	Law        string     `json:"law"`
	KS         num.Number `json:"ks"`
	KSCritical num.Number `json:"ks_critical"`
	Fits       bool       `json:"fits"`
	// Preset is the initialization preset this weight tensor matches (its
	// law and c within the interval), "" if none.
	Preset string `json:"preset"`
}

// statOf computes the statistics of one tensor.
func statOf(t lower.Tensor) TensorStat {
	s := TensorStat{Name: t.Name, Node: t.Node, Module: ModulePath(t.Node), Role: t.Role, Shape: t.Shape,
		FanIn: t.FanIn, FanOut: t.FanOut, N: len(t.Values),
		C: num.Unknown, CLow: num.Unknown, CHigh: num.Unknown}
	if s.Shape == nil {
		s.Shape = []int{}
	}
	fanIn := max(t.FanIn, 1)
	f := weightinit.FitTensor(t.Values, fanIn, max(t.FanOut, 1))
	s.NonFinite = f.NonFinite
	s.Mean, s.MeanSE, s.Std = num.Number(f.Mean), num.Number(f.MeanSE), num.Number(math.Sqrt(f.Var))
	if t.FanIn > 0 {
		s.C, s.CLow, s.CHigh = num.Number(f.C), num.Number(f.CLow), num.Number(f.CHigh)
	}
	s.Kurtosis, s.KurtosisSE = num.Number(f.Kurtosis), num.Number(f.KurtosisSE)
	s.Law, s.KS, s.KSCritical = string(f.Family), num.Number(f.KS), num.Number(f.KSCritical)
	s.Fits = f.Constant || f.KS <= f.KSCritical
	if f.Constant && f.Mean != 0 {
		s.Law = "constant"
	}
	if t.Role == lower.RoleWeight && t.FanIn > 0 {
		s.Preset, _ = f.Preset(t.FanIn, t.FanOut)
	}
	return s
}
