package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/initscope/initscope/num"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/theory"
	"github.com/initscope/initscope/weightinit"
)

// report runs the probe and compares it with the theory.
func report(t testing.TB, net *arch.Graph, init weightinit.Init, x []float64, samples int, method Method, workers int) *Report {
	t.Helper()
	res, err := Run(context.Background(), Options{Net: net, Init: init, Input: x, Samples: samples, Seed: 1, Method: method, Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	p, err := theory.Predict(net, theory.Options{Init: init, M0: meanSquare(x)})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Compare(res, p)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// checkZ fails the test when a z-score is beyond 5.
func checkZ(t *testing.T, what string, z num.Number) {
	t.Helper()
	if z.Known() && math.Abs(float64(z)) > 5 {
		t.Errorf("%s: z = %.2f, beyond 5 SE of the theory", what, float64(z))
	}
}

// TestMeansMatchTheory checks the measured E[M_j]/M_0 of small nets
// against the exact theory (THEORY.md 2, 4, 5) within 5 SE, for the He,
// LeCun and Glorot laws, normal and uniform, and PyTorch's default with
// its uniform biases.
func TestMeansMatchTheory(t *testing.T) {
	nets := []string{"fc:48-32-24-40-10", "net:3x5x5,conv8k1,conv6k1:linear,flatten,dense7"}
	inits := []string{"he-normal", "he-uniform", "lecun-normal", "lecun-uniform", "glorot-normal", "glorot-uniform", "pytorch-default"}
	for _, spec := range nets {
		for _, name := range inits {
			net := mustNet(t, spec)
			rep := report(t, net, mustInit(t, name), testInput(net.Input().Size()), 3000, Network, 2)
			compared := 0
			for _, l := range rep.Layers {
				checkZ(t, spec+" "+name+" layer "+l.Theory.Spec, l.Z.MeanRatio)
				if l.Z.MeanRatio.Known() {
					compared++
				}
			}
			if compared < 3 {
				t.Errorf("%s %s: only %d layers had an exact mean to compare", spec, name, compared)
			}
		}
	}
}

// ksStatistic is the two-sample Kolmogorov-Smirnov distance.
func ksStatistic(a, b []float64) float64 {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	var d float64
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		v := min(a[i], b[j])
		for i < len(a) && a[i] == v {
			i++
		}
		for j < len(b) && b[j] == v {
			j++
		}
		d = max(d, math.Abs(float64(i)/float64(len(a))-float64(j)/float64(len(b))))
	}
	return d
}

// TestExactAgreesWithNetwork draws the same Gaussian fully connected net
// with both samplers: every layer's log-length and the Jacobian factor must
// agree in distribution (two-sample KS at level 1e-4 each), and the means,
// log moments and quantiles within 5 combined SE.
func TestExactAgreesWithNetwork(t *testing.T) {
	net, init := mustNet(t, "fc:24-16x5-8"), mustInit(t, "he-normal")
	const n = 4000
	opt := Options{Net: net, Init: init, Input: testInput(24), Samples: n, Seed: 5, Workers: 2}
	var rows [2][]float64
	var res [2]*Result
	for k, m := range []Method{Exact, Network} {
		opt.Method = m
		r, rw, layers, err := collect(context.Background(), opt)
		if err != nil {
			t.Fatal(err)
		}
		if r.Method != m {
			t.Fatalf("asked for %s, ran %s", m, r.Method)
		}
		r.summarize(layers, rw, len(layers)+1)
		rows[k], res[k] = rw, r
	}
	width := len(net.Layers()) + 1
	crit := math.Sqrt(-0.5*math.Log(1e-4/2)) * math.Sqrt(2.0/n)
	col := func(rw []float64, j int) []float64 { return column(rw, width, j) }
	for j := range width {
		if d := ksStatistic(col(rows[0], j), col(rows[1], j)); d > crit {
			t.Errorf("column %d: KS distance %.4f beyond %.4f", j, d, crit)
		}
	}
	sums := append(slices.Clone(res[0].Layers), res[0].Jacobian)
	sumsN := append(slices.Clone(res[1].Layers), res[1].Jacobian)
	for j := range sums {
		a, b := sums[j], sumsN[j]
		for _, c := range []struct {
			what       string
			x, y, s, u float64
		}{
			{"mean", a.Mean, b.Mean, a.MeanSE, b.MeanSE},
			{"log mean", a.LogMean, b.LogMean, a.LogMeanSE, b.LogMeanSE},
			{"log var", a.LogVar, b.LogVar, a.LogVarSE, b.LogVarSE},
		} {
			if z := (c.x - c.y) / math.Hypot(c.s, c.u); math.Abs(z) > 5 {
				t.Errorf("column %d %s: exact %v, network %v (z = %.1f)", j, c.what, c.x, c.y, z)
			}
		}
		for q, p := range QuantileLevels {
			se := quantileSE(append(col(rows[0], j), col(rows[1], j)...), p, n)
			if z := (a.LogQuantiles[q] - b.LogQuantiles[q]) / (math.Sqrt2 * se); math.Abs(z) > 5 {
				t.Errorf("column %d: %g quantile of ln: exact %v, network %v (z = %.1f)", j, p, a.LogQuantiles[q], b.LogQuantiles[q], z)
			}
		}
	}
}

// column returns column j of a table of rows.
func column(rows []float64, width, j int) []float64 {
	c := make([]float64, len(rows)/width)
	for i := range c {
		c[i] = rows[i*width+j]
	}
	return c
}

// quantileSE estimates the standard error of the p-quantile of n draws,
// sqrt(p(1-p)/n)/f(q), with the density f(q) from the spacing of the pooled
// sample between the levels p -+ 0.02.
func quantileSE(pooled []float64, p float64, n int) float64 {
	slices.Sort(pooled)
	at := func(level float64) float64 { return pooled[int(level*float64(len(pooled)-1))] }
	density := 0.04 / (at(p+0.02) - at(p-0.02))
	return math.Sqrt(p*(1-p)/float64(n)) / density
}

// TestExactMatchesTheoryTable checks the exact sampler against THEORY.md's
// reference values for width 16 (He, Gaussian): per ReLU layer
// E[ln R] = -0.176397 and Var[ln R] = 0.419593, conditioned on no dead
// layer, and the dead fraction 1 - (1 - 2^-16)^j.
func TestExactMatchesTheoryTable(t *testing.T) {
	net := mustNet(t, "net:50,dense16x8:relu")
	const n = 40000
	res, err := Run(context.Background(), Options{Net: net, Init: mustInit(t, "he-normal"), Input: testInput(50), Samples: n, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != Exact || res.Backend != "none" {
		t.Fatalf("auto ran %s (backend %s), want the exact sampler", res.Method, res.Backend)
	}
	for j, s := range res.Layers {
		k := float64(j + 1)
		if z := (s.LogMean - k*-0.176397) / s.LogMeanSE; math.Abs(z) > 5 {
			t.Errorf("layer %d: E[ln M/M0] %v, want %v (z = %.1f)", j+1, s.LogMean, k*-0.176397, z)
		}
		if z := (s.LogVar - k*0.419593) / s.LogVarSE; math.Abs(z) > 5 {
			t.Errorf("layer %d: Var[ln M/M0] %v, want %v (z = %.1f)", j+1, s.LogVar, k*0.419593, z)
		}
		p := -math.Expm1(k * math.Log1p(-math.Exp2(-16)))
		if z := (s.DeadFraction - p) / math.Sqrt(p*(1-p)/n); math.Abs(z) > 5 && s.DeadFraction*n > 1 {
			t.Errorf("layer %d: dead fraction %v, want %v", j+1, s.DeadFraction, p)
		}
	}
}

// TestUniformSecondMomentBelowGaussian checks THEORY.md 3.2 on the layer
// where the kurtosis term is largest, a ReLU layer of width n fed a one-hot
// input (||x||_4^4/||x||_2^4 = 1): E[R^2] = 1 + 5/n + 2 (kappa - 3)/n, so
// uniform weights (kappa 1.8) give less than Gaussian ones, by 2.4/n.
func TestUniformSecondMomentBelowGaussian(t *testing.T) {
	const width = 8
	net := mustNet(t, "net:4,dense8:relu")
	x := []float64{1, 0, 0, 0}
	got := map[weightinit.Family]Summary{}
	for _, name := range []string{"he-normal", "he-uniform", "he-rademacher"} {
		init := mustInit(t, name)
		res, err := Run(context.Background(), Options{Net: net, Init: init, Input: x, Samples: 40000, Seed: 4, Method: Network})
		if err != nil {
			t.Fatal(err)
		}
		s := res.Layers[0]
		kappa := init.Weight.Family.Kurtosis()
		want := 1 + 5.0/width + 2*(kappa-3)/width
		if z := (s.SecondMoment - want) / s.SecondMomentSE; math.Abs(z) > 5 {
			t.Errorf("%s: E[(M/M0)^2] %v, THEORY.md 3.2 says %v (z = %.1f)", name, s.SecondMoment, want, z)
		}
		got[init.Weight.Family] = s
	}
	g, u := got[weightinit.Normal], got[weightinit.Uniform]
	if z := (g.SecondMoment - u.SecondMoment) / math.Hypot(g.SecondMomentSE, u.SecondMomentSE); z < 5 {
		t.Errorf("uniform E[M^2] %v is not clearly below Gaussian %v (z = %.1f)", u.SecondMoment, g.SecondMoment, z)
	}
}

// TestResidualGrowth checks THEORY.md 5: with eta = 1 and a module ending
// linear, E[M_l] = M_0 (1 + g)^l exactly for any symmetric law (g = 2 for
// He: 3^l), dense and conv; with a module ending in a ReLU the mean lies
// within the theory's bounds.
func TestResidualGrowth(t *testing.T) {
	for _, c := range []struct{ spec, init string }{
		{"net:16,resdense16x4:eta=1:end=linear", "he-normal"},
		{"net:16,resdense16x4:eta=1:end=linear", "he-uniform"},
		{"net:4x5x5,resconv4k1x3:eta=1:end=linear", "he-normal"},
	} {
		net := mustNet(t, c.spec)
		rep := report(t, net, mustInit(t, c.init), testInput(net.Input().Size()), 4000, Network, 2)
		for _, l := range rep.Layers {
			if !l.Z.MeanRatio.Known() {
				t.Fatalf("%s %s layer %d: no exact mean to compare with", c.spec, c.init, l.Index)
			}
			if want := math.Pow(3, float64(l.Index)); math.Abs(float64(l.Theory.MeanRatio)-want) > 1e-9*want {
				t.Errorf("%s %s layer %d: theory %v, THEORY.md 5 says 3^l = %v", c.spec, c.init, l.Index, l.Theory.MeanRatio, want)
			}
			checkZ(t, c.spec+" "+c.init, l.Z.MeanRatio)
		}
	}
	net := mustNet(t, "net:32,dense32,resdense32x3:eta=0.5")
	rep := report(t, net, mustInit(t, "he-normal"), testInput(32), 4000, Network, 2)
	for _, l := range rep.Layers[1:] {
		if l.WithinBounds == nil || !*l.WithinBounds {
			t.Errorf("ReLU-ending block %d: E[M/M0] %v outside the bounds 10^[%v, %v]", l.Index, l.MeanRatio, l.Theory.Log10MeanRatioLower, l.Theory.Log10MeanRatioUpper)
		}
	}
}

// TestDeterministicAcrossWorkers checks that the same seed gives the same
// report, byte for byte, whatever the number of workers, for plain,
// residual (ResNet v1) and general graphs.
func TestDeterministicAcrossWorkers(t *testing.T) {
	for _, c := range []struct {
		name, init string
		net        *arch.Graph
		method     Method
	}{
		{mixedNet, "pytorch-default", mustNet(t, mixedNet), Network},
		{resNet, "he-uniform", mustNet(t, resNet), Network},
		{"dag", "glorot-normal", dagNet(t), Network},
		{"fc:30-20x4-5", "he-normal", mustNet(t, "fc:30-20x4-5"), Exact},
	} {
		net := c.net
		var first []byte
		for _, w := range []int{1, 2, 5} {
			rep := report(t, net, mustInit(t, c.init), testInput(net.Input().Size()), 300, c.method, w)
			b, err := json.Marshal(rep)
			if err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = b
			} else if !bytes.Equal(b, first) {
				t.Errorf("%s: %d workers give a different report than 1", c.name, w)
			}
		}
	}
}

// TestBadOptions checks that unusable options are refused with an
// *OptionError naming the option.
func TestBadOptions(t *testing.T) {
	fc := mustNet(t, "fc:10-5-2")
	he := mustInit(t, "he-normal")
	ok := Options{Net: fc, Init: he, Input: testInput(10), Samples: 10}
	for _, c := range []struct {
		option string
		edit   func(o *Options)
	}{
		{"samples", func(o *Options) { o.Samples = 0 }},
		{"samples", func(o *Options) { o.Samples = 1 }},
		{"samples", func(o *Options) { o.Samples = MaxValues }},
		{"workers", func(o *Options) { o.Workers = -1 }},
		{"input", func(o *Options) { o.Input = testInput(9) }},
		{"input", func(o *Options) { o.Input = make([]float64, 10) }},
		{"input", func(o *Options) { o.Input[3] = math.NaN() }},
		{"method", func(o *Options) { o.Method = "fast" }},
		{"method", func(o *Options) { o.Init = mustInit(t, "he-uniform"); o.Method = Exact }},
		{"method", func(o *Options) { o.Init.Bias = o.Init.Weight; o.Method = Exact }},
		{"method", func(o *Options) { o.Net = mustNet(t, gapNet); o.Input = testInput(192); o.Method = Exact }},
		{"method", func(o *Options) { o.Net = mustNet(t, "net:10,resdense10,dense2"); o.Method = Exact }},
		{"net", func(o *Options) { o.Net = nil }},
	} {
		o := ok
		o.Input = testInput(10)
		c.edit(&o)
		_, err := Run(context.Background(), o)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != c.option {
			t.Errorf("want an error about %s, got %v", c.option, err)
		}
	}
	if _, err := Run(context.Background(), ok); err != nil {
		t.Errorf("valid options refused: %v", err)
	}
}

// TestCancel checks that a cancelled context stops the run.
func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Options{Net: mustNet(t, "fc:10-5-2"), Init: mustInit(t, "he-normal"), Input: testInput(10), Samples: 100})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}
