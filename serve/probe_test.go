package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/initscope/initscope/probe"
	"github.com/initscope/initscope/task"
)

func TestRounds(t *testing.T) {
	cases := map[int][]int{
		1000: {125, 250, 500, 1000},
		10:   {2, 5, 10},
		2:    {2},
		3:    {2, 3},
		17:   {2, 4, 8, 17},
	}
	for n, want := range cases {
		if got := rounds(n); !reflect.DeepEqual(got, want) {
			t.Errorf("rounds(%d) = %v, want %v", n, got, want)
		}
	}
}

// startProbe posts a probe request and returns the response, whose body
// streams the events.
func startProbe(t *testing.T, ctx context.Context, url string, req probeRequest) *http.Response {
	t.Helper()
	b, _ := json.Marshal(req)
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/api/probe", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestProbeStream runs a probe through the endpoint: the partial results
// of its rounds hold the first 1/8, 1/4, 1/2 of the samples and the last
// all of them, equal to probe.Run's for the same seed and samples (what
// `initscope probe` prints); the exact He prediction lies within 4 SE of
// the measured mean of ln M_j.
func TestProbeStream(t *testing.T) {
	_, ts := newTestServer(t, testConfig())
	d := Design{Arch: "fc:784-50x10-10", Init: "he-normal", Input: "ones"}
	resp := startProbe(t, context.Background(), ts.URL, probeRequest{Design: d, Samples: 800, Seed: 7})
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var samples []int
	var final ProbeView
	progress := 0
	for _, e := range readEvents(t, resp.Body, nil) {
		switch e.name {
		case "progress":
			progress++
		case "partial", "done":
			var v ProbeView
			if err := json.Unmarshal(e.data, &v); err != nil {
				t.Fatal(err)
			}
			samples = append(samples, v.Samples)
			if v.Final != (e.name == "done") || v.Total != 800 {
				t.Errorf("%s event: final %v, total %d", e.name, v.Final, v.Total)
			}
			final = v
		case "error":
			t.Fatalf("error event: %s", e.data)
		}
	}
	if !reflect.DeepEqual(samples, []int{100, 200, 400, 800}) || progress == 0 {
		t.Fatalf("rounds of %v samples, %d progress events: want 100, 200, 400, 800 and some progress", samples, progress)
	}

	setup, err := task.Resolve(d.spec())
	if err != nil {
		t.Fatal(err)
	}
	res, err := probe.Run(context.Background(), probe.Options{Net: setup.Net, Init: setup.Init, Input: setup.Input.X, Samples: 800, Seed: 7, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(final.Layers) != len(res.Layers) {
		t.Fatalf("%d layers streamed, probe.Run has %d", len(final.Layers), len(res.Layers))
	}
	pred, err := setup.Predict()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range final.Layers {
		if got, want := float64(l.Log10Mean), res.Layers[i].Log10Mean; math.Abs(got-want) > 1e-12 {
			t.Errorf("layer %d: log10 mean %g, probe.Run %g", i+1, got, want)
		}
		if got, want := float64(l.Log10P50)*math.Ln10, res.Layers[i].LogQuantiles[1]; math.Abs(got-want) > 1e-12 {
			t.Errorf("layer %d: median ln %g, probe.Run %g", i+1, got, want)
		}
		theory := float64(pred.Layers[i].LogMean)
		if z := (float64(l.LogMean) - theory) / float64(l.LogMeanSE); math.Abs(z) > 4 {
			t.Errorf("layer %d: E[ln M/M0] measured %g +- %g, exact theory %g (z = %.1f)", i+1, float64(l.LogMean), float64(l.LogMeanSE), theory, z)
		}
	}
}

// TestProbeRequests checks the probe's settings are checked before it
// starts, with the CLI's messages.
func TestProbeRequests(t *testing.T) {
	cfg := testConfig()
	cfg.MaxSamples = 5000
	_, ts := newTestServer(t, cfg)
	d := Design{Arch: "fc:784-50x3-10", Init: "he-normal", Input: "ones"}
	cases := []struct {
		req   probeRequest
		field string
		msg   string
	}{
		{probeRequest{Design: d, Samples: 5001}, "samples", "want 2 to 5000"},
		{probeRequest{Design: d, Samples: 1}, "samples", "want 2 to 5000"},
		{probeRequest{Design: d, Samples: 100, Method: "fast"}, "method", "fast"},
		{probeRequest{Design: Design{Arch: "fc:784-50-10", Init: "he-normal", M0: "1"}, Samples: 100}, "m0", "give --input instead"},
		{probeRequest{Design: Design{Arch: "fc:784-50-1a0", Init: "he-normal"}, Samples: 100}, "arch", `element 3 "1a0"`},
	}
	for _, c := range cases {
		var e apiError
		if code := post(t, ts, "/api/probe", c.req, &e); code != http.StatusBadRequest || e.Field != c.field || !strings.HasPrefix(e.Error, "--"+c.field+": ") || !strings.Contains(e.Error, c.msg) {
			t.Errorf("%+v: status %d, %+v: want 400 about %s with %q", c.req, code, e, c.field, c.msg)
		}
	}
	// The exact sampler refuses biases: an error event naming --method.
	resp := startProbe(t, context.Background(), ts.URL, probeRequest{Design: Design{Arch: "fc:784-50-10", Init: "pytorch-default", Input: "ones"}, Samples: 10, Method: "exact"})
	defer resp.Body.Close()
	evs := readEvents(t, resp.Body, nil)
	if len(evs) == 0 || evs[len(evs)-1].name != "error" || !strings.Contains(string(evs[len(evs)-1].data), `"field":"method"`) {
		t.Errorf("exact sampler with biases: events %v, want an error about --method", evs)
	}
}

// slowProbe is a probe that takes seconds: real float32 networks.
var slowProbe = probeRequest{Design: Design{Arch: "fc:784-64x20-10", Init: "he-uniform", Input: "ones"}, Samples: 100000, Seed: 1, Method: "network"}

// TestProbeBusyAndCancel fills the one probe slot with a long probe:
// another is refused as busy with a message naming --max-probes; cancelling
// the first (the page's Cancel closes the stream) frees the slot.
func TestProbeBusyAndCancel(t *testing.T) {
	s, ts := newTestServer(t, testConfig())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := startProbe(t, ctx, ts.URL, slowProbe)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("first probe: status %d", resp.StatusCode)
	}
	streamed := make(chan struct{})
	go func() {
		defer resp.Body.Close()
		once := false
		readEvents(t, resp.Body, func(event) {
			if !once {
				once = true
				close(streamed)
			}
		})
	}()
	select {
	case <-streamed:
	case <-time.After(20 * time.Second):
		t.Fatal("no event from the first probe in 20 s")
	}
	var e apiError
	if code := post(t, ts, "/api/probe", probeRequest{Design: Design{Arch: "fc:784-50-10", Init: "he-normal", Input: "ones"}, Samples: 10}, &e); code != http.StatusServiceUnavailable || !strings.Contains(e.Error, "busy") || !strings.Contains(e.Error, "--max-probes") {
		t.Errorf("second probe: status %d, %q: want 503, busy, --max-probes", code, e.Error)
	}
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.probes) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the probe slot was not freed 10 s after the page cancelled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp = startProbe(t, context.Background(), ts.URL, probeRequest{Design: Design{Arch: "fc:784-50-10", Init: "he-normal", Input: "ones"}, Samples: 10})
	defer resp.Body.Close()
	evs := readEvents(t, resp.Body, nil)
	if resp.StatusCode != http.StatusOK || len(evs) == 0 || evs[len(evs)-1].name != "done" {
		t.Errorf("probe after the cancel: status %d, %d events", resp.StatusCode, len(evs))
	}
}

// TestProbeTimeout checks that a probe past --probe-timeout ends with an
// error event that names the limit.
func TestProbeTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.ProbeTimeout = 200 * time.Millisecond
	_, ts := newTestServer(t, cfg)
	start := time.Now()
	resp := startProbe(t, context.Background(), ts.URL, slowProbe)
	defer resp.Body.Close()
	evs := readEvents(t, resp.Body, nil)
	last := evs[len(evs)-1]
	if last.name != "error" || !strings.Contains(string(last.data), "--probe-timeout") {
		t.Errorf("last event %s %s: want an error naming --probe-timeout", last.name, last.data)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("the probe ran %v past a limit of 200 ms", el)
	}
}
