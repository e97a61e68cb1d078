package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/initscope/initscope/num"
	"github.com/initscope/initscope/task"
	"github.com/initscope/initscope/theory"
)

func runPredict(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("predict", "--arch SPEC --init PRESET [--bias LAW] [--m0 X | --input NAME] [--format text|json] [--all-layers]")
	nf := fs.addNetFlags()
	format := fs.addFormat("text", "json")
	all := fs.Bool("all-layers", false, "show every layer in the text table (by default long runs of alike layers are folded)")
	if code, ok := fs.parse(args, stdout, stderr); !ok {
		return code
	}
	if err := checkFormat(*format, "text", "json"); err != nil {
		return fail(stderr, "predict", exitUsage, "%v", err)
	}
	s, err := nf.resolve()
	if err != nil {
		return fail(stderr, "predict", exitFor(err), "%v", err)
	}
	p, err := s.Predict()
	if err != nil {
		return fail(stderr, "predict", exitUsage, "%v", err)
	}
	if *format == "json" {
		err = writeJSON(stdout, struct {
			Input string `json:"input"`
			*theory.Prediction
		}{s.Input.Name, p})
	} else {
		err = writePrediction(stdout, s, p, *all)
	}
	if err != nil {
		return fail(stderr, "predict", exitFail, "writing the output: %v", err)
	}
	return exitOK
}

// writePrediction writes the text report: the setup, the per-layer table,
// the verdicts with their advice, the other net-wide numbers and the notes.
func writePrediction(w io.Writer, s *task.Setup, p *theory.Prediction, all bool) error {
	ew := &errWriter{w: w}
	ew.printf("net:    %s\n", p.Net)
	ew.printf("        %d ReLU layers, beta = sum of 1/width = %.4g\n", p.Depth, p.Beta)
	ew.printf("init:   %s: weights %s, biases %s\n", p.Init, p.WeightLaw, p.BiasLaw)
	ew.printf("input:  %s\n\n", describeInput(s.Input))

	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "layer\tkind\twidth\tfan-in\tVar(W)\tmean factor\tE[M]/M0\tE[ln M/M0]\tsd[ln M/M0]\texact")
	for _, r := range foldLayers(p.Layers, all) {
		if r.folded > 0 {
			fmt.Fprintf(tw, "...\t(%d more)\t\t\t\t\t\t\t\t\n", r.folded)
			continue
		}
		l := r.layer
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			l.Index, kindLabel(l), intOrDash(l.Width), intOrDash(l.FanIn), fmtNum(l.WeightVar),
			meanFactor(l), meanRatio(l), fmtNum(l.LogMean), logSD(l), l.Exactness())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// The fold rows leave padded empty cells: trim them.
	for _, line := range strings.SplitAfter(table.String(), "\n") {
		ew.printf("%s", strings.TrimRight(line, " \n")+strings.Repeat("\n", strings.Count(line, "\n")))
	}
	ew.printf("exact: all = mean, second moment and log moments exact; mean = the mean only; bounds = lower and upper bounds\n\n")

	ew.printf("FM1, the mean length: %s\n", strings.ToUpper(p.FM1.Verdict))
	ew.printf("  %s\n", p.FM1.Summary)
	if p.BiasLaw != "zero" && p.FM1.MeanRatio.Known() {
		ew.printf("  with the biases E[M_d]/M0 = %s: the part the biases add does not depend on the input\n", fmtNum(p.FM1.MeanRatio))
	}
	writeAdvice(ew, p.FM1.Advice)
	ew.printf("FM2, the fluctuations: %s\n", strings.ToUpper(p.FM2.Verdict))
	ew.printf("  %s\n", p.FM2.Summary)
	writeAdvice(ew, p.FM2.Advice)

	ew.printf("\nalso:\n")
	ew.printf("  P(some ReLU layer is dead at initialization) = %s%s\n", fmtNum(p.DeadProbability), exactWord(p.DeadExact, p.DeadNote))
	ev := p.EmpiricalVariance
	if ev.Relative.Known() || ev.Log10Relative.Known() {
		ew.printf("  E[empirical variance of M_1..M_d]/M0^2 = %s over %d ReLU layers%s\n",
			ratio(ev.Relative, ev.Log10Relative), ev.Layers, exactWord(ev.Exact, "approximate"))
	} else {
		ew.printf("  E[empirical variance of M_1..M_d]: unknown (%s)\n", ev.Note)
	}
	j := p.Jacobian
	if j.Log10MeanSquare.Known() {
		ew.printf("  Jacobian entry Z = d out_q / d x_p: E[Z^2] = %s, E[Z^4] = %s, E[Z^4]/E[Z^2]^2 = %s%s\n",
			ratio(j.MeanSquare, j.Log10MeanSquare), ratio(j.FourthMoment, j.Log10Fourth), fmtNum(j.Ratio), exactWord(j.Exact, "approximate"))
	} else {
		ew.printf("  Jacobian moments: unknown (%s)\n", j.Note)
	}
	if notes := layerNotes(p.Layers); len(notes) > 0 {
		ew.printf("\nnotes:\n")
		for _, n := range notes {
			ew.printf("  %s\n", n)
		}
	}
	return ew.err
}

func describeInput(in task.Input) string {
	if in.X == nil {
		return fmt.Sprintf("M0 = ||x||^2/n0 = %.4g (given)", in.M0)
	}
	return fmt.Sprintf("%s: M0 = ||x||^2/n0 = %.4g, ||x||_4^4/||x||_2^4 = %.4g", in.Name, in.M0, in.L4)
}

