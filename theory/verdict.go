package theory

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/initscope/initscope/num"

	"github.com/initscope/initscope/weightinit"
)

// FM1Log10Threshold is the FM1 threshold: the verdict is ok when the signal
// gain P lies within 10^-2 <= P <= 10^2, vanishing below and exploding above.
//
// P is in squared length, so the band is a factor of 10 either way in the
// RMS activation. A constant rescaling of that size is what an ordinary
// choice of learning rate absorbs; beyond it the first steps are spent undoing
// the scale, and since FM1 compounds exponentially with depth a net that is
// off by more than 10x in RMS is usually off by far more a few layers deeper
// (LeCun's 1/fan_in crosses the line at 7 ReLU layers, PyTorch's default at 3,
// He's truncated normal at 18). A He-initialized net with a He-initialized
// linear output layer has P = 2, well inside.
const FM1Log10Threshold = 2

// FM2 thresholds on the fluctuation statistic V, the variance of ln M summed
// over the ReLU layers (and residual blocks): ok below FM2OKBelow, warning up
// to FM2FailingFrom, failing from there.
//
// sqrt(V) is the typical spread of ln M_d: V < 1 keeps the output length
// within a factor e (2.7) of its median for most initializations and inputs;
// V = 4 means a factor e^2 = 7.4, where inputs differ in output scale by
// orders of magnitude and the gradient of some of them dominates. For
// Gaussian weights V ~ 5 beta, so ok means beta < 0.2 and failing beta > 0.8
// (for example 100 layers need width ~500 to be ok and fail below ~125).
const (
	FM2OKBelow     = 1.0
	FM2FailingFrom = 4.0
)

// FM1 is the verdict on the mean length (THEORY 2). It is decided on the
// signal gain P, the product of the layers' zero-bias gains: the factor by
// which E[M] carries the input's own contribution through the net. Biases add
// an input-independent floor to E[M_d] (MeanRatio includes it) that can hide
// a vanished signal, so they do not count towards the verdict.
type FM1 struct {
	// Verdict is ok, vanishing or exploding.
	Verdict string `json:"verdict"`
	// Certain is false when P has bounds that straddle a threshold or some
	// layers (pooling, normalization, unrecognized parts) have no
	// closed-form gain and are left out.
	Certain bool `json:"certain"`
	// Product is P and Log10Product its log10; where P has bounds (residual
	// modules ending in a ReLU) Product and Log10Product are Unknown and the
	// bounds are in Log10ProductLower and Log10ProductUpper.
	Product           num.Number `json:"product"`
	Log10Product      num.Number `json:"log10_product"`
	Log10ProductLower num.Number `json:"log10_product_lower"`
	Log10ProductUpper num.Number `json:"log10_product_upper"`
	// Exact says whether P is exact.
	Exact bool `json:"exact"`
	// UnknownLayers counts the layers left out of P.
	UnknownLayers int `json:"unknown_layers"`
	// MeanRatio is E[M_d]/M_0 with biases, as in the last layer's entry.
	MeanRatio      num.Number `json:"mean_ratio"`
	Log10MeanRatio num.Number `json:"log10_mean_ratio"`
	// Log10Threshold is FM1Log10Threshold.
	Log10Threshold float64 `json:"log10_threshold"`
	// Summary says the above in one sentence.
	Summary string `json:"summary"`
	// Advice says what to change when the verdict is not ok.
	Advice Advice `json:"advice"`
}

