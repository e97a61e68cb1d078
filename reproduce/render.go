package reproduce

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/initscope/initscope/experiment"
	"github.com/initscope/initscope/report"
	"github.com/initscope/initscope/task"
	"github.com/initscope/initscope/theory"
	"github.com/initscope/initscope/train"
)

// The files Render writes in the results directory, besides each figure's
// CSV summaries and plots.
const (
	// ResultsCSV has one row per task of the grid.
	ResultsCSV = "results.csv"
	// ReportHTML is the self-contained report on the figures.
	ReportHTML = "report.html"
	// ClaimsJSON lists the checked claims.
	ClaimsJSON = "claims.json"
)

// Rendered says what Render wrote and found.
type Rendered struct {
	// Files are the files written, relative to the results directory.
	Files []string
	// Figures are the paper's figures whose sweeps were in the results.
	Figures []string
	// Claims are their claims, checked.
	Claims []Claim
	// Tasks is the number of tasks in the grid (every record without
	// sweeps); Done, Failed and Missing count them by outcome (Missing: no
	// record at all).
	Tasks, Done, Failed, Missing int
}

// Render writes results.csv, one row per task of the grid (missing ones
// included), and, for the paper's figures whose sweeps are in the results,
// each figure's CSV summaries, PNG and SVG plots, report.html with every
// claim checked, and claims.json.
func Render(res *experiment.Results) (*Rendered, error) {
	out := &outputs{dir: res.Dir}
	rd := &Rendered{}
	if err := writeResultsCSV(res, out, rd); err != nil {
		return nil, err
	}
	var secs []section
	for _, f := range figures {
		fd := newFigureData(res, f.name)
		if fd == nil {
			continue
		}
		s, err := f.render(fd, out)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", f.name, err)
		}
		rd.Figures = append(rd.Figures, f.name)
		secs = append(secs, s...)
	}
	if len(secs) > 0 {
		for _, s := range secs {
			rd.Claims = append(rd.Claims, s.claim)
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // "<= 1", not "\u003c= 1"
		enc.SetIndent("", "  ")
		if err := enc.Encode(rd.Claims); err != nil {
			return nil, err
		}
		if err := out.write(ClaimsJSON, b.Bytes()); err != nil {
			return nil, err
		}
		if err := writeReport(res, secs, rd, out); err != nil {
			return nil, err
		}
	}
	rd.Files = out.files
	return rd, nil
}

// outputs writes files into the results directory and lists them.
type outputs struct {
	dir   string
	files []string
}

// write writes one file atomically.
func (o *outputs) write(name string, b []byte) error {
	if err := experiment.WriteFile(filepath.Join(o.dir, name), b); err != nil {
		return err
	}
	o.files = append(o.files, name)
	return nil
}

// csv writes a CSV file.
func (o *outputs) csv(name string, header []string, rows [][]string) error {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(header)
	w.WriteAll(rows) // flushes
	if err := w.Error(); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	return o.write(name, b.Bytes())
}

// plot writes a chart as NAME.png and NAME.svg and returns it as a report
// figure with the caption.
func (o *outputs) plot(name string, c report.Chart, caption string) (report.Figure, error) {
	var png []byte
	for _, format := range []string{"png", "svg"} {
		b, err := report.Render(c, format)
		if err != nil {
			return report.Figure{}, fmt.Errorf("%s.%s: %v", name, format, err)
		}
		if err := o.write(name+"."+format, b); err != nil {
			return report.Figure{}, err
		}
		if format == "png" {
			png = b
		}
	}
	return report.Figure{Caption: fmt.Sprintf("%s (%s.png, %s.svg)", caption, name, name), PNG: png}, nil
}

// section is one checked claim with its evidence, a section of the report.
type section struct {
	claim    Claim
	figures  []report.Figure
	tables   []report.Table
	settings []report.KV
}

// figureData is what a figure's renderer reads: its sweeps and their done
// records.
type figureData struct {
	// sweeps are the figure's sweeps by name.
	sweeps map[string]*experiment.Sweep
	// records are each sweep's done records, in grid order.
	records map[string][]experiment.Record
	// missing counts each sweep's tasks without a done record.
	missing map[string]int
}

