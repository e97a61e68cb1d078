package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/audit"
	"github.com/initscope/initscope/data"
	"github.com/initscope/initscope/num"
	"github.com/initscope/initscope/onnx"
	"github.com/initscope/initscope/onnx/lower"
	"github.com/initscope/initscope/safetensors"
	"github.com/initscope/initscope/task"
)

func runAudit(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("audit", "MODEL.onnx|WEIGHTS.safetensors [--arch SPEC] [--input NAME|FILE] [--samples N] [--seed S] [--format text|json|csv] [--table tensors|layers]")
	fs.operands = 1
	archSpec := fs.String("arch", "", "for a safetensors file: the net whose dense and conv layers its tensors fill, in order (fc:..., net:...)")
	input := fs.String("input", "", "the fixed input: mnist:K, fashion-mnist:K, gaussian, ones, or a tensor file (.pb as ONNX test data, .npy); a file may hold a batch. Default mnist:0 for 784 or 1x28x28 inputs, gaussian otherwise")
	samples := fs.Int("samples", 0, "redraw every weight and bias tensor from its fitted law N times and report E[M_j] with its standard error, the log moments and the quantile of this model's own draw")
	seed := fs.Uint64("seed", 1, "seed of the redraws")
	threads := fs.Int("threads", 2, "goroutines of the forward passes")
	format := fs.addFormat("text", "json", "csv")
	table := fs.String("table", "tensors", "with --format csv: which table, tensors or layers")
	if code, ok := fs.parse(args, stdout, stderr); !ok {
		return code
	}
	if len(fs.operandList) == 0 {
		return fail(stderr, "audit", exitUsage, "give the model file: initscope audit model.onnx (see initscope audit -h)")
	}
	if err := checkFormat(*format, "text", "json", "csv"); err != nil {
		return fail(stderr, "audit", exitUsage, "%v", err)
	}
	switch {
	case *table != "tensors" && *table != "layers":
		return fail(stderr, "audit", exitUsage, "--table: %q: want tensors or layers", *table)
	case *samples < 0 || *samples > maxSamples:
		return fail(stderr, "audit", exitUsage, "--samples: %d: want 0 to %d", *samples, maxSamples)
	case *threads < 1 || *threads > 256:
		return fail(stderr, "audit", exitUsage, "--threads: %d: want 1 to 256", *threads)
	}
	path := fs.operandList[0]
	lm, meta, err := loadModel(path, *archSpec)
	if err != nil {
		return fail(stderr, "audit", exitFor(err), "%v", err)
	}
	opt := audit.Options{Samples: *samples, Seed: *seed, Threads: *threads}
	if lm.Graph != nil {
		if opt.Input, opt.InputName, err = auditInput(*input, lm.Graph.Input()); err != nil {
			return fail(stderr, "audit", exitFor(err), "%v", err)
		}
		opt.Measure = true
	}
	r, err := audit.Run(lm, path, meta.format, opt)
	if err != nil {
		return fail(stderr, "audit", exitFail, "%v", err)
	}
	r.Producer, r.IRVersion, r.Opset = meta.producer, meta.ir, meta.opset
	switch *format {
	case "json":
		err = writeJSON(stdout, r)
	case "csv":
		err = writeAuditCSV(stdout, r, *table)
	default:
		err = writeAudit(stdout, r)
	}
	if err != nil {
		return fail(stderr, "audit", exitFail, "writing the output: %v", err)
	}
	return exitOK
}

// maxSamples bounds --samples.
const maxSamples = 1 << 20

// modelMeta is what the report says about the file beyond its tensors.
type modelMeta struct {
	format, producer string
	ir, opset        int64
}

// loadModel reads an ONNX model and lowers it, or reads a safetensors
// file and binds its tensors to the layers of spec (only its tensors'
// statistics without a spec).
func loadModel(path, spec string) (*lower.Model, modelMeta, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".onnx":
		if spec != "" {
			return nil, modelMeta{}, flagErr("arch", errors.New("an ONNX file has its own graph: --arch is for safetensors files"))
		}
		m, err := onnx.Read(path)
		if err != nil {
			return nil, modelMeta{}, err
		}
		lm, err := lower.Lower(m)
		if err != nil {
			return nil, modelMeta{}, fmt.Errorf("%s: %w", path, err)
		}
		return lm, modelMeta{format: "onnx", producer: strings.TrimSpace(m.Producer + " " + m.ProducerVersion), ir: m.IRVersion, opset: m.Opset}, nil
	case ".safetensors":
		f, err := safetensors.Read(path)
		if err != nil {
			return nil, modelMeta{}, err
		}
		var g *arch.Graph
		if spec != "" {
			if g, err = arch.Parse(spec); err != nil {
				return nil, modelMeta{}, flagErr("arch", err)
			}
		}
		lm, err := audit.FromSafetensors(f, g)
		if err != nil {
			return nil, modelMeta{}, fmt.Errorf("%s: %w", path, err)
		}
		return lm, modelMeta{format: "safetensors"}, nil
	}
	return nil, modelMeta{}, fmt.Errorf("%s: want a .onnx or .safetensors file", path)
}

