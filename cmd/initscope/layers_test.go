package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// layers is the module's packages in the order data flows (README,
// Layout): a package may import only packages before it.
var layers = []string{
	"limits", "num", "stats", "arch", "weightinit", "onnx/onnxpb", "onnx", "onnx/lower", "safetensors",
	"tensor", "dnnl", "theory", "probe", "nn", "data", "train", "audit",
	"experiment", "task", "zoo", "report", "report/render", "reproduce", "serve", "cmd/initscope",
}

// TestPackageLayers checks with go list that no package imports one
// further down the flow, and that every package has its place in layers.
func TestPackageLayers(t *testing.T) {
	const module = "github.com/initscope/initscope/"
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "../../...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		at := slices.Index(layers, pkg)
		if at < 0 {
			t.Errorf("package %s has no place in the layers: add it where it belongs", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			dep, ok := strings.CutPrefix(imp, module)
			if !ok {
				continue
			}
			if d := slices.Index(layers, dep); d < 0 || d >= at {
				t.Errorf("%s imports %s, which is not above it", pkg, dep)
			}
		}
	}
}
