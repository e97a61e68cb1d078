package arch

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// readmeSpecs are the fc:, net: and JSON examples of the README, each
// lowered to a graph node by node in testdata/lowering.golden.
var readmeSpecs = []string{
	"fc:784-100-10",
	"fc:784-100x3-10",
	"fc:784-32x4-10",
	"net:784,dense100,resdense100x3:eta=1:end=linear,dense10",
	"net:784,dense100,resdense100x3:eta=0.5^l:end=linear,dense10",
	"net:1x28x28,conv16k3x6,maxpool2,conv32k3s2,gap,dense10",
	"net:1x28x28,conv16k3,resconv16k3x2:eta=1/l,gap,dense10",
	"net:784,resdense784x3:eta=[1;0.5;0.25]:end=linear,dense10",
	"net:3x32x32,conv16k3,resconv32k3s2:end=linear:shortcut=proj:post=relu,resconv32k3:end=linear:post=relu,gap,dense10",
	"net:784,resdense200:shortcut=proj:end=linear,dense10",
	`{"input": [1, 28, 28], "layers": [
  {"type": "conv", "channels": 16, "kernel": 3, "repeat": 4},
  {"type": "residual", "module": "conv", "kernel": 3, "repeat": 2, "eta": "0.9^l", "end": "relu"},
  {"type": "gap"},
  {"type": "dense", "units": 10}]}`,
	`{"input": [3, 32, 32], "layers": [
  {"type": "conv", "channels": 16, "kernel": 3},
  {"type": "residual", "module": "conv", "channels": 32, "kernel": 3, "stride": 2, "shortcut": "proj", "post": "relu"},
  {"type": "gap"},
  {"type": "dense", "units": 10}]}`,
}

