package arch

import (
	"testing"
)

// FuzzParse checks that Parse never panics and that a net it accepts writes
// (Net.String) to a spec that parses back to the same net, and to the same
// text again.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"fc:784-100x20-10",
		"fc:1-1",
		"fc:784-0-10",
		"net:784,dense100,dense10",
		"net:1x28x28,conv16k3x6,gap,dense10",
		"net:3x32x32,conv8k3s2p1:linear,maxpool2s2p1,avgpool3s1,flatten,dense10:relu",
		"net:784,dense100,resdense100x50:eta=0.9^l,dense10",
		"net:784,resdense784x3:eta=[1;0.5;0.25]:end=linear",
		"net:1x8x8,conv4k3,resconv4k3x4:eta=1/L:end=relu,gap,dense2",
		"net:784,resdense784x4:eta=2/l",
		`{"input":[1,28,28],"layers":[{"type":"conv","channels":16,"kernel":3,"repeat":4},{"type":"residual","module":"conv","kernel":3,"repeat":8,"eta":"0.9^l","end":"relu"},{"type":"gap"},{"type":"dense","units":10}]}`,
		`{"input":[784],"layers":[{"type":"dense","units":10,"activation":"relu"}]}`,
		"net:", "fc:", "{}", "", "net:1x1x1,conv1k1x3,maxpool1", "net:784,dense1e3",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		net, err := Parse(spec)
		if err != nil {
			if net != nil {
				t.Fatalf("Parse(%q) returned a net with the error %v", spec, err)
			}
			return
		}
		text := net.String()
		again, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", spec, text, err)
		}
		if !sameNet(net, again) {
			t.Fatalf("Parse(%q) = %q parses to a different net: %q", spec, text, again.String())
		}
		if s := again.String(); s != text {
			t.Fatalf("String is not stable: %q then %q", text, s)
		}
	})
}

// sameNet compares two nets layer by layer. A residual block's position in
// its group (Block, Blocks) is not compared: String writes blocks of
// different eta as separate items.
func sameNet(a, b *Net) bool {
	if a.Input != b.Input || len(a.Layers) != len(b.Layers) {
		return false
	}
	for i := range a.Layers {
		if !sameLayer(a.Layers[i], b.Layers[i]) {
			return false
		}
	}
	return true
}

func sameLayer(a, b Layer) bool {
	if a.Kind != b.Kind || a.ReLU != b.ReLU || a.Units != b.Units || a.Channels != b.Channels ||
		a.Kernel != b.Kernel || a.Stride != b.Stride || a.Pad != b.Pad || a.Eta != b.Eta ||
		a.In != b.In || a.Out != b.Out || len(a.Module) != len(b.Module) {
		return false
	}
	for i := range a.Module {
		if !sameLayer(a.Module[i], b.Module[i]) {
			return false
		}
	}
	return true
}