// newFigureData gathers the results of the figure's sweeps, or returns nil
// if the results hold none of them.
func newFigureData(res *experiment.Results, fig string) *figureData {
	fd := &figureData{sweeps: map[string]*experiment.Sweep{}, records: map[string][]experiment.Record{}, missing: map[string]int{}}
	for _, s := range res.Sweeps {
		if f := figureOf(s.Name); f == nil || f.name != fig {
			continue
		}
		fd.sweeps[s.Name] = s
		for _, t := range res.Tasks[s.Name] {
			if r, ok := res.Record(t.ID); ok && r.Status == experiment.StatusDone {
				fd.records[s.Name] = append(fd.records[s.Name], r)
			} else {
				fd.missing[s.Name]++
			}
		}
	}
	if len(fd.sweeps) == 0 {
		return nil
	}
	return fd
}

// incomplete counts the tasks of the named sweeps without a done record; a
// sweep that is not in the results counts as one missing task.
func (fd *figureData) incomplete(names ...string) int {
	n := 0
	for _, name := range names {
		if fd.sweeps[name] == nil {
			n++
		}
		n += fd.missing[name]
	}
	return n
}

// settings lists a sweep's fixed params and its seeds, for the report.
func (fd *figureData) settings(name string) []report.KV {
	s := fd.sweeps[name]
	if s == nil {
		return nil
	}
	var kv []report.KV
	for _, k := range sortedKeys(s.Fixed) {
		kv = append(kv, report.KV{Key: k, Value: fmt.Sprint(s.Fixed[k])})
	}
	for _, a := range s.Axes {
		if a.Name == "seed" {
			var vs []string
			for _, v := range expandAxis(a) {
				vs = append(vs, fmt.Sprint(v))
			}
			kv = append(kv, report.KV{Key: "seeds (one run each)", Value: strings.Join(vs, ", ")})
		}
	}
	for _, r := range fd.records[name] {
		if r.Kind != task.KindTrain {
			continue
		}
		var tr train.Result
		if r.Decode(&tr) == nil && tr.Setup.StepsPerEpoch > 0 && tr.Setup.EvalEvery > 0 {
			kv = append(kv, report.KV{Key: "evaluation cadence", Value: fmt.Sprintf(
				"every %d steps = %.4g epochs (%d steps per epoch), on the first %d test images; epochs to the target are read at these evaluations",
				tr.Setup.EvalEvery, float64(tr.Setup.EvalEvery)/float64(tr.Setup.StepsPerEpoch), tr.Setup.StepsPerEpoch, tr.Setup.EvalSamples)})
		}
		break
	}
	return kv
}

