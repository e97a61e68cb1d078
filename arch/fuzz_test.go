package arch

import (
	"fmt"
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
		"net:3x32x32,conv16k3,resconv32k3s2:shortcut=proj:post=relu,resconv32k3x2:post=relu,gap,dense10",
		"net:784,resdense200:shortcut=proj:end=linear,dense10",
		`{"input":[1,28,28],"layers":[{"type":"conv","channels":16,"kernel":3,"repeat":4},{"type":"residual","module":"conv","kernel":3,"repeat":8,"eta":"0.9^l","end":"relu"},{"type":"gap"},{"type":"dense","units":10}]}`,
		`{"input":[784],"layers":[{"type":"dense","units":10,"activation":"relu"}]}`,
		"net:", "fc:", "{}", "", "net:1x1x1,conv1k1x3,maxpool1", "net:784,dense1e3",
		"net:784,resdense784x2:eta=1e49^l:end=linear", "net:784,resdense784x3:eta=[0;4.9e-324;1e100]",
		"net:784,resdense784:eta=1:eta=2", "net:784,resdense784:eta=", "net:784,resdense0",
		`{"input":[784],"layers":[{"type":"dense","units":10,"Units":10}]}`,
		`{"input":[784],"layers":[{"type":"dense","units":10,"repeat":0}]}`,
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

// sameNet compares two graphs node by node: op, inputs, shapes, window,
// eta. A residual block's place in its group (Block, Blocks) and the node
// names are not compared: String writes blocks of different eta as
// separate items.
func sameNet(a, b *Graph) bool {
	if len(a.Nodes) != len(b.Nodes) {
		return false
	}
	for i := range a.Nodes {
		x, y := &a.Nodes[i], &b.Nodes[i]
		if x.Op != y.Op || x.In != y.In || x.Out != y.Out || x.Eta != y.Eta || fmt.Sprint(x.Inputs) != fmt.Sprint(y.Inputs) ||
			x.Window.Geometry != y.Window.Geometry {
			return false
		}
	}
	return true
}
