package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/initscope/initscope/nn"
	"github.com/initscope/initscope/tensor"
)

// tinyTrain is a run of 10 steps evaluated twice on 200 test images.
var tinyTrain = []string{"train", "--arch", "fc:784-16-10", "--init", "he-normal", "--data", "mnist",
	"--lr", "1e-3", "--epochs", "0.01", "--batch", "60", "--eval-every", "5", "--eval-samples", "200", "--target-acc", "0.05"}

// jsonShape replaces every number by 0, string by "" and boolean by false,
// keeping objects, arrays and nulls: what a JSON document's consumers rely on.
func jsonShape(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = jsonShape(x)
		}
	case []any:
		for i, x := range v {
			v[i] = jsonShape(x)
		}
	case float64:
		return 0.0
	case string:
		return ""
	case bool:
		return false
	}
	return v
}

// TestTrainJSON checks the fields and types of train's JSON output against
// testdata/train_shape.json (values blanked), and its contract values.
func TestTrainJSON(t *testing.T) {
	code, out, errs := runCLI(append(tinyTrain, "--format", "json")...)
	if code != exitOK || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var res struct {
		Evals []struct {
			Epoch        float64 `json:"epoch"`
			Step         int     `json:"step"`
			TrainLoss    float64 `json:"train_loss"`
			TestAccuracy float64 `json:"test_accuracy"`
		} `json:"evals"`
		EpochsToTarget *float64 `json:"epochs_to_target"`
		ReachedTarget  bool     `json:"reached_target"`
		Diverged       bool     `json:"diverged"`
		Backend        string   `json:"backend"`
		ConvBackend    string   `json:"conv_backend"`
		Seconds        float64  `json:"seconds"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(res.Evals) != 2 || res.Evals[1].Step != 10 || res.Evals[1].Epoch != 0.01 || res.EpochsToTarget == nil ||
		*res.EpochsToTarget != res.Evals[0].Epoch || !res.ReachedTarget || res.Diverged || res.Backend != tensor.Backend() || res.ConvBackend != nn.ConvBackend() || res.Seconds <= 0 {
		t.Errorf("unexpected result:\n%s", out)
	}

	var doc any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	shape, err := json.MarshalIndent(jsonShape(doc), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "train_shape.json")
	if *update {
		if err := os.WriteFile(path, append(shape, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	var got, golden any
	json.Unmarshal(shape, &got)
	if err := json.Unmarshal(want, &golden); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if !reflect.DeepEqual(got, golden) {
		t.Errorf("the JSON's fields or types differ from %s (go test -update rewrites it):\n%s", path, shape)
	}
}

// TestTrainText checks the text report: the setup with the backend, a row
// per evaluation and the summary.
func TestTrainText(t *testing.T) {
	code, out, errs := runCLI(tinyTrain...)
	if code != exitOK || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	for _, re := range []string{
		`(?m)^net: +fc:784-16-10, 12730 parameters$`,
		`(?m)^init: +he-normal: weights normal:2/fan_in, biases zero; seed 1$`,
		`(?m)^train: +sgd \(momentum 0\), lr 0.001, weight decay 0, batch 60 \(1000 steps an epoch\), at most 0.01 epochs$`, // sgd: task.DefaultOptimizer
		`(?m)^eval: +every 5 steps and at the end, on the first 200 test images; target 5% test accuracy$`,
		`(?m)^BLAS: +` + regexp.QuoteMeta(tensor.Backend()) + `, 2 threads$`,
		`(?m)^ +epoch +step +train loss +test acc\n +0\.005 +5 +\d\.\d+ +0\.\d{4}\n +0\.010 +10 +\d\.\d+ +0\.\d{4}\n\n`,
		`(?m)^reached 5% test accuracy at epoch 0\.005 \(step 5\)$`,
		`(?m)^final test accuracy [\d.]+% ± [\d.]+% \(binomial SE\) on 200 test images$`,
		`(?m)^conv: +` + regexp.QuoteMeta(nn.ConvBackend()) + `$`,
		`(?m)^10 steps, 0\.010 epochs in [\d.]+ s; BLAS ` + regexp.QuoteMeta(tensor.Backend()) + `; conv ` + regexp.QuoteMeta(nn.ConvBackend()) + `$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", re, out)
		}
	}
}

