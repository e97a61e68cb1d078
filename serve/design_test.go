package serve

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/initscope/initscope/task"
	"github.com/initscope/initscope/weightinit"
)

// TestPredictNumbers checks the design endpoint's numbers against the
// closed forms of THEORY.md section 2, computed here: He weights keep
// E[M_j] = M_0 through the ReLU layers and double it at the linear
// output (c = 2); PyTorch's default multiplies E[M] by c/2 = 1/6 a layer
// and adds sigma_b^2/2 = 1/(6 fan_in) from the biases.
func TestPredictNumbers(t *testing.T) {
	_, ts := newTestServer(t, testConfig())
	var he DesignResult
	if code := post(t, ts, "/api/predict", Design{Arch: "fc:784-100x50-10", Init: "he-normal", M0: "1"}, &he); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if len(he.Layers) != 51 || he.Depth != 50 || math.Abs(he.Beta-0.5) > 1e-12 {
		t.Fatalf("%d layers, depth %d, beta %g: want 51, 50, 0.5", len(he.Layers), he.Depth, he.Beta)
	}
	for _, l := range he.Layers[:50] {
		if math.Abs(float64(l.Log10Mean)) > 1e-9 {
			t.Errorf("he-normal layer %d: log10 E[M]/M0 = %g, want 0", l.Index, float64(l.Log10Mean))
		}
	}
	if got := float64(he.Layers[50].Log10Mean); math.Abs(got-math.Log10(2)) > 1e-9 {
		t.Errorf("he-normal output layer: log10 E[M]/M0 = %g, want log10 2", got)
	}
	if he.FM1.Verdict != "ok" {
		t.Errorf("he-normal FM1 = %s, want ok", he.FM1.Verdict)
	}
	// Var[ln R] of a He ReLU layer of width n (THEORY 3.1): the exact law
	// gives about 5/n; 50 layers of 100 give V near 2.5: a warning.
	if he.FM2.Verdict != "warning" {
		t.Errorf("he-normal FM2 = %s, want warning", he.FM2.Verdict)
	}

	var pt DesignResult
	if code := post(t, ts, "/api/predict", Design{Arch: "fc:784-100x3-10", Init: "pytorch-default", M0: "1"}, &pt); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	m := 1.0
	fanIn := 784.0
	for j := 0; j < 3; j++ {
		m = m/6 + 1/(6*fanIn)
		fanIn = 100
		if got := float64(pt.Layers[j].Log10Mean); math.Abs(got-math.Log10(m)) > 1e-9 {
			t.Errorf("pytorch-default layer %d: log10 E[M]/M0 = %.12g, want %.12g", j+1, got, math.Log10(m))
		}
	}
	// The signal gain P = (1/6)^3 (1/3) = 1/648 at the linear output: below 10^-2.
	if pt.FM1.Verdict != "vanishing" || pt.Init != "pytorch-default" || pt.BiasLaw != "uniform:1/3/fan_in" {
		t.Errorf("pytorch-default 3 layers: FM1 %s, init %s, biases %s", pt.FM1.Verdict, pt.Init, pt.BiasLaw)
	}
}

// TestPredictDefaultInput checks that the default input is the CLI's
// (test image 0 of MNIST for 784 inputs), read once and then kept.
func TestPredictDefaultInput(t *testing.T) {
	s, ts := newTestServer(t, testConfig())
	want, err := task.Resolve(task.Spec{Arch: "fc:784-10-10", Init: "he-normal"})
	if err != nil {
		t.Skipf("the default input cannot be read here: %v", err)
	}
	for range 2 {
		var r DesignResult
		if code := post(t, ts, "/api/predict", Design{Arch: "fc:784-100-10", Init: "he-normal"}, &r); code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
		if !strings.HasPrefix(r.Input, want.Input.Name+": ") {
			t.Errorf("input %q, want %s", r.Input, want.Input.Name)
		}
	}
	if len(s.inputs) != 1 {
		t.Errorf("%d inputs kept after two requests with the same input, want 1", len(s.inputs))
	}
}

