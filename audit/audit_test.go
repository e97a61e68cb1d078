package audit

import "testing"

// TestModulePath checks module paths recovered from the node names
// PyTorch 1.13 exports (scopes of nested modules and Sequential children).
func TestModulePath(t *testing.T) {
	for node, want := range map[string]string{
		"/layers/layers.3/Gemm":                  "layers.3",
		"/blocks/blocks.0/conv1/Conv":            "blocks.0.conv1",
		"/layer2/layer2.0/down/down.0/Conv":      "layer2.0.down.0",
		"/fc/Gemm":                               "fc",
		"/Flatten":                               "/Flatten",
		"Gemm_0":                                 "Gemm_0",
		"/features/features.0/features.0.1/Conv": "features.0.1",
	} {
		if got := ModulePath(node); got != want {
			t.Errorf("ModulePath(%q) = %q, want %q", node, got, want)
		}
	}
}