// FM2 is the verdict on the fluctuations (THEORY 3-5), decided on the
// statistic V: the sum of Var[ln R_j] over the ReLU layers, plus for each
// residual block ln(E[R^2]/E[R]^2) of its ratio (the largest over the
// admissible stream shapes when the module ends in a ReLU: a bound). Linear
// layers are left out: the logits' chi^2 spread does not grow with depth.
type FM2 struct {
	// Verdict is ok, warning or failing.
	Verdict string `json:"verdict"`
	// LogVar is V. It is exact for Gaussian weights with zero biases in
	// dense nets whose residual blocks, if any, have a linear-ending module
	// or a projection shortcut (and no ReLU after a nonnegative module end).
	// Blocks without a law for their fluctuations are left out and counted
	// in UnknownLayers.
	LogVar num.Number `json:"log_var"`
	// LogVarTotal is Var[ln M_d] over all layers, linear ones included,
	// when known (see the last layer's LogVar).
	LogVarTotal num.Number `json:"log_var_total"`
	// Beta is the sum of 1/width over the ReLU layers; FiveBeta = 5 beta is
	// the familiar approximation of V for plain Gaussian nets.
	Beta     float64 `json:"beta"`
	FiveBeta float64 `json:"five_beta"`
	// Exact says V is exact, or an exact upper bound when UpperBound (biases
	// with Gaussian laws); UpperBound that it bounds the fluctuations from
	// above (biases, conv layers, modules ending in a ReLU on an identity
	// skip).
	Exact      bool `json:"exact"`
	UpperBound bool `json:"upper_bound"`
	// Terms counts the layers and blocks that V sums over; UnknownLayers
	// those left out.
	Terms         int `json:"terms"`
	UnknownLayers int `json:"unknown_layers"`
	// OKBelow and FailingFrom are the thresholds.
	OKBelow     float64 `json:"ok_below"`
	FailingFrom float64 `json:"failing_from"`
	// Summary says the above in one sentence.
	Summary string `json:"summary"`
	// Advice says what to change when the verdict is not ok.
	Advice Advice `json:"advice"`
}

// Advice is what to change, in words and in numbers. Every number is
// computed from the laws for this net, none is canned.
type Advice struct {
	// Text is the advice in plain words, one item per change.
	Text []string `json:"text"`
	// WeightVariance is the variance rule that fixes FM1 ("2/fan_in") and
	// Preset a preset with it; C is the current c = fan_in Var(W) (geometric
	// mean over the ReLU layers).
	WeightVariance string     `json:"weight_variance,omitempty"`
	Preset         string     `json:"preset,omitempty"`
	C              num.Number `json:"c"`
	// Width is the constant width that makes FM2 ok at this depth, and
	// MaxDepth the depth that is ok at the net's narrowest width.
	Width    int `json:"width,omitempty"`
	MaxDepth int `json:"max_depth,omitempty"`
	// EtaGeometric (b^l) and EtaOverL (c/L) are residual schedules that
	// make both FM1 and FM2 ok.
	EtaGeometric string `json:"eta_geometric,omitempty"`
	EtaOverL     string `json:"eta_over_l,omitempty"`
}

// evaluation is the FM1 gain and the FM2 statistic of the net, possibly with
// other residual scales or He weights.
type evaluation struct {
	gain interval // ln P
	fm2  float64  // V
}

// evaluate returns the gain and V with every residual block's eta given by
// eta (nil: as built) and, if he, c = 2 in every layer (coverage kept).
func (w *walker) evaluate(eta func(bl block) float64, he bool) evaluation {
	e := evaluation{gain: point(w.plainGain), fm2: w.plainFM2}
	if he {
		e.gain = point(w.plainGainHe)
	}
	for _, bl := range w.blocks {
		if eta != nil {
			bl.eta = eta(bl)
		}
		if he {
			bl = bl.withHe()
		}
		g := bl.gain()
		e.gain = interval{e.gain.lo + g.lo, e.gain.hi + g.hi}
		if step, _, _ := bl.fluctuation(); !math.IsNaN(step) && !math.IsInf(step, 0) {
			e.fm2 += step
		}
	}
	return e
}

// fm1Verdict classifies ln P.
func fm1Verdict(g interval) (verdict string, certain bool) {
	t := FM1Log10Threshold * math.Ln10
	switch {
	case g.hi < -t:
		return Vanishing, true
	case g.lo > t:
		return Exploding, true
	case g.lo >= -t && g.hi <= t:
		return OK, true
	case g.hi > t:
		return Exploding, false
	}
	return Vanishing, false
}

// fm2Verdict classifies V.
func fm2Verdict(v float64) string {
	switch {
	case v < FM2OKBelow:
		return OK
	case v < FM2FailingFrom:
		return Warning
	}
	return Failing
}

