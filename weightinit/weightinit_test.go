package weightinit

import (
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
	"gonum.org/v1/gonum/integrate/quad"
)

// TestTruncatedMomentsByQuadrature checks the closed forms of the truncated
// normal against numerical integration of the density.
func TestTruncatedMomentsByQuadrature(t *testing.T) {
	pdf := func(x float64) float64 { return math.Exp(-x*x/2) / math.Sqrt(2*math.Pi) }
	mass := quad.Fixed(pdf, -2, 2, 200, nil, 0)
	m2 := quad.Fixed(func(x float64) float64 { return x * x * pdf(x) }, -2, 2, 200, nil, 0) / mass
	m4 := quad.Fixed(func(x float64) float64 { return x * x * x * x * pdf(x) }, -2, 2, 200, nil, 0) / mass
	if !scalar.EqualWithinAbsOrRel(TruncatedVariance(), m2, 1e-12, 1e-12) {
		t.Errorf("truncated variance %v, quadrature %v", TruncatedVariance(), m2)
	}
	if !scalar.EqualWithinAbsOrRel(TruncatedVariance(), 0.7737413, 1e-7, 0) {
		t.Errorf("truncated variance %v, THEORY.md says 0.7737413", TruncatedVariance())
	}
	if !scalar.EqualWithinAbsOrRel(TruncNormal.Kurtosis(), m4/(m2*m2), 1e-10, 1e-10) {
		t.Errorf("truncated kurtosis %v, quadrature %v", TruncNormal.Kurtosis(), m4/(m2*m2))
	}
}

// TestSampleMoments draws from every family and checks the sample variance
// and fourth moment against the closed forms within 5 standard errors.
func TestSampleMoments(t *testing.T) {
	const n = 200000
	const v = 0.37
	for _, f := range []Family{Normal, Uniform, TruncNormal, TruncNormalCorrected, Rademacher} {
		r := NewStream(1, uint64(len(f)))
		s := f.NewSampler(v)
		var s1, s2, s4, s8 float64
		for i := 0; i < n; i++ {
			x := s.Rand(r)
			x2 := x * x
			s1 += x
			s2 += x2
			s4 += x2 * x2
			s8 += x2 * x2 * x2 * x2
		}
		wantVar := v * f.VarianceFactor()
		wantM4 := f.Kurtosis() * wantVar * wantVar
		mean, m2, m4 := s1/n, s2/n, s4/n
		seMean := math.Sqrt(wantVar / n)
		seM2 := math.Sqrt((wantM4 - wantVar*wantVar) / n)
		seM4 := math.Sqrt((s8/n - m4*m4) / n)
		if math.Abs(mean) > 5*seMean {
			t.Errorf("%s: mean %v, want 0 (se %v)", f, mean, seMean)
		}
		if math.Abs(m2-wantVar) > 5*seM2+1e-9*wantVar {
			t.Errorf("%s: variance %v, want %v (se %v)", f, m2, wantVar, seM2)
		}
		if math.Abs(m4-wantM4) > 5*seM4+1e-9*wantM4 {
			t.Errorf("%s: fourth moment %v, want %v (se %v)", f, m4, wantM4, seM4)
		}
	}
}

func TestSamplerSupport(t *testing.T) {
	r := NewStream(2, 2)
	u := Uniform.NewSampler(1.0 / 3) // U(-1, 1)
	tr := TruncNormal.NewSampler(4)  // sd 2, cut at 4
	rd := Rademacher.NewSampler(9)
	for i := 0; i < 10000; i++ {
		if x := u.Rand(r); x < -1 || x > 1 {
			t.Fatalf("uniform draw %v outside [-1, 1]", x)
		}
		if x := tr.Rand(r); x < -4 || x > 4 {
			t.Fatalf("truncated draw %v outside [-4, 4]", x)
		}
		if x := rd.Rand(r); x != 3 && x != -3 {
			t.Fatalf("rademacher draw %v, want +-3", x)
		}
	}
	if Zero.NewSampler(1).Rand(r) != 0 {
		t.Error("zero law drew a non-zero value")
	}
}

