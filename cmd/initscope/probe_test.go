package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/theory"
	"github.com/initscope/initscope/weightinit"
)

// probeExactArgs is a run of the exact sampler: its output depends on
// nothing but the code (no data files, no BLAS backend).
var probeExactArgs = []string{"probe", "--arch", "fc:64-32x4-10", "--init", "he-normal", "--samples", "500", "--seed", "7", "--input", "gaussian", "--workers", "2"}

// TestProbeGolden compares the text, JSON and CSV outputs of an exact
// sampler run with the files in testdata (go test -update rewrites them).
func TestProbeGolden(t *testing.T) {
	for format, ext := range map[string]string{"text": "txt", "json": "json", "csv": "csv"} {
		code, out, errs := runCLI(append(probeExactArgs, "--format", format)...)
		if code != exitOK || errs != "" {
			t.Fatalf("%s: exit %d, stderr %q", format, code, errs)
		}
		path := filepath.Join("testdata", "probe_exact."+ext)
		if *update {
			if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if format == "json" {
			compareJSON(t, out, string(want))
		} else if out != string(want) {
			t.Errorf("%s output differs from %s (go test -update rewrites it):\n%s", format, path, firstDiff(out, string(want)))
		}
	}
}

// TestProbeJSONContract checks the fields the JSON output promises, and
// that each layer's theory is predict's object for that layer.
func TestProbeJSONContract(t *testing.T) {
	const spec = "net:1x8x8,conv4k3,maxpool2,resconv4k3:eta=0.5,gap,dense3"
	code, out, errs := runCLI("probe", "--arch", spec, "--init", "he-normal", "--samples", "50", "--input", "ones", "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got struct {
		Samples           int              `json:"samples"`
		Method            string           `json:"method"`
		Backend           string           `json:"backend"`
		EmpiricalVariance map[string]any   `json:"empirical_variance"`
		Layers            []map[string]any `json:"layers"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.Samples != 50 || got.Method != "network" || got.Backend == "" {
		t.Errorf("samples %d, method %q, backend %q", got.Samples, got.Method, got.Backend)
	}
	for _, k := range []string{"mean", "se"} {
		if _, ok := got.EmpiricalVariance[k]; !ok {
			t.Errorf("empirical_variance has no %q", k)
		}
	}
	net, _ := arch.Parse(spec)
	init, _ := weightinit.ParseInit("he-normal")
	x := make([]float64, 64)
	for i := range x {
		x[i] = 1
	}
	p, err := theory.Predict(net, theory.Options{Init: init, M0: 1, InputL4: 1.0 / 64})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Layers) != len(p.Layers) {
		t.Fatalf("%d layers, predict has %d", len(got.Layers), len(p.Layers))
	}
	for i, l := range got.Layers {
		for _, k := range []string{"index", "mean_ratio", "mean_ratio_se", "log_mean", "log_mean_se", "log_var", "dead_fraction", "theory"} {
			if _, ok := l[k]; !ok {
				t.Errorf("layer %d has no %q", i+1, k)
			}
		}
		if l["index"] != float64(i+1) {
			t.Errorf("layer %d has index %v", i+1, l["index"])
		}
		b, _ := json.Marshal(p.Layers[i])
		var want any
		json.Unmarshal(b, &want)
		if !reflect.DeepEqual(l["theory"], want) {
			t.Errorf("layer %d: theory %v, predict says %v", i+1, l["theory"], want)
		}
	}
}

// TestProbeWorkersDeterministic checks that the network sampler's JSON is
// the same, byte for byte, with 1, 2 and 3 workers.
func TestProbeWorkersDeterministic(t *testing.T) {
	var first string
	for _, w := range []string{"1", "2", "3"} {
		code, out, errs := runCLI("probe", "--arch", "net:1x8x8,conv4k3s2,avgpool2,flatten,resdense16:eta=1/l,dense3", "--init", "pytorch-default",
			"--samples", "200", "--seed", "3", "--input", "gaussian", "--method", "network", "--workers", w, "--format", "json")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errs)
		}
		if first == "" {
			first = out
		} else if out != first {
			t.Errorf("--workers %s gives different JSON than --workers 1", w)
		}
	}
}

// TestProbeBadInput checks that every unusable flag exits 2 with one line
// naming it.
func TestProbeBadInput(t *testing.T) {
	fc := []string{"--arch", "fc:10-5-2", "--init", "he-normal", "--input", "ones"}
	for _, c := range []struct {
		flag string
		args []string
	}{
		{"--samples", append(fc, "--samples", "0")},
		{"--samples", append(fc, "--samples", "1")},
		{"--samples", append(fc, "--samples", "1000000000")},
		{"--workers", append(fc, "--workers", "-1")},
		{"--method", append(fc, "--method", "fast")},
		{"--method", []string{"--arch", "net:1x8x8,conv4k3,gap,dense2", "--init", "he-normal", "--input", "ones", "--method", "exact"}},
		{"--method", []string{"--arch", "fc:10-5-2", "--init", "he-uniform", "--input", "ones", "--method", "exact"}},
		{"--input", []string{"--arch", "fc:10-5-2", "--init", "he-normal", "--input", "noise"}},
		{"--input", []string{"--arch", "fc:10-5-2", "--init", "he-normal", "--input", "mnist:0"}},
		{"--m0", []string{"--arch", "fc:10-5-2", "--init", "he-normal", "--m0", "1"}},
		{"--arch", []string{"--init", "he-normal", "--input", "ones"}},
		{"--arch", []string{"--arch", "net:1x8192x8192,conv16k3", "--init", "he-normal", "--input", "ones"}},
		{"--init", []string{"--arch", "fc:10-5-2", "--init", "kaiming", "--input", "ones"}},
		{"--format", append(fc, "--format", "xml")},
	} {
		code, out, errs := runCLI(append([]string{"probe"}, c.args...)...)
		if code != exitUsage || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.flag) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q: want exit 2 and one line about %s", c.args, code, out, errs, c.flag)
		}
	}
}

// TestProbeExtremeScales probes nets whose weight laws' standard
// deviations lie outside float32's range, or whose lengths leave float64's:
// no layer is reported dead, no flag is raised, and lengths beyond float64
// are written from their logs, never as 0 or "0 ± 0".
func TestProbeExtremeScales(t *testing.T) {
	for _, init := range []string{"normal:1e-300", "normal:1e90", "normal:1e-90"} {
		for _, method := range []string{"network", "exact"} {
			args := []string{"probe", "--arch", "fc:64-32x3-10", "--init", init, "--method", method, "--samples", "100", "--input", "gaussian", "--all-layers"}
			code, out, errs := runCLI(args...)
			if code != exitOK {
				t.Fatalf("%q: exit %d, stderr %s", args, code, errs)
			}
			if !strings.Contains(out, "flags (exact predictions missed by more than 4 SE):\n  none\n") {
				t.Errorf("%s %s: flags raised:\n%s", init, method, out)
			}
			for _, line := range strings.Split(out, "\n") {
				if f := strings.Fields(line); len(f) > 3 && (f[1] == "relu" || f[1] == "linear") && (f[2] == "0" || f[3] == "0") {
					t.Errorf("%s %s: a length shown as 0: %s", init, method, line)
				}
			}
		}
	}
}