// auditInput resolves --input for a net whose input has shape in: a
// tensor file (a batch of samples of that shape) or a data.FixedInput
// name.
func auditInput(name string, in arch.Shape) ([]float64, string, error) {
	size := in.Size()
	switch strings.ToLower(filepath.Ext(name)) {
	case ".pb", ".npy":
		var values []float64
		var shape []int
		if strings.HasSuffix(strings.ToLower(name), ".pb") {
			t, err := onnx.ReadTensor(name)
			if err != nil {
				return nil, "", flagErr("input", err)
			}
			if t.Float == nil {
				return nil, "", flagErr("input", fmt.Errorf("%s holds %s values: want a floating-point tensor", name, t.Type))
			}
			values, shape = t.Float, t.Dims
		} else {
			var err error
			if shape, values, err = data.ReadNpy(name); err != nil {
				return nil, "", flagErr("input", err)
			}
		}
		if !batchOf(shape, size) {
			return nil, "", flagErr("input", fmt.Errorf("%s has shape %v: want one sample of %s (%d values) or a batch of them, [batch, ...] with %d values per sample", name, shape, in, size, size))
		}
		return values, fmt.Sprintf("%s (%d samples)", name, len(values)/size), nil
	}
	if name == "" {
		name = task.DefaultInput(size)
	}
	x, err := data.FixedInput(name, "", size)
	var ie *data.InputError
	if errors.As(err, &ie) {
		return nil, "", flagErr("input", err)
	}
	if err != nil {
		return nil, "", fmt.Errorf("input %s: %w", name, err)
	}
	return x, name, nil
}

// batchOf reports whether a tensor of this shape holds one sample of size
// values or a batch of them along its first dimension.
func batchOf(shape []int, size int) bool {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n == size && n > 0 {
		return true
	}
	if len(shape) < 2 || shape[0] < 1 {
		return false
	}
	per := 1
	for _, d := range shape[1:] {
		per *= d
	}
	return per == size
}

// writeAudit writes the text report.
func writeAudit(w io.Writer, r *audit.Report) error {
	ew := &errWriter{w: w}
	ew.printf("model:  %s (%s", r.Model, r.Format)
	if r.Format == "onnx" {
		ew.printf(", IR %d, opset %d, %s", r.IRVersion, r.Opset, orDash(r.Producer))
	}
	ew.printf(")\n")
	if r.Prediction != nil {
		ew.printf("net:    %s\n", r.Net)
		ew.printf("        %d parameters, %d ReLU layers, beta = sum of 1/width = %.4g\n", r.Params, r.Depth, r.Beta)
		if r.Measurement != nil {
			ew.printf("input:  %s, M0 = ||x||^2/n0 = %s\n", r.Measurement.Input, fmtNum(r.M0))
		}
	}
	ew.printf("\ntensors (c = fan_in * Var with its 95%% interval; He is 2, PyTorch's default 1/3; law: best-fitting shape, KS distance against its 5%% critical value)\n")
	writeTable(ew, tensorRows(r), "name", "role", "shape", "fan-in", "mean", "std", "c [95% CI]", "kurtosis", "law (KS / crit)", "preset")
	if r.Prediction != nil {
		ew.printf("\nlayers (theory from the fitted laws")
		if r.Measurement != nil {
			ew.printf("; measured: this model's weights on the input")
			if r.Measurement.Samples > 0 {
				ew.printf(", and %d redraws from the fitted laws", r.Measurement.Samples)
			}
		}
		ew.printf(")\n")
		head, rows := layerRows(r)
		writeTable(ew, rows, head...)
		ew.printf("\nFM1, the mean length: %s\n  %s\n", strings.ToUpper(r.FM1.Verdict), r.FM1.Summary)
		ew.printf("FM2, the fluctuations: %s\n  %s\n", strings.ToUpper(r.FM2.Verdict), r.FM2.Summary)
		ew.printf("\nwhat to change (PyTorch):\n")
		for _, a := range r.PyTorch {
			ew.printf("  %s\n", a)
		}
	}
	if len(r.Unsupported) > 0 {
		ew.printf("\nunsupported ops (the graph stops at the first):\n")
		for _, u := range r.Unsupported {
			ew.printf("  %s\n", u)
		}
	}
	if len(r.Notes) > 0 {
		ew.printf("\nnotes:\n")
		for _, n := range r.Notes {
			ew.printf("  %s\n", n)
		}
	}
	return ew.err
}

// writeTable writes rows under the header, aligned, with trailing blanks
// trimmed.
func writeTable(ew *errWriter, rows [][]string, head ...string) {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		ew.printf("  %s\n", strings.TrimRight(line, " "))
	}
}