// TestPresetFactors checks each preset's FM1 factor c/2 against THEORY.md's table.
func TestPresetFactors(t *testing.T) {
	square := map[string]float64{
		"he-normal": 1, "he-uniform": 1, "he-truncated": 0.7737413, "he-truncated-corrected": 1,
		"he-rademacher": 1, "lecun-normal": 0.5, "lecun-uniform": 0.5, "glorot-normal": 0.5,
		"glorot-uniform": 0.5, "xavier2": 1, "pytorch-default": 1.0 / 6, "keras-default": 0.5,
	}
	for _, p := range Presets() {
		want, ok := square[p.Name]
		if !ok {
			t.Errorf("preset %s has no reference factor", p.Name)
			continue
		}
		if got := p.FM1Factor(256, 256); !scalar.EqualWithinAbsOrRel(got, want, 1e-7, 1e-7) {
			t.Errorf("%s: square-layer factor %v, want %v", p.Name, got, want)
		}
	}
	// Where widths change, Glorot gives fan_in/(fan_in+fan_out) and xavier2 twice that.
	g, _ := ParseInit("glorot-normal")
	x2, _ := ParseInit("xavier2")
	if got := g.FM1Factor(784, 100); !scalar.EqualWithinAbsOrRel(got, 784.0/884, 1e-12, 1e-12) {
		t.Errorf("glorot 784->100 factor %v, want %v", got, 784.0/884)
	}
	if got := x2.FM1Factor(100, 400); !scalar.EqualWithinAbsOrRel(got, 200.0/500, 1e-12, 1e-12) {
		t.Errorf("xavier2 100->400 factor %v, want %v", got, 0.4)
	}
	pt, _ := ParseInit("pytorch-default")
	if got := pt.Bias.Variance(300, 10); !scalar.EqualWithinAbsOrRel(got, 1.0/900, 1e-12, 1e-12) {
		t.Errorf("pytorch-default bias variance %v, want 1/(3*300)", got)
	}
}

func TestParseLaw(t *testing.T) {
	good := map[string]Law{
		"normal:2/fan_in":                 {Normal, Rule{2, FanIn}},
		"uniform:1/3/fan_in":              {Uniform, Rule{1.0 / 3, FanIn}},
		"truncnormal:1/fan_out":           {TruncNormal, Rule{1, FanOut}},
		"truncnormal-corrected:2/fan_avg": {TruncNormalCorrected, Rule{2, FanAvg}},
		"rademacher:0.01":                 {Rademacher, Rule{0.01, FanFixed}},
		"zero":                            {Family: Zero},
	}
	for s, want := range good {
		got, err := ParseLaw(s)
		if err != nil || got != want {
			t.Errorf("ParseLaw(%q) = %v, %v; want %v", s, got, err, want)
		}
		if err == nil && got.String() != s {
			again, err := ParseLaw(got.String())
			if err != nil || again != got {
				t.Errorf("ParseLaw(%q).String() = %q does not round-trip", s, got.String())
			}
		}
	}
	for _, bad := range []string{"normal", "normal:", "normal:-2/fan_in", "gauss:2/fan_in", "normal:2/fan_xx", "normal:1/0/fan_in", "uniform:NaN", "normal:Inf/fan_in", "zero:1"} {
		if _, err := ParseLaw(bad); err == nil {
			t.Errorf("ParseLaw(%q): no error", bad)
		}
	}
	if _, err := ParseInit("he_normal"); err == nil || !strings.Contains(err.Error(), "he-normal") {
		t.Errorf("unknown preset error %v should list the presets", err)
	}
	if _, err := ParseInit("zero"); err == nil {
		t.Error("an all-zero weight init should be rejected")
	}
}

func FuzzParseLaw(f *testing.F) {
	for _, s := range []string{"normal:2/fan_in", "uniform:1/3/fan_in", "zero", "rademacher:0.5", "he-normal"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLaw(s)
		if err != nil {
			return
		}
		v := l.Variance(3, 5)
		if math.IsNaN(v) || v < 0 {
			t.Fatalf("%q parsed to %v with variance %v", s, l, v)
		}
		if _, err := ParseInit(s); err != nil && l.Family != Zero {
			t.Fatalf("%q is a law but not an init: %v", s, err)
		}
	})
}
