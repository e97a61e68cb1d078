package arch

import (
	"math"
	"strings"
	"testing"
)

func TestParseFC(t *testing.T) {
	n, err := Parse("fc:784-100x20-10")
	if err != nil {
		t.Fatal(err)
	}
	layers := n.Layers()
	if len(layers) != 21 {
		t.Fatalf("layers = %d, want 21", len(layers))
	}
	if n.ReLULayers() != 20 {
		t.Errorf("ReLU layers = %d, want 20", n.ReLULayers())
	}
	first, last := layers[0], layers[20]
	if first.FanIn() != 784 || first.Width() != 100 || !first.ReLU {
		t.Errorf("first layer = %+v, want dense 784->100 relu", first)
	}
	if last.FanIn() != 100 || last.Width() != 10 || last.ReLU {
		t.Errorf("last layer = %+v, want dense 100->10 linear", last)
	}
	// 784*100+100 + 19*(100*100+100) + 100*10+10
	if got, want := n.Params(), 78500+19*10100+1010; got != want {
		t.Errorf("params = %d, want %d", got, want)
	}
}

func TestConvShapesAndFans(t *testing.T) {
	n, err := Parse("net:3x32x32,conv16k3,conv32k3s2p1,maxpool2,conv8k5p0,avgpool3s1,flatten,dense10")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		out    string
		fanIn  int
		fanOut int
	}{
		{"16x32x32", 3 * 9, 16 * 9},
		{"32x16x16", 16 * 9, 32 * 9}, // (32+2-3)/2+1 = 16
		{"32x8x8", 0, 0},
		{"8x4x4", 32 * 25, 8 * 25}, // 8-5+1 = 4
		{"8x2x2", 0, 0},            // (4-3)/1+1 = 2
		{"32", 0, 0},
		{"10", 32, 10},
	}
	layers := n.Layers()
	for i, w := range want {
		l := layers[i]
		if l.Out.String() != w.out || l.FanIn() != w.fanIn || l.FanOut() != w.fanOut {
			t.Errorf("layer %d (%s): out %s fan-in %d fan-out %d, want %s %d %d", i+1, l.Kind, l.Out, l.FanIn(), l.FanOut(), w.out, w.fanIn, w.fanOut)
		}
	}
	if layers[6].ReLU {
		t.Error("the last dense layer should default to linear")
	}
	if !layers[0].ReLU {
		t.Error("conv layers should default to relu")
	}
}

func TestResidual(t *testing.T) {
	n, err := Parse("net:784,dense64,resdense64x4:eta=0.5^l:end=linear,dense10")
	if err != nil {
		t.Fatal(err)
	}
	wantEta := []float64{0.5, 0.25, 0.125, 0.0625}
	layers := n.Layers()
	for i, eta := range wantEta {
		l := layers[1+i]
		if l.Kind != Residual || l.Eta != eta || l.Block != i+1 || l.Blocks != 4 {
			t.Errorf("block %d: %+v, want residual eta %g", i+1, l, eta)
		}
		if len(l.Module) != 2 || !l.Module[0].ReLU || l.Module[1].ReLU || l.Module[0].FanIn() != 64 {
			t.Errorf("block %d module = %+v, want dense64 relu then dense64 linear", i+1, l.Module)
		}
	}
	if n.ReLULayers() != 1+4 {
		t.Errorf("ReLU layers = %d, want 5", n.ReLULayers())
	}
	c, err := Parse("net:1x28x28,conv8k3,resconv8k3x2:eta=1/l,gap,dense10")
	if err != nil {
		t.Fatal(err)
	}
	b := c.Layers()[2]
	if b.Eta != 0.5 || !b.Module[1].ReLU || b.Module[0].FanIn() != 72 || b.Out.String() != "8x28x28" {
		t.Errorf("conv block 2 = %+v", b)
	}
}