func (w *walker) fm1() FM1 {
	e := w.evaluate(nil, false)
	f := FM1{
		Exact: w.gainExact && e.gain.isPoint(), UnknownLayers: w.noGain.total(),
		Product: num.Unknown, Log10Product: num.Unknown, Log10ProductLower: num.Unknown, Log10ProductUpper: num.Unknown,
		Log10Threshold: FM1Log10Threshold,
	}
	f.Verdict, f.Certain = fm1Verdict(e.gain)
	f.Certain = f.Certain && w.noGain.total() == 0
	if e.gain.isPoint() {
		f.Product, f.Log10Product = num.FromLn(e.gain.lo)
		f.Summary = fmt.Sprintf("the input's signal in E[M] is multiplied by %s over the net", sci(e.gain.lo))
	} else {
		_, f.Log10ProductLower = num.FromLn(e.gain.lo)
		_, f.Log10ProductUpper = num.FromLn(e.gain.hi)
		f.Summary = fmt.Sprintf("the input's signal in E[M] is multiplied by between %s and %s over the net", sci(e.gain.lo), sci(e.gain.hi))
	}
	if w.mean.known() && w.mean.isPoint() {
		f.MeanRatio, f.Log10MeanRatio = num.FromLn(w.mean.lo)
	} else {
		f.MeanRatio, f.Log10MeanRatio = num.Unknown, num.Unknown
	}
	f.Summary += fmt.Sprintf(": %s (ok within 10^%d either way)", f.Verdict, FM1Log10Threshold)
	if w.noGain.total() > 0 {
		f.Summary += fmt.Sprintf("; %s left out, measure with probe", w.noGain)
	}
	f.Advice = w.fm1Advice(f.Verdict)
	return f
}

func (w *walker) fm1Advice(verdict string) Advice {
	a := Advice{C: num.Unknown, Text: []string{}}
	lnC := w.cLogSum / float64(w.cCount)
	if w.cCount > 0 {
		a.C = num.Number(math.Exp(lnC))
	}
	if verdict == OK {
		return a
	}
	he := false
	if w.cMaxDev > 0.01 {
		he = true
		a.WeightVariance, a.Preset = "2/fan_in", hePreset(w.opt.Init.Weight.Family)
		after := w.evaluate(nil, true)
		now := ""
		if w.cCount > 0 {
			now = fmt.Sprintf(": the layers have c = fan_in*Var(W) = %s, so each ReLU layer multiplies E[M] by c/2 = %s instead of 1",
				short(lnC), short(lnC-math.Ln2))
		}
		a.Text = append(a.Text, fmt.Sprintf("use weight variance 2/fan_in (preset %s)%s; with c = 2 the product becomes %s",
			a.Preset, now, describeGain(after.gain)))
		if v, _ := fm1Verdict(after.gain); v == OK {
			return a
		}
	}
	w.scheduleAdvice(&a, he)
	if len(a.Text) == 0 {
		a.Text = append(a.Text, "no change of the weight variance or of residual scales found that brings the product within range")
	}
	return a
}

// scheduleAdvice adds residual schedules that make FM1 and FM2 ok, if the net
// has residual blocks and such schedules exist.
func (w *walker) scheduleAdvice(a *Advice, he bool) {
	if len(w.blocks) == 0 {
		return
	}
	r, done := w.scheduleCache[he]
	if !done {
		r = w.findSchedules(he)
		if w.scheduleCache == nil {
			w.scheduleCache = map[bool]schedules{}
		}
		w.scheduleCache[he] = r
	}
	a.EtaGeometric, a.EtaOverL = r.geometric, r.overL
	if r.text != "" {
		a.Text = append(a.Text, r.text)
	}
}

// schedules are the residual schedules the advice proposes, in the syntax of
// arch.ParseSchedule ("" when none of that form works), and the advice text.
type schedules struct{ geometric, overL, text string }