// dump writes every node of g on a line: id, name, op, inputs, shapes,
// fans and the op's own fields.
func dump(g *Graph) string {
	var b strings.Builder
	for i := range g.Nodes {
		n := &g.Nodes[i]
		fmt.Fprintf(&b, "%3d %-14s %-8s in=%v %s -> %s", n.ID, n.Name, n.Op, n.Inputs, n.In, n.Out)
		if n.HasWeights() {
			fmt.Fprintf(&b, " fan_in=%d fan_out=%d params=%d", n.FanIn(), n.FanOut(), n.Params())
		}
		if n.Op == OpConv || n.Op == OpMaxPool || n.Op == OpAvgPool {
			fmt.Fprintf(&b, " k=%d s=%d p=%d", n.Window.KH, n.Window.SH, n.Window.Top)
		}
		if n.Op == OpScale {
			fmt.Fprintf(&b, " eta=%g l=%d/%d", n.Eta, n.Block, n.Blocks)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestLoweringGolden checks the lowering of every README example node by
// node against testdata/lowering.golden (go test -run Lowering -update
// rewrites it), and the layers recognized in it.
func TestLoweringGolden(t *testing.T) {
	var b strings.Builder
	for _, s := range readmeSpecs {
		g, err := Parse(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		fmt.Fprintf(&b, "== %s\n%s-- layers\n%s\n", strings.Join(strings.Fields(s), " "), dump(g), g.Describe())
	}
	path := filepath.Join("testdata", "lowering.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("lowering differs from %s; got:\n%s", path, b.String())
	}
}

// TestResidualSubgraph checks the block x + eta N(x) as a subgraph: the
// fork feeds the branch and the add, the scale reads the branch's end, the
// add reads skip then scale; with a projection and a post-ReLU too.
func TestResidualSubgraph(t *testing.T) {
	g, err := Parse("net:8x6x6,resconv16k3s2:shortcut=proj:post=relu:end=linear:eta=0.5,gap,dense3")
	if err != nil {
		t.Fatal(err)
	}
	// input, b1 conv, relu, b2 conv, shortcut, scale, add, relu, gap, dense
	ops := []Op{OpInput, OpConv, OpReLU, OpConv, OpConv, OpScale, OpAdd, OpReLU, OpGAP, OpDense}
	if len(g.Nodes) != len(ops) {
		t.Fatalf("%d nodes, want %d:\n%s", len(g.Nodes), len(ops), dump(g))
	}
	for i, op := range ops {
		if g.Nodes[i].Op != op {
			t.Fatalf("node %d is %s, want %s:\n%s", i, g.Nodes[i].Op, op, dump(g))
		}
	}
	add := g.Nodes[6]
	if fmt.Sprint(add.Inputs) != "[4 5]" || g.Nodes[4].Inputs[0] != 0 || g.Nodes[5].Eta != 0.5 || g.Nodes[5].Inputs[0] != 3 {
		t.Errorf("add reads %v, want the shortcut 4 then the scale 5 of the branch's end 3:\n%s", add.Inputs, dump(g))
	}
	sc := g.Nodes[4]
	if sc.Window.Geometry != Square(1, 2, 0) || sc.Out != Image(16, 3, 3) || sc.FanIn() != 8 {
		t.Errorf("shortcut %+v, want a 1x1 stride-2 conv 8 -> 16 channels, 3x3", sc)
	}
	ls := g.Layers()
	if len(ls) != 3 || ls[0].Kind != Residual || !ls[0].PostReLU || len(ls[0].Shortcut) != 1 || len(ls[0].Module) != 2 ||
		ls[0].Module[1].ReLU || ls[0].Eta != 0.5 || ls[0].Out != Image(16, 3, 3) {
		t.Fatalf("layers:\n%s", g.Describe())
	}
	if got, want := g.Params(), (8*9*16+16)+(16*9*16+16)+(8*16+16)+(16*3+3); got != want {
		t.Errorf("params %d, want %d", got, want)
	}
	if g.ReLULayers() != 2 || g.ResidualBlocks() != 1 {
		t.Errorf("ReLU nodes %d, joins %d, want 2 and 1", g.ReLULayers(), g.ResidualBlocks())
	}
}

// TestLayersOfBuiltGraphs builds graphs as another front end (a model
// file) would, with nodes in other orders and shapes no spec writes, and
// checks what Layers recognizes.
func TestLayersOfBuiltGraphs(t *testing.T) {
	must := func(id int, err error) int {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	// A block whose skip projection comes before the branch, and no scale:
	// eta is 1.
	b, _ := NewBuilder(Flat(4))
	sc := must(b.Dense("proj", 0, 6))
	h := must(b.Dense("fc1", 0, 6))
	h = must(b.ReLU("fc1.relu", h))
	h = must(b.Dense("fc2", h, 6))
	add := must(b.Add("add", h, sc))
	must(b.Dense("out", add, 2))
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	ls := g.Layers()
	if len(ls) != 2 || ls[0].Kind != Residual || ls[0].Eta != 1 || len(ls[0].Module) != 2 || len(ls[0].Shortcut) != 1 ||
		ls[0].Shortcut[0].Node.Name != "proj" || ls[0].Name() != "add" {
		t.Fatalf("layers:\n%s", g.Describe())
	}

	// A ReLU after pooling and a join of two branches with weights on both
	// and an extra node reading the fork: no residual law, Other.
	b, _ = NewBuilder(Image(2, 4, 4))
	p := must(b.Pool("pool", OpMaxPool, 0, Square(2, 2, 0)))
	r := must(b.ReLU("relu", p))
	x := must(b.Conv("a", r, 2, Square(1, 1, 0)))
	y := must(b.Conv("b", r, 2, Square(1, 1, 0)))
	z := must(b.Add("ab", x, y))
	w := must(b.Add("abr", z, r))
	must(b.Flatten("flat", w))
	g, err = b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	ls = g.Layers()
	kinds := []Kind{}
	for _, l := range ls {
		kinds = append(kinds, l.Kind)
	}
	if fmt.Sprint(kinds) != "[maxpool other other flatten]" {
		t.Errorf("kinds %v, want [maxpool other other flatten]:\n%s", kinds, g.Describe())
	}
	covered := 0
	for _, l := range ls {
		covered += len(l.Nodes)
	}
	if covered != len(g.Nodes)-1 {
		t.Errorf("layers cover %d nodes of %d", covered, len(g.Nodes)-1)
	}
	if !strings.HasPrefix(g.String(), "graph:") {
		t.Errorf("String of a graph no spec writes = %q, want the node list", g.String())
	}
}

// TestBuilderErrors checks that a front end cannot build an invalid graph.
func TestBuilderErrors(t *testing.T) {
	b, _ := NewBuilder(Flat(4))
	if _, err := b.Add("same", 0, 0); err == nil || !strings.Contains(err.Error(), "same node") {
		t.Errorf("add of a node to itself: %v", err)
	}
	d := must2(b.Dense("d", 0, 3))
	if _, err := b.Add("shapes", 0, d); err == nil || !strings.Contains(err.Error(), "shapes 4 and 3 differ") {
		t.Errorf("add of different shapes: %v", err)
	}
	if _, err := b.Dense("missing", 0, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Graph(); err == nil || !strings.Contains(err.Error(), `node "d" (dense): its output is never used`) {
		t.Errorf("dangling node: %v", err)
	}
	if _, err := b.Scale("s", 1, -1, 0, 0); err == nil {
		t.Error("negative eta accepted")
	}
	if _, err := NewBuilder(Flat(0)); err == nil {
		t.Error("empty input accepted")
	}
	if _, err := b.Conv("c", 0, 2, Square(3, 1, 1)); err == nil || !strings.Contains(err.Error(), "is a vector") {
		t.Errorf("conv of a vector: %v", err)
	}
}

func must2(id int, err error) int {
	if err != nil {
		panic(err)
	}
	return id
}

// TestV1BadSpecs checks the errors of the ResNet v1 options.
func TestV1BadSpecs(t *testing.T) {
	cases := []struct{ spec, want string }{
		{"net:784,resdense200", "shortcut=proj"},
		{"net:3x8x8,resconv3k3s2", "identity shortcut needs stride 1"},
		{"net:784,resdense784:shortcut=conv", `shortcut "conv": must be identity or proj`},
		{"net:784,resdense784:post=tanh", `post "tanh": must be none or relu`},
		{"net:784,dense10:post=relu", "takes :relu or :linear"},
		{`{"input":[784],"layers":[{"type":"dense","units":10,"shortcut":"proj"}]}`, "field shortcut does not apply"},
		{"net:784,resdense784s2:shortcut=proj", "takes no stride"},
	}
	for _, c := range cases {
		_, err := Parse(c.spec)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.spec, err, c.want)
		}
	}
}

// TestUnfoldFold checks Unfold against a direct evaluation of the windows
// and Fold as its adjoint: <Unfold x, c> = <x, Fold c>.
func TestUnfoldFold(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sq := func(c, h, w, k, s, p int) struct {
		c, h, w int
		g       Geometry
	} {
		return struct {
			c, h, w int
			g       Geometry
		}{c, h, w, Square(k, s, p)}
	}
	for _, c := range []struct {
		c, h, w int
		g       Geometry
	}{
		sq(1, 5, 5, 3, 1, 1), sq(2, 7, 6, 3, 2, 1), sq(3, 4, 4, 1, 1, 0), sq(2, 6, 6, 5, 1, 2), sq(1, 9, 5, 4, 3, 3), sq(2, 3, 3, 3, 1, 0),
		// Rectangular, dilated, asymmetric padding, per-axis strides, groups.
		{2, 7, 5, Geometry{KH: 3, KW: 2, SH: 1, SW: 1, DH: 1, DW: 1, Groups: 1}},
		{3, 8, 8, Geometry{KH: 3, KW: 3, SH: 2, SW: 2, DH: 2, DW: 2, Top: 1, Left: 1, Bottom: 1, Right: 1, Groups: 1}},
		{2, 6, 7, Geometry{KH: 2, KW: 3, SH: 1, SW: 2, DH: 2, DW: 1, Top: 0, Left: 2, Bottom: 1, Right: 0, Groups: 2}},
		{4, 5, 6, Geometry{KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 2, Top: 2, Left: 3, Bottom: 0, Right: 1, Groups: 4}},
		{1, 1, 10, Geometry{KH: 1, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, Left: 1, Right: 1, Groups: 1}},
	} {
		in := Image(c.c, c.h, c.w)
		w, err := NewWindow(in, c.g.Groups, c.g)
		if err != nil {
			t.Fatal(err)
		}
		const samples = 2
		x := make([]float64, samples*in.Size())
		for i := range x {
			x[i] = r.NormFloat64()
		}
		n := samples * w.Out.H * w.Out.W
		cols := make([]float64, w.UnfoldRows()*n)
		Unfold(&w, cols, x, samples)
		g := c.g
		for b := range samples {
			for ci := range c.c {
				for ki := range g.KH {
					for kj := range g.KW {
						row := (ci*g.KH+ki)*g.KW + kj
						for oh := range w.Out.H {
							for ow := range w.Out.W {
								ih, iw := oh*g.SH-g.Top+ki*g.DH, ow*g.SW-g.Left+kj*g.DW
								want := 0.0
								if ih >= 0 && ih < c.h && iw >= 0 && iw < c.w {
									want = x[((b*c.c+ci)*c.h+ih)*c.w+iw]
								}
								got := cols[row*n+(b*w.Out.H+oh)*w.Out.W+ow]
								if got != want {
									t.Fatalf("%+v: cols[%d][%d,%d,%d] = %v, want %v", c, row, b, oh, ow, got, want)
								}
							}
						}
					}
				}
			}
		}
		if wantH := (c.h+g.Top+g.Bottom-(g.KH-1)*g.DH-1)/g.SH + 1; w.Out.H != wantH {
			t.Errorf("%+v: out rows %d, want %d", c, w.Out.H, wantH)
		}
		gr := make([]float64, len(cols))
		for i := range gr {
			gr[i] = r.NormFloat64()
		}
		dx := make([]float64, len(x))
		Fold(&w, gr, dx, samples)
		var lhs, rhs float64
		for i := range cols {
			lhs += cols[i] * gr[i]
		}
		for i := range x {
			rhs += x[i] * dx[i]
		}
		if d := lhs - rhs; d > 1e-9 || d < -1e-9 {
			t.Errorf("%+v: <Unfold x, g> = %v, <x, Fold g> = %v", c, lhs, rhs)
		}
	}
}

// TestPrefix checks that Prefix keeps exactly the ancestors of the chosen
// output, renumbered, with their inputs mapped.
func TestPrefix(t *testing.T) {
	b, err := NewBuilder(Flat(4))
	if err != nil {
		t.Fatal(err)
	}
	must := func(id int, err error) int {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	d1 := must(b.Dense("d1", 0, 3))
	dead := must(b.Dense("dead", 0, 5)) // a branch the prefix leaves out
	r := must(b.ReLU("r", d1))
	d2 := must(b.Dense("d2", r, 3))
	sum := must(b.Add("sum", r, d2))
	must(b.ReLU("after", sum))
	g, ids, err := b.Prefix(sum)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 1, -1, 2, 3, 4, -1}; fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("ids %v, want %v", ids, want)
	}
	if len(g.Nodes) != 5 || g.Nodes[4].Name != "sum" || fmt.Sprint(g.Nodes[4].Inputs) != "[2 3]" || g.Nodes[3].Inputs[0] != 2 {
		t.Errorf("prefix:\n%s", dump(g))
	}
	if ids[dead] != -1 {
		t.Errorf("the dangling branch was kept")
	}
	if _, _, err := b.Prefix(0); err == nil {
		t.Error("Prefix(0) accepted the input as the output")
	}
}