func TestSchedules(t *testing.T) {
	cases := []struct {
		s    string
		want []float64
	}{
		{"1", []float64{1, 1, 1, 1}},
		{"0.5^l", []float64{0.5, 0.25, 0.125, 0.0625}},
		{"1/l", []float64{1, 0.5, 1.0 / 3, 0.25}},
		{"2/L", []float64{0.5, 0.5, 0.5, 0.5}},
		{"[1;0;2;3.5]", []float64{1, 0, 2, 3.5}},
	}
	for _, c := range cases {
		got, err := ParseSchedule(c.s, 4)
		if err != nil {
			t.Errorf("%s: %v", c.s, err)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: eta_%d = %g, want %g", c.s, i+1, got[i], c.want[i])
			}
		}
	}
	for _, bad := range []string{"", "x", "-1", "0.5^k", "[1;2]", "[1;2;3;a]", "NaN", "Inf", "1/0"} {
		if _, err := ParseSchedule(bad, 4); err == nil {
			t.Errorf("schedule %q: no error", bad)
		}
	}
}

func TestJSONMatchesCompact(t *testing.T) {
	js := `{"input":[1,28,28],"layers":[
		{"type":"conv","channels":8,"kernel":3,"repeat":2},
		{"type":"maxpool","kernel":2},
		{"type":"residual","module":"conv","kernel":3,"repeat":3,"eta":"0.9^l","end":"linear"},
		{"type":"gap"},
		{"type":"dense","units":10}]}`
	a, err := Parse(js)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("net:1x28x28,conv8k3x2,maxpool2,resconv8k3x3:eta=0.9^l:end=linear,gap,dense10")
	if err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("JSON form %s\ncompact form %s", a, b)
	}
}

func TestStringReparses(t *testing.T) {
	for _, s := range []string{
		"fc:784-100x20-10",
		"net:3x32x32,conv16k3s1p0x3,maxpool3s2,avgpool2,flatten,dense50x2:linear,dense10:relu",
		"net:784,resdense784x3:eta=[1;2;3]:end=relu,dense10",
	} {
		a, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Parse(a.String())
		if err != nil {
			t.Fatalf("%s: String() %s does not reparse: %v", s, a, err)
		}
		if a.String() != b.String() {
			t.Errorf("round trip changed %s into %s", a, b)
		}
	}
}

