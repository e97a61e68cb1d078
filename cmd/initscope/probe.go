package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/initscope/initscope/num"
	"github.com/initscope/initscope/probe"
	"github.com/initscope/initscope/task"
	"github.com/initscope/initscope/theory"
)

// probeFlagNames maps probe's option names to the flags that set them.
var probeFlagNames = map[string]string{
	"net": "arch", "init": "init", "input": "input",
	"samples": "samples", "method": "method", "workers": "workers",
}

func runProbe(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("probe", "--arch SPEC --init PRESET --samples N [--seed S] [--method auto|exact|network] [--workers W] [--input NAME] [--bias LAW] [--format text|json|csv] [--all-layers]")
	nf := fs.addNetFlags()
	samples := fs.Int("samples", task.DefaultSamples, "number of independent initializations to draw (>= 2)")
	seed := fs.Uint64("seed", task.DefaultSeed, "random seed: sample i draws from the PCG stream (seed, i), whatever --workers is")
	method := fs.String("method", string(task.DefaultMethod), "sampler: exact (fully connected, Gaussian weights, zero biases: the exact law, O(depth) draws per sample), network (real float32 networks, any net and law), or auto (exact where it applies)")
	workers := fs.Int("workers", 0, "goroutines drawing networks (default: one per CPU)")
	format := fs.addFormat("text", "json", "csv")
	all := fs.Bool("all-layers", false, "show every layer in the text table (by default long runs of alike layers are folded)")
	if code, ok := fs.parse(args, stdout, stderr); !ok {
		return code
	}
	if err := checkFormat(*format, "text", "json", "csv"); err != nil {
		return fail(stderr, "probe", exitUsage, "%v", err)
	}
	m, err := probe.ParseMethod(*method)
	if err != nil {
		return fail(stderr, "probe", exitUsage, "%v", flagErr("method", err))
	}
	if nf.m0 != "" {
		return fail(stderr, "probe", exitUsage, "%v", flagErr("m0", errors.New("probe pushes a real input through each net: give --input instead")))
	}
	s, err := nf.resolve()
	if err != nil {
		return fail(stderr, "probe", exitFor(err), "%v", err)
	}
	pred, err := s.Predict()
	if err != nil {
		return fail(stderr, "probe", exitUsage, "%v", err)
	}
	opt := probe.Options{
		Net: s.Net, Init: s.Init, Input: s.Input.X,
		Samples: *samples, Seed: *seed, Method: m, Workers: *workers,
	}
	progress := newProgress(stderr)
	if progress != nil {
		opt.Progress = progress.update
	}
	res, err := probe.Run(context.Background(), opt)
	if progress != nil {
		progress.finish(err == nil)
	}
	if err != nil {
		var oe *probe.OptionError
		if errors.As(err, &oe) {
			return fail(stderr, "probe", exitUsage, "--%s: %s", probeFlagNames[oe.Option], oe.Msg)
		}
		return fail(stderr, "probe", exitFail, "%v", err)
	}
	rep, err := probe.Compare(res, pred)
	if err != nil {
		return fail(stderr, "probe", exitFail, "%v", err)
	}
	rep.Input = s.Input.Name
	switch *format {
	case "json":
		err = writeJSON(stdout, rep)
	case "csv":
		err = writeProbeCSV(stdout, rep)
	default:
		err = writeProbe(stdout, s, res, rep, *all)
	}
	if err != nil {
		return fail(stderr, "probe", exitFail, "writing the output: %v", err)
	}
	return exitOK
}

// progress draws a one-line progress display on a terminal.
type progress struct {
	w     io.Writer
	start time.Time
}

// newProgress returns a progress display on w if w is a terminal, else nil.
func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return &progress{w: w, start: time.Now()}
}

func (p *progress) update(done, total int) {
	el := time.Since(p.start).Seconds()
	eta := ""
	if done > 0 && done < total {
		eta = fmt.Sprintf(", about %.0f s left", el*float64(total-done)/float64(done))
	}
	fmt.Fprintf(p.w, "\rprobe: %d/%d samples, %.1f s%s\033[K", done, total, el, eta)
}

func (p *progress) finish(ok bool) {
	if ok {
		fmt.Fprintf(p.w, "\rprobe: done in %.2f s\033[K\n", time.Since(p.start).Seconds())
		return
	}
	fmt.Fprint(p.w, "\r\033[K")
}

