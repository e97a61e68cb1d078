package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAuditJSONContract checks the fields the issue promises in `audit
// --format json`: predict's fm1 and fm2 objects with their verdicts, and
// tensors[] with name, shape, fan_in, fan_out, mean, c and kurtosis.
func TestAuditJSONContract(t *testing.T) {
	code, out, errs := runCLI("audit", models+"mlp20_default.onnx", "--input", "ones", "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		FM1     struct{ Verdict string } `json:"fm1"`
		FM2     struct{ Verdict string } `json:"fm2"`
		Tensors []map[string]any         `json:"tensors"`
		Layers  []map[string]any         `json:"layers"`
		Nodes   []map[string]any         `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.FM1.Verdict != "vanishing" || r.FM2.Verdict == "" {
		t.Errorf("fm1 %q, fm2 %q: want vanishing and a verdict", r.FM1.Verdict, r.FM2.Verdict)
	}
	if len(r.Tensors) != 42 || len(r.Layers) != 21 || len(r.Nodes) != 21 {
		t.Fatalf("%d tensors, %d layers, %d nodes: want 42, 21, 21", len(r.Tensors), len(r.Layers), len(r.Nodes))
	}
	for _, k := range []string{"name", "shape", "fan_in", "fan_out", "mean", "c", "kurtosis", "law", "ks", "preset"} {
		if _, ok := r.Tensors[0][k]; !ok {
			t.Errorf("tensors[0] has no %q: %v", k, r.Tensors[0])
		}
	}
	if r.Tensors[0]["name"] != "layers.0.weight" || r.Tensors[0]["preset"] != "pytorch-default" {
		t.Errorf("tensors[0] = %v: want layers.0.weight matching pytorch-default", r.Tensors[0])
	}
}

// TestAuditBadInput checks that bad audit arguments and bad files give one
// line naming what is wrong, exit 2 for usage and 1 for a file that
// cannot be read.
func TestAuditBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, err := os.ReadFile(models + "cnn.onnx")
	if err != nil {
		t.Fatal(err)
	}
	truncated := write("truncated.onnx", good[:len(good)/2])
	garbage := write("garbage.onnx", []byte("not a model at all, just text\n"))
	badST := write("bad.safetensors", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	wrongInput := write("x.npy", nil)
	// A float64 [784, 2] array: 1568 values, but not samples of 784.
	header := "{'descr': '<f8', 'fortran_order': False, 'shape': (784, 2), }"
	header += strings.Repeat(" ", 63-(10+len(header))%64) + "\n"
	transposed := write("t.npy", append([]byte("\x93NUMPY\x01\x00"+string([]byte{byte(len(header)), 0})+header), make([]byte, 8*1568)...))
	for _, c := range []struct {
		args    []string
		code    int
		mention []string
	}{
		{[]string{"audit"}, exitUsage, []string{"model file"}},
		{[]string{"audit", "a.onnx", "b.onnx"}, exitUsage, []string{"b.onnx"}},
		{[]string{"audit", models + "cnn.onnx", "--format", "xml"}, exitUsage, []string{"--format"}},
		{[]string{"audit", models + "cnn.onnx", "--table", "nodes"}, exitUsage, []string{"--table", "tensors or layers"}},
		{[]string{"audit", models + "cnn.onnx", "--samples", "-1"}, exitUsage, []string{"--samples"}},
		{[]string{"audit", models + "cnn.onnx", "--arch", "fc:784-10"}, exitUsage, []string{"--arch", "safetensors"}},
		{[]string{"audit", models + "cnn.onnx", "--input", "noise"}, exitUsage, []string{"--input"}},
		{[]string{"audit", models + "cnn.onnx", "--input", transposed}, exitUsage, []string{"--input", "shape [784 2]", "1x28x28"}},
		{[]string{"audit", models + "cnn.onnx", "--input", wrongInput}, exitUsage, []string{"--input", "x.npy"}},
		{[]string{"audit", models + "mlp20_default.safetensors", "--arch", "fc:784-64x3-10"}, exitFail, []string{"no layer for the weight tensors"}},
		{[]string{"audit", models + "mlp20_default.safetensors", "--arch", "fc:784-"}, exitUsage, []string{"--arch"}},
		{[]string{"audit", filepath.Join(dir, "missing.onnx")}, exitFail, []string{"missing.onnx"}},
		{[]string{"audit", write("model.txt", good)}, exitFail, []string{".onnx or .safetensors"}},
		{[]string{"audit", truncated}, exitFail, []string{"truncated.onnx"}},
		{[]string{"audit", garbage}, exitFail, []string{"garbage.onnx", "not an ONNX model"}},
		{[]string{"audit", badST}, exitFail, []string{"bad.safetensors", "header"}},
		{[]string{"audit", dir + "/"}, exitFail, []string{dir}},
	} {
		code, out, errs := runCLI(c.args...)
		if code != c.code {
			t.Errorf("%q: exit %d, want %d (stderr %q)", c.args, code, c.code, errs)
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
