package serve

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/initscope/initscope/audit"
	"github.com/initscope/initscope/onnx"
	"github.com/initscope/initscope/onnx/lower"
)

// models is the folder of the auditor's test models.
var models = filepath.Join("..", "testdata", "models")

// upload posts a model file with the form fields to /api/audit.
func uploadModel(t *testing.T, url, name string, content []byte, fields map[string]string) (int, []byte) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if name != "" {
		fw, err := mw.CreateFormFile("file", name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(content)
	}
	mw.Close()
	resp, err := http.Post(url+"/api/audit", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func readModel(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(models, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAuditUpload audits the README's 20-layer MLP at PyTorch's default
// (FM1 vanishing: c = 1/3 in every layer) and checks the report against
// audit.Run on the same file read from disk, as `initscope audit` runs it.
func TestAuditUpload(t *testing.T) {
	_, ts := newTestServer(t, testConfig())
	code, b := uploadModel(t, ts.URL, "mlp20_default.onnx", readModel(t, "mlp20_default.onnx"), map[string]string{"input": "ones"})
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, b)
	}
	var got struct {
		Model, Format string
		Net           string
		FM1           struct{ Verdict string }
		Nodes         []struct{ C float64 }
		Measurement   *struct {
			Input  string
			Layers []struct {
				Log10Ratio float64 `json:"log10_ratio"`
			}
		}
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Read(filepath.Join(models, "mlp20_default.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	lm, err := lower.Lower(m)
	if err != nil {
		t.Fatal(err)
	}
	ones := make([]float64, lm.Graph.Input().Size())
	for i := range ones {
		ones[i] = 1
	}
	want, err := audit.Run(lm, "mlp20_default.onnx", "onnx", audit.Options{Input: ones, InputName: "ones", Measure: true, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got.Model != "mlp20_default.onnx" || got.Format != "onnx" || got.FM1.Verdict != "vanishing" || got.FM1.Verdict != want.FM1.Verdict {
		t.Errorf("model %q, format %q, FM1 %q: want mlp20_default.onnx, onnx, vanishing", got.Model, got.Format, got.FM1.Verdict)
	}
	if len(got.Nodes) != 21 || got.Measurement == nil || got.Measurement.Input != "ones" || len(got.Measurement.Layers) != 21 {
		t.Fatalf("%d nodes, measurement %+v: want 21 layers measured on ones", len(got.Nodes), got.Measurement)
	}
	for i, n := range got.Nodes[:20] {
		if n.C < 0.3 || n.C > 0.37 {
			t.Errorf("layer %d: c = %g, want about 1/3 (PyTorch's default)", i+1, n.C)
		}
	}
	for i, l := range got.Measurement.Layers {
		if w := float64(want.Measurement.Layers[i].Log10Ratio); l.Log10Ratio != w {
			t.Errorf("layer %d: measured log10 M/M0 %g, audit.Run %g", i+1, l.Log10Ratio, w)
		}
	}

	// safetensors with the net's spec: the same verdict.
	code, b = uploadModel(t, ts.URL, "mlp20_default.safetensors", readModel(t, "mlp20_default.safetensors"), map[string]string{"arch": "fc:784-64x20-10", "input": "ones"})
	if code != http.StatusOK || !strings.Contains(string(b), `"verdict":"vanishing"`) {
		t.Errorf("safetensors with --arch: status %d: %.300s", code, b)
	}
	// Without the spec: the tensors' statistics only, no verdict.
	code, b = uploadModel(t, ts.URL, "mlp20_default.safetensors", readModel(t, "mlp20_default.safetensors"), nil)
	if code != http.StatusOK || !strings.Contains(string(b), `"tensors"`) || strings.Contains(string(b), `"fm1"`) {
		t.Errorf("safetensors alone: status %d: %.300s", code, b)
	}
}

// TestAuditRequests checks the upload's limits and errors.
func TestAuditRequests(t *testing.T) {
	cfg := testConfig()
	cfg.MaxUpload = 600 << 10
	s, ts := newTestServer(t, cfg)
	big := append(readModel(t, "mlp20_default.onnx"), make([]byte, 100<<10)...) // 616 KiB
	small := readModel(t, "cnn_padpool.onnx")
	cases := []struct {
		name    string
		content []byte
		fields  map[string]string
		code    int
		field   string
		msg     string
	}{
		{"mlp20_default.onnx", big, nil, http.StatusRequestEntityTooLarge, "file", "larger than 600 KiB (--max-upload)"},
		{"mlp20_default.safetensors", readModel(t, "mlp20_default.safetensors"), map[string]string{"arch": "fc:784-6a4-10"}, http.StatusBadRequest, "arch", `--arch: spec "fc:784-6a4-10": element 2`},
		{"mlp20_default.safetensors", readModel(t, "mlp20_default.safetensors"), map[string]string{"arch": "fc:784-32x20-10"}, http.StatusBadRequest, "arch", "mlp20_default.safetensors: "},
		{"model.pt", small, nil, http.StatusBadRequest, "file", "want a .onnx or .safetensors file"},
		{"", nil, map[string]string{"arch": "fc:784-10-10"}, http.StatusBadRequest, "file", "no model file"},
		{"cnn_padpool.onnx", small, map[string]string{"arch": "fc:784-10-10"}, http.StatusBadRequest, "arch", "--arch is for safetensors files"},
		{"cnn_padpool.onnx", small, map[string]string{"samples": "100000"}, http.StatusBadRequest, "samples", "want 0 to 200"},
		{"cnn_padpool.onnx", small, map[string]string{"input": "mnist:x"}, http.StatusBadRequest, "input", "--input"},
		{"cnn_padpool.onnx", small, map[string]string{"colour": "red"}, http.StatusBadRequest, "", "unknown field"},
		{"broken.onnx", small[:len(small)/2], nil, http.StatusBadRequest, "file", "broken.onnx: onnx model"},
		{"x.safetensors", []byte("not a safetensors file"), nil, http.StatusBadRequest, "file", "x.safetensors"},
		{"w.safetensors", readModel(t, "mlp20_default.safetensors")[:90000], nil, http.StatusBadRequest, "file", "past the end of the data"},
	}
	for _, c := range cases {
		code, b := uploadModel(t, ts.URL, c.name, c.content, c.fields)
		var e apiError
		json.Unmarshal(b, &e)
		if code != c.code || e.Field != c.field || !strings.Contains(e.Error, c.msg) {
			t.Errorf("%s %v: status %d, %+v: want %d about %q with %q", c.name, c.fields, code, e, c.code, c.field, c.msg)
		}
	}
	// Not multipart.
	var e apiError
	if code := post(t, ts, "/api/audit", map[string]string{"file": "x"}, &e); code != http.StatusBadRequest || !strings.Contains(e.Error, "multipart/form-data") {
		t.Errorf("JSON body: status %d, %q", code, e.Error)
	}
	// Busy: the one audit slot taken.
	s.audits <- struct{}{}
	code, b := uploadModel(t, ts.URL, "cnn_padpool.onnx", small, nil)
	<-s.audits
	if code != http.StatusServiceUnavailable || !strings.Contains(string(b), "--max-audits") {
		t.Errorf("busy: status %d, %s", code, b)
	}
	if code, b := uploadModel(t, ts.URL, "cnn_padpool.onnx", small, nil); code != http.StatusOK {
		t.Errorf("a small CNN: status %d: %.300s", code, b)
	}
}