func TestBadSpecs(t *testing.T) {
	cases := []struct{ spec, want string }{
		{"fc:784-0-10", "width 0"},
		{"fc:784", "at least one layer"},
		{"fc:784-10x0", "repeat 0"},
		{"fc:784-ax3-10", `width "a"`},
		{"fc:784x2-10", "cannot repeat"},
		{"mlp:784-10", "must start with fc:, net: or {"},
		{"net:784,conv8k3", "needs a c x h x w feature map"},
		{"net:1x28x28,dense10", "put flatten or gap"},
		{"net:1x28x28,conv0k3", "channels 0"},
		{"net:1x28x28,conv8k0", "kernel 0"},
		{"net:1x28x28,conv8k3s0", "stride 0"},
		{"net:1x28x28,conv8k3p3", "pad 3"},
		{"net:1x4x4,conv8k7p0", "does not fit"},
		{"net:1x28x28,conv8k3:sigmoid", "takes :relu or :linear"},
		{"net:784,resdense100", "must keep the stream's width 784"},
		{"net:784,resdense784:eta=abc", "eta"},
		{"net:784,resdense784:end=tanh", "end \"tanh\""},
		{"net:8x8x8,resconv8k2", "odd kernel"},
		{"net:784,dense10k3", "takes no kernel"},
		{"net:1x28x28,maxpool2p1", "takes no pad"},
		{"net:0,dense10", "sizes must be >= 1"},
		{"net:1x2,dense10", "c x h x w"},
		{"net:784", "at least one layer"},
		{"net:784,sigmoid", "not an item"},
		{`{"input":[784],"layers":[{"type":"dense","units":10,"kernel":3}]}`, "field kernel does not apply"},
		{`{"input":[784],"layers":[{"type":"dense","unit":10}]}`, "unknown field"},
		{`{"input":[784],"layers":[{"units":10}]}`, "type missing"},
		{`{"input":[784],"layers":[]}`, "at least one layer"},
		{"fc:784-100x200000-10", "at most"},
		{"fc:100000000-100000000", "larger than supported"},
	}
	for _, c := range cases {
		_, err := Parse(c.spec)
		if err == nil {
			t.Errorf("%s: no error, want one mentioning %q", c.spec, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %q, want one line mentioning %q", c.spec, err, c.want)
		}
	}
}

// TestNoSilentAcceptance checks that the spec grammars refuse what they
// used to take without a word: an option given twice (every option), an
// option or JSON field with an empty or null value, a JSON key given twice
// in any object (case folded, as encoding/json matches keys), and an
// explicit 0 (or negative number) in any number field, which never stands
// for the default.
func TestNoSilentAcceptance(t *testing.T) {
	dense := func(fields string) string {
		return `{"input":[784],"layers":[{"type":"dense",` + fields + `}]}`
	}
	res := func(fields string) string {
		return `{"input":[784],"layers":[{"type":"residual","module":"dense",` + fields + `}]}`
	}
	conv := func(typ, fields string) string {
		return `{"input":[1,8,8],"layers":[{"type":"` + typ + `",` + fields + `},{"type":"flatten"}]}`
	}
	cases := []struct{ spec, want string }{
		// Options given twice.
		{"net:784,resdense784:eta=1:eta=2", `option "eta=2": eta is already given ("eta=1")`},
		{"net:784,resdense784:eta=1:eta=1", "eta is already given"},
		{"net:784,resdense784:end=linear:end=relu", "end is already given"},
		{"net:784,resdense784:shortcut=proj:shortcut=proj", "shortcut is already given"},
		{"net:784,resdense784:post=relu:post=none", "post is already given"},
		{"net:784,dense10:relu:linear", "activation is already given"},
		{"net:1x8x8,conv4k3:linear:linear,gap", "activation is already given"},
		// Empty values.
		{"net:784,resdense784:eta=", "eta has an empty value"},
		{"net:784,resdense784:eta= ", "eta has an empty value"},
		{"net:784,resdense784:end=", "end has an empty value"},
		{"net:784,resdense784:shortcut=", "shortcut has an empty value"},
		{"net:784,resdense784:post=", "post has an empty value"},
		{res(`"eta":""`), `layers[0].eta: empty string`},
		{res(`"end":" "`), `layers[0].end: empty string`},
		{dense(`"units":10,"activation":""`), `layers[0].activation: empty string`},
		{`{"input":[784],"layers":[{"type":""}]}`, `layers[0].type: empty string`},
		{dense(`"units":null`), `layers[0].units: null`},
		{conv("conv", `"channels":2,"kernel":3,"stride":null`), `layers[0].stride: null`},
		{`{"input":null,"layers":[]}`, `input: null`},
		// JSON keys given twice, anywhere.
		{res(`"eta":"1","eta":"2"`), `layers[0]: key "eta" is given twice`},
		{dense(`"units":10,"Units":20`), `layers[0]: key "Units" is given twice`},
		{dense(`"units":10,"type":"dense"`), `layers[0]: key "type" is given twice`},
		{`{"input":[784],"input":[10],"layers":[{"type":"dense","units":10}]}`, `the top-level object: key "input" is given twice`},
		{`{"input":[784],"layers":[{"type":"dense","units":10}],"layers":[]}`, `key "layers" is given twice`},
		// Explicit zeros and negative numbers, every number field.
		{dense(`"units":0`), "units 0: must be >= 1"},
		{dense(`"units":10,"repeat":0`), "repeat 0: must be >= 1"},
		{dense(`"units":10,"repeat":-2`), "repeat -2: must be >= 1"},
		{res(`"units":0`), "units 0: must be >= 1"},
		{res(`"repeat":0`), "repeat 0: must be >= 1"},
		{conv("conv", `"channels":0,"kernel":3`), "channels 0: must be >= 1"},
		{conv("conv", `"channels":2,"kernel":0`), "kernel 0: must be >= 1"},
		{conv("conv", `"channels":2,"kernel":3,"stride":0`), "stride 0: must be >= 1"},
		{conv("conv", `"channels":2,"kernel":3,"pad":-1`), "pad -1: must be >= 0"},
		{conv("maxpool", `"kernel":0`), "kernel 0: must be >= 1"},
		{conv("avgpool", `"kernel":2,"stride":0`), "stride 0: must be >= 1"},
		{`{"input":[1,8,8],"layers":[{"type":"residual","module":"conv","channels":0,"kernel":3}]}`, "channels 0: must be >= 1"},
		{`{"input":[1,8,8],"layers":[{"type":"residual","module":"conv","kernel":0}]}`, "kernel 0: must be >= 1"},
		{"net:784,resdense0", "units 0: must be >= 1"},
		{"net:1x8x8,resconv0k3", "channels 0: must be >= 1"},
		{"net:1x8x8,resconv4k0", "kernel 0: must be >= 1"},
		{"net:1x8x8,maxpool0", "kernel 0: must be >= 1"},
		{"net:784,dense10x0", "repeat 0: must be >= 1"},
		// Required numbers left out.
		{`{"input":[784],"layers":[{"type":"dense"}]}`, "units missing"},
		{conv("conv", `"channels":2`), "kernel missing"},
		{conv("maxpool", `"stride":2`), "kernel missing"},
		{`{"input":[1,8,8],"layers":[{"type":"residual","module":"conv"}]}`, "kernel missing"},
	}
	for _, c := range cases {
		_, err := Parse(c.spec)
		if err == nil {
			t.Errorf("%s: no error, want one mentioning %q", c.spec, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %q, want one line mentioning %q", c.spec, err, c.want)
		}
	}
	// What is left out takes its default.
	for _, s := range []string{
		"net:784,resdense:eta=0.5",
		`{"input":[784],"layers":[{"type":"residual","module":"dense"},{"type":"dense","units":10,"repeat":1}]}`,
		`{"input":[1,8,8],"layers":[{"type":"conv","channels":2,"kernel":3,"pad":0},{"type":"residual","module":"conv","kernel":1}]}`,
	} {
		if _, err := Parse(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
}

// TestEtaRange checks that schedules whose terms leave [0, MaxEta], or
// overflow float64, are refused with the schedule, the block and the value
// named, and that every eta accepted prints as a spec that parses back to
// the same value.
func TestEtaRange(t *testing.T) {
	for _, c := range []struct{ spec, want string }{
		{"net:784,resdense784x2:eta=1e308^l", `schedule "1e308^l", block 1 of 2: eta 1e+308: must be <= 1e+100`},
		{"net:784,resdense784x2:eta=[1;1]:eta=1e200^l", "eta is already given"},
		{"net:784,resdense784x1800:eta=1.5^l", `schedule "1.5^l", block 568 of 1800: eta 1.`},
		{"net:784,resdense784:eta=1e101", `block 1 of 1: eta 1e+101: must be <= 1e+100`},
		{"net:784,resdense784x3:eta=[1;1e200;0]", `block 2 of 3: eta 1e+200`},
		{"net:784,resdense784x2:eta=1e300/l", "block 1 of 2: eta 1e+300"},
		{"net:784,resdense784x2:eta=1e300/L", "block 1 of 2: eta 5e+299"},
		{"net:784,resdense784:eta=1e400", "want a finite number >= 0"},
	} {
		_, err := Parse(c.spec)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.spec, err, c.want)
		}
	}
	b, _ := NewBuilder(Flat(4))
	for eta, want := range map[float64]string{2e100: "eta 2e+100: must be <= 1e+100", math.Inf(1): "eta +Inf (beyond float64's range)", math.NaN(): "eta NaN: must be a number >= 0"} {
		if _, err := b.Scale("s", 0, eta, 1, 1); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Scale(%g): %v, want an error mentioning %q", eta, err, want)
		}
	}
	for _, s := range []string{
		"net:784,resdense784:eta=1e100",
		"net:784,resdense784x2:eta=1e49^l",
		"net:784,resdense784x2000:eta=0.5^l", // the last terms underflow to 0
		"net:784,resdense784x7:eta=0.1^l",
		"net:784,resdense784x3:eta=1/l",
		"net:784,resdense784x3:eta=[-0;4.9e-324;0.30000000000000004]",
	} {
		g, err := Parse(s)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		again, err := Parse(g.String())
		if err != nil {
			t.Errorf("%s: String %q does not parse: %v", s, g.String(), err)
			continue
		}
		if !sameNet(g, again) {
			t.Errorf("%s: String %q parses to another net", s, g.String())
		}
	}
}

// TestHugeKernel checks that a kernel far beyond the input is refused
// before its window geometry is built (it used to allocate per tap).
func TestHugeKernel(t *testing.T) {
	_, err := Parse("net:1x1x1,conv1k999999999")
	if err == nil || !strings.Contains(err.Error(), "kernel 999999999x999999999, stride 1x1, dilation 1x1: sizes above 268435456 are not supported") {
		t.Errorf("error %v", err)
	}
}