// TestTrainDiverged checks that a NaN loss (SGD at lr 1e20) and a finite
// loss far beyond chance (Adam at lr 10) are both reported as diverged,
// with the reason.
func TestTrainDiverged(t *testing.T) {
	for _, opt := range [][]string{{"--optimizer", "sgd", "--lr", "1e20"}, {"--optimizer", "adam", "--lr", "10"}} {
		args := append([]string{"train", "--arch", "fc:784-100-10", "--init", "he-normal",
			"--epochs", "0.05", "--eval-every", "1", "--eval-samples", "100"}, opt...)
		code, out, errs := runCLI(append(args, "--format", "json")...)
		var res struct {
			Diverged   bool   `json:"diverged"`
			Divergence string `json:"divergence"`
		}
		if code != exitOK || json.Unmarshal([]byte(out), &res) != nil || !res.Diverged || !strings.Contains(res.Divergence, "training loss at step") {
			t.Errorf("%q: exit %d, stderr %q, output\n%s", opt, code, errs, out)
		}
		code, out, _ = runCLI(args...)
		if code != exitOK || !strings.Contains(out, "diverged at epoch") {
			t.Errorf("%q, text: exit %d, output\n%s", opt, code, out)
		}
	}
}

// TestTrainBadInput checks that wrong command lines exit 2 with one line
// naming the flag, and failed runs exit 1 with one line.
func TestTrainBadInput(t *testing.T) {
	base := []string{"train", "--arch", "fc:784-10", "--init", "he-normal", "--lr", "0.01"}
	for _, c := range []struct {
		args    []string
		code    int
		mention []string
	}{
		{[]string{"train", "--init", "he-normal", "--lr", "0.01"}, exitUsage, []string{"--arch", "missing"}},
		{[]string{"train", "--arch", "fc:784-0-10", "--init", "he-normal", "--lr", "0.01"}, exitUsage, []string{"--arch", "width 0"}},
		{[]string{"train", "--arch", "fc:784-10", "--lr", "0.01"}, exitUsage, []string{"--init", "missing"}},
		{[]string{"train", "--arch", "fc:784-10", "--init", "kaiming", "--lr", "0.01"}, exitUsage, []string{"--init", "not a preset"}},
		{[]string{"train", "--arch", "fc:784-10", "--init", "he-normal"}, exitUsage, []string{"--lr", "missing"}},
		{append(base, "--bias", "laplace:1"), exitUsage, []string{"--bias"}},
		{append(base, "--lr", "-1"), exitUsage, []string{"--lr", "> 0"}},
		{append(base, "--lr", "nan"), exitUsage, []string{"--lr"}},
		{append(base, "--batch", "0"), exitUsage, []string{"--batch", ">= 1"}},
		{append(base, "--epochs", "0"), exitUsage, []string{"--epochs", "> 0"}},
		{append(base, "--optimizer", "rmsprop"), exitUsage, []string{"--optimizer", "sgd or adam"}},
		{append(base, "--optimizer", "adam", "--momentum", "0.9"), exitUsage, []string{"--momentum", "sgd only"}},
		{append(base, "--optimizer", "sgd", "--momentum", "1.5"), exitUsage, []string{"--momentum", "[0, 1)"}},
		{append(base, "--weight-decay", "-1"), exitUsage, []string{"--weight-decay"}},
		{append(base, "--target-acc", "20"), exitUsage, []string{"--target-acc", "[0, 1]"}},
		{append(base, "--eval-every", "-5"), exitUsage, []string{"--eval-every"}},
		{append(base, "--eval-samples", "-1"), exitUsage, []string{"--eval-samples"}},
		{append(base, "--target-acc", "0", "--stop-at-target"), exitUsage, []string{"--stop-at-target", "target"}},
		{append(base, "--data", "imagenet"), exitUsage, []string{"--data", "mnist, fashion-mnist, cifar10"}},
		{append(base, "--format", "csv"), exitUsage, []string{"--format", "text or json"}},
		{append(base, "--epoch", "1"), exitUsage, []string{"--epoch", "train -h"}},
		{append(base, "--lr", "1e400"), exitUsage, []string{"invalid value \"1e400\" for --lr", "out of range"}},
		{append(base, "--batch", "99999999999999999999"), exitUsage, []string{"for --batch", "out of range"}},
		{append(base, "extra"), exitUsage, []string{"extra"}},
		{[]string{"train", "--arch", "fc:100-10", "--init", "he-normal", "--lr", "0.01"}, exitUsage, []string{"--arch", "784"}},
		{[]string{"train", "--arch", "fc:784-100-5", "--init", "he-normal", "--lr", "0.01"}, exitUsage, []string{"--arch", "10 classes"}},
		{[]string{"train", "--arch", "net:1x32x32,conv8k3,gap,dense10", "--init", "he-normal", "--lr", "0.01"}, exitUsage, []string{"--arch", "1x28x28"}},
		{[]string{"train", "--arch", "net:3x32x32,conv8k3,gap,dense10", "--init", "he-normal", "--lr", "0.01", "--data", "cifar10", "--data-dir", t.TempDir()}, exitFail, []string{"cifar"}},
		{append(base, "--data-dir", filepath.Join(t.TempDir(), "none")), exitFail, []string{"mnist"}},
		{append(base, "--eval-samples", "20000"), exitUsage, []string{"--eval-samples", "10000 images"}},
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