// expandAxis lists a values or range axis's values.
func expandAxis(a experiment.Axis) []any {
	if a.Range == nil {
		return a.Values
	}
	step := 1
	if len(a.Range) == 3 {
		step = a.Range[2]
	}
	var vs []any
	for i := a.Range[0]; i < a.Range[1]; i += step {
		vs = append(vs, i)
	}
	return vs
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// writeResultsCSV writes one row per task: its sweep, kind, status, params,
// the key numbers of its result and its error.
func writeResultsCSV(res *experiment.Results, out *outputs, rd *Rendered) error {
	type row struct {
		sweep string
		task  experiment.Task
		rec   *experiment.Record
	}
	var rows []row
	seen := map[string]bool{}
	for _, s := range res.Sweeps {
		for _, t := range res.Tasks[s.Name] {
			if seen[t.ID] {
				continue
			}
			seen[t.ID] = true
			r := row{sweep: s.Name, task: t}
			if rec, ok := res.Record(t.ID); ok {
				r.rec = &rec
			}
			rows = append(rows, r)
		}
	}
	if len(res.Sweeps) == 0 {
		for i := range res.Records {
			rows = append(rows, row{task: res.Records[i].Task(), rec: &res.Records[i]})
		}
	}
	for _, r := range res.Extra {
		rows = append(rows, row{sweep: "(not in any sweep)", task: r.Task(), rec: &r})
	}
	paramNames := map[string]bool{}
	for _, r := range rows {
		for k := range r.task.Params {
			paramNames[k] = true
		}
	}
	names := sortedKeys(paramNames)
	header := append([]string{"id", "sweep", "kind", "status"}, names...)
	header = append(header, resultColumns...)
	header = append(header, "seconds", "host", "shard", "error")
	var cells [][]string
	for _, r := range rows {
		status := "missing"
		if r.rec != nil {
			status = string(r.rec.Status)
		}
		if r.sweep != "(not in any sweep)" {
			rd.Tasks++
			switch status {
			case "missing":
				rd.Missing++
			case string(experiment.StatusFailed):
				rd.Failed++
			default:
				rd.Done++
			}
		}
		line := []string{r.task.ID, r.sweep, r.task.Kind, status}
		for _, n := range names {
			v, ok := r.task.Params[n]
			if !ok {
				line = append(line, "")
				continue
			}
			line = append(line, fmt.Sprint(v))
		}
		var secs, host, shard, errText string
		result := make([]string, len(resultColumns))
		if r.rec != nil {
			result = resultCells(*r.rec)
			secs = fmt.Sprintf("%.3f", r.rec.Finished.Sub(r.rec.Started).Seconds())
			host, shard, errText = r.rec.Host, r.rec.Shard, r.rec.Error
		}
		line = append(line, result...)
		cells = append(cells, append(line, secs, host, shard, errText))
	}
	return out.csv(ResultsCSV, header, cells)
}

// resultColumns are the result columns of results.csv.
var resultColumns = []string{
	"output_layer", "theory_log10_mean_ratio", "theory_log10_mean_ratio_lower", "theory_log10_mean_ratio_upper",
	"theory_log_var", "fm1", "fm2", "beta",
	"measured_mean_ratio", "measured_mean_ratio_se", "measured_log10_mean_ratio", "measured_log_var", "heavy_tail",
	"empirical_variance", "empirical_variance_se", "theory_empirical_variance",
	"reached_target", "epochs_to_target", "final_test_accuracy", "diverged", "backend",
}

// resultCells are a done record's result columns (empty for other kinds and
// failed records).
func resultCells(rec experiment.Record) []string {
	c := make([]string, len(resultColumns))
	if rec.Status != experiment.StatusDone {
		return c
	}
	set := func(name, v string) {
		for i, n := range resultColumns {
			if n == name {
				c[i] = v
			}
		}
	}
	theoryCells := func(l theory.Layer) {
		set("theory_log10_mean_ratio", csvFloat(float64(l.Log10MeanRatio)))
		set("theory_log10_mean_ratio_lower", csvFloat(float64(l.Log10MeanRatioLower)))
		set("theory_log10_mean_ratio_upper", csvFloat(float64(l.Log10MeanRatioUpper)))
		set("theory_log_var", csvFloat(float64(l.LogVar)))
	}
	switch rec.Kind {
	case task.KindPredict:
		var r task.PredictResult
		if rec.Decode(&r) != nil {
			return c
		}
		if out, err := r.Output(); err == nil {
			theoryCells(out)
		}
		set("output_layer", fmt.Sprint(r.OutputLayer))
		set("fm1", r.FM1)
		set("fm2", r.FM2)
		set("beta", csvFloat(r.Beta))
		set("theory_empirical_variance", csvFloat(float64(r.EmpiricalVariance.Relative)))
	case task.KindProbe:
		var r task.ProbeResult
		if rec.Decode(&r) != nil {
			return c
		}
		if out, err := r.Output(); err == nil {
			theoryCells(out.Theory)
			set("measured_mean_ratio", csvFloat(float64(out.MeanRatio)))
			set("measured_mean_ratio_se", csvFloat(float64(out.MeanRatioSE)))
			set("measured_log10_mean_ratio", csvFloat(float64(out.Log10MeanRatio)))
			set("measured_log_var", csvFloat(float64(out.LogVar)))
			set("heavy_tail", fmt.Sprint(out.HeavyTail))
		}
		set("output_layer", fmt.Sprint(r.OutputLayer))
		set("empirical_variance", csvFloat(float64(r.EmpiricalVariance.Mean)))
		set("empirical_variance_se", csvFloat(float64(r.EmpiricalVariance.SE)))
		set("theory_empirical_variance", csvFloat(float64(r.EmpiricalVariance.TheoryMean)))
		set("backend", r.Backend)
	case task.KindTrain:
		var r train.Result
		if rec.Decode(&r) != nil {
			return c
		}
		set("reached_target", fmt.Sprint(r.ReachedTarget))
		if r.EpochsToTarget != nil {
			set("epochs_to_target", csvFloat(*r.EpochsToTarget))
		}
		if r.FinalTestAccuracy != nil {
			set("final_test_accuracy", csvFloat(*r.FinalTestAccuracy))
		}
		set("diverged", fmt.Sprint(r.Diverged))
		set("backend", r.Backend)
	}
	return c
}

// writeReport writes report.html: the claims with their plots, tables and
// settings, and what ran where.
func writeReport(res *experiment.Results, secs []section, rd *Rendered, out *outputs) error {
	doc := report.Document{
		Title: "initscope reproduce: Hanin & Rolnick (NeurIPS 2018), Figures 1-3 and the predictive zoo",
		Intro: "Each section states a claim of the paper, the criterion by which code decides whether our measurements support it, " +
			"the verdict, the numbers behind it, the plots and the settings. \"Did not reach\" means the run did not reach the target " +
			"test accuracy within the epoch cap (or diverged); such runs are never averaged in as a number. Epoch means are over the " +
			"runs that reached the target and are shown only when at least half of the runs did.",
		Meta: runMeta(res, rd),
	}
	for _, s := range secs {
		doc.Sections = append(doc.Sections, report.Section{
			Title: s.claim.Title, Claim: s.claim.Statement, Criterion: s.claim.Criterion,
			Verdict: s.claim.Verdict, Measured: s.claim.Measured,
			Settings: s.settings, Figures: s.figures, Tables: s.tables,
		})
	}
	var b bytes.Buffer
	if err := doc.WriteHTML(&b); err != nil {
		return err
	}
	return out.write(ReportHTML, b.Bytes())
}

// runMeta describes what ran: versions, backends, hosts, shards, times.
func runMeta(res *experiment.Results, rd *Rendered) []report.KV {
	versions, backends, hosts, shards := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	var first, last time.Time
	var busy time.Duration
	for _, r := range res.Records {
		versions[orUnknown(r.Version)] = true
		if r.Backend != "" {
			backends[r.Backend] = true
		}
		hosts[r.Host] = true
		shards[r.Shard] = true
		if first.IsZero() || r.Started.Before(first) {
			first = r.Started
		}
		if r.Finished.After(last) {
			last = r.Finished
		}
		busy += r.Finished.Sub(r.Started)
	}
	var verdicts []string
	for _, c := range rd.Claims {
		verdicts = append(verdicts, fmt.Sprintf("%s %s", c.Panel, c.Verdict))
	}
	kv := []report.KV{
		{Key: "verdicts", Value: strings.Join(verdicts, "; ")},
		{Key: "tasks", Value: fmt.Sprintf("%d in the grid: %d done, %d failed, %d never run", rd.Tasks, rd.Done, rd.Failed, rd.Missing)},
		{Key: "initscope version", Value: strings.Join(sortedKeys(versions), ", ")},
		{Key: "BLAS backend", Value: strings.Join(sortedKeys(backends), ", ")},
		{Key: "hosts", Value: strings.Join(sortedKeys(hosts), ", ")},
		{Key: "shards", Value: strings.Join(sortedKeys(shards), ", ")},
		{Key: "compute time", Value: fmt.Sprintf("%.0f s of task time (sum over tasks)", busy.Seconds())},
		{Key: "results", Value: fmt.Sprintf("%s (the shard-*.jsonl files; the sweeps in %s/)", res.Dir, experiment.SweepDir)},
		{Key: "sweeps", Value: sweepList(res)},
	}
	if !first.IsZero() {
		kv = append(kv, report.KV{Key: "ran", Value: fmt.Sprintf("%s to %s (UTC)", first.Format(time.DateTime), last.Format(time.DateTime))})
	}
	return kv
}

// sweepList names the sweeps of the results with their descriptions.
func sweepList(res *experiment.Results) string {
	var parts []string
	for _, s := range res.Sweeps {
		parts = append(parts, fmt.Sprintf("%s: %s (%d tasks)", s.Name, s.Description, len(res.Tasks[s.Name])))
	}
	return strings.Join(parts, "; ")
}

// orUnknown returns s, or "unknown" if it is empty.
func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// each decodes the result of every done record of a sweep into a new T and
// passes both to f.
func each[T any](fd *figureData, sweep string, f func(r experiment.Record, v *T) error) error {
	for _, r := range fd.records[sweep] {
		v := new(T)
		if err := r.Decode(v); err != nil {
			return err
		}
		if err := f(r, v); err != nil {
			return fmt.Errorf("task %s (%s): %v", r.ID, r.Kind, err)
		}
	}
	return nil
}