// TestPredictErrors checks that a bad design gets the CLI's one-line error
// naming its flag, and for the net, the span of the wrong item.
func TestPredictErrors(t *testing.T) {
	_, ts := newTestServer(t, testConfig())
	jsonSpec := `{"input": [784], "layers": [{"type": "dense", "units": 100}, {"type": "bogus"}]}`
	cases := []struct {
		d     Design
		field string
		item  string // the text the span must cover; "" for no span
		msg   string
	}{
		{Design{Arch: "net:784,dense100,foo3,dense10", Init: "he-normal", M0: "1"}, "arch", "foo3", `item 3 "foo3"`},
		{Design{Arch: "fc:784-100x0-10", Init: "he-normal", M0: "1"}, "arch", "100x0", "repeat 0"},
		{Design{Arch: "  fc:784-abc-10", Init: "he-normal", M0: "1"}, "arch", "abc", `width "abc"`},
		{Design{Arch: "fc:784x2-10", Init: "he-normal", M0: "1"}, "arch", "784x2", "cannot repeat"},
		{Design{Arch: "fc:784-100x3-99999999x2-10", Init: "he-normal", M0: "1"}, "arch", "99999999x2", "layer item 4"},
		{Design{Arch: "net:784,dense100,resdense100x5:eta=zz,dense10", Init: "he-normal", M0: "1"}, "arch", "resdense100x5:eta=zz", "eta"},
		{Design{Arch: "net:1x28x28,conv16k3,dense10", Init: "he-normal", M0: "1"}, "arch", "dense10", "flatten or gap"},
		{Design{Arch: "net:0,dense10", Init: "he-normal", M0: "1"}, "arch", "0", "input"},
		{Design{Arch: "net:784,dénse10,dense10", Init: "he-normal", M0: "1"}, "arch", "dénse10", "item 2"},
		{Design{Arch: jsonSpec, Init: "he-normal", M0: "1"}, "arch", `{"type": "bogus"}`, "layer item 2"},
		{Design{Arch: "foo:1", Init: "he-normal", M0: "1"}, "arch", "", "must start with fc:, net: or {"},
		{Design{Arch: "", Init: "he-normal", M0: "1"}, "arch", "", "missing"},
		{Design{Arch: "fc:784-10-10", Init: "he-nromal", M0: "1"}, "init", "", "he-nromal"},
		{Design{Arch: "fc:784-10-10", Init: "he-normal", Bias: "cauchy:1", M0: "1"}, "bias", "", "cauchy"},
		{Design{Arch: "fc:784-10-10", Init: "he-normal", Input: "mnist:99999"}, "input", "", "99999"},
		{Design{Arch: "fc:784-10-10", Init: "he-normal", M0: "-1"}, "m0", "", `"-1"`},
		{Design{Arch: "fc:784-10-10", Init: "he-normal", M0: "1", Input: "ones"}, "m0", "", "not both"},
	}
	for _, c := range cases {
		var e apiError
		if code := post(t, ts, "/api/predict", c.d, &e); code != http.StatusBadRequest {
			t.Errorf("%+v: status %d, want 400", c.d, code)
			continue
		}
		if e.Field != c.field || !strings.HasPrefix(e.Error, "--"+c.field+": ") || !strings.Contains(e.Error, c.msg) || strings.Contains(e.Error, "\n") {
			t.Errorf("%+v: field %q, error %q: want field %s, an error starting --%s: with %q, on one line", c.d, e.Field, e.Error, c.field, c.field, c.msg)
		}
		// The CLI's message: the same as task.Resolve's error behind "--".
		if _, err := task.Resolve(c.d.spec()); err == nil || "--"+oneLine(err.Error()) != e.Error {
			t.Errorf("%+v: error %q, want the CLI's --%v", c.d, e.Error, err)
		}
		if c.item == "" {
			if e.Span != nil {
				t.Errorf("%+v: span %v, want none", c.d, *e.Span)
			}
			continue
		}
		if e.Span == nil {
			t.Errorf("%+v: no span, want one over %q", c.d, c.item)
			continue
		}
		u := utf16.Encode([]rune(c.d.Arch))
		if got := string(utf16.Decode(u[e.Span[0]:e.Span[1]])); got != c.item {
			t.Errorf("%+v: span %v covers %q, want %q", c.d, *e.Span, got, c.item)
		}
	}
}

// TestPredictRequests checks the limits of the endpoint: POST only, JSON
// only, bodies of at most MaxBody bytes, no unknown fields, the time limit.
func TestPredictRequests(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBody = 200
	_, ts := newTestServer(t, cfg)
	code, hdr, body := get(t, ts, "/api/predict", nil)
	if code != http.StatusMethodNotAllowed || hdr.Get("Allow") != http.MethodPost || !strings.Contains(string(body), "want POST") {
		t.Errorf("GET /api/predict: %d, Allow %q, %s", code, hdr.Get("Allow"), body)
	}
	resp, err := http.Post(ts.URL+"/api/predict", "text/plain", strings.NewReader(`{"arch":"fc:784-10-10","init":"he-normal"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain body: status %d, want 415", resp.StatusCode)
	}
	var e apiError
	if code := post(t, ts, "/api/predict", map[string]string{"arch": "fc:784-" + strings.Repeat("10-", 100) + "10", "init": "he-normal"}, &e); code != http.StatusRequestEntityTooLarge || !strings.Contains(e.Error, "--max-body") {
		t.Errorf("a body over 200 bytes: status %d, %q", code, e.Error)
	}
	if code := post(t, ts, "/api/predict", map[string]string{"arch": "fc:784-10-10", "innit": "he-normal"}, &e); code != http.StatusBadRequest || !strings.Contains(e.Error, "innit") {
		t.Errorf("an unknown field: status %d, %q", code, e.Error)
	}

	cfg = testConfig()
	cfg.Timeout = 1000 // ns: no prediction of 1000 layers is that fast
	_, ts = newTestServer(t, cfg)
	if code := post(t, ts, "/api/predict", Design{Arch: "fc:784-100x1000-10", Init: "he-normal", M0: "1"}, &e); code != http.StatusServiceUnavailable || !strings.Contains(e.Error, "--timeout") {
		t.Errorf("past the time limit: status %d, %q", code, e.Error)
	}
}

// TestMeta checks the page's settings: every preset, the examples (each
// a design that predicts without error) and the limits in force.
func TestMeta(t *testing.T) {
	cfg := testConfig()
	cfg.MaxProbes = 3
	_, ts := newTestServer(t, cfg)
	var m Meta
	if code, _, body := get(t, ts, "/api/meta", &m); code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	if len(m.Presets) != len(weightinit.Presets()) || m.Limits.MaxProbes != 3 || !m.Results || m.Version != "test" {
		t.Errorf("meta: %d presets (want %d), max probes %d, results %v, version %q", len(m.Presets), len(weightinit.Presets()), m.Limits.MaxProbes, m.Results, m.Version)
	}
	for _, ex := range m.Examples {
		var r DesignResult
		if code := post(t, ts, "/api/predict", ex.Design, &r); code != http.StatusOK {
			t.Errorf("example %q: status %d", ex.Label, code)
		}
	}
}
