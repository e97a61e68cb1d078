package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/initscope/initscope/num"
	"github.com/initscope/initscope/probe"
	"github.com/initscope/initscope/task"
)

// probeRequest is the body of /api/probe: a design and the probe's
// settings, as `initscope probe` takes them.
type probeRequest struct {
	Design
	Samples int    `json:"samples"`
	Seed    uint64 `json:"seed"`
	Method  string `json:"method,omitempty"`
}

// probeOptionFields maps probe's option names to the page's fields, as
// the CLI maps them to its flags.
var probeOptionFields = map[string]string{
	"net": "arch", "init": "init", "input": "input",
	"samples": "samples", "method": "method", "workers": "workers",
}

// ProbeEvent is the data of the stream's progress events.
type ProbeEvent struct {
	// Done is the samples drawn so far in the round running.
	Done int `json:"done"`
	// Total is the probe's samples; Summarized how many the last partial
	// result holds.
	Total      int `json:"total"`
	Summarized int `json:"summarized"`
	// Fraction is the share of the whole run's work done.
	Fraction float64 `json:"fraction"`
	// ElapsedS is the time since the probe started, in seconds.
	ElapsedS float64 `json:"elapsed_s"`
}

// ProbeView is a probe's result as the page draws it: each layer's
// measurements in log10 of M_j/M_0 beside the theory's, with the report's
// flags. A partial view holds the first Samples of the probe's samples:
// sample i draws from the stream (seed, i), so a run of n samples is the
// prefix of a longer one, and the final view is what `initscope probe`
// gives for the same seed and samples.
type ProbeView struct {
	Samples int          `json:"samples"`
	Total   int          `json:"total"`
	Final   bool         `json:"final"`
	Seed    uint64       `json:"seed"`
	Method  probe.Method `json:"method"`
	Backend string       `json:"backend"`
	Workers int          `json:"workers"`
	Layers  []ProbeLayer `json:"layers"`
	Flags   []string     `json:"flags"`
	// HeavyTail lists the layers whose mean is carried by rare samples.
	HeavyTail []int   `json:"heavy_tail"`
	ElapsedS  float64 `json:"elapsed_s"`
}

// ProbeLayer is one layer measured: log10 of the sample mean of M_j/M_0
// with the ends of mean -+ 2 SE (Lo is null where mean - 2 SE <= 0), the
// 5%, 50% and 95% quantiles of M_j/M_0 in log10 (null for a dead 5%), the
// mean and standard deviation of ln(M_j/M_0) with the mean's SE, the dead
// fraction and the z-scores against the exact theory.
type ProbeLayer struct {
	Index       int        `json:"index"`
	Log10Mean   num.Number `json:"log10_mean"`
	Log10MeanLo num.Number `json:"log10_mean_lo"`
	Log10MeanHi num.Number `json:"log10_mean_hi"`
	Log10P05    num.Number `json:"log10_p05"`
	Log10P50    num.Number `json:"log10_p50"`
	Log10P95    num.Number `json:"log10_p95"`
	LogMean     num.Number `json:"log_mean"`
	LogMeanSE   num.Number `json:"log_mean_se"`
	LogSD       num.Number `json:"log_sd"`
	Dead        num.Number `json:"dead_fraction"`
	HeavyTail   bool       `json:"heavy_tail"`
	ZMean       num.Number `json:"z_mean"`
	ZLogMean    num.Number `json:"z_log_mean"`
	ZLogVar     num.Number `json:"z_log_var"`
}

// rounds are the sample counts of a probe's rounds: an eighth, a quarter,
// a half of n, then n (at least 2 each), so that the page sees the
// measurements settle. Each round redraws the samples of the one before (a
// prefix of its own), which costs at most 7/8 more than one run of n.
func rounds(n int) []int {
	var out []int
	for k := 3; k >= 0; k-- {
		m := max(2, n>>k)
		if len(out) == 0 || m > out[len(out)-1] {
			out = append(out, m)
		}
	}
	return out
}