// findSchedules searches the largest b of eta_l = b^l and c of eta = c/L
// that keep both FM1 and FM2 ok (with c = 2 everywhere if he).
func (w *walker) findSchedules(he bool) schedules {
	ok := func(eta func(bl block) float64) bool {
		e := w.evaluate(eta, he)
		v, _ := fm1Verdict(e.gain)
		return v == OK && e.fm2 < FM2OKBelow
	}
	geo := func(b float64) func(bl block) float64 {
		return func(bl block) float64 { return math.Pow(b, float64(bl.index)) }
	}
	overL := func(c float64) func(bl block) float64 {
		return func(bl block) float64 { return c / float64(bl.count) }
	}
	maxL := 1
	for _, bl := range w.blocks {
		maxL = max(maxL, bl.count)
	}
	var r schedules
	var parts []string
	if b, found := largest(func(b float64) bool { return ok(geo(b)) }, 1); found {
		e := w.evaluate(geo(b), he)
		r.geometric = formatG(b) + "^l"
		parts = append(parts, fmt.Sprintf("eta = %s (product %s, FM2 statistic %.3g)", r.geometric, describeGain(e.gain), e.fm2))
	}
	if c, found := largest(func(c float64) bool { return ok(overL(c)) }, float64(maxL)); found {
		e := w.evaluate(overL(c), he)
		r.overL = formatG(c) + "/L"
		parts = append(parts, fmt.Sprintf("eta = %s (product %s, FM2 statistic %.3g)", r.overL, describeGain(e.gain), e.fm2))
	}
	if len(parts) > 0 {
		r.text = "scale the residual branches down: the largest schedules of two common forms that keep both FM1 and FM2 ok are " + strings.Join(parts, " or ")
	}
	return r
}