// writeProbe writes the text report: the setup, a per-layer table with the
// theory beside each measurement, the net-wide quantities, the flags and
// the notes on heavy tails.
func writeProbe(w io.Writer, s *task.Setup, res *probe.Result, rep *probe.Report, all bool) error {
	ew := &errWriter{w: w}
	p := rep.Theory
	ew.printf("net:    %s\n", p.Net)
	ew.printf("init:   %s: weights %s, biases %s\n", p.Init, p.WeightLaw, p.BiasLaw)
	ew.printf("input:  %s\n", describeInput(s.Input))
	if rep.Method == probe.Exact {
		ew.printf("probe:  %d samples, seed %d, exact sampler (Gaussian weights, zero biases, dense layers: the exact law, O(depth) draws per sample)\n\n", rep.Samples, rep.Seed)
	} else {
		ew.printf("probe:  %d samples, seed %d, network sampler (float32 networks), BLAS %s, %d workers\n\n", rep.Samples, rep.Seed, rep.Backend, res.Workers)
	}

	ew.printf("Measured ± standard error over the samples, theory beside it (from predict); z = (measured - theory)/SE\n")
	ew.printf("where the theory is exact, in/out where it gives bounds; ! marks |z| > %g, * a heavy-tailed mean (see below). M = M_j/M0.\n", probe.FlagZ)
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "layer\tkind\tE[M]\ttheory\tz\tE[ln M]\ttheory\tz\tVar[ln M]\ttheory\tz\tdead\t5%\t50%\t95%")
	theoryLayers := make([]theory.Layer, len(rep.Layers))
	for i, l := range rep.Layers {
		theoryLayers[i] = l.Theory
	}
	for _, r := range foldLayers(theoryLayers, all) {
		if r.folded > 0 {
			// Empty cells keep the columns aligned across the fold.
			fmt.Fprintf(tw, "...\t(%d more like these)%s\n", r.folded, strings.Repeat("\t", 13))
			continue
		}
		l := rep.Layers[r.layer.Index-1]
		t := l.Theory
		mean := measured(l.MeanRatio, l.Log10MeanRatio, l.MeanRatioSE)
		if l.HeavyTail {
			mean += "*"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			l.Index, kindLabel(t), mean, meanRatio(t), meanZText(l),
			measured(l.LogMean, num.Unknown, l.LogMeanSE), fmtNum(t.LogMean), zText(l.Z.LogMean, true),
			measured(l.LogVar, num.Unknown, l.LogVarSE), logVarText(t), zText(l.Z.LogVar, true),
			fmtNum(l.DeadFraction), fmtNum(l.Quantiles.P05), fmtNum(l.Quantiles.P50), fmtNum(l.Quantiles.P95))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSuffix(table.String(), "\n"), "\n") {
		ew.printf("%s\n", strings.TrimRight(line, " "))
	}

	ev := rep.EmpiricalVariance
	ew.printf("\nempirical variance of M_1..M_d over the plain ReLU layers (d = %d), E[Var_hat]/M0^2: %s\n", ev.Layers, momentText(ev))
	ew.printf("Jacobian, E[||J u||^2/||u||^2] for a random unit u (theory n_d E[Z^2]): %s\n", momentText(rep.Jacobian))
	ew.printf("         E[ln] = %s, Var[ln] = %s\n", measured(rep.Jacobian.LogMean, num.Unknown, rep.Jacobian.LogMeanSE), measured(rep.Jacobian.LogVar, num.Unknown, rep.Jacobian.LogVarSE))

	ew.printf("\nflags (exact predictions missed by more than %g SE):\n", probe.FlagZ)
	if len(rep.Flags) == 0 {
		ew.printf("  none\n")
	}
	for _, f := range rep.Flags {
		ew.printf("  %s\n", f)
	}
	var heavy []int
	for _, l := range rep.Layers {
		if l.HeavyTail {
			heavy = append(heavy, l.Index)
		}
	}
	if len(heavy) > 0 {
		ew.printf("\n* heavy tails, %s: Var[ln M] > %g, so the sample mean of M is carried by rare large samples;\n", spans(heavy), probe.HeavyTailLogVar)
		ew.printf("  it usually falls short of E[M] and its SE understates the error (its z is not flagged). Trust E[ln M] and Var[ln M].\n")
	}
	return ew.err
}