func (s *Server) handleProbe(w http.ResponseWriter, r *http.Request) {
	var req probeRequest
	if code, err := s.readJSON(w, r, &req); err != nil {
		writeError(w, code, err)
		return
	}
	if req.Samples < 2 || req.Samples > s.cfg.MaxSamples {
		writeJSON(w, http.StatusBadRequest, apiError{Error: fmt.Sprintf("--samples: %d: want 2 to %d (--max-samples of the server)", req.Samples, s.cfg.MaxSamples), Field: "samples"})
		return
	}
	if req.Method == "" {
		req.Method = string(task.DefaultMethod)
	}
	method, err := probe.ParseMethod(req.Method)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: oneLine("--method: " + err.Error()), Field: "method"})
		return
	}
	if req.M0 != "" {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "--m0: probe pushes a real input through each net: give --input instead", Field: "m0"})
		return
	}
	setup, err := s.resolve(req.Design)
	if err != nil {
		code, e := designError(req.Design, err)
		writeJSON(w, code, e)
		return
	}
	pred, err := setup.Predict()
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if !acquire(s.probes) {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("busy: the server runs at most %d probe(s) at once (--max-probes); wait for the running one to finish, or cancel it", s.cfg.MaxProbes))
		return
	}
	defer func() { <-s.probes }()

	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ProbeTimeout)
	defer cancel()
	stream := newEventStream(w)
	start := time.Now()
	sizes := rounds(req.Samples)
	work := 0
	for _, n := range sizes {
		work += n
	}
	before, summarized := 0, 0
	for i, n := range sizes {
		opt := probe.Options{
			Net: setup.Net, Init: setup.Init, Input: setup.Input.X,
			Samples: n, Seed: req.Seed, Method: method, Workers: s.probeWorkers(),
			Progress: func(done, _ int) {
				stream.send("progress", ProbeEvent{
					Done: done, Total: req.Samples, Summarized: summarized,
					Fraction: float64(before+done) / float64(work), ElapsedS: time.Since(start).Seconds(),
				})
			},
		}
		res, err := probe.Run(ctx, opt)
		if err != nil {
			stream.send("error", probeError(err, s.cfg.ProbeTimeout))
			return
		}
		rep, err := probe.Compare(res, pred)
		if err != nil {
			stream.send("error", apiError{Error: oneLine(err.Error())})
			return
		}
		before, summarized = before+n, n
		final := i == len(sizes)-1
		view := probeView(res, rep, req.Samples, final, time.Since(start))
		name := "partial"
		if final {
			name = "done"
		}
		if !stream.send(name, view) {
			return // the page went away
		}
	}
}

// probeError is the stream's error event for an error of probe.Run.
func probeError(err error, limit time.Duration) apiError {
	var oe *probe.OptionError
	switch {
	case errors.As(err, &oe):
		field := probeOptionFields[oe.Option]
		return apiError{Error: oneLine("--" + field + ": " + oe.Msg), Field: field}
	case errors.Is(err, context.DeadlineExceeded):
		return apiError{Error: fmt.Sprintf("the probe took longer than %v (--probe-timeout): ask for fewer samples or a smaller net", limit)}
	case errors.Is(err, context.Canceled):
		return apiError{Error: "the probe was cancelled"}
	}
	return apiError{Error: oneLine(err.Error())}
}

// probeView puts a result in the page's terms.
func probeView(res *probe.Result, rep *probe.Report, total int, final bool, elapsed time.Duration) ProbeView {
	v := ProbeView{
		Samples: res.Samples, Total: total, Final: final, Seed: res.Seed,
		Method: res.Method, Backend: res.Backend, Workers: res.Workers,
		Flags: rep.Flags, HeavyTail: []int{}, ElapsedS: elapsed.Seconds(),
	}
	if v.Flags == nil {
		v.Flags = []string{}
	}
	for _, l := range rep.Layers {
		pl := ProbeLayer{
			Index: l.Index, Log10Mean: l.Log10MeanRatio, Log10MeanLo: num.Unknown, Log10MeanHi: num.Unknown,
			Log10P05: lnToLog10(l.LogQuantiles.P05), Log10P50: lnToLog10(l.LogQuantiles.P50), Log10P95: lnToLog10(l.LogQuantiles.P95),
			LogMean: l.LogMean, LogMeanSE: l.LogMeanSE, LogSD: sqrtNum(l.LogVar), Dead: l.DeadFraction,
			HeavyTail: l.HeavyTail, ZMean: l.Z.MeanRatio, ZLogMean: l.Z.LogMean, ZLogVar: l.Z.LogVar,
		}
		if m, se := float64(l.MeanRatio), float64(l.MeanRatioSE); l.MeanRatio.Known() && l.MeanRatioSE.Known() && m > 0 {
			pl.Log10MeanHi = num.Number(math.Log10(m + 2*se))
			if m > 2*se {
				pl.Log10MeanLo = num.Number(math.Log10(m - 2*se))
			}
		}
		if l.HeavyTail {
			v.HeavyTail = append(v.HeavyTail, l.Index)
		}
		v.Layers = append(v.Layers, pl)
	}
	return v
}

// lnToLog10 converts a natural log to log10; unknown stays unknown (a dead
// quantile, ln 0 = -Inf, is unknown in JSON).
func lnToLog10(x num.Number) num.Number { return num.Number(float64(x) / math.Ln10) }

func sqrtNum(x num.Number) num.Number {
	if !x.Known() || x < 0 {
		return num.Unknown
	}
	return num.Number(math.Sqrt(float64(x)))
}

// eventStream writes server-sent events, flushing each.
type eventStream struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	failed bool
}

func newEventStream(w http.ResponseWriter) *eventStream {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return &eventStream{w: w, rc: http.NewResponseController(w)}
}

// send writes one event with v as its JSON data; false once a write has
// failed (the page went away).
func (e *eventStream) send(event string, v any) bool {
	if e.failed {
		return false
	}
	b, err := json.Marshal(v)
	if err == nil {
		_, err = fmt.Fprintf(e.w, "event: %s\ndata: %s\n\n", event, b)
	}
	if err == nil {
		err = e.rc.Flush()
	}
	e.failed = err != nil
	return !e.failed
}
