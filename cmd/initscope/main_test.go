package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/initscope/initscope/data"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// runCLI runs the command line and returns its exit code, stdout and stderr.
func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// models is the folder of the ONNX and safetensors files PyTorch exported
// (testdata/models/export.py).
const models = "../../testdata/models/"

// The golden cases avoid data files beyond the repository's: --input ones,
// gaussian, a tensor file, or --m0.
var goldenCases = []struct {
	name string
	args []string
}{
	{"predict_fc_pytorch.txt", []string{"predict", "--arch", "fc:784-100x50-10", "--init", "pytorch-default", "--input", "ones"}},
	{"predict_fc_pytorch.json", []string{"predict", "--arch", "fc:784-100x4-10", "--init", "pytorch-default", "--input", "ones", "--format", "json"}},
	{"predict_fc_he_all.txt", []string{"predict", "--arch", "fc:784-32x8-10", "--init", "he-normal", "--m0", "1", "--all-layers"}},
	{"predict_fc_uniform_gaussian.txt", []string{"predict", "--arch", "fc:100-64x10-10", "--init", "uniform:2/fan_in", "--bias", "normal:0.01", "--input", "gaussian"}},
	{"predict_deep_exploding.txt", []string{"predict", "--arch", "fc:100-100x1000-10", "--init", "normal:4/fan_in", "--m0", "1"}},
	{"predict_conv.txt", []string{"predict", "--arch", "net:1x28x28,conv16k3x3,maxpool2,conv32k3s2,gap,dense10", "--init", "he-normal", "--m0", "1"}},
	{"predict_conv.json", []string{"predict", "--arch", "net:1x28x28,conv16k3x3,maxpool2,conv32k3s2,gap,dense10", "--init", "he-normal", "--m0", "1", "--format", "json"}},
	{"predict_residual_linear.txt", []string{"predict", "--arch", "net:784,dense100,resdense100x50:eta=1:end=linear,dense10", "--init", "he-normal", "--m0", "1"}},
	{"predict_residual_relu.txt", []string{"predict", "--arch", "net:784,dense100,resdense100x50:eta=0.9^l,dense10", "--init", "he-normal", "--m0", "1"}},
	{"predict_residual_relu.json", []string{"predict", "--arch", "net:784,dense100,resdense100x3:eta=0.9^l,dense10", "--init", "he-normal", "--m0", "1", "--format", "json"}},
	{"audit_mlp20_default.txt", []string{"audit", models + "mlp20_default.onnx", "--input", models + "mlp20_default_data/input_0.pb"}},
	{"audit_mlp20_kaiming.txt", []string{"audit", models + "mlp20_kaiming.onnx", "--input", "ones", "--samples", "20"}},
	{"audit_resnet_bn.json", []string{"audit", models + "resnet_bn.onnx", "--input", "ones", "--samples", "5", "--format", "json"}},
	{"audit_cnn_tensors.csv", []string{"audit", models + "cnn.onnx", "--input", "gaussian", "--format", "csv"}},
	{"audit_cnn_layers.csv", []string{"audit", models + "cnn.onnx", "--input", "gaussian", "--format", "csv", "--table", "layers", "--samples", "5"}},
	{"audit_transformerish.txt", []string{"audit", models + "transformerish.onnx", "--input", "ones"}},
	{"audit_safetensors.txt", []string{"audit", models + "mlp20_default.safetensors"}},
	{"audit_safetensors_arch.txt", []string{"audit", models + "mlp20_default.safetensors", "--arch", "fc:784-64x20-10", "--input", "ones"}},
	{"inits.txt", []string{"inits"}},
	{"inits.json", []string{"inits", "--format", "json"}},
}

func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runCLI(c.args...)
			if code != exitOK || errs != "" {
				t.Fatalf("exit %d, stderr %q", code, errs)
			}
			path := filepath.Join("testdata", c.name)
			if *update {
				if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if strings.HasSuffix(c.name, ".json") {
				compareJSON(t, out, string(want))
			} else if out != string(want) {
				t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, firstDiff(out, string(want)))
			}
		})
	}
}