func writeAdvice(ew *errWriter, a theory.Advice) {
	for _, t := range a.Text {
		ew.printf("  advice: %s\n", t)
	}
}

// row is one line of the layer table: a layer, or a fold of alike layers.
type row struct {
	layer  theory.Layer
	folded int
}

// etaOption matches the eta of a residual spec, which alike blocks of a
// schedule do not share.
var etaOption = regexp.MustCompile(`:eta=[^:]*`)

// foldKey says which layers are alike for folding: same spec (eta aside),
// shape and laws.
func foldKey(l theory.Layer) string {
	return fmt.Sprintf("%s|%s|%v|%v", etaOption.ReplaceAllString(l.Spec, ""), l.Out, l.WeightVar, l.BiasVar)
}

// Runs of more than foldHead+foldTail+1 alike layers are folded to their
// first foldHead and last foldTail.
const foldHead, foldTail = 3, 2

func foldLayers(ls []theory.Layer, all bool) []row {
	var rows []row
	for i := 0; i < len(ls); {
		j := i + 1
		for j < len(ls) && foldKey(ls[j]) == foldKey(ls[i]) {
			j++
		}
		if all || j-i <= foldHead+foldTail+1 {
			for k := i; k < j; k++ {
				rows = append(rows, row{layer: ls[k]})
			}
		} else {
			for k := i; k < i+foldHead; k++ {
				rows = append(rows, row{layer: ls[k]})
			}
			rows = append(rows, row{folded: j - i - foldHead - foldTail})
			for k := j - foldTail; k < j; k++ {
				rows = append(rows, row{layer: ls[k]})
			}
		}
		i = j
	}
	return rows
}

func kindLabel(l theory.Layer) string {
	if l.Kind == "residual" {
		end := "relu"
		if strings.Contains(l.Spec, ":end=linear") {
			end = "linear"
		}
		var v1 string
		for _, opt := range []string{"shortcut=proj", "post=relu"} {
			if strings.Contains(l.Spec, ":"+opt) {
				v1 += ", " + opt
			}
		}
		return fmt.Sprintf("residual(end=%s, eta=%s%s)", end, fmtNum(l.Eta), v1)
	}
	return l.Kind
}

func intOrDash(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

// fmtNum writes a number with 4 significant digits (scientific notation for
// large and small ones), or "-" when unknown.
func fmtNum(x num.Number) string {
	if !x.Known() {
		return "-"
	}
	return fmt.Sprintf("%.4g", float64(x))
}

// ratio writes a ratio that may overflow or underflow float64 from its
// value or its log10.
func ratio(v, log10 num.Number) string {
	if v.Known() && !underflowed(v, log10) {
		return fmtNum(v)
	}
	return pow10(log10)
}

// underflowed reports whether a ratio's value is 0 only because it lies
// below float64's range: its log10 is finite.
func underflowed(v, log10 num.Number) bool {
	return v == 0 && log10.Known() && !math.IsInf(float64(log10), 0)
}

// pow10 writes 10^l like num, for any finite l: beyond the float64 range
// the mantissa and exponent are formed separately.
func pow10(l num.Number) string {
	if !l.Known() {
		return "-"
	}
	if math.Abs(float64(l)) < 300 {
		return fmtNum(num.Number(math.Pow(10, float64(l))))
	}
	e := math.Floor(float64(l))
	m := math.Pow(10, float64(l)-e)
	if m >= 9.9995 { // rounding of the mantissa to 4 digits
		m, e = 1, e+1
	}
	return fmt.Sprintf("%.4ge%+03d", m, int(e))
}

func meanFactor(l theory.Layer) string {
	if l.MeanFactor.Known() {
		return fmtNum(l.MeanFactor)
	}
	if l.MeanFactorLower.Known() {
		return "[" + fmtNum(l.MeanFactorLower) + ", " + fmtNum(l.MeanFactorUpper) + "]"
	}
	return "-"
}

func meanRatio(l theory.Layer) string {
	if l.Log10MeanRatio.Known() {
		return ratio(l.MeanRatio, l.Log10MeanRatio)
	}
	if l.Log10MeanRatioLower.Known() {
		return "[" + pow10(l.Log10MeanRatioLower) + ", " + pow10(l.Log10MeanRatioUpper) + "]"
	}
	return "-"
}

func logSD(l theory.Layer) string {
	if !l.LogVar.Known() {
		return "-"
	}
	s := fmt.Sprintf("%.4g", math.Sqrt(float64(l.LogVar)))
	if l.LogVarUpperBound {
		s = "<=" + s
	}
	return s
}

func exactWord(exact bool, otherwise string) string {
	if exact {
		return " (exact)"
	}
	return " (" + otherwise + ")"
}

// layerNotes gathers the layers' notes, each once, with the layers it
// concerns: "layers 1-50: ...".
func layerNotes(ls []theory.Layer) []string {
	var order []string
	at := map[string][]int{}
	for _, l := range ls {
		for _, n := range l.Notes {
			if _, seen := at[n]; !seen {
				order = append(order, n)
			}
			at[n] = append(at[n], l.Index)
		}
	}
	out := make([]string, len(order))
	for i, n := range order {
		out[i] = spans(at[n]) + ": " + n
	}
	return out
}

// spans writes increasing layer indices as "layer 3" or "layers 1-4, 7".
func spans(idx []int) string {
	var parts []string
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", idx[i], idx[j]))
		} else {
			parts = append(parts, fmt.Sprint(idx[i]))
		}
		i = j + 1
	}
	if len(idx) == 1 {
		return "layer " + parts[0]
	}
	return "layers " + strings.Join(parts, ", ")
}
