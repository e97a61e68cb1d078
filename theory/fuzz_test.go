package theory

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/num"
	"github.com/initscope/initscope/weightinit"
)

// byteSource turns the fuzzer's bytes into choices; when they run out
// every choice is the first.
type byteSource struct{ b []byte }

// intn returns a choice in [0, n).
func (s *byteSource) intn(n int) int {
	if len(s.b) == 0 || n <= 1 {
		return 0
	}
	v := int(s.b[0])
	s.b = s.b[1:]
	if n > 256 && len(s.b) > 0 {
		v = v<<8 | int(s.b[0])
		s.b = s.b[1:]
	}
	return v % n
}

// pick returns one of the options.
func pick[T any](s *byteSource, options ...T) T { return options[s.intn(len(options))] }

// netGen writes a random valid spec in the compact grammar, item by item,
// tracking the stream's shape so that every item fits.
type netGen struct {
	src     *byteSource
	spatial bool
	c, h, w int
	items   []string
	// budget is the number of layers and blocks still to draw: it keeps
	// one prediction to milliseconds, so that the fuzzer runs fast.
	budget int
}

// randomSpec returns a valid net: dense, conv, pooling, gap, flatten and
// residual items with every option, including eta schedules up to
// arch.MaxEta and down to 0.
func randomSpec(src *byteSource) string {
	g := &netGen{src: src, budget: 150}
	if src.intn(2) == 0 {
		g.c, g.h, g.w = 1+src.intn(300), 1, 1
		g.items = []string{strconv.Itoa(g.c)}
	} else {
		g.spatial, g.c, g.h, g.w = true, 1+src.intn(4), 1+src.intn(12), 1+src.intn(12)
		g.items = []string{fmt.Sprintf("%dx%dx%d", g.c, g.h, g.w)}
	}
	for n := 1 + src.intn(6); n > 0; n-- {
		if g.spatial {
			g.spatialItem()
		} else {
			g.flatItem()
		}
	}
	if len(g.items) == 1 { // every item drawn was left out
		g.items = append(g.items, "flatten")
	}
	return "net:" + strings.Join(g.items, ",")
}

// repeat returns a repeat count of at most most, and spends it.
func (g *netGen) repeat(most int) int {
	k := max(1, min(most, g.budget, pick(g.src, 1, 1, 1, 2, 3, 7, 40, 150)))
	g.budget -= k
	return k
}

// suffix writes a repeat count as an item's xK ("" for 1).
func suffix(k int) string {
	if k == 1 {
		return ""
	}
	return fmt.Sprintf("x%d", k)
}

func (g *netGen) flatItem() {
	switch g.src.intn(4) {
	case 0, 1:
		width := 1 + g.src.intn(200)
		g.items = append(g.items, fmt.Sprintf("dense%d%s%s", width, suffix(g.repeat(50)), pick(g.src, "", ":relu", ":linear")))
		g.c = width
	case 2:
		g.items = append(g.items, "flatten")
	default:
		width, proj := "", g.src.intn(3) == 0
		if proj {
			g.c = 1 + g.src.intn(200)
			width = strconv.Itoa(g.c)
		}
		blocks := g.repeat(600)
		g.items = append(g.items, "resdense"+width+suffix(blocks)+g.residualOptions(blocks, proj))
	}
}

func (g *netGen) spatialItem() {
	switch g.src.intn(7) {
	case 0, 1:
		ch, k, s := 1+g.src.intn(6), 1+g.src.intn(5), 1+g.src.intn(3)
		p := g.src.intn(k)
		// As many copies as fit, up to the count drawn.
		copies, fit, h, w := g.repeat(5), 0, g.h, g.w
		for ; fit < copies && h+2*p >= k && w+2*p >= k; fit++ {
			h, w = (h+2*p-k)/s+1, (w+2*p-k)/s+1
		}
		if fit == 0 {
			return
		}
		g.c, g.h, g.w = ch, h, w
		g.items = append(g.items, fmt.Sprintf("conv%dk%ds%dp%d%s%s", ch, k, s, p, suffix(fit), pick(g.src, "", ":relu", ":linear")))
	case 2:
		k := 1 + g.src.intn(min(g.h, g.w, 4))
		s := 1 + g.src.intn(3)
		g.h, g.w = (g.h-k)/s+1, (g.w-k)/s+1
		g.items = append(g.items, fmt.Sprintf("%s%ds%d", pick(g.src, "maxpool", "avgpool"), k, s))
	case 3:
		g.items = append(g.items, "gap")
		g.spatial, g.h, g.w = false, 1, 1
	case 4:
		g.items = append(g.items, "flatten")
		g.spatial, g.c, g.h, g.w = false, g.c*g.h*g.w, 1, 1
	default:
		k, proj := pick(g.src, 1, 3, 5), g.src.intn(3) == 0
		head := fmt.Sprintf("resconvk%d", k)
		s := 1
		if proj {
			g.c, s = 1+g.src.intn(6), 1+g.src.intn(2)
			head = fmt.Sprintf("resconv%dk%ds%d", g.c, k, s)
		}
		blocks := g.repeat(40)
		for range blocks {
			g.h, g.w = (g.h-1)/s+1, (g.w-1)/s+1
		}
		g.items = append(g.items, head+suffix(blocks)+g.residualOptions(blocks, proj))
	}
}