// tensorRows are the rows of the text tensor table.
func tensorRows(r *audit.Report) [][]string {
	var rows [][]string
	for _, t := range r.Tensors {
		c := "-"
		if t.C.Known() {
			c = fmt.Sprintf("%s [%s, %s]", fmtNum(t.C), fmtNum(t.CLow), fmtNum(t.CHigh))
		}
		law := t.Law
		if t.KS.Known() && t.N > 1 && t.Law != "zero" && t.Law != "constant" {
			law = fmt.Sprintf("%s (%s / %s)", t.Law, fmtNum(t.KS), fmtNum(t.KSCritical))
			if !t.Fits {
				law += " rejected"
			}
		}
		name := t.Name
		if t.Module != "" && !strings.HasPrefix(t.Name, t.Module+".") {
			name += " (" + t.Module + ")"
		}
		rows = append(rows, []string{name, t.Role, shapeString(t.Shape), intOrDash(t.FanIn), fmtNum(t.Mean), fmtNum(t.Std), c,
			fmtNum(t.Kurtosis), law, orDash(t.Preset)})
	}
	return rows
}

// layerRows are the header and rows of the text layer table.
func layerRows(r *audit.Report) ([]string, [][]string) {
	head := []string{"#", "node", "kind", "c", "mean factor", "log10 E[M]/M0", "sd[ln M/M0]"}
	m := r.Measurement
	if m != nil {
		head = append(head, "measured log10 M/M0")
		if m.Samples > 0 {
			head = append(head, "redraws: log10 E[M]/M0", "sd[ln M/M0]", "quantile")
		}
	}
	var rows [][]string
	for i, n := range r.Nodes {
		l := r.Layers[i]
		row := []string{strconv.Itoa(n.Index), n.Name, n.Kind, fmtNum(n.C), pointOrRange(n.MeanFactor, l.MeanFactorLower, l.MeanFactorUpper),
			pointOrRange(l.Log10MeanRatio, l.Log10MeanRatioLower, l.Log10MeanRatioUpper), sdOf(l.LogVar)}
		if m != nil {
			ml := m.Layers[i]
			row = append(row, fmtNum(ml.Log10Ratio))
			if m.Samples > 0 {
				row = append(row, fmtNum(ml.Log10MeanRatio), sdOf(ml.LogVar), fmtNum(ml.Quantile))
			}
		}
		rows = append(rows, row)
	}
	return head, rows
}

// pointOrRange writes x, or the range [lo, hi] where only bounds are
// known, or "-".
func pointOrRange(x, lo, hi num.Number) string {
	if !x.Known() && lo.Known() && hi.Known() {
		return fmt.Sprintf("[%s, %s]", fmtNum(lo), fmtNum(hi))
	}
	return fmtNum(x)
}

// sdOf writes the square root of a variance.
func sdOf(v num.Number) string {
	if !v.Known() || v < 0 {
		return "-"
	}
	return fmtNum(num.Number(math.Sqrt(float64(v))))
}

// shapeString writes a shape as 64x784 ("scalar" for none).
func shapeString(s []int) string {
	if len(s) == 0 {
		return "scalar"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	return strings.Join(parts, "x")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeAuditCSV writes the tensor table or the layer table as CSV, with
// the JSON field names as header.
func writeAuditCSV(w io.Writer, r *audit.Report, table string) error {
	cw := csv.NewWriter(w)
	f := func(x num.Number) string {
		if !x.Known() {
			return ""
		}
		return strconv.FormatFloat(float64(x), 'g', 8, 64)
	}
	if table == "tensors" {
		cw.Write([]string{"name", "node", "module", "role", "shape", "fan_in", "fan_out", "n", "non_finite", "mean", "mean_se", "std", "c", "c_low", "c_high", "kurtosis", "kurtosis_se", "law", "ks", "ks_critical", "fits", "preset"})
		for _, t := range r.Tensors {
			cw.Write([]string{t.Name, t.Node, t.Module, t.Role, shapeString(t.Shape), strconv.Itoa(t.FanIn), strconv.Itoa(t.FanOut), strconv.Itoa(t.N), strconv.Itoa(t.NonFinite),
				f(t.Mean), f(t.MeanSE), f(t.Std), f(t.C), f(t.CLow), f(t.CHigh), f(t.Kurtosis), f(t.KurtosisSE), t.Law, f(t.KS), f(t.KSCritical), strconv.FormatBool(t.Fits), t.Preset})
		}
	} else {
		head := []string{"index", "name", "module", "kind", "c", "mean_factor", "log10_mean_ratio", "log_mean", "log_var", "measured_log10_ratio", "redraw_mean_ratio", "redraw_mean_ratio_se", "redraw_log_mean", "redraw_log_var", "quantile"}
		cw.Write(head)
		for i, n := range r.Nodes {
			row := []string{strconv.Itoa(n.Index), n.Name, n.Module, n.Kind, f(n.C), f(n.MeanFactor), f(n.Log10MeanRatio), f(n.LogMean), f(n.LogVar)}
			if m := r.Measurement; m != nil {
				ml := m.Layers[i]
				row = append(row, f(ml.Log10Ratio), f(ml.MeanRatio), f(ml.MeanRatioSE), f(ml.LogMean), f(ml.LogVar), f(ml.Quantile))
			} else {
				row = append(row, "", "", "", "", "", "")
			}
			cw.Write(row)
		}
	}
	cw.Flush()
	return cw.Error()
}