// compareJSON compares two JSON documents, numbers within 1e-9 relative, so
// that last-bit differences between platforms (fused multiply-add) pass.
func compareJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("golden file is not JSON: %v", err)
	}
	if path, ok := sameJSON(g, w, "$"); !ok {
		t.Errorf("JSON differs from the golden file at %s", path)
	}
}

func sameJSON(g, w any, path string) (string, bool) {
	switch wv := w.(type) {
	case map[string]any:
		gv, ok := g.(map[string]any)
		if !ok || len(gv) != len(wv) {
			return path, false
		}
		for k := range wv {
			if p, ok := sameJSON(gv[k], wv[k], path+"."+k); !ok {
				return p, false
			}
		}
	case []any:
		gv, ok := g.([]any)
		if !ok || len(gv) != len(wv) {
			return path, false
		}
		for i := range wv {
			if p, ok := sameJSON(gv[i], wv[i], fmt.Sprintf("%s[%d]", path, i)); !ok {
				return p, false
			}
		}
	case float64:
		gv, ok := g.(float64)
		if !ok || !scalar.EqualWithinAbsOrRel(gv, wv, 1e-300, 1e-9) {
			return path, false
		}
	default:
		if g != w {
			return path, false
		}
	}
	return "", true
}

func firstDiff(got, want string) string {
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			return fmt.Sprintf("line %d:\n got: %s\nwant: %s", i+1, g, w)
		}
	}
	return "(no difference)"
}

// TestBadInput checks that every wrong command line exits 2 with exactly one
// line on stderr that names the flag at fault, and prints nothing on stdout.
func TestBadInput(t *testing.T) {
	he := []string{"--init", "he-normal"}
	for _, c := range []struct {
		args    []string
		mention []string
	}{
		{append([]string{"predict", "--arch", "fc:784-0-10"}, he...), []string{"--arch", `element 2 "0": width 0: widths must be >= 1`}},
		{append([]string{"predict"}, he...), []string{"--arch", "missing"}},
		{append([]string{"predict", "--arch", "fc:784"}, he...), []string{"--arch"}},
		{append([]string{"predict", "--arch", "net:784,dense10y"}, he...), []string{"--arch", "item 2"}},
		{append([]string{"predict", "--arch", "net:784,resdense784:eta=fast"}, he...), []string{"--arch", "eta", "schedule"}},
		{append([]string{"predict", "--arch", "net:784,resdense784x3:eta=[1;2]"}, he...), []string{"--arch", "eta", "3 blocks"}},
		{append([]string{"predict", "--arch", "cnn:784"}, he...), []string{"--arch", "fc:, net:"}},
		{[]string{"predict", "--arch", "fc:784-10"}, []string{"--init", "missing", "he-normal"}},
		{[]string{"predict", "--arch", "fc:784-10", "--init", "kaiming"}, []string{"--init", "not a preset"}},
		{[]string{"predict", "--arch", "fc:784-10", "--init", "normal:-2/fan_in"}, []string{"--init", "variance"}},
		{[]string{"predict", "--arch", "fc:784-10", "--init", "zero"}, []string{"--init"}},
		{append([]string{"predict", "--arch", "fc:784-10", "--bias", "laplace:1"}, he...), []string{"--bias", "FAMILY"}},
		{append([]string{"predict", "--arch", "fc:784-10", "--format", "xml"}, he...), []string{"--format", "text or json"}},
		{append([]string{"predict", "--arch", "fc:784-10", "--m0", "-1"}, he...), []string{"--m0", "> 0"}},
		{append([]string{"predict", "--arch", "fc:784-10", "--m0", "nan"}, he...), []string{"--m0"}},
		{append([]string{"predict", "--arch", "fc:784-10", "--m0", "1", "--input", "ones"}, he...), []string{"--m0", "not both"}},
		{append([]string{"predict", "--arch", "fc:784-10", "--input", "noise"}, he...), []string{"--input", "ones, gaussian"}},
		{append([]string{"predict", "--arch", "fc:784-10", "--input", "mnist:x"}, he...), []string{"--input", "index"}},
		{append([]string{"predict", "--arch", "fc:100-10", "--input", "mnist:0"}, he...), []string{"--input", "784"}},
		{append([]string{"predict", "--arch", "fc:784-10", "--widht", "3"}, he...), []string{"--widht", "predict -h"}},
		{append([]string{"predict", "--arch", "fc:784-10", "extra"}, he...), []string{"extra"}},
		{[]string{"inits", "--format", "csv"}, []string{"--format"}},
		{[]string{"frobnicate"}, []string{"frobnicate", "predict"}},
	} {
		code, out, errs := runCLI(c.args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %q)", c.args, code, exitUsage, errs)
			continue
		}
		if strings.Count(errs, "\n") != 1 || !strings.HasSuffix(errs, "\n") || out != "" {
			t.Errorf("%q: want one stderr line and no stdout; got stderr %q, stdout %q", c.args, errs, out)
		}
		for _, m := range c.mention {
			if !strings.Contains(errs, m) {
				t.Errorf("%q: stderr %q does not mention %q", c.args, errs, m)
			}
		}
	}
}