// residualOptions returns a residual item's options for a group of blocks.
func (g *netGen) residualOptions(blocks int, proj bool) string {
	var o strings.Builder
	if eta := g.schedule(blocks); eta != "" {
		o.WriteString(":eta=" + eta)
	}
	o.WriteString(pick(g.src, "", ":end=relu", ":end=linear"))
	if proj {
		o.WriteString(":shortcut=proj")
	} else {
		o.WriteString(pick(g.src, "", ":shortcut=identity"))
	}
	o.WriteString(pick(g.src, "", ":post=none", ":post=relu"))
	return o.String()
}

// etaValues are constants for schedules, extremes included.
var etaValues = []float64{0, 5e-324, 1e-300, 0.3, 1, 2.5, 1e10, 1e80, arch.MaxEta}

// schedule returns an eta schedule whose every term lies in [0, MaxEta].
func (g *netGen) schedule(blocks int) string {
	c := arch.FormatEta(pick(g.src, etaValues...))
	switch g.src.intn(6) {
	case 0:
		return ""
	case 1:
		b := pick(g.src, 1e-5, 0.5, 0.9, 1, 1.01, 1.5, 10)
		if math.Pow(b, float64(blocks)) > arch.MaxEta {
			b = 1
		}
		return arch.FormatEta(b) + "^l"
	case 2:
		return c + "/l"
	case 3:
		return c + "/L"
	case 4:
		if blocks <= 10 {
			etas := make([]string, blocks)
			for i := range etas {
				etas[i] = arch.FormatEta(pick(g.src, etaValues...))
			}
			return "[" + strings.Join(etas, ";") + "]"
		}
	}
	return c
}

// fuzzInits are the weight and bias laws FuzzPredict tries on every net,
// extremes float64 holds included.
var fuzzInits = [][2]string{
	{"normal:2/fan_in", "zero"},
	{"uniform:1/3/fan_in", "uniform:1/3/fan_in"},
	{"rademacher:2/fan_in", "zero"},
	{"rademacher:2/fan_in", "rademacher:0.5"},
	{"truncnormal:1/fan_avg", "normal:1e-300"},
	{"normal:1e300", "normal:1e300"},
	{"normal:1e-300/fan_in", "zero"},
	{"uniform:4/fan_out", "normal:1e10"},
}

// FuzzPredict builds random valid nets from the fuzzer's bytes, checks that
// their String parses back to the same net, and predicts each under laws
// from He to extremes, with M0 from 1e-300 to 1e300: no panic, no error,
// JSON that encodes (no NaN or Inf outside nulls, none in any text), a
// finite log10 companion for every value that is known or overflows, a
// finite FM2 statistic, valid verdicts and a dead-layer probability in
// [0, 1].
func FuzzPredict(f *testing.F) {
	for _, s := range []string{
		"", "\x00", "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a",
		"\x00\x10\x05\x03\x07\x07\x01\x06\x04\x01\x02",
		"\x01\x02\x05\x06\x03\x02\x00\x01\x05\x05\x01\x02\x02\x01\x00\x05\x06\x05\x04",
		"\x00\x40\x03\x03\x03\x06\x07\x01\x01\x01\x02\x03\x03\x06\x08\x02\x01",
		"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4\xf3\xf2\xf1\xf0",
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, opts uint8) {
		spec := randomSpec(&byteSource{data})
		g, err := arch.Parse(spec)
		if err != nil {
			t.Fatalf("generated spec %q: %v", spec, err)
		}
		text := g.String()
		again, err := arch.Parse(text)
		if err != nil {
			t.Fatalf("%s: String %q does not parse: %v", spec, text, err)
		}
		if again.Describe() != g.Describe() {
			t.Fatalf("%s: String %q parses to another net:\n%s\nwant\n%s", spec, text, again.Describe(), g.Describe())
		}
		m0 := []float64{0, 1, 1e-300, 1e300}[opts%4]
		l4 := []float64{0, 1, 1e-6}[opts/4%3]
		for _, laws := range fuzzInits {
			w, _ := weightinit.ParseLaw(laws[0])
			b, _ := weightinit.ParseLaw(laws[1])
			opt := Options{Init: weightinit.Init{Name: laws[0], Weight: w, Bias: b}, M0: m0, InputL4: l4}
			if !b.IsZero() && m0 == 0 {
				opt.M0 = 1
			}
			p, err := Predict(g, opt)
			if err != nil {
				t.Fatalf("%s under %v: %v", spec, laws, err)
			}
			checkPrediction(t, fmt.Sprintf("%s under %v, M0 %g", spec, laws, opt.M0), p)
		}
	})
}