// measured writes "value ± se" with 4 significant digits, using the log10
// (and no standard error) where the value overflows or underflows, or "-"
// when unknown.
func measured(v, log10, se num.Number) string {
	s := ratio(v, log10)
	if s == "-" || !se.Known() || underflowed(v, log10) {
		return s
	}
	return s + " ± " + fmt.Sprintf("%.2g", float64(se))
}

// zText writes a z-score with one decimal, "!" beyond probe.FlagZ when the
// comparison is reliable, "-" when there is none.
func zText(z num.Number, reliable bool) string {
	if !z.Known() {
		return "-"
	}
	s := fmt.Sprintf("%+.1f", float64(z))
	if reliable && math.Abs(float64(z)) > probe.FlagZ {
		s += "!"
	}
	return s
}

// meanZText is the mean's z-score, or where the theory gives bounds,
// "in" or "out!" as the mean lies within them or not.
func meanZText(l probe.LayerReport) string {
	if l.WithinBounds == nil {
		return zText(l.Z.MeanRatio, !l.HeavyTail)
	}
	if *l.WithinBounds {
		return "in"
	}
	if l.HeavyTail {
		return "out"
	}
	return "out!"
}

func logVarText(t theory.Layer) string {
	if t.LogVarUpperBound && t.LogVar.Known() {
		return "<=" + fmtNum(t.LogVar)
	}
	return fmtNum(t.LogVar)
}

// momentText writes a MomentReport's mean and its comparison.
func momentText(m probe.MomentReport) string {
	s := measured(m.Mean, m.Log10Mean, m.SE)
	if m.HeavyTail {
		s += " (heavy-tailed: Var[ln] = " + fmtNum(m.LogVar) + ")"
	}
	switch {
	case !m.TheoryMean.Known():
		return s + ", no theory value"
	case !m.Exact:
		return s + ", theory " + fmtNum(m.TheoryMean) + " (approximate)"
	}
	return s + ", theory " + fmtNum(m.TheoryMean) + " (exact), z = " + zText(m.Z, !m.HeavyTail)
}

// writeProbeCSV writes one row per layer, theory and z beside each
// measurement; unknown values are empty cells.
func writeProbeCSV(w io.Writer, rep *probe.Report) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"index", "kind", "width",
		"mean_ratio", "mean_ratio_se", "theory_mean_ratio", "z_mean_ratio",
		"second_moment_ratio", "second_moment_ratio_se", "theory_second_moment_ratio", "z_second_moment_ratio",
		"log_mean", "log_mean_se", "theory_log_mean", "z_log_mean",
		"log_var", "log_var_se", "theory_log_var", "z_log_var",
		"dead_fraction", "theory_dead_probability", "z_dead_fraction",
		"p05", "p50", "p95", "heavy_tail", "theory_exact"})
	for _, l := range rep.Layers {
		t := l.Theory
		cells := []string{strconv.Itoa(l.Index), l.Kind, strconv.Itoa(t.Width)}
		for _, v := range []num.Number{
			l.MeanRatio, l.MeanRatioSE, t.MeanRatio, l.Z.MeanRatio,
			l.SecondMomentRatio, l.SecondMomentRatioSE, t.SecondMomentRatio, l.Z.SecondMomentRatio,
			l.LogMean, l.LogMeanSE, t.LogMean, l.Z.LogMean,
			l.LogVar, l.LogVarSE, t.LogVar, l.Z.LogVar,
			l.DeadFraction, t.DeadProbability, l.Z.DeadFraction,
			l.Quantiles.P05, l.Quantiles.P50, l.Quantiles.P95,
		} {
			cells = append(cells, csvNumber(v))
		}
		cells = append(cells, strconv.FormatBool(l.HeavyTail), strconv.FormatBool(t.Exact))
		cw.Write(cells)
	}
	cw.Flush()
	return cw.Error()
}

// csvNumber writes a number in full precision, or "" when unknown.
func csvNumber(v num.Number) string {
	if !v.Known() {
		return ""
	}
	return strings.TrimSpace(strconv.FormatFloat(float64(v), 'g', -1, 64))
}
