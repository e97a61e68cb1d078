package arch

import (
	"fmt"
	"strings"
	"testing"
)

// TestAffineLayers checks that an affine node is a layer of its own, that
// it takes the ReLU after it when that ReLU is its only reader, that a
// ReLU another node also reads stays out (an Other layer), and how the
// layers are written.
func TestAffineLayers(t *testing.T) {
	must := func(id int, err error) int {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	b, _ := NewBuilder(Image(2, 4, 4))
	x := must(b.Conv("conv", 0, 3, Square(3, 1, 1)))
	x = must(b.Affine("bn1", x))
	x = must(b.ReLU("bn1.relu", x))
	x = must(b.Affine("bn2", x))
	x = must(b.Flatten("flat", x))
	x = must(b.Affine("bn3", x))
	r := must(b.ReLU("bn3.relu", x))
	must(b.Add("join", x, r))
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range g.Layers() {
		got = append(got, fmt.Sprintf("%s %s %v relu=%v %s", l.Kind, l.String(), l.Nodes, l.ReLU, l.Name()))
	}
	want := []string{
		"conv conv3k3s1p1:linear [1] relu=false conv",
		"affine affine:relu [2 3] relu=true bn1",
		"affine affine [4] relu=false bn2",
		"flatten flatten [5] relu=false flat",
		"affine affine [6] relu=false bn3",
		"other other(nodes 7-8) [7 8] relu=false join",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("layers:\n%q\nwant\n%q", got, want)
	}
	l := g.Layers()[1]
	if l.HasWeights() || l.FanIn() != 0 || l.Width() != 0 || l.Params() != 6 || l.Out != Image(3, 4, 4) {
		t.Errorf("affine layer: weights %v, fan-in %d, width %d, params %d, out %s", l.HasWeights(), l.FanIn(), l.Width(), l.Params(), l.Out)
	}
	if s := g.String(); !strings.HasPrefix(s, "graph:") {
		t.Errorf("String = %q, want the node list (the graph has an Other layer)", s)
	}
}

// TestAffineString checks the compact form of a graph of affine layers,
// with a repeat folded.
func TestAffineString(t *testing.T) {
	b, _ := NewBuilder(Flat(4))
	x, _ := b.Dense("fc", 0, 4)
	for _, name := range []string{"a", "b"} {
		x, _ = b.Affine(name, x)
		x, _ = b.ReLU(name+".relu", x)
	}
	b.Affine("c", x)
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	if s, want := g.String(), "net:4,dense4:linear,affinex2:relu,affine"; s != want {
		t.Errorf("String = %q, want %q", s, want)
	}
}