// checkPrediction checks the invariants FuzzPredict promises.
func checkPrediction(t *testing.T, what string, p *Prediction) {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatalf("%s: JSON: %v", what, err)
	}
	if s := string(b); strings.Contains(s, "NaN") || strings.Contains(s, "Inf") {
		t.Errorf("%s: the JSON holds NaN or Inf: %s", what, s)
	}
	pairs := map[string][2]num.Number{
		"fm1 product": {p.FM1.Product, p.FM1.Log10Product}, "fm1 mean ratio": {p.FM1.MeanRatio, p.FM1.Log10MeanRatio},
		"empirical variance": {p.EmpiricalVariance.Relative, p.EmpiricalVariance.Log10Relative},
		"jacobian E[Z^2]":    {p.Jacobian.MeanSquare, p.Jacobian.Log10MeanSquare}, "jacobian E[Z^4]": {p.Jacobian.FourthMoment, p.Jacobian.Log10Fourth},
	}
	bounds := map[string][2]num.Number{"fm1 product": {p.FM1.Log10ProductLower, p.FM1.Log10ProductUpper}}
	for _, l := range p.Layers {
		pairs[fmt.Sprintf("layer %d mean ratio", l.Index)] = [2]num.Number{l.MeanRatio, l.Log10MeanRatio}
		pairs[fmt.Sprintf("layer %d second moment", l.Index)] = [2]num.Number{l.SecondMomentRatio, l.Log10SecondMomentRatio}
		bounds[fmt.Sprintf("layer %d mean ratio", l.Index)] = [2]num.Number{l.Log10MeanRatioLower, l.Log10MeanRatioUpper}
		if s := float64(l.LogVarStep); math.IsInf(s, 0) || s < -1e-9 {
			t.Errorf("%s: layer %d: log_var_step %v", what, l.Index, s)
		}
	}
	for name, pr := range pairs {
		v, l10 := float64(pr[0]), float64(pr[1])
		switch {
		case math.IsNaN(v) != math.IsNaN(l10):
			t.Errorf("%s: %s: value %v with log10 %v", what, name, v, l10)
		case math.IsNaN(v):
		case math.IsInf(l10, 1), math.IsInf(l10, -1) && v != 0:
			// -Inf is the log10 of an exact 0 only; a value that
			// underflows to 0 keeps a finite log10.
			t.Errorf("%s: %s: value %v with log10 %v: the log10 must be finite", what, name, v, l10)
		}
	}
	for name, pr := range bounds {
		lo, hi := float64(pr[0]), float64(pr[1])
		if math.IsNaN(lo) != math.IsNaN(hi) || math.IsInf(hi, 0) || math.IsInf(lo, 1) || lo > hi {
			t.Errorf("%s: %s: log10 bounds [%v, %v]", what, name, lo, hi)
		}
	}
	if p.FM1.Log10Product.Known() == p.FM1.Log10ProductUpper.Known() {
		t.Errorf("%s: FM1 has log10 P %v and upper bound %v: want exactly one", what, p.FM1.Log10Product, p.FM1.Log10ProductUpper)
	}
	if v := float64(p.FM2.LogVar); math.IsNaN(v) || math.IsInf(v, 0) || v < -1e-9 {
		t.Errorf("%s: FM2 statistic %v", what, v)
	}
	if d := float64(p.DeadProbability); !(d >= 0 && d <= 1) || deadNotes[p.DeadBound] == "" && p.DeadBound != BoundExact {
		t.Errorf("%s: P(dead) %v (%q)", what, d, p.DeadBound)
	}
	valid := map[string]bool{OK: true, Vanishing: true, Exploding: true, Warning: true, Failing: true}
	if !valid[p.FM1.Verdict] || !valid[p.FM2.Verdict] {
		t.Errorf("%s: verdicts %q, %q", what, p.FM1.Verdict, p.FM2.Verdict)
	}
}