func TestUsageAndVersion(t *testing.T) {
	if code, out, errs := runCLI(); code != exitUsage || out != "" || !strings.Contains(errs, "predict") {
		t.Errorf("no arguments: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if code, out, _ := runCLI("help"); code != exitOK || !strings.Contains(out, "inits") {
		t.Errorf("help: exit %d, %q", code, out)
	}
	if code, out, _ := runCLI("help", "predict"); code != exitOK || !strings.Contains(out, "--arch") && !strings.Contains(out, "-arch") {
		t.Errorf("help predict: exit %d, %q", code, out)
	}
	if code, out, _ := runCLI("predict", "-h"); code != exitOK || !strings.Contains(out, "usage: initscope predict") {
		t.Errorf("predict -h: exit %d, %q", code, out)
	}
	if code, out, _ := runCLI("version"); code != exitOK || !strings.HasPrefix(out, "initscope ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
	for name := range commands {
		if summaries[name] == "" {
			t.Errorf("command %s has no summary", name)
		}
	}
}

// TestPredictMNISTDefault runs the default input, the first MNIST test
// image, when the data set is available.
func TestPredictMNISTDefault(t *testing.T) {
	x, _, err := data.Image("mnist", "", data.Test, 0)
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	m0 := 0.0
	for _, v := range x {
		m0 += v * v
	}
	m0 /= float64(len(x))
	code, out, errs := runCLI("predict", "--arch", "fc:784-100x50-10", "--init", "pytorch-default", "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var p struct {
		Input string  `json:"input"`
		M0    float64 `json:"m0"`
		FM1   struct {
			Verdict string `json:"verdict"`
		} `json:"fm1"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	if p.Input != "mnist:0" || !scalar.EqualWithinRel(p.M0, m0, 1e-15) || p.FM1.Verdict != "vanishing" {
		t.Errorf("input %q, M0 %v (want %v), FM1 %s", p.Input, p.M0, m0, p.FM1.Verdict)
	}
}

// TestInputOutOfRange checks that every malformed or out-of-range test
// image index is a usage error (exit 2) that names --input and the valid
// range, without a file path, for predict and probe alike and whether or
// not the data files are there.
func TestInputOutOfRange(t *testing.T) {
	for _, input := range []string{"mnist:99999999", "mnist:10000", "fashion-mnist:10000", "mnist:-1", "mnist:x", "mnist:",
		"mnist:1e3", "mnist:+5", "mnist:99999999999999999999999", "cifar10:10000"} {
		arch := "fc:784-10"
		if strings.HasPrefix(input, "cifar10") {
			arch = "fc:3072-10"
		}
		for _, cmd := range []string{"predict", "probe"} {
			code, out, errs := runCLI(cmd, "--arch", arch, "--init", "he-normal", "--input", input)
			if code != exitUsage || out != "" || strings.Count(errs, "\n") != 1 {
				t.Errorf("%s --input %s: exit %d, stdout %q, stderr %q; want exit %d and one line", cmd, input, code, out, errs, exitUsage)
				continue
			}
			for _, want := range []string{"--input", "test set has 10000 images", "..., 9999"} {
				if !strings.Contains(errs, want) {
					t.Errorf("%s --input %s: stderr %q lacks %q", cmd, input, errs, want)
				}
			}
			if strings.Contains(errs, string(filepath.Separator)) {
				t.Errorf("%s --input %s: stderr %q names a path", cmd, input, errs)
			}
		}
	}
}