// largest returns the largest x in [0, hi], rounded down to 3 significant
// digits, with ok(x) true, assuming ok holds below some point and fails
// above it; found is false when ok fails already at the smallest x tried or
// holds at hi (no change needed).
func largest(ok func(float64) bool, hi float64) (x float64, found bool) {
	lo := hi * 1e-6
	if ok(hi) || !ok(lo) {
		return 0, false
	}
	for i := 0; i < 32; i++ { // 2^-32 of the range: below the 3 digits kept
		mid := (lo + hi) / 2
		if ok(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	r := roundDown3(lo)
	if r <= 0 || !ok(r) {
		r = lo
	}
	return r, true
}

// roundDown3 rounds x > 0 down to 3 significant digits.
func roundDown3(x float64) float64 {
	p := math.Pow(10, 2-math.Floor(math.Log10(x)))
	return math.Floor(x*p) / p
}

func formatG(x float64) string { return strconv.FormatFloat(x, 'g', 3, 64) }

// hePreset names the preset with variance 2/fan_in in the same family.
func hePreset(f weightinit.Family) string {
	switch f {
	case weightinit.Uniform:
		return "he-uniform"
	case weightinit.TruncNormal, weightinit.TruncNormalCorrected:
		return "he-truncated-corrected"
	case weightinit.Rademacher:
		return "he-rademacher"
	}
	return "he-normal"
}

func (w *walker) fm2() FM2 {
	e := w.evaluate(nil, false)
	f := FM2{
		LogVar: num.Number(e.fm2), LogVarTotal: num.Unknown, Beta: w.beta, FiveBeta: 5 * w.beta,
		Exact: w.fm2Exact, UpperBound: w.fm2Upper, Terms: w.plainReLUs + len(w.blocks) - w.fm2Unknown,
		UnknownLayers: w.fm2Unknown + w.fm2Missing + w.noGain.total(), OKBelow: FM2OKBelow, FailingFrom: FM2FailingFrom,
	}
	for _, bl := range w.blocks {
		// An identity block ending in a ReLU contributes its largest
		// value over the stream shapes.
		step, _, _ := bl.fluctuation()
		f.UpperBound = f.UpperBound || bl.identity() && bl.endReLU() && !math.IsNaN(step)
	}
	if !math.IsNaN(w.logVar) {
		f.LogVarTotal = num.Number(w.logVar)
	}
	f.Verdict = fm2Verdict(e.fm2)
	kind := map[[2]bool]string{
		{true, false}: "exact", {false, false}: "approximate",
		{true, true}: "an upper bound", {false, true}: "an approximate upper bound",
	}[[2]bool{f.Exact, f.UpperBound}]
	what := "Var[ln M] summed over " + plural(w.plainReLUs, "ReLU layer")
	if len(w.blocks) > 0 {
		what = fmt.Sprintf("Var[ln R] of %s plus ln(E[R^2]/E[R]^2) of %s", plural(w.plainReLUs, "ReLU layer"), plural(len(w.blocks)-w.fm2Unknown, "residual block"))
	}
	f.Summary = fmt.Sprintf("%s = %.4g (%s; beta = %.4g, 5 beta = %.4g): %s (ok below %g, failing from %g)",
		what, e.fm2, kind, w.beta, 5*w.beta, f.Verdict, FM2OKBelow, FM2FailingFrom)
	if w.noFM2.total() > 0 {
		f.Summary += fmt.Sprintf("; the fluctuations of %s are left out, measure with probe", w.noFM2)
	}
	f.Advice = w.fm2Advice(f.Verdict)
	return f
}

func (w *walker) fm2Advice(verdict string) Advice {
	a := Advice{C: num.Unknown, Text: []string{}}
	if verdict == OK {
		return a
	}
	if d := w.plainReLUs; d > 0 && w.plainFM2 >= FM2OKBelow {
		n := 1
		for float64(d)*reluStatsFor(n).LogVar >= FM2OKBelow {
			n *= 2
		}
		lo := n / 2
		for lo+1 < n {
			mid := (lo + n) / 2
			if float64(d)*reluStatsFor(mid).LogVar < FM2OKBelow {
				n = mid
			} else {
				lo = mid
			}
		}
		a.Width = n
		a.MaxDepth = int(math.Ceil(FM2OKBelow/reluStatsFor(w.minWidth).LogVar)) - 1
		a.Text = append(a.Text, fmt.Sprintf(
			"the fluctuations grow with beta = sum of 1/width: with %s a constant width of at least %d (beta = %.3g) keeps Var[ln M] below %g; at the narrowest width %d, at most %s do",
			plural(d, "ReLU layer"), n, float64(d)/float64(n), FM2OKBelow, w.minWidth, plural(a.MaxDepth, "ReLU layer")))
	}
	w.scheduleAdvice(&a, false)
	if len(a.Text) == 0 {
		a.Text = append(a.Text, "no width or residual schedule found that brings Var[ln M] below the threshold")
	}
	return a
}

// tally counts parts of a net by noun, in the order of their first appearance.
type tally struct {
	nouns  []string
	counts map[string]int
}

func (t *tally) add(noun string) {
	if t.counts == nil {
		t.counts = map[string]int{}
	}
	if t.counts[noun] == 0 {
		t.nouns = append(t.nouns, noun)
	}
	t.counts[noun]++
}

func (t tally) total() int {
	n := 0
	for _, c := range t.counts {
		n += c
	}
	return n
}

// String writes the counts, e.g. "2 pooling layers, 1 normalization layer".
func (t tally) String() string {
	parts := make([]string, len(t.nouns))
	for i, noun := range t.nouns {
		parts[i] = plural(t.counts[noun], noun)
	}
	return strings.Join(parts, ", ")
}

// plural writes "1 layer" or "3 layers".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// sci writes e^ln in scientific notation with its power of ten, e.g.
// "1.2e-39 (10^-38.9)"; it stays finite where the value itself overflows.
func sci(ln float64) string {
	s := short(ln)
	if l10 := ln / math.Ln10; math.Abs(l10) < 300 {
		s += fmt.Sprintf(" (10^%.3g)", l10)
	}
	return s
}

// short writes e^ln with 3 digits, e.g. "0.333", or as a power of ten,
// "10^412.5", where float64 cannot hold it.
func short(ln float64) string {
	if math.IsInf(ln, -1) {
		return "0"
	}
	l10 := ln / math.Ln10
	if math.Abs(l10) < 300 {
		return fmt.Sprintf("%.3g", math.Exp(ln))
	}
	return fmt.Sprintf("10^%.4g", l10)
}

// describeGain writes a gain interval.
func describeGain(g interval) string {
	if g.isPoint() {
		return sci(g.lo)
	}
	return "between " + sci(g.lo) + " and " + sci(g.hi)
}
